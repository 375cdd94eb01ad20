using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using TransReID.Evaluation;

namespace TransReID.Tests.Evaluation;

/// <summary>
/// Checks against TestData/Evaluation/eval_case.json, written by tests/reference/eval_ref.py (NumPy): 12 queries,
/// 40 gallery images, 16-d features, shared identities, four cameras, distractors, one query whose identity is
/// only in its own camera and one whose identity is absent.
/// </summary>
public sealed class EvalReferenceTests
{
    private static readonly Lazy<Case> Fixture = new(Case.Load);

    [Fact]
    public void Normalised_distances_match_reference()
    {
        Case c = Fixture.Value;
        float[] d = ReidEvaluator.Distances(c.QueryFeatures, c.Q, c.GalleryFeatures, c.G, c.Dim);
        AssertClose(c.DistQG, d, 1e-5, relative: false);
    }

    [Fact]
    public void Raw_distances_match_reference()
    {
        Case c = Fixture.Value;
        float[] d = ReidEvaluator.Distances(c.QueryFeatures, c.Q, c.GalleryFeatures, c.G, c.Dim, normalize: false);
        AssertClose(c.DistQGUnnormalized, d, 1e-5, relative: true);
    }

    [Fact]
    public void Metrics_from_reference_distances_match()
    {
        Case c = Fixture.Value;
        AssertMetrics(c.Metrics, ReidEvaluator.Evaluate(c.DistQG, c.Q, c.G, c.QIds, c.QCams, c.GIds, c.GCams));
        ReidMetrics top10 = ReidEvaluator.Evaluate(c.DistQG, c.Q, c.G, c.QIds, c.QCams, c.GIds, c.GCams, maxRank: 10);
        Assert.Equal(10, top10.Cmc.Length);
        AssertMetrics(c.MetricsMaxRank10, top10);
    }

    [Fact]
    public void Metrics_from_features_match()
    {
        Case c = Fixture.Value;
        ReidMetrics m = ReidEvaluator.Evaluate(c.QueryFeatures, c.Q, c.GalleryFeatures, c.G, c.Dim, c.QIds, c.QCams, c.GIds, c.GCams);
        AssertMetrics(c.Metrics, m);
        Assert.Equal(10, m.ValidQueries); // 12 queries, two without a usable match
    }

    [Fact]
    public void ReRanking_matches_reference_for_every_option_set()
    {
        Case c = Fixture.Value;
        Assert.Equal(3, c.ReRank.Length);
        foreach (ReRankCase r in c.ReRank)
        {
            float[] d = ReRanking.Apply(c.DistQG, c.DistQQ, c.DistGG, c.Q, c.G, r.Options);
            AssertClose(r.Dist, d, 1e-5, relative: false, r.Options.ToString());
            AssertMetrics(r.Metrics, ReidEvaluator.Evaluate(d, c.Q, c.G, c.QIds, c.QCams, c.GIds, c.GCams));
        }
    }

    [Fact]
    public void ReRanking_from_features_matches_reference_metrics()
    {
        Case c = Fixture.Value;
        // the reference's cases: Zhong et al.'s parameters first, TransReID's (the defaults) last
        ReRankCase zhong = c.ReRank[0];
        Assert.Equal(ReRankingOptions.Zhong2017, zhong.Options);
        ReidMetrics m = ReidEvaluator.Evaluate(c.QueryFeatures, c.Q, c.GalleryFeatures, c.G, c.Dim, c.QIds, c.QCams, c.GIds, c.GCams,
            rerank: true, options: ReRankingOptions.Zhong2017);
        AssertMetrics(zhong.Metrics, m);

        ReRankCase transReID = c.ReRank[^1];
        Assert.Equal(new ReRankingOptions(), transReID.Options);
        m = ReidEvaluator.Evaluate(c.QueryFeatures, c.Q, c.GalleryFeatures, c.G, c.Dim, c.QIds, c.QCams, c.GIds, c.GCams, rerank: true);
        AssertMetrics(transReID.Metrics, m);
    }

    [Fact]
    public void ReRanking_rejects_bad_options_and_shapes()
    {
        Case c = Fixture.Value;
        Assert.Throws<ArgumentOutOfRangeException>(() => ReRanking.Apply(c.DistQG, c.DistQQ, c.DistGG, c.Q, c.G, new ReRankingOptions(K1: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReRanking.Apply(c.DistQG, c.DistQQ, c.DistGG, c.Q, c.G, new ReRankingOptions(Lambda: 1.5)));
        var e = Assert.Throws<ArgumentException>(() => ReRanking.Apply(c.DistQG, c.DistQQ, c.DistQQ, c.Q, c.G, new ReRankingOptions()));
        Assert.Contains("gg has 144 entries; expected 40 x 40", e.Message, StringComparison.Ordinal);
        float[] withNaN = (float[])c.DistGG.Clone();
        withNaN[41] = float.NaN;
        var nan = Assert.Throws<ArgumentException>(() => ReRanking.Apply(c.DistQG, c.DistQQ, withNaN, c.Q, c.G, new ReRankingOptions()));
        Assert.Contains("gg[1, 1] is NaN", nan.Message, StringComparison.Ordinal);
    }

    private static void AssertMetrics(ExpectedMetrics expected, ReidMetrics actual)
    {
        Assert.Equal(expected.Valid, actual.ValidQueries);
        Assert.Equal(expected.MeanAP, actual.MeanAP, 12);
        Assert.Equal(expected.MeanInp, actual.MeanInp, 12);
        Assert.Equal(expected.Cmc.Length, actual.Cmc.Length);
        for (int k = 0; k < expected.Cmc.Length; k++)
        {
            Assert.Equal(expected.Cmc[k], actual.Cmc[k], 12);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, bool relative, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)expected[i] - actual[i]) / (relative ? Math.Max(1, Math.Abs(expected[i])) : 1);
            if (!(err <= worst))
            {
                worst = err;
                worstAt = i;
            }
        }

        Assert.True(worst <= tolerance, $"{what} worst error {worst} at {worstAt}: expected {expected[Math.Max(0, worstAt)]}, got {actual[Math.Max(0, worstAt)]}");
    }

    private sealed record ExpectedMetrics(double MeanAP, double[] Cmc, double MeanInp, int Valid)
    {
        public static ExpectedMetrics From(JsonElement e) => new(
            e.GetProperty("mAP").GetDouble(),
            e.GetProperty("cmc").EnumerateArray().Select(v => v.GetDouble()).ToArray(),
            e.GetProperty("mINP").GetDouble(),
            e.GetProperty("valid").GetInt32());
    }

    private sealed record ReRankCase(ReRankingOptions Options, float[] Dist, ExpectedMetrics Metrics);

    private sealed record Case(
        int Q, int G, int Dim, float[] QueryFeatures, float[] GalleryFeatures, int[] QIds, int[] QCams, int[] GIds, int[] GCams,
        float[] DistQG, float[] DistQQ, float[] DistGG, float[] DistQGUnnormalized, ExpectedMetrics Metrics,
        ExpectedMetrics MetricsMaxRank10, ReRankCase[] ReRank)
    {
        public static Case Load()
        {
            string path = Path.Combine(AppContext.BaseDirectory, "TestData", "Evaluation", "eval_case.json");
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement root = doc.RootElement;
            return new Case(
                root.GetProperty("numQuery").GetInt32(),
                root.GetProperty("numGallery").GetInt32(),
                root.GetProperty("dim").GetInt32(),
                Floats(root, "queryFeatures"),
                Floats(root, "galleryFeatures"),
                Ints(root, "queryIds"),
                Ints(root, "queryCams"),
                Ints(root, "galleryIds"),
                Ints(root, "galleryCams"),
                Floats(root, "distQG"),
                Floats(root, "distQQ"),
                Floats(root, "distGG"),
                Floats(root, "distQGUnnormalized"),
                ExpectedMetrics.From(root.GetProperty("metrics")),
                ExpectedMetrics.From(root.GetProperty("metricsMaxRank10")),
                root.GetProperty("rerank").EnumerateArray().Select(r => new ReRankCase(
                    new ReRankingOptions(r.GetProperty("k1").GetInt32(), r.GetProperty("k2").GetInt32(), r.GetProperty("lambda").GetDouble()),
                    Floats(r, "dist"),
                    ExpectedMetrics.From(r.GetProperty("metrics")))).ToArray());
        }

        // GetSingle parses the shortest float32 decimal written by eval_ref.py straight to the same float.
        private static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetSingle()).ToArray();

        private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();
    }
}
