using System.CommandLine;
using System.Globalization;
using System.IO;
using Spectre.Console;
using TransReID.Data;

namespace TransReID.Cli;

/// <summary><c>transreid synth</c>: writes a small Market-1501-format synthetic dataset (for demos, tests and smoke runs).</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Dataset folder to create (bounding_box_train/, query/, bounding_box_test/)", Required = true };
        var ids = new Option<int>("--ids") { Description = "Identities; the first half (rounded up) is the train split", DefaultValueFactory = _ => 60 };
        var cameras = new Option<int>("--cameras") { Description = "Cameras, 2..9", DefaultValueFactory = _ => 4 };
        var seed = new Option<int>("--seed") { Description = "Seed (the same arguments give byte-identical files)", DefaultValueFactory = _ => 1 };
        var perCamera = new Option<int>("--images-per-camera") { Description = "Images of each identity in each camera, at least 2", DefaultValueFactory = _ => 5 };
        var height = new Option<int>("--height") { Description = "Image height, at least 32", DefaultValueFactory = _ => 128 };
        var width = new Option<int>("--width") { Description = "Image width, at least 16", DefaultValueFactory = _ => 64 };
        var command = new Command("synth", "Generate a synthetic re-identification dataset in the Market-1501 layout")
        {
            output, ids, cameras, seed, perCamera, height, width,
        };
        command.SetAction(r => Program.Guard(() => Run(r.GetValue(output)!, r.GetValue(ids), r.GetValue(cameras), r.GetValue(seed),
            r.GetValue(perCamera), r.GetValue(height), r.GetValue(width))));
        return command;
    }

    private static int Run(string output, int ids, int cameras, int seed, int perCamera, int height, int width)
    {
        if (ids < 2) throw new CliException($"--ids {ids} must be at least 2");
        if (cameras is < 2 or > 9) throw new CliException($"--cameras {cameras} must be in 2..9 (Market file names have one camera digit)");
        if (perCamera < 2) throw new CliException($"--images-per-camera {perCamera} must be at least 2");
        if (height < 32) throw new CliException($"--height {height} must be at least 32");
        if (width < 16) throw new CliException($"--width {width} must be at least 16");
        if (File.Exists(output)) throw new CliException($"--out '{output}' is a file");
        var dataset = SyntheticDataset.Generate(output, ids, cameras, seed, perCamera, height, width);
        System.Console.Out.Write(dataset.Describe());
        Program.Status(string.Create(CultureInfo.InvariantCulture,
            $"[green]wrote[/] {dataset.Train.ImageCount + dataset.Query.ImageCount + dataset.Gallery.ImageCount} images ({height}×{width}) to {Markup.Escape(Path.GetFullPath(output))}"));
        return 0;
    }
}
