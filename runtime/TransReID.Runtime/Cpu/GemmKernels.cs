using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Register-blocked GEMM micro-kernels: C[MR, NR] (op)= alpha · Ap · Bp over one KC slice, where Ap is an MR-row
/// packed A micro-panel (kc × MR, k-major: Ap[p·MR + r]) and Bp is an NR-column packed B micro-panel (kc × NR,
/// k-major: Bp[p·NR + j]) from <see cref="GemmPacking"/>. Each k step loads NR/width B vectors, broadcasts MR A values
/// and issues MR·NR/width FMAs into accumulators that stay in registers (14×2 zmm accumulators + 2 B vectors + 1
/// broadcast = 31 of the 32 AVX-512 registers; the JIT keeps them all in registers, checked with DOTNET_JitDisasm).
/// Store: beta = 0 writes alpha·acc without reading C (NaN-safe), beta = 1 adds, otherwise alpha·acc + beta·C.
/// The C tile is prefetched before the k loop so its cache misses overlap the FMAs.
/// The tile must be full (MR valid rows, NR valid columns); <see cref="GemmDriver"/> routes edge tiles through a
/// scratch tile. The bodies follow one mechanical pattern (one statement per accumulator, rows in order; they were
/// produced by a small script), so an edit must be applied to every row and every kernel alike.
/// </summary>
internal static unsafe class GemmKernels
{

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector512<float> x, Vector512<float> va, Vector512<float> vb, int mode)
    {
        if (mode == 0) Vector512.Store(x * va, c);
        else if (mode == 1) Vector512.Store(Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c)), c);
        else Vector512.Store(Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c) * vb), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector256<float> x, Vector256<float> va, Vector256<float> vb, int mode)
    {
        if (mode == 0) Vector256.Store(x * va, c);
        else if (mode == 1) Vector256.Store(Vector256.FusedMultiplyAdd(x, va, Vector256.Load(c)), c);
        else Vector256.Store(Vector256.FusedMultiplyAdd(x, va, Vector256.Load(c) * vb), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector128<float> x, Vector128<float> va, Vector128<float> vb, int mode)
    {
        if (mode == 0) Vector128.Store(x * va, c);
        else if (mode == 1) Vector128.Store(Vector128.FusedMultiplyAdd(x, va, Vector128.Load(c)), c);
        else Vector128.Store(Vector128.FusedMultiplyAdd(x, va, Vector128.Load(c) * vb), c);
    }

    /// <summary>AVX-512 kernel: MR = 14, NR = 32 (two zmm per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel14x32(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default, c0_1 = default;
        Vector512<float> c1_0 = default, c1_1 = default;
        Vector512<float> c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default;
        Vector512<float> c4_0 = default, c4_1 = default;
        Vector512<float> c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default;
        Vector512<float> c7_0 = default, c7_1 = default;
        Vector512<float> c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default;
        Vector512<float> c10_0 = default, c10_1 = default;
        Vector512<float> c11_0 = default, c11_1 = default;
        Vector512<float> c12_0 = default, c12_1 = default;
        Vector512<float> c13_0 = default, c13_1 = default;
        if (Sse.IsSupported)
        {
            for (int r = 0; r < 14; r++)
            {
                float* row = c + r * ldc;
                Sse.Prefetch0(row); Sse.Prefetch0(row + 16); Sse.Prefetch0(row + 31);
            }
        }
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            av = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(av, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(av, b1, c6_1);
            av = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(av, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(av, b1, c7_1);
            av = Vector512.Create(a[8]);
            c8_0 = Vector512.FusedMultiplyAdd(av, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(av, b1, c8_1);
            av = Vector512.Create(a[9]);
            c9_0 = Vector512.FusedMultiplyAdd(av, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(av, b1, c9_1);
            av = Vector512.Create(a[10]);
            c10_0 = Vector512.FusedMultiplyAdd(av, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(av, b1, c10_1);
            av = Vector512.Create(a[11]);
            c11_0 = Vector512.FusedMultiplyAdd(av, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(av, b1, c11_1);
            av = Vector512.Create(a[12]);
            c12_0 = Vector512.FusedMultiplyAdd(av, b0, c12_0); c12_1 = Vector512.FusedMultiplyAdd(av, b1, c12_1);
            av = Vector512.Create(a[13]);
            c13_0 = Vector512.FusedMultiplyAdd(av, b0, c13_0); c13_1 = Vector512.FusedMultiplyAdd(av, b1, c13_1);
            a += 14;
            b += 32;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        int mode = beta == 0 ? 0 : beta == 1 ? 1 : 2;
        Update(c, c0_0, va, vb, mode);
        Update(c + 16, c0_1, va, vb, mode);
        Update(c + ldc, c1_0, va, vb, mode);
        Update(c + ldc + 16, c1_1, va, vb, mode);
        Update(c + 2 * ldc, c2_0, va, vb, mode);
        Update(c + 2 * ldc + 16, c2_1, va, vb, mode);
        Update(c + 3 * ldc, c3_0, va, vb, mode);
        Update(c + 3 * ldc + 16, c3_1, va, vb, mode);
        Update(c + 4 * ldc, c4_0, va, vb, mode);
        Update(c + 4 * ldc + 16, c4_1, va, vb, mode);
        Update(c + 5 * ldc, c5_0, va, vb, mode);
        Update(c + 5 * ldc + 16, c5_1, va, vb, mode);
        Update(c + 6 * ldc, c6_0, va, vb, mode);
        Update(c + 6 * ldc + 16, c6_1, va, vb, mode);
        Update(c + 7 * ldc, c7_0, va, vb, mode);
        Update(c + 7 * ldc + 16, c7_1, va, vb, mode);
        Update(c + 8 * ldc, c8_0, va, vb, mode);
        Update(c + 8 * ldc + 16, c8_1, va, vb, mode);
        Update(c + 9 * ldc, c9_0, va, vb, mode);
        Update(c + 9 * ldc + 16, c9_1, va, vb, mode);
        Update(c + 10 * ldc, c10_0, va, vb, mode);
        Update(c + 10 * ldc + 16, c10_1, va, vb, mode);
        Update(c + 11 * ldc, c11_0, va, vb, mode);
        Update(c + 11 * ldc + 16, c11_1, va, vb, mode);
        Update(c + 12 * ldc, c12_0, va, vb, mode);
        Update(c + 12 * ldc + 16, c12_1, va, vb, mode);
        Update(c + 13 * ldc, c13_0, va, vb, mode);
        Update(c + 13 * ldc + 16, c13_1, va, vb, mode);
    }

    /// <summary>AVX2 kernel: MR = 6, NR = 16 (two ymm per row; 12 accumulators of 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x16(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default, c0_1 = default;
        Vector256<float> c1_0 = default, c1_1 = default;
        Vector256<float> c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default;
        Vector256<float> c4_0 = default, c4_1 = default;
        Vector256<float> c5_0 = default, c5_1 = default;
        if (Sse.IsSupported)
        {
            for (int r = 0; r < 6; r++)
            {
                float* row = c + r * ldc;
                Sse.Prefetch0(row); Sse.Prefetch0(row + 8); Sse.Prefetch0(row + 15);
            }
        }
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(a[0]);
            c0_0 = Vector256.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector256.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector256.Create(a[1]);
            c1_0 = Vector256.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector256.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector256.Create(a[2]);
            c2_0 = Vector256.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector256.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector256.Create(a[3]);
            c3_0 = Vector256.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector256.FusedMultiplyAdd(av, b1, c3_1);
            av = Vector256.Create(a[4]);
            c4_0 = Vector256.FusedMultiplyAdd(av, b0, c4_0); c4_1 = Vector256.FusedMultiplyAdd(av, b1, c4_1);
            av = Vector256.Create(a[5]);
            c5_0 = Vector256.FusedMultiplyAdd(av, b0, c5_0); c5_1 = Vector256.FusedMultiplyAdd(av, b1, c5_1);
            a += 6;
            b += 16;
        }
        Vector256<float> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        int mode = beta == 0 ? 0 : beta == 1 ? 1 : 2;
        Update(c, c0_0, va, vb, mode);
        Update(c + 8, c0_1, va, vb, mode);
        Update(c + ldc, c1_0, va, vb, mode);
        Update(c + ldc + 8, c1_1, va, vb, mode);
        Update(c + 2 * ldc, c2_0, va, vb, mode);
        Update(c + 2 * ldc + 8, c2_1, va, vb, mode);
        Update(c + 3 * ldc, c3_0, va, vb, mode);
        Update(c + 3 * ldc + 8, c3_1, va, vb, mode);
        Update(c + 4 * ldc, c4_0, va, vb, mode);
        Update(c + 4 * ldc + 8, c4_1, va, vb, mode);
        Update(c + 5 * ldc, c5_0, va, vb, mode);
        Update(c + 5 * ldc + 8, c5_1, va, vb, mode);
    }

    /// <summary>Vector128 kernel (SSE/NEON, or software where neither exists): MR = 4, NR = 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel4x8(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector128<float> c0_0 = default, c0_1 = default;
        Vector128<float> c1_0 = default, c1_1 = default;
        Vector128<float> c2_0 = default, c2_1 = default;
        Vector128<float> c3_0 = default, c3_1 = default;
        if (Sse.IsSupported)
        {
            for (int r = 0; r < 4; r++)
            {
                float* row = c + r * ldc;
                Sse.Prefetch0(row); Sse.Prefetch0(row + 4); Sse.Prefetch0(row + 7);
            }
        }
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            Vector128<float> av = Vector128.Create(a[0]);
            c0_0 = Vector128.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(av, b1, c0_1);
            av = Vector128.Create(a[1]);
            c1_0 = Vector128.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(av, b1, c1_1);
            av = Vector128.Create(a[2]);
            c2_0 = Vector128.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(av, b1, c2_1);
            av = Vector128.Create(a[3]);
            c3_0 = Vector128.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector128.FusedMultiplyAdd(av, b1, c3_1);
            a += 4;
            b += 8;
        }
        Vector128<float> va = Vector128.Create(alpha), vb = Vector128.Create(beta);
        int mode = beta == 0 ? 0 : beta == 1 ? 1 : 2;
        Update(c, c0_0, va, vb, mode);
        Update(c + 4, c0_1, va, vb, mode);
        Update(c + ldc, c1_0, va, vb, mode);
        Update(c + ldc + 4, c1_1, va, vb, mode);
        Update(c + 2 * ldc, c2_0, va, vb, mode);
        Update(c + 2 * ldc + 4, c2_1, va, vb, mode);
        Update(c + 3 * ldc, c3_0, va, vb, mode);
        Update(c + 3 * ldc + 4, c3_1, va, vb, mode);
    }
}
