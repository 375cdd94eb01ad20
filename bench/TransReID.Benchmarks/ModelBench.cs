using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;
using TransReID.Runtime.Model;

namespace TransReID.Benchmarks;

/// <summary><c>configs/Market/vit_transreid_stride.yml</c>, compiled here by the generator like any user class.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 6, Classes = 751)]
internal sealed partial class MarketStride;

/// <summary>
/// <c>embed</c> and <c>train</c>: images/s of the generated Market stride model on the CPU backend, once per GEMM
/// provider (OpenBLAS when present, then the managed kernel), random weights and inputs, median of timed runs after a
/// warm-up. Options: <c>--batch N</c>, <c>--runs N</c>, <c>--provider openblas|managed|both</c>.
/// </summary>
internal static class ModelBench
{
    public static int Embed(string[] args) => Run(args, training: false, defaultBatch: 8, defaultRuns: 5);

    public static int Train(string[] args) => Run(args, training: true, defaultBatch: 16, defaultRuns: 3);

    private static int Run(string[] args, bool training, int defaultBatch, int defaultRuns)
    {
        int batch = Option(args, "--batch", defaultBatch), runs = Option(args, "--runs", defaultRuns);
        string providers = args.SkipWhile(a => a != "--provider").Skip(1).FirstOrDefault() ?? "both";
        var list = new List<GemmProvider>();
        if (providers is "both" or "openblas")
        {
            if (CpuGemm.OpenBlasAvailable) list.Add(GemmProvider.OpenBlas);
            else Console.WriteLine("OpenBLAS (libopenblas.so.0) not found: managed kernel only");
        }

        if (providers is "both" or "managed") list.Add(GemmProvider.Managed);
        using var model = MarketStride.Create(Device.Cpu, 1);
        var rng = new Rng(7);
        var images = new float[batch * MarketStride.ImageFloats];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        int[] cams = Enumerable.Range(0, batch).Select(i => i % MarketStride.Cameras).ToArray();
        int[] labels = Enumerable.Range(0, batch).Select(i => i / 4).ToArray();
        var features = new float[batch * MarketStride.FeatureDim];
        var sgd = new SgdOptimizer(learningRate: 1e-4);
        Console.WriteLine($"market-vit-transreid-stride {(training ? "TrainStep" : "Embed")}, batch {batch}, {Environment.ProcessorCount} threads, {model.Backend.Name}");
        double flops = MarketStride.ModelInfo.ForwardFlopsPerImage * (training ? 3 : 1);
        foreach (var provider in list)
        {
            CpuGemm.Provider = provider;
            void Once()
            {
                if (training) model.TrainStep(images, labels, cams, default, sgd);
                else model.Embed(images, cams, default, features);
            }

            Once(); // warm-up: arena allocation, JIT
            var times = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                var sw = Stopwatch.StartNew();
                Once();
                times.Add(sw.Elapsed.TotalSeconds);
            }

            times.Sort();
            double median = times[times.Count / 2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {CpuGemm.Describe(),-40} median {median:F3} s/batch  {batch / median,7:F2} images/s  {flops * batch / median / 1e9,6:F1} GFLOP/s (model FLOPs)  runs: {string.Join(", ", times.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}"));
        }

        return 0;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
