using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Host memory of the CPU backend: 64-byte aligned (one cache line, one AVX-512 register), zeroed, freed by
/// <see cref="DeviceBuffer.Dispose()"/> or, if that is forgotten, by the finalizer. The GC is told about the native
/// bytes so that forgotten buffers are collected in time.
/// </summary>
internal sealed unsafe class CpuBuffer : DeviceBuffer
{
    private const nuint Alignment = 64;

    private readonly long _length;
    private readonly long _bytes;
    private nint _address;

    public CpuBuffer(long elements)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements), elements, "Cannot allocate a negative number of elements.");
        _length = elements;
        _bytes = Math.Max(elements * 4, (long)Alignment);
        void* p = NativeMemory.AlignedAlloc((nuint)_bytes, Alignment);
        NativeMemory.Clear(p, (nuint)_bytes);
        _address = (nint)p;
        GC.AddMemoryPressure(_bytes);
    }

    ~CpuBuffer() => Dispose(false);

    public override long Length => _length;

    public override DevicePtr Ptr
    {
        get
        {
            nint a = Volatile.Read(ref _address);
            ObjectDisposedException.ThrowIf(a == 0, this);
            return new DevicePtr(a);
        }
    }

    protected override void Dispose(bool disposing)
    {
        nint a = Interlocked.Exchange(ref _address, 0);
        if (a == 0) return;
        NativeMemory.AlignedFree((void*)a);
        GC.RemoveMemoryPressure(_bytes);
    }
}
