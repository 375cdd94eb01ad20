using System;

namespace TransReID.Runtime;

/// <summary>
/// An address of 4-byte elements (float32 or int32) in a backend's memory: a host pointer on the CPU backend, a
/// device pointer on CUDA. Generated code adds constant element offsets to the base of the parameter, gradient and
/// activation buffers, as llm.c does with its size tables. <see cref="Null"/> stands for "no tensor" (no bias, no SIE).
/// </summary>
public readonly record struct DevicePtr(nint Address)
{
    /// <summary>No tensor.</summary>
    public static DevicePtr Null => default;

    /// <summary>Whether this is <see cref="Null"/>.</summary>
    public bool IsNull => Address == 0;

    /// <summary>The address <paramref name="elements"/> 4-byte elements further on.</summary>
    public static DevicePtr operator +(DevicePtr p, long elements) => new(p.Address + checked((nint)(elements * 4)));

    /// <summary>The address <paramref name="elements"/> 4-byte elements further on.</summary>
    public DevicePtr Add(long elements) => this + elements;

    /// <summary>The address as a float pointer (CPU backend only).</summary>
    public unsafe float* F => (float*)Address;

    /// <summary>The address as an int pointer (CPU backend only).</summary>
    public unsafe int* I => (int*)Address;

    /// <inheritdoc/>
    public override string ToString() => IsNull ? "null" : $"0x{Address:x}";
}

/// <summary>Memory owned by a backend; disposing frees it.</summary>
public abstract class DeviceBuffer : IDisposable
{
    /// <summary>Number of 4-byte elements.</summary>
    public abstract long Length { get; }

    /// <summary>Start address.</summary>
    public abstract DevicePtr Ptr { get; }

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory.</summary>
    protected abstract void Dispose(bool disposing);
}
