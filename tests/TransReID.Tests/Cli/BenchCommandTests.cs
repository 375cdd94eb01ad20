using System;
using System.Globalization;
using System.IO;
using System.Text.Json;
using TransReID.Runtime.Cuda;

namespace TransReID.Tests.Cli;

/// <summary><c>transreid bench</c> in-process on the tiny-demo preset (CPU); no timing assertions.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static void AssertPositive(JsonElement phase, string key)
    {
        double v = phase.GetProperty(key).GetDouble();
        Assert.True(double.IsFinite(v) && v > 0, $"{phase.GetProperty("call").GetString()}.{key} = {v.ToString(CultureInfo.InvariantCulture)}");
    }

    private static void AssertPhase(JsonElement phase, string call, int batch, int warmup, int steps)
    {
        Assert.Equal(call, phase.GetProperty("call").GetString());
        Assert.Equal(batch, phase.GetProperty("batch").GetInt32());
        Assert.Equal(warmup, phase.GetProperty("warmup").GetInt32());
        Assert.Equal(steps, phase.GetProperty("steps").GetInt32());
        var times = phase.GetProperty("times_ms");
        Assert.Equal(steps, times.GetArrayLength());
        foreach (var t in times.EnumerateArray()) Assert.True(double.IsFinite(t.GetDouble()) && t.GetDouble() > 0, $"{call} time {t}");
        foreach (var key in new[] { "median_ms", "min_ms", "max_ms", "images_per_second", "flops_per_image", "flops_per_second" }) AssertPositive(phase, key);
        Assert.True(phase.GetProperty("peak_memory_bytes").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Null, phase.GetProperty("fraction_of_peak").ValueKind); // CPU: no device peak
        Assert.True(phase.GetProperty("min_ms").GetDouble() <= phase.GetProperty("median_ms").GetDouble());
        Assert.True(phase.GetProperty("median_ms").GetDouble() <= phase.GetProperty("max_ms").GetDouble());
    }

    [Fact]
    public void Bench_on_the_cpu_writes_every_number_as_json()
    {
        string json = Path.Combine(_temp.Path, "bench.json");
        var (code, stdout, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--batch", "8", "--embed-batch", "4",
            "--steps", "2", "--warmup", "1", "--json", json);
        Assert.True(code == 0, err);
        Assert.Contains("TrainStep", stdout, StringComparison.Ordinal);
        Assert.Contains("Embed", stdout, StringComparison.Ordinal);
        Assert.Contains("3x forward", stdout, StringComparison.Ordinal);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("tiny-demo", root.GetProperty("preset").GetString());
        Assert.Equal("cpu", root.GetProperty("device").GetString());
        Assert.StartsWith("CPU", root.GetProperty("backend").GetString(), StringComparison.Ordinal);
        Assert.Equal("fp32", root.GetProperty("precision").GetString());
        Assert.Equal(Environment.ProcessorCount, root.GetProperty("machine").GetProperty("processor_count").GetInt32());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("machine").GetProperty("os").GetString()));
        var date = DateTime.Parse(root.GetProperty("date").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        Assert.True(Math.Abs((DateTime.UtcNow - date).TotalHours) < 1, $"date {date:O}");
        Assert.True(root.GetProperty("forward_flops_per_image").GetDouble() > 0);

        var train = root.GetProperty("train");
        AssertPhase(train, "TrainStep", 8, 1, 2);
        Assert.Equal(3 * root.GetProperty("forward_flops_per_image").GetDouble(), train.GetProperty("flops_per_image").GetDouble());
        AssertPositive(train, "first_loss");
        AssertPositive(train, "last_loss");
        AssertPhase(root.GetProperty("embed"), "Embed", 4, 1, 2);
        Assert.True(root.GetProperty("memory").GetProperty("process_peak_working_set_bytes").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("device_peak").ValueKind);
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp"));
    }

    [Fact]
    public void Train_steps_0_measures_only_embed()
    {
        string json = Path.Combine(_temp.Path, "embed.json");
        var (code, _, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--embed-batch", "3", "--steps", "2",
            "--train-steps", "0", "--embed-steps", "3", "--warmup", "0", "--json", json);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("train").ValueKind);
        AssertPhase(doc.RootElement.GetProperty("embed"), "Embed", 3, 0, 3);
    }

    [Theory]
    [InlineData("--batch 0 must be at least 1", new[] { "--batch", "0" })]
    [InlineData("--batch 6 must be a multiple of K = 4", new[] { "--batch", "6" })]
    [InlineData("--embed-batch 0", new[] { "--embed-batch", "0" })]
    [InlineData("--steps -1", new[] { "--steps", "-1" })]
    [InlineData("--embed-steps/--steps -2", new[] { "--embed-steps", "-2" })]
    [InlineData("nothing to measure", new[] { "--train-steps", "0", "--embed-steps", "0" })]
    [InlineData("--warmup -1", new[] { "--warmup", "-1" })]
    [InlineData("--precision tf32 needs a CUDA device", new[] { "--precision", "tf32" })]
    [InlineData("--precision bf16 is not implemented yet", new[] { "--precision", "bf16" })]
    [InlineData("--precision 'fp8' is not fp32, tf32 or bf16", new[] { "--precision", "fp8" })]
    [InlineData("--device cuda:99: CUDA device 99 is not usable", new[] { "--device", "cuda:99" })]
    [InlineData("--device tpu: unknown device 'tpu'", new[] { "--device", "tpu" })]
    [InlineData("unknown preset 'nope'", new[] { "--preset", "nope" })]
    public void Bad_options_exit_2_with_one_error_line_naming_the_option(string expected, string[] options)
    {
        // defaults of a valid run, each replaced where the case gives the option (an option given twice is a parse error)
        var args = new System.Collections.Generic.List<string> { "bench" };
        string[] defaults = ["--preset", "tiny-demo", "--device", "cpu", "--steps", "1", "--warmup", "0"];
        for (int i = 0; i < defaults.Length; i += 2)
        {
            if (Array.IndexOf(options, defaults[i]) < 0) args.AddRange([defaults[i], defaults[i + 1]]);
        }

        args.AddRange(options);
        var (code, stdout, err) = CliTests.Run([.. args]);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Contains(expected, err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public void A_json_file_in_a_missing_directory_is_refused_before_measuring()
    {
        string json = Path.Combine(_temp.Path, "missing", "bench.json");
        var (code, stdout, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--steps", "1", "--json", json);
        Assert.Equal(2, code);
        Assert.Contains("--json", err, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public void Device_peaks_match_the_datasheets()
    {
        // H100 SXM: 132 SMs, 1.98 GHz peak SM clock: fp32 66.9 TFLOP/s; NVIDIA's dense TF32 494.7 is at 1.83 GHz
        Assert.Equal(66.9e12, DevicePeak.From(90, 132, 1_980_000).Fp32FlopsPerSecond!.Value, 0.05e12);
        Assert.Equal(494.7e12, DevicePeak.From(90, 132, 1_830_000).Tf32FlopsPerSecond!.Value, 0.1e12);
        // A100 SXM: 108 SMs, 1.41 GHz: fp32 19.5, dense TF32 156 TFLOP/s
        var a100 = DevicePeak.From(80, 108, 1_410_000);
        Assert.Equal(19.5e12, a100.Fp32FlopsPerSecond!.Value, 0.05e12);
        Assert.Equal(156e12, a100.Tf32FlopsPerSecond!.Value, 0.2e12);
        Assert.Equal(a100.Tf32FlopsPerSecond, a100.FlopsPerSecond(tf32: true));
        // unknown architectures have no peak rather than a guessed one
        var old = DevicePeak.From(50, 16, 1_000_000);
        Assert.Null(old.Fp32FlopsPerSecond);
        Assert.Null(old.FlopsPerSecond(tf32: true));
    }
}
