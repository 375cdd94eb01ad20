namespace TransReID.Runtime.Interop;

/// <summary>A loaded module (<c>cuModuleLoadData</c>); released with <c>cuModuleUnload</c>.</summary>
internal sealed class SafeCudaModuleHandle : CudaContextBoundHandle
{
    /// <inheritdoc/>
    protected override bool ReleaseNative(nint value) => CudaDriver.cuModuleUnload(value) == CudaDriver.Success;
}
