using System;
using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>An NVRTC program (<c>nvrtcCreateProgram</c>); released with <c>nvrtcDestroyProgram</c>. Needs no GPU.</summary>
internal sealed class SafeNvrtcProgramHandle : SafeHandle
{
    public SafeNvrtcProgramHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a created program.</summary>
    public void Attach(nint program) => SetHandle(program);

    /// <inheritdoc/>
    protected override unsafe bool ReleaseHandle()
    {
        nint program = handle;
        try
        {
            return Nvrtc.nvrtcDestroyProgram(&program) == Nvrtc.Success;
        }
        catch (Exception)
        {
            return false;
        }
    }
}
