using System;
using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>LayerNorm over the last axis (biased variance, eps an argument; docs/model.md#transformer-block), forward and backward.</summary>
internal static unsafe class CpuLayerNorm
{
    /// <summary>Largest per-call partial-sum buffer (floats) kept on the stack; bigger ones come from the array pool.</summary>
    private const int StackFloats = 16384;

    /// <summary>y = (x − μ)·rstd·γ + β per row; saves mean[rows], rstd[rows]. y may equal x.</summary>
    public static void Forward(CpuParallel par, float* x, float* gamma, float* beta, float* y, float* mean, float* rstd,
        int rows, int dim, float eps)
    {
        var a = new ForwardArgs { X = x, Gamma = gamma, Beta = beta, Y = y, Mean = mean, Rstd = rstd, Dim = dim, Eps = eps };
        par.For(rows, Grain(dim), &ForwardBody, &a);
    }

    /// <summary>
    /// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, x̂ = (x − μ)·rstd (overwritten or accumulated);
    /// dgamma += Σ_rows dy·x̂; dbeta += Σ_rows dy (each skipped when null). Per-chunk partial sums, reduced in chunk order.
    /// </summary>
    public static void Backward(CpuParallel par, float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx,
        float* dgamma, float* dbeta, int rows, int dim, bool accumulateDx)
    {
        long grain = Grain(dim);
        int chunks = par.Chunks(rows, grain);
        if (chunks == 0) return;
        int need = chunks * 2 * dim;
        float[]? rented = null;
        Span<float> partial = need <= StackFloats ? stackalloc float[need] : (rented = ArrayPool<float>.Shared.Rent(need)).AsSpan(0, need);
        partial.Clear();
        try
        {
            fixed (float* pp = partial)
            {
                var a = new BackwardArgs
                {
                    Dy = dy, X = x, Gamma = gamma, Mean = mean, Rstd = rstd, Dx = dx, Partial = pp, Dim = dim, Accumulate = accumulateDx,
                };
                par.For(rows, grain, &BackwardBody, &a);
                for (int c = 0; c < chunks; c++)
                {
                    if (dgamma is not null)
                        TensorPrimitives.Add(new Span<float>(dgamma, dim), new ReadOnlySpan<float>(pp + (long)c * 2 * dim, dim), new Span<float>(dgamma, dim));
                    if (dbeta is not null)
                        TensorPrimitives.Add(new Span<float>(dbeta, dim), new ReadOnlySpan<float>(pp + ((long)c * 2 + 1) * dim, dim), new Span<float>(dbeta, dim));
                }
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    private static long Grain(int dim) => Math.Max(1, 8192 / Math.Max(dim, 1));

    private struct ForwardArgs
    {
        public float* X, Gamma, Beta, Y, Mean, Rstd;
        public int Dim;
        public float Eps;
    }

    private static void ForwardBody(void* p, int chunk, long start, long end)
    {
        ref ForwardArgs a = ref *(ForwardArgs*)p;
        int d = a.Dim, vw = Vector<float>.Count;
        float* gamma = a.Gamma, beta = a.Beta;
        for (long r = start; r < end; r++)
        {
            float* x = a.X + r * d, y = a.Y + r * d;
            // mean and biased variance, two passes over the (L1-resident) row, two accumulators each
            var s0 = Vector<float>.Zero;
            var s1 = Vector<float>.Zero;
            int i = 0;
            for (; i <= d - 2 * vw; i += 2 * vw)
            {
                s0 += Vector.Load(x + i);
                s1 += Vector.Load(x + i + vw);
            }
            for (; i <= d - vw; i += vw) s0 += Vector.Load(x + i);
            float sum = Vector.Sum(s0 + s1);
            for (; i < d; i++) sum += x[i];
            float mu = sum / d;
            var vmu = new Vector<float>(mu);
            s0 = Vector<float>.Zero;
            s1 = Vector<float>.Zero;
            i = 0;
            for (; i <= d - 2 * vw; i += 2 * vw)
            {
                var c0 = Vector.Load(x + i) - vmu;
                var c1 = Vector.Load(x + i + vw) - vmu;
                s0 = Vector.FusedMultiplyAdd(c0, c0, s0);
                s1 = Vector.FusedMultiplyAdd(c1, c1, s1);
            }
            for (; i <= d - vw; i += vw)
            {
                var c0 = Vector.Load(x + i) - vmu;
                s0 = Vector.FusedMultiplyAdd(c0, c0, s0);
            }
            float sq = Vector.Sum(s0 + s1);
            for (; i < d; i++) sq += (x[i] - mu) * (x[i] - mu);
            float rs = 1f / MathF.Sqrt(sq / d + a.Eps);
            var vrs = new Vector<float>(rs);
            // y = (x − μ)·rstd·γ + β; y may alias x (each element is read before it is written)
            i = 0;
            for (; i <= d - vw; i += vw)
                Vector.Store(Vector.FusedMultiplyAdd((Vector.Load(x + i) - vmu) * vrs, Vector.Load(gamma + i), Vector.Load(beta + i)), y + i);
            for (; i < d; i++) y[i] = (x[i] - mu) * rs * gamma[i] + beta[i];
            a.Mean[r] = mu;
            a.Rstd[r] = rs;
        }
    }

    private struct BackwardArgs
    {
        public float* Dy, X, Gamma, Mean, Rstd, Dx, Partial;
        public int Dim;
        public bool Accumulate;
    }

    private static void BackwardBody(void* p, int chunk, long start, long end)
    {
        ref BackwardArgs a = ref *(BackwardArgs*)p;
        int d = a.Dim, vw = Vector<float>.Count;
        float* pg = a.Partial + (long)chunk * 2 * d, pb = pg + d, gamma = a.Gamma;
        for (long r = start; r < end; r++)
        {
            float* x = a.X + r * d, dy = a.Dy + r * d, dx = a.Dx + r * d;
            float mu = a.Mean[r], rs = a.Rstd[r];
            var vmu = new Vector<float>(mu);
            var vrs = new Vector<float>(rs);
            var sg = Vector<float>.Zero;
            var sgx = Vector<float>.Zero;
            int i = 0;
            for (; i <= d - vw; i += vw)
            {
                var xh = (Vector.Load(x + i) - vmu) * vrs;
                var g = Vector.Load(dy + i);
                var gg = g * Vector.Load(gamma + i);
                sg += gg;
                sgx = Vector.FusedMultiplyAdd(gg, xh, sgx);
                Vector.Store(Vector.FusedMultiplyAdd(g, xh, Vector.Load(pg + i)), pg + i);
                Vector.Store(Vector.Load(pb + i) + g, pb + i);
            }
            float sumG = Vector.Sum(sg), sumGX = Vector.Sum(sgx);
            for (; i < d; i++)
            {
                float xh = (x[i] - mu) * rs, g = dy[i], gg = g * gamma[i];
                sumG += gg;
                sumGX += gg * xh;
                pg[i] += g * xh;
                pb[i] += g;
            }
            float mg = sumG / d, mgx = sumGX / d;
            var vmg = new Vector<float>(mg);
            var vmgx = new Vector<float>(mgx);
            i = 0;
            for (; i <= d - vw; i += vw)
            {
                var xh = (Vector.Load(x + i) - vmu) * vrs;
                var gg = Vector.Load(dy + i) * Vector.Load(gamma + i);
                var v = (gg - vmg - xh * vmgx) * vrs;
                if (a.Accumulate) v += Vector.Load(dx + i);
                Vector.Store(v, dx + i);
            }
            for (; i < d; i++)
            {
                float xh = (x[i] - mu) * rs, gg = dy[i] * gamma[i];
                float v = (gg - mg - xh * mgx) * rs;
                dx[i] = a.Accumulate ? dx[i] + v : v;
            }
        }
    }
}
