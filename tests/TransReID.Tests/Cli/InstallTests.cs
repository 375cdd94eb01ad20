using System;
using System.Diagnostics;
using System.IO;
using TransReID.Tests.IO;

namespace TransReID.Tests.Cli;

/// <summary><c>./build.sh install PREFIX</c> publishes the CLI and a <c>transreid</c> wrapper that runs (about a minute: a publish).</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class InstallTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "build.sh")) && File.Exists(Path.Combine(d.FullName, "TransReID.Compiler.sln"))) return d.FullName;
        }

        throw new InvalidOperationException($"no repository root (build.sh) above {AppContext.BaseDirectory}");
    }

    private static (int Code, string Out, string Err) Run(string file, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory };
        foreach (var a in args) start.ArgumentList.Add(a);
        return ChildProcess.Run(start);
    }

    [Fact]
    public void Install_into_a_prefix_gives_a_transreid_command_that_runs_and_reinstalls_in_place()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("build.sh is a bash script");
        string root = RepositoryRoot();
        string prefix = Path.Combine(_dir.Path, "prefix with space");
        var (code, stdout, err) = Run("bash", root, "build.sh", "install", prefix);
        Assert.True(code == 0, stdout + err);
        string command = Path.Combine(prefix, "bin", "transreid");
        Assert.True(File.Exists(command), stdout + err);
        Assert.True(File.Exists(Path.Combine(prefix, "lib", "transreid", "TransReID.Cli.dll")));

        (code, stdout, err) = Run(command, _dir.Path, "presets");
        Assert.True(code == 0, err);
        Assert.Contains("tiny-demo", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', stdout);

        (code, _, err) = Run(command, _dir.Path, "embed", "--camera", "abc");
        Assert.Equal(2, code);
        Assert.Contains("error: --camera: 'abc' is not an integer", err, StringComparison.Ordinal);

        // again: idempotent, and nothing is left beside the install
        (code, stdout, err) = Run("bash", root, "build.sh", "install", prefix);
        Assert.True(code == 0, stdout + err);
        Assert.Equal(["transreid"], Array.ConvertAll(Directory.GetFileSystemEntries(Path.Combine(prefix, "lib")), p => Path.GetFileName(p)));
        Assert.Equal(["transreid"], Array.ConvertAll(Directory.GetFileSystemEntries(Path.Combine(prefix, "bin")), p => Path.GetFileName(p)));
        Assert.Equal(0, Run(command, _dir.Path, "presets").Code);
    }

    [Fact]
    public void Output_options_are_spelled_output_everywhere_and_out_still_works()
    {
        foreach (string name in (string[])["synth", "train", "eval", "embed", "convert"])
        {
            var (code, stdout, _) = CliTests.Run(name, "--help");
            Assert.Equal(0, code);
            Assert.Contains("--output", stdout, StringComparison.Ordinal);
        }

        string data = Path.Combine(_dir.Path, "data");
        var (c, _, e) = CliTests.Run("synth", "--output", data, "--ids", "4", "--cameras", "3", "--images-per-camera", "2", "--height", "32", "--width", "16");
        Assert.True(c == 0, e);
        string old = Path.Combine(_dir.Path, "old");
        (c, _, e) = CliTests.Run("synth", "--out", old, "--ids", "4", "--cameras", "3", "--images-per-camera", "2", "--height", "32", "--width", "16");
        Assert.True(c == 0, e);
        Assert.Equal(Directory.GetFiles(data, "*", SearchOption.AllDirectories).Length, Directory.GetFiles(old, "*", SearchOption.AllDirectories).Length);
    }
}
