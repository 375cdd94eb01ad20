using System;
using System.IO;
using System.Text.Json;

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
