using System;
using System.Collections.Generic;
using System.Globalization;

namespace TransReID.Runtime.Onnx;

/// <summary>Element type of an <see cref="OnnxValue"/>.</summary>
public enum OnnxElementType
{
    /// <summary>float32.</summary>
    Float,

    /// <summary>int64 (indices).</summary>
    Int64,

    /// <summary>uint8 (raw pixels).</summary>
    UInt8,

    /// <summary>bool (masks).</summary>
    Bool,
}

/// <summary>
/// A value of the graph an <see cref="OnnxGraphBuilder"/> is building: its name in the graph, its element type and its
/// shape, where <see cref="Dynamic"/> (−1) marks the leading dimension that grows with the batch (N, or K·N for JPM part
/// rows).
/// </summary>
public sealed class OnnxValue
{
    /// <summary>The dimension that depends on the batch size.</summary>
    public const long Dynamic = -1;

    internal OnnxValue(string name, OnnxElementType elementType, IReadOnlyList<long> shape)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
    }

    /// <summary>The value's name in the graph.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>The shape; <see cref="Dynamic"/> where it depends on the batch.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Count;

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {ElementType}[{string.Join(", ", Dims())}]");

    private IEnumerable<string> Dims()
    {
        foreach (long d in Shape) yield return d == Dynamic ? "N" : d.ToString(CultureInfo.InvariantCulture);
    }

    internal void RequireRank(int rank, string what)
    {
        if (Rank != rank)
            throw new ArgumentException($"{what} needs a rank-{rank} value, got {this}");
    }
}
