using System;
using System.Collections.Generic;
using System.Linq;

namespace TransReID.Generators.Emit;

/// <summary>
/// One buffer of an activation arena. Per-sample buffers sit at <c>Fixed + Offset·B</c> and hold <c>Size·B</c>
/// floats; fixed ones at <c>Offset</c> with <c>Size</c> floats. <see cref="FirstUse"/>/<see cref="LastUse"/> are step
/// indices of the arena's schedule (inclusive): two buffers whose steps intersect never share memory.
/// </summary>
internal sealed record ArenaBuffer(string Name, bool IsFixed, long Offset, long Size, int FirstUse, int LastUse, string Contents)
{
    /// <summary>PascalCase name of the emitted offset constant.</summary>
    public string ConstantName => char.ToUpperInvariant(Name[0]) + Name.Substring(1);

    /// <summary>Whether the two are used at a common step (then they must not share memory).</summary>
    public bool LiveWith(ArenaBuffer other) => FirstUse <= other.LastUse && other.FirstUse <= LastUse;
}

/// <summary>
/// An activation arena: named buffers with liveness, placed first-fit so that a buffer reuses the space of buffers
/// that are dead before it is first written. Offsets are in floats and 64-byte aligned. The triplet scratch
/// (B² + 4B floats, training only) follows every per-sample buffer.
/// </summary>
internal sealed class ArenaPlan
{
    private readonly List<ArenaBuffer> _buffers = new();
    private readonly Dictionary<string, ArenaBuffer> _byName = new(StringComparer.Ordinal);

    public ArenaPlan(string name, IReadOnlyList<string> steps)
    {
        Name = name;
        Steps = steps;
    }

    /// <summary>"Embed" or "Train": the emitted constants live in <c>{Name}Arena</c>.</summary>
    public string Name { get; }

    /// <summary>What each step index of <see cref="ArenaBuffer.FirstUse"/> means, for the emitted table.</summary>
    public IReadOnlyList<string> Steps { get; }

    public IReadOnlyList<ArenaBuffer> Buffers => _buffers;

    /// <summary>Floats of the fixed part.</summary>
    public long FixedSize { get; private set; }

    /// <summary>Floats per sample of the per-sample part.</summary>
    public long PerSample { get; private set; }

    public ArenaBuffer this[string name] => _byName.TryGetValue(name, out var b) ? b
        : throw new ArgumentException($"the {Name} arena has no buffer '{name}'", nameof(name));

    public bool Has(string name) => _byName.ContainsKey(name);

    /// <summary>Places a fixed-size buffer (batch-independent), live over steps first..last.</summary>
    public ArenaBuffer Fixed(string name, long size, int first, int last, string contents) => Place(name, true, size, first, last, contents);

    /// <summary>Places a buffer of <paramref name="perSample"/> floats per sample, live over steps first..last.</summary>
    public ArenaBuffer Sample(string name, long perSample, int first, int last, string contents) => Place(name, false, perSample, first, last, contents);

    private ArenaBuffer Place(string name, bool isFixed, long size, int first, int last, string contents)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, $"buffer '{name}' must not be empty");
        if (first > last) throw new ArgumentException($"buffer '{name}' is used at step {first} after its last use {last}");
        if (_byName.ContainsKey(name)) throw new ArgumentException($"buffer '{name}' is placed twice");

        // first fit: the lowest aligned offset that overlaps no buffer of the same part live at the same time
        var placed = new ArenaBuffer(name, isFixed, 0, size, first, last, contents);
        var conflicts = _buffers.Where(other => other.IsFixed == isFixed && other.LiveWith(placed)).OrderBy(other => other.Offset);
        long offset = 0, padded = ModelPlan.Pad(size);
        foreach (var other in conflicts)
        {
            if (offset + padded <= other.Offset) break;
            offset = Math.Max(offset, other.Offset + ModelPlan.Pad(other.Size));
        }

        var buffer = placed with { Offset = offset };
        _buffers.Add(buffer);
        _byName[name] = buffer;
        if (isFixed) FixedSize = Math.Max(FixedSize, offset + padded);
        else PerSample = Math.Max(PerSample, offset + padded);
        return buffer;
    }
}
