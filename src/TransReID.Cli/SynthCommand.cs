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
        var output = new Option<string>("--output", "--out") { Description = "Dataset folder to create (bounding_box_train/, query/, bounding_box_test/)", Required = true };
        var ids = new Option<int>("--ids") { Description = "Identities; the first half (rounded up) is the train split (default 60: the 30 classes of tiny-demo)", DefaultValueFactory = _ => 60 };
        var cameras = new Option<int>("--cameras") { Description = "Cameras, 2..9 (default 3: tiny-demo's camera table)", DefaultValueFactory = _ => 3 };
        var seed = CliOptions.Seed("Seed (the same arguments give byte-identical files)", 1);
        var perCamera = new Option<int>("--images-per-camera") { Description = "Images of each identity in each camera, at least 2", DefaultValueFactory = _ => 5 };
        var height = new Option<int>("--height") { Description = "Image height, at least 32", DefaultValueFactory = _ => 128 };
        var width = new Option<int>("--width") { Description = "Image width, at least 16", DefaultValueFactory = _ => 64 };
        var force = new Option<bool>("--force") { Description = "Empty the folder first when it holds an earlier synth dataset (never a folder synth did not write)" };
        var command = new Command("synth", "Generate a synthetic re-identification dataset in the Market-1501 layout")
        {
            output, ids, cameras, seed, perCamera, height, width, force,
        };
        command.SetAction(r => Program.Guard(() => Run(r.GetValue(output)!, r.GetValue(ids), r.GetValue(cameras), r.GetValue(seed),
            r.GetValue(perCamera), r.GetValue(height), r.GetValue(width), r.GetValue(force))));
        return command;
    }

    /// <summary>The file synth writes at the top of its folder; <c>--force</c> only empties folders that have it.</summary>
    internal const string MarkerFile = "transreid-synth.json";

    private static readonly string[] s_entries = ["bounding_box_train", "query", "bounding_box_test", MarkerFile];

    private static int Run(string output, int ids, int cameras, int seed, int perCamera, int height, int width, bool force)
    {
        if (ids < 2) throw new CliException($"--ids {ids} must be at least 2");
        if (cameras is < 2 or > 9) throw new CliException($"--cameras {cameras} must be in 2..9 (Market file names have one camera digit)");
        if (perCamera < 2) throw new CliException($"--images-per-camera {perCamera} must be at least 2");
        if (height < 32) throw new CliException($"--height {height} must be at least 32");
        if (width < 16) throw new CliException($"--width {width} must be at least 16");
        if (File.Exists(output)) throw new CliException($"the output folder '{output}' is a file");
        PrepareFolder(output, force);
        var dataset = SyntheticDataset.Generate(output, ids, cameras, seed, perCamera, height, width);
        File.WriteAllText(Path.Combine(output, MarkerFile), string.Create(CultureInfo.InvariantCulture,
            $"{{\"format\": \"transreid-synth\", \"ids\": {ids}, \"cameras\": {cameras}, \"seed\": {seed}, \"images_per_camera\": {perCamera}, \"height\": {height}, \"width\": {width}}}\n"));
        System.Console.Out.Write(dataset.Describe());
        Program.Status(string.Create(CultureInfo.InvariantCulture,
            $"[green]wrote[/] {dataset.Train.ImageCount + dataset.Query.ImageCount + dataset.Gallery.ImageCount} images ({height}×{width}) to {Markup.Escape(Path.GetFullPath(output))}"));
        return 0;
    }

    /// <summary>
    /// A non-empty folder is refused (old and new images would mix: identities in train and test) unless
    /// <paramref name="force"/>; then it is emptied, but only when it is a synth folder: it has synth's marker and
    /// nothing but synth's entries, and it is not the file system root, the home folder or a folder above the current one.
    /// </summary>
    private static void PrepareFolder(string output, bool force)
    {
        if (!Directory.Exists(output)) return;
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        string[] entries = Directory.GetFileSystemEntries(full);
        if (entries.Length == 0) return;
        if (!force)
        {
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"the output folder '{output}' is not empty ({entries.Length} entries): old and new images would mix; use an empty folder, or --force to replace an earlier synth dataset"));
        }

        string home = Path.TrimEndingDirectorySeparator(Path.GetFullPath(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile)));
        string cwd = Path.TrimEndingDirectorySeparator(Path.GetFullPath(System.Environment.CurrentDirectory));
        bool above = string.Equals(cwd, full, System.StringComparison.Ordinal)
            || cwd.StartsWith(full + Path.DirectorySeparatorChar, System.StringComparison.Ordinal);
        if ((Path.GetPathRoot(full) is { } root && string.Equals(Path.TrimEndingDirectorySeparator(root), full, System.StringComparison.Ordinal))
            || string.Equals(full, home, System.StringComparison.Ordinal) || above)
        {
            throw new CliException($"--force refuses to empty '{full}': it is the file system root, the home folder or a folder that holds the current one");
        }

        if (!File.Exists(Path.Combine(full, MarkerFile)))
        {
            throw new CliException($"--force refuses to empty '{output}': it has no {MarkerFile}, so transreid synth did not write it; delete its contents yourself");
        }

        string? foreign = System.Array.Find(entries, e => System.Array.IndexOf(s_entries, Path.GetFileName(e)) < 0);
        if (foreign is not null)
        {
            throw new CliException($"--force refuses to empty '{output}': '{Path.GetFileName(foreign)}' is not something transreid synth writes; delete it yourself");
        }

        foreach (string entry in entries)
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }
}
