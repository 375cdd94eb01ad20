using Microsoft.CodeAnalysis;

namespace TransReID.Generators.Diagnostics;

/// <summary>
/// Every diagnostic of the TransReID generator. Errors stop emission for that model only. Keep in sync with
/// AnalyzerReleases.Unshipped.md and docs/diagnostics.md.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "TransReIDGenerator";
    private const string HelpBase = "https://github.com/transreid-compiler/transreid-compiler/blob/main/docs/diagnostics.md#";

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant(),
            customTags: WellKnownDiagnosticTags.NotConfigurable);

    public static readonly DiagnosticDescriptor NotPartial = Error("TRID0001", "Model class must be partial",
        "The class '{0}' with [TransReIDModel] must be declared partial{1}");

    public static readonly DiagnosticDescriptor HeadsDoNotDivide = Error("TRID0002", "EmbedDim must be divisible by Heads",
        "EmbedDim {0} is not divisible by Heads {1}");

    public static readonly DiagnosticDescriptor BadStride = Error("TRID0003", "Stride out of range",
        "{0} {1} must be between 1 and PatchSize {2}");

    public static readonly DiagnosticDescriptor ImageTooSmall = Error("TRID0004", "Image smaller than a patch",
        "{0} {1} is smaller than PatchSize {2}");

    public static readonly DiagnosticDescriptor BadParts = Error("TRID0005", "JpmParts out of range",
        "JpmParts {0} must be between 1 and the patch count {1}");

    public static readonly DiagnosticDescriptor BadShuffle = Error("TRID0006", "Shuffle groups do not fit the patch count",
        "JpmShuffleGroups {0} does not fit the patch count {1}: the count (or the count + 1) must be divisible by the group count");

    public static readonly DiagnosticDescriptor NegativeSide = Error("TRID0007", "Negative side-information count",
        "{0} {1} must not be negative (0 turns that side information off)");

    public static readonly DiagnosticDescriptor BadClasses = Error("TRID0008", "Classes must be at least 1",
        "Classes {0} must be at least 1 (the number of training identities)");

    public static readonly DiagnosticDescriptor BadDepth = Error("TRID0009", "Depth must be at least 1",
        "Depth {0} must be at least 1");

    public static readonly DiagnosticDescriptor NotFiniteOrNotPositive = Error("TRID0010", "Non-finite or non-positive value",
        "{0} {1} must be finite and positive");

    public static readonly DiagnosticDescriptor LessThanOne = Error("TRID0011", "Value must be positive",
        "{0} {1} must be at least 1");

    public static readonly DiagnosticDescriptor BadShift = Error("TRID0012", "JpmShift out of range",
        "JpmShift {0} must be between 1 and the patch count {1}");

    public static readonly DiagnosticDescriptor BadPixelNormalization = Error("TRID0014", "PixelMean/PixelStd must be three finite values",
        "{0} must be three finite values (R, G, B){1}, got [{2}]");

    public static readonly DiagnosticDescriptor NoMlpHidden = Error("TRID0015", "MLP hidden width below one",
        "EmbedDim {0} × MlpRatio {1} gives an MLP hidden width of {2}: it must be at least 1 (the width is truncated, as int(dim · mlp_ratio) in the official code)");

    public static readonly DiagnosticDescriptor GenericModelClass = Error("TRID0013", "Model class must not be generic",
        "The class '{0}' with [TransReIDModel] must not be generic: a model's shapes are fixed, so it has no type parameters");
}
