using System;
using System.IO;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;
using TransReID.Tests.IO;
using TransReID.Tests.Model;

namespace TransReID.Tests.Cli;

/// <summary><c>transreid convert</c>, <c>--weights X.pth</c> and <c>train --pretrained</c> on the tiny-demo preset.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class ConvertCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _weights = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_jpm_sie", "weights.safetensors");

    public void Dispose() => _dir.Dispose();

    /// <summary>A timm-style ImageNet state dict for tiny-demo's backbone: 4×4 position grid, a 10-class head.</summary>
    private string ImageNetPth()
    {
        var rng = new Rng(42);
        float[] Random(long n, double scale) => Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextGaussian() * scale)).ToArray();
        var tensors = TinyJpmSie.Parameters
            .Where(p => p.Name.StartsWith("base.", StringComparison.Ordinal) && !p.Name.Contains("sie", StringComparison.Ordinal)
                && !p.Name.StartsWith("base.fc", StringComparison.Ordinal) && p.Name != "base.pos_embed")
            .Select(p => (p.Name["base.".Length..], Random(p.Count, 0.1), p.Shape))
            .Append(("pos_embed", Random(17 * 48, 0.5), [1, 17, 48]))
            .Append(("head.weight", Random(480, 0.1), [10, 48]))
            .Append(("head.bias", Random(10, 0.1), [10]));
        string path = _dir.File("vit_tiny_imagenet.pth");
        TorchZipWriter.Save(path, tensors);
        return path;
    }

    [Fact]
    public void Convert_an_ImageNet_pth_then_load_the_safetensors()
    {
        string input = ImageNetPth();
        string output = _dir.File("init.safetensors");
        var (code, stdout, err) = CliTests.Run("convert", "--preset", "tiny-demo", "--input", input, "--output", output, "--seed", "3");
        Assert.True(code == 0, err);
        Assert.Contains("ImageNet backbone", stdout, StringComparison.Ordinal);
        Assert.Contains("resized", stdout, StringComparison.Ordinal);
        Assert.Contains("4×4 grid", stdout, StringComparison.Ordinal);
        Assert.Contains("head.weight", stdout, StringComparison.Ordinal);
        Assert.Contains("initialised", stdout, StringComparison.Ordinal);
        Assert.Contains("base.sie_embed", stdout, StringComparison.Ordinal);

        // the preset's own class (30 classes; the fixture model TinyJpmSie has 5, so its scratch classifiers differ)
        using var direct = TransReID.Cli.Presets.TinyDemo.Create(Device.Cpu, 0);
        direct.LoadPretrained(input, 3);
        using var converted = TransReID.Cli.Presets.TinyDemo.Create(Device.Cpu, 0);
        converted.Load(output);
        foreach (var p in TransReID.Cli.Presets.TinyDemo.Parameters) Assert.Equal(direct.Parameter(p.Name), converted.Parameter(p.Name));
    }

    [Fact]
    public void A_TransReID_pth_converts_and_is_accepted_as_weights()
    {
        using var reference = TinyJpmSie.Create(Device.Cpu, 0);
        reference.Load(_weights);
        string pth = _dir.File("transreid_120.pth");
        TorchZipWriter.Save(pth, TinyJpmSie.Parameters.Select(p => ("module." + p.Name, reference.Parameter(p.Name), p.Shape)));

        string output = _dir.File("converted.safetensors");
        var (code, stdout, err) = CliTests.Run("convert", "--preset", "tiny-demo", "--input", pth, "--output", output);
        Assert.True(code == 0, err);
        Assert.Contains("TransReID state dict", stdout, StringComparison.Ordinal);
        using (var file = SafetensorsFile.Open(output))
            Assert.Equal(reference.Parameter("b2.0.attn.qkv.weight"), file.ReadF32("b2.0.attn.qkv.weight"));

        // --weights X.pth wherever --weights is: the embeddings equal those of the safetensors weights
        string images = _dir.File("images");
        Directory.CreateDirectory(images);
        foreach (var name in new[] { "0001_c1s1_000001_01.png", "0002_c3s1_000002_01.png" })
        {
            using var img = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(32, 64);
            img[3, 5] = new SixLabors.ImageSharp.PixelFormats.Rgb24(200, 10, 90);
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(img, Path.Combine(images, name));
        }

        string a = _dir.File("a.safetensors"), b = _dir.File("b.safetensors");
        (code, _, err) = CliTests.Run("embed", "--preset", "tiny-demo", "--weights", pth, "--images", images, "--output", a, "--device", "cpu");
        Assert.True(code == 0, err);
        (code, _, err) = CliTests.Run("embed", "--preset", "tiny-demo", "--weights", _weights, "--images", images, "--output", b, "--device", "cpu");
        Assert.True(code == 0, err);
        using var fa = SafetensorsFile.Open(a);
        using var fb = SafetensorsFile.Open(b);
        Assert.Equal(fb.ReadF32("embeddings"), fa.ReadF32("embeddings"));
    }

    [Theory]
    [InlineData("forbidden_global.pth", "argparse.Namespace")]
    [InlineData("past_storage.pth", "past the end of its storage")]
    public void Bad_checkpoints_exit_2_with_one_error_line(string name, string fragment)
    {
        var (code, _, err) = CliTests.Run("convert", "--preset", "tiny-demo", "--input", PthFixtures.File(name), "--output", _dir.File("x.safetensors"));
        Assert.Equal(2, code);
        string line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: PyTorch checkpoint '", line, StringComparison.Ordinal);
        Assert.Contains(fragment, line, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("x.safetensors")));
    }

    [Fact]
    public void Weights_that_are_neither_kind_exit_2()
    {
        var (code, _, err) = CliTests.Run("convert", "--preset", "tiny-demo", "--input", PthFixtures.File("tensors_zip.pth"), "--output", _dir.File("x.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("are neither a TransReID state dict", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_starts_from_an_ImageNet_pth()
    {
        string data = _dir.File("synth");
        var (code, _, err) = CliTests.Run("synth", "--out", data, "--ids", "10", "--cameras", "3", "--images-per-camera", "2", "--height", "64", "--width", "32");
        Assert.True(code == 0, err);
        string run = _dir.File("run");
        (code, _, err) = CliTests.Run("train", "--preset", "tiny-demo", "--data", data, "--out", run, "--epochs", "1", "--batch", "8", "--device", "cpu",
            "--progress", "none", "--pretrained", ImageNetPth(), "--seed", "5");
        Assert.True(code == 0, err);
        Assert.Contains("ImageNet initialisation", err, StringComparison.Ordinal);
        Assert.Contains("1 resized", err, StringComparison.Ordinal);

        (code, _, err) = CliTests.Run("train", "--preset", "tiny-demo", "--data", data, "--out", _dir.File("run2"), "--epochs", "1", "--batch", "8", "--device", "cpu",
            "--pretrained", ImageNetPth(), "--init", _weights);
        Assert.Equal(2, code);
        Assert.Contains("--pretrained and --init exclude each other", err, StringComparison.Ordinal);
    }
}
