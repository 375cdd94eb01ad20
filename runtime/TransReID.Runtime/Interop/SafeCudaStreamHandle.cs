namespace TransReID.Runtime.Interop;

/// <summary>A stream (<c>cuStreamCreate</c>); released with <c>cuStreamDestroy_v2</c> (queued work still completes).</summary>
internal sealed class SafeCudaStreamHandle : CudaContextBoundHandle
{
    /// <inheritdoc/>
    protected override bool ReleaseNative(nint value) => CudaDriver.cuStreamDestroy_v2(value) == CudaDriver.Success;
}
