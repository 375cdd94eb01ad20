using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;
using System.Threading;

namespace TransReID.Generators.Tests;

/// <summary>The model declarations the snapshot, purity and incremental tests share, and helpers to read generated text.</summary>
internal static partial class Samples
{
    /// <summary>The Market stride preset of docs/model.md#parameter-table: stride 12, 6 cameras, 751 identities, other defaults.</summary>
    public const string MarketStride = """
        using TransReID;

        namespace Sample.Models;

        [TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 6, Classes = 751)]
        public sealed partial class MarketStride
        {
        }
        """;

    /// <summary>A plain ViT-B/16 (the official vit_base.yml): no JPM, no SIE, features after the BNNeck.</summary>
    public const string PlainVit = """
        using TransReID;

        namespace Sample.Models
        {
            [TransReIDModel(Jpm = false, Classes = 751, NeckFeature = NeckFeature.After)]
            internal partial class PlainVit
            {
            }
        }
        """;

    /// <summary>
    /// A tiny model nested two levels deep in the global namespace: 40 x 24 image, 8-pixel patches, grid 5 x 3 = 15
    /// patches (odd, so the JPM shuffle pads one token), camera x view SIE (3 x 2 = 6 rows), no qkv bias.
    /// </summary>
    public const string Tiny = """
        using TransReID;

        public static partial class Outer
        {
            internal partial struct Mid
            {
                [TransReIDModel(ImageHeight = 40, ImageWidth = 24, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2,
                    EmbedDim = 32, Heads = 4, MlpRatio = 2.0, QkvBias = false, Cameras = 3, Views = 2, JpmParts = 3,
                    JpmShift = 2, Classes = 5)]
                internal partial class Tiny
                {
                }
            }
        }
        """;

    public static string Get(string name) => name switch
    {
        nameof(MarketStride) => MarketStride,
        nameof(PlainVit) => PlainVit,
        nameof(Tiny) => Tiny,
        _ => throw new ArgumentException($"no sample named '{name}'", nameof(name)),
    };

    private static readonly Dictionary<string, Lazy<GeneratorResult>> Cache = new(StringComparer.Ordinal)
    {
        [nameof(MarketStride)] = new(() => GeneratorHarness.Run(MarketStride), LazyThreadSafetyMode.ExecutionAndPublication),
        [nameof(PlainVit)] = new(() => GeneratorHarness.Run(PlainVit), LazyThreadSafetyMode.ExecutionAndPublication),
        [nameof(Tiny)] = new(() => GeneratorHarness.Run(Tiny), LazyThreadSafetyMode.ExecutionAndPublication),
    };

    /// <summary>One generator run per sample, shared by the tests that only read it.</summary>
    public static GeneratorResult Result(string name) => Cache.TryGetValue(name, out var r)
        ? r.Value
        : throw new ArgumentException($"no sample named '{name}'", nameof(name));

    /// <summary>A model source with the given attribute arguments, in namespace <c>Sample</c>, class <paramref name="className"/>.</summary>
    public static string Model(string arguments, string className = "M") => $$"""
        using TransReID;

        namespace Sample;

        [TransReIDModel({{arguments}})]
        public partial class {{className}}
        {
        }
        """;

    /// <summary>
    /// A culture whose number format would break C# literals. The test host runs with invariant globalization (no ICU
    /// data, so "de-DE" cannot be created), hence hand-made ones: "comma" has the decimal comma and group dot of de-DE
    /// and fr-FR; "minus" has the U+2212 minus sign that sv-SE, nb-NO and fi-FI use under ICU.
    /// </summary>
    public static CultureInfo Culture(string kind)
    {
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        var nf = culture.NumberFormat;
        switch (kind)
        {
            case "comma":
                nf.NumberDecimalSeparator = ",";
                nf.NumberGroupSeparator = ".";
                nf.PercentDecimalSeparator = ",";
                nf.CurrencyDecimalSeparator = ",";
                break;
            case "minus":
                nf.NegativeSign = "\u2212";
                break;
            default:
                throw new ArgumentException($"no culture kind '{kind}' (comma, minus)", nameof(kind));
        }

        return culture;
    }

    /// <summary>Runs <paramref name="action"/> with <paramref name="culture"/> as the current (UI) culture, then restores both.</summary>
    public static T UnderCulture<T>(CultureInfo culture, Func<T> action)
    {
        var savedCulture = CultureInfo.CurrentCulture;
        var savedUiCulture = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentCulture = culture;
            CultureInfo.CurrentUICulture = culture;
            return action();
        }
        finally
        {
            CultureInfo.CurrentCulture = savedCulture;
            CultureInfo.CurrentUICulture = savedUiCulture;
        }
    }

    [GeneratedRegex(@"^\s*public const (?:int|long|double|bool) (\w+) = ([^;]+);", RegexOptions.Multiline)]
    private static partial Regex ConstantPattern();

    /// <summary>The <c>public const</c> numbers of a generated model, by name (text as emitted, L suffix removed).</summary>
    public static Dictionary<string, string> Constants(string generated)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in ConstantPattern().Matches(generated))
            result.Add(m.Groups[1].Value, m.Groups[2].Value.TrimEnd('L'));
        return result;
    }

    /// <summary>An integer constant of a generated model.</summary>
    public static long Long(Dictionary<string, string> constants, string name) =>
        constants.TryGetValue(name, out var text)
            ? long.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
            : throw new KeyNotFoundException($"the generated model has no constant '{name}'");
}
