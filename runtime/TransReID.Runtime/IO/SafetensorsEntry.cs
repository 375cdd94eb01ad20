using System;
using System.Globalization;
using System.Text;

namespace TransReID.Runtime.IO;

/// <summary>
/// One tensor of a safetensors file: its dtype, shape (row-major; <c>[]</c> is a scalar) and byte range
/// [<paramref name="Begin"/>, <paramref name="End"/>) relative to the start of the data region after the header.
/// Two entries are equal when all fields are, the shape compared element by element.
/// </summary>
public sealed record SafetensorsEntry(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>Product of the dimensions (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount => SafetensorsShape.ElementCount(Shape);

    /// <summary><see cref="End"/> − <see cref="Begin"/>.</summary>
    public long ByteLength => End - Begin;

    /// <inheritdoc/>
    public bool Equals(SafetensorsEntry? other) =>
        other is not null && Name == other.Name && Dtype == other.Dtype && Begin == other.Begin && End == other.End
        && Shape.AsSpan().SequenceEqual(other.Shape);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name, StringComparer.Ordinal);
        hash.Add(Dtype);
        hash.Add(Begin);
        hash.Add(End);
        foreach (long d in Shape) hash.Add(d);
        return hash.ToHashCode();
    }

    /// <summary>E.g. <c>blocks.0.attn.qkv.weight F32 [2304, 768] @ [0, 7077888)</c>.</summary>
    public override string ToString() =>
        $"{Name} {Dtype.ToHeaderName()} {SafetensorsShape.Format(Shape)} @ [{Begin}, {End})";
}

/// <summary>Shape arithmetic shared by the reader and the writer.</summary>
internal static class SafetensorsShape
{
    /// <summary>Product of <paramref name="shape"/>; throws on a negative dimension or on overflow.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        if (!TryElementCount(shape, out long count, out string? error)) throw new ArgumentException(error, nameof(shape));
        return count;
    }

    public static bool TryElementCount(ReadOnlySpan<long> shape, out long count, out string? error)
    {
        count = 1;
        error = null;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                error = $"shape {Format(shape)} has negative dimension {d}";
                return false;
            }
        }
        // Dimensions are all non-negative now; a zero anywhere makes the product 0 whatever the others are.
        foreach (long d in shape)
        {
            if (d == 0)
            {
                count = 0;
                return true;
            }
        }
        foreach (long d in shape)
        {
            if (count > long.MaxValue / d)
            {
                error = $"shape {Format(shape)} has more than {long.MaxValue} elements";
                return false;
            }
            count *= d;
        }
        return true;
    }

    public static string Format(ReadOnlySpan<long> shape)
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) text.Append(", ");
            text.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }
        return text.Append(']').ToString();
    }
}
