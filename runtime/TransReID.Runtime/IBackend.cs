using System;

namespace TransReID.Runtime;

/// <summary>
/// The operations a generated TransReID model is made of, forward and backward side by side. All tensors are
/// row-major float32 (int32 where named) at <see cref="DevicePtr"/> addresses in the backend's memory; every size is
/// an argument, so generated code calls these with constants. Conventions:
/// <list type="bullet">
/// <item>Parameter gradients (<c>dw</c>, <c>db</c>, <c>dgamma</c>, …) are always accumulated (+=).</item>
/// <item>Activation gradients (<c>dx</c>) are overwritten unless an <c>accumulate</c> argument says otherwise.</item>
/// <item><see cref="DevicePtr.Null"/> means "absent" where a parameter says it may be null.</item>
/// <item>Calls are ordered (a stream on CUDA); <see cref="Synchronize"/> waits for them.</item>
/// </list>
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Human-readable device name, e.g. "CPU (2 threads, AVX-512, OpenBLAS)".</summary>
    string Name { get; }

    // ---- memory -------------------------------------------------------------------------------------------

    /// <summary>Allocates <paramref name="elements"/> zeroed 4-byte elements, 64-byte aligned.</summary>
    DeviceBuffer Allocate(long elements);

    /// <summary>Copies host floats to the backend.</summary>
    void Upload(ReadOnlySpan<float> source, DevicePtr destination);

    /// <summary>Copies host ints to the backend.</summary>
    void Upload(ReadOnlySpan<int> source, DevicePtr destination);

    /// <summary>Copies backend floats to the host.</summary>
    void Download(DevicePtr source, Span<float> destination);

    /// <summary>Sets <paramref name="elements"/> elements to zero.</summary>
    void Zero(DevicePtr destination, long elements);

    /// <summary>Copies <paramref name="elements"/> elements (non-overlapping).</summary>
    void Copy(DevicePtr source, DevicePtr destination, long elements);

    /// <summary>Waits until every queued call has finished.</summary>
    void Synchronize();

    /// <summary>
    /// Declares [<paramref name="start"/>, start + <paramref name="elements"/>) as weights that stay unchanged for as
    /// long as <paramref name="version"/> does, until the next call; <paramref name="elements"/> = 0 ends the
    /// declaration. While a range is declared a backend may compute derived forms of the weights in it once and reuse
    /// them in later calls with the same start, length and version (the CPU backend keeps each Linear weight packed for
    /// its GEMM kernel; CUDA ignores it). The caller must not write into a declared range without ending the
    /// declaration or declaring a new version. The generated <c>Embed</c> declares the parameters for its duration.
    /// </summary>
    void DeclareConstantWeights(DevicePtr start, long elements, long version);

    // ---- dense layers -------------------------------------------------------------------------------------

    /// <summary>y[M,N] = x[M,K] · w[N,K]ᵀ + b[N] (b may be null). PyTorch <c>nn.Linear</c>.</summary>
    void Linear(DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr y, int m, int k, int n);

    /// <summary>
    /// <see cref="Linear(DevicePtr, DevicePtr, DevicePtr, DevicePtr, int, int, int)"/> on row-strided x and y: row i of x
    /// starts at x + i·<paramref name="ldx"/> (ldx ≥ K) and row i of y at y + i·<paramref name="ldy"/> (ldy ≥ N). The
    /// columns past K of x are not read and those past N of y are not written. Embed pads the MLP hidden rows this way
    /// so that the CPU's row-major kernels read them in place (docs/benchmarks.md).
    /// </summary>
    void Linear(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n);

    /// <summary>
    /// Backward of <see cref="Linear"/>: dx[M,K] = dy·w (overwritten, or added when <paramref name="accumulateDx"/>;
    /// skipped when dx is null), dw[N,K] += dyᵀ·x, db[N] += Σ_rows dy (skipped when db is null).
    /// </summary>
    void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx);

    // ---- patch embedding ----------------------------------------------------------------------------------

    /// <summary>
    /// Overlapping patch embedding (Conv2d C→D, kernel P, stride (sy, sx), no padding, with bias) as im2col + GEMM.
    /// images[B,C,H,W] → cols[B·gy·gx, C·P·P] (kept for backward) → y[B, gy·gx, D] (patch p = py·gx + px).
    /// w is the conv weight [D,C,P,P] seen as [D, C·P·P].
    /// </summary>
    void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim);

    /// <summary>Backward of <see cref="PatchEmbed"/> for the weights only (images need no gradient): dw += dyᵀ·cols, db += Σ dy.</summary>
    void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim);

    /// <summary>
    /// x[B,T,D] with T = N + 1: x[b,0] = cls + pos[0]; x[b,1+p] = patches[b,p] + pos[1+p]; then every token of
    /// sample b gets + coef · sie[sieIndex[b]] when sie is not null (sieIndex: int32[B]).
    /// </summary>
    void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim);

    /// <summary>
    /// Backward of <see cref="TokenEmbed"/>: dpatches[B,N,D] = dx[:,1:] (overwritten); dcls += Σ_b dx[b,0];
    /// dpos[t] += Σ_b dx[b,t]; dsie[sieIndex[b]] += coef · Σ_t dx[b,t] (when sie is used).
    /// </summary>
    void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim);

    // ---- normalisation ------------------------------------------------------------------------------------

    /// <summary>LayerNorm over the last axis: y = (x − μ)·rstd·γ + β; saves mean[rows] and rstd[rows] (biased variance).</summary>
    void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps);

    /// <summary>Backward of <see cref="LayerNorm"/>: dx (overwritten or accumulated), dgamma += , dbeta += .</summary>
    void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx);

    /// <summary>
    /// BatchNorm1d in training mode over x[N,C]: batch mean and biased variance normalise; saves mean[C], rstd[C];
    /// running stats (may be null) updated with momentum: r = (1 − m)·r + m·stat, the variance unbiased (N/(N−1)).
    /// </summary>
    void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum);

    /// <summary>BatchNorm1d in eval mode: y = (x − running mean)/sqrt(running var + eps)·γ + β.</summary>
    void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps);

    /// <summary>
    /// Backward of <see cref="BatchNormEval"/> (running statistics are constants): dx = dy·γ/sqrt(var + eps)
    /// (overwritten or accumulated), dgamma += Σ dy·(x − mean)/sqrt(var + eps), dbeta += Σ dy (dbeta may be null).
    /// </summary>
    void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx);

    /// <summary>Backward of <see cref="BatchNormTrain"/>: dx (overwritten or accumulated), dgamma +=, dbeta += (dbeta may be null: frozen).</summary>
    void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx);

    // ---- attention and MLP --------------------------------------------------------------------------------

    /// <summary>
    /// Multi-head self-attention core. qkv[B,T,3D] holds [Q | K | V], head j owning channels j·dh … j·dh+dh−1 of
    /// each; probs[B,H,T,T] = softmax(Q Kᵀ · scale) (saved for backward); y[B,T,D] = probs · V, heads concatenated.
    /// <paramref name="keepProbs"/> false (eval, no backward follows): probs is only workspace the backend may use and
    /// holds nothing specified afterwards (the CPU backend's fused paths keep the probabilities in cache and do not
    /// write it); y is the same either way.
    /// </summary>
    void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int heads, int headDim, float scale, bool keepProbs);

    /// <summary>
    /// <see cref="Attention"/> for the first <paramref name="queries"/> query rows of each sample only (eval, for the
    /// blocks whose output is read at token 0): y[B, queries, D] = softmax(scale·Q[:, :queries]·Kᵀ)·V over all
    /// <paramref name="tokens"/> keys and values of qkv[B,T,3D]. The Q rows at and past queries are not read.
    /// probs is workspace of B·H·queries·T floats whose contents are unspecified afterwards. No backward.
    /// </summary>
    void AttentionQueries(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim, float scale);

    /// <summary>Backward of <see cref="Attention"/>: dqkv[B,T,3D] overwritten. scratch: at least B·H·T·T floats.</summary>
    void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale);

    /// <summary>Exact GELU, 0.5·x·(1 + erf(x/√2)), elementwise; y may equal x.</summary>
    void Gelu(DevicePtr x, DevicePtr y, long n);

    /// <summary>Backward of <see cref="Gelu"/>: dx = dy·GELU'(x); dx may equal dy.</summary>
    void GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n);

    // ---- elementwise and data movement --------------------------------------------------------------------

    /// <summary>
    /// Residual with stochastic depth: y[b,:] = x[b,:] + branch[b,:]·scale[b] for rows of length rowLength per sample;
    /// scale (float[B], 0 or 1/keep) may be null (no drop path). y may equal x.
    /// </summary>
    void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength);

    /// <summary>dst[b,:] = src[b,:]·scale[b] (or a copy when scale is null); used for drop-path backward. dst may equal src.</summary>
    void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength);

    /// <summary>
    /// Strided row copy: dst[r·dstStride + c] = alpha·src[r·srcStride + c] for r &lt; rows, c &lt; rowLength;
    /// added to dst when <paramref name="accumulate"/>.
    /// </summary>
    void CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate);

    /// <summary>
    /// JPM gather: from x[B,T,D] (token 0 = cls, tokens 1..N = patches) build parts[K,B,L+1,D]: parts[k,b,0] = x[b,0],
    /// parts[k,b,1+i] = x[b, 1 + JpmSource(k·L + i)] (see ShapeMath.JpmSource).
    /// </summary>
    void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange);

    /// <summary>Backward of <see cref="JpmGather"/>: dx[B,T,D] += scatter of dparts (always accumulates).</summary>
    void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange);

    // ---- losses -------------------------------------------------------------------------------------------

    /// <summary>
    /// Softmax cross-entropy, mean over rows, with label smoothing ε (target (1−ε)·onehot + ε/C). Writes the mean
    /// loss to loss[0] and dlogits[N,C] = gradScale·∂loss/∂logits (overwritten). labels: int32[N].
    /// </summary>
    void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale);

    /// <summary>
    /// Batch-hard triplet loss on features x[N,D] with labels int32[N], raw Euclidean distances
    /// sqrt(max(d², 1e-12)) (after L2 normalisation of each row when <paramref name="normalize"/>); soft margin
    /// log(1+exp(−(d_an − d_ap))) when <paramref name="margin"/> ≤ 0, else max(0, d_ap − d_an + margin); mean over
    /// anchors to loss[0]. dx[N,D] = gradScale·∂loss/∂x (overwritten or accumulated). scratch ≥ N·N + 4·N floats.
    /// </summary>
    void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx);

    // ---- optimiser ----------------------------------------------------------------------------------------

    /// <summary>
    /// SGD with momentum as PyTorch (no dampening, no Nesterov): g = grad + wd·p; buf = momentum·buf + g
    /// (buf = g on the first step, <paramref name="firstStep"/>); p −= lr·buf.
    /// </summary>
    void SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep);

    /// <summary>AdamW as PyTorch: p −= lr·wd·p; m,v moments; p −= lr·m̂/(√v̂ + eps); <paramref name="step"/> starts at 1.</summary>
    void AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step);
}
