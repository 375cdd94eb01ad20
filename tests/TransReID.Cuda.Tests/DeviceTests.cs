using System;
using TransReID.Runtime;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.Interop;

namespace TransReID.Cuda.Tests;

/// <summary>Device selection: CUDA when usable, else the CPU, and one clear sentence when CUDA is asked for but missing.</summary>
public sealed class DeviceTests
{
    [Fact]
    public void With_a_driver_that_does_not_load_the_default_is_the_cpu_with_the_reason()
    {
        var missing = new Libraries.LoadResult(0, null, "the CUDA driver (libcuda.so.1) was not found; set TRANSREID_CUDA_DRIVER_PATH");
        (int devices, string? why) = CudaProbe.Probe(() => missing);
        Assert.Equal(0, devices);
        Assert.Equal("the CUDA driver (libcuda.so.1) was not found; set TRANSREID_CUDA_DRIVER_PATH.", why);
        Assert.Same(Device.Cpu, Device.DefaultFor((devices, why), out string? reason));
        Assert.Equal(why, reason);
        AssertOneSentence(reason!);
    }

    [Fact]
    public void With_a_usable_device_the_default_is_cuda_0_and_there_is_no_reason()
    {
        Device d = Device.DefaultFor((2, null), out string? reason);
        Assert.Equal(DeviceKind.Cuda, d.Kind);
        Assert.Equal(0, d.Ordinal);
        Assert.Null(reason);
        Assert.Equal(Device.Default.Kind == DeviceKind.Cpu, Device.DefaultReason != null);
    }

    [Fact]
    public void Without_cuda_Default_is_the_cpu_and_asking_for_cuda_throws_one_sentence()
    {
        Assert.SkipWhen(CudaProbe.IsAvailable(out _), "this machine has a usable CUDA device");
        Assert.Same(Device.Cpu, Device.Default);
        Assert.Same(Device.Cpu, Device.Parse("auto"));
        Assert.Equal(0, CudaProbe.DeviceCount);
        foreach (Func<object> ask in new Func<object>[] { () => Device.Cuda(0), () => Device.Parse("cuda:0"), () => CudaProbe.CreateBackend(0), () => new CudaBackend(0) })
        {
            var e = Assert.Throws<InvalidOperationException>(ask);
            AssertOneSentence(e.Message);
            Assert.StartsWith("CUDA device 0 is not usable: ", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Probe_never_throws_and_gives_a_reason_when_unavailable()
    {
        bool ok = CudaProbe.IsAvailable(out string? reason);
        if (!ok) AssertOneSentence(reason!);
        Assert.False(CudaProbe.IsAvailable(-1, out string? negative));
        AssertOneSentence(negative!);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public void With_cuda_a_missing_ordinal_is_named()
    {
        TestEnvironment.RequireGpu();
        var e = Assert.Throws<InvalidOperationException>(() => Device.Cuda(CudaProbe.DeviceCount));
        Assert.Contains($"there is no CUDA device {CudaProbe.DeviceCount}", e.Message, StringComparison.Ordinal);
        using IBackend backend = Device.Cuda(0).CreateBackend();
        Assert.StartsWith("CUDA 0: ", backend.Name, StringComparison.Ordinal);
    }

    private static void AssertOneSentence(string message)
    {
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.DoesNotContain('\n', message);
        Assert.EndsWith(".", message, StringComparison.Ordinal);
        Assert.DoesNotContain(". ", message.TrimEnd('.'), StringComparison.Ordinal);
    }
}
