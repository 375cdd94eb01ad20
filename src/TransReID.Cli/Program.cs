using System;
using System.CommandLine;
using System.CommandLine.Invocation;
using Spectre.Console;

namespace TransReID.Cli;

/// <summary>The <c>transreid</c> command.</summary>
internal static class Program
{
    /// <summary>Exit codes: 0 success, 2 a user error (one <c>error:</c> line), 70 a bug (crash log), 130 interrupted (train).</summary>
    public static int Main(string[] args) => ErrorPolicy.Run(() =>
    {
        var root = new RootCommand("TransReID.Compiler: statically compiled TransReID models for object re-identification");
        root.Options.Add(Consoles.ColorOption);
        root.Subcommands.Add(PresetsCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(LossCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction) return ParseErrors.Report(parse);
        Consoles.Mode = parse.GetValue(Consoles.ColorOption) ?? "auto";

        // exceptions reach ErrorPolicy, not System.CommandLine's handler (which prints a stack trace and exits 1)
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    });

    /// <summary>Runs a command body under the CLI's one <see cref="ErrorPolicy"/>.</summary>
    public static int Guard(Func<int> body) => ErrorPolicy.Run(body);

    /// <summary>Writes a status line to stderr (stdout stays clean for machine-readable output).</summary>
    public static void Status(string markup) => Consoles.Stderr().MarkupLine(markup);
}
