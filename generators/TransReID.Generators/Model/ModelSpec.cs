namespace TransReID.Generators.Model;

/// <summary>
/// Every number of one model, parsed from its <c>[TransReIDModel]</c> attribute, plus where the class lives. This
/// record drives emission and must stay immutable with value equality: the incremental pipeline caches on it, and it
/// must hold no Roslyn symbol, syntax node or compilation (a test walks it to check).
/// </summary>
internal sealed record ModelSpec
{
    public required string Namespace { get; init; }          // "" for the global namespace
    public required string ClassName { get; init; }
    public required EquatableArray<ContainingType> ContainingTypes { get; init; } // outermost first
    public required int ImageHeight { get; init; }
    public required int ImageWidth { get; init; }
    public required int PatchSize { get; init; }
    public required int StrideY { get; init; }
    public required int StrideX { get; init; }
    public required int Depth { get; init; }
    public required int EmbedDim { get; init; }
    public required int Heads { get; init; }
    public required double MlpRatio { get; init; }
    public required bool QkvBias { get; init; }
    public required double LayerNormEps { get; init; }
    public required int Cameras { get; init; }
    public required int Views { get; init; }
    public required double SieCoefficient { get; init; }
    public required bool Jpm { get; init; }
    public required int JpmParts { get; init; }
    public required int JpmShift { get; init; }
    public required int JpmShuffleGroups { get; init; }
    public required bool JpmRearrange { get; init; }
    public required int Classes { get; init; }
    public required int NeckFeature { get; init; }            // 0 = Before, 1 = After
    public required EquatableArray<double> PixelMean { get; init; }  // R, G, B (3 values when valid)
    public required EquatableArray<double> PixelStd { get; init; }

    public string FullName => (Namespace.Length == 0 ? "" : Namespace + ".") + string.Concat(System.Linq.Enumerable.Select(ContainingTypes, t => t.Name + ".")) + ClassName;

    public string HintName => FullName.Replace('<', '_').Replace('>', '_') + ".TransReID.g.cs";
}

/// <summary>A type that contains the model class: its keyword (class, struct, record…) and name (with type parameters).</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>A parse result: the spec (null when invalid) and the diagnostics found.</summary>
internal sealed record ParseResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
