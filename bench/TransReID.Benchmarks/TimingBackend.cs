// One timed forwarding method per IBackend member (written from IBackend.cs; update it when IBackend changes).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using TransReID.Runtime;

namespace TransReID.Benchmarks;

/// <summary>Times every call of a wrapped backend (CPU ops are synchronous, so a call's wall time is its cost).</summary>
internal sealed class TimingBackend(IBackend inner) : IBackend
{
    private readonly IBackend _inner = inner;

    public Dictionary<string, (double Seconds, int Calls)> Times { get; } = new();

    public string Name => _inner.Name;

    private void Add(string op, long start)
    {
        double s = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Times.TryGetValue(op, out var v);
        Times[op] = (v.Seconds + s, v.Calls + 1);
    }

    public void Dispose() => _inner.Dispose();

    public DeviceBuffer Allocate(long elements)
    {
        long t = Stopwatch.GetTimestamp();
        var r = _inner.Allocate(elements);
        Add("Allocate", t);
        return r;
    }

    public void Upload(ReadOnlySpan<float> source, DevicePtr destination)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Upload(source, destination);
        Add("Upload", t);
    }

    public void Upload(ReadOnlySpan<int> source, DevicePtr destination)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Upload(source, destination);
        Add("Upload", t);
    }

    public void Download(DevicePtr source, Span<float> destination)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Download(source, destination);
        Add("Download", t);
    }

    public void Zero(DevicePtr destination, long elements)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Zero(destination, elements);
        Add("Zero", t);
    }

    public void Copy(DevicePtr source, DevicePtr destination, long elements)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Copy(source, destination, elements);
        Add("Copy", t);
    }

    public void Synchronize()
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Synchronize();
        Add("Synchronize", t);
    }

    public void Linear(DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr y, int m, int k, int n)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Linear(x, w, b, y, m, k, n);
        Add("Linear", t);
    }

    public void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.LinearBackward(dy, x, w, dx, dw, db, m, k, n, accumulateDx);
        Add("LinearBackward", t);
    }

    public void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y, int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.PatchEmbed(images, cols, w, b, y, batch, channels, height, width, patch, strideY, strideX, gridY, gridX, dim);
        Add("PatchEmbed", t);
    }

    public void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.PatchEmbedBackward(dy, cols, dw, db, rows, colsPerRow, dim);
        Add("PatchEmbedBackward", t);
    }

    public void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef, DevicePtr x, int batch, int tokens, int dim)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.TokenEmbed(patches, cls, pos, sie, sieIndex, coef, x, batch, tokens, dim);
        Add("TokenEmbed", t);
    }

    public void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex, float coef, int batch, int tokens, int dim)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.TokenEmbedBackward(dx, dpatches, dcls, dpos, dsie, sieIndex, coef, batch, tokens, dim);
        Add("TokenEmbedBackward", t);
    }

    public void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.LayerNorm(x, gamma, beta, y, mean, rstd, rows, dim, eps);
        Add("LayerNorm", t);
    }

    public void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.LayerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, dim, accumulateDx);
        Add("LayerNormBackward", t);
    }

    public void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.BatchNormTrain(x, gamma, beta, y, mean, rstd, runningMean, runningVar, rows, channels, eps, momentum);
        Add("BatchNormTrain", t);
    }

    public void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y, int rows, int channels, float eps)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.BatchNormEval(x, gamma, beta, runningMean, runningVar, y, rows, channels, eps);
        Add("BatchNormEval", t);
    }

    public void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.BatchNormEvalBackward(dy, x, gamma, runningMean, runningVar, dx, dgamma, dbeta, rows, channels, eps, accumulateDx);
        Add("BatchNormEvalBackward", t);
    }

    public void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.BatchNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, channels, accumulateDx);
        Add("BatchNormBackward", t);
    }

    public void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int heads, int headDim, float scale)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Attention(qkv, probs, y, batch, tokens, heads, headDim, scale);
        Add("Attention", t);
    }

    public void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch, int batch, int tokens, int heads, int headDim, float scale)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.AttentionBackward(dy, qkv, probs, dqkv, scratch, batch, tokens, heads, headDim, scale);
        Add("AttentionBackward", t);
    }

    public void Gelu(DevicePtr x, DevicePtr y, long n)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Gelu(x, y, n);
        Add("Gelu", t);
    }

    public void GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.GeluBackward(dy, x, dx, n);
        Add("GeluBackward", t);
    }

    public void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Residual(x, branch, scale, y, batch, rowLength);
        Add("Residual", t);
    }

    public void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.ScaleRows(src, scale, dst, batch, rowLength);
        Add("ScaleRows", t);
    }

    public void CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.CopyRows(src, srcStride, dst, dstStride, rows, rowLength, alpha, accumulate);
        Add("CopyRows", t);
    }

    public void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.JpmGather(x, parts, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        Add("JpmGather", t);
    }

    public void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.JpmGatherBackward(dparts, dx, batch, patchCount, dim, partCount, partLength, shift, groups, rearrange);
        Add("JpmGatherBackward", t);
    }

    public void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes, float smoothing, float gradScale)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.CrossEntropy(logits, labels, loss, dlogits, rows, classes, smoothing, gradScale);
        Add("CrossEntropy", t);
    }

    public void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim, float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.Triplet(x, labels, loss, dx, scratch, rows, dim, margin, normalize, gradScale, accumulateDx);
        Add("Triplet", t);
    }

    public void SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.SgdStep(param, grad, momentumBuffer, n, lr, momentum, weightDecay, firstStep);
        Add("SgdStep", t);
    }

    public void AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        long t = Stopwatch.GetTimestamp();
        _inner.AdamWStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
        Add("AdamWStep", t);
    }
}
