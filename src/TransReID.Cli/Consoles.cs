using System;
using System.CommandLine;
using System.IO;
using Spectre.Console;

namespace TransReID.Cli;

/// <summary>
/// The Spectre consoles of the CLI: tables and results on stdout, status lines on stderr. Colour (any ANSI escape) only
/// when that stream is a terminal, unless forced: <c>--color always|never</c> first, then <c>NO_COLOR</c> (set and not
/// empty: never) and <c>FORCE_COLOR</c> (set, not empty and not 0: always). A redirected stream has no terminal width:
/// lines and table titles are not wrapped at Spectre's default of 80 columns.
/// </summary>
internal static class Consoles
{
    /// <summary>Width of a redirected stream: wide enough that no status line or table title wraps.</summary>
    public const int RedirectedWidth = 1000;

    /// <summary>The global <c>--color</c> option (every command).</summary>
    public static Option<string> ColorOption { get; } = CreateColorOption();

    /// <summary>auto, always or never (set by <see cref="Program.Main"/> from <see cref="ColorOption"/>).</summary>
    public static string Mode { get; set; } = "auto";

    /// <summary>A console on the current standard output (the static AnsiConsole keeps the writer it first saw).</summary>
    public static IAnsiConsole Stdout() => Create(Console.Out, Console.IsOutputRedirected);

    /// <summary>A console on the current standard error (status lines).</summary>
    public static IAnsiConsole Stderr() => Create(Console.Error, Console.IsErrorRedirected);

    /// <summary>Whether a stream gets colour under the current mode and environment.</summary>
    public static bool UseColor(bool redirected)
    {
        switch (Mode)
        {
            case "always": return true;
            case "never": return false;
        }

        if (Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 }) return false;
        if (Environment.GetEnvironmentVariable("FORCE_COLOR") is { Length: > 0 } force && force != "0") return true;
        return !redirected && !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);
    }

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        bool color = UseColor(redirected);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = color ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = color ? (redirected ? ColorSystemSupport.Standard : ColorSystemSupport.Detect) : ColorSystemSupport.NoColors,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected) console.Profile.Width = RedirectedWidth;
        return console;
    }

    private static Option<string> CreateColorOption()
    {
        var option = new Option<string>("--color")
        {
            Description = "Colour: auto (when the stream is a terminal; NO_COLOR and FORCE_COLOR are honoured), always or never",
            DefaultValueFactory = _ => "auto",
            Recursive = true,
        };
        option.AcceptOnlyFromAmong("auto", "always", "never");
        return option;
    }
}
