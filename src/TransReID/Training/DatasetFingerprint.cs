using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using TransReID.Data;

namespace TransReID.Training;

/// <summary>
/// What identifies a dataset for <c>--resume</c>: a SHA-256 over the sorted list of every image (split, path relative to
/// the dataset's common folder, identity, camera, view, size in bytes), with the counts for messages. Moving the dataset
/// folder keeps the fingerprint; adding, removing, renaming, relabelling or rewriting an image (to another size) changes it.
/// </summary>
/// <param name="Sha256">Hex SHA-256 of the list.</param>
/// <param name="Files">Images in the list.</param>
/// <param name="Bytes">Their total size (missing files count 0).</param>
public sealed record DatasetFingerprint(string Sha256, int Files, long Bytes)
{
    /// <summary>The fingerprint of <paramref name="dataset"/> (stats every file once).</summary>
    public static DatasetFingerprint Of(ReidDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var all = new List<(string Split, ReidImage Image)>();
        all.AddRange(dataset.Train.Images.Select(i => ("train", i)));
        all.AddRange(dataset.Query.Images.Select(i => ("query", i)));
        all.AddRange(dataset.Gallery.Images.Select(i => ("gallery", i)));
        string root = CommonFolder(all.Select(a => Path.GetFullPath(a.Image.Path)));
        var lines = new List<string>(all.Count);
        long bytes = 0;
        foreach (var (split, image) in all)
        {
            string full = Path.GetFullPath(image.Path);
            var file = new FileInfo(full);
            long size = file.Exists ? file.Length : -1;
            bytes += Math.Max(0, size);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{split}\t{Path.GetRelativePath(root, full).Replace('\\', '/')}\t{image.Identity}\t{image.Camera}\t{image.View}\t{size}"));
        }

        lines.Sort(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (string line in lines) text.Append(line).Append('\n');
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new DatasetFingerprint(hash, lines.Count, bytes);
    }

    /// <summary>"75 files, 1.2 MB, sha256 0123abcd…".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Files} files, {Bytes / 1e6:0.###} MB, sha256 {Sha256[..Math.Min(12, Sha256.Length)]}…");

    private static string CommonFolder(IEnumerable<string> paths)
    {
        string? common = null;
        foreach (string p in paths)
        {
            string dir = Path.GetDirectoryName(p) ?? p;
            if (common is null)
            {
                common = dir;
                continue;
            }

            while (!(dir.Equals(common, StringComparison.Ordinal) || dir.StartsWith(common.TrimEnd('/', '\\') + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            {
                string? up = Path.GetDirectoryName(common);
                if (up is null) return common;
                common = up;
            }
        }

        return common ?? Directory.GetCurrentDirectory();
    }
}
