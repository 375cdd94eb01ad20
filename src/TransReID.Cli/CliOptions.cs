using System.CommandLine;

namespace TransReID.Cli;

/// <summary>The options several commands declare alike, stated once (each command gets its own instance).</summary>
internal static class CliOptions
{
    /// <summary><c>--preset NAME</c>, required.</summary>
    public static Option<string> Preset() => new("--preset") { Description = "Model preset (see 'transreid presets')", Required = true };

    /// <summary><c>--device</c>, default <c>auto</c>.</summary>
    public static Option<string> Device(string description = "cpu, cuda or auto") => new("--device") { Description = description, DefaultValueFactory = _ => "auto" };

    /// <summary><c>--batch N</c> with a command's default.</summary>
    public static Option<int> Batch(string description, int defaultValue) => new("--batch") { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary><c>--seed N</c> with a command's description and default.</summary>
    public static Option<int> Seed(string description, int defaultValue) => new("--seed") { Description = description, DefaultValueFactory = _ => defaultValue };
}
