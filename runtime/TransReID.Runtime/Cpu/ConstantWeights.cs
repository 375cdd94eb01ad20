using System;
using System.Collections.Generic;
using System.Linq;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// The CPU backend's side of <see cref="IBackend.DeclareConstantWeights"/>: while a range is declared, a Linear (or
/// patch-embedding) weight that lies inside it is packed for the GEMM kernel on its first use (<see cref="PackedWeight"/>) and the packed copy
/// is reused by every later call, instead of re-packing the weight on each call. A declaration with another start,
/// length or version drops every packed copy; ending the declaration (0 elements) only stops their use, so the next
/// Embed of an unchanged model finds them again. Costs one packed copy of the Linear weights (for ViT-B about 85 M
/// floats, 340 MB) for as long as the backend lives or until the weights change.
/// </summary>
internal sealed unsafe class ConstantWeights : IDisposable
{
    private readonly Dictionary<(nint W, int N, int K, GemmKernelKind Kind), PackedWeight> _packed = new();
    private float* _start;
    private long _elements;
    private long _version;
    private bool _active;

    /// <summary>Environment variable: "0" turns the packed copies off (each call then packs as in training).</summary>
    public const string Variable = "TRANSREID_PACKED_WEIGHTS";

    /// <summary>Whether declared weights are packed once (default) or on every call (<see cref="Variable"/> = 0).</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable(Variable) != "0";

    /// <summary>Floats held by the packed copies.</summary>
    public long Floats => _packed.Values.Sum(p => p.Floats);

    /// <summary>Declares [start, start + elements) at <paramref name="version"/>; 0 elements ends the declaration.</summary>
    public void Declare(float* start, long elements, long version)
    {
        if (elements == 0)
        {
            _active = false;
            return;
        }
        if (start != _start || elements != _elements || version != _version) Clear();
        _start = start;
        _elements = elements;
        _version = version;
        _active = true;
    }

    /// <summary>The packed form of w [n, k] when it lies inside the declared range (packed now if first seen), else null.</summary>
    public PackedWeight? Find(float* w, int n, int k, CpuParallel par)
    {
        if (!_active || !Enabled || w < _start || w + (long)n * k > _start + _elements) return null;
        var key = ((nint)w, n, k, GemmDriver.KernelKind);
        if (!_packed.TryGetValue(key, out var packed))
        {
            packed = new PackedWeight(w, n, k, key.Item4, PackedGemm.KcFor(key.Item4), par);
            _packed.Add(key, packed);
        }
        return packed;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Clear();
        _active = false;
    }

    private void Clear()
    {
        foreach (var p in _packed.Values) p.Dispose();
        _packed.Clear();
    }
}
