using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// A Linear weight W [N, K] (op(B) = Wᵀ of y = x·Wᵀ) packed once into the NR-column micro-panels of one kernel family,
/// grouped by KC slices exactly as <see cref="GemmDriver"/> packs B on every call: slice at pc starts at
/// Data + pc·Panels·NR, its panel q at + q·NR·kc (kc × NR, k-major, columns past N zero). Native memory, freed by
/// <see cref="Dispose"/> (or the finalizer).
/// </summary>
internal sealed unsafe class PackedWeight : IDisposable
{
    private float* _data;

    /// <summary>Packs <paramref name="w"/> ([n, k] row-major) for <paramref name="kind"/>, slices of at most
    /// <paramref name="kcMax"/>, the panels spread over <paramref name="par"/>.</summary>
    public PackedWeight(float* w, int n, int k, GemmKernelKind kind, int kcMax, CpuParallel par)
    {
        var micro = GemmDriver.Micro(kind);
        int mr = micro.Mr, nr = micro.Nr;
        N = n;
        K = k;
        Kind = kind;
        Mr = mr;
        Nr = nr;
        KcStep = GemmDriver.SliceDepth(k, kcMax);
        Panels = (n + nr - 1) / nr;
        Floats = (long)Panels * nr * k;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(Floats * sizeof(float)), 64);
        var a = new PackArgs { W = w, Data = _data, N = n, K = k, KcStep = KcStep, Panels = Panels, Nr = nr };
        par.For(Panels, Math.Max(1, 16384 / k), &PackBody, &a);
    }

    ~PackedWeight() => Free();

    /// <summary>Rows and columns of the stored weight (output and input features).</summary>
    public int N { get; }

    /// <inheritdoc cref="N"/>
    public int K { get; }

    /// <summary>The kernel family the panels are laid out for, and its tile.</summary>
    public GemmKernelKind Kind { get; }

    /// <inheritdoc cref="Kind"/>
    public int Mr { get; }

    /// <inheritdoc cref="Kind"/>
    public int Nr { get; }

    /// <summary>Depth of every KC slice but the last (K cut into equal slices).</summary>
    public int KcStep { get; }

    /// <summary>NR-column micro-panels per slice.</summary>
    public int Panels { get; }

    /// <summary>Floats held (N rounded up to whole panels, times K).</summary>
    public long Floats { get; }

    /// <summary>The packed panels.</summary>
    public float* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(PackedWeight));

    /// <inheritdoc/>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        NativeMemory.AlignedFree(_data);
        _data = null;
    }

    private struct PackArgs
    {
        public float* W, Data;
        public int N, K, KcStep, Panels, Nr;
    }

    private static void PackBody(void* p, int chunk, long start, long end)
    {
        ref PackArgs a = ref *(PackArgs*)p;
        GemmDriver.PackBPanels(true, a.W, a.K, a.K, a.KcStep, 0, a.N, a.Nr, a.Panels, (int)start, (int)end, a.Data);
    }
}

/// <summary>
/// y[M, N] = x[M, K]·Wᵀ + b with W already packed (<see cref="PackedWeight"/>): the eval forward's Linear, where the
/// weights are constant, so the per-call packing of B that <see cref="GemmDriver"/> does (at batch 1, M = 211, as much
/// memory traffic as the product) is gone. Work is cut into tasks of at most <see cref="McRows"/> rows × a range of
/// NR panels: few rows (batch 1) give one row block split by columns, so each thread streams its own half of the
/// weight once and reuses it over every row; many rows give row tasks over all columns. Each task packs its rows of
/// x per KC slice (an MC × KC block that stays in L2) and runs the micro-kernel over its panels (outer) × row panels
/// (inner), so a B micro-panel (KC × NR, in L1) serves every row panel; the bias is added to each finished column
/// strip while it is still in cache.
/// </summary>
internal static unsafe class PackedGemm
{
    /// <summary>
    /// KC of packed weights (deepest slice) when set; unset, each family packs with its own (<see cref="KcFor"/>).
    /// Settable for measurement; weights packed earlier keep theirs.
    /// </summary>
    public static int? Kc { get; set; }

    /// <summary>
    /// KC weights are packed with for <paramref name="kind"/>: the family's KC in <see cref="GemmDriver"/>. AVX2 256 keeps
    /// the B micro-panel (256 × 24 floats, 24 KiB) in the 32 KiB L1d of Zen 3; AVX-512 768, one slice for K = 768, beat
    /// 256 by 0–8 % (mean about 3 %) on the batch-1 and batch-8 shapes with the streaming kernel (docs/benchmarks.md).
    /// </summary>
    public static int KcFor(GemmKernelKind kind) => Kc ?? GemmDriver.SliceLimit(kind);

    /// <summary>Rows of x per task (a multiple of every MR is not needed: tasks are cut at whole row panels).</summary>
    public static int McRows { get; set; } = 240;

    /// <summary>
    /// Whether full tiles run the family's streaming kernel (AVX-512: the next weight panel prefetched one line per 8 k
    /// steps inside the kernel; 5–9 % faster with weights from memory than the bursts of prefetches before each call,
    /// <c>linear --cold --versus 256:240:burst</c>). Without one, or when false, the bursts. Settable for measurement.
    /// </summary>
    public static bool StreamPrefetch { get; set; } = true;

    /// <summary>Tasks per thread wanted when rows alone give too few.</summary>
    private const int TasksPerThread = 2;

    [ThreadStatic] private static GemmDriver.NativeBuffer? t_packA;
    [ThreadStatic] private static GemmDriver.NativeBuffer? t_sharedA;

    /// <summary>y = x·Wᵀ (+ bias when not null); x is [m, w.K] and y [m, w.N], both dense row-major.</summary>
    public static void Linear(CpuParallel par, float* x, int m, PackedWeight w, float* bias, float* y)
    {
        int mr = w.Mr, mPanels = (m + mr - 1) / mr, perTask = Math.Max(1, McRows / mr);
        int mTasks = (mPanels + perTask - 1) / perTask;
        // Parallel when the product is big enough, or the weight alone is (M = 1: the weight's memory traffic).
        bool parallel = par.Threads > 1 && (double)Math.Max(m, 8) * w.N * w.K >= GemmDriver.ParallelThreshold;
        int wanted = parallel ? par.Threads * TasksPerThread : 1;
        int nTasks = Math.Clamp((wanted + mTasks - 1) / mTasks, 1, w.Panels);
        var a = new Args
        {
            X = x, Y = y, Bias = bias, B = w.Data, M = m, N = w.N, K = w.K, KcStep = w.KcStep, Panels = w.Panels,
            MPanels = mPanels, MTasks = mTasks, NTasks = nTasks,
            Kernel = GemmDriver.Micro(w.Kind),
        };
        if (nTasks > 1)
        {
            // Tasks split columns: x is packed once, shared, instead of once per task (slice at pc: M-panels × kc at pc·MP·MR).
            a.SharedA = (t_sharedA ??= new GemmDriver.NativeBuffer()).Get((long)mPanels * mr * w.K);
            int slices = (w.K + w.KcStep - 1) / w.KcStep;
            if (parallel) par.For(slices, 1, &PackSharedBody, &a);
            else PackSharedBody(&a, 0, 0, slices);
        }
        if (parallel) par.For((long)mTasks * nTasks, 1, &TaskBody, &a);
        else TaskBody(&a, 0, 0, (long)mTasks * nTasks);
    }

    private static void PackSharedBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        for (long s = start; s < end; s++)
        {
            int pc = (int)s * a.KcStep, kc = Math.Min(a.KcStep, a.K - pc);
            GemmPacking.PackA(false, a.X, a.K, 0, pc, a.M, kc, a.Kernel.Mr, a.SharedA + (nint)pc * a.MPanels * a.Kernel.Mr);
        }
    }

    private struct Args
    {
        public float* X, Y, Bias, B, SharedA;
        public int M, N, K, KcStep, Panels, MPanels, MTasks, NTasks;
        public GemmDriver.MicroKernel Kernel;
    }

    private static void TaskBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        for (long t = start; t < end; t++) RunTask(ref a, (int)(t / a.NTasks), (int)(t % a.NTasks));
    }

    /// <summary>Rows of MR panels [pm0, pm1) of task row <paramref name="mi"/>, columns of NR panels of task column <paramref name="ni"/>.</summary>
    private static void RunTask(ref Args a, int mi, int ni)
    {
        int mr = a.Kernel.Mr, nr = a.Kernel.Nr;
        int pm0 = (int)((long)mi * a.MPanels / a.MTasks), pm1 = (int)((long)(mi + 1) * a.MPanels / a.MTasks);
        int q0 = (int)((long)ni * a.Panels / a.NTasks), q1 = (int)((long)(ni + 1) * a.Panels / a.NTasks);
        int i0 = pm0 * mr, mc = Math.Min(pm1 * mr, a.M) - i0;
        if (mc <= 0 || q1 <= q0) return;
        float* packedA = a.SharedA != null ? null : (t_packA ??= new GemmDriver.NativeBuffer()).Get((long)(pm1 - pm0) * mr * a.KcStep);
        float* tile = stackalloc float[mr * nr];
        for (int pc = 0; pc < a.K; pc += a.KcStep)
        {
            int kc = Math.Min(a.KcStep, a.K - pc);
            bool last = pc + kc >= a.K;
            float beta = pc == 0 ? 0f : 1f;
            if (a.SharedA != null) packedA = a.SharedA + (nint)pc * a.MPanels * mr + (nint)i0 * kc;
            else GemmPacking.PackA(false, a.X, a.K, i0, pc, mc, kc, mr, packedA);
            float* slice = a.B + (nint)pc * a.Panels * nr;
            // The next B panel (in this slice, or the first of the next) is prefetched into L2 in pieces, one piece
            // before each micro-kernel call: packed weights come from memory (the model's do not stay cached), and
            // left to the kernel's first pass over the panel they arrive at memory latency, not bandwidth.
            long panelLines = (long)nr * kc * sizeof(float) / 64;
            int calls = (mc + mr - 1) / mr;
            long linesPerCall = (panelLines + calls - 1) / calls;
            for (int q = q0; q < q1; q++)
            {
                int cols = Math.Min(nr, a.N - q * nr);
                float* bPanel = slice + (nint)q * nr * kc;
                float* cStrip = a.Y + (nint)i0 * a.N + q * nr;
                byte* next = q + 1 < q1 ? (byte*)(bPanel + (nint)nr * kc)
                    : pc + kc < a.K ? (byte*)(a.B + (nint)(pc + kc) * a.Panels * nr + (nint)q0 * nr * Math.Min(a.KcStep, a.K - pc - kc)) : null;
                long line = 0;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    if (StreamPrefetch && a.Kernel.Stream != null && cols == nr && mc - ir >= mr)
                    {
                        // the kernel prefetches kc / StreamSteps lines spread over its loop; they stay inside the next panel
                        long lines = kc / a.Kernel.StreamSteps;
                        byte* pf = next != null ? next + Math.Min(line, panelLines - lines) * 64 : (byte*)bPanel;
                        line += lines;
                        a.Kernel.Stream(kc, packedA + (nint)ir * kc, bPanel, cStrip + (nint)ir * a.N, a.N, 1f, beta, pf);
                        continue;
                    }
                    if (next != null && Sse.IsSupported)
                    {
                        for (long end = Math.Min(panelLines, line + linesPerCall); line < end; line++) Sse.Prefetch1(next + line * 64);
                    }
                    GemmDriver.KernelTile(a.Kernel, kc, packedA + (nint)ir * kc, bPanel, cStrip + (nint)ir * a.N, a.N,
                        Math.Min(mr, mc - ir), cols, 1f, beta, tile);
                }
                if (last && a.Bias != null) AddBias(cStrip, a.N, mc, a.Bias + q * nr, cols);
            }
        }
    }

    /// <summary>Adds bias[0..cols) to each of <paramref name="rows"/> rows of a column strip (just written: in cache).</summary>
    private static void AddBias(float* c, int ldc, int rows, float* bias, int cols)
    {
        if (Vector256.IsHardwareAccelerated && cols % 8 == 0)
        {
            for (int r = 0; r < rows; r++, c += ldc)
                for (int j = 0; j < cols; j += 8) Vector256.Store(Vector256.Load(c + j) + Vector256.Load(bias + j), c + j);
            return;
        }
        for (int r = 0; r < rows; r++, c += ldc)
            for (int j = 0; j < cols; j++) c[j] += bias[j];
    }
}
