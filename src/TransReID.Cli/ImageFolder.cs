using System;
using System.IO;
using System.Linq;

namespace TransReID.Cli;

/// <summary>The images of a folder as the CLI reads them: .jpg/.jpeg/.png/.bmp, not recursive, ordinal file-name order
/// (identity and camera come from <see cref="TransReID.Data.DatasetReader.TryParseMarketName"/>).</summary>
internal static class ImageFolder
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp"];

    /// <summary>True when the path has one of the image extensions the CLI reads.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    public static string[] List(string directory)
    {
        if (!Directory.Exists(directory)) throw new CliException($"image folder '{directory}' does not exist");
        var files = Directory.EnumerateFiles(directory)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
            .ToArray();
        if (files.Length == 0) throw new CliException($"image folder '{directory}' has no .jpg, .jpeg, .png or .bmp files");
        return files;
    }
}
