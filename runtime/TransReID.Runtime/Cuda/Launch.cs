using System;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// Kernel launch arithmetic and argument packing (the launch itself, with its checks: <see cref="LaunchTracker"/>). Every kernel argument travels in an
/// 8-byte slot (<see cref="P"/>, <see cref="I"/>, <see cref="L"/>, <see cref="F"/>); the driver reads the
/// parameter's own size from the start of the slot, which on little-endian x86-64 and AArch64 is the value.
/// </summary>
internal static class Launch
{
    /// <summary>Threads per block of the 1-D elementwise kernels.</summary>
    public const int Block = 256;

    /// <summary>Blocks for a 1-D grid-stride kernel over <paramref name="n"/> elements, capped (the kernels loop).</summary>
    public static uint GridFor(long n, int block = Block, int maxBlocks = 65535)
    {
        if (n <= 0) return 0;
        long blocks = (n + block - 1) / block;
        return (uint)Math.Min(blocks, maxBlocks);
    }

    /// <summary>Blocks for a kernel whose block handles <paramref name="perBlock"/> items (e.g. rows per block).</summary>
    public static uint CeilDiv(long n, long perBlock)
    {
        long blocks = (n + perBlock - 1) / perBlock;
        if (blocks > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(n), n, $"{blocks} blocks exceed the grid's x limit");
        return (uint)blocks;
    }

    /// <summary>A device pointer argument.</summary>
    public static ulong P(DevicePtr p) => (ulong)p.Address;

    /// <summary>An int argument (also bools as 0/1).</summary>
    public static ulong I(int v) => (uint)v;

    /// <summary>A bool passed as an int.</summary>
    public static ulong B(bool v) => v ? 1UL : 0UL;

    /// <summary>A 64-bit integer argument.</summary>
    public static ulong L(long v) => (ulong)v;

    /// <summary>A float argument.</summary>
    public static ulong F(float v) => BitConverter.SingleToUInt32Bits(v);
}
