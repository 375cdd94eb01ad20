using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace TransReID.Data;

/// <summary>
/// Reads re-identification datasets in the layouts of docs/model.md#datasets into a <see cref="ReidDataset"/>. Every reader sorts files
/// by ordinal path (the official code uses unsorted glob order), drops junk (pid −1), converts cameras to 0-based and
/// relabels train identities to 0..P−1 in ascending raw pid; query and gallery keep raw pids.
/// </summary>
public static partial class DatasetReader
{
    /// <summary>The kinds <see cref="Open"/> accepts.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["auto", "market", "duke", "msmt17", "veri", "folder", "csv"];

    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp"];

    /// <summary>
    /// Opens a dataset. <paramref name="root"/> may be the dataset folder itself or its parent holding the standard folder
    /// name (market1501, dukemtmcreid, MSMT17, VeRi); for csv it is a .csv file or a folder with train.csv (+ optional
    /// query.csv, gallery.csv). <paramref name="kind"/>: market | duke | msmt17 | veri | folder | csv | auto.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">A required folder is missing (the message names it).</exception>
    /// <exception cref="FileNotFoundException">A required list/manifest file is missing.</exception>
    /// <exception cref="InvalidDataException">A file name or list line does not follow the format (the message names it).</exception>
    public static ReidDataset Open(string root, string kind = "auto")
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(kind);
        return kind.ToUpperInvariant() switch
        {
            "AUTO" => Open(root, Detect(root)),
            "MARKET" or "MARKET1501" => ReadMarket1501(root),
            "DUKE" or "DUKEMTMC" or "DUKEMTMCREID" => ReadDukeMtmc(root),
            "MSMT17" or "MSMT" => ReadMsmt17(root),
            "VERI" or "VERI776" => ReadVeri776(root),
            "FOLDER" => ReadFolder(root),
            "CSV" => ReadCsv(root),
            _ => throw new ArgumentException(
                $"unknown dataset kind '{kind}' (expected one of {string.Join(", ", Kinds)})", nameof(kind)),
        };
    }

    /// <summary>Guesses the dataset kind from the files under <paramref name="root"/>.</summary>
    public static string Detect(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (File.Exists(root))
        {
            return root.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
                ? "csv"
                : throw new InvalidDataException($"'{root}' is a file but not a .csv manifest");
        }

        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"dataset folder not found: '{root}'");
        }

        if (TryResolve(root, "list_train.txt", MsmtFolderNames) is not null)
        {
            return "msmt17";
        }

        if (TryResolve(root, "image_train", VeriFolderNames) is not null)
        {
            return "veri";
        }

        if (TryResolve(root, "bounding_box_train", DukeFolderNames) is { } duke && LooksLikeDuke(duke))
        {
            return "duke";
        }

        if (TryResolve(root, "bounding_box_train", MarketFolderNames) is not null)
        {
            return "market";
        }

        if (File.Exists(Path.Combine(root, "train.csv")))
        {
            return "csv";
        }

        if (ListImages(root).Length > 0 || Directory.Exists(Path.Combine(root, "train")))
        {
            return "folder";
        }

        throw new InvalidDataException(
            $"cannot tell the dataset kind of '{root}': found no bounding_box_train/ (Market, Duke), list_train.txt " +
            "(MSMT17), image_train/ (VeRi), train.csv, train/ or images");
    }

    private static bool LooksLikeDuke(string folder) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)))
            .Contains("duke", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Returns the folder that contains <paramref name="marker"/> (a file or folder): <paramref name="root"/> itself or
    /// root/<c>name</c> for one of the standard folder names; null when none does.
    /// </summary>
    private static string? TryResolve(string root, string marker, string[] standardNames)
    {
        if (Exists(Path.Combine(root, marker)))
        {
            return root;
        }

        foreach (string name in standardNames)
        {
            string candidate = Path.Combine(root, name);
            if (Exists(Path.Combine(candidate, marker)))
            {
                return candidate;
            }
        }

        return null;

        static bool Exists(string p) => Directory.Exists(p) || File.Exists(p);
    }

    private static string Resolve(string root, string marker, string[] standardNames, string datasetName)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"{datasetName} dataset folder not found: '{root}'");
        }

        return TryResolve(root, marker, standardNames) ?? throw new DirectoryNotFoundException(
            $"{datasetName} folder not found: '{Path.Combine(root, marker)}' does not exist" +
            (standardNames.Length > 0
                ? $" (also looked in {string.Join(", ", standardNames.Select(n => Path.Combine(root, n)))})"
                : string.Empty));
    }

    private static string RequireFolder(string folder, string datasetName) =>
        Directory.Exists(folder)
            ? folder
            : throw new DirectoryNotFoundException($"{datasetName} folder not found: '{folder}'");

    /// <summary>Image files (jpg, jpeg, png, bmp) directly inside <paramref name="folder"/>, sorted by ordinal path.</summary>
    private static string[] ListImages(string folder)
    {
        var files = Directory.EnumerateFiles(folder)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    /// <summary>Maps raw train pids to 0..P−1 in ascending pid order.</summary>
    private static List<ReidImage> Relabel(List<ReidImage> train)
    {
        var labels = train.Select(i => i.Identity).Distinct().Order().Select((pid, label) => (pid, label))
            .ToDictionary(t => t.pid, t => t.label);
        return train.ConvertAll(i => i with { Identity = labels[i.Identity] });
    }

    /// <summary>Builds the dataset with the camera table size = max camera id + 1 and view table = max view + 1 (or 0).</summary>
    private static ReidDataset Build(string name, List<ReidImage> train, List<ReidImage> query, List<ReidImage> gallery,
        bool hasViews)
    {
        var all = train.Concat(query).Concat(gallery);
        int cameras = all.Select(i => i.Camera + 1).DefaultIfEmpty(0).Max();
        int views = hasViews ? all.Select(i => i.View + 1).DefaultIfEmpty(0).Max() : 0;
        return new ReidDataset(name, new ReidSplit(Relabel(train)), new ReidSplit(query), new ReidSplit(gallery), cameras, views);
    }
}
