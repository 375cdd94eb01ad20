using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TransReID.Generators.Diagnostics;
using TransReID.Generators.Model;
using TransReID.Shapes;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    /// <summary>Turns an attributed class into a <see cref="ModelSpec"/> plus diagnostics. Does no emitting.</summary>
    internal static class Parser
    {
        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            var classSyntax = (ClassDeclarationSyntax)context.TargetNode;
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var attribute = context.Attributes[0];
            var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
            var diagnostics = new List<DiagnosticInfo>();

            // where each named argument was written, for diagnostics at the offending argument
            var argumentLocations = new Dictionary<string, Location>(StringComparer.Ordinal);
            if (attributeSyntax?.ArgumentList is { } args)
            {
                foreach (var arg in args.Arguments)
                {
                    string? name = arg.NameEquals?.Name.Identifier.ValueText ?? arg.NameColon?.Name.Identifier.ValueText;
                    if (name is not null) argumentLocations[name] = arg.GetLocation();
                }
            }

            Location attributeLocation = attributeSyntax?.GetLocation() ?? classSyntax.Identifier.GetLocation();
            LocationInfo? At(string name) => LocationInfo.From(argumentLocations.TryGetValue(name, out var l) ? l : attributeLocation);
            void Report(DiagnosticDescriptor d, string argument, params object[] values) =>
                diagnostics.Add(new DiagnosticInfo(d, At(argument), new EquatableArray<string>(values.Select(Format))));

            // partial-ness of the class and of every containing type
            if (!classSyntax.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.NotPartial, LocationInfo.From(classSyntax.Identifier.GetLocation()),
                    new EquatableArray<string>(new[] { symbol.Name, "" })));
            }

            if (symbol.Arity > 0)
            {
                diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.GenericModelClass, LocationInfo.From(classSyntax.Identifier.GetLocation()),
                    new EquatableArray<string>(new[] { symbol.Name })));
            }

            var containing = new List<ContainingType>();
            for (var parent = classSyntax.Parent as TypeDeclarationSyntax; parent is not null; parent = parent.Parent as TypeDeclarationSyntax)
            {
                if (!parent.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.NotPartial, LocationInfo.From(classSyntax.Identifier.GetLocation()),
                        new EquatableArray<string>(new[] { symbol.Name, $" (and so must its containing type '{parent.Identifier.ValueText}')" })));
                }

                string keyword = parent switch
                {
                    RecordDeclarationSyntax r => r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) ? "record struct" : "record",
                    StructDeclarationSyntax => "struct",
                    InterfaceDeclarationSyntax => "interface",
                    _ => "class",
                };
                containing.Insert(0, new ContainingType(keyword, parent.Identifier.ValueText + (parent.TypeParameterList?.ToString() ?? "")));
            }

            // a repeated argument is the compiler's error (CS0643); take the last one rather than fail here
            var named = attribute.NamedArguments.GroupBy(kv => kv.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
            int Int(string name, int fallback) => named.TryGetValue(name, out var c) && c.Value is int v ? v : fallback;
            double Real(string name, double fallback) => named.TryGetValue(name, out var c) ? c.Value switch
            {
                double d => d,
                float f => f,
                int i => i,
                _ => fallback,
            } : fallback;
            bool Bool(string name, bool fallback) => named.TryGetValue(name, out var c) && c.Value is bool v ? v : fallback;
            EquatableArray<double> Reals(string name, double fallback) => new(
                named.TryGetValue(name, out var c) && c.Kind == TypedConstantKind.Array && !c.IsNull
                    ? c.Values.Select(v => v.Value switch { double d => d, float f => f, int i => i, _ => double.NaN })
                    : new[] { fallback, fallback, fallback });

            var spec = new ModelSpec
            {
                Namespace = symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
                ClassName = symbol.Name,
                ContainingTypes = new EquatableArray<ContainingType>(containing),
                ImageHeight = Int("ImageHeight", ModelDefaults.ImageHeight),
                ImageWidth = Int("ImageWidth", ModelDefaults.ImageWidth),
                PatchSize = Int("PatchSize", ModelDefaults.PatchSize),
                StrideY = Int("StrideY", ModelDefaults.StrideY),
                StrideX = Int("StrideX", ModelDefaults.StrideX),
                Depth = Int("Depth", ModelDefaults.Depth),
                EmbedDim = Int("EmbedDim", ModelDefaults.EmbedDim),
                Heads = Int("Heads", ModelDefaults.Heads),
                MlpRatio = Real("MlpRatio", ModelDefaults.MlpRatio),
                QkvBias = Bool("QkvBias", ModelDefaults.QkvBias),
                LayerNormEps = Real("LayerNormEps", ModelDefaults.LayerNormEps),
                Cameras = Int("Cameras", ModelDefaults.Cameras),
                Views = Int("Views", ModelDefaults.Views),
                SieCoefficient = Real("SieCoefficient", ModelDefaults.SieCoefficient),
                Jpm = Bool("Jpm", ModelDefaults.Jpm),
                JpmParts = Int("JpmParts", ModelDefaults.JpmParts),
                JpmShift = Int("JpmShift", ModelDefaults.JpmShift),
                JpmShuffleGroups = Int("JpmShuffleGroups", ModelDefaults.JpmShuffleGroups),
                JpmRearrange = Bool("JpmRearrange", ModelDefaults.JpmRearrange),
                Classes = Int("Classes", ModelDefaults.Classes),
                NeckFeature = Int("NeckFeature", ModelDefaults.NeckFeature),
                PixelMean = Reals("PixelMean", ModelDefaults.PixelMean),
                PixelStd = Reals("PixelStd", ModelDefaults.PixelStd),
            };

            Validate(spec, Report);
            ct.ThrowIfCancellationRequested();
            var list = new EquatableArray<DiagnosticInfo>(diagnostics);
            return new ParseResult(diagnostics.Count == 0 ? spec : null, list);
        }

        private static string Format(object value) => value switch
        {
            double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

        /// <summary>Checks the numbers; each problem is reported at its argument, naming the values.</summary>
        internal static void Validate(ModelSpec s, Action<DiagnosticDescriptor, string, object[]> report)
        {
            bool shapeOk = true;
            void Positive(string name, int value)
            {
                if (value < 1)
                {
                    report(DiagnosticDescriptors.LessThanOne, name, new object[] { name, value });
                    shapeOk = false;
                }
            }

            Positive("PatchSize", s.PatchSize);
            Positive("EmbedDim", s.EmbedDim);
            Positive("Heads", s.Heads);
            if (s.Depth < 1) report(DiagnosticDescriptors.BadDepth, "Depth", new object[] { s.Depth });
            if (s.Classes < 1) report(DiagnosticDescriptors.BadClasses, "Classes", new object[] { s.Classes });
            if (s.EmbedDim >= 1 && s.Heads >= 1 && s.EmbedDim % s.Heads != 0)
                report(DiagnosticDescriptors.HeadsDoNotDivide, "Heads", new object[] { s.EmbedDim, s.Heads });
            if (s.Cameras < 0) report(DiagnosticDescriptors.NegativeSide, "Cameras", new object[] { "Cameras", s.Cameras });
            if (s.Views < 0) report(DiagnosticDescriptors.NegativeSide, "Views", new object[] { "Views", s.Views });

            void Real(string name, double value)
            {
                if (double.IsNaN(value) || double.IsInfinity(value) || value <= 0)
                    report(DiagnosticDescriptors.NotFiniteOrNotPositive, name, new object[] { name, value });
            }

            Real("LayerNormEps", s.LayerNormEps);
            Real("SieCoefficient", s.SieCoefficient);
            Real("MlpRatio", s.MlpRatio);
            if (!double.IsNaN(s.MlpRatio) && !double.IsInfinity(s.MlpRatio) && s.MlpRatio > 0 && s.EmbedDim >= 1 && (long)(s.EmbedDim * s.MlpRatio) < 1)
                report(DiagnosticDescriptors.NoMlpHidden, "MlpRatio", new object[] { s.EmbedDim, s.MlpRatio, (long)(s.EmbedDim * s.MlpRatio) });

            if (s.PatchSize >= 1)
            {
                foreach (var (name, value) in new[] { ("StrideY", s.StrideY), ("StrideX", s.StrideX) })
                {
                    if (value < 1 || value > s.PatchSize)
                    {
                        report(DiagnosticDescriptors.BadStride, name, new object[] { name, value, s.PatchSize });
                        shapeOk = false;
                    }
                }

                foreach (var (name, value) in new[] { ("ImageHeight", s.ImageHeight), ("ImageWidth", s.ImageWidth) })
                {
                    if (value < s.PatchSize)
                    {
                        report(DiagnosticDescriptors.ImageTooSmall, name, new object[] { name, value, s.PatchSize });
                        shapeOk = false;
                    }
                }
            }

            void Pixel(string name, EquatableArray<double> values, bool positive)
            {
                if (values.Count != 3 || values.Any(v => double.IsNaN(v) || double.IsInfinity(v) || (positive && v <= 0)))
                {
                    report(DiagnosticDescriptors.BadPixelNormalization, name, new object[]
                    {
                        name, positive ? ", all positive" : "", string.Join(", ", values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
                    });
                }
            }

            Pixel("PixelMean", s.PixelMean, positive: false);
            Pixel("PixelStd", s.PixelStd, positive: true);

            if (!shapeOk || !s.Jpm) return;
            int n = ShapeMath.GridSize(s.ImageHeight, s.PatchSize, s.StrideY) * ShapeMath.GridSize(s.ImageWidth, s.PatchSize, s.StrideX);
            if (s.JpmParts < 1 || s.JpmParts > n) report(DiagnosticDescriptors.BadParts, "JpmParts", new object[] { s.JpmParts, n });
            if (s.JpmRearrange)
            {
                if (s.JpmShuffleGroups < 1) report(DiagnosticDescriptors.LessThanOne, "JpmShuffleGroups", new object[] { "JpmShuffleGroups", s.JpmShuffleGroups });
                else if (!ShapeMath.ShuffleAllowed(n, s.JpmShuffleGroups)) report(DiagnosticDescriptors.BadShuffle, "JpmShuffleGroups", new object[] { s.JpmShuffleGroups, n });
                if (s.JpmShift < 1 || s.JpmShift > n) report(DiagnosticDescriptors.BadShift, "JpmShift", new object[] { s.JpmShift, n });
            }
        }
    }
}
