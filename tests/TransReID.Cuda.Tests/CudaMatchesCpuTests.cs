using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>The CUDA backend on device 0 as the candidate; skipped (with the probe's reason) where there is none.</summary>
public sealed class CudaPairFixture : BackendPairFixture
{
    protected override (IBackend? Backend, string? SkipReason) CreateCandidate() =>
        TestEnvironment.GpuSkipMessage() is { } reason ? (null, reason) : (new CudaBackend(0), null);
}

/// <summary>
/// CUDA vs CPU for every op (the inherited tests), plus what only CUDA has: specialised kernels, the kernel cache on a
/// real device, out-of-memory messages, handle lifetimes and GPU timing. Run on a GPU machine as
/// <c>dotnet TransReID.Cuda.Tests.dll</c>; elsewhere every test here is skipped with the reason.
/// </summary>
[Trait("Category", "Gpu")]
public sealed class CudaMatchesCpuTests(CudaPairFixture pair) : BackendMatchTests(pair), IClassFixture<CudaPairFixture>
{
    private CudaBackend Cuda => (CudaBackend)Pair.Candidate;

    [Fact]
    public void Specialised_kernels_match_for_the_model_shapes_and_fall_back_for_others()
    {
        CudaBackend cuda = Cuda;
        cuda.Specialize("vit-test", [new("DIM", 768), new("TOKENS", 41), new("HEADS", 2), new("HEAD_DIM", 16), new("PARTS", 4)]);
        try
        {
            Assert.Equal("vit-test", cuda.SpecializedFor);
            Assert.Equal(["-DTOKENS=41"], cuda.Kernels.OptionsFor("attention.cu").Where(o => o.StartsWith("-D", StringComparison.Ordinal)));
            Assert.Equal(["-DDIM=768"], cuda.Kernels.OptionsFor("layernorm.cu").Where(o => o.StartsWith("-D", StringComparison.Ordinal)));
            Assert.DoesNotContain(cuda.Kernels.OptionsFor("gelu.cu"), o => o.StartsWith("-D", StringComparison.Ordinal));
            LayerNorm_forward(19, 768, false);   // specialised width
            LayerNorm_forward(19, 96, false);    // generic path in the specialised module
            LayerNorm_backward(300, 768, true);
            Attention_forward_and_backward(2, 41, 2, 16); // specialised token count
            Attention_forward_and_backward(2, 9, 2, 16);  // other token count
        }
        finally
        {
            cuda.Specialize("generic", []);
        }

        Assert.All(KernelSources.KernelFiles, f => Assert.DoesNotContain(cuda.Kernels.OptionsFor(f), o => o.StartsWith("-D", StringComparison.Ordinal)));
    }

    [Fact]
    public void Name_describes_device_architecture_and_libraries()
    {
        CudaBackend cuda = Cuda;
        Assert.StartsWith("CUDA 0: ", cuda.Name, StringComparison.Ordinal);
        Assert.Contains($"sm_{cuda.ComputeCapability}", cuda.Name, StringComparison.Ordinal);
        Assert.True(cuda.MultiprocessorCount > 0);
        Assert.Matches("^(sm|compute)_[0-9]+$", cuda.KernelTarget);
        (long free, long total) = cuda.MemoryInfo();
        Assert.InRange(free, 1, total);
    }

    [Fact]
    public void Out_of_memory_names_the_bytes_asked_for()
    {
        const long elements = 1L << 40; // 4 TiB
        var e = Assert.Throws<CudaException>(() => Cuda.Allocate(elements));
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", e.StatusName);
        Assert.Equal("cuMemAlloc_v2", e.Function);
        Assert.Contains((elements * 4).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Buffers_outlive_their_backend_and_dispose_is_idempotent()
    {
        _ = Pair.Candidate; // skip without a GPU
        var backend = new CudaBackend(0, kernelCacheDirectory: "");
        DeviceBuffer buffer = backend.Allocate(1000);
        backend.Upload(Enumerable.Repeat(2f, 1000).ToArray(), buffer.Ptr);
        backend.Gelu(buffer.Ptr, buffer.Ptr, 1000);
        var host = new float[1000];
        backend.Download(buffer.Ptr, host);
        Assert.All(host, v => Assert.Equal(1.9544997f, v, 5e-6f));
        backend.Dispose();
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.Allocate(1));
        buffer.Dispose(); // after the backend: the context is kept until now
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buffer.Ptr);
        // finaliser path: a forgotten buffer of a disposed backend must not crash the process
        var other = new CudaBackend(0, kernelCacheDirectory: "");
        _ = other.Allocate(10);
        other.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    [Fact]
    public void Kernel_cache_is_reused_and_an_unloadable_entry_is_recompiled()
    {
        _ = Pair.Candidate;
        string dir = Path.Combine(Path.GetTempPath(), "transreid-cuda-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var first = new CudaBackend(0, kernelCacheDirectory: dir))
            {
                first.LoadAllKernels();
                Assert.All(first.Kernels.Modules, m => Assert.False(m.Image.FromCache));
                Assert.Equal(KernelSources.KernelFiles.Count, first.Kernels.Modules.Count);
            }

            // a well-formed entry (valid checksum) whose payload the driver rejects: recompiled, not trusted
            string victim = Directory.GetFiles(dir, "gelu-*").Single();
            KernelCompiler.WriteCacheEntry(victim, [.. Enumerable.Range(0, 512).Select(i => (byte)i)], cubin: victim.EndsWith(".cubin", StringComparison.Ordinal));
            using var second = new CudaBackend(0, kernelCacheDirectory: dir);
            second.LoadAllKernels();
            Assert.All(second.Kernels.Modules, m => Assert.Equal(m.FileName != "gelu.cu", m.Image.FromCache));
            Assert.Equal(1, second.Kernels.Compiler.CompileCount);
            using var third = new CudaBackend(0, kernelCacheDirectory: dir);
            third.LoadAllKernels();
            Assert.All(third.Kernels.Modules, m => Assert.True(m.Image.FromCache));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Events_time_gpu_work()
    {
        CudaBackend cuda = Cuda;
        using DeviceBuffer a = cuda.Allocate(512 * 512), c = cuda.Allocate(512 * 512);
        float ms = cuda.TimeMilliseconds(() =>
        {
            for (int i = 0; i < 5; i++) cuda.Linear(a.Ptr, a.Ptr, DevicePtr.Null, c.Ptr, 512, 512, 512);
        });
        Assert.True(ms > 0 && ms < 10_000, $"{ms} ms");
    }

    [Fact]
    public void Tf32_is_off_by_default_and_close_when_allowed()
    {
        Assert.False(Cuda.AllowTf32);
        using var tf32 = new CudaBackend(0, allowTf32: true);
        using var t = new Twin(Pair.Reference, tf32);
        const int m = 64, k = 256, n = 48;
        TwinBuffer x = t.Floats(Twin.Normal(200, m * k)), w = t.Floats(Twin.Normal(201, n * k)), y = t.Zeros(m * n);
        t.Run((be, p) => be.Linear(p(x), p(w), DevicePtr.Null, p(y), m, k, n));
        t.AssertClose(y, "y (TF32)", rtol: 1e-2);
    }

    [Fact]
    public void Bad_arguments_are_rejected_before_any_launch()
    {
        CudaBackend cuda = Cuda;
        Assert.Throws<ArgumentNullException>(() => cuda.Gelu(DevicePtr.Null, DevicePtr.Null, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => cuda.BatchNormTrain(new DevicePtr(256), new DevicePtr(256), DevicePtr.Null,
            new DevicePtr(256), new DevicePtr(256), new DevicePtr(256), DevicePtr.Null, DevicePtr.Null, 1, 8, 1e-5f, 0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => cuda.Triplet(new DevicePtr(256), new DevicePtr(256), new DevicePtr(256),
            new DevicePtr(256), new DevicePtr(256), 4096, 8, 0, false, 1, false));
        Assert.Throws<ArgumentException>(() => cuda.Specialize("bad", [new KeyValuePair<string, long>("dim", 1)]));
    }
}
