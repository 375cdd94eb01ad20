using System;
using System.Collections.Generic;

namespace TransReID.Benchmarks;

/// <summary>
/// Benchmark entry point: <c>dotnet run -c Release --project bench/TransReID.Benchmarks -- &lt;command&gt; [options]</c>.
/// Each command lives in its own file as a static <c>Run(string[] args)</c> returning the exit code; it receives the
/// arguments after the command name. To add one, add a line to <see cref="Commands"/>.
/// </summary>
internal static class Program
{
    private static readonly Dictionary<string, (string Summary, Func<string[], int> Run)> Commands = new(StringComparer.Ordinal)
    {
        ["gemm"] = ("CPU SGEMM GFLOP/s, managed kernel vs OpenBLAS, on the model's GEMM shapes", GemmBench.Run),
        ["peak"] = ("FMA peak GFLOP/s of this machine (register-only FMA chains), one thread and all", PeakBench.Run),
        ["stalls"] = ("time busy threads lose to the machine (gaps over 50 us between clock reads), per thread", StallBench.Run),
        ["kernel"] = ("GFLOP/s of the managed GEMM micro-kernel alone, one thread, operands in cache", KernelBench.Run),
        ["linear"] = ("CPU Linear GFLOP/s at batch 1 and 8: OpenBLAS, managed, managed with weights packed once", LinearBench.Run),
        ["embed"] = ("CPU Embed images/s of the Market stride model (batch 8), per GEMM provider", ModelBench.Embed),
        ["train"] = ("CPU TrainStep images/s of the Market stride model (batch 16), per GEMM provider", ModelBench.Train),
        ["attention"] = ("CPU attention forward ms per call at batch 1 and 8, fused AVX2 vs AVX-512 (--gemm: and the fallback)", AttentionBench.Run),
        ["profile"] = ("time per backend op of one Embed (--train: TrainStep) of the Market stride model", ProfileBench.Run),
        ["evaluate"] = ("evaluation protocol (CMC/mAP) on a Market-1501-sized synthetic problem", EvalBench.Run),
        ["cuda-info"] = ("CUDA backend, memory, launch limits, NVRTC header probe (GPU check)", DeviceTools.Info),
        ["weights"] = ("PATH [SEED]: random Market stride weights with the official names (GPU check)", DeviceTools.Weights),
        ["compare"] = ("A B [TOL]: relative L2 of the 'embeddings' of two CLI outputs (GPU check)", DeviceTools.Compare),
    };

    public static int Main(string[] args)
    {
        if (args.Length > 0 && Commands.TryGetValue(args[0], out var command)) return command.Run(args[1..]);
        bool help = args.Length == 0 || args[0] is "-h" or "--help" or "help";
        var output = help ? Console.Out : Console.Error;
        if (!help) output.WriteLine($"unknown benchmark '{args[0]}'.");
        output.WriteLine("usage: TransReID.Benchmarks <command> [options]; commands:");
        foreach (var (name, (summary, _)) in Commands) output.WriteLine($"  {name,-12} {summary}");
        return help ? 0 : 2;
    }
}
