using System;
using System.Runtime.Intrinsics;
using TransReID.Runtime.Cpu;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>
/// The attention forward at the model's shapes (211 tokens, JPM's 53, 12 heads of 64) and ragged ones (token counts
/// off the 6-row blocks and 16-token panels, head sizes off the 16-column panels) against a float64 reference:
/// relative L2 of probs and y ≤ 1e-6 and every entry within 1e-6 of the tensor's scale. Every path is checked where
/// the machine runs it (a test of a path it cannot run is skipped): the fused AVX-512 one (the default where
/// supported), the fused AVX2 one and the per-pair GEMM fallback. Guard cells around probs and y catch any write
/// outside them.
/// </summary>
public class AttentionForwardTests
{
    private const double Tol = 1e-6;
    private const float Guard = 12345.5f;
    private const int GuardLength = 64;

    public static TheoryData<int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int>
        {
            { 1, 211, 12, 64 }, // the model's blocks at batch 1
            { 4, 53, 12, 64 }, // the JPM branch (batch × 4 samples of 53 tokens)
        };
        foreach (int t in (int[])[1, 7, 17])
            foreach (int dh in (int[])[8, 24, 64])
                data.Add(2, t, 3, dh);
        data.Add(1, 16, 2, 5); // exactly one token panel; a head narrower than a vector
        data.Add(3, 13, 1, 40);
        // Token counts around the AVX-512 path's 12-row blocks and 32-token panels, batch > 1.
        data.Add(3, 1, 2, 64);
        data.Add(2, 5, 3, 64);
        data.Add(2, 53, 3, 64);
        data.Add(2, 211, 2, 64);
        data.Add(2, 212, 2, 64);
        data.Add(2, 33, 2, 48); // one token past a panel; a head of one and a half panels
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Avx512_forward_matches_float64_reference(int batch, int tokens, int heads, int headDim) =>
        CheckRandom(AttentionPath.Avx512, 300, batch, tokens, heads, headDim);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fused_forward_matches_float64_reference(int batch, int tokens, int heads, int headDim) =>
        CheckRandom(AttentionPath.Avx2, 100, batch, tokens, heads, headDim);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fallback_forward_matches_float64_reference(int batch, int tokens, int heads, int headDim) =>
        CheckRandom(AttentionPath.Gemm, 200, batch, tokens, heads, headDim);

    /// <summary>Checks <paramref name="path"/> on random qkv in [−1.5, 1.5) with the usual 1/√dh scale.</summary>
    private static void CheckRandom(AttentionPath path, int seed, int batch, int tokens, int heads, int headDim)
    {
        SkipUnsupported(path);
        float[] qkv = Random(seed + tokens + headDim, (long)batch * tokens * 3 * heads * headDim, 1.5);
        Check(qkv, batch, tokens, heads, headDim, 1f / MathF.Sqrt(headDim), path);
    }

    /// <summary>Skips the test where this machine cannot run <paramref name="path"/> (Forward would take another).</summary>
    private static void SkipUnsupported(AttentionPath path)
    {
        if (path > CpuAttention.DefaultPath) Assert.Skip($"this machine does not run the {path} path (best: {CpuAttention.DefaultPath})");
    }

    /// <summary>
    /// Scores in the thousands (exp overflows without the max shift), some rows dominated by one key, others by a tie,
    /// next to ordinary rows. Q and K hold small integers so the scores are exact in float and the comparison measures
    /// the softmax alone.
    /// </summary>
    [Theory]
    [InlineData("Avx512", 1, 211, 12, 64)]
    [InlineData("Avx512", 2, 17, 3, 24)]
    [InlineData("Avx2", 1, 211, 12, 64)]
    [InlineData("Avx2", 2, 17, 3, 24)]
    [InlineData("Gemm", 2, 17, 3, 24)]
    public void Forward_is_stable_for_large_logits(string pathName, int batch, int tokens, int heads, int headDim)
    {
        var path = Enum.Parse<AttentionPath>(pathName);
        SkipUnsupported(path);
        int d = heads * headDim;
        float[] qkv = Random(7, (long)batch * tokens * 3 * d);
        var rng = new Random(8);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < tokens; i++)
            {
                bool large = i % 3 != 2; // every third row stays small
                for (int c = 0; c < 2 * d; c++)
                {
                    long at = ((long)b * tokens + i) * 3 * d + c;
                    qkv[at] = large ? rng.Next(-40, 41) : rng.Next(-2, 3) * 0.25f;
                }
            }
        if (tokens > 4)
        {
            // Token 3's key duplicates token 1's: rows that favour one of them split the mass evenly.
            for (int b = 0; b < batch; b++)
                Array.Copy(qkv, ((long)b * tokens + 1) * 3 * d + d, qkv, ((long)b * tokens + 3) * 3 * d + d, d);
        }
        (double maxLogit, _) = Check(qkv, batch, tokens, heads, headDim, 0.125f, path);
        Assert.True(maxLogit > 1000, $"the test should reach large logits, got {maxLogit}");
    }

    /// <summary>
    /// Two fused paths accumulate every dot product in the same order and share the softmax, so they give the same
    /// bits (here with a ragged head width and a ragged last row block on each path).
    /// </summary>
    [Theory]
    [InlineData(2, 211, 12, 64)]
    [InlineData(3, 53, 2, 48)]
    public void The_AVX512_path_equals_the_AVX2_path_to_the_bit(int batch, int tokens, int heads, int headDim)
    {
        SkipUnsupported(AttentionPath.Avx512);
        float[] qkv = Random(37 + tokens, (long)batch * tokens * 3 * heads * headDim);
        float scale = 1f / MathF.Sqrt(headDim);
        var wide = Run(qkv, batch, tokens, heads, headDim, scale, AttentionPath.Avx512);
        var narrow = Run(qkv, batch, tokens, heads, headDim, scale, AttentionPath.Avx2);
        Assert.Equal(narrow.Probs, wide.Probs);
        Assert.Equal(narrow.Y, wide.Y);
    }

    /// <summary>
    /// Two paths on the same input agree to float rounding (the GEMM fallback sums in another order).
    /// </summary>
    [Theory]
    [InlineData("Avx2", "Gemm")]
    [InlineData("Avx512", "Gemm")]
    [InlineData("Avx512", "Avx2")]
    public void Paths_agree_to_float_rounding(string pathName, string otherName)
    {
        AttentionPath path = Enum.Parse<AttentionPath>(pathName), other = Enum.Parse<AttentionPath>(otherName);
        SkipUnsupported(path);
        const int batch = 2, t = 211, heads = 12, dh = 64;
        float[] qkv = Random(31, (long)batch * t * 3 * heads * dh);
        var (p1, y1) = Run(qkv, batch, t, heads, dh, 0.125f, path);
        var (p2, y2) = Run(qkv, batch, t, heads, dh, 0.125f, other);
        double ep = RelativeL2(D(p2), p1), ey = RelativeL2(D(y2), y1);
        TestContext.Current.TestOutputHelper?.WriteLine($"{path} vs {other}: relative L2 probs {ep:E2} y {ey:E2}");
        Assert.True(ep < 1e-6, $"probs {ep:E2}");
        Assert.True(ey < 1e-6, $"y {ey:E2}");
    }

    /// <summary>e^x for x ≤ 0 within 2 ulp of the float64 value; 0 below the normal range and at −∞; NaN stays NaN.</summary>
    [Fact]
    public void ExpNonPositive_is_within_2_ulp()
    {
        if (!CpuAttention.FusedSupported) Assert.Skip("no AVX2 + FMA");
        double worst = 0;
        var x = new float[8];
        for (int k = 0; k <= 2_000_000; k += 8)
        {
            for (int l = 0; l < 8; l++) x[l] = -87.3f * (k + l) / 2_000_000f;
            Vector256<float> e = CpuAttention.ExpNonPositive(Vector256.Create(x));
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Exp(x[l]);
                double ulp = MathF.BitIncrement((float)exact) - (float)exact;
                worst = Math.Max(worst, Math.Abs(e[l] - exact) / ulp);
            }
        }
        Assert.True(worst <= 2, $"worst error {worst:F2} ulp");
        Vector256<float> edge = CpuAttention.ExpNonPositive(
            Vector256.Create(0f, -0f, -87.4f, -100f, -1e30f, float.NegativeInfinity, float.NaN, -1e-30f));
        Assert.Equal(1f, edge[0]);
        Assert.Equal(1f, edge[1]);
        Assert.Equal(0f, edge[2]);
        Assert.Equal(0f, edge[3]);
        Assert.Equal(0f, edge[4]);
        Assert.Equal(0f, edge[5]);
        Assert.True(float.IsNaN(edge[6]));
        Assert.Equal(1f, edge[7]);
    }

    /// <summary>Runs the forward and checks it against float64; returns the largest |logit| and the worst relative L2.</summary>
    private static (double MaxLogit, double RelL2) Check(float[] qkv, int batch, int t, int heads, int dh, float scale, AttentionPath path)
    {
        var (p, y) = Run(qkv, batch, t, heads, dh, scale, path);
        var (pr, yr, maxLogit) = Ref(qkv, batch, t, heads, dh, scale);
        double ep = RelativeL2(pr, p), ey = RelativeL2(yr, y);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"batch {batch} tokens {t} heads {heads} dh {dh} path {path}: relative L2 probs {ep:E2} y {ey:E2}, " +
            $"max abs error probs {MaxAbs(pr, p):E2} y {MaxAbs(yr, y):E2}, max |logit| {maxLogit:F1}");
        Assert.True(ep <= Tol, $"probs relative L2 {ep:E2}");
        Assert.True(ey <= Tol, $"y relative L2 {ey:E2}");
        AssertClose(pr, p, Tol, "probs");
        AssertClose(yr, y, Tol, "y");
        return (maxLogit, Math.Max(ep, ey));
    }

    /// <summary>
    /// Eval (keepProbs false): y is bit for bit the training form's, and the fused paths leave probs unwritten (every cell
    /// still holds the guard value); the GEMM fallback may use it as its workspace.
    /// </summary>
    [Theory]
    [InlineData("Avx512", 1, 211, 12, 64)]
    [InlineData("Avx512", 2, 33, 2, 48)]
    [InlineData("Avx512", 4, 53, 3, 64)]
    [InlineData("Avx2", 1, 211, 12, 64)]
    [InlineData("Avx2", 2, 17, 3, 24)]
    [InlineData("Gemm", 2, 17, 3, 24)]
    public void Without_kept_probs_y_is_the_same_and_fused_paths_leave_probs_alone(string pathName, int batch, int tokens, int heads, int headDim)
    {
        var path = Enum.Parse<AttentionPath>(pathName);
        SkipUnsupported(path);
        float[] qkv = Random(400 + tokens, (long)batch * tokens * 3 * heads * headDim, 1.5);
        float scale = 1f / MathF.Sqrt(headDim);
        var kept = Run(qkv, batch, tokens, heads, headDim, scale, path);
        var eval = Run(qkv, batch, tokens, heads, headDim, scale, path, keepProbs: false);
        Assert.Equal(kept.Y, eval.Y);
        if (path != AttentionPath.Gemm) Assert.All(eval.Probs, p => Assert.Equal(Guard, p));
    }

    /// <summary>
    /// The first query rows alone (the token-0 head blocks): y [B, queries, D] equals those rows of the whole attention
    /// bit for bit, on every path, and nothing past y's rows or (for the fused paths) in probs is written.
    /// </summary>
    [Theory]
    [InlineData("Avx512", 1, 211, 1, 12, 64)]
    [InlineData("Avx512", 4, 53, 1, 3, 64)]
    [InlineData("Avx512", 2, 40, 13, 2, 48)]
    [InlineData("Avx2", 1, 211, 1, 12, 64)]
    [InlineData("Avx2", 3, 17, 7, 3, 24)]
    [InlineData("Gemm", 2, 17, 1, 3, 24)]
    [InlineData("Gemm", 2, 17, 5, 3, 24)]
    public void The_first_query_rows_alone_equal_those_rows_of_the_whole_attention(string pathName, int batch, int tokens, int queries,
        int heads, int headDim)
    {
        var path = Enum.Parse<AttentionPath>(pathName);
        SkipUnsupported(path);
        float[] qkv = Random(700 + tokens + queries, (long)batch * tokens * 3 * heads * headDim, 1.5);
        float scale = 1f / MathF.Sqrt(headDim);
        int d = heads * headDim;
        var whole = Run(qkv, batch, tokens, heads, headDim, scale, path, keepProbs: false);
        // the Q rows that must not be read hold NaN, so that reading one would show in y
        float[] poisoned = (float[])qkv.Clone();
        for (int b = 0; b < batch; b++)
            for (int i = queries; i < tokens; i++)
                Array.Fill(poisoned, float.NaN, (b * tokens + i) * 3 * d, d);
        var first = Run(poisoned, batch, tokens, heads, headDim, scale, path, keepProbs: false, queries: queries);
        for (int b = 0; b < batch; b++)
            Assert.Equal(whole.Y.AsSpan(b * tokens * d, queries * d).ToArray(), first.Y.AsSpan(b * queries * d, queries * d).ToArray());
        if (path != AttentionPath.Gemm) Assert.All(first.Probs, p => Assert.Equal(Guard, p));
    }

    /// <summary>Forward on two threads into guarded buffers (asserts the guards are untouched); y [B, queries, D].</summary>
    private static unsafe (float[] Probs, float[] Y) Run(float[] qkv, int batch, int t, int heads, int dh, float scale, AttentionPath path,
        bool keepProbs = true, int queries = 0)
    {
        int d = heads * dh, nq = queries == 0 ? t : queries;
        long np = (long)batch * heads * nq * t, ny = (long)batch * nq * d;
        float[] probs = new float[np + 2 * GuardLength], y = new float[ny + 2 * GuardLength];
        Array.Fill(probs, Guard);
        Array.Fill(y, Guard);
        var par = new CpuParallel(2);
        fixed (float* q = qkv, pp = probs, yp = y)
            CpuAttention.Forward(par, q, pp + GuardLength, yp + GuardLength, batch, t, nq, heads, dh, scale, keepProbs, path);
        AssertGuards(probs, GuardLength, "probs");
        AssertGuards(y, GuardLength, "y");
        return (probs.AsSpan(GuardLength, (int)np).ToArray(), y.AsSpan(GuardLength, (int)ny).ToArray());
    }

    private static void AssertGuards(float[] a, int guard, string what)
    {
        for (int i = 0; i < guard; i++)
        {
            Assert.True(a[i] == Guard, $"{what}: guard before the buffer overwritten at {i - guard}");
            Assert.True(a[a.Length - 1 - i] == Guard, $"{what}: guard after the buffer overwritten at +{guard - 1 - i}");
        }
    }

    private static double MaxAbs(double[] expected, float[] actual)
    {
        double m = 0;
        for (int i = 0; i < expected.Length; i++) m = Math.Max(m, Math.Abs(actual[i] - expected[i]));
        return m;
    }

    private static double RelativeL2(double[] expected, float[] actual)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = actual[i] - expected[i];
            num += e * e;
            den += expected[i] * expected[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>Float64 attention with the max-shifted softmax; also returns the largest |logit|.</summary>
    private static (double[] P, double[] Y, double MaxLogit) Ref(float[] qkv, int batch, int t, int heads, int dh, double scale)
    {
        int d = heads * dh, ld = 3 * d;
        var probs = new double[(long)batch * heads * t * t];
        var y = new double[(long)batch * t * d];
        var s = new double[t];
        double maxLogit = 0;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < t; i++)
                {
                    long qi = ((long)b * t + i) * ld + h * dh;
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < t; j++)
                    {
                        long kj = ((long)b * t + j) * ld + d + h * dh;
                        double dot = 0;
                        for (int c = 0; c < dh; c++) dot += (double)qkv[qi + c] * qkv[kj + c];
                        s[j] = dot * scale;
                        max = Math.Max(max, s[j]);
                        maxLogit = Math.Max(maxLogit, Math.Abs(s[j]));
                    }
                    for (int j = 0; j < t; j++) sum += s[j] = Math.Exp(s[j] - max);
                    long prow = (((long)b * heads + h) * t + i) * t, yrow = ((long)b * t + i) * d + h * dh;
                    for (int j = 0; j < t; j++)
                    {
                        double p = s[j] / sum;
                        probs[prow + j] = p;
                        long vj = ((long)b * t + j) * ld + 2 * d + h * dh;
                        for (int c = 0; c < dh; c++) y[yrow + c] += p * qkv[vj + c];
                    }
                }
        return (probs, y, maxLogit);
    }
}
