using System;

namespace TransReID.Runtime;

/// <summary>Argument checks shared by the backends: each message names the op and the argument.</summary>
internal static class BackendChecks
{
    public static void NotNull(DevicePtr p, string name, string op)
    {
        if (p.IsNull) throw new ArgumentNullException(name, $"{op}: {name} must not be null.");
    }

    public static void Positive(long value, string name, string op)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must be positive.");
    }

    public static void NonNegative(long value, string name, string op)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must not be negative.");
    }
}
