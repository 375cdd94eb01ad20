using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace TransReID.Generators.Tests;

/// <summary>
/// The values cached between runs must be plain data: a symbol, syntax node, tree, location or compilation in them
/// would keep a whole compilation alive and break equality (dotnet/runtime's
/// SourceGenModelDoesNotEncapsulateSymbolsOrCompilationData).
/// </summary>
public class ModelPurityTests
{
    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(Compilation),
        typeof(SemanticModel), typeof(SyntaxReference), typeof(SyntaxToken), typeof(SyntaxTrivia), typeof(SyntaxNodeOrToken),
        typeof(AttributeData), typeof(TypedConstant),
    };

    private static string? ForbiddenKind(Type type)
    {
        foreach (var f in Forbidden)
        {
            if (f.IsAssignableFrom(type)) return f.Name;
        }

        // compiler internals behind the public wrappers: green nodes and internal symbols
        string ns = type.Namespace ?? "";
        if (ns.EndsWith(".InternalSyntax", StringComparison.Ordinal) || ns == "Microsoft.CodeAnalysis.CSharp.Symbols") return type.FullName;
        return null;
    }

    /// <summary>Walks every object reachable from <paramref name="root"/> through fields; returns the forbidden ones found and the type names seen.</summary>
    internal static (List<string> Problems, HashSet<string> TypesSeen) Walk(object? root)
    {
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(object Value, string Path)>();
        if (root is not null) stack.Push((root, "root"));

        while (stack.Count > 0)
        {
            var (value, path) = stack.Pop();
            var type = value.GetType();
            if (!type.IsValueType && !visited.Add(value)) continue;
            if (type.IsPrimitive || type.IsEnum || value is string || value is decimal || value is Type || value is MemberInfo || value is Pointer) continue;

            seen.Add(type.Name);
            if (ForbiddenKind(type) is { } kind)
            {
                problems.Add($"{path}: {type.FullName} is a {kind}");
                continue;
            }

            if (value is Array array)
            {
                if (type.GetElementType()!.IsPrimitive) continue;
                int i = 0;
                foreach (var item in array)
                {
                    if (item is not null) stack.Push((item, $"{path}[{i}]"));
                    i++;
                }

                continue;
            }

            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            {
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (field.FieldType.IsPointer || field.FieldType.IsByRefLike) continue;
                    if (field.GetValue(value) is { } child) stack.Push((child, $"{path}.{field.Name}"));
                }
            }
        }

        return (problems, seen);
    }

    /// <summary>Every output value of the generator's own tracked steps (Roslyn's internal steps hold syntax by design).</summary>
    private static IEnumerable<object> StepOutputs(GeneratorResult result) =>
        GeneratorHarness.Steps.All
            .Where(result.RunResult.TrackedSteps.ContainsKey)
            .SelectMany(name => result.RunResult.TrackedSteps[name])
            .SelectMany(step => step.Outputs)
            .Select(o => o.Value);

    [Fact]
    public void SourceGenModelDoesNotEncapsulateSymbolsOrCompilationData()
    {
        // a valid model, a model with diagnostics, and a nested one, so that every record type shows up
        var result = GeneratorHarness.Run(
            Samples.MarketStride,
            Samples.Tiny,
            Samples.Model("Classes = 10, Heads = 7, Depth = 0", "Broken"),
            """
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

        Assert.All(GeneratorHarness.Steps.All, name => Assert.True(result.RunResult.TrackedSteps.ContainsKey(name), $"step {name} was not tracked"));
        var outputs = StepOutputs(result).ToList();
        Assert.True(outputs.Count >= 3 * 4 - 2, $"only {outputs.Count} step outputs"); // 4 models parsed, 2 valid specs, 4 diagnostic lists

        var (problems, seen) = Walk(outputs);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        foreach (var expected in new[] { "ModelSpec", "ParseResult", "ContainingType", "DiagnosticInfo", "LocationInfo", "DiagnosticDescriptor" })
            Assert.Contains(expected, seen);
    }

    [Fact]
    public void StepOutputs_OfAnIncrementalRerun_AreStillPlainData()
    {
        var first = GeneratorHarness.Run(Samples.Tiny);
        var edited = first.Input.ReplaceSyntaxTree(first.Input.SyntaxTrees.Single(),
            GeneratorHarness.Parse(Samples.Tiny.Replace("Classes = 5", "Classes = 6", StringComparison.Ordinal)));
        var second = GeneratorHarness.Run(first.Driver, edited);

        var (problems, seen) = Walk(StepOutputs(second).ToList());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Contains("ModelSpec", seen);
    }

    [Fact]
    public void Walker_FindsSymbolsAndLocationsWhenTheyArePresent()
    {
        // the walker itself must see through records, tuples, arrays and lists, or the tests above would prove nothing
        var compilation = GeneratorHarness.CreateCompilation("class C { }");
        var symbol = compilation.GetTypeByMetadataName("C")!;
        var location = symbol.Locations[0];
        var graph = new List<object> { new Tuple<int, object>(1, new object[] { "x", location }), (Name: "n", Symbol: (object)symbol) };

        var (problems, _) = Walk(graph);
        Assert.Contains(problems, p => p.Contains("is a Location", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("is a ISymbol", StringComparison.Ordinal));
        Assert.Contains(Walk(compilation).Problems, p => p.Contains("is a Compilation", StringComparison.Ordinal));
    }
}
