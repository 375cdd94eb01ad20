using System;
using System.IO;
using System.Text.Json;
using TransReID.Cli.Presets;
using TransReID.Runtime;

namespace TransReID.Tests.Cli;

/// <summary><c>transreid bench --peer onnxruntime</c> in-process on tiny-demo (CPU); no timing assertions.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class OnnxBenchPeerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Peer_onnxruntime_prints_both_rates_and_the_ratio_and_writes_them_as_json()
    {
        string json = Path.Combine(_temp.Path, "bench.json");
        var (code, stdout, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--train-steps", "0", "--embed-batch", "3",
            "--embed-steps", "3", "--warmup", "1", "--peer", "onnxruntime", "--json", json);
        Assert.True(code == 0, err);
        Assert.Contains("ONNX Runtime 1.31.1", stdout, StringComparison.Ordinal);
        Assert.Contains("ratio (ours / ONNX Runtime, images/s)", stdout, StringComparison.Ordinal);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var peer = doc.RootElement.GetProperty("peer");
        Assert.Equal("onnxruntime", peer.GetProperty("name").GetString());
        Assert.Equal(3, peer.GetProperty("batch").GetInt32());
        Assert.Equal(3, peer.GetProperty("rounds").GetInt32());
        Assert.Equal(0, peer.GetProperty("pause_ms").GetInt32());
        Assert.Equal(3, peer.GetProperty("ours_ms").GetArrayLength());
        Assert.Equal(3, peer.GetProperty("peer_ms").GetArrayLength());
        foreach (var key in new[] { "ours_images_per_second", "peer_images_per_second", "ratio" })
            Assert.True(peer.GetProperty(key).GetDouble() > 0, key);
        Assert.True(peer.GetProperty("relative_l2").GetDouble() <= 1e-5, "the peer computes the same features");
    }

    [Fact]
    public void Peer_pause_idles_before_every_timed_call_and_is_recorded()
    {
        var (stdout, peer) = RunPeer("paused.json", "--embed-steps", "2", "--peer-pause", "40");
        Assert.Contains("40 ms idle before each call", stdout, StringComparison.Ordinal);
        Assert.Equal(40, peer.GetProperty("pause_ms").GetInt32());
        // the pause is not part of the timed calls: tiny-demo takes a few ms a call, far under the 40 ms idled before it
        foreach (var key in new[] { "ours_ms", "peer_ms" })
            foreach (var ms in peer.GetProperty(key).EnumerateArray()) Assert.True(ms.GetDouble() < 40, $"{key} {ms.GetDouble()} ms");
    }

    [Fact]
    public void Peer_runs_time_all_but_the_first_call_of_each_run_and_are_recorded()
    {
        var (stdout, peer) = RunPeer("runs.json", "--embed-steps", "3", "--peer-run", "4");
        Assert.Contains("medians of 9 calls each in 3 interleaved rounds (runs of 4, the first untimed)", stdout, StringComparison.Ordinal);
        Assert.Equal(4, peer.GetProperty("run_calls").GetInt32());
        Assert.Equal(3, peer.GetProperty("rounds").GetInt32());
        // 3 rounds x (4 - 1) timed calls per engine
        Assert.Equal(9, peer.GetProperty("ours_ms").GetArrayLength());
        Assert.Equal(9, peer.GetProperty("peer_ms").GetArrayLength());
    }

    [Theory]
    [InlineData("--peer-pause", "-1", true, "--peer-pause -1 must be 0 to 60000 ms")]
    [InlineData("--peer-pause", "10", false, "--peer-pause paces the --peer rounds")]
    [InlineData("--peer-run", "0", true, "--peer-run 0 must be 1 to 1000 calls")]
    [InlineData("--peer-run", "3", false, "--peer-run shapes the --peer rounds")]
    public void Bad_peer_round_option_is_a_user_error(string option, string value, bool withPeer, string message)
    {
        string[] args = ["bench", "--preset", "tiny-demo", "--device", "cpu", "--train-steps", "0", "--embed-batch", "2", "--embed-steps", "1",
            option, value, .. (withPeer ? (string[])["--peer", "onnxruntime"] : [])];
        var (code, _, err) = CliTests.Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tensorrt", "cpu", "--peer 'tensorrt' is not known")]
    [InlineData("onnxruntime", "cuda", "error: ")]
    public void Bad_peer_is_a_user_error(string peer, string device, string message)
    {
        var (code, _, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", device, "--train-steps", "0", "--embed-batch", "2",
            "--embed-steps", "1", "--peer", peer);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void Peer_model_times_the_official_module_exported_by_torch_and_it_gives_our_features()
    {
        // tests/reference/export_torch_onnx.py tiny-demo: the PyTorch reference of the official module (b1 over every
        // token, b2 once per part) with tiny-demo's seed-0 weights, traced by torch.onnx.export 1.13 (opset 17); made as
        // tests/reference/README.md says, again whenever the random initialisation changes
        string torch = Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", "tiny_demo_torch.onnx");
        var (stdout, peer) = RunPeer("torch.json", "--embed-steps", "2", "--peer-model", torch);
        Assert.Contains("(tiny_demo_torch.onnx)", stdout, StringComparison.Ordinal);
        Assert.Equal(torch, peer.GetProperty("model").GetString());
        Assert.Equal(2, peer.GetProperty("batch").GetInt32());
        Assert.True(peer.GetProperty("relative_l2").GetDouble() <= 1e-5, $"relative L2 {peer.GetProperty("relative_l2").GetDouble()}");
    }

    [Fact]
    public void Peer_of_our_export_records_no_model_file()
    {
        var (_, peer) = RunPeer("own.json", "--embed-steps", "1");
        Assert.Equal(JsonValueKind.Null, peer.GetProperty("model").ValueKind);
    }

    [Theory]
    [InlineData("--fixed-camera 0", "no input 'cameras' (it has 'images')")]
    [InlineData("--include-preprocessing", "input 'images' is Byte [N, 64, 32, 3], the preset needs Single [N, 3, 64, 32]")]
    public void Peer_model_without_the_presets_inputs_is_a_user_error_before_any_timing(string exportOption, string message)
    {
        string weights = Path.Combine(_temp.Path, "w.safetensors"), model = Path.Combine(_temp.Path, "other.onnx");
        using (var tiny = TinyDemo.Create(Device.Cpu, 0)) tiny.Save(weights);
        var (exported, _, exportErr) = CliTests.Run(["export", "--preset", "tiny-demo", "--weights", weights, "--output", model, .. exportOption.Split(' ')]);
        Assert.True(exported == 0, exportErr);
        var (code, stdout, err) = CliTests.Run("bench", "--preset", "tiny-demo", "--device", "cpu", "--train-steps", "0", "--embed-batch", "2",
            "--embed-steps", "1", "--peer", "onnxruntime", "--peer-model", model);
        Assert.Equal(2, code);
        Assert.Equal($"error: --peer-model {model}: {message}", err.Trim());
        Assert.DoesNotContain("median ms", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-an-onnx", true, "ONNX Runtime cannot load it")]
    [InlineData("missing", true, "no such file")]
    [InlineData("missing", false, "--peer-model is the model of the --peer rounds: give --peer onnxruntime too")]
    public void Bad_peer_model_is_a_user_error(string file, bool withPeer, string message)
    {
        string path = Path.Combine(_temp.Path, file + ".onnx");
        if (file == "not-an-onnx") File.WriteAllText(path, "not a protobuf");
        string[] args = ["bench", "--preset", "tiny-demo", "--device", "cpu", "--train-steps", "0", "--embed-batch", "2", "--embed-steps", "1",
            "--peer-model", path, .. (withPeer ? (string[])["--peer", "onnxruntime"] : [])];
        var (code, _, err) = CliTests.Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    /// <summary>bench --peer onnxruntime on tiny-demo at batch 2 without warm-up, plus <paramref name="extra"/>: stdout and the JSON's peer.</summary>
    private (string Stdout, JsonElement Peer) RunPeer(string file, params string[] extra)
    {
        string json = Path.Combine(_temp.Path, file);
        string[] args = ["bench", "--preset", "tiny-demo", "--device", "cpu", "--train-steps", "0", "--embed-batch", "2", "--warmup", "0",
            "--peer", "onnxruntime", "--json", json, .. extra];
        var (code, stdout, err) = CliTests.Run(args);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return (stdout, doc.RootElement.GetProperty("peer").Clone());
    }
}
