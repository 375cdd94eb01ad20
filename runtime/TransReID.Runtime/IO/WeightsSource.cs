using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace TransReID.Runtime.IO;

/// <summary>One tensor of a weights file, whatever its container.</summary>
internal sealed record WeightsTensor(string Name, SafetensorsDtype Dtype, long[] Shape)
{
    public bool IsFloat => Dtype is SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.F64;
}

/// <summary>
/// A weights file opened for loading into a model: safetensors, or a PyTorch checkpoint (zip or legacy). The container
/// is chosen by the extension (<c>.safetensors</c>; <c>.pth</c>, <c>.pt</c>, <c>.bin</c>, <c>.ckpt</c>, <c>.tar</c>) and
/// otherwise by the first bytes.
/// </summary>
internal abstract class WeightsSource : IDisposable
{
    public abstract string Path { get; }

    /// <summary>"safetensors", "PyTorch zip" or "PyTorch legacy".</summary>
    public abstract string Format { get; }

    public abstract IReadOnlyList<WeightsTensor> Tensors { get; }

    /// <summary>Whether F16/BF16/F64 tensors are converted (PyTorch files); safetensors weights must be F32, as before.</summary>
    public abstract bool ConvertsFloats { get; }

    public abstract void ReadF32(string name, Span<float> destination);

    public abstract long ReadScalarI64(string name);

    public abstract void Dispose();

    public static WeightsSource Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return IsPth(path) ? new Pth(PthFile.Open(path)) : new Safetensors(SafetensorsFile.Open(path));
    }

    /// <summary>Whether <paramref name="path"/> is read as a PyTorch checkpoint.</summary>
    public static bool IsPth(string path)
    {
        string ext = System.IO.Path.GetExtension(path).ToUpperInvariant();
        if (ext == ".SAFETENSORS") return false;
        if (ext is ".PTH" or ".PT" or ".BIN" or ".CKPT" or ".TAR") return true;
        Span<byte> head = stackalloc byte[9];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        // a safetensors header is JSON right after the 8-byte length
        return !(n == 9 && head[8] == (byte)'{') && PthFile.LooksLikePth(head[..n]);
    }

    private sealed class Safetensors(SafetensorsFile file) : WeightsSource
    {
        private readonly WeightsTensor[] _tensors = file.Entries.Values.OrderBy(e => e.Begin).Select(e => new WeightsTensor(e.Name, e.Dtype, e.Shape)).ToArray();

        public override string Path => file.Path;

        public override string Format => "safetensors";

        public override IReadOnlyList<WeightsTensor> Tensors => _tensors;

        public override bool ConvertsFloats => false;

        public override void ReadF32(string name, Span<float> destination)
        {
            file.ReadF32(name, destination);
            if (FirstNonFinite(destination) is int bad)
            {
                throw new SafetensorsException(file.Path, name, NonFiniteDetail(file.Entries[name].Shape, destination, bad));
            }
        }

        public override long ReadScalarI64(string name) => file.ReadI64(name)[0];

        public override void Dispose() => file.Dispose();
    }

    private sealed class Pth(PthFile file) : WeightsSource
    {
        private readonly WeightsTensor[] _tensors = file.Tensors.Select(t => new WeightsTensor(t.Name, t.Dtype, t.Shape)).ToArray();

        public override string Path => file.Path;

        public override string Format => "PyTorch " + file.Format;

        public override IReadOnlyList<WeightsTensor> Tensors => _tensors;

        public override bool ConvertsFloats => true;

        public override void ReadF32(string name, Span<float> destination)
        {
            file.ReadF32(name, destination);
            if (FirstNonFinite(destination) is int bad)
            {
                long[] shape = file.Tensors.First(t => string.Equals(t.Name, name, StringComparison.Ordinal)).Shape;
                throw new PthException(file.Path, name, NonFiniteDetail(shape, destination, bad));
            }
        }

        public override long ReadScalarI64(string name) => file.ReadI64(name)[0];

        public override void Dispose() => file.Dispose();
    }

    /// <summary>The index of the first NaN or infinity, null when every value is finite.</summary>
    internal static int? FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }

        return null;
    }

    /// <summary>"value [0, 3] (flat index 3) is NaN; ..." for the first bad value of a tensor of <paramref name="shape"/>.</summary>
    internal static string NonFiniteDetail(long[] shape, ReadOnlySpan<float> values, int flat)
    {
        var index = new long[shape.Length];
        long rest = flat;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            long size = Math.Max(1, shape[d]);
            index[d] = rest % size;
            rest /= size;
        }

        int bad = 0;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) bad++;
        }

        string what = float.IsNaN(values[flat]) ? "NaN" : values[flat] > 0 ? "+Inf" : "-Inf";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"value [{string.Join(", ", index)}] (flat index {flat}) is {what}; {bad} of {values.Length} values are not finite: the weights are unusable (a diverged or damaged model)");
    }
}
