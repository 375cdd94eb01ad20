using System.Text.Json.Serialization;

namespace TransReID.Cli;

/// <summary>Source-generated JSON contracts of the CLI's outputs.</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
[JsonSerializable(typeof(System.Collections.Generic.Dictionary<string, double>), TypeInfoPropertyName = "LossReport")]
internal sealed partial class CliJson : JsonSerializerContext;
