using System;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// Finds out, without throwing, whether CUDA can be used: the driver library loads and initialises, at least one
/// device exists, and NVRTC and cuBLAS load. The answer (and its one-sentence reason) is computed once per process.
/// </summary>
internal static class CudaProbe
{
    private static readonly Lazy<(int Devices, string? Reason)> State = new(() => Probe(() => Libraries.Load(Libraries.Cuda)));

    /// <summary>This process's probe: how many devices are usable, or (0, why none is).</summary>
    public static (int Devices, string? Reason) Result => State.Value;

    /// <summary>Whether CUDA device 0 is usable; <paramref name="reason"/> is one sentence when not.</summary>
    public static bool IsAvailable(out string? reason) => IsAvailable(0, out reason);

    /// <summary>Whether CUDA device <paramref name="ordinal"/> is usable; <paramref name="reason"/> is one sentence when not.</summary>
    public static bool IsAvailable(int ordinal, out string? reason) => IsAvailable(State.Value, ordinal, out reason);

    /// <summary>Whether device <paramref name="ordinal"/> is usable according to a probe result (<see cref="Probe"/>).</summary>
    public static bool IsAvailable((int Devices, string? Reason) probe, int ordinal, out string? reason)
    {
        (int devices, string? failure) = probe;
        if (failure != null)
        {
            reason = failure;
            return false;
        }

        if (ordinal < 0 || ordinal >= devices)
        {
            reason = $"there is no CUDA device {ordinal} (this machine has {devices}).";
            return false;
        }

        reason = null;
        return true;
    }

    /// <summary>Number of CUDA devices (0 when CUDA is unusable).</summary>
    public static int DeviceCount => State.Value.Devices;

    /// <summary>Creates the CUDA backend on device <paramref name="ordinal"/>, or throws one sentence saying what is missing.</summary>
    public static IBackend CreateBackend(int ordinal)
    {
        if (!IsAvailable(ordinal, out string? reason)) throw new InvalidOperationException($"CUDA device {ordinal} is not usable: {reason}");
        return new CudaBackend(ordinal);
    }

    /// <summary>Probes CUDA with the driver library that <paramref name="loadDriver"/> loads: (device count, null) or (0, one sentence).</summary>
    public static unsafe (int Devices, string? Reason) Probe(Func<Libraries.LoadResult> loadDriver)
    {
        Libraries.LoadResult driver = loadDriver();
        if (driver.Handle == 0) return (0, $"{driver.Failure}.");
        try
        {
            int r = CudaDriver.cuInit(0);
            if (r == CudaDriver.ErrorStubLibrary)
                return (0, $"the CUDA driver library found ({driver.Path}) is the toolkit's stub, so no NVIDIA driver is installed.");
            if (r == CudaDriver.ErrorNoDevice) return (0, "the CUDA driver reports no CUDA-capable device (CUDA_ERROR_NO_DEVICE).");
            if (r != CudaDriver.Success) return (0, $"cuInit failed with {CudaDriver.ErrorName(r)}: {CudaDriver.ErrorString(r)}.");
            int count;
            r = CudaDriver.cuDeviceGetCount(&count);
            if (r != CudaDriver.Success) return (0, $"cuDeviceGetCount failed with {CudaDriver.ErrorName(r)}: {CudaDriver.ErrorString(r)}.");
            if (count < 1) return (0, "the CUDA driver reports no CUDA-capable device.");
            Libraries.LoadResult nvrtc = Libraries.Load(Libraries.Nvrtc);
            if (nvrtc.Handle == 0) return (0, $"{nvrtc.Failure}.");
            Libraries.LoadResult cublas = Libraries.Load(Libraries.Cublas);
            if (cublas.Handle == 0) return (0, $"{cublas.Failure}.");
            return (count, null);
        }
        catch (EntryPointNotFoundException e)
        {
            return (0, $"the CUDA driver library ({driver.Path}) lacks an entry point this backend needs ({e.Message}).");
        }
    }
}
