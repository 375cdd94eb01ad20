using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace TransReID.Cli;

/// <summary>The images of a folder as the CLI reads them: .jpg/.jpeg/.png/.bmp, not recursive, ordinal file-name order.</summary>
internal static partial class ImageFolder
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp"];

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

    /// <summary>Market-1501 style name <c>PPPP_cC…</c>: identity and 0-based camera index.</summary>
    public static bool TryParseMarketName(string path, out int identity, out int camera)
    {
        var m = MarketPattern().Match(Path.GetFileName(path));
        identity = 0;
        camera = 0;
        if (!m.Success) return false;
        identity = int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
        camera = int.Parse(m.Groups[2].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) - 1;
        return true;
    }

    [GeneratedRegex(@"^(-?\d+)_c(\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex MarketPattern();
}
