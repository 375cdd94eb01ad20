using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ScottPlot;

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
    /// and non-finite values, leave a gap in that line only.
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

        var plot = new Plot();
        foreach (string name in names)
        {
            (List<double> x, List<double> y) = series[name];
            if (x.Count == 0)
            {
                continue;
            }

            var line = plot.Add.ScatterLine(x.ToArray(), y.ToArray());
            line.LegendText = name;
            line.LineWidth = 2;
        }

        plot.Title(title ?? string.Empty);
        plot.XLabel("step");
        plot.YLabel("value");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path, width, height);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 16);
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicWrite.WriteAllBytes(path, png);
    }
}
