using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cuda;

namespace TransReID.Cuda.Tests;

/// <summary>
/// What this test run can use: NVRTC (compile checks, no GPU needed) and a CUDA device (the Gpu tests). On a machine
/// without a CUDA driver and without TRANSREID_NVRTC_PATH, an NVRTC unpacked by <c>get-nvrtc.sh</c> into the
/// repository's ignored <c>.nvrtc/</c> folder is used, so <c>dotnet test</c> compile-checks every kernel there too.
/// </summary>
internal static class TestEnvironment
{
    private static readonly Lazy<string?> NvrtcSkip = new(ConfigureNvrtc);

    /// <summary>Skips the calling test (with the reason) unless NVRTC loads.</summary>
    public static void RequireNvrtc()
    {
        string? reason = NvrtcSkip.Value;
        Assert.SkipWhen(reason != null, $"NVRTC is not available: {reason} Run tests/TransReID.Cuda.Tests/get-nvrtc.sh or set TRANSREID_NVRTC_PATH.");
    }

    /// <summary>
    /// Whether the CUDA driver is the CPU emulator of <c>Emulator/</c> (<c>libtransreid-fakecuda.so</c> through
    /// TRANSREID_CUDA_DRIVER_PATH, as <c>Emulator/run-gpu-tests.sh</c> and <c>./build.sh test</c> set it).
    /// </summary>
    public static bool IsEmulator { get; } =
        Path.GetFileName(Environment.GetEnvironmentVariable(Runtime.Interop.Libraries.DriverPathVariable) ?? "")
            .Contains("fakecuda", StringComparison.Ordinal);

    /// <summary>Skips the calling test (with the reason) on the CPU emulator, e.g. when it would take minutes there.</summary>
    public static void SkipOnEmulator(string reason) => Assert.SkipWhen(IsEmulator, $"not on the CPU emulator: {reason}");

    private static int _gpuSkips;

    /// <summary>
    /// Skips the calling test unless CUDA device 0 is usable. The first skip gives the whole reason; every later one a
    /// one-line pointer to it, so a machine without a GPU gets the reason once instead of once per Gpu test.
    /// </summary>
    public static void RequireGpu()
    {
        string? message = GpuSkipMessage();
        Assert.SkipWhen(message != null, message ?? "");
    }

    /// <summary>Null when CUDA device 0 is usable, else the skip message: the whole reason the first time, then one short line.</summary>
    public static string? GpuSkipMessage()
    {
        string? reason = GpuSkipReason();
        if (reason == null) return null;
        return System.Threading.Interlocked.Increment(ref _gpuSkips) == 1
            ? $"{reason} (every Gpu test of this run skips for this reason; docs/gpu.md)"
            : "no usable CUDA device (the reason is on the first skipped Gpu test)";
    }

    /// <summary>
    /// Null when CUDA device 0 is usable, else why not. On the emulator an unusable device is a failure, not a reason
    /// to skip: a run meant to exercise the kernels must not pass by skipping all of them.
    /// </summary>
    public static string? GpuSkipReason()
    {
        if (CudaProbe.IsAvailable(out string? reason)) return null;
        if (IsEmulator) Assert.Fail($"{Runtime.Interop.Libraries.DriverPathVariable} names the CPU emulator, but it is not usable: {reason}");
        return $"no usable CUDA device: {reason}";
    }

    private static string? ConfigureNvrtc()
    {
        bool haveDriver = NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", out nint driver);
        if (haveDriver) NativeLibrary.Free(driver);
        if (!haveDriver && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Runtime.Interop.Libraries.NvrtcPathVariable)))
        {
            string? local = FindLocalNvrtc();
            if (local != null) Environment.SetEnvironmentVariable(Runtime.Interop.Libraries.NvrtcPathVariable, local);
        }

        return KernelCompiler.IsNvrtcAvailable(out string? reason) ? null : reason;
    }

    /// <summary>The newest libnvrtc.so.* under a <c>.nvrtc</c> folder in this directory or one above it.</summary>
    private static string? FindLocalNvrtc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string root = Path.Combine(dir.FullName, ".nvrtc");
            if (!Directory.Exists(root)) continue;
            return Directory.EnumerateFiles(root, "libnvrtc.so.*", SearchOption.AllDirectories)
                .Where(f => !Path.GetFileName(f).Contains("builtins", StringComparison.Ordinal))
                .OrderByDescending(f => f, StringComparer.Ordinal)
                .FirstOrDefault();
        }

        return null;
    }
}
