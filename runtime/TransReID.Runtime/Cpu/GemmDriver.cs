using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>Which managed micro-kernel family runs (the vector width it is written for).</summary>
internal enum GemmKernelKind
{
    /// <summary>4×8 tiles of Vector128 (SSE, NEON, or software where neither exists).</summary>
    Vector128,

    /// <summary>4×24 tiles of Vector256 (AVX2 + FMA).</summary>
    Vector256,

    /// <summary>14×32 tiles of Vector512 (AVX-512F).</summary>
    Vector512,
}

/// <summary>
/// Managed GEMM driver in the GotoBLAS/BLIS shape. For each column block of NC columns: (1) op(B)[0..K, jc..jc+nc] is
/// packed once into NR-column micro-panels grouped by KC slices (shared by all threads, cut across them by panels);
/// (2) the M × nc block is cut into tasks of at most MC rows (and, when M alone gives too few tasks, column ranges);
/// each task, per KC slice, packs its MC × KC block of op(A) into a per-thread buffer that stays in L2 and runs the
/// micro-kernel over NR panels (outer) and MR panels (inner), so one B micro-panel is reused by every MR panel.
/// K is cut into ceil(K / KC) equal slices; C is read and written once per slice.
/// Blocking for AVX-512, measured on this project's reference CPU (AMD EPYC Zen 5: 48 KiB L1d, 1 MiB L2 per core):
/// KC = 768 beat 256/384/512 by 5–15% on the model's K = 768 shapes, because one slice means one pass over C (the
/// B micro-panel, 96 KiB, then streams from L2, which the 28-FMA-per-k kernel tolerates); MC from 112 to 448 rows
/// changed little, 336 (A block 1 MiB at KC = 768) was as good as any. Parallel calls cut M into ≈ 4 tasks per thread.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Blocking parameters and the micro-kernel they go with.</summary>
    private readonly struct Config(int mr, int nr, int kc, int mc, delegate*<int, float*, float*, float*, nint, float, float, void> kernel,
        delegate*<int, float*, float*, float*, nint, float, float, void> edge = null, int edgeRows = 0,
        delegate*<int, float*, float*, float*, nint, float, float, byte*, void> stream = null, int streamSteps = 0,
        RowKernels rows = default)
    {
        public readonly int Kc = kc, Mc = mc;
        public readonly MicroKernel Micro = new(kernel, mr, nr, edge, edgeRows, stream, streamSteps, rows);

        public int Mr => Micro.Mr;

        public int Nr => Micro.Nr;
    }

    /// <summary>
    /// A micro-kernel family as the drivers call it: the MR × NR kernel, and optionally an edge kernel for the last rows
    /// of M that computes <see cref="EdgeRows"/> rows of the same MR-row packed A panel (so a 1-row remainder of a 14-row
    /// tile does not cost a whole 14-row call), and a streaming variant of the kernel that also prefetches a byte stream
    /// into L2 (one line per <see cref="StreamSteps"/> k steps) for callers whose next operand comes from memory.
    /// </summary>
    internal readonly struct MicroKernel(delegate*<int, float*, float*, float*, nint, float, float, void> kernel, int mr, int nr,
        delegate*<int, float*, float*, float*, nint, float, float, void> edge, int edgeRows,
        delegate*<int, float*, float*, float*, nint, float, float, byte*, void> stream, int streamSteps, RowKernels rows)
    {
        public readonly delegate*<int, float*, float*, float*, nint, float, float, void> Kernel = kernel, Edge = edge;
        public readonly delegate*<int, float*, float*, float*, nint, float, float, byte*, void> Stream = stream;
        public readonly int Mr = mr, Nr = nr, EdgeRows = edgeRows, StreamSteps = streamSteps;

        /// <summary>The family's kernels over a row-major A, or default (null pointers) where it has none.</summary>
        public readonly RowKernels Rows = rows;
    }

    /// <summary>
    /// Kernels of a family that read A row-major in place (rows lda floats apart) instead of from a packed panel: the
    /// MR-row streaming kernel, and 4-, 2- and 1-row kernels for the last rows of M (they read no row past M). Each
    /// element is the same sequence of FMAs over k as in the packed kernels, so results are bit for bit the same.
    /// </summary>
    internal readonly struct RowKernels(delegate*<int, float*, nint, float*, float*, nint, float, float, byte*, void> full,
        delegate*<int, float*, nint, float*, float*, nint, float, float, void> rows4,
        delegate*<int, float*, nint, float*, float*, nint, float, float, void> rows2,
        delegate*<int, float*, nint, float*, float*, nint, float, float, void> rows1)
    {
        public readonly delegate*<int, float*, nint, float*, float*, nint, float, float, byte*, void> Full = full;
        public readonly delegate*<int, float*, nint, float*, float*, nint, float, float, void> Rows4 = rows4, Rows2 = rows2, Rows1 = rows1;

        public bool Available => Full != null;
    }

    /// <summary>
    /// Packed B (K × NC) is held to about this many floats (default 4 Mi floats = 16 MiB); a larger op(B) is processed in
    /// ceil(K·N / budget) column blocks of equal width, rounded up to whole NR panels. Settable so tests can force blocks.
    /// </summary>
    public static long PackedBBudget { get; set; } = 4L << 20;

    /// <summary>
    /// Below this many multiply-adds (m·n·k, default 4 Mi ≈ 160³) one thread does the whole product, because fork/join
    /// (two parallel loops) would cost more than it saves. Settable for tests and measurement.
    /// </summary>
    public static double ParallelThreshold { get; set; } = 1 << 22;

    /// <summary>Tasks per thread we aim for, so a thread slowed by other load is covered by the others.</summary>
    private const int TasksPerThread = 4;

    [ThreadStatic] private static NativeBuffer? t_packA;
    [ThreadStatic] private static NativeBuffer? t_packB;

    /// <summary>The widest kernel family this CPU runs in hardware.</summary>
    public static GemmKernelKind BestKernel { get; } =
        Vector512.IsHardwareAccelerated ? GemmKernelKind.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? GemmKernelKind.Vector256
        : GemmKernelKind.Vector128;

    /// <summary>Kernel family in use; tests force the narrower ones to cover them on a wide machine.</summary>
    public static GemmKernelKind KernelKind { get; set; } = BestKernel;

    /// <summary>Threads a parallel call uses.</summary>
    public static int ThreadCount => Environment.ProcessorCount;

    /// <summary>The deepest K slice (KC) of <paramref name="kind"/>'s blocking.</summary>
    internal static int SliceLimit(GemmKernelKind kind) => GetConfig(kind).Kc;

    /// <summary>The micro-kernel family of <paramref name="kind"/>: its MR × NR kernel and tile, and its edge and streaming kernels where it has them.</summary>
    internal static MicroKernel Micro(GemmKernelKind kind) => GetConfig(kind).Micro;

    /// <summary>
    /// Depth of K's slices for a kernel whose slices may be at most <paramref name="kcMax"/> deep: K is cut into
    /// ceil(k / kcMax) equal slices (not kcMax, kcMax, …, remainder), fewer passes over C for the same bound.
    /// </summary>
    internal static int SliceDepth(int k, int kcMax)
    {
        int slices = (k + kcMax - 1) / kcMax;
        return (k + slices - 1) / slices;
    }

    /// <summary>
    /// Packs NR-column micro-panels [q0, q1) of op(B)[0..k, j0..j0+nc] for every K slice of <paramref name="kcStep"/>
    /// into <paramref name="packedB"/>, laid out for <paramref name="panels"/> panels per slice: the slice at pc starts at
    /// packedB + pc·panels·NR, its panel q at + q·NR·kc.
    /// </summary>
    internal static void PackBPanels(bool transB, float* b, nint ldb, int k, int kcStep, int j0, int nc, int nr, int panels,
        int q0, int q1, float* packedB)
    {
        if (q1 <= q0) return;
        int cols = Math.Min(q1 * nr, nc) - q0 * nr;
        for (int pc = 0; pc < k; pc += kcStep)
        {
            int kc = Math.Min(kcStep, k - pc);
            float* dst = packedB + (nint)pc * panels * nr + (nint)q0 * nr * kc;
            GemmPacking.PackB(transB, b, ldb, pc, kc, j0 + q0 * nr, cols, nr, dst);
        }
    }

    /// <summary>
    /// One micro-kernel call on a C tile of <paramref name="rows"/> × <paramref name="cols"/> (at most MR × NR): a full
    /// tile directly; a tile of fewer rows (all NR columns) through the family's edge kernel, EdgeRows at a time, when it
    /// has one; any other edge tile through the MR × NR scratch <paramref name="tile"/> (C = alpha·acc + beta·C there too).
    /// </summary>
    internal static void KernelTile(in MicroKernel k, int kc, float* aPanel, float* bPanel, float* cTile, nint ldc, int rows, int cols,
        float alpha, float beta, float* tile)
    {
        int mr = k.Mr, nr = k.Nr;
        if (rows == mr && cols == nr)
        {
            k.Kernel(kc, aPanel, bPanel, cTile, ldc, alpha, beta);
            return;
        }
        if (k.Edge != null && cols == nr)
        {
            for (int r0 = 0; r0 < rows; r0 += k.EdgeRows)
            {
                int n = Math.Min(k.EdgeRows, rows - r0);
                if (n == k.EdgeRows)
                {
                    k.Edge(kc, aPanel + r0, bPanel, cTile + r0 * ldc, ldc, alpha, beta);
                    continue;
                }
                // a short last group: the edge kernel's rows end at row MR at most (past it lies the next k step of A)
                int first = Math.Min(r0, mr - k.EdgeRows);
                k.Edge(kc, aPanel + first, bPanel, tile, nr, 1f, 0f);
                Blend(tile + (r0 - first) * nr, nr, cTile + r0 * ldc, ldc, n, cols, alpha, beta);
            }
            return;
        }
        k.Kernel(kc, aPanel, bPanel, tile, nr, 1f, 0f);
        Blend(tile, nr, cTile, ldc, rows, cols, alpha, beta);
    }

    /// <summary>
    /// One tile of <paramref name="rows"/> × <paramref name="cols"/> (at most MR × NR) from a row-major A
    /// (<see cref="RowKernels"/>, which the family must have), C = alpha·acc + beta·C: full tiles with the MR-row kernel
    /// (streaming <paramref name="pf"/>), fewer rows with the 4-, 2- and 1-row kernels in turn, fewer columns through the
    /// scratch <paramref name="tile"/>.
    /// </summary>
    internal static void RowsTile(in MicroKernel k, int kc, float* a, nint lda, float* bPanel, float* cTile, nint ldc, int rows, int cols,
        float alpha, float beta, float* tile, byte* pf)
    {
        bool direct = cols == k.Nr;
        float* c = direct ? cTile : tile;
        nint ld = direct ? ldc : k.Nr;
        float b = direct ? beta : 0f;
        if (rows == k.Mr) k.Rows.Full(kc, a, lda, bPanel, c, ld, alpha, b, pf);
        else
        {
            for (int r0 = 0; r0 < rows;)
            {
                int n = rows - r0 >= 4 ? 4 : rows - r0 >= 2 ? 2 : 1;
                var kernel = n == 4 ? k.Rows.Rows4 : n == 2 ? k.Rows.Rows2 : k.Rows.Rows1;
                kernel(kc, a + r0 * lda, lda, bPanel, c + r0 * ld, ld, alpha, b);
                r0 += n;
            }
        }
        if (!direct) Blend(tile, k.Nr, cTile, ldc, rows, cols, 1f, beta);
    }

    /// <summary>dst = alpha·src + beta·dst over <paramref name="rows"/> × <paramref name="cols"/> (beta = 0: dst is not read).</summary>
    private static void Blend(float* src, nint lds, float* dst, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++, src += lds, dst += ldc)
        {
            if (beta == 0) for (int j = 0; j < cols; j++) dst[j] = alpha * src[j];
            else for (int j = 0; j < cols; j++) dst[j] = alpha * src[j] + beta * dst[j];
        }
    }

    /// <summary>Human-readable kernel description, e.g. "AVX-512 14×32".</summary>
    public static string DescribeKernel()
    {
        Config cfg = GetConfig(KernelKind);
        string isa = KernelKind switch
        {
            GemmKernelKind.Vector512 => "AVX-512",
            GemmKernelKind.Vector256 => "AVX2+FMA",
            _ => Vector128.IsHardwareAccelerated ? "Vector128" : "Vector128 (software)",
        };
        return $"{isa} {cfg.Mr}×{cfg.Nr} micro-kernel, KC={cfg.Kc}, MC={cfg.Mc}";
    }

    // AVX-512: see the class remarks. AVX2 (4×24, 12 accumulators): 4 broadcasts and 3 loads per 12 FMAs instead of the
    // 6 and 2 of 6×16, which ran 72–88 GFLOP/s in cache on one Zen 3 core against 78–86 for 4×24 (docs/benchmarks.md);
    // KC = 256 keeps the B micro-panel (24 KiB) in the 32 KiB L1d, MC = 192 rows (192 KiB of A) in L2.
    // Vector128: not tuned (no machine here needs it).
    private static Config GetConfig(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Vector512 => new Config(14, 32, 768, 14 * 24, &GemmKernels.Kernel14x32, &GemmKernels.Kernel4x32Of14, 4,
            &GemmKernels.Kernel14x32Stream, 8,
            new RowKernels(&GemmKernels.Kernel14x32Rows, &GemmKernels.Kernel4x32Rows, &GemmKernels.Kernel2x32Rows, &GemmKernels.Kernel1x32Rows)),
        GemmKernelKind.Vector256 => new Config(4, 24, 256, 4 * 48, &GemmKernels.Kernel4x24),
        _ => new Config(4, 8, 256, 4 * 48, &GemmKernels.Kernel4x8),
    };

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C for m, n, k ≥ 1 and arguments already validated by <see cref="CpuGemm"/>.
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb,
        float beta, float* c, nint ldc, bool parallel)
    {
        Config cfg = GetConfig(KernelKind);
        int threads = parallel && (double)m * n * k >= ParallelThreshold ? ThreadCount : 1;
        int nr = cfg.Nr;
        // Column blocks: as few as the packed-B budget allows, of equal width (whole NR panels).
        long blocks = Math.Max(1, ((long)n * k + PackedBBudget - 1) / PackedBBudget);
        int ncMax = (int)((n + blocks - 1) / blocks + nr - 1) / nr * nr;
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int nPanels = (nc + nr - 1) / nr;
            var job = new Job(cfg, transA, transB, m, nc, k, alpha, a, lda, b, ldb, beta, c + jc, ldc, jc, nPanels,
                (t_packB ??= new NativeBuffer()).Get((long)nPanels * nr * k));
            job.Plan(threads);
            if (threads == 1)
            {
                job.PackB(0, nPanels);
                for (int t = 0; t < job.TaskCount; t++) job.RunTask(t);
            }
            else
            {
                // Several chunks per thread (CpuParallel cuts up to 4 per thread): a thread descheduled by other load then
                // holds up only a small chunk. The helpers are CpuWorkers', which stay awake between a model's GEMMs.
                var handle = GCHandle.Alloc(job);
                try
                {
                    void* h = (void*)GCHandle.ToIntPtr(handle);
                    s_parallel.For(nPanels, 1, &PackBody, h);
                    s_parallel.For(job.TaskCount, 1, &TaskBody, h);
                }
                finally
                {
                    handle.Free();
                }
            }
        }
    }

    private static readonly CpuParallel s_parallel = new(ThreadCount);

    private static Job JobOf(void* handle) => (Job)GCHandle.FromIntPtr((nint)handle).Target!;

    private static void PackBody(void* handle, int chunk, long start, long end) => JobOf(handle).PackB((int)start, (int)end);

    private static void TaskBody(void* handle, int chunk, long start, long end)
    {
        Job job = JobOf(handle);
        for (long t = start; t < end; t++) job.RunTask((int)t);
    }

    /// <summary>One column block of one GEMM call: the operands, the packed B and the task grid.</summary>
    private sealed class Job(Config cfg, bool transA, bool transB, int m, int nc, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc, int jc, int nPanels, float* packedB)
    {
        private readonly int _kcStep = SliceDepth(k, cfg.Kc);
        private int _mTasks, _nTasks, _mPanels;

        public int TaskCount => _mTasks * _nTasks;

        /// <summary>Cuts rows into tasks of at most MC rows (whole MR panels), and columns too when rows are few.</summary>
        public void Plan(int threads)
        {
            _mPanels = (m + cfg.Mr - 1) / cfg.Mr;
            int panelsPerBlock = cfg.Mc / cfg.Mr;
            int mTasks = (_mPanels + panelsPerBlock - 1) / panelsPerBlock;
            if (threads > 1)
            {
                // Aim for TasksPerThread tasks per thread while a task keeps ≥ 4 MR panels (B reuse), never more than panels.
                int wanted = threads * TasksPerThread;
                int byRows = Math.Max(1, Math.Min(wanted, _mPanels / 4));
                mTasks = Math.Max(mTasks, byRows);
                mTasks = Math.Min(_mPanels, (mTasks + threads - 1) / threads * threads);
            }
            _mTasks = mTasks;
            _nTasks = threads > 1 && mTasks < threads ? Math.Min(nPanels, (threads + mTasks - 1) / mTasks) : 1;
        }

        /// <summary>Packs B micro-panels [q0, q1) for every KC slice. Slice at pc starts at packedB + pc·nPanels·NR.</summary>
        public void PackB(int q0, int q1) => PackBPanels(transB, b, ldb, k, _kcStep, jc, nc, cfg.Nr, nPanels, q0, q1, packedB);

        /// <summary>Task t: rows of MR panels [pm0, pm1), columns of NR panels [q0, q1).</summary>
        public void RunTask(int t)
        {
            int mi = t / _nTasks, ni = t % _nTasks;
            int pm0 = (int)((long)mi * _mPanels / _mTasks), pm1 = (int)((long)(mi + 1) * _mPanels / _mTasks);
            int q0 = (int)((long)ni * nPanels / _nTasks), q1 = (int)((long)(ni + 1) * nPanels / _nTasks);
            int i0 = pm0 * cfg.Mr, mc = Math.Min(pm1 * cfg.Mr, m) - i0;
            if (mc <= 0 || q1 <= q0) return;
            float* packedA = (t_packA ??= new NativeBuffer()).Get((long)(pm1 - pm0) * cfg.Mr * _kcStep);
            for (int pc = 0; pc < k; pc += _kcStep)
            {
                int kc = Math.Min(_kcStep, k - pc);
                GemmPacking.PackA(transA, a, lda, i0, pc, mc, kc, cfg.Mr, packedA);
                Macro(mc, q0, q1, kc, packedA, packedB + (nint)pc * nPanels * cfg.Nr, c + i0 * ldc, pc == 0 ? beta : 1f);
            }
        }

        /// <summary>Runs the micro-kernel over NR panels [q0, q1) (outer) × all MR panels of the packed A block (inner).</summary>
        private void Macro(int mc, int q0, int q1, int kc, float* packedA, float* packedBSlice, float* cBlock, float betaEff)
        {
            int mr = cfg.Mr, nr = cfg.Nr;
            float* tile = stackalloc float[mr * nr];
            for (int q = q0; q < q1; q++)
            {
                int cols = Math.Min(nr, nc - q * nr);
                float* bPanel = packedBSlice + (nint)q * nr * kc;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    KernelTile(cfg.Micro, kc, packedA + (nint)ir * kc, bPanel, cBlock + ir * ldc + q * nr, ldc,
                        Math.Min(mr, mc - ir), cols, alpha, betaEff, tile);
                }
            }
        }
    }

    /// <summary>
    /// A 64-byte-aligned native buffer that grows on demand and is kept per thread (packing buffers are reused across
    /// calls instead of allocated per call); freed by the finalizer once its thread has gone.
    /// </summary>
    internal sealed class NativeBuffer
    {
        private float* _ptr;
        private long _capacity;

        ~NativeBuffer() => NativeMemory.AlignedFree(_ptr);

        /// <summary>A buffer of at least <paramref name="floats"/> floats (contents unspecified).</summary>
        public float* Get(long floats)
        {
            if (floats <= _capacity) return _ptr;
            long grown = Math.Max(floats, _capacity * 3 / 2);
            NativeMemory.AlignedFree(_ptr);
            _ptr = null;
            _capacity = 0;
            _ptr = (float*)NativeMemory.AlignedAlloc((nuint)(grown * sizeof(float)) + 64, 64);
            _capacity = grown;
            return _ptr;
        }
    }
}
