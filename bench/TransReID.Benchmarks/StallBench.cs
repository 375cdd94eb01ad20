using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>stalls</c>: how much of its time each of <c>--threads N</c> (default: all cores) busy threads loses to the machine.
/// Each thread only reads the clock for <c>--seconds</c>; a gap of over 50 µs between two reads is time its core was
/// taken (by another guest's vCPU, the host, an interrupt, another thread). A parallel op waits for its slowest thread,
/// so these gaps are what a static split of work cannot absorb.
/// </summary>
internal static class StallBench
{
    private const string Usage = "usage: stalls [--threads N] [--seconds 10]";

    /// <summary>Upper bounds (µs) of the gap classes counted, the last one open.</summary>
    private static readonly double[] Bounds = [200, 1000, 3000, double.PositiveInfinity];

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int threads = Environment.ProcessorCount;
        double seconds = 10;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string? value = i + 1 < args.Length ? args[++i] : null;
            switch (option)
            {
                case "--threads" when int.TryParse(value, CultureInfo.InvariantCulture, out threads) && threads >= 1: break;
                case "--seconds" when double.TryParse(value, CultureInfo.InvariantCulture, out seconds) && seconds > 0: break;
                default:
                    Console.Error.WriteLine($"stalls: bad option '{option}' {value}. {Usage}");
                    return 2;
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# gaps over 50 µs between clock reads, {threads} busy threads, {seconds:F0} s; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average {System.IO.File.ReadAllText("/proc/loadavg").Trim()}"));
        var results = new (double LostMs, long[] Counts)[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => results[t] = Watch(seconds)) { IsBackground = true }).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        Console.WriteLine("| thread | lost ms | lost % | 50–200 µs | 0.2–1 ms | 1–3 ms | > 3 ms |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        for (int t = 0; t < threads; t++)
        {
            var (lost, counts) = results[t];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {t} | {lost:F1} | {100 * lost / (seconds * 1000):F2} | {string.Join(" | ", counts)} |"));
        }
        return 0;
    }

    private static (double LostMs, long[] Counts) Watch(double seconds)
    {
        long gap = Stopwatch.Frequency / 20_000, end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        long last = Stopwatch.GetTimestamp(), lost = 0;
        var counts = new long[Bounds.Length];
        while (last < end)
        {
            long now = Stopwatch.GetTimestamp(), d = now - last;
            if (d > gap)
            {
                lost += d;
                double us = d * 1e6 / Stopwatch.Frequency;
                counts[Array.FindIndex(Bounds, b => us < b)]++;
            }
            last = now;
        }
        return (lost * 1e3 / Stopwatch.Frequency, counts);
    }
}
