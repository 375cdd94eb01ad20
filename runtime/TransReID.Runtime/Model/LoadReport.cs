using System;
using System.Collections.Generic;
using System.Linq;

namespace TransReID.Runtime.Model;

/// <summary>What a weights file holds, as told by its keys.</summary>
public enum WeightsKind
{
    /// <summary>A TransReID state dict (<c>base.*</c>, <c>b1.*</c>, <c>bottleneck*</c>, …): <c>Load</c>.</summary>
    TransReID,

    /// <summary>An ImageNet ViT/DeiT state dict with timm names (<c>cls_token</c>, <c>blocks.N.*</c>, …): <c>LoadPretrained</c>.</summary>
    ImageNet,
}

/// <summary>What happened to one tensor.</summary>
public enum LoadAction
{
    /// <summary>Copied from the file as it is (dtype converted to float32 where needed).</summary>
    Loaded,

    /// <summary>Position embedding resized from the file's grid to the model's (bilinear, align_corners = False).</summary>
    Resized,

    /// <summary>Same values, another shape (a linear patchify weight read as the conv weight).</summary>
    Reshaped,

    /// <summary>A copy of another tensor of the model after loading (b1/b2 from the last block and the final norm).</summary>
    Copied,

    /// <summary>Initialised as the official code does from scratch (with the seed), or kept at the model's values.</summary>
    Initialized,

    /// <summary>In the file but not used (not in the model, classification head, distillation token, class count…).</summary>
    Skipped,
}

/// <summary>One line of a <see cref="LoadReport"/>: the model's tensor and/or the file's key, the action, and why.</summary>
public sealed record LoadReportEntry(string? Target, string? Source, LoadAction Action, string Detail);

/// <summary>What a <c>Load</c> or <c>LoadPretrained</c> did with each tensor of the file and of the model.</summary>
public sealed class LoadReport
{
    private readonly List<LoadReportEntry> _entries = [];

    internal LoadReport(string path, string format, WeightsKind kind)
    {
        Path = path;
        Format = format;
        Kind = kind;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>"safetensors", "PyTorch zip" or "PyTorch legacy".</summary>
    public string Format { get; }

    /// <summary>How the file was read.</summary>
    public WeightsKind Kind { get; }

    /// <summary>Every entry, in the order they were decided.</summary>
    public IReadOnlyList<LoadReportEntry> Entries => _entries;

    /// <summary>Entries with <paramref name="action"/>.</summary>
    public IEnumerable<LoadReportEntry> With(LoadAction action) => _entries.Where(e => e.Action == action);

    /// <summary>Number of entries with <paramref name="action"/>.</summary>
    public int Count(LoadAction action) => _entries.Count(e => e.Action == action);

    internal void Add(string? target, string? source, LoadAction action, string detail) => _entries.Add(new(target, source, action, detail));

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Path} ({Format}, {Kind}): " + string.Join(", ", Enum.GetValues<LoadAction>().Select(a => (a, n: Count(a))).Where(t => t.n > 0).Select(t => $"{t.n} {t.a.ToString().ToLowerInvariant()}"));
}
