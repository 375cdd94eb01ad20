using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>
/// Every kernel file compiles cleanly (no warnings) with NVRTC for sm_90, generic and specialised with the ViT-B
/// constants; needs NVRTC only, not a GPU. Plus static checks of the sources and of the kernel table.
/// </summary>
public sealed partial class KernelCompileTests
{
    /// <summary>The constants a stride-12 ViT-B TransReID model specialises the kernels with.</summary>
    internal static readonly KeyValuePair<string, long>[] VitConstants =
    [
        new("DIM", 768), new("TOKENS", 211), new("HEADS", 12), new("HEAD_DIM", 64), new("PARTS", 4),
    ];

    public static TheoryData<string> KernelFiles => [.. KernelSources.KernelFiles];

    /// <summary>The files whose code depends on a model constant (the others compile to the same CUBIN either way).</summary>
    public static TheoryData<string> SpecialisedKernelFiles =>
        [.. KernelSources.KernelFiles.Where(f => KernelSources.Read(f).Contains("TR_DIM", StringComparison.Ordinal)
            || KernelSources.Read(f).Contains("TR_TOKENS", StringComparison.Ordinal))];

    [Fact]
    public void Kernel_sources_are_embedded()
    {
        Assert.Equal(["attention.cu", "layernorm.cu"], SpecialisedKernelFiles.Select(r => r.Data));
        Assert.Contains("layernorm.cu", KernelSources.KernelFiles);
        Assert.Contains(KernelSources.Headers, h => h.Key == "common.cuh");
        Assert.True(KernelSources.KernelFiles.Count >= 11, $"only {KernelSources.KernelFiles.Count} kernel files embedded");
    }

    [Theory]
    [MemberData(nameof(KernelFiles))]
    public void Kernel_file_compiles_for_sm_90(string file)
    {
        TestEnvironment.RequireNvrtc();
        byte[] cubin = KernelCompiler.CompileSource(file, KernelSources.Read(file), KernelSources.Headers,
            KernelCompiler.Options("sm_90", []), cubin: true, out string log);
        AssertCleanCubin(file, cubin, log);
    }

    [Theory]
    [MemberData(nameof(SpecialisedKernelFiles))]
    public void Kernel_file_compiles_for_sm_90_specialised(string file)
    {
        TestEnvironment.RequireNvrtc();
        byte[] cubin = KernelCompiler.CompileSource(file, KernelSources.Read(file), KernelSources.Headers,
            KernelCompiler.Options("sm_90", VitConstants), cubin: true, out string log);
        AssertCleanCubin(file, cubin, log);
    }

    [Fact]
    public void Kernel_files_compile_to_ptx_for_the_driver_fallback()
    {
        TestEnvironment.RequireNvrtc();
        byte[] ptx = KernelCompiler.CompileSource("gelu.cu", KernelSources.Read("gelu.cu"), KernelSources.Headers,
            KernelCompiler.Options("compute_80", []), cubin: false, out string log);
        string text = System.Text.Encoding.ASCII.GetString(ptx);
        Assert.Equal(0, ptx[^1]); // cuModuleLoadData needs the terminating NUL
        Assert.Contains(".entry gelu_forward", text, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", log, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Nvrtc_supports_sm_90_and_reports_its_version()
    {
        TestEnvironment.RequireNvrtc();
        (int major, int minor) = KernelCompiler.NvrtcVersion();
        Assert.True(major >= 11, $"NVRTC {major}.{minor}");
        Assert.Contains(90, KernelCompiler.SupportedArchitectures());
        Assert.Equal(("sm_90", true), KernelCompiler.TargetFor(90, KernelCompiler.SupportedArchitectures()));
    }

    [Fact]
    public void Compile_error_carries_function_status_and_whole_log()
    {
        TestEnvironment.RequireNvrtc();
        const string source = "#include \"common.cuh\"\nextern \"C\" __global__ void broken(float* y) { y[0] = undefined_name; }\n";
        var e = Assert.Throws<NvrtcException>(() => KernelCompiler.CompileSource("broken.cu", source, KernelSources.Headers,
            KernelCompiler.Options("sm_90", []), cubin: true, out _));
        Assert.Equal("nvrtcCompileProgram", e.Function);
        Assert.Equal("NVRTC_ERROR_COMPILATION", e.StatusName);
        Assert.Contains("undefined_name", e.Log, StringComparison.Ordinal);
        Assert.Contains("broken.cu", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Log, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TargetFor_uses_the_device_sm_or_falls_back_to_ptx_of_the_newest_older_arch()
    {
        int[] supported = [75, 80, 86, 89, 90];
        Assert.Equal(("sm_86", true), KernelCompiler.TargetFor(86, supported));
        Assert.Equal(("compute_90", false), KernelCompiler.TargetFor(100, supported));
        Assert.Equal(("compute_80", false), KernelCompiler.TargetFor(84, supported));
        var e = Assert.Throws<NvrtcException>(() => KernelCompiler.TargetFor(61, supported));
        Assert.Contains("sm_61", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_carry_arch_and_constants_and_reject_bad_names()
    {
        List<string> options = KernelCompiler.Options("sm_90", VitConstants);
        Assert.Equal("--gpu-architecture=sm_90", options[0]);
        Assert.Contains("-DTOKENS=211", options);
        Assert.Contains("-DHEAD_DIM=64", options);
        var e = Assert.Throws<ArgumentException>(() => KernelCompiler.Options("sm_90", [new("dim; rm", 1)]));
        Assert.Contains("'dim; rm'", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => KernelCompiler.ValidateDefineName("1DIM"));
    }

    [Fact]
    public void Every_kernel_in_the_table_is_defined_extern_C_in_its_file()
    {
        foreach ((string file, string name, int maxThreads) in CudaKernels.Entries)
        {
            string source = KernelSources.Read(file);
            string bounds = maxThreads > 0 ? $@"__launch_bounds__\({maxThreads}\) " : "";
            Assert.True(Regex.IsMatch(source, $@"extern ""C"" __global__ void {bounds}{Regex.Escape(name)}\("),
                $"{file} does not define extern \"C\" __global__ void {bounds.Replace("\\", "", StringComparison.Ordinal)}{name}(");
        }
    }

    [Fact]
    public void Every_kernel_defined_in_a_file_is_in_the_table()
    {
        var table = CudaKernels.Entries.ToHashSet();
        foreach (string file in KernelSources.KernelFiles)
        {
            foreach (Match m in KernelDefinition().Matches(KernelSources.Read(file)))
            {
                int bounds = m.Groups[1].Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
                Assert.Contains((file, m.Groups[2].Value, bounds), table);
            }
        }
    }

    [Theory]
    [MemberData(nameof(KernelFiles))]
    public void Kernel_file_header_lists_ops_and_launch_constraints(string file)
    {
        string source = KernelSources.Read(file);
        Assert.StartsWith($"// {file}:", source, StringComparison.Ordinal);
        string header = string.Concat(source.Split('\n').TakeWhile(l => l.StartsWith("//", StringComparison.Ordinal)));
        Assert.Contains("Launch:", header, StringComparison.Ordinal);
        Assert.Contains("Op", header, StringComparison.Ordinal);
        foreach (Match m in KernelDefinition().Matches(source))
            Assert.True(header.Contains(m.Groups[2].Value, StringComparison.Ordinal), $"{file}'s header does not mention {m.Groups[2].Value}");
    }

    private static void AssertCleanCubin(string file, byte[] cubin, string log)
    {
        Assert.True(cubin.Length > 64, $"{file}: CUBIN of {cubin.Length} bytes");
        Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, cubin[..4]);
        Assert.True(log.Length == 0, $"{file} compiled with messages:\n{log}");
    }

    [GeneratedRegex(@"extern ""C"" __global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(")]
    private static partial Regex KernelDefinition();
}
