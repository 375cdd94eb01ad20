using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cpu;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>linear</c>: GFLOP/s of the eval forward's Linear, y = x·Wᵀ + b, on the four Linear shapes of a ViT-B block at
/// batch 1 (M = 211) and batch 8 (M = 1688), three ways one after the other (OpenBLAS last, its spinning workers would slow the next): OpenBLAS (<c>cblas_sgemm</c>, which
/// packs W on every call), the managed kernel through <see cref="CpuGemm.Sgemm"/> (packs W on every call), and
/// <see cref="PackedGemm"/> with W packed once beforehand (what the CPU backend does while a model declares its
/// weights constant). All with bias, 2 threads, wall clock, median of the timed rounds. <c>--kc N</c> sets the packed
/// slice depth, <c>--mc N</c> the packed task rows, <c>--kind</c> the kernel family. <c>--versus KC:MC[:burst]</c> instead
/// times two packed configurations against each other (the second with prefetch bursts instead of the streaming kernel
/// when <c>:burst</c>; the few-rows plan packing x instead of reading it in place when <c>:packed</c>; x and y with rows 16 floats
/// longer, as Embed's MLP hidden rows, when <c>:padded</c>), alternating call by call in one process (the only comparison this noisy machine supports).
/// </summary>
internal static unsafe class LinearBench
{
    private const string Usage = "usage: linear [--runs 15] [--warmup 3] [--kc 256] [--mc 240] [--filter text] [--serial] [--cold] [--versus KC:MC[:burst|:packed|:padded]] [--kind 512|256|128]";

    private static bool Cold;

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int runs = 15, warmup = 3;
        string filter = "";
        bool serial = args.Contains("--serial");
        (int Kc, int Mc, string Way)? versus = null;
        Cold = args.Contains("--cold");
        args = args.Where(a => a is not "--serial" and not "--cold").ToArray();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return 0;
            }
            string option = args[i];
            string? value = i + 1 < args.Length ? args[++i] : null;
            switch (option)
            {
                case "--runs" when int.TryParse(value, CultureInfo.InvariantCulture, out runs) && runs >= 1: break;
                case "--warmup" when int.TryParse(value, CultureInfo.InvariantCulture, out warmup) && warmup >= 0: break;
                case "--kc" when int.TryParse(value, CultureInfo.InvariantCulture, out int kc) && kc >= 8: PackedGemm.Kc = kc; break;
                case "--mc" when int.TryParse(value, CultureInfo.InvariantCulture, out int mc) && mc >= 1: PackedGemm.McRows = mc; break;
                case "--filter" when value is not null: filter = value; break;
                case "--kind" when GemmBench.ParseKind(value) is { } kind: GemmDriver.KernelKind = kind; break;
                case "--versus" when value?.Split(':') is [var kcText, var mcText, .. var rest] && rest is [] or ["burst"] or ["packed"] or ["padded"]
                    && int.TryParse(kcText, CultureInfo.InvariantCulture, out int vkc) && vkc >= 8
                    && int.TryParse(mcText, CultureInfo.InvariantCulture, out int vmc) && vmc >= 1:
                    versus = (vkc, vmc, rest is [var way] ? way : "");
                    break;
                default:
                    Console.Error.WriteLine($"linear: bad option '{option}' {value}. {Usage}");
                    return 2;
            }
        }

        var par = new CpuParallel(serial ? 1 : Environment.ProcessorCount);
        bool openBlas = CpuGemm.OpenBlasAvailable && (!serial || OpenBlas.TrySetThreadCount(1));
        Console.WriteLine($"# CPU Linear (y = x·Wᵀ + b), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; " +
            (serial ? "1 thread, the calling thread's CPU time, " : $"{par.Threads} threads, wall clock, ") +
            (Cold ? "weights read from memory (--cold), " : "weights in cache, ") +
            $"median of {runs} runs after {warmup} per way (packed, managed, then OpenBLAS); load average {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"managed: {GemmDriver.DescribeKernel()}; packed once: KC = {PackedGemm.KcFor(GemmDriver.KernelKind)}, task rows {PackedGemm.McRows}; " +
            $"OpenBLAS: {(openBlas ? "present" : "absent")}");
        Console.WriteLine();
        if (versus is { } other) return Versus(par, other.Kc, other.Mc, other.Way, runs, warmup, filter, serial);
        Console.WriteLine("| Linear | M | N | K | OpenBLAS GFLOP/s | managed GFLOP/s | packed once GFLOP/s | packed / best other |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (label, m, n, k) in Shapes(filter))
        {
            double[] g = Measure(par, m, n, k, runs, warmup, openBlas, serial);
            string ob = openBlas ? g[0].ToString("F1", CultureInfo.InvariantCulture) : "-";
            double best = Math.Max(openBlas ? g[0] : 0, g[1]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {m} | {n} | {k} | {ob} | {g[1]:F1} | {g[2]:F1} | {g[2] / best:F2}× |"));
        }
        return 0;
    }

    /// <summary>The four Linear shapes of a ViT-B block at batch 1 and 8 whose label contains <paramref name="filter"/>.</summary>
    private static IEnumerable<(string Label, int M, int N, int K)> Shapes(string filter)
    {
        (string Name, int In, int Out)[] layers = [("qkv", 768, 2304), ("proj", 768, 768), ("fc1", 768, 3072), ("fc2", 3072, 768)];
        foreach (int m in new[] { 211, 1688 })
        {
            foreach (var (name, k, n) in layers)
            {
                string label = $"{name} b{m / 211}";
                if (label.Contains(filter, StringComparison.OrdinalIgnoreCase)) yield return (label, m, n, k);
            }
        }
    }

    /// <summary>
    /// --versus: packed at (Kc, McRows) against packed at (kc2, mc2), call by call alternating; the second with the
    /// prefetch bursts instead of the streaming kernel (<see cref="PackedGemm.StreamPrefetch"/>) when <paramref name="way"/>
    /// is "burst", packing x in the few-rows plan (<see cref="PackedGemm.RowMajorA"/> off) when it is "packed", on x and y
    /// with rows <see cref="PaddedRow"/> floats longer when it is "padded".
    /// </summary>
    private static int Versus(CpuParallel par, int kc2, int mc2, string way2, int runs, int warmup, string filter, bool serial)
    {
        int kc1 = PackedGemm.KcFor(GemmDriver.KernelKind), mc1 = PackedGemm.McRows;
        bool burst = way2 == "burst", packX = way2 == "packed", padded = way2 == "padded";
        Console.WriteLine($"| Linear | M | N | K | KC {kc1}, rows {mc1} GFLOP/s | KC {kc2}, rows {mc2}{(burst ? ", bursts" : packX ? ", x packed" : padded ? $", x and y rows {PaddedRow} floats longer" : "")} GFLOP/s | second / first |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (label, m, n, k) in Shapes(filter))
        {
            float* x = GemmBench.Alloc((long)m * k, 1), b = GemmBench.Alloc(n, 3), y = GemmBench.Alloc((long)m * n, 4);
            // the padded way: the same x with each row followed by PaddedRow unused floats (rows spread over the L1d sets)
            int ldPadded = k + PaddedRow;
            float* xPadded = padded ? GemmBench.Alloc((long)m * ldPadded, 1) : null;
            float* yPadded = padded ? GemmBench.Alloc((long)m * (n + PaddedRow), 4) : null;
            for (long r = 0; padded && r < m; r++) new ReadOnlySpan<float>(x + r * k, k).CopyTo(new Span<float>(xPadded + r * ldPadded, k));
            int copies = Copies(n, k);
            var ws = new nint[copies];
            var packs = new PackedWeight[2, copies];
            for (int c = 0; c < copies; c++)
            {
                ws[c] = (nint)GemmBench.Alloc((long)n * k, 2 + c);
                packs[0, c] = new PackedWeight((float*)ws[c], n, k, GemmDriver.KernelKind, kc1, par);
                packs[1, c] = new PackedWeight((float*)ws[c], n, k, GemmDriver.KernelKind, kc2, par);
            }
            var seconds = new List<double>[2] { new(), new() };
            for (int round = -warmup; round < runs; round++)
            {
                for (int i = 0; i < 2; i++)
                {
                    int way = (round & 1) ^ i, copy = (round + warmup) % copies;
                    PackedGemm.McRows = way == 0 ? mc1 : mc2;
                    PackedGemm.StreamPrefetch = way == 0 || !burst;
                    PackedGemm.RowMajorA = way == 0 || !packX;
                    double start = GemmBench.Now(serial);
                    if (padded && way == 1) PackedGemm.Linear(par, xPadded, ldPadded, m, packs[way, copy], b, yPadded, n + PaddedRow);
                    else PackedGemm.Linear(par, x, m, packs[way, copy], b, y);
                    if (round >= 0) seconds[way].Add(GemmBench.Now(serial) - start);
                }
            }
            PackedGemm.McRows = mc1;
            PackedGemm.StreamPrefetch = true;
            PackedGemm.RowMajorA = true;
            double flops = 2.0 * m * n * k, g1 = flops / GemmBench.Median(seconds[0]) / 1e9, g2 = flops / GemmBench.Median(seconds[1]) / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {m} | {n} | {k} | {g1:F1} | {g2:F1} | {g2 / g1:F2}× |"));
            for (int c = 0; c < copies; c++)
            {
                NativeMemory.AlignedFree((void*)ws[c]);
                packs[0, c].Dispose();
                packs[1, c].Dispose();
            }
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(xPadded);
            NativeMemory.AlignedFree(yPadded);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(y);
        }
        return 0;
    }

    /// <summary>Floats after each row of x and of y in the padded way of --versus: one 64-byte line (as Embed pads its MLP hidden rows).</summary>
    private const int PaddedRow = 16;

    /// <summary>
    /// Copies of an n × k weight that the calls cycle through: with --cold enough of them (96 MiB in all, 3× the L3 of
    /// the Zen 3 it was sized for; a 260 MiB L3 may keep part of them) that each call reads its weight from memory, as
    /// in the model, where the Linear weights of a forward (340 MB) never stay cached between their uses; else one.
    /// </summary>
    private static int Copies(int n, int k) => Cold ? (int)Math.Max(2, (96L << 20) / ((long)n * k * sizeof(float))) : 1;

    private static double[] Measure(CpuParallel par, int m, int n, int k, int runs, int warmup, bool openBlas, bool serial)
    {
        float* x = GemmBench.Alloc((long)m * k, 1), b = GemmBench.Alloc(n, 3), y = GemmBench.Alloc((long)m * n, 4);
        int copies = Copies(n, k);
        var ws = new nint[copies];
        var packs = new PackedWeight[copies];
        for (int c = 0; c < copies; c++)
        {
            ws[c] = (nint)GemmBench.Alloc((long)n * k, 2 + c);
            packs[c] = new PackedWeight((float*)ws[c], n, k, GemmDriver.KernelKind, PackedGemm.KcFor(GemmDriver.KernelKind), par);
        }
        var saved = CpuGemm.Provider;
        try
        {
            var seconds = new List<double>[3] { new(), new(), new() };
            // Way by way, OpenBLAS last: its pthread workers keep spinning after a call and would slow whatever runs next.
            foreach (int way in new[] { 2, 1, 0 })
            {
                if (way == 0 && !openBlas) continue;
                for (int round = -warmup; round < runs; round++)
                {
                    int copy = (round + warmup) % copies;
                    float* w = (float*)ws[copy];
                    double start = GemmBench.Now(serial);
                    if (way == 2) PackedGemm.Linear(par, x, m, packs[copy], b, y);
                    else if (way == 1)
                    {
                        CpuGemm.Provider = GemmProvider.Managed;
                        CpuLinear.Forward(par, x, w, b, y, m, k, n);
                    }
                    else
                    {
                        // as CpuLinear with OpenBLAS: bias rows, then cblas_sgemm with beta = 1 (here also on one thread)
                        for (int r = 0; r < m; r++) new ReadOnlySpan<float>(b, n).CopyTo(new Span<float>(y + (long)r * n, n));
                        OpenBlas.Sgemm(false, true, m, n, k, 1f, x, k, w, k, 1f, y, n);
                    }
                    if (round >= 0) seconds[way].Add(GemmBench.Now(serial) - start);
                }
            }
            double flops = 2.0 * m * n * k;
            return seconds.Select(s => s.Count == 0 ? 0 : flops / GemmBench.Median(s) / 1e9).ToArray();
        }
        finally
        {
            CpuGemm.Provider = saved;
            NativeMemory.AlignedFree(x);
            for (int c = 0; c < copies; c++)
            {
                NativeMemory.AlignedFree((void*)ws[c]);
                packs[c].Dispose();
            }
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(y);
        }
    }
}
