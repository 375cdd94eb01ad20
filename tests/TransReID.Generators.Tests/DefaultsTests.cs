using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;

namespace TransReID.Generators.Tests;

/// <summary>
/// The attribute defaults live once, in ModelDefaults (compiled into the runtime and the generator): the attribute
/// starts from them, an argument left out means them to the generator, and README.md's table says the same.
/// </summary>
public partial class DefaultsTests
{
    private static readonly FieldInfo[] Fields = typeof(ModelDefaults).GetFields(BindingFlags.Public | BindingFlags.Static);

    [Fact]
    public void Attribute_starts_from_ModelDefaults()
    {
        var attribute = new TransReIDModelAttribute();
        foreach (var field in Fields.Where(f => f.Name is not ("PixelMean" or "PixelStd")))
        {
            object? value = typeof(TransReIDModelAttribute).GetProperty(field.Name)!.GetValue(attribute);
            object expected = field.Name == "NeckFeature" ? (NeckFeature)(int)field.GetValue(null)! : field.GetValue(null)!;
            Assert.Equal(expected, value);
        }

        Assert.Null(attribute.PixelMean); // null = ModelDefaults.PixelMean on every channel
        Assert.Equal(
            typeof(TransReIDModelAttribute).GetProperties().Select(p => p.Name).Where(n => n != "TypeId").Order(StringComparer.Ordinal),
            Fields.Select(f => f.Name).Order(StringComparer.Ordinal));
    }

    [GeneratedRegex(@"^\| `(\w+)` \| ([^|]+) \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [Fact]
    public void Readme_table_lists_every_default_with_its_value()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var rows = TableRow().Matches(readme).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim(), StringComparer.Ordinal);
        foreach (var field in Fields)
        {
            Assert.True(rows.TryGetValue(field.Name, out var text), $"README.md's defaults table has no row for {field.Name}");
            string expected = field.Name switch
            {
                "Classes" => "required",
                "NeckFeature" => ((NeckFeature)(int)field.GetValue(null)!).ToString(),
                _ => field.GetValue(null) switch
                {
                    bool b => b ? "true" : "false",
                    double d => d >= 0.01 ? d.ToString("0.0###", CultureInfo.InvariantCulture) : d.ToString("0e0", CultureInfo.InvariantCulture),
                    var v => Convert.ToString(v, CultureInfo.InvariantCulture)!,
                },
            };
            Assert.True(text == expected, $"README.md says {field.Name} = {text}; ModelDefaults says {expected}");
        }
    }

    [Fact]
    public void A_model_without_arguments_gets_the_defaults()
    {
        var result = GeneratorHarness.Run(Samples.Model("Classes = 7"));
        var c = Samples.Constants(result.Source(string.Empty));
        Assert.Equal(ModelDefaults.ImageHeight, Samples.Long(c, "ImageHeight"));
        Assert.Equal(ModelDefaults.StrideX, Samples.Long(c, "StrideX"));
        Assert.Equal(ModelDefaults.Depth, Samples.Long(c, "Depth"));
        Assert.Equal(ModelDefaults.JpmShuffleGroups, Samples.Long(c, "JpmShuffleGroups"));
        Assert.Equal(ModelDefaults.MlpRatio.ToString("R", CultureInfo.InvariantCulture), c["MlpRatio"]);
        Assert.Equal("1E-06", c["LayerNormEps"]);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TransReID.Compiler.sln"))) return dir.FullName;
        }

        throw new DirectoryNotFoundException("no TransReID.Compiler.sln above " + AppContext.BaseDirectory);
    }
}
