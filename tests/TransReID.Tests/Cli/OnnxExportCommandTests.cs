using System;
using System.IO;
using System.Linq;
using TransReID.Cli.Presets;
using TransReID.Runtime;
using TransReID.Tests.IO;
using TransReID.Tests.Model;
using TransReID.Tests.Onnx;

namespace TransReID.Tests.Cli;

/// <summary><c>transreid export</c> on the tiny-demo preset with the tiny_jpm_sie fixture weights.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class OnnxExportCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _weights = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_jpm_sie", "weights.safetensors");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Export_writes_a_model_that_ONNX_Runtime_runs_as_Embed()
    {
        string output = _dir.File("tiny.onnx");
        var (code, _, err) = CliTests.Run("export", "--preset", "tiny-demo", "--weights", _weights, "--output", output);
        Assert.True(code == 0, err);
        Assert.Contains("wrote", err, StringComparison.Ordinal);
        Assert.Contains("cameras int64 [N]", err, StringComparison.Ordinal);

        using var model = TinyDemo.Create(Device.Cpu, 0);
        model.Load(_weights);
        using var session = OnnxTestKit.Open(output);
        Assert.Equal("tiny-demo", session.ModelMetadata.CustomMetadataMap["transreid.preset"]);
        var info = model.Info;
        float[] images = OnnxTestKit.Images(info, 4, 1);
        int[] cameras = [0, 1, 2, 1];
        var embed = new float[4 * info.FeatureDim];
        model.Embed(images, cameras, [], embed);
        float[] onnx = OnnxTestKit.RunModel(session, info, images, cameras, []);
        Assert.True(Fixture.RelativeL2(onnx, embed) <= 1e-5, $"relative L2 {Fixture.RelativeL2(onnx, embed):E3}");
    }

    [Fact]
    public void Fixed_camera_and_preprocessing_options_reach_the_graph()
    {
        string output = _dir.File("fixed.onnx");
        var (code, _, err) = CliTests.Run("export", "--preset", "tiny-demo", "--weights", _weights, "--output", output,
            "--fixed-camera", "1", "--include-preprocessing", "--opset", "18");
        Assert.True(code == 0, err);
        using var session = OnnxTestKit.Open(output);
        Assert.Equal(["images"], session.InputNames);
        Assert.Equal(typeof(byte), session.InputMetadata["images"].ElementType);
        var map = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("1", map["transreid.fixed_camera"]);
        Assert.Equal("18", map["transreid.opset"]);
        Assert.Equal("inside", map["transreid.preprocessing"]);
    }

    [Theory]
    [InlineData("--opset 16", "--opset 16 is not supported")]
    [InlineData("--fixed-camera 3", "--fixed-camera 3 is out of range")]
    [InlineData("--fixed-camera -1", "--fixed-camera -1 is out of range")]
    [InlineData("--fixed-view 0", "--fixed-view 0: the model")]
    public void Bad_options_are_one_error_line_and_exit_2(string extra, string message)
    {
        string output = _dir.File("bad.onnx");
        var args = new[] { "export", "--preset", "tiny-demo", "--weights", _weights, "--output", output }.Concat(extra.Split(' ')).ToArray();
        var (code, _, err) = CliTests.Run(args);
        Assert.Equal(2, code);
        string line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Missing_weights_or_output_folder_are_user_errors()
    {
        var (code, _, err) = CliTests.Run("export", "--preset", "tiny-demo", "--weights", _dir.File("none.safetensors"), "--output", _dir.File("m.onnx"));
        Assert.Equal(2, code);
        Assert.Contains("does not exist", err, StringComparison.Ordinal);
        (code, _, err) = CliTests.Run("export", "--preset", "tiny-demo", "--weights", _weights, "--output", Path.Combine(_dir.Path, "no", "m.onnx"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
    }
}
