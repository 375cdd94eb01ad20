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
        var preset = CliOptions.Preset();
        var weights = new Option<string>("--weights") { Description = "Weights: .safetensors or a PyTorch .pth/.pt state dict, official TransReID key names", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of .jpg/.jpeg/.png/.bmp images (not recursive)", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors: tensor 'embeddings' [N, FeatureDim], metadata 'files'", Required = true };
        var camera = new Option<int?>("--camera") { Description = "0-based camera index for every image (default: from Market-style names, c3 -> 2)" };
        var view = new Option<int?>("--view") { Description = "0-based view index for every image (models with view SIE)" };
        var batch = CliOptions.Batch("Images per batch", 16);
        var device = CliOptions.Device();
        var command = new Command("embed", "Embed every image of a folder") { preset, weights, images, output, camera, view, batch, device };
        command.SetAction(r => Program.Guard(() => Run(
            PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(weights)!, r.GetValue(images)!, r.GetValue(output)!,
            r.GetValue(camera), r.GetValue(view), r.GetValue(batch), r.GetValue(device)!)));
        return command;
    }

    private static int Run(Preset preset, string weights, string imageDir, string output, int? camera, int? view, int batchSize, string deviceName)
    {
        var info = preset.Info;
        UserInput.CheckBatch("--batch", batchSize, info);
        string[] files = ImageFolder.List(imageDir);
        CheckOutput(output, imageDir, files);
        if ((long)files.Length * info.FeatureDim > Array.MaxLength)
        {
            throw new CliException($"--images '{imageDir}' has {files.Length} images: their {files.Length} x {info.FeatureDim} embeddings exceed one output tensor ({Array.MaxLength} floats); split the folder");
        }

        int[] cameras = SideIndices(files, info, camera, view, out int[] views);
        if (!File.Exists(weights)) throw new CliException($"weights file '{weights}' does not exist");

        var dev = UserInput.ParseDevice(deviceName);
        using var model = preset.Create(dev, 0);
        UserInput.Load(model, weights);
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

    /// <summary>Refuses an <c>--output</c> that is one of the input images or an image file name in the <c>--images</c> folder (it would overwrite an input or join them).</summary>
    internal static void CheckOutput(string output, string imageDir, string[] files)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        string full = Path.GetFullPath(output);
        if (files.Any(f => string.Equals(Path.GetFullPath(f), full, comparison)))
            throw new CliException($"--output '{output}' is one of the input images of --images '{imageDir}': it would be overwritten; write the embeddings to a .safetensors file elsewhere");
        string? outputDir = Path.GetDirectoryName(full);
        if (ImageFolder.IsImage(full) && outputDir is not null
            && string.Equals(Path.TrimEndingDirectorySeparator(outputDir), Path.TrimEndingDirectorySeparator(Path.GetFullPath(imageDir)), comparison))
            throw new CliException($"--output '{output}' is an image file name inside the --images folder '{imageDir}': write the embeddings to a .safetensors file, not among the inputs");
    }

    /// <summary>Camera (and view) index of every image: the option, else the Market-style name; an error when needed and missing.</summary>
    internal static int[] SideIndices(string[] files, ModelInfo info, int? camera, int? view, out int[] views)
    {
        var cameras = new int[files.Length];
        views = new int[files.Length];
        if (!info.UsesCameras && camera is { } unused)
            throw new CliException($"--camera {unused}: the model {info.Name} has no camera side information (Cameras = 0); leave --camera out");
        if (!info.UsesViews && view is { } unusedView)
            throw new CliException($"--view {unusedView}: the model {info.Name} has no view side information (Views = 0); leave --view out");
        if (info.UsesCameras)
        {
            if (camera is { } c && (c < 0 || c >= info.Cameras)) throw new CliException($"--camera {c} is out of range: the model has {info.Cameras} cameras (0-based indices 0..{info.Cameras - 1})");
            for (int i = 0; i < files.Length; i++)
            {
                if (camera is { } fixedCam) cameras[i] = fixedCam;
                else if (DatasetReader.TryParseMarketName(files[i], out _, out int cam)) cameras[i] = cam;
                else if (NamesCameraZero(Path.GetFileName(files[i])))
                    throw new CliException($"'{Path.GetFileName(files[i])}' names camera 0 (c0), which is not a valid Market camera: cameras are 1-based, c1..c{info.Cameras} for this model; rename the file or give --camera (0-based, 0..{info.Cameras - 1})");
                else throw new CliException($"the model uses camera side information, but '{Path.GetFileName(files[i])}' has no camera in its name (Market style 0001_c3s1_000551_02.jpg) and no --camera was given");
                if (cameras[i] < 0 || cameras[i] >= info.Cameras)
                    throw new CliException($"camera c{cameras[i] + 1} of '{Path.GetFileName(files[i])}' is out of range: the model has {info.Cameras} cameras (c1..c{info.Cameras}); give --camera (0-based) to override");
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

    /// <summary>A Market-style name whose camera is c0 (<c>0001_c0s1_000001_01.jpg</c>), which TryParseMarketName rejects.</summary>
    private static bool NamesCameraZero(string name)
    {
        int u = name.IndexOf('_', StringComparison.Ordinal);
        if (u <= 0 || !int.TryParse(name.AsSpan(0, u), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)) return false;
        var rest = name.AsSpan(u + 1);
        if (rest.Length < 2 || rest[0] != 'c') return false;
        int n = 1;
        while (n < rest.Length && char.IsAsciiDigit(rest[n])) n++;
        return n > 1 && int.Parse(rest[1..n], NumberStyles.None, CultureInfo.InvariantCulture) == 0;
    }
}
