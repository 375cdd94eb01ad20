using System;
using TransReID.Runtime;
using TransReID.Runtime.Cuda;

namespace TransReID.Cuda.Tests;

/// <summary>Device selection: CUDA when usable, else the CPU, and one clear sentence when CUDA is asked for but missing.</summary>
public sealed class DeviceTests
{
    [Fact]
    public void Default_is_cuda_exactly_when_the_probe_says_so()
    {
        bool cuda = CudaProbe.IsAvailable(out string? reason);
        Assert.Equal(cuda ? DeviceKind.Cuda : DeviceKind.Cpu, Device.Default.Kind);
        Assert.Equal(cuda, reason == null);
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
