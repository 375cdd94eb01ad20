using System;
using System.Threading;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// Device memory from <c>cuMemAlloc_v2</c> (256-byte aligned). The native pointer is owned by a
/// <see cref="SafeCudaMemoryHandle"/>, which keeps the context alive until the memory is freed, so a buffer may be
/// disposed (or finalised) after its backend. Its bytes are counted in the backend's <see cref="AllocationCounter"/>
/// from construction until <see cref="DeviceBuffer.Dispose()"/>.
/// </summary>
internal sealed class CudaBuffer : DeviceBuffer
{
    private readonly SafeCudaMemoryHandle _memory;
    private readonly AllocationCounter _counter;
    private readonly long _bytes;
    private int _released;

    public CudaBuffer(SafeCudaMemoryHandle memory, long length, long bytes, AllocationCounter counter)
    {
        _memory = memory;
        Length = length;
        _bytes = bytes;
        _counter = counter;
        counter.Add(bytes);
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
        if (!disposing) return;
        _memory.Dispose();
        if (Interlocked.Exchange(ref _released, 1) == 0) _counter.Release(_bytes);
    }
}

/// <summary>
/// Bytes of device memory a backend handed out through <c>Allocate</c> and not yet released, and the most there ever
/// were. A buffer that is only finalised (never disposed) stays counted; cuBLAS's and the driver's own memory is not
/// counted (<see cref="CudaBackend.MemoryInfo"/> sees all of it). Thread-safe.
/// </summary>
internal sealed class AllocationCounter
{
    private long _current;
    private long _peak;

    /// <summary>Bytes allocated and not yet released.</summary>
    public long Current => Interlocked.Read(ref _current);

    /// <summary>The largest <see cref="Current"/> so far.</summary>
    public long Peak => Interlocked.Read(ref _peak);

    /// <summary>Counts an allocation of <paramref name="bytes"/>.</summary>
    public void Add(long bytes)
    {
        long now = Interlocked.Add(ref _current, bytes);
        long peak = Interlocked.Read(ref _peak);
        while (now > peak)
        {
            long seen = Interlocked.CompareExchange(ref _peak, now, peak);
            if (seen == peak) break;
            peak = seen;
        }
    }

    /// <summary>Counts the release of <paramref name="bytes"/>.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _current, -bytes);
}
