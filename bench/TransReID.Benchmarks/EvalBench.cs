using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks;
using TransReID.Evaluation;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>evaluate</c>: times the evaluation protocol on a Market-1501-sized problem with synthetic features.
/// Defaults: 3368 queries, 15913 gallery images (2793 of them distractors, pid 0), 750 identities, 6 cameras,
/// 3840-d features (TransReID with JPM: 5 × 768). Features are a per-identity centre plus uniform noise, so the
/// ranking has realistic structure; the metrics printed are only a sanity check.
/// </summary>
internal static class EvalBench
{
    private const string Usage =
        "usage: evaluate [--queries 3368] [--gallery 15913] [--distractors 2793] [--ids 750] [--cams 6] [--dim 3840] "
        + "[--noise 4.5] [--seed 1] [--repeat 1] [--rerank]";

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int queries = 3368, gallery = 15913, distractors = 2793, ids = 750, cams = 6, dim = 3840, repeat = 1;
        ulong seed = 1;
        double noise = 4.5;
        bool rerank = false;
        int start = args.Length > 0 && args[0] == "evaluate" ? 1 : 0;
        for (int i = start; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--rerank")
            {
                rerank = true;
                continue;
            }

            if (a is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return 0;
            }

            if (i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"evaluate: option '{a}' needs a value. {Usage}");
                return 2;
            }

            string v = args[++i];
            try
            {
                switch (a)
                {
                    case "--queries": queries = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--gallery": gallery = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--distractors": distractors = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--ids": ids = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--cams": cams = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--dim": dim = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--noise": noise = double.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--seed": seed = ulong.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--repeat": repeat = int.Parse(v, CultureInfo.InvariantCulture); break;
                    default:
                        Console.Error.WriteLine($"evaluate: unknown option '{a}'. {Usage}");
                        return 2;
                }
            }
            catch (FormatException)
            {
                Console.Error.WriteLine($"evaluate: '{v}' is not a valid value for {a}.");
                return 2;
            }
        }

        if (queries < 1 || gallery < 1 || ids < 1 || cams < 1 || dim < 1 || repeat < 1 || distractors < 0 || distractors >= gallery)
        {
            Console.Error.WriteLine($"evaluate: sizes must be positive and distractors < gallery. {Usage}");
            return 2;
        }

        var total = Stopwatch.StartNew();
        (float[] qf, int[] qIds, int[] qCams) = Synthetic(queries, 0, ids, cams, dim, noise, seed);
        (float[] gf, int[] gIds, int[] gCams) = Synthetic(gallery, distractors, ids, cams, dim, noise, seed + 1_000_003);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"evaluate: {queries} queries x {gallery} gallery ({distractors} distractors, {ids} ids, {cams} cams), dim {dim}, "
            + $"{Environment.ProcessorCount} logical CPUs; synthetic features in {total.Elapsed.TotalSeconds:F2} s"));
        Console.WriteLine("GEMM: " + TransReID.Runtime.Cpu.CpuGemm.Describe());

        for (int r = 0; r < repeat; r++)
        {
            using var process = Process.GetCurrentProcess();
            var sw = Stopwatch.StartNew();
            TimeSpan cpu0 = process.TotalProcessorTime;
            float[] dist = ReidEvaluator.Distances(qf, queries, gf, gallery, dim);
            double distSeconds = sw.Elapsed.TotalSeconds;
            process.Refresh();
            TimeSpan cpu1 = process.TotalProcessorTime;
            double gflop = 2.0 * queries * gallery * dim / 1e9;

            double rerankSeconds = 0;
            if (rerank)
            {
                sw.Restart();
                float[] qq = ReidEvaluator.Distances(qf, queries, qf, queries, dim);
                float[] gg = ReidEvaluator.Distances(gf, gallery, gf, gallery, dim);
                dist = ReRanking.Apply(dist, qq, gg, queries, gallery, ReRankingOptions.Zhong2017); // docs/benchmarks.md: k1 20, k2 6
                rerankSeconds = sw.Elapsed.TotalSeconds;
            }

            process.Refresh();
            TimeSpan cpu2 = process.TotalProcessorTime;
            sw.Restart();
            ReidMetrics m = ReidEvaluator.Evaluate(dist, queries, gallery, qIds, qCams, gIds, gCams);
            double rankSeconds = sw.Elapsed.TotalSeconds;
            process.Refresh();
            TimeSpan cpu3 = process.TotalProcessorTime;
            string rerankPart = rerank
                ? string.Create(CultureInfo.InvariantCulture, $", re-ranking (qq+gg+k-reciprocal) {rerankSeconds:F3} s")
                : string.Empty;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {r + 1}: distances {distSeconds:F3} s ({gflop / distSeconds:F1} GFLOP/s){rerankPart}"
                + $", ranking+metrics {rankSeconds:F3} s, evaluation total {distSeconds + rerankSeconds + rankSeconds:F3} s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  process CPU time: distances {(cpu1 - cpu0).TotalSeconds:F3} s, ranking+metrics {(cpu3 - cpu2).TotalSeconds:F3} s"));
            Console.WriteLine("  " + m);
        }

        return 0;
    }

    /// <summary>
    /// count rows: the first <paramref name="distractors"/> are pid 0 (noise only), the rest cycle through pids
    /// 1..ids; cameras uniform in 1..cams. Deterministic for a seed (one generator per row).
    /// </summary>
    private static (float[] Features, int[] Ids, int[] Cams) Synthetic(int count, int distractors, int ids, int cams, int dim,
        double noise, ulong seed)
    {
        var centres = new float[(long)ids * dim];
        FillUniform(centres, 0xC0FFEE, 1.0f);
        var features = new float[(long)count * dim];
        var pid = new int[count];
        var cam = new int[count];
        Parallel.For(0, count, i =>
        {
            ulong state = SplitMix(seed ^ ((ulong)i * 0x9E3779B97F4A7C15UL));
            pid[i] = i < distractors ? 0 : 1 + ((i - distractors) % ids);
            cam[i] = 1 + (int)(Next(ref state) % (ulong)cams);
            Span<float> row = features.AsSpan(i * dim, dim);
            ReadOnlySpan<float> centre = pid[i] == 0 ? default : centres.AsSpan((pid[i] - 1) * dim, dim);
            for (int d = 0; d < dim; d++)
            {
                float u = (float)(((Next(ref state) >> 11) * (1.0 / (1UL << 53)) * 2) - 1);
                row[d] = (pid[i] == 0 ? 0 : centre[d]) + ((float)noise * u);
            }
        });
        return (features, pid, cam);
    }

    private static void FillUniform(float[] values, ulong seed, float scale)
    {
        ulong state = SplitMix(seed);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = scale * (float)(((Next(ref state) >> 11) * (1.0 / (1UL << 53)) * 2) - 1);
        }
    }

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>xorshift64* step.</summary>
    private static ulong Next(ref ulong state)
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DUL;
    }
}
