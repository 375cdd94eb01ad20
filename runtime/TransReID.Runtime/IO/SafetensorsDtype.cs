using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// Element types of the safetensors format, named as they are spelled in the header ("F32", "BOOL", …).
/// Sub-byte types (F4, F6_*) are not supported and are reported as unknown.
/// </summary>
public enum SafetensorsDtype
{
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary16.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>IEEE 754 binary64.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Boolean, one byte per element.</summary>
    BOOL,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>8-bit float, 4 exponent and 3 mantissa bits.</summary>
    F8_E4M3,
    /// <summary>8-bit float, 5 exponent and 2 mantissa bits.</summary>
    F8_E5M2,
}

/// <summary>Sizes and header spellings of <see cref="SafetensorsDtype"/>.</summary>
public static class SafetensorsDtypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeInBytes(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F64 or SafetensorsDtype.I64 or SafetensorsDtype.U64 => 8,
        SafetensorsDtype.F32 or SafetensorsDtype.I32 or SafetensorsDtype.U32 => 4,
        SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.I16 or SafetensorsDtype.U16 => 2,
        SafetensorsDtype.I8 or SafetensorsDtype.U8 or SafetensorsDtype.BOOL
            or SafetensorsDtype.F8_E4M3 or SafetensorsDtype.F8_E5M2 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>The spelling used in the header, e.g. "F32".</summary>
    public static string ToHeaderName(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F32 => "F32",
        SafetensorsDtype.F16 => "F16",
        SafetensorsDtype.BF16 => "BF16",
        SafetensorsDtype.F64 => "F64",
        SafetensorsDtype.I64 => "I64",
        SafetensorsDtype.I32 => "I32",
        SafetensorsDtype.I16 => "I16",
        SafetensorsDtype.I8 => "I8",
        SafetensorsDtype.U8 => "U8",
        SafetensorsDtype.BOOL => "BOOL",
        SafetensorsDtype.U16 => "U16",
        SafetensorsDtype.U32 => "U32",
        SafetensorsDtype.U64 => "U64",
        SafetensorsDtype.F8_E4M3 => "F8_E4M3",
        SafetensorsDtype.F8_E5M2 => "F8_E5M2",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>Parses a header spelling (exact, case-sensitive, as the format requires).</summary>
    public static bool TryParse(string? name, out SafetensorsDtype dtype)
    {
        SafetensorsDtype? parsed = name switch
        {
            "F32" => SafetensorsDtype.F32,
            "F16" => SafetensorsDtype.F16,
            "BF16" => SafetensorsDtype.BF16,
            "F64" => SafetensorsDtype.F64,
            "I64" => SafetensorsDtype.I64,
            "I32" => SafetensorsDtype.I32,
            "I16" => SafetensorsDtype.I16,
            "I8" => SafetensorsDtype.I8,
            "U8" => SafetensorsDtype.U8,
            "BOOL" => SafetensorsDtype.BOOL,
            "U16" => SafetensorsDtype.U16,
            "U32" => SafetensorsDtype.U32,
            "U64" => SafetensorsDtype.U64,
            "F8_E4M3" => SafetensorsDtype.F8_E4M3,
            "F8_E5M2" => SafetensorsDtype.F8_E5M2,
            _ => null,
        };
        dtype = parsed.GetValueOrDefault();
        return parsed.HasValue;
    }
}
