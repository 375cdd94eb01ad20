using System;
using System.CommandLine;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using TransReID.Cli.Presets;
using TransReID.Runtime;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;

namespace TransReID.Cli;

/// <summary>
/// <c>transreid export</c>: a preset with its weights as an ONNX model (the generated <c>ExportOnnx</c>: the Embed
/// schedule op for op, standard opset-17 ops, weights as initializers).
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var preset = CliOptions.Preset();
        var weights = new Option<string>("--weights") { Description = "Weights: .safetensors or a PyTorch .pth/.pt state dict, official TransReID key names", Required = true };
        var output = new Option<string>("--output") { Description = "Output .onnx file", Required = true };
        var opset = new Option<int>("--opset")
        {
            Description = $"ONNX opset of the default domain ({OnnxExportOptions.MinOpset} to {OnnxExportOptions.MaxOpset})",
            DefaultValueFactory = _ => OnnxExportOptions.DefaultOpset,
        };
        var fixedCamera = new Option<int?>("--fixed-camera") { Description = "Bake this 0-based camera index into the graph (no 'cameras' input)" };
        var fixedView = new Option<int?>("--fixed-view") { Description = "Bake this 0-based view index into the graph (no 'views' input)" };
        var preprocessing = new Option<bool>("--include-preprocessing") { Description = "Take uint8 RGB images [N, H, W, 3] and normalise them inside the graph" };
        var command = new Command("export", "Export a preset with its weights as an ONNX model (input images [N, 3, H, W], output features [N, FeatureDim])")
        {
            preset, weights, output, opset, fixedCamera, fixedView, preprocessing,
        };
        command.SetAction(r => Program.Guard(() => Run(
            PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(weights)!, r.GetValue(output)!,
            new OnnxExportOptions
            {
                Opset = r.GetValue(opset),
                FixedCamera = r.GetValue(fixedCamera),
                FixedView = r.GetValue(fixedView),
                IncludePreprocessing = r.GetValue(preprocessing),
            })));
        return command;
    }

    private static int Run(Preset preset, string weights, string output, OnnxExportOptions options)
    {
        var info = preset.Info;
        options = options with { Preset = preset.Name };
        Check(info, options);
        if (!File.Exists(weights)) throw new CliException($"weights file '{weights}' does not exist");
        if (Directory.Exists(output)) throw new CliException($"--output '{output}' is a directory; name the .onnx file");
        string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"--output '{output}': directory '{dir}' does not exist");

        using var model = preset.Create(Device.Cpu, 0);
        UserInput.Load(model, weights);
        model.ExportOnnx(output, options);
        long bytes = new FileInfo(output).Length;
        Program.Status(string.Create(CultureInfo.InvariantCulture,
            $"[green]wrote {Spectre.Console.Markup.Escape(output)}[/] ({bytes / 1e6:F1} MB, opset {options.Opset}): {Spectre.Console.Markup.Escape(Describe(info, options))}"));
        return 0;
    }

    /// <summary>The options against the model, as user errors naming the option (before any weights are read).</summary>
    internal static void Check(ModelInfo info, OnnxExportOptions options)
    {
        if (options.Opset < OnnxExportOptions.MinOpset || options.Opset > OnnxExportOptions.MaxOpset)
        {
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"--opset {options.Opset} is not supported: use {OnnxExportOptions.MinOpset} to {OnnxExportOptions.MaxOpset} (LayerNormalization needs 17)"));
        }

        CheckFixed("--fixed-camera", options.FixedCamera, info.UsesCameras, info.Cameras, "camera", info.Name);
        CheckFixed("--fixed-view", options.FixedView, info.UsesViews, info.Views, "view", info.Name);
    }

    private static void CheckFixed(string option, int? value, bool used, int count, string what, string model)
    {
        if (value is not int v) return;
        if (!used) throw new CliException($"{option} {v}: the model {model} has no {what} side information");
        if (v < 0 || v >= count)
            throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{option} {v} is out of range: the model has {count} {what}s (0 to {count - 1})"));
    }

    /// <summary>Inputs and output of the exported graph, one line.</summary>
    internal static string Describe(ModelInfo info, OnnxExportOptions options)
    {
        var inputs = new List<string>
        {
            options.IncludePreprocessing
                ? string.Create(CultureInfo.InvariantCulture, $"images uint8 [N,{info.ImageHeight},{info.ImageWidth},3]")
                : string.Create(CultureInfo.InvariantCulture, $"images float32 [N,3,{info.ImageHeight},{info.ImageWidth}]"),
        };
        if (info.UsesCameras && options.FixedCamera is null) inputs.Add("cameras int64 [N]");
        if (info.UsesViews && options.FixedView is null) inputs.Add("views int64 [N]");
        return string.Create(CultureInfo.InvariantCulture, $"inputs {string.Join(", ", inputs)}; output features float32 [N,{info.FeatureDim}]");
    }
}
