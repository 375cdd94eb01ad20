using System;
using System.Collections.Generic;
using System.IO;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>The library resolver's probing order (pure path logic on fake files; nothing is loaded).</summary>
public sealed class LibrariesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "transreid-libs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Touch(string relative)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    private static Func<string, string?> Env(Dictionary<string, string> values) => name => values.GetValueOrDefault(name);

    [Fact]
    public void Nvrtc_prefers_override_then_CUDA_PATH_then_LD_LIBRARY_PATH_and_13_before_12()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Linux sonames");
        string overrideFile = Touch("custom/libnvrtc.so.11.2");
        string cuda12 = Touch("cuda/lib64/libnvrtc.so.12");
        string cuda13 = Touch("cuda/lib64/libnvrtc.so.13");
        string ld12 = Touch("ld/libnvrtc.so.12");
        List<string> c = Libraries.Candidates(Libraries.Nvrtc, Env(new()
        {
            [Libraries.NvrtcPathVariable] = overrideFile,
            ["CUDA_PATH"] = Path.Combine(_root, "cuda"),
            ["LD_LIBRARY_PATH"] = Path.Combine(_root, "ld") + ":/nonexistent",
        }));
        Assert.Equal(overrideFile, c[0]);
        Assert.Equal(cuda13, c[1]);
        Assert.Equal(cuda12, c[2]);
        Assert.Equal(ld12, c[3]);
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12"], c[^2..]);
    }

    [Fact]
    public void Override_may_name_a_folder()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Linux sonames");
        string lib = Touch("dir/libcublas.so.12");
        List<string> c = Libraries.Candidates(Libraries.Cublas, Env(new() { [Libraries.CublasPathVariable] = Path.Combine(_root, "dir") }));
        Assert.Equal(lib, c[0]);
    }

    [Fact]
    public void Driver_is_never_taken_from_the_toolkit_stubs_folder()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Linux sonames");
        Touch("cuda/lib64/stubs/libcuda.so.1");
        List<string> c = Libraries.Candidates(Libraries.Cuda, Env(new() { ["CUDA_PATH"] = Path.Combine(_root, "cuda") }));
        Assert.DoesNotContain(c, p => p.Contains("stubs", StringComparison.Ordinal));
        Assert.Equal("libcuda.so.1", c[^1]);
    }

    [Fact]
    public void CublasLt_of_the_same_major_is_found_next_to_cublas()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Linux sonames");
        string cublas = Touch("x/libcublas.so.13");
        string lt = Touch("x/libcublasLt.so.13");
        Assert.Equal(lt, Libraries.CublasLtFor(cublas));
        Assert.Null(Libraries.CublasLtFor(Touch("y/libcublas.so.12")));
        Assert.Equal("libcublasLt.so.12", Libraries.CublasLtFor("libcublas.so.12"));
    }

    [Fact]
    public void Nvrtc_builtins_next_to_a_candidate_are_listed_for_preloading()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Linux sonames");
        string nvrtc = Touch("n/libnvrtc.so.13");
        string builtins = Touch("n/libnvrtc-builtins.so.13.0");
        Assert.Equal([builtins], Libraries.NvrtcBuiltinsFor(nvrtc));
        Assert.Empty(Libraries.NvrtcBuiltinsFor("libnvrtc.so.13"));
    }

    [Fact]
    public void Unknown_logical_name_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Libraries.Candidates("openblas", _ => null));
        Assert.Contains("unknown library", Libraries.Load("openblas").Failure, StringComparison.Ordinal);
    }
}
