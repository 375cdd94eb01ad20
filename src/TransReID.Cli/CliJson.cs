using System.Text.Json.Serialization;

namespace TransReID.Cli;

/// <summary>Source-generated JSON contracts of the CLI's outputs.</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
[JsonSerializable(typeof(System.Collections.Generic.Dictionary<string, double>), TypeInfoPropertyName = "LossReport")]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary>Source-generated JSON contract of <c>transreid bench --json</c>: indented, snake_case keys, nulls written.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJson : JsonSerializerContext;
