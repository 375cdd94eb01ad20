using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TransReID.Generators.Model;

namespace TransReID.Generators;

/// <summary>
/// Emits a static TransReID model (constants, parameter table, Create/Load/Save, Embed, TrainStep) into every partial
/// class marked <c>[TransReID.TransReIDModel]</c>. This file only wires the pipeline; parsing and emission live in
/// <c>TransReIDGenerator.Parser.cs</c> and <c>TransReIDGenerator.Emitter.cs</c>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class TransReIDGenerator : IIncrementalGenerator
{
    internal const string AttributeName = "TransReID.TransReIDModelAttribute";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // ForAttributeWithMetadataName only visits syntax carrying the attribute, and the transform returns plain data
        // (ParseResult: records of numbers and strings), so unrelated edits never reach the emitter.
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => Parser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Parsed);

        // Source depends on the spec alone: a diagnostic that only moved does not regenerate code.
        var specs = parsed
            .Where(static r => r.Spec is not null)
            .Select(static (r, _) => r.Spec!)
            .WithTrackingName(TrackingNames.Specs);
        context.RegisterSourceOutput(specs, static (spc, spec) => spc.AddSource(spec.HintName, Emitter.Emit(spec)));

        var diagnostics = parsed
            .Select(static (r, _) => r.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var d in list) spc.ReportDiagnostic(d.ToDiagnostic());
        });
    }
}
