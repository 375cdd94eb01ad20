using System;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// BatchNorm1d over x[N,C] (the BNNecks, docs/model.md#bnnecks-and-classifiers): training mode (batch statistics, biased variance to normalise,
/// unbiased for the running variance), eval mode (running statistics) and backward. Parallel over channel ranges; each
/// range keeps its per-channel sums on the stack and walks the rows with vector adds.
/// </summary>
internal static unsafe class CpuBatchNorm
{
    private const int Tile = 256;

    public static void Train(CpuParallel par, float* x, float* gamma, float* beta, float* y, float* mean, float* rstd,
        float* runningMean, float* runningVar, int rows, int channels, float eps, float momentum)
    {
        var a = new Args
        {
            X = x, Gamma = gamma, Beta = beta, Y = y, Mean = mean, Rstd = rstd, RunningMean = runningMean, RunningVar = runningVar,
            Rows = rows, Channels = channels, Eps = eps, Momentum = momentum,
        };
        par.For(channels, Grain(rows), &TrainBody, &a);
    }

    public static void Eval(CpuParallel par, float* x, float* gamma, float* beta, float* runningMean, float* runningVar, float* y,
        int rows, int channels, float eps)
    {
        var a = new Args
        {
            X = x, Gamma = gamma, Beta = beta, Y = y, RunningMean = runningMean, RunningVar = runningVar,
            Rows = rows, Channels = channels, Eps = eps,
        };
        par.For(channels, Grain(rows), &EvalBody, &a);
    }

    public static void Backward(CpuParallel par, float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx,
        float* dgamma, float* dbeta, int rows, int channels, bool accumulateDx)
    {
        var a = new Args
        {
            Dy = dy, X = x, Gamma = gamma, Mean = mean, Rstd = rstd, Dx = dx, DGamma = dgamma, DBeta = dbeta,
            Rows = rows, Channels = channels, Accumulate = accumulateDx,
        };
        par.For(channels, Grain(rows), &BackwardBody, &a);
    }

    /// <summary>Eval-mode backward: the per-channel scale k = γ/sqrt(var + eps) is a constant, so dx = k·dy.</summary>
    public static void EvalBackward(float* dy, float* x, float* gamma, float* runningMean, float* runningVar, float* dx,
        float* dgamma, float* dbeta, int rows, int channels, float eps, bool accumulate)
    {
        // (rows, channels) are a batch of BNNeck features: small, so one thread in row order is fast and deterministic
        for (int c = 0; c < channels; c++)
        {
            float rs = 1f / MathF.Sqrt(runningVar[c] + eps), k = gamma[c] * rs, m = runningMean[c];
            float sdy = 0, sdyx = 0;
            for (int r = 0; r < rows; r++)
            {
                long i = (long)r * channels + c;
                float g = dy[i];
                sdy += g;
                sdyx += g * (x[i] - m) * rs;
                dx[i] = accumulate ? dx[i] + k * g : k * g;
            }

            if (dgamma is not null) dgamma[c] += sdyx;
            if (dbeta is not null) dbeta[c] += sdy;
        }
    }

    private static long Grain(int rows) => Math.Max(64, 16384 / Math.Max(rows, 1));

    private struct Args
    {
        public float* X, Gamma, Beta, Y, Mean, Rstd, RunningMean, RunningVar, Dy, Dx, DGamma, DBeta;
        public int Rows, Channels;
        public float Eps, Momentum;
        public bool Accumulate;
    }

    private static Span<float> Row(float* m, int r, int ld, long c0, int w) => new(m + (long)r * ld + c0, w);

    private static void TrainBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        float* s0 = stackalloc float[Tile];
        float* s1 = stackalloc float[Tile];
        float* s2 = stackalloc float[Tile];
        int n = a.Rows, ld = a.Channels;
        for (long c0 = start; c0 < end; c0 += Tile)
        {
            int w = (int)Math.Min(Tile, end - c0);
            Span<float> mu = new(s0, w), acc = new(s1, w), diff = new(s2, w);
            // mean
            acc.Clear();
            for (int r = 0; r < n; r++) TensorPrimitives.Add(acc, Row(a.X, r, ld, c0, w), acc);
            TensorPrimitives.Multiply(acc, 1f / n, mu);
            // biased variance (two-pass)
            acc.Clear();
            for (int r = 0; r < n; r++)
            {
                TensorPrimitives.Subtract(Row(a.X, r, ld, c0, w), mu, diff);
                TensorPrimitives.MultiplyAdd(diff, diff, acc, acc);
            }
            for (int i = 0; i < w; i++)
            {
                long c = c0 + i;
                float var = acc[i] / n;
                float rs = 1f / MathF.Sqrt(var + a.Eps);
                a.Mean[c] = mu[i];
                a.Rstd[c] = rs;
                if (a.RunningMean is not null) a.RunningMean[c] = (1f - a.Momentum) * a.RunningMean[c] + a.Momentum * mu[i];
                if (a.RunningVar is not null) a.RunningVar[c] = (1f - a.Momentum) * a.RunningVar[c] + a.Momentum * (acc[i] / (n - 1));
                // per-channel affine: y = x·scale + shift
                float g = a.Gamma[c] * rs;
                acc[i] = g;
                diff[i] = (a.Beta is null ? 0f : a.Beta[c]) - mu[i] * g;
            }
            for (int r = 0; r < n; r++) TensorPrimitives.MultiplyAdd(Row(a.X, r, ld, c0, w), acc, diff, Row(a.Y, r, ld, c0, w));
        }
    }

    private static void EvalBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        float* s0 = stackalloc float[Tile];
        float* s1 = stackalloc float[Tile];
        int n = a.Rows, ld = a.Channels;
        for (long c0 = start; c0 < end; c0 += Tile)
        {
            int w = (int)Math.Min(Tile, end - c0);
            Span<float> scale = new(s0, w), shift = new(s1, w);
            for (int i = 0; i < w; i++)
            {
                long c = c0 + i;
                float g = a.Gamma[c] / MathF.Sqrt(a.RunningVar[c] + a.Eps);
                scale[i] = g;
                shift[i] = (a.Beta is null ? 0f : a.Beta[c]) - a.RunningMean[c] * g;
            }
            for (int r = 0; r < n; r++) TensorPrimitives.MultiplyAdd(Row(a.X, r, ld, c0, w), scale, shift, Row(a.Y, r, ld, c0, w));
        }
    }

    /// <summary>dx = γ·rstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N); dgamma += Σ dy·x̂; dbeta += Σ dy.</summary>
    private static void BackwardBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        float* s0 = stackalloc float[Tile];
        float* s1 = stackalloc float[Tile];
        float* s2 = stackalloc float[Tile];
        float* s3 = stackalloc float[Tile];
        int n = a.Rows, ld = a.Channels;
        for (long c0 = start; c0 < end; c0 += Tile)
        {
            int w = (int)Math.Min(Tile, end - c0);
            Span<float> sdy = new(s0, w), sdyx = new(s1, w), xh = new(s2, w), rsv = new(s3, w);
            var mu = new ReadOnlySpan<float>(a.Mean + c0, w);
            new ReadOnlySpan<float>(a.Rstd + c0, w).CopyTo(rsv);
            sdy.Clear();
            sdyx.Clear();
            for (int r = 0; r < n; r++)
            {
                Span<float> g = Row(a.Dy, r, ld, c0, w);
                TensorPrimitives.Subtract(Row(a.X, r, ld, c0, w), mu, xh);
                TensorPrimitives.Multiply(xh, rsv, xh);
                TensorPrimitives.Add(sdy, g, sdy);
                TensorPrimitives.MultiplyAdd(g, xh, sdyx, sdyx);
            }
            if (a.DGamma is not null) TensorPrimitives.Add(new Span<float>(a.DGamma + c0, w), sdyx, new Span<float>(a.DGamma + c0, w));
            if (a.DBeta is not null) TensorPrimitives.Add(new Span<float>(a.DBeta + c0, w), sdy, new Span<float>(a.DBeta + c0, w));
            // dx = k·dy − k·mean(dy) − x̂·k·mean(dy·x̂) with k = γ·rstd; fold into per-channel vectors
            for (int i = 0; i < w; i++)
            {
                float k = a.Gamma[c0 + i] * rsv[i];
                sdy[i] = -k * sdy[i] / n;
                sdyx[i] = -k * sdyx[i] / n;
                rsv[i] = k;
            }
            for (int r = 0; r < n; r++)
            {
                Span<float> dxr = Row(a.Dx, r, ld, c0, w);
                TensorPrimitives.Subtract(Row(a.X, r, ld, c0, w), mu, xh);
                TensorPrimitives.Multiply(xh, new ReadOnlySpan<float>(a.Rstd + c0, w), xh);
                TensorPrimitives.MultiplyAdd(xh, sdyx, sdy, xh);              // −k·mean(dy) − x̂·k·mean(dy·x̂)
                TensorPrimitives.MultiplyAdd(Row(a.Dy, r, ld, c0, w), rsv, xh, xh); // + k·dy
                if (a.Accumulate) TensorPrimitives.Add(dxr, xh, dxr);
                else xh.CopyTo(dxr);
            }
        }
    }
}
