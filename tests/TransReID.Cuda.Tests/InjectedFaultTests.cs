using System;
using System.Runtime.InteropServices;
using TransReID.Runtime;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>
/// A kernel fault, as the GPU reports it (asynchronously, at the next synchronisation, and sticky for the context),
/// injected through the CPU emulator's <c>emu_inject_fault</c>: the error names the kernel, the backend op and the
/// generated model method, and later backends fail with that first fault. Runs on the emulator only (a real GPU has
/// no way to inject one); the assembly runs test classes one at a time, so the process-wide fault state is this
/// class's alone while it runs.
/// </summary>
[Trait("Category", "Gpu")]
public sealed unsafe class InjectedFaultTests : IDisposable
{
    private const int IllegalAddress = 700; // CUDA_ERROR_ILLEGAL_ADDRESS

    private readonly delegate* unmanaged<byte*, int, void> _inject;
    private readonly delegate* unmanaged<void> _clear;

    public InjectedFaultTests()
    {
        if (!TestEnvironment.IsEmulator) return;
        nint lib = NativeLibrary.Load(Environment.GetEnvironmentVariable(Libraries.DriverPathVariable)!);
        _inject = (delegate* unmanaged<byte*, int, void>)NativeLibrary.GetExport(lib, "emu_inject_fault");
        _clear = (delegate* unmanaged<void>)NativeLibrary.GetExport(lib, "emu_clear_fault");
    }

    public void Dispose()
    {
        if (!TestEnvironment.IsEmulator) return;
        _clear();
        LaunchTracker.ForgetStickyFault();
    }

    private static void RequireEmulator()
    {
        TestEnvironment.RequireGpu();
        Assert.SkipUnless(TestEnvironment.IsEmulator, "faults are injected through the CPU emulator's emu_inject_fault; a real GPU has none");
    }

    private void Inject(string kernel)
    {
        byte[] name = System.Text.Encoding.ASCII.GetBytes(kernel + "\0");
        fixed (byte* p = name) _inject(p, IllegalAddress);
    }

    [Fact]
    public void An_asynchronous_fault_names_the_last_work_queued_and_poisons_later_backends()
    {
        RequireEmulator();
        Assert.Null(LaunchTracker.StickyFault);
        using (var backend = new CudaBackend(0, kernelCacheDirectory: ""))
        {
            Assert.False(backend.SynchronizesEachLaunch);
            using DeviceBuffer x = backend.Allocate(1000), y = backend.Allocate(1000);
            Inject("gelu_forward");
            backend.Gelu(x.Ptr, y.Ptr, 1000); // queued: the fault only shows at the next synchronisation
            var e = Assert.Throws<CudaException>(backend.Synchronize);
            Assert.Equal("CUDA_ERROR_ILLEGAL_ADDRESS", e.StatusName);
            Assert.Contains("the last work queued was kernel gelu_forward (op Gelu)", e.Message, StringComparison.Ordinal);
            Assert.Contains("TRANSREID_CUDA_SYNC=1", e.Message, StringComparison.Ordinal);
            Assert.NotNull(LaunchTracker.StickyFault);
        }

        // the context is gone for this process: a new backend says why at once, naming the first fault
        var later = Assert.Throws<CudaException>(() => new CudaBackend(0, kernelCacheDirectory: ""));
        Assert.Contains("unusable after an earlier fault", later.Message, StringComparison.Ordinal);
        Assert.Contains("gelu_forward", later.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_sync_after_every_launch_the_fault_names_kernel_op_and_generated_method()
    {
        RequireEmulator();
        Environment.SetEnvironmentVariable(LaunchTracker.SyncVariable, "1");
        CudaBackend backend;
        try
        {
            backend = new CudaBackend(0, kernelCacheDirectory: "");
        }
        finally
        {
            Environment.SetEnvironmentVariable(LaunchTracker.SyncVariable, null);
        }

        using var model = CudaTinyJpm.Create(backend, 3);
        Assert.True(backend.SynchronizesEachLaunch);
        Assert.Contains("synchronised after every launch", backend.Name, StringComparison.Ordinal);
        var images = new float[2 * CudaTinyJpm.ImageFloats];
        Inject("layernorm_forward");
        var e = Assert.Throws<CudaException>(() => model.Embed(images, [0, 1]));
        Assert.Contains("after kernel layernorm_forward: kernel layernorm_forward (op LayerNorm) failed", e.Message, StringComparison.Ordinal);
        Assert.Contains($"called from {typeof(CudaTinyJpm).FullName}.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_launch_outside_the_device_limits_is_refused_before_the_driver_sees_it()
    {
        RequireEmulator();
        using var backend = new CudaBackend(0, kernelCacheDirectory: "");
        Assert.Contains("grid up to (2147483647, 65535)", backend.LaunchLimits, StringComparison.Ordinal);
        Assert.Null(LaunchTracker.StickyFault);
    }
}
