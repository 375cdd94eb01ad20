using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using Spectre.Console;
using TransReID.Cli.Presets;
using TransReID.Runtime;
using TransReID.Runtime.Model;

namespace TransReID.Cli;

/// <summary>
/// <c>transreid convert</c>: a PyTorch checkpoint (or safetensors file) to the official-name safetensors of a preset.
/// The kind is told by the keys: a TransReID state dict loads as <c>Load</c> does, an ImageNet ViT/DeiT state dict
/// initialises the backbone as <c>LoadPretrained</c> does (the rest from scratch with <c>--seed</c>).
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var preset = CliOptions.Preset();
        var input = new Option<string>("--input") { Description = "Weights to convert: .pth/.pt (zip or legacy torch.save) or .safetensors", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors with the official TransReID key names", Required = true };
        var seed = CliOptions.Seed("Seed of the tensors an ImageNet backbone does not provide (SIE, BNNecks, classifiers)", 0);
        var command = new Command("convert", "Convert a PyTorch checkpoint (TransReID or ImageNet ViT/DeiT) to a preset's safetensors weights") { preset, input, output, seed };
        command.SetAction(r => Program.Guard(() => Run(PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(input)!, r.GetValue(output)!, r.GetValue(seed))));
        return command;
    }

    private static int Run(Preset preset, string input, string output, int seed)
    {
        if (!File.Exists(input)) throw new CliException($"input weights '{input}' do not exist");
        if (string.Equals(Path.GetFullPath(input), Path.GetFullPath(output), StringComparison.Ordinal))
            throw new CliException("--output must not be the --input file");
        var kind = UserInput.DetectKind(input);
        using var model = preset.Create(Device.Cpu, seed);
        var report = kind == WeightsKind.TransReID ? UserInput.Load(model, input) : UserInput.LoadPretrained(model, input, seed);
        model.Save(output);
        PrintReport(report, $"{Path.GetFileName(input)} ({report.Format}, {(kind == WeightsKind.TransReID ? "TransReID state dict" : "ImageNet backbone")}) → {preset.Name}");
        Program.Status($"[green]wrote {Markup.Escape(output)}[/] ({model.ParameterTable.Count} tensors of {preset.Name})");
        return 0;
    }

    /// <summary>The report as a table: every tensor that was not simply loaded, one line per kind of the rest.</summary>
    internal static void PrintReport(LoadReport report, string title)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)) };
        table.AddColumn("action");
        table.AddColumn("model tensor");
        table.AddColumn("file key");
        table.AddColumn("detail");
        int loaded = report.Count(LoadAction.Loaded);
        if (loaded > 0)
        {
            string converted = report.With(LoadAction.Loaded).Any(e => e.Detail.Contains(" from ", StringComparison.Ordinal)) ? " (dtype converted to F32 where needed)" : string.Empty;
            table.AddRow("[green]loaded[/]", loaded.ToString(CultureInfo.InvariantCulture) + " tensors", "same names" + (report.Kind == WeightsKind.ImageNet ? " (X → base.X)" : string.Empty), "as in the file" + converted);
        }

        foreach (var e in report.Entries.Where(e => e.Action != LoadAction.Loaded))
        {
            string action = e.Action switch
            {
                LoadAction.Resized => "[blue]resized[/]",
                LoadAction.Reshaped => "[blue]reshaped[/]",
                LoadAction.Copied => "[blue]copied[/]",
                LoadAction.Initialized => "[yellow]initialised[/]",
                _ => "[grey]skipped[/]",
            };
            table.AddRow(action, Markup.Escape(e.Target ?? "-"), Markup.Escape(e.Source ?? "-"), Markup.Escape(e.Detail));
        }

        var console = Consoles.Stdout();
        console.Write(table);
        console.WriteLine(report.ToString());
    }

}
