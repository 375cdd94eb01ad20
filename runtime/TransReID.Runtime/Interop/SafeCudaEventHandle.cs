namespace TransReID.Runtime.Interop;

/// <summary>An event (<c>cuEventCreate</c>); released with <c>cuEventDestroy_v2</c>.</summary>
internal sealed class SafeCudaEventHandle : CudaContextBoundHandle
{
    /// <inheritdoc/>
    protected override bool ReleaseNative(nint value) => CudaDriver.cuEventDestroy_v2(value) == CudaDriver.Success;
}
