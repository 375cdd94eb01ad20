using System;
using System.Collections.Generic;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace TransReID.Evaluation;

/// <summary>
/// A ranked-list strip: the query image at the left, a gap, then its top gallery images in rank order. Every
/// thumbnail is resized to thumbWidth x thumbHeight and framed by a <see cref="Border"/>-pixel border: blue for the
/// query, green for a true match, red otherwise. Borders are plain pixel writes (no drawing package).
/// </summary>
public static class RankedList
{
    /// <summary>Frame width in pixels.</summary>
    public const int Border = 3;

    /// <summary>White space around and between framed thumbnails.</summary>
    public const int Margin = 4;

    /// <summary>Extra white space between the query and the first gallery image.</summary>
    public const int QueryGap = 12;

    private static readonly Rgb24 Background = new(255, 255, 255);
    private static readonly Rgb24 QueryColor = new(31, 119, 180);
    private static readonly Rgb24 MatchColor = new(0, 170, 0);
    private static readonly Rgb24 MismatchColor = new(220, 0, 0);

    /// <summary>Pixel size of the strip for <paramref name="galleryCount"/> gallery thumbnails.</summary>
    public static (int Width, int Height) CanvasSize(int galleryCount, int thumbHeight = 128, int thumbWidth = 64)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(galleryCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(thumbHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(thumbWidth, 1);
        int cellW = thumbWidth + (2 * Border);
        int cellH = thumbHeight + (2 * Border);
        int width = (2 * Margin) + cellW + (galleryCount == 0 ? 0 : QueryGap + (galleryCount * cellW) + ((galleryCount - 1) * Margin));
        return (width, cellH + (2 * Margin));
    }

    /// <summary>Writes the strip as a PNG to <paramref name="path"/> (atomically).</summary>
    public static void Save(string path, string queryImage, IReadOnlyList<(string path, bool match)> top10, int thumbHeight = 128,
        int thumbWidth = 64)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(queryImage);
        ArgumentNullException.ThrowIfNull(top10);
        (int width, int height) = CanvasSize(top10.Count, thumbHeight, thumbWidth);

        using var canvas = new Image<Rgb24>(width, height, Background);
        int cellW = thumbWidth + (2 * Border);
        Paste(canvas, queryImage, Margin, Margin, thumbWidth, thumbHeight, QueryColor);
        int x = Margin + cellW + QueryGap;
        for (int k = 0; k < top10.Count; k++)
        {
            (string galleryPath, bool match) = top10[k];
            if (string.IsNullOrWhiteSpace(galleryPath))
            {
                throw new ArgumentException($"ranked-list entry {k} has an empty image path.", nameof(top10));
            }

            Paste(canvas, galleryPath, x, Margin, thumbWidth, thumbHeight, match ? MatchColor : MismatchColor);
            x += cellW + Margin;
        }

        AtomicWrite.Write(path, stream => canvas.SaveAsPng(stream));
    }

    /// <summary>Frame at (left, top) of size (w + 2·Border) x (h + 2·Border), thumbnail inside it.</summary>
    private static void Paste(Image<Rgb24> canvas, string imagePath, int left, int top, int w, int h, Rgb24 frame)
    {
        using Image<Rgb24> thumb = LoadThumbnail(imagePath, w, h);
        int frameW = w + (2 * Border);
        int frameH = h + (2 * Border);
        for (int y = 0; y < frameH; y++)
        {
            for (int x = 0; x < frameW; x++)
            {
                bool inside = x >= Border && x < Border + w && y >= Border && y < Border + h;
                canvas[left + x, top + y] = inside ? thumb[x - Border, y - Border] : frame;
            }
        }
    }

    private static Image<Rgb24> LoadThumbnail(string imagePath, int w, int h)
    {
        if (!File.Exists(imagePath))
        {
            throw new FileNotFoundException($"ranked-list image '{imagePath}' does not exist.", imagePath);
        }

        Image<Rgb24> image;
        try
        {
            image = Image.Load<Rgb24>(imagePath);
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException)
        {
            throw new InvalidDataException($"ranked-list image '{imagePath}' could not be decoded: {e.Message}", e);
        }

        image.Mutate(c => c.Resize(w, h));
        return image;
    }
}
