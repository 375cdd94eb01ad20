// One timed forwarding line per IBackend member (written from IBackend.cs; update it when IBackend changes).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using TransReID.Runtime;

namespace TransReID.Benchmarks;

/// <summary>Times every call of a wrapped backend (CPU ops are synchronous, so a call's wall time is its cost).</summary>
internal sealed class TimingBackend(IBackend inner) : IBackend
{
    private readonly IBackend _inner = inner;

    public Dictionary<string, (double Seconds, int Calls)> Times { get; } = new();

    /// <summary>Whether Linear calls are timed per shape (M×N×K) instead of together.</summary>
    public bool ByShape { get; init; }

    public string Name => _inner.Name;

    /// <summary>Starts timing the calling member; the call is added to <see cref="Times"/> when the scope ends.</summary>
    private Scope Time([CallerMemberName] string op = "") => new(this, op, Stopwatch.GetTimestamp());

    private readonly struct Scope(TimingBackend owner, string op, long start) : IDisposable
    {
        public void Dispose()
        {
            double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
            owner.Times.TryGetValue(op, out var v);
            owner.Times[op] = (v.Seconds + s, v.Calls + 1);
        }
    }

    public void Dispose() => _inner.Dispose();

    public DeviceBuffer Allocate(long elements)
    {
        using (Time())
            return _inner.Allocate(elements);
    }

    public void Upload(ReadOnlySpan<float> source, DevicePtr destination)
    {
        using (Time())
            _inner.Upload(source, destination);
    }

    public void Upload(ReadOnlySpan<int> source, DevicePtr destination)
    {
        using (Time())
            _inner.Upload(source, destination);
    }

    public void Download(DevicePtr source, Span<float> destination)
    {
        using (Time())
            _inner.Download(source, destination);
    }

    public void Zero(DevicePtr destination, long elements)
    {
        using (Time())
            _inner.Zero(destination, elements);
    }

    public void Copy(DevicePtr source, DevicePtr destination, long elements)
    {
        using (Time())
            _inner.Copy(source, destination, elements);
    }

    public void Synchronize()
    {
        using (Time())
            _inner.Synchronize();
    }

    public void DeclareConstantWeights(DevicePtr start, long elements, long version) =>
        _inner.DeclareConstantWeights(start, elements, version);

    public void Linear(DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr y, int m, int k, int n) => Linear(x, k, w, b, y, n, m, k, n);

    public void Linear(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n)
    {
        using (Time(ByShape ? $"Linear {m}×{n}×{k}" : nameof(Linear)))
            _inner.Linear(x, ldx, w, b, y, ldy, m, k, n);
    }

    public void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        using (Time())
            _inner.LinearBackward(dy, x, w, dx, dw, db, m, k, n, accumulateDx);
    }

    public void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y, int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        using (Time())
            _inner.PatchEmbed(images, cols, w, b, y, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
    }

    public void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        using (Time())
            _inner.PatchEmbedBackward(dy, cols, dw, db, rows, colsPerRow, dim);
    }

    public void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef, DevicePtr x, int batch, int tokens, int dim)
    {
        using (Time())
            _inner.TokenEmbed(patches, cls, pos, sie, sieIndex, coef, x, batch, tokens, dim);
    }

    public void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex, float coef, int batch, int tokens, int dim)
    {
        using (Time())
            _inner.TokenEmbedBackward(dx, dpatches, dcls, dpos, dsie, sieIndex, coef, batch, tokens, dim);
    }

    public void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        using (Time())
            _inner.LayerNorm(x, gamma, beta, y, mean, rstd, rows, dim, eps);
    }

    public void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        using (Time())
            _inner.LayerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim, accumulateDx);
    }

    public void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        using (Time())
            _inner.BatchNormTrain(x, gamma, beta, y, mean, rstd, runningMean, runningVar, rows, channels, eps, momentum);
    }

    public void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y, int rows, int channels, float eps)
    {
        using (Time())
            _inner.BatchNormEval(x, gamma, beta, runningMean, runningVar, y, rows, channels, eps);
    }

    public void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        using (Time())
            _inner.BatchNormEvalBackward(dy, x, gamma, runningMean, runningVar, dx, dgamma, dbeta, rows, channels, eps, accumulateDx);
    }

    public void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        using (Time())
            _inner.BatchNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, channels, accumulateDx);
    }

    /// <summary>When set, every Attention call keeps its probabilities (the training form), whatever the caller asked.</summary>
    public bool KeepProbs { get; set; }

    public void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int heads, int headDim, float scale, bool keepProbs)
    {
        using (Time())
            _inner.Attention(qkv, probs, y, batch, tokens, heads, headDim, scale, keepProbs || KeepProbs);
    }

    public void AttentionQueries(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim, float scale)
    {
        using (Time())
            _inner.AttentionQueries(qkv, probs, y, batch, tokens, queries, heads, headDim, scale);
    }

    public void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch, int batch, int tokens, int heads, int headDim, float scale)
    {
        using (Time())
            _inner.AttentionBackward(dy, qkv, probs, dqkv, scratch, batch, tokens, heads, headDim, scale);
    }

    public void Gelu(DevicePtr x, DevicePtr y, long n)
    {
        using (Time())
            _inner.Gelu(x, y, n);
    }

    public void GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        using (Time())
            _inner.GeluBackward(dy, x, dx, n);
    }

    public void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        using (Time())
            _inner.Residual(x, branch, scale, y, batch, rowLength);
    }

    public void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        using (Time())
            _inner.ScaleRows(src, scale, dst, batch, rowLength);
    }

    public void CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        using (Time())
            _inner.CopyRows(src, srcStride, dst, dstStride, rows, rowLength, alpha, accumulate);
    }

    public void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        using (Time())
            _inner.JpmGather(x, parts, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    public void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        using (Time())
            _inner.JpmGatherBackward(dparts, dx, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
    }

    public void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes, float smoothing, float gradScale)
    {
        using (Time())
            _inner.CrossEntropy(logits, labels, loss, dlogits, rows, classes, smoothing, gradScale);
    }

    public void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim, float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        using (Time())
            _inner.Triplet(x, labels, loss, dx, scratch, rows, dim, margin, normalize, gradScale, accumulateDx);
    }

    public void SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        using (Time())
            _inner.SgdStep(param, grad, momentumBuffer, n, lr, momentum, weightDecay, firstStep);
    }

    public void AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        using (Time())
            _inner.AdamWStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
    }
}
