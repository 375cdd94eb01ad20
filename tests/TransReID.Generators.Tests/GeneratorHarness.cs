using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TransReID.Generators.Tests;

/// <summary>What one generator run produced.</summary>
internal sealed class GeneratorResult
{
    private readonly Lazy<ImmutableArray<Diagnostic>> _outputDiagnostics;

    public GeneratorResult(GeneratorDriver driver, Compilation input, Compilation output, ImmutableArray<Diagnostic> generatorDiagnostics)
    {
        Driver = driver;
        Input = input;
        Output = output;
        GeneratorDiagnostics = generatorDiagnostics;
        RunResult = driver.GetRunResult().Results.Single();
        // binding the generated code is the slow part: only tests that check it pay for it
        _outputDiagnostics = new(() => output.GetDiagnostics(TestContext.Current.CancellationToken)
            .Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray());
    }

    /// <summary>The driver after the run (feed it the next compilation for incremental tests).</summary>
    public GeneratorDriver Driver { get; }

    /// <summary>The compilation the generator saw.</summary>
    public Compilation Input { get; }

    /// <summary>The input plus the generated trees.</summary>
    public Compilation Output { get; }

    /// <summary>Diagnostics the generator reported.</summary>
    public ImmutableArray<Diagnostic> GeneratorDiagnostics { get; }

    /// <summary>The run result of the TransReID generator (the only generator in the driver).</summary>
    public GeneratorRunResult RunResult { get; }

    /// <summary>Generated sources (hint name and text).</summary>
    public ImmutableArray<GeneratedSourceResult> Sources => RunResult.GeneratedSources;

    /// <summary>Warnings and errors of the output compilation (computed on first use).</summary>
    public ImmutableArray<Diagnostic> OutputDiagnostics => _outputDiagnostics.Value;

    /// <summary>The text of the one generated source whose hint name starts with <paramref name="hintPrefix"/>.</summary>
    public string Source(string hintPrefix) =>
        Sources.Single(s => s.HintName.StartsWith(hintPrefix, StringComparison.Ordinal)).SourceText.ToString();
}

/// <summary>
/// Runs the TransReID generator on C# source text the way the compiler does: a <see cref="CSharpCompilation"/> with the
/// .NET reference assemblies and TransReID.Runtime, a <see cref="CSharpGeneratorDriver"/> that tracks its steps, and the
/// output compilation's diagnostics.
/// </summary>
internal static class GeneratorHarness
{
    /// <summary>Names of the generator's tracked steps (mirrors the generator's internal <c>TrackingNames</c>).</summary>
    public static class Steps
    {
        public const string Parsed = "Parsed";
        public const string Specs = "Specs";
        public const string Diagnostics = "Diagnostics";

        public static readonly string[] All = { Parsed, Specs, Diagnostics };
    }

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly CSharpCompilationOptions CompilationOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        warningLevel: 9999,
        deterministic: true);

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(BuildReferences);

    /// <summary>The framework assemblies of the running .NET, TransReID.Runtime and what it references.</summary>
    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    private static ImmutableArray<MetadataReference> BuildReferences()
    {
        string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string
            ?? throw new InvalidOperationException("TRUSTED_PLATFORM_ASSEMBLIES is not set: cannot find the .NET reference assemblies");
        var trusted = tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;

        Assembly runtime = typeof(TransReIDModelAttribute).Assembly;
        var runtimeDeps = runtime.GetReferencedAssemblies().Select(a => a.Name!).ToHashSet(StringComparer.OrdinalIgnoreCase);

        var paths = new SortedSet<string>(StringComparer.Ordinal) { runtime.Location };
        foreach (string path in trusted)
        {
            bool framework = string.Equals(Path.GetDirectoryName(path), frameworkDir, StringComparison.Ordinal);
            if (framework || runtimeDeps.Contains(Path.GetFileNameWithoutExtension(path))) paths.Add(path);
        }

        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }

    /// <summary>Parses one source file (path <c>/src/File{index}.cs</c>).</summary>
    public static SyntaxTree Parse(string source, int index = 0) =>
        CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"/src/File{index}.cs");

    /// <summary>A compilation of the given source files.</summary>
    public static CSharpCompilation CreateCompilation(params string[] sources) =>
        CSharpCompilation.Create("TransReID.GeneratorTests.Sample", sources.Select((s, i) => Parse(s, i)), References, CompilationOptions);

    /// <summary>A driver holding the TransReID generator, with step tracking on and no disabled outputs.</summary>
    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            new[] { new TransReIDGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs a fresh driver on the given sources.</summary>
    public static GeneratorResult Run(params string[] sources) => Run(CreateDriver(), CreateCompilation(sources));

    /// <summary>Runs <paramref name="driver"/> (fresh or from a previous run) on <paramref name="compilation"/>.</summary>
    public static GeneratorResult Run(GeneratorDriver driver, Compilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics, TestContext.Current.CancellationToken);
        var run = driver.GetRunResult().Results.Single();
        if (run.Exception is not null) throw new InvalidOperationException("the generator threw", run.Exception);
        return new GeneratorResult(driver, compilation, output, generatorDiagnostics);
    }

    /// <summary>Emits <paramref name="compilation"/> to IL; fails with the emit diagnostics if that does not succeed.</summary>
    public static byte[] EmitImage(Compilation compilation)
    {
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream, cancellationToken: TestContext.Current.CancellationToken);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        if (!result.Success || problems.Count > 0)
            throw new InvalidOperationException("emit failed:\n" + string.Join("\n", problems));
        return stream.ToArray();
    }

    /// <summary>
    /// Loads an emitted image into a collectible context; TransReID.Runtime resolves to the copy already loaded by the
    /// tests, so the generated types implement the same interfaces the tests see.
    /// </summary>
    public static Assembly Load(byte[] image)
    {
        var context = new AssemblyLoadContext("generated", isCollectible: true);
        using var stream = new MemoryStream(image);
        return context.LoadFromStream(stream);
    }

    /// <summary>Formats the first diagnostics one per line, for assertion messages.</summary>
    public static string Describe(IEnumerable<Diagnostic> diagnostics)
    {
        var list = diagnostics.ToList();
        string text = string.Join("\n", list.Take(8).Select(d => d.ToString()));
        return list.Count > 8 ? text + $"\n(and {list.Count - 8} more)" : text;
    }
}
