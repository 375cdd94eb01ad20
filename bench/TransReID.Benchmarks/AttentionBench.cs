using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cpu;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>attention</c>: ms per call of the CPU attention forward (<see cref="CpuAttention.Forward"/>)
/// at the model's shape (211 tokens, 12 heads of 64) for batch 1 and 8, each path this machine runs (the fused AVX2
/// one, the fused AVX-512 one; <c>--gemm</c> adds the per-pair GEMM fallback) called in turn within one round so load
/// from other processes hits them alike; wall clock, median over the rounds, 2 threads unless <c>--threads</c>.
/// </summary>
internal static unsafe class AttentionBench
{
    private const string Usage = "usage: attention [--runs 200] [--warmup 20] [--threads 2] [--tokens 211] [--gemm] [--eval]";

    private const int Heads = 12, HeadDim = 64;

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Contains("-h") || args.Contains("--help"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        string[] known = ["--runs", "--warmup", "--threads", "--tokens"];
        string? bad = args.Where((x, i) => x != "--gemm" && x != "--eval" && !known.Contains(x) && (i == 0 || !known.Contains(args[i - 1]))).FirstOrDefault();
        int runs = IntOption(args, "--runs", 200, 1), warmup = IntOption(args, "--warmup", 20, 0);
        int threads = IntOption(args, "--threads", 2, 1), tokens = IntOption(args, "--tokens", 211, 1);
        if (bad is not null || runs < 0 || warmup < 0 || threads < 0 || tokens < 0)
        {
            Console.Error.WriteLine($"attention: bad option or value{(bad is null ? "" : $" '{bad}'")}. {Usage}");
            return 2;
        }
        bool gemm = args.Contains("--gemm");
        // --eval: what Embed asks for (the probabilities stay in scratch); otherwise what TrainStep asks for
        bool keepProbs = !args.Contains("--eval");

        var paths = new List<AttentionPath>();
        if (gemm) paths.Add(AttentionPath.Gemm);
        if (CpuAttention.FusedSupported) paths.Add(AttentionPath.Avx2);
        if (CpuAttention.Avx512Supported) paths.Add(AttentionPath.Avx512);
        var par = new CpuParallel(threads);
        Console.WriteLine($"# CPU attention forward, {tokens} tokens, {Heads} heads of {HeadDim}, {threads} threads, wall clock, " +
            $"{(keepProbs ? "probs written" : "eval, probs not written")}, median of {runs} rounds after {warmup} (paths in turn each round); load average {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine();
        Console.WriteLine("| batch | " + string.Join(" | ", paths.Select(p => $"{p} ms")) + " | " +
            string.Join(" | ", paths.Skip(1).Select(p => $"{p} / {paths[0]}")) + " |");
        Console.WriteLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", 2 * paths.Count - 1)));
        foreach (int batch in new[] { 1, 8 })
        {
            int d = Heads * HeadDim;
            long nq = (long)batch * tokens * 3 * d, np = (long)batch * Heads * tokens * tokens, ny = (long)batch * tokens * d;
            float* qkv = GemmBench.Alloc(nq, 1), probs = GemmBench.Alloc(np, 2), y = GemmBench.Alloc(ny, 3);
            for (long i = 0; i < nq; i++) qkv[i] *= 4; // scores of a few units, like the model's
            var times = paths.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < warmup + runs; r++)
            {
                for (int k = 0; k < paths.Count; k++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    CpuAttention.Forward(par, qkv, probs, y, batch, tokens, tokens, Heads, HeadDim, 0.125f, keepProbs, paths[k]);
                    if (r >= warmup) times[k].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }
            double[] ms = times.Select(GemmBench.Median).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {batch} | {string.Join(" | ", ms.Select(m => m.ToString("F3", CultureInfo.InvariantCulture)))} | " +
                $"{string.Join(" | ", ms.Skip(1).Select(m => (m / ms[0]).ToString("F3", CultureInfo.InvariantCulture) + "×"))} |"));
            NativeMemory.AlignedFree(qkv);
            NativeMemory.AlignedFree(probs);
            NativeMemory.AlignedFree(y);
        }
        return 0;
    }

    /// <summary>The integer after <paramref name="name"/> in args, <paramref name="fallback"/> without one, −1 when it is not an integer ≥ <paramref name="min"/>.</summary>
    private static int IntOption(string[] args, string name, int fallback, int min)
    {
        int at = Array.IndexOf(args, name);
        if (at < 0) return fallback;
        return at + 1 < args.Length && int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out int v) && v >= min ? v : -1;
    }
}
