namespace TransReID.Runtime.Interop;

/// <summary>Device memory from <c>cuMemAlloc_v2</c>; released with <c>cuMemFree_v2</c> (which waits for work using it).</summary>
internal sealed class SafeCudaMemoryHandle : CudaContextBoundHandle
{
    /// <inheritdoc/>
    protected override bool ReleaseNative(nint value) => CudaDriver.cuMemFree_v2((ulong)value) == CudaDriver.Success;
}
