using System;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace TransReID.Generators.Tests;

/// <summary>
/// Every diagnostic of the generator: its ID, where it points (the offending attribute argument, or the class name for
/// TRID0001), its message with the values, and that an invalid model generates nothing while the rest still builds.
/// </summary>
public class DiagnosticTests
{
    /// <summary>The text the diagnostic's span covers in its source file.</summary>
    private static string SpanText(GeneratorResult result, Diagnostic diagnostic)
    {
        string path = diagnostic.Location.GetLineSpan().Path;
        var tree = result.Input.SyntaxTrees.Single(t => t.FilePath == path);
        return tree.GetText().ToString(diagnostic.Location.SourceSpan);
    }

    private static string Message(Diagnostic d) => d.GetMessage(CultureInfo.InvariantCulture);

    /// <summary>Runs a single model with these arguments; expects exactly one diagnostic and no generated source.</summary>
    private static (GeneratorResult Result, Diagnostic Diagnostic) RunInvalid(string source)
    {
        var result = GeneratorHarness.Run(source);
        var diagnostic = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Empty(result.Sources);
        // the user's own partial class still compiles: the generator's error is the only one
        Assert.True(result.OutputDiagnostics.IsEmpty, GeneratorHarness.Describe(result.OutputDiagnostics));
        return (result, diagnostic);
    }

    [Theory]
    [InlineData("TRID0002", "Heads = 7", "EmbedDim 768 is not divisible by Heads 7")]
    [InlineData("TRID0003", "StrideY = 17", "StrideY 17 must be between 1 and PatchSize 16")]
    [InlineData("TRID0003", "StrideX = 0", "StrideX 0 must be between 1 and PatchSize 16")]
    [InlineData("TRID0004", "ImageWidth = 15", "ImageWidth 15 is smaller than PatchSize 16")]
    [InlineData("TRID0005", "JpmParts = 129", "JpmParts 129 must be between 1 and the patch count 128")]
    [InlineData("TRID0005", "JpmParts = 0", "JpmParts 0 must be between 1 and the patch count 128")]
    [InlineData("TRID0006", "JpmShuffleGroups = 5", "JpmShuffleGroups 5 does not fit the patch count 128: the count (or the count + 1) must be divisible by the group count")]
    [InlineData("TRID0007", "Cameras = -1", "Cameras -1 must not be negative (0 turns that side information off)")]
    [InlineData("TRID0007", "Views = -2", "Views -2 must not be negative (0 turns that side information off)")]
    [InlineData("TRID0008", "Classes = 0", "Classes 0 must be at least 1 (the number of training identities)")]
    [InlineData("TRID0009", "Depth = 0", "Depth 0 must be at least 1")]
    [InlineData("TRID0010", "LayerNormEps = -1e-6", "LayerNormEps -1E-06 must be finite and positive")]
    [InlineData("TRID0010", "SieCoefficient = double.NaN", "SieCoefficient NaN must be finite and positive")]
    [InlineData("TRID0010", "MlpRatio = double.PositiveInfinity", "MlpRatio Infinity must be finite and positive")]
    [InlineData("TRID0015", "MlpRatio = 0.001", "EmbedDim 768 × MlpRatio 0.001 gives an MLP hidden width of 0: it must be at least 1 (the width is truncated, as int(dim · mlp_ratio) in the official code)")]
    [InlineData("TRID0011", "PatchSize = 0", "PatchSize 0 must be at least 1")]
    [InlineData("TRID0011", "EmbedDim = -768", "EmbedDim -768 must be at least 1")]
    [InlineData("TRID0011", "JpmShuffleGroups = 0", "JpmShuffleGroups 0 must be at least 1")]
    [InlineData("TRID0012", "JpmShift = 0", "JpmShift 0 must be between 1 and the patch count 128")]
    [InlineData("TRID0012", "JpmShift = 129", "JpmShift 129 must be between 1 and the patch count 128")]
    [InlineData("TRID0014", "PixelStd = new[] { 0.5, 0.0, 0.5 }", "PixelStd must be three finite values (R, G, B), all positive, got [0.5, 0, 0.5]")]
    [InlineData("TRID0014", "PixelMean = new[] { 0.5, 0.5 }", "PixelMean must be three finite values (R, G, B), got [0.5, 0.5]")]
    public void BadArgument_IsReportedAtTheArgument_NamingTheValues(string id, string argument, string message)
    {
        string arguments = argument.StartsWith("Classes", StringComparison.Ordinal) ? argument : "Classes = 10, " + argument;
        var (result, d) = RunInvalid(Samples.Model(arguments));
        Assert.Equal(id, d.Id);
        Assert.Equal(argument, SpanText(result, d));
        Assert.Equal(message, Message(d));
        Assert.Equal($"https://github.com/transreid-compiler/transreid-compiler/blob/main/docs/diagnostics.md#{id.ToLowerInvariant()}", d.Descriptor.HelpLinkUri);
        Assert.Contains(WellKnownDiagnosticTags.NotConfigurable, d.Descriptor.CustomTags);
    }

    [Fact]
    public void TRID0013_GenericModel_IsReportedAtTheClassName()
    {
        var (result, d) = RunInvalid("""
            using TransReID;

            namespace Sample;

            [TransReIDModel(Classes = 10)]
            public sealed partial class Generic<T>
            {
            }
            """);
        Assert.Equal("TRID0013", d.Id);
        Assert.Equal("Generic", SpanText(result, d));
        Assert.Equal("The class 'Generic' with [TransReIDModel] must not be generic: a model's shapes are fixed, so it has no type parameters", Message(d));
    }

    [Fact]
    public void TRID0001_NotPartial_IsReportedAtTheClassName()
    {
        var (result, d) = RunInvalid("""
            using TransReID;

            namespace Sample;

            [TransReIDModel(Classes = 10)]
            public sealed class Whole
            {
            }
            """);
        Assert.Equal("TRID0001", d.Id);
        Assert.Equal("Whole", SpanText(result, d));
        Assert.Equal("The class 'Whole' with [TransReIDModel] must be declared partial", Message(d));
    }

    [Fact]
    public void TRID0001_PartialClassInANonPartialType_IsReportedAndNamesTheContainingType()
    {
        var (result, d) = RunInvalid("""
            using TransReID;

            namespace Sample;

            public class Holder
            {
                [TransReIDModel(Classes = 10)]
                public partial class Inner
                {
                }
            }
            """);
        Assert.Equal("TRID0001", d.Id);
        Assert.Equal("Inner", SpanText(result, d));
        Assert.Equal("The class 'Inner' with [TransReIDModel] must be declared partial (and so must its containing type 'Holder')", Message(d));
    }

    [Fact]
    public void TRID0008_ClassesLeftOut_IsReportedAtTheAttribute()
    {
        var (result, d) = RunInvalid(Samples.Model("Heads = 12"));
        Assert.Equal("TRID0008", d.Id);
        Assert.Equal("TransReIDModel(Heads = 12)", SpanText(result, d));
        Assert.Equal("Classes 0 must be at least 1 (the number of training identities)", Message(d));
    }

    [Fact]
    public void SeveralProblems_AreAllReported_EachAtItsArgument()
    {
        var result = GeneratorHarness.Run(Samples.Model("Classes = 10, Depth = 0, Heads = 7, Cameras = -3"));
        Assert.Empty(result.Sources);
        var found = result.GeneratorDiagnostics.Select(d => (d.Id, SpanText(result, d))).OrderBy(x => x.Id).ToArray();
        Assert.Equal(new[] { ("TRID0002", "Heads = 7"), ("TRID0007", "Cameras = -3"), ("TRID0009", "Depth = 0") }, found);
    }

    [Fact]
    public void InvalidModel_EmitsNothing_WhileAValidModelInTheSameCompilationIsGenerated()
    {
        var result = GeneratorHarness.Run(
            Samples.Model("Classes = 10, Heads = 7", "Broken"),
            Samples.Model("Classes = 10, Depth = 2, EmbedDim = 64, Heads = 4", "Fine"));

        var d = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("TRID0002", d.Id);
        Assert.Equal("/src/File0.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(4, d.Location.GetLineSpan().StartLinePosition.Line);

        var source = Assert.Single(result.Sources);
        Assert.Equal("Sample.Fine.TransReID.g.cs", source.HintName);
        Assert.Null(result.Output.GetTypeByMetadataName("Sample.Broken")!.GetMembers("Embed").FirstOrDefault());
        Assert.NotEmpty(result.Output.GetTypeByMetadataName("Sample.Fine")!.GetMembers("Embed"));
        Assert.True(result.OutputDiagnostics.IsEmpty, GeneratorHarness.Describe(result.OutputDiagnostics));
    }

    [Fact]
    public void ValidDefaults_WithClasses_ReportNothing()
    {
        var result = GeneratorHarness.Run(Samples.Model("Classes = 1"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Single(result.Sources);
    }
}
