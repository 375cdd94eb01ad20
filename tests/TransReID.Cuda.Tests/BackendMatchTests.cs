using System;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;
using TransReID.Shapes;
using TransReID.TestShared;

namespace TransReID.Cuda.Tests;

/// <summary>A reference backend (the CPU) and a candidate, shared by all tests of one class.</summary>
public abstract class BackendPairFixture : IDisposable
{
    private readonly Lazy<IBackend> _reference = new(() => new CpuBackend());
    private readonly Lazy<(IBackend? Backend, string? SkipReason)> _candidate;

    protected BackendPairFixture()
    {
        _candidate = new Lazy<(IBackend?, string?)>(CreateCandidate);
    }

    public IBackend Reference => _reference.Value;

    /// <summary>The candidate backend, or a skip of the calling test with the reason it does not exist.</summary>
    public IBackend Candidate
    {
        get
        {
            (IBackend? backend, string? reason) = _candidate.Value;
            Assert.SkipWhen(backend == null, reason ?? "no candidate backend");
            return backend!;
        }
    }

    protected abstract (IBackend? Backend, string? SkipReason) CreateCandidate();

    public void Dispose()
    {
        if (_candidate.IsValueCreated) _candidate.Value.Backend?.Dispose();
        if (_reference.IsValueCreated) _reference.Value.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Every IBackend op, forward and backward, run on the candidate and on the CPU reference with the same seeded random
/// inputs; outputs (and accumulated gradients) must agree to 1e-5 relative. Shapes are small and deliberately odd
/// (not multiples of 32) so that edge handling is exercised; a few use more than 256 rows (multi-chunk reductions).
/// </summary>
public abstract class BackendMatchTests(BackendPairFixture pair)
{
    protected BackendPairFixture Pair { get; } = pair;

    protected Twin NewTwin() => new(Pair.Reference, Pair.Candidate);

    /// <summary>The bad-argument table shared with TransReID.Runtime.Tests (tests/Shared/BackendArgumentCases.cs).</summary>
    public static TheoryData<string> ArgumentCases => [.. BackendArgumentCases.Names];

    [Theory]
    [MemberData(nameof(ArgumentCases))]
    public void Both_backends_reject_a_bad_argument_with_the_same_exception_and_message(string name)
    {
        BackendArgumentCase c = BackendArgumentCases.Get(name);
        IBackend candidate = Pair.Candidate;
        Exception expected = BackendArgumentCases.Reject(Pair.Reference, c);
        Exception actual = BackendArgumentCases.Reject(candidate, c);
        Assert.Equal(WithoutAddresses(expected.Message), WithoutAddresses(actual.Message)); // the same words, other buffers
    }

    private static string WithoutAddresses(string message) => System.Text.RegularExpressions.Regex.Replace(message, "0x[0-9a-fA-F]+", "0x...");

    [Fact]
    public void Upload_download_zero_and_copy_round_trip()
    {
        using Twin t = NewTwin();
        float[] data = Twin.Normal(1, 1000);
        TwinBuffer a = t.Floats(data);
        TwinBuffer b = t.Zeros(1000);
        t.Run((be, p) =>
        {
            be.Copy(p(a) + 10, p(b) + 5, 900);
            be.Zero(p(a) + 100, 50);
        });
        (float[] ra, float[] ca) = t.Download(a);
        Assert.Equal(ra, ca);
        Assert.All(ca.Skip(100).Take(50), v => Assert.Equal(0f, v));
        Assert.Equal(data[..100], ca[..100]);
        (float[] rb, float[] cb) = t.Download(b);
        Assert.Equal(rb, cb);
        Assert.Equal(data[10..910], cb[5..905]);
        int[] ints = [.. Enumerable.Range(-50, 123)];
        TwinBuffer i = t.Ints(ints);
        (_, float[] ci) = t.Download(i);
        Assert.Equal(ints, ci.Select(BitConverter.SingleToInt32Bits));
        TwinBuffer fresh = t.Zeros(333);
        Assert.All(t.Download(fresh).Candidate, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear_forward(bool bias)
    {
        using Twin t = NewTwin();
        const int m = 37, k = 48, n = 29;
        TwinBuffer x = t.Floats(Twin.Normal(2, m * k)), w = t.Floats(Twin.Normal(3, n * k, 0.2f)), b = t.Floats(Twin.Normal(4, n));
        TwinBuffer y = t.Floats(Twin.Normal(5, m * n)); // garbage that must be overwritten
        t.Run((be, p) => be.Linear(p(x), p(w), bias ? p(b) : DevicePtr.Null, p(y), m, k, n));
        t.AssertClose(y, "y");
    }

    /// <summary>
    /// Linear on row-strided x and y (Embed's padded MLP hidden rows): x's padding is NaN (a backend that read it would
    /// put NaN into y) and y's padding holds values that must stay.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear_forward_on_strided_rows(bool bias)
    {
        using Twin t = NewTwin();
        const int m = 37, k = 48, n = 29, ldx = k + 16, ldy = n + 3;
        float[] xs = Twin.Normal(2, m * ldx);
        for (int i = 0; i < m; i++) Array.Fill(xs, float.NaN, i * ldx + k, ldx - k);
        TwinBuffer x = t.Floats(xs), w = t.Floats(Twin.Normal(3, n * k, 0.2f)), b = t.Floats(Twin.Normal(4, n));
        TwinBuffer y = t.Floats(Twin.Normal(5, m * ldy));
        t.Run((be, p) => be.Linear(p(x), ldx, p(w), bias ? p(b) : DevicePtr.Null, p(y), ldy, m, k, n));
        t.AssertClose(y, "y");
    }

    [Theory]
    [InlineData(false, true, true)]
    [InlineData(true, true, true)]
    [InlineData(false, false, true)]
    [InlineData(true, true, false)]
    public void Linear_backward(bool accumulateDx, bool withDb, bool withDx)
    {
        using Twin t = NewTwin();
        const int m = 300, k = 40, n = 23; // 300 rows: two row chunks in the bias reduction
        TwinBuffer dy = t.Floats(Twin.Normal(6, m * n)), x = t.Floats(Twin.Normal(7, m * k)), w = t.Floats(Twin.Normal(8, n * k, 0.3f));
        TwinBuffer dx = t.Floats(Twin.Normal(9, m * k)), dw = t.Floats(Twin.Normal(10, n * k)), db = t.Floats(Twin.Normal(11, n));
        t.Run((be, p) => be.LinearBackward(p(dy), p(x), p(w), withDx ? p(dx) : DevicePtr.Null, p(dw), withDb ? p(db) : DevicePtr.Null,
            m, k, n, accumulateDx));
        t.AssertClose(dx, "dx");
        t.AssertClose(dw, "dw");
        t.AssertClose(db, "db");
    }

    [Fact]
    public void PatchEmbed_forward_and_backward()
    {
        using Twin t = NewTwin();
        const int batch = 2, channels = 3, height = 20, width = 18, patch = 4, sy = 3, sx = 4, dim = 24;
        int gy = ShapeMath.GridSize(height, patch, sy), gx = ShapeMath.GridSize(width, patch, sx);
        int rows = batch * gy * gx, cpp = channels * patch * patch;
        TwinBuffer images = t.Floats(Twin.Normal(12, batch * channels * height * width));
        TwinBuffer cols = t.Zeros((long)rows * cpp), y = t.Zeros((long)rows * dim);
        TwinBuffer w = t.Floats(Twin.Normal(13, dim * cpp, 0.1f)), b = t.Floats(Twin.Normal(14, dim));
        t.Run((be, p) => be.PatchEmbed(p(images), p(cols), p(w), p(b), p(y), batch, channels, height, width, patch, sy, sx, gy, gx, dim));
        t.AssertClose(cols, "cols");
        t.AssertClose(y, "y");
        TwinBuffer dy = t.Floats(Twin.Normal(15, (long)rows * dim)), dw = t.Floats(Twin.Normal(16, dim * cpp)), db = t.Floats(Twin.Normal(17, dim));
        t.Run((be, p) => be.PatchEmbedBackward(p(dy), p(cols), p(dw), p(db), rows, cpp, dim));
        t.AssertClose(dw, "dw");
        t.AssertClose(db, "db");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TokenEmbed_forward_and_backward(bool withSie)
    {
        using Twin t = NewTwin();
        const int batch = 3, tokens = 11, dim = 40, sieRows = 4;
        const float coef = 3f;
        TwinBuffer patches = t.Floats(Twin.Normal(20, batch * (tokens - 1) * dim)), cls = t.Floats(Twin.Normal(21, dim));
        TwinBuffer pos = t.Floats(Twin.Normal(22, tokens * dim)), sie = t.Floats(Twin.Normal(23, sieRows * dim));
        TwinBuffer index = t.Ints([2, 0, 2]), x = t.Zeros((long)batch * tokens * dim);
        t.Run((be, p) => be.TokenEmbed(p(patches), p(cls), p(pos), withSie ? p(sie) : DevicePtr.Null, p(index), coef, p(x), batch, tokens, dim));
        t.AssertClose(x, "x");

        TwinBuffer dx = t.Floats(Twin.Normal(24, batch * tokens * dim)), dpatches = t.Floats(Twin.Normal(25, batch * (tokens - 1) * dim));
        TwinBuffer dcls = t.Floats(Twin.Normal(26, dim)), dpos = t.Floats(Twin.Normal(27, tokens * dim)), dsie = t.Floats(Twin.Normal(28, sieRows * dim));
        t.Run((be, p) => be.TokenEmbedBackward(p(dx), p(dpatches), p(dcls), p(dpos), withSie ? p(dsie) : DevicePtr.Null, p(index), coef,
            batch, tokens, dim));
        t.AssertClose(dpatches, "dpatches");
        t.AssertClose(dcls, "dcls");
        t.AssertClose(dpos, "dpos");
        t.AssertClose(dsie, "dsie");
    }

    [Theory]
    [InlineData(33, 64, false)]
    [InlineData(33, 100, false)]
    [InlineData(17, 768, false)]
    [InlineData(9, 50, true)]
    public void LayerNorm_forward(int rows, int dim, bool inPlace)
    {
        using Twin t = NewTwin();
        TwinBuffer x = t.Floats(Twin.Normal(30, (long)rows * dim, 2f, 0.5f)), gamma = t.Floats(Twin.Normal(31, dim, 0.5f, 1f));
        TwinBuffer beta = t.Floats(Twin.Normal(32, dim)), y = inPlace ? x : t.Zeros((long)rows * dim), mean = t.Zeros(rows), rstd = t.Zeros(rows);
        t.Run((be, p) => be.LayerNorm(p(x), p(gamma), p(beta), p(y), p(mean), p(rstd), rows, dim, 1e-6f));
        t.AssertClose(y, "y");
        t.AssertClose(mean, "mean");
        t.AssertClose(rstd, "rstd");
    }

    [Theory]
    [InlineData(33, 64, false)]
    [InlineData(600, 70, true)]
    [InlineData(20, 768, true)]
    public void LayerNorm_backward(int rows, int dim, bool accumulate)
    {
        using Twin t = NewTwin();
        TwinBuffer x = t.Floats(Twin.Normal(33, (long)rows * dim, 2f, 0.5f)), gamma = t.Floats(Twin.Normal(34, dim, 0.5f, 1f));
        TwinBuffer beta = t.Floats(Twin.Normal(35, dim)), y = t.Zeros((long)rows * dim), mean = t.Zeros(rows), rstd = t.Zeros(rows);
        t.Run((be, p) => be.LayerNorm(p(x), p(gamma), p(beta), p(y), p(mean), p(rstd), rows, dim, 1e-6f));
        TwinBuffer dy = t.Floats(Twin.Normal(36, (long)rows * dim)), dx = t.Floats(Twin.Normal(37, (long)rows * dim));
        TwinBuffer dgamma = t.Floats(Twin.Normal(38, dim)), dbeta = t.Floats(Twin.Normal(39, dim));
        t.Run((be, p) => be.LayerNormBackward(p(dy), p(x), p(gamma), p(mean), p(rstd), p(dx), p(dgamma), p(dbeta), rows, dim, accumulate));
        t.AssertClose(dx, "dx");
        t.AssertClose(dgamma, "dgamma");
        t.AssertClose(dbeta, "dbeta");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm_train_eval_and_backward(bool withBeta)
    {
        using Twin t = NewTwin();
        const int rows = 16, channels = 70;
        TwinBuffer x = t.Floats(Twin.Normal(40, rows * channels, 3f, 1f)), gamma = t.Floats(Twin.Normal(41, channels, 0.3f, 1f));
        TwinBuffer beta = t.Floats(Twin.Normal(42, channels)), y = t.Zeros(rows * channels), mean = t.Zeros(channels), rstd = t.Zeros(channels);
        TwinBuffer runningMean = t.Floats(Twin.Normal(43, channels)), runningVar = t.Floats(Twin.Uniform(44, channels, 0.5f, 2f));
        t.Run((be, p) => be.BatchNormTrain(p(x), p(gamma), withBeta ? p(beta) : DevicePtr.Null, p(y), p(mean), p(rstd), p(runningMean),
            p(runningVar), rows, channels, 1e-5f, 0.1f));
        t.AssertClose(y, "y (train)");
        t.AssertClose(mean, "mean");
        t.AssertClose(rstd, "rstd");
        t.AssertClose(runningMean, "running mean");
        t.AssertClose(runningVar, "running var");

        TwinBuffer ye = t.Zeros(rows * channels);
        t.Run((be, p) => be.BatchNormEval(p(x), p(gamma), withBeta ? p(beta) : DevicePtr.Null, p(runningMean), p(runningVar), p(ye), rows, channels, 1e-5f));
        t.AssertClose(ye, "y (eval)");

        TwinBuffer dy = t.Floats(Twin.Normal(45, rows * channels)), dx = t.Floats(Twin.Normal(46, rows * channels));
        TwinBuffer dgamma = t.Floats(Twin.Normal(47, channels)), dbeta = t.Floats(Twin.Normal(48, channels));
        t.Run((be, p) => be.BatchNormBackward(p(dy), p(x), p(gamma), p(mean), p(rstd), p(dx), p(dgamma), withBeta ? p(dbeta) : DevicePtr.Null,
            rows, channels, accumulateDx: withBeta));
        t.AssertClose(dx, "dx");
        t.AssertClose(dgamma, "dgamma");
        t.AssertClose(dbeta, "dbeta");

        TwinBuffer dxe = t.Floats(Twin.Normal(49, rows * channels)), dge = t.Floats(Twin.Normal(50, channels)), dbe = t.Floats(Twin.Normal(51, channels));
        t.Run((be, p) => be.BatchNormEvalBackward(p(dy), p(x), p(gamma), p(runningMean), p(runningVar), p(dxe), p(dge),
            withBeta ? p(dbe) : DevicePtr.Null, rows, channels, 1e-5f, accumulateDx: withBeta));
        t.AssertClose(dxe, "dx (eval)");
        t.AssertClose(dge, "dgamma (eval)");
        t.AssertClose(dbe, "dbeta (eval)");
    }

    [Theory]
    [InlineData(2, 7, 3, 8)]   // batch ≤ heads: a strided-batched GEMM per sample
    [InlineData(5, 9, 2, 4)]   // batch > heads: a strided-batched GEMM per head
    [InlineData(1, 40, 2, 16)] // more than 32 keys per row
    public void Attention_forward_and_backward(int batch, int tokens, int heads, int headDim)
    {
        using Twin t = NewTwin();
        int d = heads * headDim;
        float scale = 1f / MathF.Sqrt(headDim);
        TwinBuffer qkv = t.Floats(Twin.Normal(50, (long)batch * tokens * 3 * d));
        TwinBuffer probs = t.Zeros((long)batch * heads * tokens * tokens), y = t.Zeros((long)batch * tokens * d);
        t.Run((be, p) => be.Attention(p(qkv), p(probs), p(y), batch, tokens, heads, headDim, scale, keepProbs: true));
        t.AssertClose(probs, "probs");
        t.AssertClose(y, "y");
        TwinBuffer dy = t.Floats(Twin.Normal(51, (long)batch * tokens * d)), dqkv = t.Floats(Twin.Normal(52, (long)batch * tokens * 3 * d));
        TwinBuffer scratch = t.Zeros((long)batch * heads * tokens * tokens);
        t.Run((be, p) => be.AttentionBackward(p(dy), p(qkv), p(probs), p(dqkv), p(scratch), batch, tokens, heads, headDim, scale));
        t.AssertClose(dqkv, "dqkv");
    }

    [Theory]
    [InlineData(2, 7, 1, 3, 8)]   // batch ≤ heads, token 0 alone (the head blocks)
    [InlineData(5, 9, 1, 2, 4)]   // batch > heads
    [InlineData(1, 40, 3, 2, 16)] // a few query rows, more than 32 keys
    public void Attention_of_the_first_query_rows(int batch, int tokens, int queries, int heads, int headDim)
    {
        using Twin t = NewTwin();
        int d = heads * headDim;
        float scale = 1f / MathF.Sqrt(headDim);
        float[] values = Twin.Normal(53, (long)batch * tokens * 3 * d);
        // the Q rows past the first ones are NaN: reading any of them would show in y
        for (int b = 0; b < batch; b++)
            for (int i = queries; i < tokens; i++) Array.Fill(values, float.NaN, (b * tokens + i) * 3 * d, d);
        TwinBuffer qkv = t.Floats(values);
        TwinBuffer probs = t.Zeros((long)batch * heads * queries * tokens), y = t.Zeros((long)batch * queries * d);
        t.Run((be, p) => be.AttentionQueries(p(qkv), p(probs), p(y), batch, tokens, queries, heads, headDim, scale));
        Assert.DoesNotContain(t.Download(y).Candidate, float.IsNaN);
        t.AssertClose(y, "y");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gelu_forward_and_backward(bool inPlace)
    {
        using Twin t = NewTwin();
        const int n = 5000;
        float[] values = Twin.Normal(60, n, 3f);
        values[0] = -9f; values[1] = -5.5f; values[2] = 0f; values[3] = 7f; // tails and zero
        TwinBuffer x = t.Floats(values), xCopy = t.Floats(values), y = inPlace ? x : t.Zeros(n);
        t.Run((be, p) => be.Gelu(p(x), p(y), n));
        t.AssertClose(y, "gelu");
        TwinBuffer dy = t.Floats(Twin.Normal(61, n)), dx = inPlace ? dy : t.Zeros(n);
        t.Run((be, p) => be.GeluBackward(p(dy), p(xCopy), p(dx), n));
        t.AssertClose(dx, "gelu'");
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Residual_and_ScaleRows(bool withScale, bool inPlace)
    {
        using Twin t = NewTwin();
        const int batch = 3;
        const long row = 1000;
        TwinBuffer x = t.Floats(Twin.Normal(70, batch * row)), branch = t.Floats(Twin.Normal(71, batch * row));
        TwinBuffer scale = t.Floats([0f, 1f / 0.9f, 1f]), y = inPlace ? x : t.Zeros(batch * row);
        t.Run((be, p) => be.Residual(p(x), p(branch), withScale ? p(scale) : DevicePtr.Null, p(y), batch, row));
        t.AssertClose(y, "residual");
        TwinBuffer dst = inPlace ? branch : t.Zeros(batch * row);
        t.Run((be, p) => be.ScaleRows(p(branch), withScale ? p(scale) : DevicePtr.Null, p(dst), batch, row));
        t.AssertClose(dst, "scaled rows");
    }

    [Theory]
    [InlineData(false, 1f)]
    [InlineData(true, -0.25f)]
    public void CopyRows_strided(bool accumulate, float alpha)
    {
        using Twin t = NewTwin();
        const int rows = 13, rowLength = 50;
        const long srcStride = 77, dstStride = 64;
        TwinBuffer src = t.Floats(Twin.Normal(80, rows * srcStride)), dst = t.Floats(Twin.Normal(81, rows * dstStride));
        t.Run((be, p) => be.CopyRows(p(src) + 3, srcStride, p(dst) + 1, dstStride, rows, rowLength, alpha, accumulate));
        t.AssertClose(dst, "dst");
    }

    [Theory]
    [InlineData(12, 5, 2, 4, 3, true)]  // docs/model.md#jpm-index-examples (N = 12)
    [InlineData(21, 5, 2, 4, 5, true)]  // odd N: the duplicated token
    [InlineData(12, 0, 2, 4, 3, true)]  // shift 0 rolls by -1
    [InlineData(10, 5, 2, 3, 3, false)] // raster order
    public void JpmGather_forward_and_backward(int patchCount, int shift, int groups, int parts, int partLength, bool rearrange)
    {
        using Twin t = NewTwin();
        const int batch = 3, dim = 37;
        int tokens = patchCount + 1;
        TwinBuffer x = t.Floats(Twin.Normal(90, (long)batch * tokens * dim)), gathered = t.Zeros((long)parts * batch * (partLength + 1) * dim);
        t.Run((be, p) => be.JpmGather(p(x), p(gathered), batch, patchCount, dim, parts, partLength, shift, groups, rearrange));
        t.AssertClose(gathered, "parts", rtol: 0);
        TwinBuffer dparts = t.Floats(Twin.Normal(91, (long)parts * batch * (partLength + 1) * dim)), dx = t.Floats(Twin.Normal(92, (long)batch * tokens * dim));
        t.Run((be, p) => be.JpmGatherBackward(p(dparts), p(dx), batch, patchCount, dim, parts, partLength, shift, groups, rearrange));
        t.AssertClose(dx, "dx");
    }

    [Theory]
    [InlineData(128, 5, 2, 4)]
    [InlineData(210, 5, 2, 4)]
    [InlineData(441, 8, 2, 4)]
    [InlineData(210, 1, 3, 5)]
    [InlineData(12, 300, 2, 4)] // roll larger than N
    [InlineData(22, 5, 1, 4)]
    public void JpmGather_index_rule_matches_ShapeMath(int patchCount, int shift, int groups, int parts)
    {
        using Twin t = NewTwin();
        int partLength = ShapeMath.PartLength(patchCount, parts);
        float[] x = [.. Enumerable.Range(0, patchCount + 1).Select(i => (float)i)]; // token t holds t
        TwinBuffer tokens = t.Floats(x), gathered = t.Zeros((long)parts * (partLength + 1));
        t.Run((be, p) => be.JpmGather(p(tokens), p(gathered), 1, patchCount, 1, parts, partLength, shift, groups, true));
        (float[] r, float[] c) = t.Download(gathered);
        for (int k = 0; k < parts; k++)
        {
            Assert.Equal(0f, c[k * (partLength + 1)]);
            for (int i = 0; i < partLength; i++)
            {
                float expected = 1 + ShapeMath.JpmSource(k * partLength + i, patchCount, shift, groups, true);
                Assert.Equal(expected, r[k * (partLength + 1) + 1 + i]);
                Assert.Equal(expected, c[k * (partLength + 1) + 1 + i]);
            }
        }
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.1f, false)]
    [InlineData(0f, true)]
    public void CrossEntropy_loss_and_gradient(float smoothing, bool inPlace)
    {
        using Twin t = NewTwin();
        const int rows = 40, classes = 751;
        TwinBuffer logits = t.Floats(Twin.Normal(100, rows * classes, 2f)), labels = t.Ints([.. Enumerable.Range(0, rows).Select(i => (i * 97) % classes)]);
        TwinBuffer loss = t.Zeros(1), dlogits = inPlace ? logits : t.Zeros(rows * classes);
        t.Run((be, p) => be.CrossEntropy(p(logits), p(labels), p(loss), p(dlogits), rows, classes, smoothing, 0.5f));
        t.AssertClose(loss, "loss");
        t.AssertClose(dlogits, "dlogits");
    }

    [Theory]
    [InlineData(0f, false, false)]
    [InlineData(0f, true, true)]
    [InlineData(0.3f, false, true)]
    [InlineData(0.3f, true, false)]
    public void Triplet_loss_and_gradient(float margin, bool normalize, bool accumulate)
    {
        using Twin t = NewTwin();
        const int ids = 5, perId = 4, rows = ids * perId, dim = 48;
        float[] features = Twin.Normal(110, rows * dim);
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < dim; j++) features[i * dim + j] += 0.8f * MathF.Sin(i / perId * 1.7f + j); // same id: closer
        }

        TwinBuffer x = t.Floats(features), labels = t.Ints([.. Enumerable.Range(0, rows).Select(i => 100 + i / perId)]);
        TwinBuffer loss = t.Zeros(1), dx = t.Floats(Twin.Normal(111, rows * dim)), scratch = t.Zeros((long)rows * rows + 4 * rows);
        t.Run((be, p) => be.Triplet(p(x), p(labels), p(loss), p(dx), p(scratch), rows, dim, margin, normalize, 0.5f, accumulate));
        t.AssertClose(loss, "loss");
        t.AssertClose(dx, "dx");
    }

    [Theory]
    [InlineData(0.9f, true)]
    [InlineData(0.9f, false)]
    [InlineData(0f, false)]
    public void Sgd_step(float momentum, bool firstStep)
    {
        using Twin t = NewTwin();
        const int n = 3001;
        TwinBuffer param = t.Floats(Twin.Normal(120, n)), grad = t.Floats(Twin.Normal(121, n)), buf = t.Floats(Twin.Normal(122, n));
        t.Run((be, p) => be.SgdStep(p(param), p(grad), momentum == 0 ? DevicePtr.Null : p(buf), n, 0.01f, momentum, 1e-4f, firstStep));
        t.AssertClose(param, "param");
        t.AssertClose(buf, "momentum buffer");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void AdamW_step(int step)
    {
        using Twin t = NewTwin();
        const int n = 3001;
        TwinBuffer param = t.Floats(Twin.Normal(130, n)), grad = t.Floats(Twin.Normal(131, n));
        TwinBuffer m = t.Floats(Twin.Normal(132, n, 0.1f)), v = t.Floats(Twin.Uniform(133, n, 0f, 0.01f));
        t.Run((be, p) => be.AdamWStep(p(param), p(grad), p(m), p(v), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, step));
        t.AssertClose(param, "param");
        t.AssertClose(m, "m");
        t.AssertClose(v, "v");
    }
}
