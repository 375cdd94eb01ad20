namespace TransReID.Runtime.Interop;

/// <summary>A cuBLAS handle (<c>cublasCreate_v2</c>); released with <c>cublasDestroy_v2</c>.</summary>
internal sealed class SafeCublasHandle : CudaContextBoundHandle
{
    /// <inheritdoc/>
    protected override bool ReleaseNative(nint value) => Cublas.cublasDestroy_v2(value) == Cublas.Success;
}
