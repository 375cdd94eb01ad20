using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace TransReID.Runtime.Interop;

/// <summary>
/// Base of the handles that live inside a CUDA context (module, stream, event, device memory, cuBLAS handle).
/// <see cref="Attach"/> takes a reference on the context; <see cref="ReleaseHandle"/> pushes the context on the
/// releasing thread (the finaliser thread included), frees the native object, pops it and drops the reference.
/// Release never throws: a failing native free is reported as <c>false</c> only.
/// </summary>
internal abstract class CudaContextBoundHandle : SafeHandle
{
    private SafeCudaContextHandle? _context;

    protected CudaContextBoundHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a native object created in <paramref name="context"/>.</summary>
    public void Attach(nint value, SafeCudaContextHandle context)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        _context = context;
        SetHandle(value);
    }

    /// <summary>Frees the native object; the context is current on the calling thread.</summary>
    protected abstract bool ReleaseNative(nint value);

    /// <inheritdoc/>
    protected sealed override unsafe bool ReleaseHandle()
    {
        SafeCudaContextHandle? context = Interlocked.Exchange(ref _context, null);
        if (context == null) return true;
        bool ok;
        try
        {
            bool pushed = CudaDriver.cuCtxPushCurrent_v2(context.DangerousGetHandle()) == CudaDriver.Success;
            ok = ReleaseNative(handle);
            if (pushed)
            {
                nint popped;
                CudaDriver.cuCtxPopCurrent_v2(&popped);
            }
        }
        catch (Exception)
        {
            // Nothing may escape a release (it can run on the finaliser thread).
            ok = false;
        }
        finally
        {
            context.DangerousRelease();
        }

        return ok;
    }
}
