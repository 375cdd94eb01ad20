using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ScottPlot;
using SixLabors.ImageSharp.Processing;

namespace TransReID.Evaluation;

/// <summary>PNG charts of evaluation and training results (ScottPlot), written atomically.</summary>
public static class Plots
{
    public const int DefaultWidth = 800;

    public const int DefaultHeight = 600;

    /// <summary>CMC curve (Rank-k in percent against k = 1..Cmc.Length); the legend carries mAP, Rank-1 and mINP.</summary>
    public static void SaveCmcCurve(string path, ReidMetrics m, string title, int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.Cmc.Length == 0)
        {
            throw new ArgumentException("ReidMetrics.Cmc is empty; nothing to plot.", nameof(m));
        }

        double[] ranks = Enumerable.Range(1, m.Cmc.Length).Select(k => (double)k).ToArray();
        double[] percent = m.Cmc.Select(v => v * 100).ToArray();
        var plot = new Plot();
        var line = plot.Add.Scatter(ranks, percent);
        line.LegendText = string.Create(
            CultureInfo.InvariantCulture, $"mAP {m.MeanAP * 100:F1}%, Rank-1 {m.Rank1 * 100:F1}%, mINP {m.MeanInp * 100:F1}%");
        line.MarkerSize = 4;
        plot.Title(title ?? string.Empty);
        plot.XLabel("rank k");
        plot.YLabel("Rank-k accuracy (%)");
        plot.Axes.SetLimits(0.5, m.Cmc.Length + 0.5, Math.Max(0, Math.Floor(percent.Min() / 10) * 10 - 5), 101);
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path, width, height);
    }

    /// <summary>
    /// One line per named value (in order of first appearance) against the training step. Steps that lack a name,
    /// and non-finite values, leave a gap in that line only. Names containing "tri" (triplet losses) get a panel and an
    /// axis of their own under the others; names containing "part" are dashed.
    /// </summary>
    public static void SaveLossCurves(string path, IReadOnlyList<(int step, IReadOnlyDictionary<string, double> values)> points,
        string title = "Training curves", int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(points);
        var names = new List<string>();
        var series = new Dictionary<string, (List<double> X, List<double> Y)>(StringComparer.Ordinal);
        foreach ((int step, IReadOnlyDictionary<string, double> values) in points)
        {
            if (values is null)
            {
                throw new ArgumentException($"loss curve point at step {step} has no values (null dictionary).", nameof(points));
            }

            foreach ((string name, double value) in values)
            {
                if (!series.TryGetValue(name, out var xy))
                {
                    xy = ([], []);
                    series.Add(name, xy);
                    names.Add(name);
                }

                if (double.IsFinite(value))
                {
                    xy.X.Add(step);
                    xy.Y.Add(value);
                }
            }
        }

        if (series.Values.All(s => s.X.Count == 0))
        {
            throw new ArgumentException("no finite values to plot in the loss curves.", nameof(points));
        }

        // Two panels, so that no series hides another: the ID losses and the total above, the triplet losses (an order
        // of magnitude smaller, and often equal for the global and the part branches) below, each on its own axis.
        // Within a panel every series has its own colour, and the JPM part losses are dashed over the solid global ones.
        var lower = names.Where(n => n.Contains("tri", StringComparison.OrdinalIgnoreCase) && series[n].X.Count > 0).ToList();
        var upper = names.Where(n => !lower.Contains(n) && series[n].X.Count > 0).ToList();
        if (upper.Count == 0 || lower.Count == 0)
        {
            Save(Panel(names, series, 0, title, "value"), path, width, height);
            return;
        }

        int top = height / 2;
        byte[] a = Panel(upper, series, 0, title + ": ID losses and total", "loss").GetImageBytes(width, top, ImageFormat.Png);
        byte[] b = Panel(lower, series, upper.Count, "triplet losses", "loss").GetImageBytes(width, height - top, ImageFormat.Png);
        using var upperImage = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgba32>(a);
        using var lowerImage = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgba32>(b);
        using var both = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgba32>(width, height);
        both.Mutate(c => c.DrawImage(upperImage, new SixLabors.ImageSharp.Point(0, 0), 1f).DrawImage(lowerImage, new SixLabors.ImageSharp.Point(0, top), 1f));
        AtomicWrite.Write(path, stream => SixLabors.ImageSharp.ImageExtensions.SaveAsPng(both, stream));
    }

    private static readonly string[] s_colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

    private static Plot Panel(List<string> names, Dictionary<string, (List<double> X, List<double> Y)> series, int firstColour, string title, string yLabel)
    {
        var plot = new Plot();
        int i = firstColour;
        // solid (global, total) first, dashed (parts) on top
        foreach (string name in names.OrderBy(n => n.Contains("part", StringComparison.OrdinalIgnoreCase)))
        {
            (List<double> x, List<double> y) = series[name];
            if (x.Count == 0)
            {
                continue;
            }

            var line = plot.Add.ScatterLine(x.ToArray(), y.ToArray());
            line.LegendText = name;
            line.Color = Color.FromHex(s_colours[i++ % s_colours.Length]);
            bool part = name.Contains("part", StringComparison.OrdinalIgnoreCase);
            line.LineWidth = part ? 2 : 2.5f;
            line.LinePattern = part ? LinePattern.Dashed : LinePattern.Solid;
        }

        plot.Title(title ?? string.Empty);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 16);
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicWrite.WriteAllBytes(path, png);
    }
}
