using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using TransReID.Data;
using TransReID.Evaluation;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>Features of a list of images (rows in input order, unreadable images left out).</summary>
/// <param name="Features">(Count, Dim) row-major.</param>
/// <param name="Identities">Identity of each row.</param>
/// <param name="Cameras">Camera of each row.</param>
/// <param name="Paths">File of each row.</param>
/// <param name="Skipped">Images that could not be read (left out).</param>
public sealed record FeatureSet(float[] Features, int Count, int Dim, int[] Identities, int[] Cameras, string[] Paths, int Skipped);

/// <summary>Settings of <see cref="ModelEvaluation.Evaluate"/>.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Images per embedding batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Loader threads.</summary>
    public int LoaderThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>k-reciprocal re-ranking.</summary>
    public bool ReRank { get; init; }

    /// <summary>Re-ranking parameters.</summary>
    public ReRankingOptions ReRanking { get; init; } = new();

    /// <summary>Folder for metrics.json, cmc.png and ranked/ images; null: nothing is written.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Ranked-list images to write (queries spread evenly over the query list).</summary>
    public int RankedListQueries { get; init; } = 5;

    /// <summary>Title of the CMC plot.</summary>
    public string Title { get; init; } = "CMC";

    /// <summary>Receives one line per unreadable image.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>The outcome of an evaluation.</summary>
/// <param name="Metrics">mAP, CMC, mINP.</param>
/// <param name="QueryImages">Query images embedded.</param>
/// <param name="GalleryImages">Gallery images embedded.</param>
/// <param name="SkippedImages">Unreadable query/gallery images left out.</param>
/// <param name="ReRanked">Whether re-ranking was applied.</param>
/// <param name="Seconds">Wall time of embedding and scoring.</param>
public sealed record EvaluationResult(ReidMetrics Metrics, int QueryImages, int GalleryImages, int SkippedImages, bool ReRanked, double Seconds)
{
    /// <summary>"mAP=NN.N% Rank-1=NN.N% mINP=NN.N%".</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"mAP={Metrics.MeanAP * 100:F1}% Rank-1={Metrics.Rank1 * 100:F1}% mINP={Metrics.MeanInp * 100:F1}%");
}

/// <summary>The evaluation protocol of docs/model.md#evaluation-protocol run with a model: embed query and gallery with the test transform, score.</summary>
public static class ModelEvaluation
{
    /// <summary>Embeds <paramref name="images"/> in batches (test transform, SIE indices from each image).</summary>
    public static FeatureSet Embed(ITransReIDModel model, IReadOnlyList<ReidImage> images, int batchSize = 64, int loaderThreads = 0,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        var info = model.Info;
        int dim = info.FeatureDim;
        var transform = new TestTransform(info.ImageHeight, info.ImageWidth, info.PixelMean, info.PixelStd);
        var loader = BatchLoader.ForEvaluation(images, batchSize, transform, new BatchLoaderOptions
        {
            Threads = loaderThreads > 0 ? loaderThreads : Environment.ProcessorCount,
            Log = log,
        });
        var features = new float[(long)images.Count * dim];
        var ids = new List<int>(images.Count);
        var cams = new List<int>(images.Count);
        var paths = new List<string>(images.Count);
        int row = 0;
        foreach (var batch in loader.ReadAll(0, cancellationToken))
        {
            if (batch.Count == 0) continue;
            model.Embed(batch.Images, info.UsesCameras ? batch.Cameras : [], info.UsesViews ? batch.Views : [],
                features.AsSpan(row * dim, batch.Count * dim));
            ids.AddRange(batch.Labels);
            cams.AddRange(batch.Cameras);
            paths.AddRange(batch.Paths);
            row += batch.Count;
        }

        if (row < images.Count) Array.Resize(ref features, row * dim);
        return new FeatureSet(features, row, dim, [.. ids], [.. cams], [.. paths], loader.SkippedImages);
    }

    /// <summary>
    /// Embeds the query and gallery splits, scores them (optionally re-ranked) and, with an output folder, writes
    /// <c>metrics.json</c>, <c>cmc.png</c> and <c>ranked/qNNNN_QUERYNAME.png</c> strips of the top-10 gallery images.
    /// </summary>
    public static EvaluationResult Evaluate(ITransReIDModel model, ReidDataset dataset, EvaluationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new EvaluationOptions();
        DatasetFit.ForEvaluation(model.Info, dataset).ThrowIfUnfit();
        var clock = Stopwatch.StartNew();
        var q = Embed(model, dataset.Query.Images, options.BatchSize, options.LoaderThreads, options.Log, cancellationToken);
        var g = Embed(model, dataset.Gallery.Images, options.BatchSize, options.LoaderThreads, options.Log, cancellationToken);
        if (q.Count == 0 || g.Count == 0)
        {
            throw new InvalidDataException($"no readable {(q.Count == 0 ? "query" : "gallery")} images in '{dataset.Name}'");
        }

        float[] distances = ReidEvaluator.Distances(q.Features, q.Count, g.Features, g.Count, q.Dim);
        if (options.ReRank)
        {
            float[] qq = ReidEvaluator.Distances(q.Features, q.Count, q.Features, q.Count, q.Dim);
            float[] gg = ReidEvaluator.Distances(g.Features, g.Count, g.Features, g.Count, g.Dim);
            distances = ReRanking.Apply(distances, qq, gg, q.Count, g.Count, options.ReRanking);
        }

        var metrics = ReidEvaluator.Evaluate(distances, q.Count, g.Count, q.Identities, q.Cameras, g.Identities, g.Cameras);
        var result = new EvaluationResult(metrics, q.Count, g.Count, q.Skipped + g.Skipped, options.ReRank, clock.Elapsed.TotalSeconds);
        if (options.OutputDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(Path.Combine(dir, "metrics.json"), MetricsJson(result, model.Info.Name, null, options.ReRank ? options.ReRanking : null));
            Plots.SaveCmcCurve(Path.Combine(dir, "cmc.png"), metrics, options.Title);
            WriteRankedLists(Path.Combine(dir, "ranked"), distances, q, g, options.RankedListQueries, model.Info);
        }

        return result;
    }

    /// <summary>The metrics as an indented JSON object (percent values as fractions in [0, 1]).</summary>
    public static string MetricsJson(EvaluationResult result, string model, int? epoch = null, ReRankingOptions? reRanking = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            WriteMetrics(w, result, model, epoch, reRanking);
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The metrics as one JSON line (for histories).</summary>
    public static string MetricsLine(EvaluationResult result, string model, int? epoch = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            WriteMetrics(w, result, model, epoch, null, includeCmc: false);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteMetrics(Utf8JsonWriter w, EvaluationResult r, string model, int? epoch, ReRankingOptions? reRanking, bool includeCmc = true)
    {
        var m = r.Metrics;
        w.WriteStartObject();
        w.WriteString("model", model);
        if (epoch is { } e) w.WriteNumber("epoch", e);
        w.WriteNumber("mAP", m.MeanAP);
        w.WriteNumber("rank1", m.Rank1);
        w.WriteNumber("rank5", m.Rank5);
        w.WriteNumber("rank10", m.Rank10);
        w.WriteNumber("rank20", m.Rank20);
        w.WriteNumber("mINP", m.MeanInp);
        w.WriteNumber("valid_queries", m.ValidQueries);
        w.WriteNumber("query_images", r.QueryImages);
        w.WriteNumber("gallery_images", r.GalleryImages);
        w.WriteNumber("skipped_images", r.SkippedImages);
        w.WriteBoolean("reranked", r.ReRanked);
        if (reRanking is not null)
        {
            w.WriteStartObject("rerank");
            w.WriteNumber("k1", reRanking.K1);
            w.WriteNumber("k2", reRanking.K2);
            w.WriteNumber("lambda", reRanking.Lambda);
            w.WriteEndObject();
        }

        w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
        if (includeCmc)
        {
            w.WriteStartArray("cmc");
            foreach (double v in m.Cmc) w.WriteNumberValue(v);
            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void WriteRankedLists(string dir, float[] distances, FeatureSet q, FeatureSet g, int count, ModelInfo info)
    {
        if (count <= 0) return;
        Directory.CreateDirectory(dir);
        int n = Math.Min(count, q.Count);
        for (int k = 0; k < n; k++)
        {
            int query = (int)((long)k * q.Count / n);
            var top = ReidEvaluator.TopRanked(distances, q.Count, g.Count, query, q.Identities, q.Cameras, g.Identities, g.Cameras, 10);
            var strip = top.Select(t => new RankedEntry(g.Paths[t.GalleryIndex], t.Match, distances[((long)query * g.Count) + t.GalleryIndex])).ToArray();
            // named after the query image (the index keeps the order and tells apart equal names from different folders)
            string name = string.Create(CultureInfo.InvariantCulture, $"q{query:D4}_{Path.GetFileNameWithoutExtension(q.Paths[query])}.png");
            string label = string.Create(CultureInfo.InvariantCulture, $"id {q.Identities[query]}, camera {q.Cameras[query] + 1}");
            RankedList.Save(Path.Combine(dir, name), q.Paths[query], label, strip, info.ImageHeight, info.ImageWidth);
        }
    }
}
