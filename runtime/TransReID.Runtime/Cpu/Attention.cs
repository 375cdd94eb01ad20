using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Multi-head self-attention core (docs/model.md#transformer-block), reading strided views straight into qkv[B,T,3D]
/// (leading dimension 3D, no transposed copies of the activations).
/// <para>
/// Forward with AVX2 + FMA: one fused pass per block of <see cref="RowBlock"/> query rows of one (sample, head) pair.
/// K and V of the pair are packed once per pair (and chunk) into a thread-local buffer (Kᵀ in 16-token panels, V in
/// 16-column panels); a 6×16 register-blocked kernel computes the block's scores scale·Q·Kᵀ into a small buffer that
/// stays in L1, each row is softmaxed into probs (max subtracted, a vectorised exp within about 1 ulp), and a second
/// 6×16 kernel accumulates probs·V into y. The kernels accumulate each dot product in order with FMAs, as the managed
/// GEMM does, so scores and y match the fallback to the last bit or so. The work items are (pair, row block), so both
/// threads stay busy even with few pairs, and no call goes through a GEMM's packing or per-call setup.
/// With AVX-512 (<see cref="Avx512Supported"/>) the products run on 512-bit vectors instead: blocks of
/// <see cref="WideRowBlock"/> rows, Kᵀ and V in 32-wide panels, the Linear's row-major 14×32 kernel (28 zmm
/// accumulators, <see cref="GemmDriver.RowsTile"/>) for both products, and the same 8-wide softmax (a 16-wide one ran 0.19 ms a
/// call slower on Zen 4, docs/benchmarks.md), so its results equal the AVX2 path's.
/// Without AVX2 + FMA (and for the backward) each pair runs single-threaded GEMMs through <see cref="CpuGemm.Sgemm"/>
/// and a TensorPrimitives softmax per row, pairs spread over the threads.
/// </para>
/// </summary>
internal static unsafe class CpuAttention
{
    /// <summary>Query rows per fused work item (the kernels' MR).</summary>
    internal const int RowBlock = 6;

    /// <summary>Columns per kernel tile (two 8-float vectors; the kernels' NR).</summary>
    private const int Panel = 16;

    /// <summary>Query rows per work item of the AVX-512 path (the MR of <see cref="GemmKernels.Kernel14x32Rows"/>).</summary>
    internal const int WideRowBlock = 14;

    /// <summary>Columns per AVX-512 tile (two 16-float vectors) and width of its packed panels.</summary>
    private const int WidePanel = 32;

    /// <summary>Multiply-adds worth one parallel chunk at least (a few microseconds of work).</summary>
    private const long ChunkGrainFma = 1 << 17;

    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>Whether the fused AVX2 + FMA path (<see cref="AttentionPath.Avx2"/>) can run here.</summary>
    internal static bool FusedSupported => Vector256.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported;

    /// <summary>
    /// Whether the fused AVX-512 path (<see cref="AttentionPath.Avx512"/>) can run here: AVX-512F, and the runtime
    /// treats 512-bit vectors as fast (it does not on CPUs that throttle under them).
    /// </summary>
    internal static bool Avx512Supported => FusedSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>The fastest path this machine runs, the one the CPU backend passes to <see cref="Forward"/>.</summary>
    internal static AttentionPath DefaultPath =>
        Avx512Supported ? AttentionPath.Avx512 : FusedSupported ? AttentionPath.Avx2 : AttentionPath.Gemm;

    /// <summary>
    /// probs[B,H,T,T] = softmax(scale·Q·Kᵀ); y[B,T,D] = probs·V with heads concatenated, for the first
    /// <paramref name="queries"/> (1 to tokens) query rows of each sample: probs [B,H,queries,T] and y [B,queries,D], the
    /// Q rows at and past queries not read (queries = tokens is the whole attention; fewer serve the eval head blocks,
    /// whose output is read at token 0). Without <paramref name="keepProbs"/> (eval: no backward follows) the fused paths
    /// keep each row block's probabilities in their L1 scratch and do not write probs, whose contents are then
    /// unspecified; y is bit for bit the same, and each row of y the same whatever queries is. Runs on
    /// <paramref name="path"/> (tests and benchmarks compare them); a path this machine cannot run falls back to
    /// <see cref="DefaultPath"/>.
    /// </summary>
    public static void Forward(CpuParallel par, float* qkv, float* probs, float* y, int batch, int tokens, int queries, int heads,
        int headDim, float scale, bool keepProbs, AttentionPath path)
    {
        System.Diagnostics.Debug.Assert(queries >= 1 && queries <= tokens, "1 to tokens query rows (BackendChecks.Attention)");
        var a = new Args
        {
            Qkv = qkv, Probs = probs, Y = y, Tokens = tokens, Queries = queries, Heads = heads, HeadDim = headDim, Scale = scale,
            KeepProbs = keepProbs,
        };
        long pairs = (long)batch * heads;
        if (path > DefaultPath) path = DefaultPath;
        if (path == AttentionPath.Gemm)
        {
            par.For(pairs, 1, &ForwardBody, &a);
            return;
        }
        a.Wide = path == AttentionPath.Avx512;
        int rowBlock = a.Wide ? WideRowBlock : RowBlock;
        a.RowBlocks = (queries + rowBlock - 1) / rowBlock;
        long fmaPerItem = Math.Max(1, 2L * rowBlock * tokens * headDim);
        par.For(pairs * a.RowBlocks, Math.Max(1, ChunkGrainFma / fmaPerItem), &FusedBody, &a);
    }

    /// <summary>
    /// dV = Pᵀ·dY; dP = dY·Vᵀ; dS = P ∘ (dP − rowsum(dP ∘ P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q. dqkv is overwritten;
    /// dS lives in scratch[B,H,T,T] (each pair its own block).
    /// </summary>
    public static void Backward(CpuParallel par, float* dy, float* qkv, float* probs, float* dqkv, float* scratch,
        int batch, int tokens, int heads, int headDim, float scale)
    {
        var a = new Args
        {
            Dy = dy, Qkv = qkv, Probs = probs, DQkv = dqkv, Scratch = scratch, Tokens = tokens, Heads = heads, HeadDim = headDim, Scale = scale,
        };
        par.For((long)batch * heads, 1, &BackwardBody, &a);
    }

    private struct Args
    {
        public float* Qkv, Probs, Y, Dy, DQkv, Scratch;
        public int Tokens, Heads, HeadDim, RowBlocks;
        public int Queries; // forward: the query rows computed per sample (the first ones; Tokens for the whole attention)
        public float Scale;
        public bool Wide; // the fused pass runs on AVX-512 (WideRowBlock, WidePanel) instead of AVX2
        public bool KeepProbs; // the fused passes write probs (training); otherwise the probabilities stay in their scratch
    }

    private static void ForwardBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int t = a.Tokens, nq = a.Queries, dh = a.HeadDim, d = a.Heads * dh, ld = 3 * d;
        for (long pair = start; pair < end; pair++)
        {
            long b = pair / a.Heads;
            int h = (int)(pair - b * a.Heads);
            float* q = a.Qkv + b * t * ld + h * dh, k = q + d, v = q + 2 * d;
            float* pr = a.Probs + pair * nq * t;
            CpuGemm.Sgemm(false, true, nq, t, dh, a.Scale, q, ld, k, ld, 0f, pr, t, parallel: false);
            for (int i = 0; i < nq; i++) Softmax(new Span<float>(pr + (long)i * t, t));
            CpuGemm.Sgemm(false, false, nq, dh, t, 1f, pr, t, v, ld, 0f, a.Y + b * nq * d + h * dh, d, parallel: false);
        }
    }

    private static void BackwardBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int t = a.Tokens, dh = a.HeadDim, d = a.Heads * dh, ld = 3 * d;
        for (long pair = start; pair < end; pair++)
        {
            long b = pair / a.Heads;
            int h = (int)(pair - b * a.Heads);
            long qOffset = b * t * ld + h * dh;
            float* q = a.Qkv + qOffset, k = q + d, v = q + 2 * d;
            float* dq = a.DQkv + qOffset, dk = dq + d, dv = dq + 2 * d;
            float* pr = a.Probs + pair * t * t, ds = a.Scratch + pair * t * t;
            float* dyh = a.Dy + b * t * d + h * dh;
            CpuGemm.Sgemm(true, false, t, dh, t, 1f, pr, t, dyh, d, 0f, dv, ld, parallel: false);
            CpuGemm.Sgemm(false, true, t, t, dh, 1f, dyh, d, v, ld, 0f, ds, t, parallel: false);
            for (int i = 0; i < t; i++)
            {
                var row = new Span<float>(ds + (long)i * t, t);
                var prow = new ReadOnlySpan<float>(pr + (long)i * t, t);
                float c = TensorPrimitives.Dot(row, prow);
                TensorPrimitives.Subtract(row, c, row);
                TensorPrimitives.Multiply(row, prow, row);
            }
            CpuGemm.Sgemm(false, false, t, dh, t, a.Scale, ds, t, k, ld, 0f, dq, ld, parallel: false);
            CpuGemm.Sgemm(true, false, t, dh, t, a.Scale, ds, t, q, ld, 0f, dk, ld, parallel: false);
        }
    }

    /// <summary>
    /// Work items [start, end) of the fused forward; item = pair · RowBlocks + row block. K and V are packed when the
    /// pair changes (items of one pair are contiguous, so at most once per pair and chunk).
    /// </summary>
    private static void FusedBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int t = a.Tokens, nq = a.Queries, dh = a.HeadDim, d = a.Heads * dh, ld = 3 * d;
        int panel = a.Wide ? WidePanel : Panel, rowBlock = a.Wide ? WideRowBlock : RowBlock;
        int tPanels = (t + panel - 1) / panel, dPanels = (dh + panel - 1) / panel;
        int tPad = tPanels * panel;
        long ktSize = (long)tPad * dh, vpSize = (long)dPanels * panel * t;
        float* kt = Scratch(ktSize + vpSize + (long)rowBlock * tPad), vp = kt + ktSize, s = vp + vpSize;
        // the AVX-512 path: the GEMM's row-major kernels, and their tile for a ragged head width
        GemmDriver.MicroKernel wide = a.Wide ? GemmDriver.Micro(GemmKernelKind.Vector512) : default;
        System.Diagnostics.Debug.Assert(!a.Wide || (wide.Mr == WideRowBlock && wide.Nr == WidePanel), "the AVX-512 family's 14 × 32 tile");
        float* tile = stackalloc float[a.Wide ? WideRowBlock * WidePanel : 0];
        long packed = -1;
        for (long item = start; item < end; item++)
        {
            long pair = item / a.RowBlocks;
            int i0 = (int)(item - pair * a.RowBlocks) * rowBlock, mr = Math.Min(rowBlock, nq - i0);
            long b = pair / a.Heads;
            int h = (int)(pair - b * a.Heads);
            float* q = a.Qkv + b * t * ld + h * dh;
            if (pair != packed)
            {
                PackKt(q + d, ld, t, dh, kt, panel);
                PackV(q + 2 * d, ld, t, dh, vp, panel);
                packed = pair;
            }
            // the block's probabilities: into probs when kept, else in place in the scores scratch (row stride tPad)
            float* pr = a.KeepProbs ? a.Probs + (pair * nq + i0) * t : s, yr = a.Y + (b * nq + i0) * d + h * dh;
            int ldp = a.KeepProbs ? t : tPad;
            if (a.Wide)
            {
                WideBlock(wide, tile, q + (long)i0 * ld, ld, mr, kt, vp, t, dh, s, tPad, a.Scale, pr, ldp, yr, d);
                continue;
            }
            Scores(q + (long)i0 * ld, ld, mr, kt, t, dh, s, tPad, a.Scale);
            for (int r = 0; r < mr; r++) SoftmaxRow(s + r * tPad, t, pr + (long)r * ldp);
            Values(pr, ldp, t, mr, vp, dPanels, dh, yr, d);
        }
    }

    /// <summary>
    /// One block of mr (≤ <see cref="WideRowBlock"/>) query rows on AVX-512: scores scale·Q·Kᵀ into s (row stride
    /// tPad, a multiple of <see cref="WidePanel"/>), each row softmaxed into probs (row stride ldp; probs may be s itself,
    /// with ldp = tPad), then y = probs·V (row stride ldy). kt and vp are <see cref="PackKt"/>'s and <see cref="PackV"/>'s
    /// layouts with 32-wide panels, which are the B panels of <paramref name="k"/>, the GEMM's AVX-512 family: both
    /// products run through <see cref="GemmDriver.RowsTile"/> (each dot product in order with FMAs from zero, scaled
    /// once, as the Linear does; a ragged head width through <paramref name="tile"/>, MR × NR floats).
    /// </summary>
    private static void WideBlock(in GemmDriver.MicroKernel k, float* tile, float* q, int ldq, int mr, float* kt, float* vp, int t, int dh,
        float* s, int tPad, float scale, float* probs, int ldp, float* y, int ldy)
    {
        for (int j0 = 0; j0 < tPad; j0 += WidePanel)
        {
            float* panel = kt + (long)j0 * dh;
            GemmDriver.RowsTile(k, dh, q, ldq, panel, s + j0, tPad, mr, WidePanel, scale, 0f, tile, (byte*)panel);
        }
        for (int r = 0; r < mr; r++) SoftmaxRow(s + (long)r * tPad, t, probs + (long)r * ldp);
        for (int c0 = 0; c0 < dh; c0 += WidePanel)
        {
            float* panel = vp + (long)c0 * t;
            GemmDriver.RowsTile(k, t, probs, ldp, panel, y + c0, ldy, mr, Math.Min(WidePanel, dh - c0), 1f, 0f, tile, (byte*)panel);
        }
    }

    /// <summary>
    /// This thread's scratch of at least <paramref name="floats"/> floats, 64-byte aligned (a pinned array, kept and
    /// grown per thread).
    /// </summary>
    private static float* Scratch(long floats)
    {
        float[]? buf = t_scratch;
        if (buf is null || buf.LongLength < floats + 16)
            t_scratch = buf = GC.AllocateUninitializedArray<float>(checked((int)(floats + 16)), pinned: true);
        nint addr = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buf));
        return (float*)((addr + 63) & ~(nint)63);
    }

    /// <summary>
    /// kt = Kᵀ in panels of <paramref name="width"/> (a multiple of 8) tokens:
    /// kt[(panel·dh + c)·width + jj] = K[panel·width + jj, c], zero past the last token.
    /// 8-token groups go through an AVX transpose (a ragged last group through a zero-padded copy), head columns past
    /// the last multiple of 8 element by element.
    /// </summary>
    private static void PackKt(float* k, int ld, int t, int dh, float* kt, int width)
    {
        int d8 = dh & ~7;
        float* tmp = stackalloc float[8 * 8];
        for (int j0 = 0; j0 < t; j0 += 8)
        {
            int rows = Math.Min(8, t - j0);
            float* dst = kt + (long)(j0 / width) * width * dh + (j0 % width);
            float* src = k + (long)j0 * ld;
            for (int c0 = 0; c0 < d8; c0 += 8)
            {
                if (rows == 8)
                {
                    GemmPacking.Transpose8x8(src + c0, ld, dst + (long)c0 * width, width);
                    continue;
                }
                for (int r = 0; r < 8; r++)
                    Vector256.Store(r < rows ? Vector256.Load(src + (long)r * ld + c0) : Vector256<float>.Zero, tmp + r * 8);
                GemmPacking.Transpose8x8(tmp, 8, dst + (long)c0 * width, width);
            }
            for (int c = d8; c < dh; c++)
                for (int jj = 0; jj < 8; jj++) dst[(long)c * width + jj] = jj < rows ? src[(long)jj * ld + c] : 0f;
        }
        // The last panel's 8-token groups past the last token hold no token.
        int tPad = (t + width - 1) / width * width;
        for (int j0 = (t + 7) & ~7; j0 < tPad; j0 += 8)
        {
            float* dst = kt + (long)(j0 / width) * width * dh + (j0 % width);
            for (int c = 0; c < dh; c++) Vector256.Store(Vector256<float>.Zero, dst + (long)c * width);
        }
    }

    /// <summary>
    /// vp = V in panels of <paramref name="width"/> (a multiple of 8) columns:
    /// vp[(panel·t + j)·width + cc] = V[j, panel·width + cc], zero past the last column.
    /// </summary>
    private static void PackV(float* v, int ld, int t, int dh, float* vp, int width)
    {
        int dFull = dh / width;
        for (int j = 0; j < t; j++)
        {
            float* src = v + (long)j * ld;
            for (int pn = 0; pn < dFull; pn++)
            {
                float* dst = vp + ((long)pn * t + j) * width;
                for (int cc = 0; cc < width; cc += 8) Vector256.Store(Vector256.Load(src + pn * width + cc), dst + cc);
            }
            if (dFull * width < dh)
            {
                float* dst = vp + ((long)dFull * t + j) * width;
                int c0 = dFull * width;
                for (int cc = 0; cc < width; cc++) dst[cc] = c0 + cc < dh ? src[c0 + cc] : 0f;
            }
        }
    }

    /// <summary>
    /// s[r, 0..t rounded up to 8) = scale · Q[r]·Kᵀ for the mr (≤ 6) query rows at q (row stride ldq), 16 tokens per
    /// tile and 8 in the last one when no more are left; rows past mr repeat the last one (computed, never read). kt is
    /// <see cref="PackKt"/>'s layout (zero past token t, so the padding scores are 0); s has row stride lds.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Scores(float* q, nint ldq, int mr, float* kt, int t, int dh, float* s, nint lds, float scale)
    {
        float* q0 = q, q1 = q + Math.Min(1, mr - 1) * ldq, q2 = q + Math.Min(2, mr - 1) * ldq;
        float* q3 = q + Math.Min(3, mr - 1) * ldq, q4 = q + Math.Min(4, mr - 1) * ldq, q5 = q + Math.Min(5, mr - 1) * ldq;
        int panels = (t + Panel - 1) / Panel;
        bool halfLast = t - (panels - 1) * Panel <= 8;
        int full = halfLast ? panels - 1 : panels;
        for (int pn = 0; pn < full; pn++)
        {
            float* b = kt + (nint)pn * dh * Panel;
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (nint c = 0; c < dh; c++)
            {
                Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
                b += Panel;
                Vector256<float> av = Vector256.Create(q0[c]);
                c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
                av = Vector256.Create(q1[c]);
                c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
                av = Vector256.Create(q2[c]);
                c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
                av = Vector256.Create(q3[c]);
                c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
                av = Vector256.Create(q4[c]);
                c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
                av = Vector256.Create(q5[c]);
                c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            }
            Vector256<float> vs = Vector256.Create(scale);
            float* o = s + pn * Panel;
            Vector256.Store(c00 * vs, o); Vector256.Store(c01 * vs, o + 8); o += lds;
            Vector256.Store(c10 * vs, o); Vector256.Store(c11 * vs, o + 8); o += lds;
            Vector256.Store(c20 * vs, o); Vector256.Store(c21 * vs, o + 8); o += lds;
            Vector256.Store(c30 * vs, o); Vector256.Store(c31 * vs, o + 8); o += lds;
            Vector256.Store(c40 * vs, o); Vector256.Store(c41 * vs, o + 8); o += lds;
            Vector256.Store(c50 * vs, o); Vector256.Store(c51 * vs, o + 8);
        }
        if (halfLast)
        {
            // The last panel's first 8 tokens only (its other 8 are padding).
            float* b = kt + (nint)full * dh * Panel;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            for (nint c = 0; c < dh; c++)
            {
                Vector256<float> b0 = Vector256.Load(b);
                b += Panel;
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[c]), b0, c0);
                c1 = Vector256.FusedMultiplyAdd(Vector256.Create(q1[c]), b0, c1);
                c2 = Vector256.FusedMultiplyAdd(Vector256.Create(q2[c]), b0, c2);
                c3 = Vector256.FusedMultiplyAdd(Vector256.Create(q3[c]), b0, c3);
                c4 = Vector256.FusedMultiplyAdd(Vector256.Create(q4[c]), b0, c4);
                c5 = Vector256.FusedMultiplyAdd(Vector256.Create(q5[c]), b0, c5);
            }
            Vector256<float> vs = Vector256.Create(scale);
            float* o = s + full * Panel;
            Vector256.Store(c0 * vs, o); o += lds;
            Vector256.Store(c1 * vs, o); o += lds;
            Vector256.Store(c2 * vs, o); o += lds;
            Vector256.Store(c3 * vs, o); o += lds;
            Vector256.Store(c4 * vs, o); o += lds;
            Vector256.Store(c5 * vs, o);
        }
    }

    /// <summary>
    /// y[r, 0..dh) = P[r]·V for the mr (≤ 6) probability rows at p (row stride ldp, t columns); y has row stride ldy.
    /// vp is <see cref="PackV"/>'s layout. Rows past mr repeat the last one and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Values(float* p, nint ldp, int t, int mr, float* vp, int panels, int dh, float* y, nint ldy)
    {
        float* p0 = p, p1 = p + Math.Min(1, mr - 1) * ldp, p2 = p + Math.Min(2, mr - 1) * ldp;
        float* p3 = p + Math.Min(3, mr - 1) * ldp, p4 = p + Math.Min(4, mr - 1) * ldp, p5 = p + Math.Min(5, mr - 1) * ldp;
        for (int pn = 0; pn < panels; pn++)
        {
            float* b = vp + (nint)pn * t * Panel;
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (nint j = 0; j < t; j++)
            {
                Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
                b += Panel;
                Vector256<float> av = Vector256.Create(p0[j]);
                c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
                av = Vector256.Create(p1[j]);
                c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
                av = Vector256.Create(p2[j]);
                c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
                av = Vector256.Create(p3[j]);
                c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
                av = Vector256.Create(p4[j]);
                c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
                av = Vector256.Create(p5[j]);
                c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            }
            int width = Math.Min(Panel, dh - pn * Panel);
            float* o = y + pn * Panel;
            Put(o, c00, c01, width);
            if (mr > 1) Put(o + ldy, c10, c11, width);
            if (mr > 2) Put(o + 2 * ldy, c20, c21, width);
            if (mr > 3) Put(o + 3 * ldy, c30, c31, width);
            if (mr > 4) Put(o + 4 * ldy, c40, c41, width);
            if (mr > 5) Put(o + 5 * ldy, c50, c51, width);
        }
    }

    /// <summary>
    /// dst[0..t) = softmax(s[0..t)), max subtracted, in three passes (max; exp and sum; scale into dst) with
    /// <see cref="ExpNonPositive"/>. s is overwritten and must have room up to t rounded up to 8 (the padding is set
    /// to −∞, so it adds nothing).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxRow(float* s, int t, float* dst)
    {
        int t8 = (t + 7) & ~7, full = t & ~7;
        for (int j = t; j < t8; j++) s[j] = float.NegativeInfinity;
        // Plain vmaxps (a NaN score may be skipped here, but its exp is NaN, so the sum and the whole row still are).
        Vector256<float> m = Vector256.Load(s);
        for (int j = 8; j < t8; j += 8) m = Avx.Max(m, Vector256.Load(s + j));
        m = MaxAcross(m);
        Vector256<float> sum = Vector256<float>.Zero;
        for (nint j = 0; j < t8; j += 8)
        {
            Vector256<float> e = ExpNonPositive(Vector256.Load(s + j) - m);
            Vector256.Store(e, s + j);
            sum += e;
        }
        Vector256<float> inv = Vector256.Create(1f / Vector256.Sum(sum));
        nint jj = 0;
        for (; jj < full; jj += 8) Vector256.Store(Vector256.Load(s + jj) * inv, dst + jj);
        for (; jj < t; jj++) dst[jj] = s[jj] * inv.ToScalar();
    }

    /// <summary>Every lane of the result holds the largest lane of <paramref name="m"/> (plain vmaxps steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MaxAcross(Vector256<float> m)
    {
        m = Avx.Max(m, Avx.Permute2x128(m, m, 0x01));
        m = Avx.Max(m, Avx.Permute(m, 0b01_00_11_10));
        return Avx.Max(m, Avx.Permute(m, 0b10_11_00_01));
    }

    /// <summary>
    /// e^x for x ≤ 0 (softmax arguments after the max is subtracted), within about 1 ulp: x = n·ln 2 + r with
    /// |r| ≤ ln 2 / 2 (n rounded by the 1.5·2²³ shifter, ln 2 split in two for an exact reduction), e^r by the Cephes
    /// degree-6 polynomial, 2^n through the exponent bits (the shifter's low mantissa bits hold n). Below −87.33
    /// (where e^x leaves the normal range) the result is 0; −∞ gives 0; NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        Vector256<float> lo = Vector256.Create(-87.33654f), shifter = Vector256.Create(12582912f);
        Vector256<float> under = Avx.CompareLessThan(x, lo);
        Vector256<float> xc = Avx.Max(lo, x); // NaN in x comes through (vmaxps returns the second operand)
        Vector256<float> v = Vector256.FusedMultiplyAdd(xc, Vector256.Create(1.44269504088896341f), shifter);
        Vector256<float> n = v - shifter;
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        Vector256<float> p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        Vector256<int> scale = Avx2.Add(Avx2.ShiftLeftLogical(v.AsInt32(), 23), Vector256.Create(127 << 23));
        return Avx.AndNot(under, p * scale.AsSingle());
    }

    /// <summary>
    /// Stores the first <paramref name="width"/> (≤ 16) floats of [lo, hi] at dst; a ragged width goes through masked
    /// stores (no call, so the kernels' accumulators stay in registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* dst, Vector256<float> lo, Vector256<float> hi, int width)
    {
        if (width == Panel)
        {
            Vector256.Store(lo, dst);
            Vector256.Store(hi, dst + 8);
        }
        else
        {
            Vector256<float> lane = Vector256.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f);
            Avx.MaskStore(dst, Avx.CompareLessThan(lane, Vector256.Create((float)width)), lo);
            Avx.MaskStore(dst + 8, Avx.CompareLessThan(lane, Vector256.Create((float)(width - 8))), hi);
        }
    }

    /// <summary>Numerically stable softmax of one row in place (max subtracted), in float.</summary>
    internal static void Softmax(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row);
        TensorPrimitives.Multiply(row, 1f / sum, row);
    }
}

/// <summary>The ways <see cref="CpuAttention.Forward"/> can run.</summary>
internal enum AttentionPath
{
    /// <summary>Per-pair GEMMs through <see cref="CpuGemm.Sgemm"/> and a TensorPrimitives softmax (any CPU).</summary>
    Gemm,

    /// <summary>The fused pass on AVX2 + FMA (6×16 kernels).</summary>
    Avx2,

    /// <summary>The fused pass on AVX-512 (one 12×32 kernel).</summary>
    Avx512,
}
