using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SkiaSharp;

namespace TransReID.Evaluation;

/// <summary>One gallery image of a ranked list.</summary>
/// <param name="Path">The image file.</param>
/// <param name="Match">Same identity as the query (a correct match).</param>
/// <param name="Distance">Its distance to the query (NaN: not shown).</param>
public sealed record RankedEntry(string Path, bool Match, float Distance = float.NaN);

/// <summary>
/// A ranked-list strip as torchreid's <c>visrank</c> draws it, with FastReID's distances: a title band naming the query
/// (file, identity, camera) and a legend, then the query image at the left, a gap, and its top gallery images in rank
/// order. Every thumbnail is resized to thumbWidth x thumbHeight and framed by a <see cref="Border"/>-pixel border: blue
/// for the query, green for a correct match (same identity), red otherwise; under each one a caption: "query", or the
/// rank number and the distance.
/// </summary>
public static class RankedList
{
    /// <summary>Frame width in pixels.</summary>
    public const int Border = 3;

    /// <summary>White space around and between framed thumbnails.</summary>
    public const int Margin = 4;

    /// <summary>Extra white space between the query and the first gallery image.</summary>
    public const int QueryGap = 12;

    /// <summary>Height of the title band (query name and legend) above the thumbnails.</summary>
    public const int HeaderHeight = 36;

    /// <summary>Height of the caption band (rank, distance) under the thumbnails.</summary>
    public const int CaptionHeight = 30;

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
        int cellW = CellWidth(thumbWidth);
        int cellH = thumbHeight + (2 * Border);
        int width = (2 * Margin) + cellW + (galleryCount == 0 ? 0 : QueryGap + (galleryCount * cellW) + ((galleryCount - 1) * Margin));
        return (Math.Max(width, MinimumWidth), HeaderHeight + cellH + CaptionHeight + (2 * Margin));
    }

    /// <summary>Room for the title and the legend.</summary>
    public const int MinimumWidth = 600;

    /// <summary>The width of one framed thumbnail with its caption (at least room for "#10 0.000").</summary>
    public static int CellWidth(int thumbWidth) => Math.Max(thumbWidth + (2 * Border), 40);

    /// <summary>Writes the strip as a PNG (atomically), without distances or query labels.</summary>
    public static void Save(string path, string queryImage, IReadOnlyList<(string path, bool match)> top10, int thumbHeight = 128,
        int thumbWidth = 64)
    {
        ArgumentNullException.ThrowIfNull(top10);
        var entries = new RankedEntry[top10.Count];
        for (int k = 0; k < entries.Length; k++) entries[k] = new RankedEntry(top10[k].path, top10[k].match);
        Save(path, queryImage, null, entries, thumbHeight, thumbWidth);
    }

    /// <summary>Writes the strip as a PNG to <paramref name="path"/> (atomically).</summary>
    /// <param name="path">The PNG.</param>
    /// <param name="queryImage">The query's image file.</param>
    /// <param name="queryLabel">Shown after the query's file name, e.g. "id 12, camera 3" (null: nothing).</param>
    /// <param name="top">The gallery images in rank order.</param>
    /// <param name="thumbHeight">Thumbnail height.</param>
    /// <param name="thumbWidth">Thumbnail width.</param>
    public static void Save(string path, string queryImage, string? queryLabel, IReadOnlyList<RankedEntry> top, int thumbHeight = 128,
        int thumbWidth = 64)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(queryImage);
        ArgumentNullException.ThrowIfNull(top);
        (int width, int height) = CanvasSize(top.Count, thumbHeight, thumbWidth);

        using var canvas = new Image<Rgb24>(width, height, Background);
        int cellW = CellWidth(thumbWidth);
        int top0 = Margin + HeaderHeight;
        var captions = new List<(float X, string Text, Rgb24 Color)>();
        Paste(canvas, queryImage, Margin, top0, cellW, thumbWidth, thumbHeight, QueryColor);
        captions.Add((Margin + (cellW / 2f), "query", QueryColor));
        int x = Margin + cellW + QueryGap;
        for (int k = 0; k < top.Count; k++)
        {
            var entry = top[k];
            if (string.IsNullOrWhiteSpace(entry.Path))
            {
                throw new ArgumentException($"ranked-list entry {k} has an empty image path.", nameof(top));
            }

            var color = entry.Match ? MatchColor : MismatchColor;
            Paste(canvas, entry.Path, x, top0, cellW, thumbWidth, thumbHeight, color);
            string caption = float.IsNaN(entry.Distance)
                ? string.Create(CultureInfo.InvariantCulture, $"#{k + 1}")
                : string.Create(CultureInfo.InvariantCulture, $"#{k + 1}\n{entry.Distance:G3}");
            captions.Add((x + (cellW / 2f), caption, color));
            x += cellW + Margin;
        }

        string title = "query " + System.IO.Path.GetFileName(queryImage) + (queryLabel is null ? string.Empty : " (" + queryLabel + ")");
        byte[] png = DrawText(canvas, title, captions, top0 + thumbHeight + (2 * Border));
        AtomicWrite.WriteAllBytes(path, png);
    }

    /// <summary>Title, legend and captions drawn with Skia over the pasted thumbnails; returns the PNG.</summary>
    private static byte[] DrawText(Image<Rgb24> image, string title, List<(float X, string Text, Rgb24 Color)> captions, int captionTop)
    {
        using var bitmap = new SKBitmap(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var rgba = new byte[image.Width * image.Height * 4];
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    int o = ((y * image.Width) + x) * 4;
                    (rgba[o], rgba[o + 1], rgba[o + 2], rgba[o + 3]) = (row[x].R, row[x].G, row[x].B, 255);
                }
            }
        });
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);

        using (var canvas = new SKCanvas(bitmap))
        using (var font = new SKFont(SKTypeface.Default, 13))
        using (var small = new SKFont(SKTypeface.Default, 11))
        using (var paint = new SKPaint { IsAntialias = true, Color = SKColors.Black })
        {
            canvas.DrawText(Fit(title, font, image.Width - 230 - (2 * Margin)), Margin, Margin + 15, SKTextAlign.Left, font, paint);
            // legend at the right of the title band: ■ correct match  ■ wrong identity
            float lx = image.Width - Margin - 215;
            float ly = Margin + 6;
            foreach ((string text, Rgb24 c) in (ReadOnlySpan<(string, Rgb24)>)[("correct match", MatchColor), ("wrong identity", MismatchColor)])
            {
                paint.Color = new SKColor(c.R, c.G, c.B);
                canvas.DrawRect(lx, ly, 11, 11, paint);
                paint.Color = SKColors.Black;
                canvas.DrawText(text, lx + 15, ly + 10, SKTextAlign.Left, small, paint);
                lx += 105;
            }

            paint.Color = new SKColor(90, 90, 90);
            canvas.DrawText("top matches, nearest first (distance under each)", Margin, Margin + 31, SKTextAlign.Left, small, paint);
            foreach (var (x, text, c) in captions)
            {
                paint.Color = new SKColor(c.R, c.G, c.B);
                string[] lines = text.Split('\n');
                for (int i = 0; i < lines.Length; i++)
                {
                    canvas.DrawText(lines[i], x, captionTop + 12 + (i * 13), SKTextAlign.Center, small, paint);
                }
            }
        }

        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
    }

    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width) return text;
        while (text.Length > 4 && font.MeasureText(text + "…") > width) text = text[..^1];
        return text + "…";
    }

    /// <summary>Frame at (left, top) of size (w + 2·Border) x (h + 2·Border), centred in a cell of width cellW.</summary>
    private static void Paste(Image<Rgb24> canvas, string imagePath, int left, int top, int cellW, int w, int h, Rgb24 frame)
    {
        using Image<Rgb24> thumb = LoadThumbnail(imagePath, w, h);
        int frameW = w + (2 * Border);
        int frameH = h + (2 * Border);
        left += (cellW - frameW) / 2;
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
