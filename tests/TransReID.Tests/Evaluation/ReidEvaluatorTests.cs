using System;
using System.Linq;
using CsCheck;
using TransReID.Evaluation;

namespace TransReID.Tests.Evaluation;

/// <summary>Hand-computed cases of the protocol in docs/model.md#evaluation-protocol.</summary>
public sealed class ReidEvaluatorTests
{
    // Gallery: g0 pid 1 cam 2 | g1 pid 2 cam 1 | g2 pid 1 cam 1 | g3 pid 0 cam 3 (distractor) | g4 pid 1 cam 3
    private static readonly int[] GIds = [1, 2, 1, 0, 1];
    private static readonly int[] GCams = [2, 1, 1, 3, 3];

    // q0 (pid 1, cam 1): order g2 g1 g3 g0 g4; g2 is removed (same pid, same cam) -> kept g1 g3 g0 g4, matches 0 0 1 1.
    //   AP = (1/3 + 2/4) / 2 = 5/12, first hit at rank 3, INP = 2 / 4.
    // q1 (pid 2, cam 2): order g3 g1 g0 g2 g4 -> matches 0 1 0 0 0. AP = 1/2, first hit at rank 2, INP = 1 / 2.
    private static readonly float[] Q0 = [0.5f, 0.1f, 0.05f, 0.3f, 0.9f];
    private static readonly float[] Q1 = [0.2f, 0.15f, 0.6f, 0.1f, 0.8f];

    [Fact]
    public void Two_queries_match_hand_computed_ap_cmc_and_minp()
    {
        ReidMetrics m = ReidEvaluator.Evaluate([.. Q0, .. Q1], 2, 5, [1, 2], [1, 2], GIds, GCams);

        Assert.Equal(2, m.ValidQueries);
        Assert.Equal(((5.0 / 12) + 0.5) / 2, m.MeanAP, 12);
        Assert.Equal([0.0, 0.5, 1.0, 1.0, 1.0], m.Cmc); // max rank 50 clamped to the 5 gallery items
        Assert.Equal(0.5, m.MeanInp, 12);
        Assert.Equal(0.0, m.Rank1);
        Assert.Equal(1.0, m.Rank5);
        Assert.Equal(1.0, m.Rank10); // beyond the gallery: the curve's final value
    }

    [Fact]
    public void Single_queries_give_their_own_ap_and_inp()
    {
        ReidMetrics m0 = ReidEvaluator.Evaluate(Q0, 1, 5, [1], [1], GIds, GCams);
        Assert.Equal(5.0 / 12, m0.MeanAP, 12);
        Assert.Equal(0.5, m0.MeanInp, 12);
        Assert.Equal([0.0, 0.0, 1.0, 1.0, 1.0], m0.Cmc);

        ReidMetrics m1 = ReidEvaluator.Evaluate(Q1, 1, 5, [2], [2], GIds, GCams, maxRank: 3);
        Assert.Equal(0.5, m1.MeanAP, 12);
        Assert.Equal(0.5, m1.MeanInp, 12);
        Assert.Equal([0.0, 1.0, 1.0], m1.Cmc);
    }

    [Fact]
    public void Same_id_same_camera_is_removed_but_same_id_other_camera_counts()
    {
        // q0 from camera 2 instead of 1: now g0 (cam 2) is removed and g2 (cam 1, the nearest) is a match.
        // kept g2 g1 g3 g4 -> matches 1 0 0 1: AP = (1 + 2/4) / 2 = 3/4, INP = 2/4.
        ReidMetrics m = ReidEvaluator.Evaluate(Q0, 1, 5, [1], [2], GIds, GCams);
        Assert.Equal(0.75, m.MeanAP, 12);
        Assert.Equal(0.5, m.MeanInp, 12);
        Assert.Equal(1.0, m.Rank1);
    }

    [Fact]
    public void Distractor_pid_0_stays_in_the_ranking_as_a_negative()
    {
        // With g3 (pid 0) removed q0's AP would be (1/2 + 2/3) / 2; it is kept, so AP = 5/12.
        ReidMetrics withDistractor = ReidEvaluator.Evaluate(Q0, 1, 5, [1], [1], GIds, GCams);
        ReidMetrics moved = ReidEvaluator.Evaluate([0.5f, 0.1f, 0.05f, 2f, 0.9f], 1, 5, [1], [1], GIds, GCams);
        Assert.Equal(5.0 / 12, withDistractor.MeanAP, 12);
        Assert.Equal((0.5 + (2.0 / 3)) / 2, moved.MeanAP, 12);
    }

    [Fact]
    public void Queries_without_a_remaining_match_are_skipped()
    {
        // q2: pid 3 absent from the gallery. q3: pid 2 cam 1, whose only gallery image g1 is also cam 1.
        float[] d = [.. Q0, .. Q1, .. Q0, .. Q1];
        ReidMetrics m = ReidEvaluator.Evaluate(d, 4, 5, [1, 2, 3, 2], [1, 2, 1, 1], GIds, GCams);
        ReidMetrics reference = ReidEvaluator.Evaluate([.. Q0, .. Q1], 2, 5, [1, 2], [1, 2], GIds, GCams);
        Assert.Equal(2, m.ValidQueries);
        Assert.Equal(reference.MeanAP, m.MeanAP, 15);
        Assert.Equal(reference.Cmc, m.Cmc);
        Assert.Equal(reference.MeanInp, m.MeanInp, 15);
    }

    [Fact]
    public void No_valid_query_throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ReidEvaluator.Evaluate(Q0, 1, 5, [7], [1], GIds, GCams));
        Assert.Contains("do not appear in gallery", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ties_are_broken_by_gallery_index()
    {
        int[] ids = [5, 1];
        int[] cams = [1, 1];
        // equal distances: g0 (miss) ranks before g1 (match): AP = 1/2; +0 and −0 are equal too.
        Assert.Equal(0.5, ReidEvaluator.Evaluate([0.25f, 0.25f], 1, 2, [1], [2], ids, cams).MeanAP, 15);
        Assert.Equal(0.5, ReidEvaluator.Evaluate([0f, -0f], 1, 2, [1], [2], ids, cams).MeanAP, 15);
        Assert.Equal(1.0, ReidEvaluator.Evaluate([0.25f, 0.2499999f], 1, 2, [1], [2], ids, cams).MeanAP, 15);
        Assert.Equal(1.0, ReidEvaluator.Evaluate([-1e-6f, -2e-6f], 1, 2, [1], [2], ids, cams).MeanAP, 15);
    }

    [Fact]
    public void TopRanked_skips_junk_and_flags_matches()
    {
        (int, bool)[] top = ReidEvaluator.TopRanked(Q0, 1, 5, 0, [1], [1], GIds, GCams, count: 3);
        Assert.Equal([(1, false), (3, false), (0, true)], top);
    }

    [Fact]
    public void Bad_input_is_reported_with_names()
    {
        var shape = Assert.Throws<ArgumentException>(() => ReidEvaluator.Evaluate(Q0, 1, 4, [1], [1], [1, 2, 1, 0], [2, 1, 1, 3]));
        Assert.Contains("distances has 5 entries", shape.Message, StringComparison.Ordinal);
        var labels = Assert.Throws<ArgumentException>(() => ReidEvaluator.Evaluate(Q0, 1, 5, [1], [1], GIds, [1, 2]));
        Assert.Contains("gCams has 2 entries", labels.Message, StringComparison.Ordinal);
        var nan = Assert.Throws<ArgumentException>(() => ReidEvaluator.Evaluate([0.1f, float.NaN, 0, 0, 0], 1, 5, [1], [1], GIds, GCams));
        Assert.Contains("distances[0, 1] is NaN", nan.Message, StringComparison.Ordinal);
        var features = Assert.Throws<ArgumentException>(() => ReidEvaluator.Distances(new float[7], 2, new float[8], 2, 4));
        Assert.Contains("query features have 7 values", features.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Distances_match_float64_naive_with_and_without_normalisation()
    {
        const int q = 7, g = 13, dim = 37;
        var rng = new Random(5);
        float[] qf = Enumerable.Range(0, q * dim).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
        float[] gf = Enumerable.Range(0, g * dim).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
        Array.Clear(gf, 5 * dim, dim); // an all-zero row: normalisation must leave it zero (max(‖x‖, 1e-12))

        foreach (bool normalize in new[] { false, true })
        {
            float[] d = ReidEvaluator.Distances(qf, q, gf, g, dim, normalize);
            Assert.Equal(q * g, d.Length);
            for (int i = 0; i < q; i++)
            {
                for (int j = 0; j < g; j++)
                {
                    double expected = NaiveSquaredDistance(qf.AsSpan(i * dim, dim), gf.AsSpan(j * dim, dim), normalize);
                    Assert.True(Math.Abs(d[(i * g) + j] - expected) <= 1e-5 * Math.Max(1, expected),
                        $"normalize={normalize} [{i},{j}]: {d[(i * g) + j]} vs {expected}");
                }
            }
        }
    }

    [Fact]
    public void Metrics_do_not_depend_on_gallery_order()
    {
        const int q = 9, g = 31;
        var rng = new Random(11);
        int[] qIds = Enumerable.Range(0, q).Select(_ => rng.Next(1, 5)).ToArray();
        int[] qCams = Enumerable.Range(0, q).Select(_ => rng.Next(1, 4)).ToArray();
        int[] gIds = Enumerable.Range(0, g).Select(_ => rng.Next(0, 5)).ToArray();
        int[] gCams = Enumerable.Range(0, g).Select(_ => rng.Next(1, 4)).ToArray();
        float[] d = Enumerable.Range(0, q * g).Select(_ => (float)rng.NextDouble()).ToArray();
        int[] perm = Enumerable.Range(0, g).OrderBy(_ => rng.Next()).ToArray();
        float[] pd = new float[d.Length];
        for (int i = 0; i < q; i++)
        {
            for (int j = 0; j < g; j++)
            {
                pd[(i * g) + j] = d[(i * g) + perm[j]];
            }
        }

        ReidMetrics a = ReidEvaluator.Evaluate(d, q, g, qIds, qCams, gIds, gCams);
        ReidMetrics b = ReidEvaluator.Evaluate(pd, q, g, qIds, qCams, perm.Select(p => gIds[p]).ToArray(), perm.Select(p => gCams[p]).ToArray());
        Assert.Equal(a.MeanAP, b.MeanAP, 15);
        Assert.Equal(a.MeanInp, b.MeanInp, 15);
        Assert.Equal(a.Cmc, b.Cmc);
        Assert.Equal(a.ValidQueries, b.ValidQueries);
    }

    [Fact]
    public void Counting_ranks_equal_a_full_stable_sort_including_ties()
    {
        // Distances from a handful of values (many exact ties, −0 and +0), few identities and cameras.
        var gen = from g in Gen.Int[1, 40]
                  from q in Gen.Int[1, 6]
                  from d in Gen.Int[0, 5].Array[q * g]
                  from gIds in Gen.Int[0, 3].Array[g]
                  from gCams in Gen.Int[1, 3].Array[g]
                  from qIds in Gen.Int[1, 3].Array[q]
                  from qCams in Gen.Int[1, 3].Array[q]
                  select (q, g, d.Select(v => v == 5 ? -0f : v * 0.25f).ToArray(), qIds, qCams, gIds, gCams);
        gen.Sample(c =>
        {
            (int q, int g, float[] d, int[] qIds, int[] qCams, int[] gIds, int[] gCams) = c;
            (double mAP, double[] cmc, double mInp, int valid) = NaiveEvaluate(d, q, g, qIds, qCams, gIds, gCams, 50);
            if (valid == 0)
            {
                Assert.Throws<InvalidOperationException>(() => ReidEvaluator.Evaluate(d, q, g, qIds, qCams, gIds, gCams));
                return;
            }

            ReidMetrics m = ReidEvaluator.Evaluate(d, q, g, qIds, qCams, gIds, gCams);
            Assert.Equal(valid, m.ValidQueries);
            Assert.Equal(mAP, m.MeanAP, 12);
            Assert.Equal(mInp, m.MeanInp, 12);
            Assert.Equal(cmc, m.Cmc);
        }, iter: 300);
    }

    /// <summary>The protocol written directly: full stable sort, removal, cumulative sums (as eval_ref.py).</summary>
    private static (double MeanAP, double[] Cmc, double MeanInp, int Valid) NaiveEvaluate(float[] d, int q, int g, int[] qIds, int[] qCams,
        int[] gIds, int[] gCams, int maxRank)
    {
        maxRank = Math.Min(maxRank, g);
        double apSum = 0, inpSum = 0;
        var cmcSum = new double[maxRank];
        int valid = 0;
        for (int i = 0; i < q; i++)
        {
            int[] kept = Enumerable.Range(0, g)
                .OrderBy(j => d[(i * g) + j] + 0f).ThenBy(j => j)
                .Where(j => !(gIds[j] == qIds[i] && gCams[j] == qCams[i]))
                .ToArray();
            int[] match = kept.Select(j => gIds[j] == qIds[i] ? 1 : 0).ToArray();
            int total = match.Sum();
            if (total == 0)
            {
                continue;
            }

            valid++;
            int hits = 0, last = 0;
            double precision = 0;
            for (int r = 0; r < match.Length; r++)
            {
                if (match[r] == 1)
                {
                    hits++;
                    precision += (double)hits / (r + 1);
                    last = r;
                }

                if (r < maxRank)
                {
                    cmcSum[r] += Math.Min(hits, 1);
                }
            }

            for (int r = match.Length; r < maxRank; r++)
            {
                cmcSum[r] += 1;
            }

            apSum += precision / total;
            inpSum += (double)total / (last + 1);
        }

        return (apSum / Math.Max(valid, 1), cmcSum.Select(v => v / Math.Max(valid, 1)).ToArray(), inpSum / Math.Max(valid, 1), valid);
    }

    private static double NaiveSquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, bool normalize)
    {
        double na = 1, nb = 1;
        if (normalize)
        {
            na = Math.Max(Math.Sqrt(Dot(a, a)), 1e-12);
            nb = Math.Max(Math.Sqrt(Dot(b, b)), 1e-12);
        }

        double s = 0;
        for (int k = 0; k < a.Length; k++)
        {
            double diff = (a[k] / na) - (b[k] / nb);
            s += diff * diff;
        }

        return s;
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int k = 0; k < a.Length; k++)
        {
            s += (double)a[k] * b[k];
        }

        return s;
    }
}
