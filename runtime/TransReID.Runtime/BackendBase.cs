using System;

namespace TransReID.Runtime;

/// <summary>
/// The part of every backend that does not depend on the device: each public op checks its arguments against the
/// op's contract in <see cref="BackendChecks"/> (the same check, and the same message, on every backend), skips
/// calls with nothing to do, calls <see cref="Enter"/>, then the op's protected core (<c>LinearCore</c>, …), which a
/// backend implements with valid arguments only. Values that live in backend memory (labels, SIE indices) are not
/// read by the checks: a CUDA backend could not read them without a synchronisation. The generated code uploads
/// SIE indices that <see cref="Model.InputValidation.SieIndices"/> has range-checked on the host.
/// </summary>
public abstract class BackendBase : IBackend
{
    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <summary>Runs after an op's checks passed and before its core (e.g. makes a device context current).</summary>
    protected virtual void Enter()
    {
    }

    // ---- memory -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public DeviceBuffer Allocate(long elements)
    {
        BackendChecks.Allocate(elements);
        Enter();
        return AllocateCore(elements);
    }

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, DevicePtr destination)
    {
        if (!BackendChecks.Transfer(source.Length, destination, nameof(destination), nameof(Upload))) return;
        Enter();
        UploadCore(source, destination);
    }

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<int> source, DevicePtr destination)
    {
        if (!BackendChecks.Transfer(source.Length, destination, nameof(destination), nameof(Upload))) return;
        Enter();
        UploadCore(source, destination);
    }

    /// <inheritdoc/>
    public void Download(DevicePtr source, Span<float> destination)
    {
        if (!BackendChecks.Transfer(destination.Length, source, nameof(source), nameof(Download))) return;
        Enter();
        DownloadCore(source, destination);
    }

    /// <inheritdoc/>
    public void Zero(DevicePtr destination, long elements)
    {
        if (!BackendChecks.Zero(destination, elements)) return;
        Enter();
        ZeroCore(destination, elements);
    }

    /// <inheritdoc/>
    public void Copy(DevicePtr source, DevicePtr destination, long elements)
    {
        if (!BackendChecks.Copy(source, destination, elements)) return;
        Enter();
        CopyCore(source, destination, elements);
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
        Enter();
        SynchronizeCore();
    }

    /// <inheritdoc/>
    public void DeclareConstantWeights(DevicePtr start, long elements, long version)
    {
        BackendChecks.DeclareConstantWeights(start, elements);
        Enter();
        DeclareConstantWeightsCore(start, elements, version);
    }

    /// <summary>Keeps nothing by default: a backend with derived weight forms overrides this.</summary>
    protected virtual void DeclareConstantWeightsCore(DevicePtr start, long elements, long version)
    {
    }

    // ---- dense layers -------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Linear(DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr y, int m, int k, int n) => Linear(x, k, w, b, y, n, m, k, n);

    /// <inheritdoc/>
    public void Linear(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n)
    {
        BackendChecks.Linear(x, ldx, w, b, y, ldy, m, k, n);
        Enter();
        LinearCore(x, ldx, w, b, y, ldy, m, k, n);
    }

    /// <inheritdoc/>
    public void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        BackendChecks.LinearBackward(dy, x, w, dx, dw, db, m, k, n, accumulateDx);
        Enter();
        LinearBackwardCore(dy, x, w, dx, dw, db, m, k, n, accumulateDx);
    }

    // ---- patch embedding ----------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        BackendChecks.PatchEmbed(images, cols, w, b, y, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
        Enter();
        PatchEmbedCore(images, cols, w, b, y, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
    }

    /// <inheritdoc/>
    public void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        BackendChecks.PatchEmbedBackward(dy, cols, dw, db, rows, colsPerRow, dim);
        Enter();
        PatchEmbedBackwardCore(dy, cols, dw, db, rows, colsPerRow, dim);
    }

    /// <inheritdoc/>
    public void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim)
    {
        BackendChecks.TokenEmbed(patches, cls, pos, sie, sieIndex, coef, x, batch, tokens, dim);
        Enter();
        TokenEmbedCore(patches, cls, pos, sie, sie.IsNull ? DevicePtr.Null : sieIndex, coef, x, batch, tokens, dim);
    }

    /// <inheritdoc/>
    public void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim)
    {
        BackendChecks.TokenEmbedBackward(dx, dpatches, dcls, dpos, dsie, sieIndex, coef, batch, tokens, dim);
        Enter();
        TokenEmbedBackwardCore(dx, dpatches, dcls, dpos, dsie, dsie.IsNull ? DevicePtr.Null : sieIndex, coef, batch, tokens, dim);
    }

    // ---- normalisation ------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        BackendChecks.LayerNorm(x, gamma, beta, y, mean, rstd, rows, dim, eps);
        Enter();
        LayerNormCore(x, gamma, beta, y, mean, rstd, rows, dim, eps);
    }

    /// <inheritdoc/>
    public void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        BackendChecks.LayerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim, accumulateDx);
        Enter();
        LayerNormBackwardCore(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim, accumulateDx);
    }

    /// <inheritdoc/>
    public void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        BackendChecks.BatchNormTrain(x, gamma, beta, y, mean, rstd, runningMean, runningVar, rows, channels, eps, momentum);
        Enter();
        BatchNormTrainCore(x, gamma, beta, y, mean, rstd, runningMean, runningVar, rows, channels, eps, momentum);
    }

    /// <inheritdoc/>
    public void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps)
    {
        BackendChecks.BatchNormEval(x, gamma, beta, runningMean, runningVar, y, rows, channels, eps);
        Enter();
        BatchNormEvalCore(x, gamma, beta, runningMean, runningVar, y, rows, channels, eps);
    }

    /// <inheritdoc/>
    public void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        BackendChecks.BatchNormEvalBackward(dy, x, gamma, runningMean, runningVar, dx, dgamma, dbeta, rows, channels, eps, accumulateDx);
        Enter();
        BatchNormEvalBackwardCore(dy, x, gamma, runningMean, runningVar, dx, dgamma, dbeta, rows, channels, eps, accumulateDx);
    }

    /// <inheritdoc/>
    public void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        BackendChecks.BatchNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, channels, accumulateDx);
        Enter();
        BatchNormBackwardCore(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, channels, accumulateDx);
    }

    // ---- attention and MLP --------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int heads, int headDim, float scale, bool keepProbs)
    {
        BackendChecks.Attention(qkv, probs, y, batch, tokens, tokens, heads, headDim, scale);
        Enter();
        AttentionCore(qkv, probs, y, batch, tokens, tokens, heads, headDim, scale, keepProbs);
    }

    /// <inheritdoc/>
    public void AttentionQueries(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim, float scale)
    {
        BackendChecks.Attention(qkv, probs, y, batch, tokens, queries, heads, headDim, scale, nameof(AttentionQueries));
        Enter();
        AttentionCore(qkv, probs, y, batch, tokens, queries, heads, headDim, scale, false);
    }

    /// <inheritdoc/>
    public void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale)
    {
        BackendChecks.AttentionBackward(dy, qkv, probs, dqkv, scratch, batch, tokens, heads, headDim, scale);
        Enter();
        AttentionBackwardCore(dy, qkv, probs, dqkv, scratch, batch, tokens, heads, headDim, scale);
    }

    /// <inheritdoc/>
    public void Gelu(DevicePtr x, DevicePtr y, long n)
    {
        if (!BackendChecks.Gelu(x, y, n)) return;
        Enter();
        GeluCore(x, y, n);
    }

    /// <inheritdoc/>
    public void GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        if (!BackendChecks.GeluBackward(dy, x, dx, n)) return;
        Enter();
        GeluBackwardCore(dy, x, dx, n);
    }

    // ---- elementwise and data movement --------------------------------------------------------------------

    /// <inheritdoc/>
    public void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        BackendChecks.Residual(x, branch, scale, y, batch, rowLength);
        Enter();
        ResidualCore(x, branch, scale, y, batch, rowLength);
    }

    /// <inheritdoc/>
    public void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        BackendChecks.ScaleRows(src, scale, dst, batch, rowLength);
        Enter();
        ScaleRowsCore(src, scale, dst, batch, rowLength);
    }

    /// <inheritdoc/>
    public void CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        if (!BackendChecks.CopyRows(src, srcStride, dst, dstStride, rows, rowLength, alpha, accumulate)) return;
        Enter();
        CopyRowsCore(src, srcStride, dst, dstStride, rows, rowLength, alpha, accumulate);
    }

    /// <inheritdoc/>
    public void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        BackendChecks.JpmGather(x, parts, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        Enter();
        JpmGatherCore(x, parts, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    /// <inheritdoc/>
    public void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        BackendChecks.JpmGatherBackward(dparts, dx, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        Enter();
        JpmGatherBackwardCore(dparts, dx, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    // ---- losses -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale)
    {
        BackendChecks.CrossEntropy(logits, labels, loss, dlogits, rows, classes, smoothing, gradScale);
        Enter();
        CrossEntropyCore(logits, labels, loss, dlogits, rows, classes, smoothing, gradScale);
    }

    /// <inheritdoc/>
    public void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        BackendChecks.Triplet(x, labels, loss, dx, scratch, rows, dim, margin, normalize, gradScale, accumulateDx);
        Enter();
        TripletCore(x, labels, loss, dx, scratch, rows, dim, margin, normalize, gradScale, accumulateDx);
    }

    // ---- optimiser ----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        if (!BackendChecks.SgdStep(param, grad, momentumBuffer, n, lr, momentum, weightDecay, firstStep)) return;
        Enter();
        SgdStepCore(param, grad, momentum == 0 ? DevicePtr.Null : momentumBuffer, n, lr, momentum, weightDecay, firstStep);
    }

    /// <inheritdoc/>
    public void AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step)
    {
        if (!BackendChecks.AdamWStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step)) return;
        Enter();
        AdamWStepCore(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
    }

    // ---- lifetime -----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the backend's resources (<paramref name="disposing"/>: called from <see cref="Dispose()"/>).</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    // ---- the cores: arguments already checked, the call not empty ------------------------------------------

#pragma warning disable CS1591 // each core is the op of the same name without the checks
    protected abstract DeviceBuffer AllocateCore(long elements);
    protected abstract void UploadCore(ReadOnlySpan<float> source, DevicePtr destination);
    protected abstract void UploadCore(ReadOnlySpan<int> source, DevicePtr destination);
    protected abstract void DownloadCore(DevicePtr source, Span<float> destination);
    protected abstract void ZeroCore(DevicePtr destination, long elements);
    protected abstract void CopyCore(DevicePtr source, DevicePtr destination, long elements);
    protected abstract void SynchronizeCore();
    protected abstract void LinearCore(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n);
    protected abstract void LinearBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx);
    protected abstract void PatchEmbedCore(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim);
    protected abstract void PatchEmbedBackwardCore(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim);

    /// <summary>The op without checks; <paramref name="sieIndex"/> is null when <paramref name="sie"/> is.</summary>
    protected abstract void TokenEmbedCore(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim);

    /// <summary>The op without checks; <paramref name="sieIndex"/> is null when <paramref name="dsie"/> is.</summary>
    protected abstract void TokenEmbedBackwardCore(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim);

    protected abstract void LayerNormCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps);
    protected abstract void LayerNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx);
    protected abstract void BatchNormTrainCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum);
    protected abstract void BatchNormEvalCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps);
    protected abstract void BatchNormEvalBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx);
    protected abstract void BatchNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx);
    /// <summary>The attention of the first <paramref name="queries"/> (≤ tokens) query rows of each sample: probs [B,H,queries,T], y [B,queries,D].</summary>
    protected abstract void AttentionCore(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim,
        float scale, bool keepProbs);
    protected abstract void AttentionBackwardCore(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale);
    protected abstract void GeluCore(DevicePtr x, DevicePtr y, long n);
    protected abstract void GeluBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr dx, long n);
    protected abstract void ResidualCore(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength);
    protected abstract void ScaleRowsCore(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength);
    protected abstract void CopyRowsCore(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate);
    protected abstract void JpmGatherCore(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange);
    protected abstract void JpmGatherBackwardCore(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange);
    protected abstract void CrossEntropyCore(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale);
    protected abstract void TripletCore(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx);

    /// <summary>The op without checks; <paramref name="momentumBuffer"/> is null when <paramref name="momentum"/> is 0.</summary>
    protected abstract void SgdStepCore(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep);

    protected abstract void AdamWStepCore(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step);
#pragma warning restore CS1591
}
