using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;

namespace TransReID.Generators.Tests;

/// <summary>
/// The pipeline caches: edits that do not touch a model leave the spec step cached and the output untouched, while a
/// changed attribute value regenerates; the driver does not keep an old compilation alive.
/// </summary>
public class IncrementalTests
{
    private const string Helper = """
        namespace Sample;

        internal static class Helper
        {
            public static int Answer() => 41;
        }
        """;

    private static readonly string Model = Samples.Model("Classes = 10, Depth = 2, EmbedDim = 64, Heads = 4");

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorResult result, string step) =>
        result.RunResult.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    /// <summary>The reasons of the source output fed by the Specs step (the other source output reports diagnostics).</summary>
    private static IEnumerable<IncrementalStepRunReason> SourceOutputReasons(GeneratorResult result) =>
        result.RunResult.TrackedOutputSteps[WellKnownGeneratorOutputs.SourceOutput]
            .Where(s => s.Inputs.Any(i => i.Source.Name == GeneratorHarness.Steps.Specs))
            .SelectMany(s => s.Outputs)
            .Select(o => o.Reason);

    private static void AssertCachedOrUnchanged(IEnumerable<IncrementalStepRunReason> reasons, string what)
    {
        var list = reasons.ToList();
        Assert.True(list.Count > 0, $"{what}: no outputs recorded");
        Assert.All(list, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{what}: {r}"));
    }

    private static (GeneratorResult First, GeneratorResult Second) RunTwice(Compilation first, Func<Compilation, Compilation> edit)
    {
        var r1 = GeneratorHarness.Run(GeneratorHarness.CreateDriver(), first);
        Assert.Single(r1.Sources);
        Assert.All(Reasons(r1, GeneratorHarness.Steps.Specs), r => Assert.Equal(IncrementalStepRunReason.New, r));
        var r2 = GeneratorHarness.Run(r1.Driver, edit(first));
        return (r1, r2);
    }

    private static void AssertOutputUnchanged(GeneratorResult r1, GeneratorResult r2)
    {
        AssertCachedOrUnchanged(Reasons(r2, GeneratorHarness.Steps.Specs), "Specs");
        AssertCachedOrUnchanged(SourceOutputReasons(r2), "source output");
        Assert.Equal(Assert.Single(r1.Sources).SourceText.ToString(), Assert.Single(r2.Sources).SourceText.ToString());
    }

    [Fact]
    public void UnrelatedNewFile_LeavesSpecsCached_AndOutputUnchanged()
    {
        var (r1, r2) = RunTwice(GeneratorHarness.CreateCompilation(Model),
            c => c.AddSyntaxTrees(GeneratorHarness.Parse("struct Foo {}", 7)));
        AssertOutputUnchanged(r1, r2);
        Assert.All(Reasons(r2, GeneratorHarness.Steps.Specs), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void MethodBodyEditInAnotherFile_LeavesSpecsCached_AndOutputUnchanged()
    {
        var first = GeneratorHarness.CreateCompilation(Model, Helper);
        var (r1, r2) = RunTwice(first, c => c.ReplaceSyntaxTree(c.SyntaxTrees.ElementAt(1),
            GeneratorHarness.Parse(Helper.Replace("=> 41", "=> 42", StringComparison.Ordinal), 1)));
        AssertOutputUnchanged(r1, r2);
        Assert.All(Reasons(r2, GeneratorHarness.Steps.Specs), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void EquivalentEditOfTheModelFile_ReparsesButLeavesTheOutputUnchanged()
    {
        // moving the class down and adding a comment changes the tree, so the model is parsed again, but the spec is
        // equal and the source output is not redone
        var first = GeneratorHarness.CreateCompilation(Model);
        var (r1, r2) = RunTwice(first, c => c.ReplaceSyntaxTree(c.SyntaxTrees.Single(),
            GeneratorHarness.Parse("// a comment\n\n" + Model.Replace("public partial class M", "public partial class M // same class", StringComparison.Ordinal), 0)));
        Assert.All(Reasons(r2, GeneratorHarness.Steps.Parsed), r => Assert.Equal(IncrementalStepRunReason.Unchanged, r));
        AssertOutputUnchanged(r1, r2);
    }

    [Fact]
    public void MovedDiagnostic_IsReportedAtItsNewPlace_WithoutRegeneratingTheValidModel()
    {
        string broken = Samples.Model("Classes = 10, Heads = 7", "Broken");
        var first = GeneratorHarness.CreateCompilation(broken, Samples.Model("Classes = 10, Depth = 2, EmbedDim = 64, Heads = 4", "Fine"));
        var (r1, r2) = RunTwice(first, c => c.ReplaceSyntaxTree(c.SyntaxTrees.First(), GeneratorHarness.Parse("\n\n\n" + broken, 0)));

        AssertOutputUnchanged(r1, r2);
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(r2, GeneratorHarness.Steps.Diagnostics));
        int line1 = Assert.Single(r1.GeneratorDiagnostics).Location.GetLineSpan().StartLinePosition.Line;
        int line2 = Assert.Single(r2.GeneratorDiagnostics).Location.GetLineSpan().StartLinePosition.Line;
        Assert.Equal(line1 + 3, line2);
    }

    [Fact]
    public void ChangedAttributeValue_Regenerates()
    {
        var first = GeneratorHarness.CreateCompilation(Model, Helper);
        var (r1, r2) = RunTwice(first, c => c.ReplaceSyntaxTree(c.SyntaxTrees.First(),
            GeneratorHarness.Parse(Model.Replace("Classes = 10", "Classes = 11", StringComparison.Ordinal), 0)));

        Assert.All(Reasons(r2, GeneratorHarness.Steps.Parsed), r => Assert.Equal(IncrementalStepRunReason.Modified, r));
        Assert.All(Reasons(r2, GeneratorHarness.Steps.Specs), r => Assert.Equal(IncrementalStepRunReason.Modified, r));
        Assert.Contains(IncrementalStepRunReason.Modified, SourceOutputReasons(r2));

        string before = Assert.Single(r1.Sources).SourceText.ToString();
        string after = Assert.Single(r2.Sources).SourceText.ToString();
        Assert.Contains("public const int Classes = 10;", before, StringComparison.Ordinal);
        Assert.Contains("public const int Classes = 11;", after, StringComparison.Ordinal);
        Assert.True(r2.OutputDiagnostics.IsEmpty, GeneratorHarness.Describe(r2.OutputDiagnostics));
    }

    [Fact]
    public void SecondModelAdded_LeavesTheFirstCached_AndGeneratesTheSecond()
    {
        var (r1, r2) = RunTwice(GeneratorHarness.CreateCompilation(Model),
            c => c.AddSyntaxTrees(GeneratorHarness.Parse(Samples.Model("Classes = 3, Depth = 2, EmbedDim = 32, Heads = 2", "Second"), 1)));
        var reasons = r2.RunResult.TrackedSteps[GeneratorHarness.Steps.Specs].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Cached, reasons);
        Assert.Contains(IncrementalStepRunReason.New, reasons);
        Assert.Equal(new[] { "Sample.M.TransReID.g.cs", "Sample.Second.TransReID.g.cs" }, r2.Sources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        Assert.Equal(Assert.Single(r1.Sources).SourceText.ToString(), r2.Sources.Single(s => s.HintName == "Sample.M.TransReID.g.cs").SourceText.ToString());
    }

    /// <summary>
    /// Runs the driver on a compilation, then on an edited one, inside a method that returns, so that no local of the
    /// test keeps the first compilation reachable (Debug code keeps locals alive to the end of their method).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference First, GeneratorDriver Driver) RunOnTwoCompilationsAndReturnTheFirst()
    {
        var first = GeneratorHarness.CreateCompilation(Model);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(first, TestContext.Current.CancellationToken);
        Assert.Single(driver.GetRunResult().GeneratedTrees);

        var second = first.AddSyntaxTrees(GeneratorHarness.Parse("struct NewType {}", 1));
        driver = driver.RunGenerators(second, TestContext.Current.CancellationToken);
        var run = driver.GetRunResult().Results.Single();
        Assert.All(run.TrackedSteps[GeneratorHarness.Steps.Specs].SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        return (new WeakReference(first), driver);
    }

    [Fact]
    public void GeneratorRun_WithNewCompilation_DoesNotKeepOldCompilationAlive()
    {
        var (first, driver) = RunOnTwoCompilationsAndReturnTheFirst();
        for (int i = 0; i < 3 && first.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(first.IsAlive, "the driver keeps the first compilation alive after running on a new one");
        GC.KeepAlive(driver);
    }
}
