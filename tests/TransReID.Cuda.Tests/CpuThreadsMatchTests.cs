using System;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;

namespace TransReID.Cuda.Tests;

/// <summary>A single-threaded CPU backend as the candidate: always runnable, and it checks the shared harness.</summary>
public sealed class SingleThreadCpuPairFixture : BackendPairFixture
{
    protected override (IBackend? Backend, string? SkipReason) CreateCandidate() => (new CpuBackend(threads: 1), null);
}

/// <summary>
/// The same op-by-op comparison as <see cref="CudaMatchesCpuTests"/>, between the CPU backend on one thread and on
/// all threads: results may not depend on how work is split. Runs everywhere, so the harness itself is exercised on
/// machines without a GPU.
/// </summary>
public sealed class CpuThreadsMatchTests(SingleThreadCpuPairFixture pair) : BackendMatchTests(pair), IClassFixture<SingleThreadCpuPairFixture>
{
    [Fact]
    public void Candidate_is_single_threaded()
    {
        Assert.Equal(1, ((CpuBackend)Pair.Candidate).Threads);
        Assert.Contains("CPU", Pair.Candidate.Name, StringComparison.Ordinal);
    }
}
