using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using TransReID.Data;

namespace TransReID.Tests.Cli;

/// <summary>
/// The README walkthrough (the fenced block after <c>&lt;!-- walkthrough --&gt;</c>) runs in-process exactly as printed,
/// at small sizes; <c>synth</c> into a non-empty folder; SIGTERM during <c>train</c>.
/// </summary>
[Collection(nameof(ConsoleCollection))]
public sealed class WalkthroughTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string RepositoryFile(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TransReID.Compiler.sln"))) return Path.Combine(d.FullName, name);
        }

        throw new FileNotFoundException("the repository root (TransReID.Compiler.sln) is not above " + AppContext.BaseDirectory);
    }

    /// <summary>The walkthrough's commands as argument lists (the launcher and comments removed).</summary>
    internal static List<string[]> WalkthroughCommands()
    {
        string[] lines = File.ReadAllLines(RepositoryFile("README.md"));
        int marker = Array.FindIndex(lines, l => l.Trim() == "<!-- walkthrough -->");
        Assert.True(marker >= 0, "README.md has no <!-- walkthrough --> marker");
        int open = Array.FindIndex(lines, marker, l => l.StartsWith("```", StringComparison.Ordinal));
        int close = Array.FindIndex(lines, open + 1, l => l.StartsWith("```", StringComparison.Ordinal));
        var commands = new List<string[]>();
        string pending = string.Empty;
        for (int i = open + 1; i < close; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf(" #", StringComparison.Ordinal);
            if (hash >= 0) line = line[..hash];
            if (line.TrimStart().StartsWith('#')) continue;
            pending += " " + line.Trim();
            if (pending.EndsWith('\\'))
            {
                pending = pending[..^1];
                continue;
            }

            var words = pending.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            pending = string.Empty;
            if (words.Count == 0) continue;
            int start = words.IndexOf("--") is int dd && dd >= 0 && words[0] == "dotnet" ? dd + 1 : words[0] == "transreid" ? 1 : -1;
            Assert.True(start > 0, "a walkthrough line is neither 'transreid …' nor 'dotnet run … -- …': " + string.Join(' ', words));
            commands.Add([.. words.Skip(start)]);
        }

        return commands;
    }

    /// <summary>Replaces the value of <paramref name="option"/> (or appends the option) in an argument list.</summary>
    private static string[] With(string[] args, string option, string value)
    {
        int i = Array.IndexOf(args, option);
        if (i < 0) return [.. args, option, value];
        string[] copy = (string[])args.Clone();
        copy[i + 1] = value;
        return copy;
    }

    [Fact]
    public void Readme_walkthrough_runs_as_printed_at_small_sizes()
    {
        var commands = WalkthroughCommands();
        Assert.Equal(["synth", "train", "eval"], commands.Select(c => c[0]));

        // the walkthrough's folders (demo/...) go under the test folder
        string Map(string arg) => arg == "demo" || arg.StartsWith("demo/", StringComparison.Ordinal) ? Path.Combine(_temp.Path, arg) : arg;

        foreach (string[] printed in commands)
        {
            string[] args = [.. printed.Select(Map)];
            args = args[0] switch
            {
                // small sizes: 8 identities (4 to train) of 2 images per camera, one epoch of 16-image batches
                "synth" => With(With(args, "--ids", "8"), "--images-per-camera", "2"),
                "train" => With(With(With(args, "--epochs", "1"), "--batch", "16"), "--device", "cpu"),
                "eval" => With(args, "--device", "cpu"),
                _ => args,
            };
            if (args[0] == "train") args = With(args, "--progress", "plain");
            var (code, stdout, err) = CliTests.Run(args);
            Assert.True(code == 0, $"'{string.Join(' ', printed)}' exited {code}: {err}");
            if (args[0] == "eval") Assert.Contains("mAP", stdout + err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Synth_defaults_fit_the_tiny_demo_preset()
    {
        string data = Path.Combine(_temp.Path, "defaults");
        var (code, _, err) = CliTests.Run("synth", "--out", data, "--images-per-camera", "2", "--height", "32", "--width", "16");
        Assert.True(code == 0, err);
        var dataset = DatasetReader.Open(data, "auto");
        var fit = TransReID.Training.DatasetFit.ForTraining(TransReID.Cli.Presets.PresetRegistry.Find("tiny-demo").Info, dataset, 8, 4);
        Assert.True(fit.Fits, string.Join("; ", fit.Errors));
        Assert.Empty(fit.Warnings);
    }

    [Fact]
    public void Unfit_batch_advice_is_in_images_and_possible()
    {
        string data = Path.Combine(_temp.Path, "few");
        Assert.Equal(0, CliTests.Run("synth", "--out", data, "--ids", "10", "--images-per-camera", "2", "--height", "32", "--width", "16").Code);
        var (code, _, err) = CliTests.Run("train", "--preset", "tiny-demo", "--data", data, "--out", Path.Combine(_temp.Path, "r"), "--epochs", "1", "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Contains("use P of at most 5 identities (a batch of at most 20 images with K = 4, e.g. --batch 20)", err, StringComparison.Ordinal);

        string two = Path.Combine(_temp.Path, "two");
        Assert.Equal(0, CliTests.Run("synth", "--out", two, "--ids", "2", "--images-per-camera", "2", "--height", "32", "--width", "16").Code);
        (code, _, err) = CliTests.Run("train", "--preset", "tiny-demo", "--data", two, "--out", Path.Combine(_temp.Path, "r2"), "--epochs", "1", "--device", "cpu", "--batch", "8");
        Assert.Equal(2, code);
        Assert.Contains("the training split has 1 identity; the triplet loss needs at least 2", err, StringComparison.Ordinal);
        Assert.DoesNotContain("at most 1 identities", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Synth_into_a_non_empty_folder_is_refused_unless_force_and_force_only_empties_synth_folders()
    {
        string data = Path.Combine(_temp.Path, "data");
        string[] small = ["--ids", "4", "--images-per-camera", "2", "--height", "32", "--width", "16"];
        Assert.Equal(0, CliTests.Run(["synth", "--out", data, .. small]).Code);
        int files = Directory.GetFiles(data, "*.jpg", SearchOption.AllDirectories).Length;

        var (code, _, err) = CliTests.Run(["synth", "--out", data, .. small, "--seed", "2"]);
        Assert.Equal(2, code);
        Assert.Contains("is not empty", err, StringComparison.Ordinal);
        Assert.Contains("--force", err, StringComparison.Ordinal);

        // invalid options are reported before anything is deleted
        (code, _, _) = CliTests.Run(["synth", "--out", data, "--ids", "1", "--force"]);
        Assert.Equal(2, code);
        Assert.Equal(files, Directory.GetFiles(data, "*.jpg", SearchOption.AllDirectories).Length);

        // --force replaces the old dataset: fewer identities now, no old image left
        (code, _, err) = CliTests.Run(["synth", "--out", data, "--ids", "2", "--images-per-camera", "2", "--height", "32", "--width", "16", "--force"]);
        Assert.True(code == 0, err);
        Assert.Equal(2 * 3 * 2, Directory.GetFiles(data, "*.jpg", SearchOption.AllDirectories).Length);

        // a folder synth did not write, or with something else in it, is never emptied
        string mine = Path.Combine(_temp.Path, "mine");
        Directory.CreateDirectory(mine);
        File.WriteAllText(Path.Combine(mine, "thesis.tex"), "precious");
        (code, _, err) = CliTests.Run(["synth", "--out", mine, .. small, "--force"]);
        Assert.Equal(2, code);
        Assert.Contains("transreid synth did not write it", err, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(data, "thesis.tex"), "precious");
        (code, _, err) = CliTests.Run(["synth", "--out", data, .. small, "--force"]);
        Assert.Equal(2, code);
        Assert.Contains("'thesis.tex' is not something transreid synth writes", err, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(mine, "thesis.tex")) && File.Exists(Path.Combine(data, "thesis.tex")));

        // nor the root or the home folder
        foreach (string dangerous in (string[])["/", Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)])
        {
            if (string.IsNullOrEmpty(dangerous) || !Directory.Exists(dangerous) || Directory.GetFileSystemEntries(dangerous).Length == 0) continue;
            (code, _, err) = CliTests.Run(["synth", "--out", dangerous, .. small, "--force"]);
            Assert.Equal(2, code);
            Assert.Contains("--force refuses to empty", err, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task Sigterm_during_train_writes_a_checkpoint_and_exits_130()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM is a POSIX signal");
        string cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "TransReID.Cli.exe" : "TransReID.Cli");
        Assert.SkipUnless(File.Exists(cli), "the CLI's app host is not next to the tests");
        string data = Path.Combine(_temp.Path, "sig-data");
        SyntheticDataset.Generate(data, ids: 8, cameras: 3, seed: 1, imagesPerIdPerCamera: 2, height: 32, width: 16);
        string run = Path.Combine(_temp.Path, "sig-run");
        var start = new ProcessStartInfo(cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["train", "--preset", "tiny-demo", "--data", data, "--out", run, "--epochs", "1000", "--batch", "16",
            "--device", "cpu", "--progress", "plain", "--checkpoint-every", "0"])
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string log = Path.Combine(run, "train-log.jsonl");
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(log) && new FileInfo(log).Length > 0) && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.False(process.HasExited, "train ended before the signal: " + (process.HasExited ? await stderr : string.Empty));
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(limit.Token);
        string err = await stderr;
        _ = await stdout;
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {err}");
        Assert.Contains("SIGTERM", err, StringComparison.Ordinal);
        var state = new TransReID.Training.CheckpointStore(run).ReadCurrent().State;
        Assert.True(state.Step >= 1, $"checkpoint at step {state.Step}");
        Assert.Equal(state.Step, TransReID.Training.TrainingLog.ReadAll(log).Last().Step);
    }
}
