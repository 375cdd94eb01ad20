using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Packing of GEMM operands into the k-major micro-panels the <see cref="GemmKernels"/> read. Packing handles the
/// transposes and leading dimensions once, so the kernels see one layout; partial panels are zero-padded, so edge tiles
/// run the full-size kernel (into a scratch tile) without reading past the operands.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into ceil(mc/mr) micro-panels of kc × mr: panel q starts at
    /// dst + q·mr·kc and holds op(A)[i0 + q·mr + r, p0 + p] at [p·mr + r]; rows past mc are zero.
    /// op(A) = A (stored [M, K], row stride lda) or, when <paramref name="transA"/>, Aᵀ (A stored [K, M]).
    /// </summary>
    public static void PackA(bool transA, float* a, nint lda, int i0, int p0, int mc, int kc, int mr, float* dst)
    {
        for (int q = 0; q < mc; q += mr)
        {
            int rows = Math.Min(mr, mc - q);
            float* panel = dst + (nint)q * kc;
            if (transA)
            {
                // Each k step reads `rows` contiguous elements of one stored row of A.
                float* src = a + (nint)p0 * lda + i0 + q;
                if (rows == mr && mr >= 8 && Vector256.IsHardwareAccelerated)
                {
                    // Full panel: 8-float copies at r = 0, 8, ... and a last one at mr - 8 (may overlap the previous).
                    for (int p = 0; p < kc; p++, src += lda)
                    {
                        float* d = panel + (nint)p * mr;
                        for (int r = 0; r < mr; r += 8)
                        {
                            int r0 = Math.Min(r, mr - 8);
                            Vector256.Store(Vector256.Load(src + r0), d + r0);
                        }
                    }
                    continue;
                }
                for (int p = 0; p < kc; p++, src += lda)
                {
                    float* d = panel + (nint)p * mr;
                    for (int r = 0; r < rows; r++) d[r] = src[r];
                    for (int r = rows; r < mr; r++) d[r] = 0;
                }
            }
            else if (rows == mr && mr >= 8 && Avx.IsSupported)
            {
                // 8 × 8 transposes of row groups at r = 0, 8, ... and a last group at mr - 8 (it may overlap the previous
                // one, which rewrites the same values), then the k remainder one element at a time.
                int kc8 = kc & ~7;
                for (int r = 0; r < mr; r += 8)
                {
                    int r0 = Math.Min(r, mr - 8);
                    float* src = a + (nint)(i0 + q + r0) * lda + p0;
                    for (int p = 0; p < kc8; p += 8) Transpose8x8(src + p, lda, panel + (nint)p * mr + r0, mr);
                }
                for (int r = 0; r < mr; r++)
                {
                    float* src = a + (nint)(i0 + q + r) * lda + p0;
                    for (int p = kc8; p < kc; p++) panel[(nint)p * mr + r] = src[p];
                }
            }
            else
            {
                // Row r of the panel is a contiguous run of A; scatter it with stride mr (the panel stays in L1).
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (nint)(i0 + q + r) * lda + p0;
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[(nint)p * mr] = src[p];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) panel[(nint)p * mr + r] = 0;
            }
        }
    }

    /// <summary>
    /// Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into ceil(nc/nr) micro-panels of kc × nr: panel q starts at
    /// dst + q·nr·kc and holds op(B)[p0 + p, j0 + q·nr + j] at [p·nr + j]; columns past nc are zero.
    /// op(B) = B (stored [K, N], row stride ldb) or, when <paramref name="transB"/>, Bᵀ (B stored [N, K]).
    /// </summary>
    public static void PackB(bool transB, float* b, nint ldb, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int q = 0; q < nc; q += nr)
        {
            int cols = Math.Min(nr, nc - q);
            float* panel = dst + (nint)q * kc;
            if (transB && cols == nr && nr % 8 == 0 && Avx.IsSupported)
            {
                // 8 × 8 transposes: 8 stored rows of B (8 panel columns) × 8 k values at a time, then the k remainder.
                int kc8 = kc & ~7;
                for (int j = 0; j < nr; j += 8)
                {
                    float* src = b + (nint)(j0 + q + j) * ldb + p0;
                    for (int p = 0; p < kc8; p += 8) Transpose8x8(src + p, ldb, panel + (nint)p * nr + j, nr);
                    for (int jj = j; jj < j + 8; jj++)
                    {
                        float* s = b + (nint)(j0 + q + jj) * ldb + p0;
                        for (int p = kc8; p < kc; p++) panel[(nint)p * nr + jj] = s[p];
                    }
                }
            }
            else if (transB)
            {
                // Column j of the panel is a contiguous run of a stored row of B; scatter it with stride nr.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (nint)(j0 + q + j) * ldb + p0;
                    float* d = panel + j;
                    for (int p = 0; p < kc; p++) d[(nint)p * nr] = src[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) panel[(nint)p * nr + j] = 0;
            }
            else
            {
                float* src = b + (nint)p0 * ldb + j0 + q;
                if (cols == nr)
                {
                    for (int p = 0; p < kc; p++, src += ldb)
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(panel + (nint)p * nr, nr));
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += ldb)
                    {
                        float* d = panel + (nint)p * nr;
                        for (int j = 0; j < cols; j++) d[j] = src[j];
                        for (int j = cols; j < nr; j++) d[j] = 0;
                    }
                }
            }
        }
    }

    /// <summary>dst[i·dstStride + j] = src[j·srcStride + i] for i, j &lt; 8 (AVX: unpack, shuffle, 128-bit permute).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, nint srcStride, float* dst, nint dstStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + srcStride);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * srcStride), r3 = Avx.LoadVector256(src + 3 * srcStride);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * srcStride), r5 = Avx.LoadVector256(src + 5 * srcStride);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * srcStride), r7 = Avx.LoadVector256(src + 7 * srcStride);
        // t: pairs of rows interleaved per 128-bit lane; u: groups of four rows per lane; then swap lanes.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}
