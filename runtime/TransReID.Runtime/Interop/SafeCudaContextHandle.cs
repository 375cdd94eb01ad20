using System;
using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>
/// A retained primary context of one device (<c>cuDevicePrimaryCtxRetain</c>); releasing it calls
/// <c>cuDevicePrimaryCtxRelease_v2</c>. Every handle created inside the context (<see cref="CudaContextBoundHandle"/>)
/// holds a reference on it, so the context outlives all of its modules, streams, buffers and cuBLAS handles even
/// when they are finalised late. Release never throws.
/// </summary>
internal sealed class SafeCudaContextHandle : SafeHandle
{
    public SafeCudaContextHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <summary>The CUdevice the context belongs to.</summary>
    public int Device { get; private set; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Retains the primary context of <paramref name="device"/>; throws <see cref="CudaException"/> on failure.</summary>
    public static unsafe SafeCudaContextHandle Retain(int device)
    {
        var h = new SafeCudaContextHandle { Device = device };
        nint ctx;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        h.SetHandle(ctx);
        return h;
    }

    /// <summary>Makes the context current on the calling thread.</summary>
    public void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(handle), "cuCtxSetCurrent");

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease_v2(Device) == CudaDriver.Success;
}
