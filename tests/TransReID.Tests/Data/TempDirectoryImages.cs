using System;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace TransReID.Tests.Data;

/// <summary>Images in a <see cref="TempDirectory"/> (tests/Shared/TempDirectory.cs), for the data-loading tests.</summary>
internal static class TempDirectoryImages
{
    /// <summary>Writes an image whose pixel (x, y) is <paramref name="pixel"/>(x, y); the format follows the extension.</summary>
    public static string WriteImage(this TempDirectory dir, string relative, int width, int height, Func<int, int, Rgb24> pixel)
    {
        string full = dir.Combine(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = pixel(x, y);
            }
        }

        image.Save(full);
        return full;
    }
}
