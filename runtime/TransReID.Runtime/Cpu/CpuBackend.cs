using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using TransReID.Shapes;
using static TransReID.Runtime.BackendChecks;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// The CPU backend: host memory, managed SIMD (TensorPrimitives and System.Numerics vectors), <see cref="CpuGemm"/>
/// for every matrix product, row loops spread over <see cref="CpuParallel"/>. Calls run synchronously on the calling
/// thread (helpers join in), so <see cref="Synchronize"/> has nothing to wait for. The op families live in
/// <c>Cpu/*.cs</c>, forward and backward side by side; this class checks arguments and dispatches.
/// </summary>
public sealed unsafe class CpuBackend : IBackend
{
    private readonly CpuParallel _par;

    /// <summary>Creates the backend; <paramref name="threads"/> defaults to <see cref="Environment.ProcessorCount"/>.</summary>
    public CpuBackend(int? threads = null)
    {
        int t = threads ?? Environment.ProcessorCount;
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(threads), t, "CpuBackend needs at least one thread.");
        _par = new CpuParallel(t);
    }

    /// <inheritdoc/>
    public string Name => $"CPU ({_par.Threads} thread{(_par.Threads == 1 ? "" : "s")}, {Isa()}, {Gemm()})";

    private static string Gemm()
    {
        try
        {
            return CpuGemm.Provider == GemmProvider.OpenBlas ? "OpenBLAS" : "managed GEMM";
        }
        catch (InvalidOperationException e)
        {
            return $"GEMM misconfigured: {e.Message}";
        }
    }

    /// <summary>Threads one op uses (the calling thread included).</summary>
    public int Threads => _par.Threads;

    private static string Isa() =>
        Vector512.IsHardwareAccelerated ? "AVX-512"
        : Avx2.IsSupported ? "AVX2"
        : AdvSimd.IsSupported ? "NEON"
        : Vector128.IsHardwareAccelerated ? "SIMD-128" : "scalar";

    // ---- memory -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public DeviceBuffer Allocate(long elements) => new CpuBuffer(elements);

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, DevicePtr destination)
    {
        if (source.IsEmpty) return;
        NotNull(destination, nameof(destination), nameof(Upload));
        source.CopyTo(new Span<float>(destination.F, source.Length));
    }

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<int> source, DevicePtr destination)
    {
        if (source.IsEmpty) return;
        NotNull(destination, nameof(destination), nameof(Upload));
        source.CopyTo(new Span<int>(destination.I, source.Length));
    }

    /// <inheritdoc/>
    public void Download(DevicePtr source, Span<float> destination)
    {
        if (destination.IsEmpty) return;
        NotNull(source, nameof(source), nameof(Download));
        new ReadOnlySpan<float>(source.F, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Zero(DevicePtr destination, long elements)
    {
        NonNegative(elements, nameof(elements), nameof(Zero));
        if (elements == 0) return;
        NotNull(destination, nameof(destination), nameof(Zero));
        CpuElementwise.Zero(_par, destination.F, elements);
    }

    /// <inheritdoc/>
    public void Copy(DevicePtr source, DevicePtr destination, long elements)
    {
        NonNegative(elements, nameof(elements), nameof(Copy));
        if (elements == 0) return;
        NotNull(source, nameof(source), nameof(Copy));
        NotNull(destination, nameof(destination), nameof(Copy));
        CpuElementwise.Copy(_par, source.F, destination.F, elements);
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
    }

    // ---- dense layers -------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Linear(DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr y, int m, int k, int n)
    {
        BackendChecks.Linear(x, w, b, y, m, k, n);
        CpuLinear.Forward(_par, x.F, w.F, b.F, y.F, m, k, n);
    }

    /// <inheritdoc/>
    public void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        BackendChecks.LinearBackward(dy, x, w, dx, dw, db, m, k, n, accumulateDx);
        CpuLinear.Backward(_par, dy.F, x.F, w.F, dx.F, dw.F, db.F, m, k, n, accumulateDx);
    }

    // ---- patch embedding ----------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        BackendChecks.PatchEmbed(images, cols, w, b, y, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
        CpuPatchEmbed.Forward(_par, images.F, cols.F, w.F, b.F, y.F, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
    }

    /// <inheritdoc/>
    public void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        BackendChecks.PatchEmbedBackward(dy, cols, dw, db, rows, colsPerRow, dim);
        CpuPatchEmbed.Backward(_par, dy.F, cols.F, dw.F, db.F, rows, colsPerRow, dim);
    }

    /// <inheritdoc/>
    public void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim)
    {
        const string op = nameof(TokenEmbed);
        Positive(batch, nameof(batch), op); Positive(dim, nameof(dim), op);
        if (tokens < 2) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"{op}: tokens (N + 1) must be at least 2.");
        NotNull(patches, nameof(patches), op); NotNull(cls, nameof(cls), op); NotNull(pos, nameof(pos), op); NotNull(x, nameof(x), op);
        if (!sie.IsNull) CheckSieIndex(sieIndex, batch, op);
        long xBytes = (long)batch * tokens * dim * 4, pBytes = (long)batch * (tokens - 1) * dim * 4;
        if (patches.Address < x.Address + xBytes && x.Address < patches.Address + pBytes)
            throw new ArgumentException($"{op}: patches ({patches}) and x ({x}) overlap; the token embedding is not in place.");
        CpuTokens.Forward(_par, patches.F, cls.F, pos.F, sie.F, sie.IsNull ? null : sieIndex.I, coef, x.F, batch, tokens, dim);
    }

    /// <inheritdoc/>
    public void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim)
    {
        const string op = nameof(TokenEmbedBackward);
        Positive(batch, nameof(batch), op); Positive(dim, nameof(dim), op);
        if (tokens < 2) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"{op}: tokens (N + 1) must be at least 2.");
        NotNull(dx, nameof(dx), op);
        if (!dsie.IsNull) CheckSieIndex(sieIndex, batch, op);
        CpuTokens.Backward(_par, dx.F, dpatches.F, dcls.F, dpos.F, dsie.F, dsie.IsNull ? null : sieIndex.I, coef, batch, tokens, dim);
    }

    // ---- normalisation ------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        BackendChecks.LayerNorm(x, gamma, beta, y, mean, rstd, rows, dim, eps);
        CpuLayerNorm.Forward(_par, x.F, gamma.F, beta.F, y.F, mean.F, rstd.F, rows, dim, eps);
    }

    /// <inheritdoc/>
    public void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        BackendChecks.LayerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim, accumulateDx);
        CpuLayerNorm.Backward(_par, dy.F, x.F, gamma.F, mean.F, rstd.F, dx.F, dgamma.F, dbeta.F, rows, dim, accumulateDx);
    }

    /// <inheritdoc/>
    public void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        BackendChecks.BatchNormTrain(x, gamma, beta, y, mean, rstd, runningMean, runningVar, rows, channels, eps, momentum);
        CpuBatchNorm.Train(_par, x.F, gamma.F, beta.F, y.F, mean.F, rstd.F, runningMean.F, runningVar.F, rows, channels, eps, momentum);
    }

    /// <inheritdoc/>
    public void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps)
    {
        BackendChecks.BatchNormEval(x, gamma, beta, runningMean, runningVar, y, rows, channels, eps);
        CpuBatchNorm.Eval(_par, x.F, gamma.F, beta.F, runningMean.F, runningVar.F, y.F, rows, channels, eps);
    }

    /// <inheritdoc/>
    public void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        BackendChecks.BatchNormEvalBackward(dy, x, gamma, runningMean, runningVar, dx, dgamma, dbeta, rows, channels, eps, accumulateDx);
        CpuBatchNorm.EvalBackward(dy.F, x.F, gamma.F, runningMean.F, runningVar.F, dx.F, dgamma.F, dbeta.F, rows, channels, eps, accumulateDx);
    }

    /// <inheritdoc/>
    public void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        BackendChecks.BatchNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, channels, accumulateDx);
        CpuBatchNorm.Backward(_par, dy.F, x.F, gamma.F, mean.F, rstd.F, dx.F, dgamma.F, dbeta.F, rows, channels, accumulateDx);
    }

    // ---- attention and MLP --------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int heads, int headDim, float scale)
    {
        BackendChecks.Attention(qkv, probs, y, batch, tokens, heads, headDim, scale);
        CpuAttention.Forward(_par, qkv.F, probs.F, y.F, batch, tokens, heads, headDim, scale);
    }

    /// <inheritdoc/>
    public void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale)
    {
        BackendChecks.AttentionBackward(dy, qkv, probs, dqkv, scratch, batch, tokens, heads, headDim, scale);
        CpuAttention.Backward(_par, dy.F, qkv.F, probs.F, dqkv.F, scratch.F, batch, tokens, heads, headDim, scale);
    }

    /// <inheritdoc/>
    public void Gelu(DevicePtr x, DevicePtr y, long n)
    {
        NonNegative(n, nameof(n), nameof(Gelu));
        if (n == 0) return;
        NotNull(x, nameof(x), nameof(Gelu)); NotNull(y, nameof(y), nameof(Gelu));
        CpuGelu.Forward(_par, x.F, y.F, n);
    }

    /// <inheritdoc/>
    public void GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        BackendChecks.GeluBackward(dy, x, dx, n);
        CpuGelu.Backward(_par, dy.F, x.F, dx.F, n);
    }

    // ---- elementwise and data movement --------------------------------------------------------------------

    /// <inheritdoc/>
    public void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        BackendChecks.Residual(x, branch, scale, y, batch, rowLength);
        CpuElementwise.Residual(_par, x.F, branch.F, scale.F, y.F, batch, rowLength);
    }

    /// <inheritdoc/>
    public void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        const string op = nameof(ScaleRows);
        Positive(batch, nameof(batch), op); Positive(rowLength, nameof(rowLength), op);
        NotNull(src, nameof(src), op); NotNull(dst, nameof(dst), op);
        CpuElementwise.ScaleRows(_par, src.F, scale.F, dst.F, batch, rowLength);
    }

    /// <inheritdoc/>
    public void CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        BackendChecks.CopyRows(src, srcStride, dst, dstStride, rows, rowLength, alpha, accumulate);
        CpuElementwise.CopyRows(_par, src.F, srcStride, dst.F, dstStride, rows, rowLength, alpha, accumulate);
    }

    /// <inheritdoc/>
    public void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        BackendChecks.JpmGather(x, parts, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        CpuJpm.Gather(_par, x.F, parts.F, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    /// <inheritdoc/>
    public void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        BackendChecks.JpmGatherBackward(dparts, dx, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        CpuJpm.Scatter(_par, dparts.F, dx.F, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    // ---- losses -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale)
    {
        BackendChecks.CrossEntropy(logits, labels, loss, dlogits, rows, classes, smoothing, gradScale);
        CpuCrossEntropy.Forward(_par, logits.F, labels.I, loss.F, dlogits.F, rows, classes, smoothing, gradScale);
    }

    /// <inheritdoc/>
    public void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        const string op = nameof(Triplet);
        Positive(rows, nameof(rows), op); Positive(dim, nameof(dim), op);
        NotNull(x, nameof(x), op); NotNull(labels, nameof(labels), op); NotNull(loss, nameof(loss), op); NotNull(dx, nameof(dx), op);
        NotNull(scratch, nameof(scratch), op);
        CpuTriplet.Forward(_par, x.F, labels.I, loss.F, dx.F, scratch.F, rows, dim, margin, normalize, gradScale, accumulateDx);
    }

    // ---- optimiser ----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        BackendChecks.SgdStep(param, grad, momentumBuffer, n, lr, momentum, weightDecay, firstStep);
        CpuOptimizers.Sgd(_par, param.F, grad.F, momentumBuffer.F, n, lr, momentum, weightDecay, firstStep);
    }

    /// <inheritdoc/>
    public void AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step)
    {
        BackendChecks.AdamWStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
        CpuOptimizers.AdamW(_par, param.F, grad.F, m.F, v.F, n, lr, beta1, beta2, eps, weightDecay, step);
    }

    /// <summary>Nothing to release: buffers are owned by their <see cref="DeviceBuffer"/> objects.</summary>
    public void Dispose()
    {
    }

    // ---- argument checks ----------------------------------------------------------------------------------

    private static void CheckSieIndex(DevicePtr sieIndex, int batch, string op)
    {
        NotNull(sieIndex, nameof(sieIndex), op);
        for (int b = 0; b < batch; b++)
        {
            int i = sieIndex.I[b];
            if (i < 0) throw new ArgumentOutOfRangeException(nameof(sieIndex), i, $"{op}: sieIndex[{b}] is {i}, a negative SIE row.");
        }
    }
}
