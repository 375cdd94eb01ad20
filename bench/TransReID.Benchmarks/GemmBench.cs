using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cpu;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>gemm</c>: GFLOP/s of <see cref="CpuGemm.Sgemm"/> with each provider on the GEMMs of one ViT-B block at batch 8
/// (M = 8 · 211 tokens = 1688, width 768, MLP 3072): forward Y = X·Wᵀ (W stored [out, in]), the weight gradient
/// dW = dYᵀ·X (transA, K = 1688) and the input gradient dX = dY·W (no transposes, K = out), plus the forward at batch 16
/// (M = 3376). Each shape: warm-up runs, then timed runs with the providers interleaved (so load from other processes
/// hits both alike); the median is reported. Run with <c>env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE</c>, or OpenBLAS
/// is held to the kernels those variables select.
/// <c>--threads 1</c> compares one core: the managed kernel with parallel = false and OpenBLAS set to one thread.
/// With it, <c>--clock thread</c> times the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead of wall time,
/// which all the work runs on; on a machine shared with other processes this measures the code rather than the
/// scheduler (time slices lost to other processes are not counted; cache and memory-bandwidth interference still are).
/// </summary>
internal static unsafe partial class GemmBench
{
    private const string Usage =
        "usage: gemm [--runs 7] [--warmup 2] [--provider both|managed|openblas] [--threads all|1] [--clock wall|thread] [--filter text]";

    private const int Tokens = 211, Width = 768, Hidden = 3072;

    private readonly record struct Shape(string Name, bool TransA, bool TransB, int M, int N, int K);

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int runs = 7, warmup = 2;
        string provider = "both", filter = "", threads = "all", clock = "wall";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return 0;
            }
            if (i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"gemm: option '{args[i]}' needs a value. {Usage}");
                return 2;
            }
            string value = args[++i];
            switch (args[i - 1])
            {
                case "--runs" when int.TryParse(value, CultureInfo.InvariantCulture, out runs) && runs >= 1: break;
                case "--warmup" when int.TryParse(value, CultureInfo.InvariantCulture, out warmup) && warmup >= 0: break;
                case "--provider" when value is "both" or "managed" or "openblas": provider = value; break;
                case "--filter": filter = value; break;
                case "--threads" when value is "all" or "1": threads = value; break;
                case "--clock" when value is "wall" or "thread": clock = value; break;
                case "--packed-b" when long.TryParse(value, CultureInfo.InvariantCulture, out long budget) && budget > 0:
                    TransReID.Runtime.Cpu.GemmDriver.PackedBBudget = budget; // floats of packed op(B) per column block
                    break;
                default:
                    Console.Error.WriteLine($"gemm: bad option '{args[i - 1]} {value}'. {Usage}");
                    return 2;
            }
        }

        var providers = new List<GemmProvider>();
        if (provider is "both" or "managed") providers.Add(GemmProvider.Managed);
        if (provider is "both" or "openblas")
        {
            if (CpuGemm.OpenBlasAvailable) providers.Add(GemmProvider.OpenBlas);
            else Console.Error.WriteLine($"gemm: OpenBLAS not loadable ({OpenBlas.LibraryName}); timing the managed kernel only.");
        }
        if (providers.Count == 0) return 1;
        bool serial = threads == "1";
        if (clock == "thread" && !serial)
        {
            Console.Error.WriteLine("gemm: --clock thread needs --threads 1 (other threads' work would not be counted).");
            return 2;
        }
        int openBlasThreads = OpenBlas.GetThreadCount();
        if (serial && providers.Contains(GemmProvider.OpenBlas) && !OpenBlas.TrySetThreadCount(1))
        {
            Console.Error.WriteLine("gemm: this OpenBLAS has no openblas_set_num_threads; cannot run it on one thread.");
            return 1;
        }
        try
        {
            return RunTable(providers, runs, warmup, filter, serial, clock == "thread");
        }
        finally
        {
            if (serial && openBlasThreads > 0) OpenBlas.TrySetThreadCount(openBlasThreads);
        }
    }

    private static int RunTable(List<GemmProvider> providers, int runs, int warmup, string filter, bool serial, bool threadClock)
    {
        PrintHeader(providers, runs, warmup, serial, threadClock);
        var shapes = Shapes().Where(s => s.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
        string columns = string.Join(" | ", providers.Select(p => $"{Label(p)} GFLOP/s"));
        bool ratio = providers.Count == 2;
        Console.WriteLine($"| GEMM | M | N | K | op(A), op(B) | {columns} |{(ratio ? " managed / OpenBLAS |" : "")}");
        Console.WriteLine($"|---|---:|---:|---:|---|{string.Concat(providers.Select(_ => "---:|"))}{(ratio ? "---:|" : "")}");
        var ratios = new List<double>();
        foreach (var shape in shapes)
        {
            double[] gflops = Measure(shape, providers, runs, warmup, serial, threadClock);
            string cells = string.Join(" | ", gflops.Select(g => g.ToString("F1", CultureInfo.InvariantCulture)));
            string ops = $"{(shape.TransA ? "Aᵀ" : "A")}, {(shape.TransB ? "Bᵀ" : "B")}";
            string r = "";
            if (ratio)
            {
                ratios.Add(gflops[0] / gflops[1]);
                r = $" {gflops[0] / gflops[1] * 100:F0}% |";
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {shape.Name} | {shape.M} | {shape.N} | {shape.K} | {ops} | {cells} |{r}"));
        }
        if (ratios.Count > 0)
        {
            double geo = Math.Exp(ratios.Average(Math.Log));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\nmanaged / OpenBLAS: geometric mean {geo * 100:F0}%, min {ratios.Min() * 100:F0}%, max {ratios.Max() * 100:F0}%"));
        }
        Console.WriteLine($"load average after: {ReadFirstLine("/proc/loadavg")}");
        return 0;
    }

    private static IEnumerable<Shape> Shapes()
    {
        (string Name, int In, int Out)[] layers = [("qkv", Width, 3 * Width), ("proj", Width, Width), ("fc1", Width, Hidden), ("fc2", Hidden, Width)];
        int m8 = 8 * Tokens, m16 = 16 * Tokens;
        foreach (var l in layers) yield return new Shape($"fwd {l.Name}", false, true, m8, l.Out, l.In);
        foreach (var l in layers) yield return new Shape($"dW {l.Name}", true, false, l.Out, l.In, m8);
        foreach (var l in layers) yield return new Shape($"dX {l.Name}", false, false, m8, l.In, l.Out);
        foreach (var l in layers) yield return new Shape($"fwd b16 {l.Name}", false, true, m16, l.Out, l.In);
        foreach (var l in layers) yield return new Shape($"fwd b1 {l.Name}", false, true, Tokens, l.Out, l.In);
    }

    /// <summary>Median GFLOP/s per provider; the providers alternate within each timed round.</summary>
    private static double[] Measure(Shape s, List<GemmProvider> providers, int runs, int warmup, bool serial, bool threadClock)
    {
        int rowsA = s.TransA ? s.K : s.M, lda = s.TransA ? s.M : s.K;
        int rowsB = s.TransB ? s.N : s.K, ldb = s.TransB ? s.K : s.N;
        float* a = Alloc((long)rowsA * lda, 1), b = Alloc((long)rowsB * ldb, 2), c = Alloc((long)s.M * s.N, 3);
        var saved = CpuGemm.Provider;
        try
        {
            var seconds = new double[providers.Count][];
            for (int p = 0; p < providers.Count; p++) seconds[p] = new double[runs];
            for (int round = -warmup; round < runs; round++)
            {
                for (int p = 0; p < providers.Count; p++)
                {
                    CpuGemm.Provider = providers[p];
                    double start = Now(threadClock);
                    CpuGemm.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, c, s.N, parallel: !serial);
                    if (round >= 0) seconds[p][round] = Now(threadClock) - start;
                }
            }
            double flops = 2.0 * s.M * s.N * s.K;
            return seconds.Select(t => flops / Median(t) / 1e9).ToArray();
        }
        finally
        {
            CpuGemm.Provider = saved;
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    /// <summary>Seconds on the wall clock, or CPU seconds of the calling thread.</summary>
    internal static double Now(bool threadClock)
    {
        if (!threadClock) return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
        Timespec ts;
        if (clock_gettime(ClockThreadCpuTime, &ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed.");
        return ts.Seconds + ts.Nanoseconds * 1e-9;
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID (Linux)

    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clockId, Timespec* ts);

    /// <summary>count floats, 64-byte aligned, uniform in [−0.5, 0.5) from <paramref name="seed"/> (free with NativeMemory.AlignedFree).</summary>
    internal static float* Alloc(long count, int seed)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        var rng = new Random(seed);
        for (long i = 0; i < count; i++) p[i] = rng.NextSingle() - 0.5f;
        return p;
    }

    /// <summary>The kernel family a bench's <c>--kind 512|256|128</c> names, or null for any other value.</summary>
    internal static GemmKernelKind? ParseKind(string? value) => value switch
    {
        "512" => GemmKernelKind.Vector512,
        "256" => GemmKernelKind.Vector256,
        "128" => GemmKernelKind.Vector128,
        _ => null,
    };

    internal static double Median(IEnumerable<double> x)
    {
        var sorted = x.Order().ToArray();
        int h = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
    }

    private static string Label(GemmProvider p) => p == GemmProvider.Managed ? "managed" : "OpenBLAS";

    private static void PrintHeader(List<GemmProvider> providers, int runs, int warmup, bool serial, bool threadClock)
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : RuntimeInformation.ProcessArchitecture.ToString();
        Console.WriteLine($"# CPU SGEMM, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {cpu}, {Environment.ProcessorCount} logical processors; {RuntimeInformation.FrameworkDescription}");
        var saved = CpuGemm.Provider;
        foreach (var p in providers)
        {
            CpuGemm.Provider = p;
            string note = serial && p == GemmProvider.Managed ? "; run here with parallel = false, on the calling thread" : "";
            Console.WriteLine($"{Label(p)}: {CpuGemm.Describe()}{note}");
        }
        CpuGemm.Provider = saved;
        foreach (string v in (string[])["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"])
        {
            if (Environment.GetEnvironmentVariable(v) is { } value)
                Console.WriteLine($"note: {v}={value} is set (benchmark with env -u {v} unless that is intended)");
        }
        string mode = serial ? "one thread (managed parallel=false, OpenBLAS 1 thread)" : $"{Environment.ProcessorCount} threads";
        string timing = threadClock ? "calling thread's CPU time" : "wall time";
        Console.WriteLine($"{mode}, {timing}; median of {runs} runs after {warmup} warm-up runs, providers interleaved; " +
                          $"load average before: {ReadFirstLine("/proc/loadavg")}\n");
    }

    private static string ReadFirstLine(string path) => File.Exists(path) ? File.ReadLines(path).FirstOrDefault() ?? "" : "n/a";
}
