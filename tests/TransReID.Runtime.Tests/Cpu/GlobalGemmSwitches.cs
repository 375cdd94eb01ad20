namespace TransReID.Runtime.Tests.Cpu;

/// <summary>
/// Test classes that set the process-wide GEMM switches (<c>CpuGemm.Provider</c>, <c>GemmDriver.KernelKind</c>,
/// <c>GemmDriver.ParallelThreshold</c>, <c>GemmDriver.PackedBBudget</c>, <c>PackedGemm.StreamPrefetch</c>,
/// <c>PackedGemm.RowMajorA</c>) or assert what those switches decide (the packed weight's panel width follows the
/// kernel family). The collection runs alone, after the parallel ones: a test elsewhere never sees a switched kernel
/// family halfway through, and these tests never see each other's switches. (Without it, a weight packed with the
/// AVX-512 panels while GemmTests had the AVX2 family switched on came out 1152 floats instead of 1536 in CI.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalGemmSwitches
{
    public const string Name = "global GEMM switches";
}
