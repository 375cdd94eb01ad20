using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;
using TransReID.Runtime.IO;

namespace TransReID.Benchmarks;

/// <summary>The CLI's <c>tiny-demo</c> preset (same attribute), for dry runs of the GPU check on the CPU emulator.</summary>
[TransReIDModel(ImageHeight = 64, ImageWidth = 32, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 3, EmbedDim = 48, Heads = 3, Cameras = 3,
    Jpm = true, Classes = 30)]
internal sealed partial class TinyDemo;

/// <summary>
/// The helpers of the GPU check (<c>tools/gpu-check/gpu-check.sh</c>), each printing lines that the check's summary
/// picks up:
/// <list type="bullet">
/// <item><c>cuda-info</c>: the CUDA backend's name (device, driver, NVRTC, cuBLAS), memory, launch limits, and whether
/// NVRTC compiles the toolkit headers a bf16 kernel would need, with and without an include path
/// (<c>header probe:</c> lines).</item>
/// <item><c>weights PATH [SEED] [market|tiny]</c>: random weights (official names) of the CLI's
/// <c>market-vit-transreid-stride</c> preset, or of <c>tiny-demo</c>, for a CLI embed on two devices.</item>
/// <item><c>compare A B [TOL]</c>: the <c>embeddings</c> of two CLI outputs: relative L2, max |diff|, min cosine,
/// non-finite count; exit 1 past the tolerance (<c>compare</c> line).</item>
/// </list>
/// </summary>
internal static class DeviceTools
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary><c>cuda-info</c>.</summary>
    public static int Info(string[] args)
    {
        _ = args;
        if (!KernelCompiler.IsNvrtcAvailable(out string? nvrtc)) Console.WriteLine($"header probe: NVRTC not available: {nvrtc}");
        else HeaderProbe();
        if (!CudaProbe.IsAvailable(out string? reason))
        {
            Console.WriteLine($"backend: no usable CUDA device: {reason}");
            return 1;
        }

        using var backend = new CudaBackend(0);
        (long free, long total) = backend.MemoryInfo();
        Console.WriteLine($"backend: {backend.Name}");
        Console.WriteLine(string.Create(Inv, $"memory: {free >> 20} MiB free of {total >> 20} MiB"));
        Console.WriteLine($"limits: {backend.LaunchLimits}");
        return 0;
    }

    /// <summary>
    /// Compiles a one-line kernel that includes each header, once without and once with the toolkit's include folder:
    /// whether a user's machine with the driver and NVRTC but no toolkit headers can build bf16/fp16/mma kernels.
    /// </summary>
    private static void HeaderProbe()
    {
        (string Header, string Source)[] probes =
        [
            ("cuda_bf16.h", "#include <cuda_bf16.h>\nextern \"C\" __global__ void k(__nv_bfloat16* p) { p[0] = __float2bfloat16(1.0f); }\n"),
            ("cuda_fp16.h", "#include <cuda_fp16.h>\nextern \"C\" __global__ void k(__half* p) { p[0] = __float2half(1.0f); }\n"),
            ("mma.h", "#include <mma.h>\nusing namespace nvcuda;\nextern \"C\" __global__ void k(float* p) { wmma::fragment<wmma::accumulator, 16, 16, 16, float> c; wmma::fill_fragment(c, 0.0f); wmma::store_matrix_sync(p, c, 16, wmma::mem_row_major); }\n"),
            ("cuda/std/cstdint", "#include <cuda/std/cstdint>\nextern \"C\" __global__ void k(cuda::std::uint32_t* p) { p[0] = 1; }\n"),
        ];
        string include = KernelCompiler.IncludePaths().FirstOrDefault() ?? "/usr/local/cuda/include";
        foreach (bool withInclude in new[] { false, true })
        {
            foreach ((string header, string source) in probes)
            {
                var options = new List<string> { "--gpu-architecture=compute_90", "--std=c++17" };
                if (withInclude) options.Add($"--include-path={include}");
                string verdict;
                try
                {
                    KernelCompiler.CompileSource("probe.cu", source, [], options, cubin: false, out _);
                    verdict = "OK";
                }
                catch (NvrtcException e)
                {
                    string log = e.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
                    verdict = $"FAILS ({e.StatusName}): {log[..Math.Min(log.Length, 160)]}";
                }

                Console.WriteLine($"header probe: <{header}> {(withInclude ? $"with --include-path={include}" : "without --include-path")}: {verdict}");
            }
        }
    }

    /// <summary><c>weights PATH [SEED] [market|tiny]</c>.</summary>
    public static int Weights(string[] args)
    {
        if (args.Length < 1) return Usage("weights PATH [SEED] [market|tiny]");
        int seed = args.Length > 1 ? int.Parse(args[1], Inv) : 1;
        string which = args.Length > 2 ? args[2] : "market";
        return which switch
        {
            "market" => Save<MarketStride>(args[0], seed),
            "tiny" => Save<TinyDemo>(args[0], seed),
            _ => Usage("weights PATH [SEED] [market|tiny]"),
        };
    }

    private static int Save<T>(string path, int seed)
        where T : Runtime.Model.ITransReIDModel<T>
    {
        using var model = T.Create(Device.Cpu, seed);
        model.Save(path);
        Console.WriteLine($"wrote random {typeof(T).Name} weights (seed {seed}) to {path}");
        return 0;
    }

    /// <summary><c>compare A B [TOL]</c>.</summary>
    public static int Compare(string[] args)
    {
        if (args.Length < 2) return Usage("compare A.safetensors B.safetensors [TOLERANCE]");
        double tolerance = args.Length > 2 ? double.Parse(args[2], Inv) : 1e-4;
        using var fa = SafetensorsFile.Open(args[0]);
        using var fb = SafetensorsFile.Open(args[1]);
        SafetensorsEntry ta = fa.GetEntry("embeddings"), tb = fb.GetEntry("embeddings");
        if (!ta.Shape.SequenceEqual(tb.Shape))
        {
            Console.WriteLine($"compare: shapes differ: [{string.Join(", ", ta.Shape)}] vs [{string.Join(", ", tb.Shape)}] -> FAIL");
            return 1;
        }

        float[] x = fa.ReadF32("embeddings"), y = fb.ReadF32("embeddings");
        int rows = checked((int)ta.Shape[0]), dim = checked((int)ta.Shape[1]);
        double num = 0, den = 0, maxAbs = 0, minCos = 1;
        int nonFinite = 0;
        for (int r = 0; r < rows; r++)
        {
            double dot = 0, nx = 0, ny = 0;
            for (int c = 0; c < dim; c++)
            {
                double p = x[(long)r * dim + c], q = y[(long)r * dim + c];
                if (!double.IsFinite(p) || !double.IsFinite(q)) nonFinite++;
                num += (p - q) * (p - q);
                den += p * p;
                maxAbs = Math.Max(maxAbs, Math.Abs(p - q));
                dot += p * q;
                nx += p * p;
                ny += q * q;
            }

            minCos = Math.Min(minCos, dot / Math.Sqrt(nx * ny));
        }

        double rel = Math.Sqrt(num / den);
        bool ok = nonFinite == 0 && rel <= tolerance;
        Console.WriteLine(string.Create(Inv,
            $"compare {rows}x{dim}: relative L2 {rel:E3}, max |diff| {maxAbs:E3}, min cosine {minCos:F9}, non-finite {nonFinite} -> {(ok ? "PASS" : "FAIL")} (tolerance {tolerance:E1})"));
        return ok ? 0 : 1;
    }

    private static int Usage(string text)
    {
        Console.Error.WriteLine($"usage: TransReID.Benchmarks {text}");
        return 2;
    }
}
