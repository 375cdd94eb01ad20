using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Model;

public sealed partial class ModelCore
{
    private const string DdpPrefix = "module.";

    /// <summary>
    /// Loads official-name TransReID weights from a safetensors file or a PyTorch checkpoint (<c>.pth</c>/<c>.pt</c>,
    /// zip or legacy, the state dict itself or wrapped in <c>model</c>/<c>state_dict</c>). Keys may carry a DDP
    /// <c>module.</c> prefix. Tensors the forward never uses (backbone's last block with JPM, <c>base.norm</c>,
    /// <c>base.fc</c>) and <c>num_batches_tracked</c> may be absent. Classifiers whose class count differs from the
    /// model's are skipped with a note (fine-tuning on another dataset) and keep the model's values. Any other missing
    /// key, an unexpected key, a wrong shape or a wrong dtype (safetensors: F32; PyTorch: F32, F16, BF16 or F64) is an
    /// error listing them all, and nothing is loaded.
    /// </summary>
    public LoadReport Load(string path)
    {
        using var file = WeightsSource.Open(path);
        var report = new LoadReport(file.Path, file.Format, WeightsKind.TransReID);
        var byName = new Dictionary<string, WeightsTensor>(StringComparer.Ordinal);
        foreach (var t in file.Tensors) byName[Strip(t.Name)] = t;

        var problems = new List<string>();
        var host = new float[ParameterCount];
        Backend.Download(Parameters.Ptr, host);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in _table)
        {
            if (!byName.TryGetValue(p.Name, out var e))
            {
                if ((p.Flags & ParameterFlags.Unused) == 0) problems.Add($"missing key '{p.Name}' (expected F32 {p.ShapeText})");
                else report.Add(p.Name, null, LoadAction.Initialized, "not in the file (unused by the forward): kept the model's values");
                continue;
            }

            seen.Add(p.Name);
            if (!(e.Dtype == SafetensorsDtype.F32 || (file.ConvertsFloats && e.IsFloat)))
            {
                problems.Add($"key '{p.Name}': expected dtype F32{(file.ConvertsFloats ? " (or F16, BF16, F64)" : string.Empty)}, found {e.Dtype.ToHeaderName()}");
                continue;
            }

            if (!e.Shape.AsSpan().SequenceEqual(p.Shape))
            {
                if (IsClassifier(p) && e.Shape.Length == 2 && e.Shape[1] == p.Shape[1])
                {
                    report.Add(p.Name, e.Name, LoadAction.Skipped,
                        $"{e.Shape[0]} classes in the file, {p.Shape[0]} in the model: kept the model's classifier (fine-tuning on another dataset)");
                    continue;
                }

                problems.Add($"key '{p.Name}': expected shape {p.ShapeText}, found {SafetensorsShape.Format(e.Shape)}");
                continue;
            }

            file.ReadF32(e.Name, host.AsSpan(checked((int)p.Offset), checked((int)p.Count)));
            report.Add(p.Name, e.Name, LoadAction.Loaded, SafetensorsShape.Format(e.Shape) + (e.Dtype == SafetensorsDtype.F32 ? string.Empty : $" from {e.Dtype.ToHeaderName()}"));
        }

        var counters = new long[_batchNorms.Length];
        for (int i = 0; i < _batchNorms.Length; i++)
        {
            string key = _batchNorms[i] + ".num_batches_tracked";
            if (!byName.TryGetValue(key, out var e)) continue;
            seen.Add(key);
            bool integer = e.Dtype is SafetensorsDtype.I64 || (file.ConvertsFloats && e.Dtype is SafetensorsDtype.I32);
            if (!integer || SafetensorsShape.ElementCount(e.Shape) != 1)
            {
                problems.Add($"key '{key}': expected an I64 scalar, found {e.Dtype.ToHeaderName()} {SafetensorsShape.Format(e.Shape)}");
                continue;
            }

            counters[i] = file.ReadScalarI64(e.Name);
        }

        foreach (var name in byName.Keys.Where(k => !seen.Contains(k)).Order(StringComparer.Ordinal))
        {
            problems.Add($"unexpected key '{name}' (not in the model {ModelName})");
        }

        if (problems.Count > 0)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"weights '{path}' do not fit the model {ModelName}: {problems.Count} problem(s):");
            foreach (var line in problems.Take(40)) sb.Append("\n  ").Append(line);
            if (problems.Count > 40) sb.Append(CultureInfo.InvariantCulture, $"\n  … and {problems.Count - 40} more");
            if (byName.Keys.Any(k => k.StartsWith("blocks.", StringComparison.Ordinal)) && !byName.Keys.Any(k => k.StartsWith("base.", StringComparison.Ordinal)))
                sb.Append("\n  (the keys are an ImageNet ViT's: initialise a model from it with LoadPretrained / 'train --pretrained' / 'convert')");
            throw new InvalidOperationException(sb.ToString());
        }

        Backend.Upload(host, Parameters.Ptr);
        ParameterVersion++;
        Array.Copy(counters, NumBatchesTracked, counters.Length);
        return report;
    }

    /// <summary>
    /// Initialises the model from ImageNet ViT/DeiT weights with timm names, as the official <c>load_param</c> does:
    /// keys containing <c>head</c> or <c>dist</c> are dropped; <c>pos_embed</c> is resized from its square grid to
    /// (<paramref name="gridY"/>, <paramref name="gridX"/>) with bilinear interpolation (align_corners = False), the
    /// [cls] row kept, after removing a distilled DeiT's distillation row (file name containing <c>distilled</c>, or
    /// a <c>dist_token</c> key); a linear patchify weight is reshaped to the conv weight; everything else of the
    /// backbone loads by name (<c>X</c> → <c>base.X</c>); a tensor whose shape does not fit is skipped with a note
    /// (the official code prints it and goes on). The rest of the model is the official scratch initialisation with
    /// <paramref name="seed"/>, and b1/b2 start as copies of the loaded last block and final norm.
    /// </summary>
    public LoadReport LoadPretrained(string path, int gridY, int gridX, int seed)
    {
        using var file = WeightsSource.Open(path);
        var report = new LoadReport(file.Path, file.Format, WeightsKind.ImageNet);
        float[] host = ScratchValues(seed);
        bool distilled = System.IO.Path.GetFileName(path).Contains("distilled", StringComparison.OrdinalIgnoreCase)
            || file.Tensors.Any(t => Strip(t.Name) == "dist_token");
        var filled = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var e in file.Tensors)
        {
            string key = Strip(e.Name);
            if (key.Contains("head", StringComparison.Ordinal) || key.Contains("dist", StringComparison.Ordinal))
            {
                report.Add(null, e.Name, LoadAction.Skipped, "classification head / distillation token: not used by TransReID");
                continue;
            }

            if (!_index.TryGetValue("base." + key, out int index))
            {
                report.Add(null, e.Name, LoadAction.Skipped, "not a tensor of the model's backbone");
                continue;
            }

            var p = _table[index];
            if (!e.IsFloat)
            {
                problems.Add($"key '{e.Name}': dtype {e.Dtype.ToHeaderName()} is not a floating-point type");
                continue;
            }

            Span<float> dst = host.AsSpan(checked((int)p.Offset), checked((int)p.Count));
            long count = SafetensorsShape.ElementCount(e.Shape);
            if (p.Name == "base.patch_embed.proj.weight" && e.Shape.Length < 4 && count == p.Count)
            {
                file.ReadF32(e.Name, dst);
                report.Add(p.Name, e.Name, LoadAction.Reshaped, $"linear patchify weight {SafetensorsShape.Format(e.Shape)} read as the conv weight {p.ShapeText}");
            }
            else if (p.Name == "base.pos_embed" && !e.Shape.AsSpan().SequenceEqual(p.Shape))
            {
                if (e.Shape.Length != 3 || e.Shape[0] != 1 || e.Shape[2] != p.Shape[2])
                {
                    report.Add(p.Name, e.Name, LoadAction.Skipped, $"shape {SafetensorsShape.Format(e.Shape)} does not fit the model's {p.ShapeText}");
                    continue;
                }

                var values = new float[count];
                file.ReadF32(e.Name, values);
                int rows = checked((int)e.Shape[1]), dim = checked((int)e.Shape[2]);
                string note = string.Empty;
                if (distilled)
                {
                    // drop row 1, the distillation token's position
                    if (rows < 2) throw new InvalidOperationException($"weights '{path}': key '{e.Name}' has {rows} rows, too few for a distilled DeiT's cls and distillation rows");
                    values = [.. values.AsSpan(0, dim), .. values.AsSpan(2 * dim)];
                    rows--;
                    note = ", distillation row removed";
                }

                int old = (int)Math.Round(Math.Sqrt(rows - 1));
                if (old * old != rows - 1)
                {
                    throw new InvalidOperationException(
                        $"weights '{path}': key '{e.Name}' has {rows - 1} grid rows after the cls row{(distilled ? " and the distillation row" : string.Empty)}, which is not a square grid");
                }

                PositionEmbedding.Resize(values, old, old, dim, gridY, gridX, dst);
                report.Add(p.Name, e.Name, LoadAction.Resized, $"{SafetensorsShape.Format(e.Shape)} ({old}×{old} grid{note}) → {p.ShapeText} ({gridY}×{gridX}), bilinear, align_corners=False");
            }
            else if (e.Shape.AsSpan().SequenceEqual(p.Shape))
            {
                file.ReadF32(e.Name, dst);
                report.Add(p.Name, e.Name, LoadAction.Loaded, SafetensorsShape.Format(e.Shape) + (e.Dtype == SafetensorsDtype.F32 ? string.Empty : $" from {e.Dtype.ToHeaderName()}"));
            }
            else
            {
                report.Add(p.Name, e.Name, LoadAction.Skipped, $"shape {SafetensorsShape.Format(e.Shape)} does not fit the model's {p.ShapeText}");
                continue;
            }

            filled.Add(p.Name);
        }

        if (problems.Count > 0) throw new InvalidOperationException($"weights '{path}' cannot initialise the model {ModelName}:\n  " + string.Join("\n  ", problems));
        if (!filled.Any(n => n.StartsWith("base.blocks.", StringComparison.Ordinal)))
        {
            string hint = file.Tensors.Any(t => Strip(t.Name).StartsWith("base.", StringComparison.Ordinal))
                ? " (its keys are a TransReID model's: load it with Load / --weights / --init)"
                : string.Empty;
            throw new InvalidOperationException($"weights '{path}' have no ImageNet ViT block that fits the model {ModelName} (keys like 'blocks.0.attn.qkv.weight' with the model's shapes){hint}");
        }

        foreach (var p in _table)
        {
            if (filled.Contains(p.Name)) continue;
            if (p.Init == InitKind.CopyOf && filled.Contains(_table[p.CopySource].Name))
            {
                // ScratchValues copied the scratch values; copy the loaded ones
                host.AsSpan(checked((int)_table[p.CopySource].Offset), checked((int)p.Count)).CopyTo(host.AsSpan(checked((int)p.Offset), checked((int)p.Count)));
                report.Add(p.Name, null, LoadAction.Copied, "copy of " + _table[p.CopySource].Name);
            }
            else
            {
                report.Add(p.Name, null, LoadAction.Initialized, $"official scratch initialisation ({p.Init}, seed {seed.ToString(CultureInfo.InvariantCulture)})");
            }
        }

        Backend.Upload(host, Parameters.Ptr);
        ParameterVersion++;
        Array.Clear(NumBatchesTracked);
        Step = 0;
        return report;
    }

    /// <summary>Whether the keys of <paramref name="path"/> are a TransReID model's or an ImageNet backbone's.</summary>
    public static WeightsKind DetectKind(string path)
    {
        using var file = WeightsSource.Open(path);
        var keys = file.Tensors.Select(t => Strip(t.Name)).ToArray();
        if (keys.Any(k => k.StartsWith("base.", StringComparison.Ordinal) || k.StartsWith("b1.", StringComparison.Ordinal) || k.StartsWith("bottleneck", StringComparison.Ordinal)))
            return WeightsKind.TransReID;
        if (keys.Any(k => k.StartsWith("blocks.", StringComparison.Ordinal) || k.StartsWith("patch_embed.", StringComparison.Ordinal) || k == "pos_embed"))
            return WeightsKind.ImageNet;
        throw new InvalidOperationException(
            $"weights '{path}' are neither a TransReID state dict (keys 'base.*', 'b1.*', 'bottleneck*') nor an ImageNet ViT's (keys 'blocks.N.*', 'patch_embed.*', 'pos_embed'); first keys: {string.Join(", ", keys.Take(5))}");
    }

    private static string Strip(string key) => key.StartsWith(DdpPrefix, StringComparison.Ordinal) ? key[DdpPrefix.Length..] : key;

    private static bool IsClassifier(ParameterInfo p) => p.Name.StartsWith("classifier", StringComparison.Ordinal);
}

/// <summary>The position-embedding resize of the official <c>resize_pos_embed</c> (docs/model.md#position-embedding-resize).</summary>
public static class PositionEmbedding
{
    /// <summary>
    /// Resizes <c>[1, 1 + inY·inX, dim]</c> to <c>[1, 1 + outY·outX, dim]</c>: row 0 ([cls]) kept, the grid rows
    /// (row-major) interpolated bilinearly with align_corners = False and no antialiasing, computed in float32 as
    /// PyTorch's CPU kernel does (<c>src = (dst + 0.5)·in/out − 0.5</c>, clamped below at 0).
    /// </summary>
    public static void Resize(ReadOnlySpan<float> source, int inY, int inX, int dim, int outY, int outX, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inY, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inX, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outY, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outX, 1);
        if (source.Length != (1L + ((long)inY * inX)) * dim) throw new ArgumentException($"source has {source.Length} values, not (1 + {inY}·{inX})·{dim}", nameof(source));
        if (destination.Length != (1L + ((long)outY * outX)) * dim) throw new ArgumentException($"destination has {destination.Length} values, not (1 + {outY}·{outX})·{dim}", nameof(destination));
        source[..dim].CopyTo(destination);
        var grid = source[dim..];
        var output = destination[dim..];
        for (int y = 0; y < outY; y++)
        {
            Axis(y, inY, outY, out int y0, out int y1, out float hy0, out float hy1);
            for (int x = 0; x < outX; x++)
            {
                Axis(x, inX, outX, out int x0, out int x1, out float wx0, out float wx1);
                var r00 = grid.Slice(((y0 * inX) + x0) * dim, dim);
                var r01 = grid.Slice(((y0 * inX) + x1) * dim, dim);
                var r10 = grid.Slice(((y1 * inX) + x0) * dim, dim);
                var r11 = grid.Slice(((y1 * inX) + x1) * dim, dim);
                var o = output.Slice(((y * outX) + x) * dim, dim);
                for (int c = 0; c < dim; c++) o[c] = (hy0 * ((wx0 * r00[c]) + (wx1 * r01[c]))) + (hy1 * ((wx0 * r10[c]) + (wx1 * r11[c])));
            }
        }
    }

    private static void Axis(int dst, int size, int outSize, out int i0, out int i1, out float l0, out float l1)
    {
        float scale = (float)size / outSize;
        float src = (scale * (dst + 0.5f)) - 0.5f;
        if (src < 0) src = 0;
        i0 = (int)src;
        i1 = i0 + (i0 < size - 1 ? 1 : 0);
        l1 = src - i0;
        l0 = 1f - l1;
    }
}
