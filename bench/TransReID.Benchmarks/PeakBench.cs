using System;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>peak</c>: this machine's single-precision FMA peak, the ceiling every GEMM figure here is read against: each thread
/// runs 12 independent chains of fused multiply-adds on registers of the widest accelerated vector (no memory traffic),
/// (AVX-512, else 256-bit) one thread and then <c>--threads N</c> (default: all cores) at once; best of <c>--runs</c>. On a VM whose cores are
/// shared with other guests it moves from minute to minute: run it next to the measurement it explains.
/// </summary>
internal static class PeakBench
{
    private const string Usage = "usage: peak [--threads N] [--runs 5]";
    private const long Iterations = 20_000_000;

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int threads = Environment.ProcessorCount, runs = 5;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string? value = i + 1 < args.Length ? args[++i] : null;
            switch (option)
            {
                case "--threads" when int.TryParse(value, CultureInfo.InvariantCulture, out threads) && threads >= 1: break;
                case "--runs" when int.TryParse(value, CultureInfo.InvariantCulture, out runs) && runs >= 1: break;
                default:
                    Console.Error.WriteLine($"peak: bad option '{option}' {value}. {Usage}");
                    return 2;
            }
        }
        string width = Vector512.IsHardwareAccelerated ? "512-bit" : "256-bit";
        Console.WriteLine($"# FMA peak, {width} vectors, 12 independent chains per thread, best of {runs}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; " +
            $"load average {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (int n in threads == 1 ? [1] : new[] { 1, threads })
        {
            double best = Enumerable.Range(0, runs).Max(_ => Measure(n));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n} thread{(n == 1 ? "" : "s")}: {best:F1} GFLOP/s"));
        }
        return 0;
    }

    private static double Measure(int threads)
    {
        var workers = new Thread[threads];
        var sums = new float[threads];
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() => sums[id] = Chains());
            workers[t].Start();
        }
        foreach (var w in workers) w.Join();
        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
        if (sums.Any(float.IsNaN)) throw new InvalidOperationException("unreachable: the chains stay finite");
        return threads * (double)Iterations * 12 * lanes * 2 / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains() => Vector512.IsHardwareAccelerated ? Chains512() : Chains256();

    // The two widths as two plain loops: a generic version was not specialised into registers by the JIT (4× slower).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512()
    {
        Vector512<float> m = Vector512.Create(0.9999f), c = Vector512.Create(1e-4f);
        Vector512<float> a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c, a8 = c, a9 = c, a10 = c, a11 = c;
        for (long i = 0; i < Iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256()
    {
        Vector256<float> m = Vector256.Create(0.9999f), c = Vector256.Create(1e-4f);
        Vector256<float> a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c, a8 = c, a9 = c, a10 = c, a11 = c;
        for (long i = 0; i < Iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c); a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c); a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c); a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c); a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }
}
