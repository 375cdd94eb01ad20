using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Evaluation;

namespace TransReID.Tests.Evaluation;

public sealed class PlotsAndRankedListTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("transreid-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Cmc_curve_is_a_png_of_the_requested_size()
    {
        double[] cmc = new double[50];
        for (int k = 0; k < cmc.Length; k++)
        {
            cmc[k] = Math.Min(1, 0.8 + (0.01 * k));
        }

        string path = Path.Combine(_dir, "plots", "cmc.png"); // folder is created
        Plots.SaveCmcCurve(path, new ReidMetrics(0.72, cmc, 0.41, 3368), "Market-1501");
        AssertPng(path, Plots.DefaultWidth, Plots.DefaultHeight);

        Plots.SaveCmcCurve(path, new ReidMetrics(0.5, [0.5, 1.0], 0.5, 2), "overwrite", 320, 240); // overwrite in place
        AssertPng(path, 320, 240);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "plots"))); // no temporary files left behind
    }

    [Fact]
    public void Loss_curves_are_a_png_and_tolerate_missing_names()
    {
        var points = new List<(int, IReadOnlyDictionary<string, double>)>();
        for (int step = 0; step < 40; step++)
        {
            var values = new Dictionary<string, double> { ["loss"] = 8 * Math.Exp(-step / 10.0), ["id_loss"] = 6 * Math.Exp(-step / 12.0) };
            if (step % 5 == 0)
            {
                values["tri_loss"] = 1.5 * Math.Exp(-step / 20.0);
            }

            points.Add((step * 10, values));
        }

        points.Add((400, new Dictionary<string, double> { ["loss"] = double.NaN }));
        string path = Path.Combine(_dir, "loss.png");
        Plots.SaveLossCurves(path, points, width: 640, height: 480);
        AssertPng(path, 640, 480);

        Assert.Throws<ArgumentException>(() => Plots.SaveLossCurves(Path.Combine(_dir, "empty.png"), []));
        Assert.False(File.Exists(Path.Combine(_dir, "empty.png")));
    }

    [Fact]
    public void Loss_curves_show_all_five_series_of_a_run_even_when_two_are_equal()
    {
        // as in a real run: the global and part triplet losses coincide, and so do the two ID losses at first
        var points = new List<(int, IReadOnlyDictionary<string, double>)>();
        for (int step = 1; step <= 400; step++)
        {
            double id = 3.4 - (step / 400.0), tri = 0.7 + (0.3 * Math.Exp(-step / 30.0));
            points.Add((step, new Dictionary<string, double>
            {
                ["total"] = id + tri, ["id_global"] = id, ["id_parts"] = id + (step > 100 ? 0.2 : 0), ["triplet_global"] = tri, ["triplet_parts"] = tri,
            }));
        }

        string path = Path.Combine(_dir, "five.png");
        Plots.SaveLossCurves(path, points, "Training losses");
        if (Environment.GetEnvironmentVariable("TRANSREID_KEEP_PLOTS") is { Length: > 0 } keep) File.Copy(path, Path.Combine(keep, "loss-curves.png"), true);
        using Image<Rgb24> image = Image.Load<Rgb24>(path);
        // each series' colour covers far more pixels than its legend swatch: none is hidden under another
        foreach (var (name, colour) in (ReadOnlySpan<(string, Rgb24)>)[("total", new(0x1f, 0x77, 0xb4)), ("id_global", new(0xff, 0x7f, 0x0e)),
            ("id_parts", new(0x2c, 0xa0, 0x2c)), ("triplet_global", new(0xd6, 0x27, 0x28)), ("triplet_parts", new(0x94, 0x67, 0xbd))])
        {
            int n = 0;
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++)
                {
                    var p = image[x, y];
                    if (Math.Abs(p.R - colour.R) + Math.Abs(p.G - colour.G) + Math.Abs(p.B - colour.B) < 30) n++;
                }

            Assert.True(n > 300, $"{name}: only {n} pixels of its colour");
        }
    }

    [Fact]
    public void Ranked_list_has_the_documented_layout_and_border_colours()
    {
        string query = SolidImage("q.png", 40, 90, new Rgb24(10, 20, 30));
        var gallery = new List<(string, bool)>();
        for (int k = 0; k < 10; k++)
        {
            gallery.Add((SolidImage($"g{k}.jpg", 64 + k, 128 - k, new Rgb24((byte)(20 * k), 100, 200)), k % 3 == 0));
        }

        string path = Path.Combine(_dir, "ranked.png");
        RankedList.Save(path, query, gallery);

        (int width, int height) = RankedList.CanvasSize(10);
        int cellW = 64 + (2 * RankedList.Border);
        Assert.Equal((2 * RankedList.Margin) + RankedList.QueryGap + (11 * cellW) + (9 * RankedList.Margin), width);
        Assert.Equal(RankedList.HeaderHeight + 128 + (2 * RankedList.Border) + RankedList.CaptionHeight + (2 * RankedList.Margin), height);

        using Image<Rgb24> image = Image.Load<Rgb24>(path);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        int m = RankedList.Margin, b = RankedList.Border, t = m + RankedList.HeaderHeight;
        Assert.Equal(new Rgb24(255, 255, 255), image[0, 0]);
        Assert.Equal(new Rgb24(31, 119, 180), image[m, t]); // query frame
        Assert.Equal(new Rgb24(10, 20, 30), image[m + b + 30, t + b + 60]); // query pixels (solid colour survives resizing)
        for (int k = 0; k < 10; k++)
        {
            int left = m + cellW + RankedList.QueryGap + (k * (cellW + m));
            Rgb24 frame = image[left, t + 50];
            Assert.Equal(k % 3 == 0 ? new Rgb24(0, 170, 0) : new Rgb24(220, 0, 0), frame);
            Assert.Equal(frame, image[left + cellW - 1, t + (2 * b) + 127]); // bottom-right corner of the frame
            Assert.Equal(new Rgb24((byte)(20 * k), 100, 200), image[left + b + 32, t + b + 64]);
        }
    }

    [Fact]
    public void Ranked_list_has_a_title_legend_ranks_and_distances()
    {
        string query = SolidImage("0007_c2s1_000001_01.jpg", 32, 64, new Rgb24(10, 20, 30));
        var gallery = new List<RankedEntry>();
        for (int k = 0; k < 5; k++) gallery.Add(new RankedEntry(SolidImage($"h{k}.png", 32, 64, new Rgb24(200, 200, 200)), k % 2 == 0, 0.1f * (k + 1)));
        string path = Path.Combine(_dir, "texts.png");
        string plain = Path.Combine(_dir, "plain.png");
        RankedList.Save(path, query, "id 7, camera 2", gallery, 64, 32);
        RankedList.Save(plain, query, null, [.. gallery.Select(g => g with { Distance = float.NaN })], 64, 32);
        if (Environment.GetEnvironmentVariable("TRANSREID_KEEP_PLOTS") is { Length: > 0 } keep) File.Copy(path, Path.Combine(keep, "ranked-texts.png"), true);

        using Image<Rgb24> image = Image.Load<Rgb24>(path);
        using Image<Rgb24> without = Image.Load<Rgb24>(plain);
        (int width, int height) = RankedList.CanvasSize(5, 64, 32);
        Assert.Equal((width, height), (image.Width, image.Height));
        // text is drawn: dark pixels in the title band, and the distance lines make the captions differ
        Assert.True(DarkPixels(image, 0, RankedList.HeaderHeight) > 50, "no title text");
        int captionTop = RankedList.Margin + RankedList.HeaderHeight + 64 + (2 * RankedList.Border);
        Assert.True(Differing(image, without, captionTop, height) > 20, "no distances under the thumbnails");
        // the legend's two swatches
        Assert.True(Count(image, 0, RankedList.HeaderHeight, new Rgb24(0, 170, 0)) >= 100);
        Assert.True(Count(image, 0, RankedList.HeaderHeight, new Rgb24(220, 0, 0)) >= 100);
    }

    private static int DarkPixels(Image<Rgb24> image, int y0, int y1)
    {
        int n = 0;
        for (int y = y0; y < y1; y++) for (int x = 0; x < image.Width; x++) if (image[x, y].R + image[x, y].G + image[x, y].B < 200) n++;
        return n;
    }

    private static int Count(Image<Rgb24> image, int y0, int y1, Rgb24 colour)
    {
        int n = 0;
        for (int y = y0; y < y1; y++) for (int x = 0; x < image.Width; x++) if (image[x, y] == colour) n++;
        return n;
    }

    private static int Differing(Image<Rgb24> a, Image<Rgb24> b, int y0, int y1)
    {
        int n = 0;
        for (int y = y0; y < y1; y++) for (int x = 0; x < a.Width; x++) if (a[x, y] != b[x, y]) n++;
        return n;
    }

    [Fact]
    public void Ranked_list_names_a_missing_image()
    {
        string query = SolidImage("q.png", 8, 16, new Rgb24(1, 2, 3));
        string missing = Path.Combine(_dir, "nope.jpg");
        var e = Assert.Throws<FileNotFoundException>(() => RankedList.Save(Path.Combine(_dir, "r.png"), query, [(missing, true)], 32, 16));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "r.png")));
    }

    private string SolidImage(string name, int w, int h, Rgb24 color)
    {
        string path = Path.Combine(_dir, name);
        using var image = new Image<Rgb24>(w, h, color);
        if (name.EndsWith(".png", StringComparison.Ordinal))
        {
            image.SaveAsPng(path);
        }
        else
        {
            image.SaveAsBmp(path); // content decides the format, not the extension
        }

        return path;
    }

    private static void AssertPng(string path, int width, int height)
    {
        Assert.True(File.Exists(path), path);
        IImageFormat? format = Image.DetectFormat(path);
        Assert.Equal("PNG", format?.Name);
        using Image<Rgba32> image = Image.Load<Rgba32>(path);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
    }
}
