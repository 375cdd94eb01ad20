using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cpu;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>kernel</c>: GFLOP/s of the managed GEMM micro-kernel alone, on one thread (its CPU time), with its packed operands
/// in cache: <c>--tiles T</c> MR-row slivers of packed A (KC deep) against one packed B micro-panel, as the drivers call
/// it for one panel, C updated in place (beta = 1). The ceiling the drivers' blocking and packing are measured against.
/// <c>--kind 512|256|128</c> picks the family (default: the best this CPU runs).
/// </summary>
internal static unsafe class KernelBench
{
    private const string Usage = "usage: kernel [--kc 256,768] [--tiles 15] [--runs 15] [--kind 512|256|128] [--panels 1] [--rows]";

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int[] kcs = [128, 256, 768];
        int tiles = 15, runs = 15, panels = 1;
        GemmKernelKind kind = GemmDriver.BestKernel;
        bool rows = args.Contains("--rows");
        args = args.Where(a => a != "--rows").ToArray();
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string? value = i + 1 < args.Length ? args[++i] : null;
            switch (option)
            {
                case "--kc" when value is not null && value.Split(',').All(v => int.TryParse(v, CultureInfo.InvariantCulture, out int kc) && kc >= 1):
                    kcs = value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--tiles" when int.TryParse(value, CultureInfo.InvariantCulture, out tiles) && tiles >= 1: break;
                case "--panels" when int.TryParse(value, CultureInfo.InvariantCulture, out panels) && panels >= 1: break;
                case "--runs" when int.TryParse(value, CultureInfo.InvariantCulture, out runs) && runs >= 1: break;
                case "--kind" when GemmBench.ParseKind(value) is { } parsed: kind = parsed; break;
                default:
                    Console.Error.WriteLine($"kernel: bad option '{option}' {value}. {Usage}");
                    return 2;
            }
        }
        var micro = GemmDriver.Micro(kind);
        var kernel = micro.Kernel;
        int mr = micro.Mr, nr = micro.Nr;
        if (rows && kind != GemmKernelKind.Vector512)
        {
            Console.Error.WriteLine("kernel: --rows is the AVX-512 14×32 kernel over a row-major A; use it with --kind 512");
            return 2;
        }
        Console.WriteLine($"# micro-kernel {kind} {mr}×{nr}{(rows ? " over a row-major A (--rows)" : "")}, one thread (CPU time), {tiles} A slivers × one B panel, in cache, " +
            $"median of {runs}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("| KC | A KiB | B KiB | GFLOP/s |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (int kc in kcs)
        {
            int ldc = panels * nr;
            float* a = GemmBench.Alloc((long)tiles * mr * kc, 1), b = GemmBench.Alloc((long)panels * nr * kc, 2);
            float* c = GemmBench.Alloc((long)tiles * mr * ldc, 3);
            // enough calls per timing that a run lasts about 10 ms
            int reps = (int)Math.Max(1, 2e7 / ((double)tiles * mr * nr * kc * panels));
            var seconds = new List<double>();
            for (int round = -3; round < runs; round++)
            {
                double start = GemmBench.Now(true);
                for (int rep = 0; rep < reps; rep++)
                    for (int q = 0; q < panels; q++)
                        for (int t = 0; t < tiles; t++)
                        {
                            float* bq = b + (nint)q * nr * kc, ct = c + (nint)t * mr * ldc + q * nr;
                            if (rows) GemmKernels.Kernel14x32Rows(kc, a + (nint)t * mr * kc, kc, bq, ct, ldc, 1f, 1f, (byte*)bq);
                            else kernel(kc, a + (nint)t * mr * kc, bq, ct, ldc, 1f, 1f);
                        }
                if (round >= 0) seconds.Add(GemmBench.Now(true) - start);
            }
            double flops = 2.0 * reps * tiles * mr * nr * kc * panels;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {kc} | {tiles * mr * kc * 4 / 1024} | {(long)panels * nr * kc * 4 / 1024} | {flops / GemmBench.Median(seconds) / 1e9:F1} |"));
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
        return 0;
    }
}
