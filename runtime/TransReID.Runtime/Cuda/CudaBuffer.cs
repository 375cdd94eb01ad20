using System;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// Device memory from <c>cuMemAlloc_v2</c> (256-byte aligned). The native pointer is owned by a
/// <see cref="SafeCudaMemoryHandle"/>, which keeps the context alive until the memory is freed, so a buffer may be
/// disposed (or finalised) after its backend.
/// </summary>
internal sealed class CudaBuffer : DeviceBuffer
{
    private readonly SafeCudaMemoryHandle _memory;

    public CudaBuffer(SafeCudaMemoryHandle memory, long length)
    {
        _memory = memory;
        Length = length;
    }

    /// <inheritdoc/>
    public override long Length { get; }

    /// <inheritdoc/>
    public override DevicePtr Ptr
    {
        get
        {
            ObjectDisposedException.ThrowIf(_memory.IsClosed, this);
            return new DevicePtr(_memory.DangerousGetHandle());
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _memory.Dispose();
    }
}
