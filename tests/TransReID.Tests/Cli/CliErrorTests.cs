using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Cli;
using TransReID.Data;
using TransReID.Evaluation;
using TransReID.Runtime.Interop;
using TransReID.Runtime.IO;
using TransReID.Tests.IO;
using TransReID.Training;

namespace TransReID.Tests.Cli;

/// <summary>The CLI's one error policy (exit 2 for user errors, 70 and a crash log for bugs), option messages and redirected output.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class CliErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _weights = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_jpm_sie", "weights.safetensors");

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Err) Capture(Func<int> body)
    {
        var oldErr = Console.Error;
        using var e = new StringWriter();
        Console.SetError(e);
        try
        {
            return (body(), e.ToString());
        }
        finally
        {
            Console.SetError(oldErr);
        }
    }

    private string Images(string name, params string[] files)
    {
        string dir = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(dir);
        foreach (var f in files)
        {
            using var img = new Image<Rgb24>(32, 64);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 32; x++)
                    img[x, y] = new Rgb24((byte)(x * 7), (byte)(y * 3), (byte)(f.Length * 11));
            img.SaveAsPng(Path.Combine(dir, f));
        }

        return dir;
    }

    private (int Code, string Out, string Err) Embed(string images, string output, params string[] extra) =>
        CliTests.Run(["embed", "--preset", "tiny-demo", "--weights", _weights, "--images", images, "--output", output, "--device", "cpu", .. extra]);

    private static void AssertOneUserErrorLine(int code, string err, string expected)
    {
        Assert.True(code == ErrorPolicy.UserErrorExitCode, $"exit {code}: {err}");
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Contains(expected, err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", err, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", err, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", err, StringComparison.Ordinal);
    }

    public static TheoryData<string> Bugs => ["System.OverflowException", "System.ArgumentException", "System.InvalidOperationException", "System.NullReferenceException", "System.ArithmeticException"];

    [Theory]
    [MemberData(nameof(Bugs))]
    public void A_stray_exception_is_a_bug_exit_70_with_one_line_and_the_stack_trace_in_a_crash_log(string typeName)
    {
        string crashDir = Path.Combine(_dir.Path, "crash");
        string? old = Environment.GetEnvironmentVariable(ErrorPolicy.CrashDirectoryVariable);
        Environment.SetEnvironmentVariable(ErrorPolicy.CrashDirectoryVariable, crashDir);
        try
        {
            var type = typeof(object).Assembly.GetType(typeName, throwOnError: true)!;
            var (code, err) = Capture(() => Program.Guard(() => throw (Exception)Activator.CreateInstance(type, "value of 'x' went wrong")!));
            Assert.Equal(ErrorPolicy.BugExitCode, code);
            string[] lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith($"internal error: {typeName}: value of 'x' went wrong", lines[0], StringComparison.Ordinal);
            Assert.Contains("this is a bug in transreid; please report it with", lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("error: value", err, StringComparison.Ordinal); // never presented as a user error
            string log = Assert.Single(Directory.GetFiles(crashDir, "transreid-crash-*.log"));
            Assert.Contains(log, lines[0], StringComparison.Ordinal);
            string text = File.ReadAllText(log);
            Assert.Contains(typeName, text, StringComparison.Ordinal);
            Assert.Contains("   at ", text, StringComparison.Ordinal); // the stack trace
        }
        finally
        {
            Environment.SetEnvironmentVariable(ErrorPolicy.CrashDirectoryVariable, old);
        }
    }

    public static TheoryData<int> UserErrors => [0, 1, 2, 3, 4, 5, 6, 7];

    private static Exception UserError(int i) => i switch
    {
        0 => new InvalidDataException("image name 'x.jpg' is bad"),
        1 => new CheckpointException("cannot resume from 'run/checkpoint.json'"),
        2 => new CudaException("CUDA driver", "cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "cuMemAlloc_v2 failed: out of memory"),
        3 => new FileNotFoundException("Could not find file '/x.safetensors'."),
        4 => new SafetensorsException("/x.safetensors", null, "bad header"),
        5 => new ImageLoadException("/x.png", "not an image"),
        6 => new TrainingDivergedException("training diverged at epoch 1"),
        _ => new UnauthorizedAccessException("Access to the path '/x' is denied."),
    };

    [Theory]
    [MemberData(nameof(UserErrors))]
    public void Project_exceptions_for_user_mistakes_print_one_error_line_and_exit_2(int which)
    {
        var error = UserError(which);
        var (code, err) = Capture(() => Program.Guard(() => throw error));
        Assert.Equal(ErrorPolicy.UserErrorExitCode, code);
        Assert.Equal("error: " + error.Message, err.TrimEnd());
    }

    [Fact]
    public void A_stray_non_Market_file_in_a_Market_folder_is_one_error_line_naming_it()
    {
        string data = Path.Combine(_dir.Path, "market");
        SyntheticDataset.Generate(data, ids: 4, cameras: 3, seed: 1, imagesPerIdPerCamera: 2, height: 64, width: 32);
        File.Copy(Directory.GetFiles(Path.Combine(data, "bounding_box_test")).First(), Path.Combine(data, "bounding_box_test", "holiday.jpg"));
        var (code, _, err) = CliTests.Run("eval", "--preset", "tiny-demo", "--weights", _weights, "--data", data, "--device", "cpu");
        AssertOneUserErrorLine(code, err, "holiday.jpg");
    }

    [Fact]
    public void A_value_that_is_not_a_number_names_the_option_not_a_dotnet_type()
    {
        string dir = Images("abc", "0001_c1s1_000001_01.png");
        var (code, _, err) = Embed(dir, Path.Combine(_dir.Path, "e.safetensors"), "--camera", "abc");
        AssertOneUserErrorLine(code, err, "error: --camera: 'abc' is not an integer");
        Assert.DoesNotContain("Nullable", err, StringComparison.Ordinal);

        (code, _, err) = CliTests.Run("eval", "--preset", "tiny-demo", "--weights", _weights, "--data", dir, "--lambda", "half");
        AssertOneUserErrorLine(code, err, "error: --lambda: 'half' is not a number");
    }

    [Fact]
    public void An_unknown_device_is_a_user_error_naming_the_option()
    {
        string dir = Images("dev", "0001_c1s1_000001_01.png");
        var (code, _, err) = CliTests.Run("embed", "--preset", "tiny-demo", "--weights", _weights, "--images", dir, "--output", Path.Combine(_dir.Path, "e.safetensors"), "--device", "tpu");
        AssertOneUserErrorLine(code, err, "--device tpu: unknown device 'tpu'");
    }

    [Fact]
    public void An_unknown_dataset_kind_is_a_user_error_naming_the_option()
    {
        var (code, _, err) = CliTests.Run("eval", "--preset", "tiny-demo", "--weights", _weights, "--data", _dir.Path, "--dataset", "imagenet", "--device", "cpu");
        AssertOneUserErrorLine(code, err, "--dataset imagenet: unknown dataset kind 'imagenet'");
    }

    [Fact]
    public void Embed_refuses_an_output_that_is_an_input_image_or_an_image_in_the_folder()
    {
        string dir = Images("overwrite", "0001_c1s1_000001_01.png", "0002_c2s1_000001_01.png");
        string input = Path.Combine(dir, "0001_c1s1_000001_01.png");
        byte[] before = File.ReadAllBytes(input);
        var (code, _, err) = Embed(dir, input);
        AssertOneUserErrorLine(code, err, "is one of the input images");
        Assert.Equal(before, File.ReadAllBytes(input));

        string newImage = Path.Combine(dir, "embeddings.jpg");
        (code, _, err) = Embed(dir, newImage);
        AssertOneUserErrorLine(code, err, "is an image file name inside the --images folder");
        Assert.False(File.Exists(newImage));

        (code, _, err) = Embed(dir, Path.Combine(dir, "embeddings.safetensors")); // a non-image output next to the inputs is fine
        Assert.True(code == 0, err);
    }

    [Fact]
    public void A_c0_file_name_says_cameras_are_1_based()
    {
        string dir = Images("c0", "0001_c0s1_000001_01.png");
        var (code, _, err) = Embed(dir, Path.Combine(_dir.Path, "e.safetensors"));
        AssertOneUserErrorLine(code, err, "names camera 0 (c0), which is not a valid Market camera: cameras are 1-based, c1..c3");
        Assert.DoesNotContain("has no camera in its name", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_view_for_a_model_without_views_is_an_error()
    {
        string dir = Images("view", "0001_c1s1_000001_01.png");
        var (code, _, err) = Embed(dir, Path.Combine(_dir.Path, "e.safetensors"), "--view", "1");
        AssertOneUserErrorLine(code, err, "--view 1: the model");
        Assert.Contains("has no view side information", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_too_large_for_memory_says_what_it_needs()
    {
        string dir = Images("batch", "0001_c1s1_000001_01.png");
        var (code, _, err) = Embed(dir, Path.Combine(_dir.Path, "e.safetensors"), "--batch", "400000");
        AssertOneUserErrorLine(code, err, "--batch 400000 is too large: 400000 images of 3×64×32 need 2457600000 floats");
        Assert.DoesNotContain("Arithmetic operation", err, StringComparison.Ordinal);

        (code, _, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--embed-batch", "400000", "--train-steps", "0");
        AssertOneUserErrorLine(code, err, "--embed-batch 400000 is too large");
    }

    [Fact]
    public void Rerank_defaults_are_TransReIDs_in_the_library_and_the_cli()
    {
        Assert.Equal(new ReRankingOptions(), ReRankingOptions.TransReID);
        Assert.Equal(new ReRankingOptions(50, 15, 0.3), ReRankingOptions.TransReID);
        Assert.Equal(ReRankingOptions.TransReID, ReRankingOptions.Presets[0].Value);
        Assert.Equal(new EvaluationOptions().ReRanking, ReRankingOptions.TransReID);
        Assert.Equal(new TrainerOptions { OutputDirectory = "run" }.ReRanking, ReRankingOptions.TransReID);
        Assert.Equal(ReRankingOptions.TransReID, EvalCommand.ReRankingFrom("transreid", null, null, null));
        Assert.Equal(new ReRankingOptions(20, 6, 0.3), EvalCommand.ReRankingFrom("zhong2017", null, null, null));
        Assert.Equal(new ReRankingOptions(20, 9, 0.3), EvalCommand.ReRankingFrom("zhong2017", null, 9, null));

        var (code, stdout, _) = CliTests.Run("eval", "--help");
        Assert.Equal(0, code);
        Assert.Contains("transreid (k1 50, k2 15, λ 0.3), zhong2017 (k1 20, k2 6, λ 0.3)", stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);
    }

    /// <summary>The CLI as a child process with stdout and stderr redirected (to pipes), TERM claiming a colour terminal.</summary>
    private static (int Code, string Out, string Err) RunRedirected(string[] args, params (string Name, string? Value)[] env)
    {
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "TransReID.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["TERM"] = "xterm-256color";
        start.Environment.Remove("NO_COLOR");
        start.Environment.Remove("FORCE_COLOR");
        foreach (var (name, value) in env) start.Environment[name] = value;
        return ChildProcess.Run(start);
    }

    [Fact]
    public void Redirected_output_has_no_escape_codes_and_no_wrap_unless_colour_is_forced()
    {
        string dir = Images("redirect", "0001_c1s1_000001_01.png", "0002_c2s1_000001_01.png");
        string output = Path.Combine(_dir.Path, "a-long-folder-name-so-that-the-status-line-is-longer-than-eighty-columns", "embeddings.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string[] embed = ["embed", "--preset", "tiny-demo", "--weights", _weights, "--images", dir, "--output", output, "--device", "cpu"];

        var (code, stdout, stderr) = RunRedirected(embed);
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain('\u001b', stderr);
        Assert.Contains($"to {output} (", stderr, StringComparison.Ordinal); // one line, not folded at 80 columns
        (code, stdout, stderr) = RunRedirected(["presets"]);
        Assert.Equal(0, code);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.Contains("tiny-demo", stdout, StringComparison.Ordinal);

        (code, _, stderr) = RunRedirected([.. embed, "--color", "always"]);
        Assert.True(code == 0, stderr);
        Assert.Contains('\u001b', stderr);
        (code, _, stderr) = RunRedirected(embed, ("FORCE_COLOR", "1"));
        Assert.True(code == 0, stderr);
        Assert.Contains('\u001b', stderr);
        (code, _, stderr) = RunRedirected(embed, ("FORCE_COLOR", "1"), ("NO_COLOR", "1"));
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain('\u001b', stderr);
    }
}
