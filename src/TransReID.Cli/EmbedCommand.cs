using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using TransReID.Cli.Presets;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;

namespace TransReID.Cli;

/// <summary><c>transreid embed</c>: embeddings of every image of a folder with a preset and official weights.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (see 'transreid presets')", Required = true };
        var weights = new Option<string>("--weights") { Description = "Weights: .safetensors or a PyTorch .pth/.pt state dict, official TransReID key names", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of .jpg/.jpeg/.png/.bmp images (not recursive)", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors: tensor 'embeddings' [N, FeatureDim], metadata 'files'", Required = true };
        var camera = new Option<int?>("--camera") { Description = "0-based camera index for every image (default: from Market-style names, c3 -> 2)" };
        var view = new Option<int?>("--view") { Description = "0-based view index for every image (models with view SIE)" };
        var batch = new Option<int>("--batch") { Description = "Images per batch", DefaultValueFactory = _ => 16 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto", DefaultValueFactory = _ => "auto" };
        var command = new Command("embed", "Embed every image of a folder") { preset, weights, images, output, camera, view, batch, device };
        command.SetAction(r => Program.Guard(() => Run(
            PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(weights)!, r.GetValue(images)!, r.GetValue(output)!,
            r.GetValue(camera), r.GetValue(view), r.GetValue(batch), r.GetValue(device)!)));
        return command;
    }

    private static int Run(Preset preset, string weights, string imageDir, string output, int? camera, int? view, int batchSize, string deviceName)
    {
        if (batchSize < 1) throw new CliException($"--batch {batchSize} must be at least 1");
        var info = preset.Info;
        string[] files = ImageFolder.List(imageDir);
        int[] cameras = SideIndices(files, info, camera, view, out int[] views);
        if (!File.Exists(weights)) throw new CliException($"weights file '{weights}' does not exist");

        var dev = Device.Parse(deviceName);
        using var model = preset.Create(dev, 0);
        model.Load(weights);
        Program.Status($"[grey]{preset.Name} on {model.Core.Backend.Name}: {files.Length} images, feature {info.FeatureDim}[/]");

        var embeddings = new float[(long)files.Length * info.FeatureDim];
        var pixels = new float[(long)batchSize * info.ImageFloats];
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < files.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, files.Length - start);
            for (int i = 0; i < n; i++)
                ImageLoader.LoadNormalized(files[start + i], info.ImageHeight, info.ImageWidth, pixels.AsSpan(i * info.ImageFloats, info.ImageFloats), info.PixelMean, info.PixelStd);
            model.Embed(pixels.AsSpan(0, n * info.ImageFloats), cameras.AsSpan(start, info.UsesCameras ? n : 0),
                views.AsSpan(start, info.UsesViews ? n : 0), embeddings.AsSpan(start * info.FeatureDim, n * info.FeatureDim));
        }

        double seconds = clock.Elapsed.TotalSeconds;
        var writer = new SafetensorsWriter();
        writer.Add("embeddings", embeddings, files.Length, info.FeatureDim);
        writer.AddMetadata("files", JsonSerializer.Serialize(files.Select(Path.GetFileName).ToArray(), CliJson.Default.StringArray));
        writer.AddMetadata("preset", preset.Name);
        writer.Save(output);
        Program.Status(string.Create(CultureInfo.InvariantCulture, $"[green]wrote {files.Length} x {info.FeatureDim} embeddings to {Spectre.Console.Markup.Escape(output)}[/] ({files.Length / seconds:F1} images/s)"));
        return 0;
    }

    /// <summary>Camera (and view) index of every image: the option, else the Market-style name; an error when needed and missing.</summary>
    internal static int[] SideIndices(string[] files, ModelInfo info, int? camera, int? view, out int[] views)
    {
        var cameras = new int[files.Length];
        views = new int[files.Length];
        if (info.UsesCameras)
        {
            if (camera is { } c && (c < 0 || c >= info.Cameras)) throw new CliException($"--camera {c} is out of range: the model has {info.Cameras} cameras (0-based indices 0..{info.Cameras - 1})");
            for (int i = 0; i < files.Length; i++)
            {
                if (camera is { } fixedCam) cameras[i] = fixedCam;
                else if (DatasetReader.TryParseMarketName(files[i], out _, out int cam)) cameras[i] = cam;
                else throw new CliException($"the model uses camera side information, but '{Path.GetFileName(files[i])}' has no camera in its name (Market style 0001_c3s1_000551_02.jpg) and no --camera was given");
                if (cameras[i] < 0 || cameras[i] >= info.Cameras)
                    throw new CliException($"camera {cameras[i] + 1} of '{Path.GetFileName(files[i])}' is out of range: the model has {info.Cameras} cameras");
            }
        }

        if (info.UsesViews)
        {
            if (view is not { } v) throw new CliException($"the model uses view side information ({info.Views} views): give --view");
            if (v < 0 || v >= info.Views) throw new CliException($"--view {v} is out of range: the model has {info.Views} views");
            Array.Fill(views, v);
        }

        return cameras;
    }
}
