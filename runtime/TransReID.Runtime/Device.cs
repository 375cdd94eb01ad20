using System;
using System.Collections.Generic;

namespace TransReID.Runtime;

/// <summary>Which kind of backend a <see cref="Device"/> runs on.</summary>
public enum DeviceKind
{
    /// <summary>The managed CPU backend (SIMD, multi-threaded; OpenBLAS when present).</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through the CUDA driver API, NVRTC and cuBLAS.</summary>
    Cuda,
}

/// <summary>A compute device: <see cref="Cpu"/>, <see cref="Cuda(int)"/> or <see cref="Default"/> (CUDA when usable, else CPU).</summary>
public sealed class Device
{
    private Device(DeviceKind kind, int ordinal)
    {
        Kind = kind;
        Ordinal = ordinal;
    }

    /// <summary>The CPU.</summary>
    public static Device Cpu { get; } = new(DeviceKind.Cpu, 0);

    /// <summary>CUDA when a driver, NVRTC, cuBLAS and a device are present, else the CPU.</summary>
    public static Device Default => DefaultFor(global::TransReID.Runtime.Cuda.CudaProbe.Result, out _);

    /// <summary>Why <see cref="Default"/> is the CPU (one sentence), or null when it is CUDA.</summary>
    public static string? DefaultReason
    {
        get
        {
            _ = DefaultFor(global::TransReID.Runtime.Cuda.CudaProbe.Result, out string? reason);
            return reason;
        }
    }

    /// <summary>The default device for a CUDA probe result: CUDA device 0 when it is usable, else the CPU and why not.</summary>
    internal static Device DefaultFor((int Devices, string? Reason) probe, out string? reason) =>
        global::TransReID.Runtime.Cuda.CudaProbe.IsAvailable(probe, 0, out reason) ? new Device(DeviceKind.Cuda, 0) : Cpu;

    /// <summary>The kind of backend.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The GPU ordinal (0 for the CPU).</summary>
    public int Ordinal { get; }

    /// <summary>CUDA device <paramref name="ordinal"/>; fails with one sentence saying what is missing.</summary>
    public static Device Cuda(int ordinal = 0)
    {
        if (!global::TransReID.Runtime.Cuda.CudaProbe.IsAvailable(ordinal, out string? reason))
        {
            throw new InvalidOperationException($"CUDA device {ordinal} is not usable: {reason}");
        }

        return new Device(DeviceKind.Cuda, ordinal);
    }

    /// <summary>Parses "cpu", "cuda", "cuda:N" or "auto".</summary>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "auto") return Default;
        if (t == "cuda" || t == "gpu") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int ordinal) && ordinal >= 0) return Cuda(ordinal);
        throw new ArgumentException($"unknown device '{text}': use cpu, cuda, cuda:N or auto", nameof(text));
    }

    /// <summary>Creates a backend for this device.</summary>
    public IBackend CreateBackend() => Kind switch
    {
        DeviceKind.Cpu => new global::TransReID.Runtime.Cpu.CpuBackend(),
        _ => global::TransReID.Runtime.Cuda.CudaProbe.CreateBackend(Ordinal),
    };

    /// <inheritdoc/>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Ordinal}";
}

/// <summary>
/// Optional backend capability: kernels specialised by a model's compile-time constants (token count, width, heads…).
/// Generated code passes its constants once per model before the first op; the CPU backend needs none.
/// </summary>
public interface IKernelSpecializer
{
    /// <summary>Compiles (or loads from cache) the kernels for a model with these #define constants.</summary>
    void Specialize(string modelName, IReadOnlyList<KeyValuePair<string, long>> constants);
}
