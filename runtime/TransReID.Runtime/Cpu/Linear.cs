using System;

namespace TransReID.Runtime.Cpu;

/// <summary>nn.Linear forward and backward on <see cref="CpuGemm"/> (also the GEMM half of the patch embedding).</summary>
internal static unsafe class CpuLinear
{
    /// <summary>y[M,N] = x[M,K]·w[N,K]ᵀ + b[N]; b may be null.</summary>
    public static void Forward(CpuParallel par, float* x, float* w, float* b, float* y, int m, int k, int n) =>
        Forward(par, x, k, w, b, y, n, m, k, n);

    /// <summary>y[M,N] = x[M,K]·w[N,K]ᵀ + b[N] with x's rows ldx and y's rows ldy floats apart; b may be null.</summary>
    public static void Forward(CpuParallel par, float* x, int ldx, float* w, float* b, float* y, int ldy, int m, int k, int n)
    {
        if (b is null)
        {
            CpuGemm.Sgemm(false, true, m, n, k, 1f, x, ldx, w, k, 0f, y, ldy, par.GemmParallel);
            return;
        }
        // Broadcast the bias into y (a write-only pass), then let the GEMM accumulate onto it (beta = 1).
        var a = new FillArgs { Bias = b, Y = y, N = n, Ldy = ldy };
        par.For(m, Math.Max(1, 32768 / n), &FillBody, &a);
        CpuGemm.Sgemm(false, true, m, n, k, 1f, x, ldx, w, k, 1f, y, ldy, par.GemmParallel);
    }

    /// <summary>
    /// dx[M,K] = dy·w (overwritten or accumulated; skipped when null), dw[N,K] += dyᵀ·x (skipped when null),
    /// db[N] += Σ_rows dy (skipped when null).
    /// </summary>
    public static void Backward(CpuParallel par, float* dy, float* x, float* w, float* dx, float* dw, float* db,
        int m, int k, int n, bool accumulateDx)
    {
        if (dx is not null)
            CpuGemm.Sgemm(false, false, m, k, n, 1f, dy, n, w, k, accumulateDx ? 1f : 0f, dx, k, par.GemmParallel);
        if (dw is not null)
            CpuGemm.Sgemm(true, false, n, k, m, 1f, dy, n, x, k, 1f, dw, k, par.GemmParallel);
        if (db is not null)
            CpuReduce.AddColumnSums(par, dy, n, db, m, n);
    }

    private struct FillArgs
    {
        public float* Bias;
        public float* Y;
        public int N, Ldy;
    }

    private static void FillBody(void* p, int chunk, long start, long end)
    {
        ref FillArgs a = ref *(FillArgs*)p;
        var bias = new ReadOnlySpan<float>(a.Bias, a.N);
        for (long r = start; r < end; r++) bias.CopyTo(new Span<float>(a.Y + r * a.Ldy, a.N));
    }
}
