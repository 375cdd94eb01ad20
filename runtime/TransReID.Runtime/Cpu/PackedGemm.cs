using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

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
/// memory traffic as the product) is gone. Two plans:
/// <list type="bullet">
/// <item>Many rows (batch ≥ 4): row tasks of <see cref="McRows"/> rows over every column, each packing its own rows of x
/// per KC slice (an MC × KC block that stays in L2).</item>
/// <item>Few rows (batch 1): with AVX-512, x is read in place by the row-major kernels (<see cref="RowMajorA"/>) when its
/// rows spread over the L1d sets (<see cref="RowsSpreadOverSets"/>); otherwise it is packed once and shared, the
/// threads claiming pieces of it in order (row groups × slices) and flagging each when packed; a kernel call waits
/// only for the piece it reads, so no thread waits for the whole of x. The items (row task, weight panel) are cut into one contiguous range per thread: each thread takes its
/// own from the front, then steals single items from the end of the fullest other range, so a thread that starts late
/// or that the machine slows for a while (another guest, an interrupt) leaves its work to the others, and a call ends
/// at most about one panel apart on the threads. Each thread streams its panels of the weight once and reuses each over
/// every row; the next item it will likely take (its front, else a victim's end) is peeked, not claimed, so that its
/// first panel is prefetched in time without committing to it, and its first item's first panel is prefetched while it
/// packs.</item>
/// </list>
/// Both run the micro-kernel over panels (outer) × row panels (inner), so a B micro-panel serves every row panel, and
/// add the bias to each tile just after its last slice, while the tile is in L1.
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

    /// <summary>Rows of x per row task (tasks are cut at whole row panels).</summary>
    public static int McRows { get; set; } = 240;

    /// <summary>
    /// Whether full tiles run the family's streaming kernel (AVX-512: the next weight panel prefetched one line per 8 k
    /// steps inside the kernel; 5–9 % faster with weights from memory than the bursts of prefetches before each call,
    /// <c>linear --cold --versus 256:240:burst</c>). Without one, or when false, the bursts. Settable for measurement.
    /// </summary>
    public static bool StreamPrefetch { get; set; } = true;

    /// <summary>
    /// Whether the few-rows plan reads x in place with the family's row-major kernels (<see cref="GemmDriver.RowKernels"/>,
    /// AVX-512) instead of packing it first; families without them always pack. Settable for measurement.
    /// </summary>
    public static bool RowMajorA { get; set; } = true;

    /// <summary>Row tasks per thread wanted; fewer row tasks than this take the few-rows plan.</summary>
    private const int TasksPerThread = 2;

    /// <summary>Row panels of x per packing piece in the few-rows plan.</summary>
    private const int PackPanels = 4;

    [ThreadStatic] private static GemmDriver.NativeBuffer? t_packA;
    [ThreadStatic] private static GemmDriver.NativeBuffer? t_sharedA;

    /// <summary>y = x·Wᵀ (+ bias when not null); x is [m, w.K] and y [m, w.N], both dense row-major.</summary>
    public static void Linear(CpuParallel par, float* x, int m, PackedWeight w, float* bias, float* y) =>
        Linear(par, x, w.K, m, w, bias, y, w.N);

    /// <summary>
    /// y = x·Wᵀ (+ bias when not null); x is [m, w.K] with rows <paramref name="ldx"/> (≥ w.K) floats apart, y [m, w.N]
    /// with rows <paramref name="ldy"/> (≥ w.N) floats apart; y's columns past N are not written.
    /// </summary>
    public static void Linear(CpuParallel par, float* x, int ldx, int m, PackedWeight w, float* bias, float* y, int ldy)
    {
        if (ldx < w.K) throw new ArgumentOutOfRangeException(nameof(ldx), ldx, $"x's rows must be at least K = {w.K} floats apart.");
        if (ldy < w.N) throw new ArgumentOutOfRangeException(nameof(ldy), ldy, $"y's rows must be at least N = {w.N} floats apart.");
        int mr = w.Mr, mPanels = (m + mr - 1) / mr, perTask = Math.Max(1, McRows / mr);
        int mTasks = (mPanels + perTask - 1) / perTask;
        // Parallel when the product is big enough, or the weight alone is (M = 1: the weight's memory traffic).
        bool parallel = par.Threads > 1 && (double)Math.Max(m, 8) * w.N * w.K >= GemmDriver.ParallelThreshold;
        var a = new Args
        {
            X = x, Ldx = ldx, Y = y, Ldy = ldy, Bias = bias, B = w.Data, M = m, N = w.N, K = w.K, KcStep = w.KcStep, Panels = w.Panels,
            MPanels = mPanels, MTasks = mTasks, Kernel = GemmDriver.Micro(w.Kind),
        };
        if (!parallel || mTasks >= par.Threads * TasksPerThread)
        {
            if (parallel) par.For(mTasks, 1, &RowTaskBody, &a);
            else RowTaskBody(&a, 0, 0, mTasks);
            return;
        }
        // Few rows: x read in place by the row-major kernels, or else packed once into slices (slice at pc: M-panels × kc
        // at pc·MP·MR), shared by every item.
        a.RowMajor = RowMajorA && a.Kernel.Rows.Available && RowsSpreadOverSets(ldx, mr);
        if (!a.RowMajor)
        {
            a.SharedA = (t_sharedA ??= new GemmDriver.NativeBuffer()).Get((long)mPanels * mr * w.K);
            a.Groups = (mPanels + PackPanels - 1) / PackPanels;
            a.Pieces = a.Groups * ((w.K + w.KcStep - 1) / w.KcStep);
        }
        a.Items = a.MTasks * a.Panels;
        a.Threads = par.Threads;
        int* packed = stackalloc int[a.Pieces];
        new Span<int>(packed, a.Pieces).Clear();
        a.Packed = packed;
        // thread t owns items [t·Items/T, (t+1)·Items/T): front in the low half, end (exclusive) in the high half
        long* ranges = stackalloc long[a.Threads];
        for (int t = 0; t < a.Threads; t++)
            ranges[t] = Range((int)((long)t * a.Items / a.Threads), (int)((long)(t + 1) * a.Items / a.Threads));
        a.Ranges = ranges;
        // one work loop per thread; a helper that starts late finds its range stolen and returns
        par.For(par.Threads, 1, &WorkerBody, &a);
    }

    /// <summary>
    /// Whether MR rows of a row-major x, <paramref name="ld"/> floats apart, fall in at most 4 of each L1d set (64 sets of
    /// 64 B in the x86 L1d of Zen 3 to 5 and recent Intel cores: addresses 4 KiB apart share a set). The row-major kernel
    /// streams the MR rows at once; at 3072 floats apart all 14 rows share one 8-way set and it ran 19–24 % slower than
    /// the packed x, at 768 (4 rows a set) 1–6 % faster (<c>linear --cold --versus 768:240:packed</c>). Embed pads its
    /// 3072-wide MLP hidden rows to 3088 floats for this (the generator's HiddenRowStride; fc2 then ran 1.03–1.06×
    /// faster than on packed dense rows, <c>linear --cold --versus 768:240:padded</c>, docs/benchmarks.md).
    /// </summary>
    internal static bool RowsSpreadOverSets(int ld, int mr)
    {
        const int Sets = 64, Line = 64, MostPerSet = 4;
        Span<int> count = stackalloc int[Sets];
        for (int r = 0; r < mr; r++)
        {
            if (++count[(int)((long)r * ld * sizeof(float) / Line % Sets)] > MostPerSet) return false;
        }
        return true;
    }

    private struct Args
    {
        public float* X, Y, Bias, B, SharedA;
        public int M, N, K, Ldx, Ldy, KcStep, Panels, MPanels, MTasks;
        public GemmDriver.MicroKernel Kernel;

        // the few-rows plan: packing pieces (row groups × slices) claimed in order, each flagged when packed; items
        // (row task, weight panel) in one range per thread, taken from its front by the owner and from its end by the others
        public int Groups, Pieces, Items, Threads;
        public int NextPiece;
        public int* Packed;
        public long* Ranges;

        // the few-rows plan reads x in place (no pieces to pack)
        public bool RowMajor;
    }

    private static void RowTaskBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        for (long t = start; t < end; t++) RunItem(ref a, (int)t, 0, a.Panels, -1);
    }

    /// <summary>
    /// One thread's loop of the few-rows plan: pieces of x to pack until none is left, then the items of its own range
    /// from the front, then items stolen one at a time from the end of the fullest other range. A kernel call waits only
    /// for the piece of x it reads (<see cref="AwaitPiece"/>).
    /// </summary>
    private static void WorkerBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int self = (int)start;
        if (Peek(ref a, self) is var first and >= 0) PrefetchPanel(ref a, first);
        for (int piece; (piece = Interlocked.Increment(ref a.NextPiece) - 1) < a.Pieces;)
        {
            try
            {
                PackPiece(ref a, piece);
            }
            finally
            {
                Volatile.Write(ref a.Packed[piece], 1);
            }
        }
        for (int item; (item = Claim(ref a, self)) >= 0;) RunItem(ref a, item / a.Panels, item % a.Panels, (item % a.Panels) + 1, self);
    }

    /// <summary>
    /// The next item of thread <paramref name="self"/>: the front of its own range, else the last item of the other range
    /// with the most left; −1 when every range is empty.
    /// </summary>
    private static int Claim(ref Args a, int self)
    {
        while (true)
        {
            long v = Volatile.Read(ref a.Ranges[self]);
            int front = (int)v, stop = (int)(v >> 32);
            if (front >= stop) break;
            if (Interlocked.CompareExchange(ref a.Ranges[self], Range(front + 1, stop), v) == v) return front;
        }
        while (Victim(ref a, self) is var victim and >= 0)
        {
            long v = Volatile.Read(ref a.Ranges[victim]);
            int front = (int)v, stop = (int)(v >> 32);
            if (front < stop && Interlocked.CompareExchange(ref a.Ranges[victim], Range(front, stop - 1), v) == v) return stop - 1;
        }
        return -1;
    }

    /// <summary>A range of items as one word, so that its owner and a thief change it with one compare-exchange.</summary>
    private static long Range(int front, int stop) => (uint)front | ((long)stop << 32);

    /// <summary>The other thread whose range has the most items left, or −1 when all are empty.</summary>
    private static int Victim(ref Args a, int self)
    {
        int best = -1, most = 0;
        for (int t = 0; t < a.Threads; t++)
        {
            if (t == self) continue;
            long v = Volatile.Read(ref a.Ranges[t]);
            int left = (int)(v >> 32) - (int)v;
            if (left > most)
            {
                best = t;
                most = left;
            }
        }
        return best;
    }

    /// <summary>The item thread <paramref name="self"/> will most likely take next (its front, else a victim's last), or −1.</summary>
    private static int Peek(ref Args a, int self)
    {
        long v = Volatile.Read(ref a.Ranges[self]);
        if ((int)v < (int)(v >> 32)) return (int)v;
        int victim = Victim(ref a, self);
        return victim < 0 ? -1 : (int)(Volatile.Read(ref a.Ranges[victim]) >> 32) - 1;
    }

    /// <summary>Waits until the piece of x holding row panel <paramref name="rowPanel"/> of the slice at <paramref name="pc"/> is packed.</summary>
    private static void AwaitPiece(ref Args a, int pc, int rowPanel)
    {
        int piece = pc / a.KcStep * a.Groups + rowPanel / PackPanels;
        if (Volatile.Read(ref a.Packed[piece]) != 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref a.Packed[piece]) == 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Rows of x in row groups (PackPanels row panels) × one KC slice, into the shared packed x.</summary>
    private static void PackPiece(ref Args a, int piece)
    {
        int mr = a.Kernel.Mr, g = piece % a.Groups, pc = piece / a.Groups * a.KcStep, kc = Math.Min(a.KcStep, a.K - pc);
        int i0 = g * PackPanels * mr, rows = Math.Min(PackPanels * mr, a.M - i0);
        GemmPacking.PackA(false, a.X, a.Ldx, i0, pc, rows, kc, mr, a.SharedA + (nint)pc * a.MPanels * mr + (nint)i0 * kc);
    }

    /// <summary>Prefetches into L2 the first weight panel (first slice) of a few-rows item.</summary>
    private static void PrefetchPanel(ref Args a, int item)
    {
        if (!Sse.IsSupported) return;
        int q = item % a.Panels, kc = Math.Min(a.KcStep, a.K);
        byte* panel = (byte*)(a.B + (nint)q * a.Kernel.Nr * kc);
        long lines = (long)a.Kernel.Nr * kc * sizeof(float) / 64;
        for (long l = 0; l < lines; l++) Sse.Prefetch1(panel + l * 64);
    }

    /// <summary>
    /// Rows of row task <paramref name="mi"/> × NR panels [q0, q1), every KC slice. <paramref name="self"/> is the
    /// thread of the few-rows plan (−1 otherwise): each kernel call waits for its piece of the shared x (a flag read once
    /// it is packed), and at the last panel of the last slice the item it will likely take next is peeked so that its first
    /// panel becomes the prefetch target.
    /// </summary>
    private static void RunItem(ref Args a, int mi, int q0, int q1, int self)
    {
        int mr = a.Kernel.Mr, nr = a.Kernel.Nr;
        int pm0 = (int)((long)mi * a.MPanels / a.MTasks), pm1 = (int)((long)(mi + 1) * a.MPanels / a.MTasks);
        int i0 = pm0 * mr, mc = Math.Min(pm1 * mr, a.M) - i0;
        if (mc <= 0 || q1 <= q0) return;
        bool shared = a.SharedA != null, rowMajor = a.RowMajor;
        float* packedA = shared || rowMajor ? null : (t_packA ??= new GemmDriver.NativeBuffer()).Get((long)(pm1 - pm0) * mr * a.KcStep);
        float* tile = stackalloc float[mr * nr];
        for (int pc = 0; pc < a.K; pc += a.KcStep)
        {
            int kc = Math.Min(a.KcStep, a.K - pc);
            bool last = pc + kc >= a.K;
            float beta = pc == 0 ? 0f : 1f;
            if (shared) packedA = a.SharedA + (nint)pc * a.MPanels * mr + (nint)i0 * kc;
            else if (!rowMajor) GemmPacking.PackA(false, a.X, a.Ldx, i0, pc, mc, kc, mr, packedA);
            float* slice = a.B + (nint)pc * a.Panels * nr;
            // The next B panel (in this slice, the first of the next slice, or the first of the next likely item) is
            // prefetched into L2 in pieces while this one is used: packed weights come from memory (the model's do not
            // stay cached), and left to the kernel's first pass over the panel they arrive at memory latency.
            long panelLines = (long)nr * kc * sizeof(float) / 64;
            int calls = (mc + mr - 1) / mr;
            long linesPerCall = (panelLines + calls - 1) / calls;
            for (int q = q0; q < q1; q++)
            {
                int cols = Math.Min(nr, a.N - q * nr);
                float* bPanel = slice + (nint)q * nr * kc;
                float* cStrip = a.Y + (nint)i0 * a.Ldy + q * nr;
                byte* nextPanel = null;
                if (q + 1 < q1) nextPanel = (byte*)(bPanel + (nint)nr * kc);
                else if (!last) nextPanel = (byte*)(a.B + (nint)(pc + kc) * a.Panels * nr + (nint)q0 * nr * Math.Min(a.KcStep, a.K - pc - kc));
                else if (self >= 0 && Peek(ref a, self) is var next and >= 0)
                    nextPanel = (byte*)(a.B + (nint)(next % a.Panels) * nr * Math.Min(a.KcStep, a.K));
                long line = 0;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    int rows = Math.Min(mr, mc - ir);
                    float* c = cStrip + (nint)ir * a.Ldy;
                    if (shared) AwaitPiece(ref a, pc, pm0 + (ir / mr));
                    // row-major: this row panel's rows of x at column pc, read in place
                    float* xRows = rowMajor ? a.X + (nint)(i0 + ir) * a.Ldx + pc : null;
                    if (StreamPrefetch && a.Kernel.Stream != null && cols == nr && rows == mr)
                    {
                        // the kernel prefetches kc / StreamSteps lines spread over its loop; they stay inside the next panel
                        long lines = kc / a.Kernel.StreamSteps;
                        byte* pf = nextPanel != null ? nextPanel + Math.Min(line, panelLines - lines) * 64 : (byte*)bPanel;
                        line += lines;
                        if (rowMajor) a.Kernel.Rows.Full(kc, xRows, a.Ldx, bPanel, c, a.Ldy, 1f, beta, pf);
                        else a.Kernel.Stream(kc, packedA + (nint)ir * kc, bPanel, c, a.Ldy, 1f, beta, pf);
                    }
                    else
                    {
                        if (nextPanel != null && Sse.IsSupported)
                        {
                            for (long stop = Math.Min(panelLines, line + linesPerCall); line < stop; line++) Sse.Prefetch1(nextPanel + line * 64);
                        }
                        if (rowMajor) GemmDriver.RowsTile(a.Kernel, kc, xRows, a.Ldx, bPanel, c, a.Ldy, rows, cols, 1f, beta, tile, (byte*)bPanel);
                        else GemmDriver.KernelTile(a.Kernel, kc, packedA + (nint)ir * kc, bPanel, c, a.Ldy, rows, cols, 1f, beta, tile);
                    }
                    if (last && a.Bias != null) AddBias(c, a.Ldy, rows, a.Bias + q * nr, cols);
                }
            }
        }
    }

    /// <summary>Adds bias[0..cols) to each of <paramref name="rows"/> rows of a tile (just written: in L1).</summary>
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
