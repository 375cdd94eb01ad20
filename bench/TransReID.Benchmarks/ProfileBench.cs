using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.ML.OnnxRuntime;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;
using TransReID.Runtime.Model;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>profile [--batch N] [--train] [--runs N] [--by-shape] [--kc N] [--mc N] [--threads N] [--compare-packed] [--compare-probs] [--compare-workers] [--compare-stream] [--compare-rows] [--onnxruntime]</c>: wall time per backend op of one Embed (or TrainStep) of the Market stride
/// model, through a timing proxy around the CPU backend. Ops are synchronous on the CPU, so each call's time is its cost.
/// <c>--onnxruntime</c> also runs the exported model in ONNX Runtime before each Embed and prints its kernel time per
/// operator type (<see cref="OrtProfile"/>), and the CPU time each engine's threads keep using in the 200 ms after a call
/// returns (<see cref="IdleTail"/>), which is taken from whatever runs next.
/// </summary>
internal static partial class ProfileBench
{
    public static int Run(string[] args)
    {
        int? Option(string name) =>
            args.Contains(name) ? int.Parse(args[Array.IndexOf(args, name) + 1], CultureInfo.InvariantCulture) : null;
        int batch = Option("--batch") ?? 8;
        bool train = args.Contains("--train");
        int runs = Option("--runs") ?? 1;
        PackedGemm.Kc = Option("--kc") ?? PackedGemm.Kc;
        PackedGemm.McRows = Option("--mc") ?? PackedGemm.McRows;
        int? threads = Option("--threads");
        var cpu = new CpuBackend(threads);
        var timing = new TimingBackend(cpu) { ByShape = args.Contains("--by-shape") };
        using var model = MarketStride.Create(timing, 1);
        var rng = new Rng(7);
        var images = new float[batch * MarketStride.ImageFloats];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        int[] cams = Enumerable.Range(0, batch).Select(i => i % MarketStride.Cameras).ToArray();
        int[] labels = Enumerable.Range(0, batch).Select(i => i / 4).ToArray();
        var sgd = new SgdOptimizer(1e-4);
        void Once()
        {
            if (train) model.TrainStep(images, labels, cams, default, sgd);
            else model.Embed(images, cams);
        }

        Once();
        // --compare-X: two settings alternating call by call in this process (the only comparison this noisy machine supports)
        (string Flag, string On, string Off, Action<bool> Set)[] comparisons =
        [
            // packed-once Linear weights against per-call packing
            ("--compare-packed", "weights packed once", $"packed per call ({CpuGemm.Describe()})", on => ConstantWeights.Enabled = on),
            // the streaming AVX-512 kernel (next weight panel prefetched inside its loop) against prefetch bursts per call
            ("--compare-stream", "streaming kernel", "prefetch bursts", on => PackedGemm.StreamPrefetch = on),
            // Embed's attention without writing the probabilities (what the generated code asks for) against writing them
            ("--compare-probs", "probabilities kept in cache", "written to probs", on => timing.KeepProbs = !on),
            // the backend's own spinning helper threads against .NET thread-pool helpers
            ("--compare-workers", "CpuWorkers helpers", "thread-pool helpers", on => CpuParallel.UseThreadPool = !on),
            // the few-rows Linear reading x in place (row-major kernels) against packing it first
            ("--compare-rows", "x read in place", "x packed", on => PackedGemm.RowMajorA = on),
        ];
        foreach (var (flag, onText, offText, set) in comparisons)
        {
            if (!args.Contains(flag)) continue;
            var (onMs, offMs) = Alternate(runs, set, Once);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(train ? "TrainStep" : "Embed")} batch {batch}, median of {runs} alternating calls each: {onText} {onMs:F1} ms, {offText} {offMs:F1} ms, ratio {offMs / onMs:F3}x"));
            return 0;
        }
        using var ort = args.Contains("--onnxruntime") && !train ? new OrtProfile(model, cpu.Threads, images, cams, batch) : null;
        ort?.Run();
        timing.Times.Clear();
        double seconds = 0;
        for (int r = 0; r < runs; r++)
        {
            ort?.Run();
            long t0 = Stopwatch.GetTimestamp();
            Once();
            seconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double total = seconds / runs;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(train ? "TrainStep" : "Embed")} batch {batch}: {total:F3} s (mean of {runs} after 1 warm-up), {CpuGemm.Describe()}"));
        foreach (var (op, (t, n)) in timing.Times.OrderByDescending(kv => kv.Value.Seconds))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {op,-26} {t / runs,8:F3} s  {100 * t / runs / total,5:F1}%  {n / runs,5} calls"));
        if (ort is not null)
        {
            var (byOp, counted) = ort.Finish();
            double ortTotal = byOp.Sum(o => o.Seconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} on the exported model, alternating with the Embeds above: {ortTotal:F3} s of kernels per run ({counted} runs after 1 warm-up)"));
            foreach (var (op, t, nodes) in byOp)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {op,-26} {t,8:F3} s  {100 * t / ortTotal,5:F1}%  {nodes,5} nodes"));
            var (ortTail, ourTail) = (IdleTail(ort.Run), IdleTail(Once));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CPU time the process spends while idle after a call, per {TailWindowsMs[^1]} ms (mean of {TailRounds}; the windows end {string.Join("/", TailWindowsMs)} ms after it): ONNX Runtime {string.Join("/", ortTail.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))} ms, ours {string.Join("/", ourTail.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))} ms"));
        }
        return 0;
    }

    private static readonly int[] TailWindowsMs = [5, 10, 20, 50, 100, 200];
    private const int TailRounds = 5;

    /// <summary>
    /// CPU time (ms, all threads) the process uses in consecutive windows while the caller sleeps after <paramref name="call"/>,
    /// mean of <see cref="TailRounds"/> calls: what an engine's threads keep spinning after it returns, and so take from
    /// whatever runs next on the same cores.
    /// </summary>
    private static double[] IdleTail(Action call)
    {
        var sums = new double[TailWindowsMs.Length];
        for (int round = 0; round < TailRounds; round++)
        {
            call();
            var start = Stopwatch.GetTimestamp();
            double cpu0 = ProcessCpuMs();
            for (int w = 0; w < TailWindowsMs.Length; w++)
            {
                while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < TailWindowsMs[w]) Thread.Sleep(1);
                double cpu = ProcessCpuMs();
                sums[w] += cpu - cpu0;
                cpu0 = cpu;
            }
        }
        return sums.Select(s => s / TailRounds).ToArray();
    }

    /// <summary>User + system CPU time of the whole process from getrusage (microseconds; Process.TotalProcessorTime
    /// reads /proc in 10 ms clock ticks, too coarse for these windows).</summary>
    private static unsafe double ProcessCpuMs()
    {
        long* usage = stackalloc long[18]; // struct rusage: ru_utime, ru_stime (timeval: seconds, microseconds), 14 longs
        if (GetRUsage(0, usage) != 0) throw new InvalidOperationException("getrusage failed");
        return (usage[0] + usage[2]) * 1e3 + (usage[1] + usage[3]) * 1e-3;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "getrusage")]
    private static unsafe partial int GetRUsage(int who, long* usage);

    /// <summary>
    /// Medians (ms) of <paramref name="runs"/> calls with a setting on and as many with it off, alternating call by call
    /// so both see the same machine state; the setting is left on.
    /// </summary>
    private static (double OnMs, double OffMs) Alternate(int runs, Action<bool> set, Action once)
    {
        var times = new List<double>[] { new(), new() };
        for (int r = 0; r < 2 * runs; r++)
        {
            set(r % 2 == 0);
            long t0 = Stopwatch.GetTimestamp();
            once();
            times[r % 2].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        set(true);
        return (GemmBench.Median(times[0]) * 1e3, GemmBench.Median(times[1]) * 1e3);
    }
}
