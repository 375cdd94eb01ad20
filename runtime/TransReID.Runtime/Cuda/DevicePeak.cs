using System;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// The theoretical peak arithmetic rate of a CUDA device, from its attributes (SM count, peak SM clock) and a table of
/// FLOP per clock per SM by architecture: peak = SMs × clock × FLOP/clk/SM. A yardstick for "fraction of peak", not
/// a promise: real clocks drop under power and thermal limits.
/// </summary>
/// <remarks>
/// The per-SM numbers and where they come from:
/// <list type="bullet">
/// <item>fp32: 2 FLOP (one FMA) × the FP32 lanes per SM, from the CUDA C++ Programming Guide's table "Throughput of
/// Native Arithmetic Instructions" (32-bit floating-point add, multiply, multiply-add, results per clock per SM):
/// 64 lanes on cc 6.0, 7.x and 8.0; 128 on cc 6.1, 6.2, 8.6, 8.7, 8.9, 9.0, and on Blackwell (10.x, 12.x), whose
/// whitepaper gives 128 FP32 cores per SM. H100 SXM: 132 SMs × 1.98 GHz × 256 = 66.9 TFLOP/s, NVIDIA's 67.</item>
/// <item>tf32 (dense, tensor cores, fp32 accumulate): derived from NVIDIA's datasheet peaks divided by SMs × boost
/// clock. cc 8.0 (A100: 156 TFLOP/s = 108 SMs × 1.41 GHz × 1024); cc 8.6 (GA102, A40: 37.4 = 84 × 1.74 × 256);
/// cc 8.9 (AD102, L40S: 91.6 = 142 × 2.52 × 256); cc 9.0 (H100 SXM: 494.7 = 132 × 1.83 GHz × 2048). Other
/// architectures have no entry (peak unknown).</item>
/// </list>
/// The clock is <c>CU_DEVICE_ATTRIBUTE_CLOCK_RATE</c> (13, kHz), the peak SM clock. NVIDIA quotes Hopper's tensor
/// rates at a lower clock (1.83 GHz for H100 SXM against 1.98 GHz), so on cc 9.0 the tf32 peak computed here (535
/// TFLOP/s for H100 SXM) is about 8% above the datasheet's 494.7, and a measured fraction of it is conservative.
/// </remarks>
/// <param name="ComputeCapability">Major·10 + minor, e.g. 90.</param>
/// <param name="Multiprocessors">Streaming multiprocessors.</param>
/// <param name="ClockKHz">Peak SM clock in kHz.</param>
/// <param name="Fp32FlopsPerClockPerSm">2 × FP32 lanes per SM, or null when the architecture is not in the table.</param>
/// <param name="Tf32FlopsPerClockPerSm">Dense TF32 tensor FLOP per clock per SM, or null when unknown (or none).</param>
public sealed record DevicePeak(int ComputeCapability, int Multiprocessors, int ClockKHz, int? Fp32FlopsPerClockPerSm, int? Tf32FlopsPerClockPerSm)
{
    /// <summary>Peak fp32 FLOP/s (CUDA cores), or null when unknown.</summary>
    public double? Fp32FlopsPerSecond => Rate(Fp32FlopsPerClockPerSm);

    /// <summary>Peak dense TF32 tensor FLOP/s, or null when unknown.</summary>
    public double? Tf32FlopsPerSecond => Rate(Tf32FlopsPerClockPerSm);

    /// <summary>The peak for GEMMs at a precision: TF32 tensor cores when <paramref name="tf32"/>, else fp32.</summary>
    public double? FlopsPerSecond(bool tf32) => tf32 ? Tf32FlopsPerSecond : Fp32FlopsPerSecond;

    /// <summary>The peak of a device with these numbers.</summary>
    public static DevicePeak From(int computeCapability, int multiprocessors, int clockKHz) =>
        new(computeCapability, multiprocessors, clockKHz, Fp32PerClockPerSm(computeCapability), Tf32PerClockPerSm(computeCapability));

    /// <summary>The peak of the backend's device; null when the driver does not report the clock.</summary>
    public static unsafe DevicePeak? Of(CudaBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        int device, clock;
        if (CudaDriver.cuDeviceGet(&device, backend.Ordinal) != CudaDriver.Success) return null;
        if (CudaDriver.cuDeviceGetAttribute(&clock, CudaDriver.AttributeClockRate, device) != CudaDriver.Success || clock <= 0) return null;
        return From(backend.ComputeCapability, backend.MultiprocessorCount, clock);
    }

    /// <summary>2 × FP32 FMA lanes per SM for a compute capability, or null when not in the table.</summary>
    public static int? Fp32PerClockPerSm(int computeCapability) => computeCapability switch
    {
        60 or 70 or 72 or 75 or 80 => 2 * 64,
        61 or 62 or 86 or 87 or 89 or 90 => 2 * 128,
        >= 100 and < 130 => 2 * 128,
        _ => null,
    };

    /// <summary>Dense TF32 tensor FLOP per clock per SM for a compute capability, or null when not in the table.</summary>
    public static int? Tf32PerClockPerSm(int computeCapability) => computeCapability switch
    {
        80 => 1024,
        86 or 89 => 256,
        90 => 2048,
        _ => null,
    };

    private double? Rate(int? perClockPerSm) => perClockPerSm is { } f ? (double)Multiprocessors * ClockKHz * 1e3 * f : null;
}
