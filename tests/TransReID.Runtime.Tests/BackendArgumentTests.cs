using System;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;

namespace TransReID.Runtime.Tests;

/// <summary>
/// The CPU backend rejects each bad argument of the shared table (tests/Shared/BackendArgumentCases.cs) with the
/// exception and message of the op's contract; TransReID.Cuda.Tests runs the same table on the CUDA backend.
/// </summary>
public sealed class BackendArgumentTests
{
    public static TheoryData<string> Cases => [.. BackendArgumentCases.Names];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_backend_rejects_the_bad_argument(string name)
    {
        using var backend = new CpuBackend(1);
        BackendArgumentCases.Reject(backend, BackendArgumentCases.Get(name));
    }

    [Fact]
    public void Every_op_with_arguments_has_a_case()
    {
        string[] ops = [.. typeof(IBackend).GetMethods().Where(m => m.GetParameters().Length > 0).Select(m => m.Name).Distinct()];
        string[] missing = [.. ops.Where(op => !BackendArgumentCases.All.Any(c => c.Name.StartsWith(op + " ", StringComparison.Ordinal)))];
        Assert.Empty(missing);
    }

    [Fact]
    public void Empty_calls_do_nothing_and_need_no_pointers()
    {
        using var backend = new CpuBackend(1);
        DevicePtr n = DevicePtr.Null;
        backend.Upload(ReadOnlySpan<float>.Empty, n);
        backend.Download(n, Span<float>.Empty);
        backend.Zero(n, 0);
        backend.Copy(n, n, 0);
        backend.Gelu(n, n, 0);
        backend.GeluBackward(n, n, n, 0);
        backend.CopyRows(n, 0, n, 0, 0, 4, 1f, false);
        backend.SgdStep(n, n, n, 0, 0.1f, 0.9f, 0f, false);
        backend.AdamWStep(n, n, n, n, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1);
    }
}
