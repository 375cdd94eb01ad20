using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace TransReID.Data;

public static partial class DatasetReader
{
    private static readonly string[] MsmtFolderNames = ["MSMT17", "msmt17", "MSMT17_V1", "MSMT17_V2"];

    /// <summary>
    /// MSMT17: <c>train/</c>, <c>test/</c> and list files <c>list_train.txt</c> + <c>list_val.txt</c> (train, relative to
    /// train/), <c>list_query.txt</c> and <c>list_gallery.txt</c> (relative to test/); each line "relative/path pid".
    /// Camera = third '_'-separated field of the relative path (1..15).
    /// </summary>
    public static ReidDataset ReadMsmt17(string root)
    {
        string dir = Resolve(root, "list_train.txt", MsmtFolderNames, "MSMT17");
        string trainDir = FirstExisting(dir, "MSMT17", "train", "mask_train_v2");
        string testDir = FirstExisting(dir, "MSMT17", "test", "mask_test_v2");
        var train = ReadMsmtList(trainDir, Path.Combine(dir, "list_train.txt"));
        train.AddRange(ReadMsmtList(trainDir, Path.Combine(dir, "list_val.txt")));
        var query = ReadMsmtList(testDir, Path.Combine(dir, "list_query.txt"));
        var gallery = ReadMsmtList(testDir, Path.Combine(dir, "list_gallery.txt"));
        return Build("msmt17", train, query, gallery, hasViews: false);
    }

    private static string FirstExisting(string dir, string datasetName, params string[] names)
    {
        foreach (string name in names)
        {
            string candidate = Path.Combine(dir, name);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"{datasetName} folder not found: '{Path.Combine(dir, names[0])}'");
    }

    private static List<ReidImage> ReadMsmtList(string imageDir, string listPath)
    {
        if (!File.Exists(listPath))
        {
            throw new FileNotFoundException($"MSMT17 list file not found: '{listPath}'", listPath);
        }

        var images = new List<ReidImage>();
        int lineNumber = 0;
        foreach (string rawLine in File.ReadLines(listPath))
        {
            lineNumber++;
            string line = rawLine.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] fields = parts[0].Split('_');
            if (parts.Length != 2
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || fields.Length < 3
                || !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int camera)
                || camera < 1)
            {
                throw new InvalidDataException(
                    $"{listPath}:{lineNumber}: expected 'relative/path pid' with the 1-based camera as the third " +
                    $"'_' field of the path, got '{line}'");
            }

            images.Add(new ReidImage(Path.Combine(imageDir, parts[0]), pid, camera - 1, 0));
        }

        return images;
    }
}
