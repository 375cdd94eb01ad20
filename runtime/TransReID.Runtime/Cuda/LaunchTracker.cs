using System;
using System.Diagnostics;
using System.Globalization;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>The launch limits of a device, read once from its attributes.</summary>
/// <param name="MaxThreadsPerBlock">CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK (1024 on every current GPU).</param>
/// <param name="MaxGridX">CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X (2³¹ − 1).</param>
/// <param name="MaxGridY">CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y (65535).</param>
internal readonly record struct LaunchLimits(int MaxThreadsPerBlock, long MaxGridX, long MaxGridY);

/// <summary>
/// Queues the work of one backend's stream and makes its faults name themselves. Every kernel launch is checked
/// against the device's grid and block limits and the kernel's own <c>__launch_bounds__</c> before the driver sees
/// it; the last piece of work queued (kernel or cuBLAS call, the backend op that queued it and the generated model
/// method that called the op) is remembered, so an asynchronous fault that surfaces at a later synchronisation says
/// what was running. With <c>TRANSREID_CUDA_SYNC=1</c> the stream is synchronised after every launch and every
/// cuBLAS call, so a fault is reported by the work that caused it. A fault that leaves the context unusable (an
/// illegal address, a device-side assert, …) is recorded for the whole process: every later backend fails at once
/// with that first fault instead of with an unrelated error somewhere else.
/// </summary>
internal sealed class LaunchTracker
{
    /// <summary>The environment variable that turns on a synchronisation after every launch ("1").</summary>
    public const string SyncVariable = "TRANSREID_CUDA_SYNC";

    private static readonly string RuntimeAssemblyName = typeof(LaunchTracker).Assembly.GetName().Name ?? "";
    private static string? s_stickyFault;

    private readonly nint _stream;
    private readonly LaunchLimits _limits;
    private string _lastWork = "";
    private string _lastOp = "";

    /// <summary>Creates the tracker of one stream.</summary>
    public LaunchTracker(nint stream, LaunchLimits limits, bool synchronizeEachLaunch)
    {
        _stream = stream;
        _limits = limits;
        SynchronizeEachLaunch = synchronizeEachLaunch;
    }

    /// <summary>Whether <see cref="SyncVariable"/> is set to 1 in this process.</summary>
    public static bool SyncRequestedByEnvironment => Environment.GetEnvironmentVariable(SyncVariable) == "1";

    /// <summary>
    /// The first fault of this process that left the CUDA context unusable, or null. The primary context is shared by
    /// every backend of the process, so once it is set no CUDA work can succeed until the process ends.
    /// </summary>
    public static string? StickyFault => s_stickyFault;

    /// <summary>Forgets the recorded fault (tests that inject one on the CPU emulator, whose context survives it).</summary>
    internal static void ForgetStickyFault() => s_stickyFault = null;

    /// <summary>Whether each launch and cuBLAS call is followed by a synchronisation.</summary>
    public bool SynchronizeEachLaunch { get; }

    /// <summary>The device's launch limits.</summary>
    public LaunchLimits Limits => _limits;

    /// <summary>
    /// Launches a kernel after checking its configuration: grid dimensions within the device's limits, the block
    /// within the device's limit and the kernel's <c>__launch_bounds__</c> (<paramref name="maxThreads"/>, 0 = none).
    /// </summary>
    public unsafe void Kernel(nint function, string name, int maxThreads, uint gridX, uint gridY, uint blockX, uint blockY,
        uint sharedBytes, ReadOnlySpan<ulong> args, string op)
    {
        if (gridX == 0 || gridY == 0) return; // nothing to do (an empty tensor)
        CheckConfiguration(name, maxThreads, gridX, gridY, blockX, blockY, op);
        _lastWork = $"kernel {name}";
        _lastOp = op;
        void** pointers = stackalloc void*[Math.Max(1, args.Length)];
        fixed (ulong* a = args)
        {
            for (int i = 0; i < args.Length; i++) pointers[i] = a + i;
            int r = CudaDriver.cuLaunchKernel(function, gridX, gridY, 1, blockX, blockY, 1, sharedBytes, _stream, pointers, null);
            if (r != CudaDriver.Success)
            {
                throw Fault(r, "cuLaunchKernel",
                    $"kernel {name} (op {op}), grid ({gridX}, {gridY}), block ({blockX}, {blockY}), {sharedBytes} bytes of dynamic shared memory{Caller()}");
            }
        }

        if (SynchronizeEachLaunch) Synchronize($"after kernel {name}");
    }

    /// <summary>Records a cuBLAS call just queued (and synchronises after it under <see cref="SyncVariable"/>).</summary>
    public void Library(string function, string op)
    {
        _lastWork = function;
        _lastOp = op;
        if (SynchronizeEachLaunch) Synchronize($"after {function}");
    }

    /// <summary>Waits for the stream; a failure names the last work queued and, when sticky, poisons the process.</summary>
    public void Synchronize(string why = "")
    {
        int r = CudaDriver.cuStreamSynchronize(_stream);
        if (r == CudaDriver.Success) return;
        string last = _lastWork.Length == 0 ? "no work queued yet" : $"{_lastWork} (op {_lastOp})";
        string detail = SynchronizeEachLaunch
            ? $"{(why.Length > 0 ? why + ": " : "")}{last} failed{Caller()}"
            : $"the failing work ran asynchronously; the last work queued was {last}{Caller()}. "
              + $"Rerun with {SyncVariable}=1 to synchronise after every launch and name the kernel that failed";
        throw Fault(r, "cuStreamSynchronize", detail);
    }

    /// <summary>Throws a clear error when a launch configuration is outside the device's or the kernel's limits.</summary>
    public void CheckConfiguration(string name, int maxThreads, uint gridX, uint gridY, uint blockX, uint blockY, string op)
    {
        long threads = (long)blockX * blockY;
        string? problem = null;
        if (gridX > _limits.MaxGridX) problem = $"grid.x = {gridX} exceeds the device's limit of {_limits.MaxGridX}";
        else if (gridY > _limits.MaxGridY) problem = $"grid.y = {gridY} exceeds the device's limit of {_limits.MaxGridY}";
        else if (threads > _limits.MaxThreadsPerBlock) problem = $"a block of {threads} threads exceeds the device's limit of {_limits.MaxThreadsPerBlock}";
        else if (maxThreads > 0 && threads > maxThreads) problem = $"a block of {threads} threads exceeds the kernel's __launch_bounds__({maxThreads})";
        if (problem != null)
        {
            throw new CudaException(string.Create(CultureInfo.InvariantCulture,
                $"cannot launch kernel {name} (op {op}): {problem}; the tensor is too large for this kernel's launch configuration{Caller()}"));
        }
    }

    /// <summary>Status codes after which the context cannot be used any more (cuda.h: "the context cannot be used").</summary>
    public static bool IsSticky(int status) => status is 700 or 702 or 710 or 714 or 715 or 716 or 717 or 718 or 719 or 720 or 999;

    private static CudaException Fault(int status, string function, string detail)
    {
        CudaException e = CudaDriver.Failure(status, function, detail);
        if (IsSticky(status))
        {
            System.Threading.Interlocked.CompareExchange(ref s_stickyFault, e.Message, null);
        }

        return e;
    }

    /// <summary>
    /// ", called from Model.Method (File.g.cs:123)": the first frame outside the runtime, i.e. the generated model
    /// method (or the user's code) that called the backend op. Only computed when an error is being reported.
    /// </summary>
    internal static string Caller()
    {
        var trace = new StackTrace(2, fNeedFileInfo: true);
        foreach (StackFrame frame in trace.GetFrames())
        {
            DiagnosticMethodInfo? method = DiagnosticMethodInfo.Create(frame);
            if (method?.DeclaringTypeName is not { } type) continue;
            string assembly = method.DeclaringAssemblyName ?? "";
            int comma = assembly.IndexOf(',', StringComparison.Ordinal);
            if ((comma < 0 ? assembly : assembly[..comma]) == RuntimeAssemblyName) continue;
            string where = frame.GetFileName() is { } file
                ? string.Create(CultureInfo.InvariantCulture, $" ({System.IO.Path.GetFileName(file)}:{frame.GetFileLineNumber()})")
                : "";
            return $", called from {type}.{method.Name}{where}";
        }

        return "";
    }
}
