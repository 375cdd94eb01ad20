using System;
using System.IO;
using System.Linq;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>
/// Faults that name themselves: launch configurations checked against the device and the kernel's
/// <c>__launch_bounds__</c> before the driver sees them, cached images checked before they are trusted, and the
/// sticky-fault bookkeeping. None of these need a GPU.
/// </summary>
public sealed class FaultReportTests : IDisposable
{
    private static readonly LaunchLimits H100 = new(1024, int.MaxValue, 65535);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "transreid-fault-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Grid_y_over_the_device_limit_is_refused_with_the_kernel_op_and_limit()
    {
        var tracker = new LaunchTracker(0, H100, synchronizeEachLaunch: false);
        var e = Assert.Throws<CudaException>(() => tracker.CheckConfiguration("bias_grad_partial", 256, 24, 70000, 32, 8, "LinearBackward"));
        Assert.Contains("bias_grad_partial", e.Message, StringComparison.Ordinal);
        Assert.Contains("op LinearBackward", e.Message, StringComparison.Ordinal);
        Assert.Contains("grid.y = 70000 exceeds the device's limit of 65535", e.Message, StringComparison.Ordinal);
        // the caller outside the runtime (here: this test) is named
        Assert.Contains(nameof(FaultReportTests), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_block_over_the_kernels_launch_bounds_or_the_device_limit_is_refused()
    {
        var tracker = new LaunchTracker(0, H100, synchronizeEachLaunch: false);
        var bounds = Assert.Throws<CudaException>(() => tracker.CheckConfiguration("layernorm_forward", 256, 10, 1, 512, 1, "LayerNormForward"));
        Assert.Contains("a block of 512 threads exceeds the kernel's __launch_bounds__(256)", bounds.Message, StringComparison.Ordinal);
        var device = Assert.Throws<CudaException>(() => tracker.CheckConfiguration("gelu_forward", 0, 10, 1, 2048, 1, "GeluForward"));
        Assert.Contains("a block of 2048 threads exceeds the device's limit of 1024", device.Message, StringComparison.Ordinal);
        var gridX = Assert.Throws<CudaException>(() => tracker.CheckConfiguration("gelu_forward", 0, uint.MaxValue, 1, 256, 1, "GeluForward"));
        Assert.Contains("grid.x = 4294967295 exceeds", gridX.Message, StringComparison.Ordinal);
        // within every limit: no exception
        tracker.CheckConfiguration("layernorm_forward", 256, 100000, 1, 256, 1, "LayerNormForward");
        tracker.CheckConfiguration("bias_grad_partial", 256, 24, 65535, 32, 8, "LinearBackward");
    }

    [Fact]
    public void Every_launch_in_the_backend_fits_the_kernels_bounds()
    {
        // The backend launches the bounded kernels with Launch.Block (256) or the documented exceptions; a bound lower
        // than what the backend uses would be refused at the first launch, so check the table against those sizes.
        foreach ((string file, string name, int maxThreads) in CudaKernels.Entries.Where(e => e.MaxThreads > 0))
        {
            int launched = name switch
            {
                "cross_entropy" => 1024,
                "batchnorm_eval_backward" => 128,
                _ => Launch.Block,
            };
            Assert.True(launched == maxThreads, $"{file} {name}: __launch_bounds__({maxThreads}) but launched with {launched} threads");
        }
    }

    [Fact]
    public void Sticky_statuses_are_the_ones_that_poison_a_context()
    {
        Assert.True(LaunchTracker.IsSticky(700));  // CUDA_ERROR_ILLEGAL_ADDRESS
        Assert.True(LaunchTracker.IsSticky(719));  // CUDA_ERROR_LAUNCH_FAILED
        Assert.True(LaunchTracker.IsSticky(710));  // CUDA_ERROR_ASSERT
        Assert.False(LaunchTracker.IsSticky(2));   // out of memory: the context stays usable
        Assert.False(LaunchTracker.IsSticky(1));   // invalid value (e.g. a bad launch configuration)
        Assert.False(LaunchTracker.IsSticky(701)); // too many resources requested for launch
    }

    [Fact]
    public void Image_check_accepts_nvrtc_output_and_refuses_lookalikes()
    {
        TestEnvironment.RequireNvrtc();
        var options = KernelCompiler.Options("sm_90", []);
        byte[] cubin = KernelCompiler.CompileSource("gelu.cu", KernelSources.Read("gelu.cu"), KernelSources.Headers, options, cubin: true, out _);
        Assert.True(KernelCompiler.LooksLikeImage(cubin, cubin: true));
        Assert.False(KernelCompiler.LooksLikeImage(cubin, cubin: false));
        byte[] ptx = KernelCompiler.CompileSource("gelu.cu", KernelSources.Read("gelu.cu"), KernelSources.Headers,
            KernelCompiler.Options("compute_90", []), cubin: false, out _);
        Assert.True(KernelCompiler.LooksLikeImage(ptx, cubin: false));
        Assert.False(KernelCompiler.LooksLikeImage(ptx, cubin: true));

        byte[] otherMachine = (byte[])cubin.Clone();
        otherMachine[18] = 62; // EM_X86_64: an ELF file, but not for the GPU
        Assert.False(KernelCompiler.LooksLikeImage(otherMachine, cubin: true));
        byte[] elf32 = (byte[])cubin.Clone();
        elf32[4] = 1;
        Assert.False(KernelCompiler.LooksLikeImage(elf32, cubin: true));
        Assert.False(KernelCompiler.LooksLikeImage(cubin[..40], cubin: true));
        Assert.False(KernelCompiler.LooksLikeImage(ptx.AsSpan().TrimEnd((byte)0), cubin: false)); // not NUL-terminated
        Assert.False(KernelCompiler.LooksLikeImage(""".version 8.0\0"""u8, cubin: false));
    }

    [Fact]
    public void A_cache_entry_with_a_valid_checksum_but_no_cubin_inside_is_recompiled()
    {
        TestEnvironment.RequireNvrtc();
        var compiler = new KernelCompiler(_dir);
        var options = KernelCompiler.Options("sm_90", []);
        KernelImage good = compiler.Compile("gelu.cu", "sm_90", true, options);
        string path = compiler.CachePath("gelu.cu", good.CacheKey, cubin: true)!;
        // well-formed entry (length and SHA-256 match its payload), payload PTX text instead of a CUBIN
        byte[] ptx = KernelCompiler.CompileSource("gelu.cu", KernelSources.Read("gelu.cu"), KernelSources.Headers,
            KernelCompiler.Options("compute_90", []), cubin: false, out _);
        KernelCompiler.WriteCacheEntry(path, ptx, cubin: true);
        KernelImage again = compiler.Compile("gelu.cu", "sm_90", true, options);
        Assert.False(again.FromCache);
        Assert.Equal(2, compiler.CompileCount);
        Assert.Equal(good.Data, again.Data);
        Assert.True(compiler.Compile("gelu.cu", "sm_90", true, options).FromCache);
    }

    [Fact]
    public void Kernels_compile_with_line_information()
    {
        Assert.Contains("-lineinfo", KernelCompiler.Options("sm_90", []));
    }
}
