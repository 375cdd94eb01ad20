using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// The CPU backend: host memory, managed SIMD (TensorPrimitives and System.Numerics vectors), <see cref="CpuGemm"/>
/// for every matrix product, row loops spread over <see cref="CpuParallel"/>. Calls run synchronously on the calling
/// thread (helpers join in), so <see cref="Synchronize"/> has nothing to wait for. The op families live in
/// <c>Cpu/*.cs</c>, forward and backward side by side; this class dispatches to them (<see cref="BackendBase"/> checks the
/// arguments).
/// </summary>
public sealed unsafe class CpuBackend : BackendBase
{
    private readonly CpuParallel _par;
    private readonly ConstantWeights _constants = new();

    /// <summary>Creates the backend; <paramref name="threads"/> defaults to <see cref="Environment.ProcessorCount"/>.</summary>
    public CpuBackend(int? threads = null)
    {
        int t = threads ?? Environment.ProcessorCount;
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(threads), t, "CpuBackend needs at least one thread.");
        _par = new CpuParallel(t);
    }

    /// <inheritdoc/>
    public override string Name => $"CPU ({_par.Threads} thread{(_par.Threads == 1 ? "" : "s")}, {Isa()}, {Gemm()})";

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
    protected override DeviceBuffer AllocateCore(long elements) => new CpuBuffer(elements);

    /// <inheritdoc/>
    protected override void UploadCore(ReadOnlySpan<float> source, DevicePtr destination) => source.CopyTo(new Span<float>(destination.F, source.Length));

    /// <inheritdoc/>
    protected override void UploadCore(ReadOnlySpan<int> source, DevicePtr destination) => source.CopyTo(new Span<int>(destination.I, source.Length));

    /// <inheritdoc/>
    protected override void DownloadCore(DevicePtr source, Span<float> destination) =>
        new ReadOnlySpan<float>(source.F, destination.Length).CopyTo(destination);

    /// <inheritdoc/>
    protected override void ZeroCore(DevicePtr destination, long elements) => CpuElementwise.Zero(_par, destination.F, elements);

    /// <inheritdoc/>
    protected override void CopyCore(DevicePtr source, DevicePtr destination, long elements) =>
        CpuElementwise.Copy(_par, source.F, destination.F, elements);

    /// <summary>Nothing to wait for: every call has finished when it returns.</summary>
    protected override void SynchronizeCore()
    {
    }

    // ---- dense layers -------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void LinearCore(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n)
    {
        if (_constants.Find(w.F, n, k, _par) is { } packed) PackedGemm.Linear(_par, x.F, ldx, m, packed, b.F, y.F, ldy);
        else CpuLinear.Forward(_par, x.F, ldx, w.F, b.F, y.F, ldy, m, k, n);
    }

    /// <summary>Linear weights inside a declared range are packed once (on first use) and reused while it stays declared.</summary>
    protected override void DeclareConstantWeightsCore(DevicePtr start, long elements, long version) =>
        _constants.Declare(start.F, elements, version);

    /// <summary>Frees the packed constant weights.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _constants.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Floats held by packed constant weights (for tests and memory reports).</summary>
    internal long PackedWeightFloats => _constants.Floats;

    /// <inheritdoc/>
    protected override void LinearBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx) =>
        CpuLinear.Backward(_par, dy.F, x.F, w.F, dx.F, dw.F, db.F, m, k, n, accumulateDx);

    // ---- patch embedding ----------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void PatchEmbedCore(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim) =>
        CpuPatchEmbed.Forward(_par, images.F, cols.F, w.F, b.F, y.F, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim,
            _constants.Find(w.F, dim, channels * patch * patch, _par));

    /// <inheritdoc/>
    protected override void PatchEmbedBackwardCore(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim) =>
        CpuPatchEmbed.Backward(_par, dy.F, cols.F, dw.F, db.F, rows, colsPerRow, dim);

    /// <inheritdoc/>
    protected override void TokenEmbedCore(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim) =>
        CpuTokens.Forward(_par, patches.F, cls.F, pos.F, sie.F, sieIndex.I, coef, x.F, batch, tokens, dim);

    /// <inheritdoc/>
    protected override void TokenEmbedBackwardCore(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim) =>
        CpuTokens.Backward(_par, dx.F, dpatches.F, dcls.F, dpos.F, dsie.F, sieIndex.I, coef, batch, tokens, dim);

    // ---- normalisation ------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void LayerNormCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps) =>
        CpuLayerNorm.Forward(_par, x.F, gamma.F, beta.F, y.F, mean.F, rstd.F, rows, dim, eps);

    /// <inheritdoc/>
    protected override void LayerNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx) =>
        CpuLayerNorm.Backward(_par, dy.F, x.F, gamma.F, mean.F, rstd.F, dx.F, dgamma.F, dbeta.F, rows, dim, accumulateDx);

    /// <inheritdoc/>
    protected override void BatchNormTrainCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum) =>
        CpuBatchNorm.Train(_par, x.F, gamma.F, beta.F, y.F, mean.F, rstd.F, runningMean.F, runningVar.F, rows, channels, eps, momentum);

    /// <inheritdoc/>
    protected override void BatchNormEvalCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps) =>
        CpuBatchNorm.Eval(_par, x.F, gamma.F, beta.F, runningMean.F, runningVar.F, y.F, rows, channels, eps);

    /// <inheritdoc/>
    protected override void BatchNormEvalBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx) =>
        CpuBatchNorm.EvalBackward(dy.F, x.F, gamma.F, runningMean.F, runningVar.F, dx.F, dgamma.F, dbeta.F, rows, channels, eps, accumulateDx);

    /// <inheritdoc/>
    protected override void BatchNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx) =>
        CpuBatchNorm.Backward(_par, dy.F, x.F, gamma.F, mean.F, rstd.F, dx.F, dgamma.F, dbeta.F, rows, channels, accumulateDx);

    // ---- attention and MLP --------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void AttentionCore(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim,
        float scale, bool keepProbs) =>
        CpuAttention.Forward(_par, qkv.F, probs.F, y.F, batch, tokens, queries, heads, headDim, scale, keepProbs, CpuAttention.DefaultPath);

    /// <inheritdoc/>
    protected override void AttentionBackwardCore(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale) =>
        CpuAttention.Backward(_par, dy.F, qkv.F, probs.F, dqkv.F, scratch.F, batch, tokens, heads, headDim, scale);

    /// <inheritdoc/>
    protected override void GeluCore(DevicePtr x, DevicePtr y, long n) => CpuGelu.Forward(_par, x.F, y.F, n);

    /// <inheritdoc/>
    protected override void GeluBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr dx, long n) => CpuGelu.Backward(_par, dy.F, x.F, dx.F, n);

    // ---- elementwise and data movement --------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void ResidualCore(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength) =>
        CpuElementwise.Residual(_par, x.F, branch.F, scale.F, y.F, batch, rowLength);

    /// <inheritdoc/>
    protected override void ScaleRowsCore(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength) =>
        CpuElementwise.ScaleRows(_par, src.F, scale.F, dst.F, batch, rowLength);

    /// <inheritdoc/>
    protected override void CopyRowsCore(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate) =>
        CpuElementwise.CopyRows(_par, src.F, srcStride, dst.F, dstStride, rows, rowLength, alpha, accumulate);

    /// <inheritdoc/>
    protected override void JpmGatherCore(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange) =>
        CpuJpm.Gather(_par, x.F, parts.F, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);

    /// <inheritdoc/>
    protected override void JpmGatherBackwardCore(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange) =>
        CpuJpm.Scatter(_par, dparts.F, dx.F, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);

    // ---- losses -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void CrossEntropyCore(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale) =>
        CpuCrossEntropy.Forward(_par, logits.F, labels.I, loss.F, dlogits.F, rows, classes, smoothing, gradScale);

    /// <inheritdoc/>
    protected override void TripletCore(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx) =>
        CpuTriplet.Forward(_par, x.F, labels.I, loss.F, dx.F, scratch.F, rows, dim, margin, normalize, gradScale, accumulateDx);

    // ---- optimiser ----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void SgdStepCore(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep) =>
        CpuOptimizers.Sgd(_par, param.F, grad.F, momentumBuffer.F, n, lr, momentum, weightDecay, firstStep);

    /// <inheritdoc/>
    protected override void AdamWStepCore(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step) =>
        CpuOptimizers.AdamW(_par, param.F, grad.F, m.F, v.F, n, lr, beta1, beta2, eps, weightDecay, step);
}
