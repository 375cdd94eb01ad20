using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TransReID.Cli.Presets;

namespace TransReID.Cli;

/// <summary><c>transreid presets</c>: the compiled-in models and their numbers.</summary>
internal static class PresetsCommand
{
    public static Command Create()
    {
        var command = new Command("presets", "List the models compiled into this tool, with their numbers");
        command.SetAction(_ => Program.Guard(() =>
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var h in new[] { "preset", "input", "patch/stride", "tokens", "depth×width/heads", "SIE", "JPM", "classes", "feature", "parameters" })
                table.AddColumn(h);
            foreach (var p in PresetRegistry.All)
            {
                var i = p.Info;
                string sie = i.SieRows == 0 ? "off" : $"{(i.UsesCameras ? $"{i.Cameras} cams" : "")}{(i.UsesCameras && i.UsesViews ? " × " : "")}{(i.UsesViews ? $"{i.Views} views" : "")} λ={i.SieCoefficient.ToString(CultureInfo.InvariantCulture)}";
                table.AddRow(p.Name, $"{i.ImageHeight}×{i.ImageWidth}", $"{i.PatchSize}/{i.StrideY}×{i.StrideX}", i.TokenCount.ToString(CultureInfo.InvariantCulture),
                    $"{i.Depth}×{i.EmbedDim}/{i.Heads}", Markup.Escape(sie), i.Jpm ? $"{i.JpmParts} parts, shift {i.JpmShift}" : "off",
                    i.Classes.ToString(CultureInfo.InvariantCulture), i.FeatureDim.ToString(CultureInfo.InvariantCulture), i.ParameterCount.ToString("N0", CultureInfo.InvariantCulture));
            }

            Consoles.Stdout().Write(table);
            return 0;
        }));
        return command;
    }
}
