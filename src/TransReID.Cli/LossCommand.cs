using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using TransReID.Cli.Presets;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Runtime.IO;

namespace TransReID.Cli;

/// <summary>
/// <c>transreid loss</c>: one training-mode forward and backward over all images of a folder as one batch, without
/// updating the weights; prints the loss components as JSON and optionally writes every gradient under its official name.
/// </summary>
internal static class LossCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset", Required = true };
        var weights = new Option<string>("--weights") { Description = "Weights: .safetensors or a PyTorch .pth/.pt state dict, official TransReID key names", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of Market-style named images (identity and camera from the names)", Required = true };
        var dropPath = new Option<double>("--drop-path") { Description = "Stochastic-depth rate of the last block (0 turns it off)", DefaultValueFactory = _ => 0.1 };
        var gradients = new Option<string?>("--gradients") { Description = "Write the gradient of the total loss for every trainable tensor (.safetensors)" };
        var seed = CliOptions.Seed("Seed of the stochastic-depth masks", 0);
        var device = CliOptions.Device();
        var command = new Command("loss", "One training forward/backward on a folder as one batch; prints the losses as JSON") { preset, weights, images, dropPath, gradients, seed, device };
        command.SetAction(r => Program.Guard(() => Run(PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(weights)!, r.GetValue(images)!,
            r.GetValue(dropPath), r.GetValue(gradients), r.GetValue(seed), r.GetValue(device)!)));
        return command;
    }

    private static int Run(Preset preset, string weights, string imageDir, double dropPath, string? gradientsPath, int seed, string deviceName)
    {
        var info = preset.Info;
        string[] files = ImageFolder.List(imageDir);
        if ((long)files.Length * info.ImageFloats > Array.MaxLength)
            throw new CliException($"--images '{imageDir}' has {files.Length} images, too many for one batch of 3×{info.ImageHeight}×{info.ImageWidth} floats (at most {Array.MaxLength / info.ImageFloats}); use a smaller folder");
        var identities = new int[files.Length];
        for (int i = 0; i < files.Length; i++)
        {
            if (!DatasetReader.TryParseMarketName(files[i], out identities[i], out _))
                throw new CliException($"'{Path.GetFileName(files[i])}' is not a Market-style name (0001_c3s1_000551_02.jpg): the identity label comes from the name");
        }

        // labels: identities numbered in ascending order
        var order = identities.Distinct().Order().Select((id, index) => (id, index)).ToDictionary(t => t.id, t => t.index);
        int[] labels = identities.Select(id => order[id]).ToArray();
        if (order.Count > info.Classes)
            throw new CliException($"the folder has {order.Count} identities but the model's classifiers have {info.Classes} classes");
        int[] cameras = EmbedCommand.SideIndices(files, info, null, null, out int[] views);
        if (!File.Exists(weights)) throw new CliException($"weights file '{weights}' does not exist");
        if (!(dropPath >= 0 && dropPath < 1)) throw new CliException($"--drop-path {dropPath} must be in [0, 1)");

        using var model = preset.Create(UserInput.ParseDevice(deviceName), seed);
        UserInput.Load(model, weights);
        model.DropPathRate = dropPath;
        var pixels = new float[(long)files.Length * info.ImageFloats];
        for (int i = 0; i < files.Length; i++)
            ImageLoader.LoadNormalized(files[i], info.ImageHeight, info.ImageWidth, pixels.AsSpan(i * info.ImageFloats, info.ImageFloats), info.PixelMean, info.PixelStd);

        var result = model.ComputeGradients(pixels, labels, info.UsesCameras ? cameras : [], info.UsesViews ? views : []);
        var report = new Dictionary<string, double>
        {
            ["id_global"] = result.IdGlobal,
            ["id_parts"] = result.IdParts,
            ["triplet_global"] = result.TripletGlobal,
            ["triplet_parts"] = result.TripletParts,
            ["total"] = result.Total,
        };
        Console.Out.WriteLine(JsonSerializer.Serialize(report, CliJson.Default.LossReport));

        if (gradientsPath is not null)
        {
            var writer = new SafetensorsWriter();
            writer.AddMetadata("preset", preset.Name);
            foreach (var p in model.ParameterTable.Where(p => p.IsTrainable))
                writer.Add(p.Name, model.Gradient(p.Name), p.Shape);
            writer.Save(gradientsPath);
            Program.Status($"[grey]wrote the gradients of {model.ParameterTable.Count(p => p.IsTrainable)} tensors to {Spectre.Console.Markup.Escape(gradientsPath)}[/]");
        }

        return 0;
    }
}
