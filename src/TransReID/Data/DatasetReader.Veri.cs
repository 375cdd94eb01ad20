using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;

namespace TransReID.Data;

public static partial class DatasetReader
{
    private static readonly string[] VeriFolderNames = ["VeRi", "veri", "VeRi-776"];

    /// <summary>
    /// VeRi-776: <c>image_train/</c>, <c>image_query/</c>, <c>image_test/</c>; names <c>VVVV_cCCC_…jpg</c> (multi-digit
    /// camera). When <c>keypoint_train.txt</c> and/or <c>keypoint_test.txt</c> exist in the dataset folder, each line's
    /// last integer is the view (0..7) of the image whose basename is the line's first field (train file first: its
    /// entries win), and images without a view are skipped; otherwise every View is 0 and <see cref="ReidDataset.Views"/> is 0.
    /// </summary>
    public static ReidDataset ReadVeri776(string root)
    {
        string dir = Resolve(root, "image_train", VeriFolderNames, "VeRi-776");
        var views = ReadVeriViews(dir);
        var train = ParseVeriNames(RequireFolder(Path.Combine(dir, "image_train"), "VeRi-776"), views);
        var query = ParseVeriNames(RequireFolder(Path.Combine(dir, "image_query"), "VeRi-776"), views);
        var gallery = ParseVeriNames(RequireFolder(Path.Combine(dir, "image_test"), "VeRi-776"), views);
        return Build("veri", train, query, gallery, hasViews: views is not null);
    }

    /// <summary>basename → view, or null when neither keypoint file exists.</summary>
    private static Dictionary<string, int>? ReadVeriViews(string dir)
    {
        Dictionary<string, int>? views = null;
        foreach (string name in (string[])["keypoint_train.txt", "keypoint_test.txt"])
        {
            string path = Path.Combine(dir, name);
            if (!File.Exists(path))
            {
                continue;
            }

            views ??= new Dictionary<string, int>(StringComparer.Ordinal);
            int lineNumber = 0;
            foreach (string rawLine in File.ReadLines(path))
            {
                lineNumber++;
                string[] fields = rawLine.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 0)
                {
                    continue;
                }

                if (fields.Length < 2
                    || !int.TryParse(fields[^1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int view)
                    || view < 0)
                {
                    throw new InvalidDataException(
                        $"{path}:{lineNumber}: expected 'image/path ... view' ending with a non-negative integer view, got '{rawLine.Trim()}'");
                }

                string key = fields[0][(fields[0].LastIndexOfAny(['/', '\\']) + 1)..];
                views.TryAdd(key, view);
            }
        }

        return views;
    }

    private static List<ReidImage> ParseVeriNames(string folder, Dictionary<string, int>? views)
    {
        var images = new List<ReidImage>();
        foreach (string file in ListImages(folder))
        {
            var (pid, camera) = ParsePidCamera(file, VeriName());
            if (pid == -1)
            {
                continue;
            }

            int view = 0;
            if (views is not null && !views.TryGetValue(Path.GetFileName(file), out view))
            {
                continue; // no viewpoint label: skipped, as the official reader does
            }

            images.Add(new ReidImage(file, pid, camera, view));
        }

        return images;
    }

    [GeneratedRegex(@"(-?[0-9]+)_c([0-9]+)", RegexOptions.CultureInvariant)]
    private static partial Regex VeriName();
}
