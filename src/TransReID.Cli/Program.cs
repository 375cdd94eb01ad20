using System;
using System.CommandLine;
using System.IO;
using Spectre.Console;
using TransReID.Data;
using TransReID.Runtime.IO;

namespace TransReID.Cli;

/// <summary>The <c>transreid</c> command.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        // Redirected output has no terminal width; Spectre would assume 80 columns and fold the tables.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        var root = new RootCommand("TransReID.Compiler: statically compiled TransReID models for object re-identification");
        root.Subcommands.Add(PresetsCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(LossCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root.Parse(args).Invoke();
    }

    /// <summary>Runs a command body; user errors print one line and exit 2, never a stack trace.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is CliException or ImageLoadException or SafetensorsException or ArgumentException
            or InvalidOperationException or IOException or UnauthorizedAccessException or ArithmeticException or PthException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }

    /// <summary>Writes a status line to stderr (stdout stays clean for machine-readable output).</summary>
    public static void Status(string markup)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.MarkupLine(markup);
    }
}
