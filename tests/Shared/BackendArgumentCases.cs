// Linked into TransReID.Runtime.Tests (CPU) and TransReID.Cuda.Tests (CUDA, on a GPU or the emulator): one table of bad
// arguments that every backend must reject before it touches memory, with the same exception and message.
using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Runtime;

namespace TransReID.TestShared;

/// <summary>One call with a bad argument: what it breaks, the call (on a backend, given a valid 4096-float buffer), the exception and a part of its message.</summary>
internal sealed record BackendArgumentCase(string Name, Action<IBackend, DevicePtr> Call, Type Exception, string Message);

/// <summary>Bad arguments for every op of <see cref="IBackend"/>, as <see cref="BackendChecks"/> states each op's contract.</summary>
internal static class BackendArgumentCases
{
    /// <summary>Floats in the buffer the calls get.</summary>
    public const int BufferFloats = 4096;

    private static readonly DevicePtr N = DevicePtr.Null;

    public static IReadOnlyList<BackendArgumentCase> All { get; } =
    [
        Range("Allocate negative", (b, p) => b.Allocate(-1), "Cannot allocate a negative number of elements."),
        Null("Upload to null", (b, p) => b.Upload(new float[3], N), "Upload: destination must not be null."),
        Null("Upload ints to null", (b, p) => b.Upload(new int[3], N), "Upload: destination must not be null."),
        Null("Download from null", (b, p) => b.Download(N, new float[3]), "Download: source must not be null."),
        Range("Zero negative", (b, p) => b.Zero(p, -1), "Zero: elements must not be negative."),
        Null("Zero null", (b, p) => b.Zero(N, 5), "Zero: destination must not be null."),
        Null("Copy from null", (b, p) => b.Copy(N, p, 5), "Copy: source must not be null."),
        Null("DeclareConstantWeights null start", (b, p) => b.DeclareConstantWeights(N, 5, 1), "DeclareConstantWeights: start must not be null."),
        Range("DeclareConstantWeights negative", (b, p) => b.DeclareConstantWeights(p, -1, 1), "DeclareConstantWeights: elements must not be negative."),
        Range("Linear m = 0", (b, p) => b.Linear(p, p, N, p, 0, 4, 4), "Linear: m must be positive."),
        Null("Linear null w", (b, p) => b.Linear(p, N, N, p, 2, 4, 4), "Linear: w must not be null."),
        Null("LinearBackward null dy", (b, p) => b.LinearBackward(N, p, p, p, p, N, 2, 4, 4, false), "LinearBackward: dy must not be null."),
        Arg("PatchEmbed grid too large", (b, p) => b.PatchEmbed(p, p, p, N, p, 1, 1, 8, 8, 4, 4, 4, 3, 2, 4),
            "PatchEmbed: a 3x2 grid of 4-pixel patches with stride (4, 4) does not fit a 8x8 image."),
        Null("PatchEmbedBackward null dw", (b, p) => b.PatchEmbedBackward(p, p, N, N, 2, 4, 4), "PatchEmbedBackward: dw must not be null."),
        Range("TokenEmbed one token", (b, p) => b.TokenEmbed(p, p, p, N, N, 0f, p + 2048, 1, 1, 4), "TokenEmbed: tokens (N + 1) must be at least 2."),
        Null("TokenEmbed sie without sieIndex", (b, p) => b.TokenEmbed(p, p, p, p, N, 1f, p + 2048, 2, 3, 4), "TokenEmbed: sieIndex must not be null."),
        Arg("TokenEmbed in place", (b, p) => b.TokenEmbed(p + 4, p + 1024, p + 2048, N, N, 0f, p, 2, 3, 4), "the token embedding is not in place."),
        Range("TokenEmbedBackward batch = 0", (b, p) => b.TokenEmbedBackward(p, p, p, p, N, N, 0f, 0, 3, 4), "TokenEmbedBackward: batch must be positive."),
        Null("TokenEmbedBackward dsie without sieIndex", (b, p) => b.TokenEmbedBackward(p, p, p, p, p, N, 1f, 2, 3, 4),
            "TokenEmbedBackward: sieIndex must not be null."),
        Null("LayerNorm null gamma", (b, p) => b.LayerNorm(p, N, p, p, p, p, 2, 4, 1e-6f), "LayerNorm: gamma must not be null."),
        Null("LayerNormBackward null dx", (b, p) => b.LayerNormBackward(p, p, p, p, p, N, p, p, 2, 4, false), "LayerNormBackward: dx must not be null."),
        Range("BatchNormTrain one row", (b, p) => b.BatchNormTrain(p, p, p, p, p, p, N, N, 1, 4, 1e-5f, 0.1f),
            "BatchNormTrain: training-mode batch norm needs more than one value per channel (rows = 1)."),
        Null("BatchNormEval null runningVar", (b, p) => b.BatchNormEval(p, p, p, p, N, p, 2, 4, 1e-5f), "BatchNormEval: runningVar must not be null."),
        Null("BatchNormEvalBackward null gamma", (b, p) => b.BatchNormEvalBackward(p, p, N, p, p, p, p, p, 2, 4, 1e-5f, false),
            "BatchNormEvalBackward: gamma must not be null."),
        Range("BatchNormBackward channels = 0", (b, p) => b.BatchNormBackward(p, p, p, p, p, p, p, p, 2, 0, false), "BatchNormBackward: channels must be positive."),
        Range("Attention heads = 0", (b, p) => b.Attention(p, p, p, 1, 3, 0, 2, 1f, keepProbs: true), "Attention: heads must be positive."),
        Range("AttentionQueries queries = 0", (b, p) => b.AttentionQueries(p, p, p, 1, 3, 0, 2, 2, 1f), "AttentionQueries: queries must be 1 to 3 (the tokens)."),
        Range("AttentionQueries queries > tokens", (b, p) => b.AttentionQueries(p, p, p, 1, 3, 4, 2, 2, 1f), "AttentionQueries: queries must be 1 to 3 (the tokens)."),
        Null("AttentionQueries null y", (b, p) => b.AttentionQueries(p, p, N, 1, 3, 1, 2, 2, 1f), "AttentionQueries: y must not be null."),
        Null("AttentionBackward null scratch", (b, p) => b.AttentionBackward(p, p, p, p, N, 1, 3, 2, 2, 1f), "AttentionBackward: scratch must not be null."),
        Range("Gelu negative", (b, p) => b.Gelu(p, p, -1), "Gelu: n must not be negative."),
        Null("Gelu null y", (b, p) => b.Gelu(p, N, 5), "Gelu: y must not be null."),
        Null("GeluBackward null dx", (b, p) => b.GeluBackward(p, p, N, 5), "GeluBackward: dx must not be null."),
        Null("Residual null branch", (b, p) => b.Residual(p, N, N, p, 2, 4), "Residual: branch must not be null."),
        Range("ScaleRows empty rows", (b, p) => b.ScaleRows(p, N, p, 2, 0), "ScaleRows: rowLength must be positive."),
        Null("ScaleRows null dst", (b, p) => b.ScaleRows(p, p, N, 2, 4), "ScaleRows: dst must not be null."),
        Range("CopyRows short stride", (b, p) => b.CopyRows(p, 2, p + 100, 8, 3, 4, 1f, false), "CopyRows: srcStride 2 is shorter than rowLength 4."),
        Arg("JpmGather too many parts", (b, p) => b.JpmGather(p, p + 1024, 1, 8, 4, 3, 3, 0, 1, false),
            "JpmGather: 3 parts of 3 tokens need more than the 8 patches."),
        Arg("JpmGatherBackward bad groups", (b, p) => b.JpmGatherBackward(p, p + 1024, 1, 8, 4, 2, 4, 1, 5, true),
            "JpmGatherBackward: 8 patches cannot be shuffled into 5 groups"),
        Range("CrossEntropy smoothing > 1", (b, p) => b.CrossEntropy(p, p, p, p, 2, 4, 2f, 1f), "CrossEntropy: label smoothing must lie in [0, 1]."),
        Null("Triplet null labels", (b, p) => b.Triplet(p, N, p, p, p, 4, 2, 0.3f, false, 1f, false), "Triplet: labels must not be null."),
        Range("Triplet dim = 0", (b, p) => b.Triplet(p, p, p, p, p, 4, 0, 0.3f, false, 1f, false), "Triplet: dim must be positive."),
        Null("SgdStep momentum without buffer", (b, p) => b.SgdStep(p, p, N, 5, 0.1f, 0.9f, 0f, false), "SgdStep: momentumBuffer must not be null."),
        Range("AdamWStep step 0", (b, p) => b.AdamWStep(p, p, p, p, 5, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0), "AdamWStep: step starts at 1."),
    ];

    /// <summary>The case names, for theories.</summary>
    public static IEnumerable<string> Names => All.Select(c => c.Name);

    /// <summary>The case of a name.</summary>
    public static BackendArgumentCase Get(string name) => All.Single(c => c.Name == name);

    /// <summary>Runs a case on <paramref name="backend"/> and returns the exception, checked against the case.</summary>
    public static Exception Reject(IBackend backend, BackendArgumentCase c)
    {
        using DeviceBuffer buffer = backend.Allocate(BufferFloats);
        Exception e = Assert.Throws(c.Exception, () => c.Call(backend, buffer.Ptr));
        Assert.Contains(c.Message, e.Message, StringComparison.Ordinal);
        return e;
    }

    private static BackendArgumentCase Null(string name, Action<IBackend, DevicePtr> call, string message) => new(name, call, typeof(ArgumentNullException), message);

    private static BackendArgumentCase Range(string name, Action<IBackend, DevicePtr> call, string message) => new(name, call, typeof(ArgumentOutOfRangeException), message);

    private static BackendArgumentCase Arg(string name, Action<IBackend, DevicePtr> call, string message) => new(name, call, typeof(ArgumentException), message);
}
