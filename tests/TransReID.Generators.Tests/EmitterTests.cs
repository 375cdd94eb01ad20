using System;
using System.Collections.Generic;
using System.Linq;

namespace TransReID.Generators.Tests;

/// <summary>
/// The planner's numbers at the edges, read from the emitted constants and checked against formulas written out here
/// from docs/model.md (#patch-embedding, #jigsaw-patch-module, #feature-output, #parameter-table), plus a hand-counted patch count per case; every case must compile cleanly.
/// </summary>
public class EmitterTests
{
    /// <summary>A model configuration with the attribute's defaults, rendered as attribute arguments.</summary>
    internal sealed record Config
    {
        public int ImageHeight { get; init; } = ModelDefaults.ImageHeight;
        public int ImageWidth { get; init; } = ModelDefaults.ImageWidth;
        public int PatchSize { get; init; } = ModelDefaults.PatchSize;
        public int StrideY { get; init; } = ModelDefaults.StrideY;
        public int StrideX { get; init; } = ModelDefaults.StrideX;
        public int Depth { get; init; } = ModelDefaults.Depth;
        public int EmbedDim { get; init; } = ModelDefaults.EmbedDim;
        public int Heads { get; init; } = ModelDefaults.Heads;
        public double MlpRatio { get; init; } = ModelDefaults.MlpRatio;
        public bool QkvBias { get; init; } = ModelDefaults.QkvBias;
        public int Cameras { get; init; }
        public int Views { get; init; }
        public bool Jpm { get; init; } = ModelDefaults.Jpm;
        public int JpmParts { get; init; } = ModelDefaults.JpmParts;
        public int JpmShift { get; init; } = ModelDefaults.JpmShift;
        public int JpmShuffleGroups { get; init; } = ModelDefaults.JpmShuffleGroups;
        public bool JpmRearrange { get; init; } = ModelDefaults.JpmRearrange;
        public int Classes { get; init; } = 10;
        public bool NeckAfter { get; init; }

        /// <summary>The attribute arguments, rendered with the invariant culture (the tests also run under others).</summary>
        public string Arguments => string.Join(", ", new FormattableString[]
        {
            $"ImageHeight = {ImageHeight}", $"ImageWidth = {ImageWidth}", $"PatchSize = {PatchSize}", $"StrideY = {StrideY}",
            $"StrideX = {StrideX}", $"Depth = {Depth}", $"EmbedDim = {EmbedDim}", $"Heads = {Heads}",
            $"MlpRatio = {MlpRatio:R}", $"QkvBias = {(QkvBias ? "true" : "false")}",
            $"Cameras = {Cameras}", $"Views = {Views}", $"Jpm = {(Jpm ? "true" : "false")}", $"JpmParts = {JpmParts}",
            $"JpmShift = {JpmShift}", $"JpmShuffleGroups = {JpmShuffleGroups}", $"JpmRearrange = {(JpmRearrange ? "true" : "false")}",
            $"Classes = {Classes}", $"NeckFeature = NeckFeature.{(NeckAfter ? "After" : "Before")}",
        }.Select(FormattableString.Invariant));
    }

    // small widths keep the compile fast; the planner's layout does not depend on them
    private static readonly Config Small = new() { EmbedDim = 64, Heads = 4, Depth = 3 };

    private static readonly Dictionary<string, Config> Cases = new(StringComparer.Ordinal)
    {
        ["Depth1WithJpm"] = Small with { Depth = 1 },
        ["OnePart"] = Small with { JpmParts = 1 },
        ["NoRearrange"] = Small with { JpmRearrange = false, JpmShuffleGroups = 5, JpmShift = 0 }, // neither checked without rearranging
        ["Stride1"] = Small with { ImageHeight = 32, ImageWidth = 24, PatchSize = 8, StrideY = 1, StrideX = 1 },
        ["NonSquare"] = Small with { ImageHeight = 128, ImageWidth = 320, StrideX = 12, Views = 5, NeckAfter = true },
        ["SinglePatchNoJpm"] = Small with { ImageHeight = 16, ImageWidth = 16, Jpm = false, Cameras = 1, Views = 1 },
        ["FractionalMlpNoQkvBias"] = Small with { MlpRatio = 2.5, QkvBias = false, Cameras = 4, Views = 3 },
        ["NoRearrangeNegativeGroups"] = Small with { JpmRearrange = false, JpmShuffleGroups = -1, JpmShift = -3 }, // accepted: unused without rearranging
    };

    private static readonly Dictionary<string, Lazy<GeneratorResult>> Results = Cases.ToDictionary(
        kv => kv.Key, kv => new Lazy<GeneratorResult>(() => GeneratorHarness.Run(Samples.Model(kv.Value.Arguments))), StringComparer.Ordinal);

    // hand-counted: grid = floor((size - patch) / stride) + 1 per axis
    [Theory]
    [InlineData("Depth1WithJpm", 16, 8)]          // 256x128, patch 16, stride 16
    [InlineData("OnePart", 16, 8)]
    [InlineData("NoRearrange", 16, 8)]
    [InlineData("Stride1", 25, 17)]               // (32-8)/1+1, (24-8)/1+1
    [InlineData("NonSquare", 8, 26)]              // (128-16)/16+1, (320-16)/12+1 = 25+1
    [InlineData("SinglePatchNoJpm", 1, 1)]
    [InlineData("FractionalMlpNoQkvBias", 16, 8)]
    [InlineData("NoRearrangeNegativeGroups", 16, 8)]
    public void Constants_MatchTheSpecFormulas(string name, int gridY, int gridX)
    {
        var cfg = Cases[name];
        var result = Results[name].Value;
        Assert.True(result.GeneratorDiagnostics.IsEmpty, GeneratorHarness.Describe(result.GeneratorDiagnostics));
        var c = Samples.Constants(result.Source(string.Empty));

        long D = cfg.EmbedDim, n = gridY * gridX, k = cfg.Jpm ? cfg.JpmParts : 0;
        long hidden = (long)(cfg.EmbedDim * cfg.MlpRatio);
        long sieRows = cfg.Cameras > 1 && cfg.Views > 1 ? cfg.Cameras * cfg.Views : cfg.Cameras > 1 ? cfg.Cameras : cfg.Views > 1 ? cfg.Views : 0;
        long branches = 1 + k;

        Assert.Equal(gridY, Samples.Long(c, "PatchGridY"));
        Assert.Equal(gridX, Samples.Long(c, "PatchGridX"));
        Assert.Equal(n, Samples.Long(c, "PatchCount"));
        Assert.Equal(n + 1, Samples.Long(c, "TokenCount"));
        Assert.Equal(k, Samples.Long(c, "JpmParts"));
        Assert.Equal(cfg.Jpm ? n / k : 0, Samples.Long(c, "PartLength"));
        Assert.Equal(D * branches, Samples.Long(c, "FeatureDim"));
        Assert.Equal(branches, Samples.Long(c, "Branches"));
        Assert.Equal(sieRows, Samples.Long(c, "SieRows"));
        Assert.Equal(D / cfg.Heads, Samples.Long(c, "HeadDim"));
        Assert.Equal(hidden, Samples.Long(c, "MlpHidden"));
        Assert.Equal(3L * cfg.ImageHeight * cfg.ImageWidth, Samples.Long(c, "ImageFloats"));

        // docs/model.md#parameter-table, written for any configuration
        long block = 2 * D + 3 * D * D + (cfg.QkvBias ? 3 * D : 0) + D * D + D + 2 * D + hidden * D + hidden + D * hidden + D;
        long fc = 1000 * D + 1000;
        long all = D + (n + 1) * D + sieRows * D + D * 3 * cfg.PatchSize * cfg.PatchSize + D
            + cfg.Depth * block + 2 * D + fc
            + (cfg.Jpm ? 2 * (block + 2 * D) : 0)
            + branches * 2 * D + branches * cfg.Classes * D;
        long unused = fc + (cfg.Jpm ? block + 2 * D : 0);
        long frozen = branches * D;
        Assert.Equal(all, Samples.Long(c, "ParameterCount"));
        Assert.Equal(all - unused - frozen, Samples.Long(c, "TrainableParameterCount"));

        // the flat buffer holds the parameters plus 2 running statistics per BNNeck, each tensor padded to 16 floats
        long buffer = Samples.Long(c, "ParameterBufferLength");
        Assert.InRange(buffer, all + 2 * branches * D, all + 2 * branches * D + 15L * CountTensors(result.Source(string.Empty)));
        Assert.Equal(0, buffer % 16);
    }

    private static int CountTensors(string generated) =>
        generated.Split('\n').Count(l => l.TrimStart().StartsWith("new(\"", StringComparison.Ordinal) && l.Contains(", Flags", StringComparison.Ordinal));

    [Theory]
    [InlineData("Depth1WithJpm")]
    [InlineData("OnePart")]
    [InlineData("NoRearrange")]
    [InlineData("Stride1")]
    [InlineData("NonSquare")]
    [InlineData("SinglePatchNoJpm")]
    [InlineData("FractionalMlpNoQkvBias")]
    [InlineData("NoRearrangeNegativeGroups")]
    public void EdgeCase_CompilesWithoutErrorsOrWarnings(string name)
    {
        var result = Results[name].Value;
        Assert.Single(result.Sources);
        Assert.True(result.OutputDiagnostics.IsEmpty, GeneratorHarness.Describe(result.OutputDiagnostics));
    }

    [Theory]
    [InlineData("Depth1WithJpm")]     // "blocks 0..-1" in a comment
    [InlineData("NoRearrange")]       // JpmShift 0: "shift by -1" in a comment
    [InlineData("NoRearrangeNegativeGroups")] // negative constants in code
    public void EdgeCase_WithNegativeNumbers_DoesNotDependOnCurrentCulture(string name)
    {
        var result = Samples.UnderCulture(Samples.Culture("minus"), () => GeneratorHarness.Run(Samples.Model(Cases[name].Arguments)));
        Assert.Equal(Results[name].Value.Source(string.Empty), result.Source(string.Empty));
    }

    [Fact]
    public void Depth1WithJpm_RunsNoBackboneBlock_AndCopiesBlock0IntoTheHeads()
    {
        string text = Results["Depth1WithJpm"].Value.Source(string.Empty);
        Assert.Contains("(block 0 is copied into b1/b2 and not run here)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("l < 0;", text, StringComparison.Ordinal);
        Assert.DoesNotContain("base.blocks.1.", text, StringComparison.Ordinal);

        // with one block, b1.0 and b2.0 are copies of base.blocks.0, which is itself unused
        var lines = text.Split('\n');
        int firstTableRow = Array.FindIndex(lines, l => l.TrimStart().StartsWith("new(\"base.cls_token\"", StringComparison.Ordinal));
        Assert.True(firstTableRow >= 0);
        int qkv = Array.FindIndex(lines, l => l.Contains("new(\"base.blocks.0.attn.qkv.weight\"", StringComparison.Ordinal)) - firstTableRow;
        Assert.Contains("FlagsUnused, InitTruncNormal002", lines[firstTableRow + qkv], StringComparison.Ordinal);
        Assert.EndsWith($", {qkv}),", lines.Single(l => l.Contains("new(\"b1.0.attn.qkv.weight\"", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.EndsWith($", {qkv}),", lines.Single(l => l.Contains("new(\"b2.0.attn.qkv.weight\"", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public void NoRearrange_PassesTheFlagToTheGather()
    {
        string text = Results["NoRearrange"].Value.Source(string.Empty);
        Assert.Contains("public const bool JpmRearrange = false;", text, StringComparison.Ordinal);
        Assert.Contains("(off: raster order)", text, StringComparison.Ordinal);
        Assert.Contains("_b.JpmGather(", text, StringComparison.Ordinal);
        Assert.Contains("public const int JpmShift = 0;", text, StringComparison.Ordinal);
        Assert.Contains("public const int JpmShuffleGroups = 5;", text, StringComparison.Ordinal);
        // every gather and scatter passes the constants (whose values are checked above)
        int calls = text.Split("_b.JpmGather").Length - 1;
        Assert.Equal(3, calls);
        Assert.True(text.Split("JpmShift, JpmShuffleGroups, JpmRearrange);").Length - 1 >= calls);
    }

    [Fact]
    public void SinglePatchNoJpm_HasNoJpmBranches()
    {
        string text = Results["SinglePatchNoJpm"].Value.Source(string.Empty);
        Assert.DoesNotContain("\"b1.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"bottleneck_1.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"base.sie_embed\"", text, StringComparison.Ordinal); // one camera, one view: SIE off
        Assert.DoesNotContain("JpmGather", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelNestedInRecordStructInterfaceAndGenericTypes_Compiles()
    {
        var result = GeneratorHarness.Run("""
            using TransReID;

            namespace Sample.Deep;

            public partial record struct Outer
            {
                public partial interface IMiddle
                {
                    public partial class Generic<T> where T : class
                    {
                        [TransReIDModel(Classes = 2, Depth = 2, EmbedDim = 32, Heads = 2)]
                        public partial class Inner
                        {
                        }
                    }
                }
            }
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        var source = Assert.Single(result.Sources);
        Assert.Equal("Sample.Deep.Outer.IMiddle.Generic_T_.Inner.TransReID.g.cs", source.HintName);
        Assert.True(result.OutputDiagnostics.IsEmpty, GeneratorHarness.Describe(result.OutputDiagnostics));
        Assert.NotNull(result.Output.GetTypeByMetadataName("Sample.Deep.Outer+IMiddle+Generic`1+Inner")!.GetMembers("TrainStep").FirstOrDefault());
    }
}
