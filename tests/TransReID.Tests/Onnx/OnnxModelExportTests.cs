using System;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using TransReID.Cli.Presets;
using TransReID.Runtime;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;
using TransReID.Tests.IO;
using TransReID.Tests.Model;
using Xunit;

namespace TransReID.Tests.Onnx;

/// <summary>
/// Whole models exported to ONNX and run by ONNX Runtime (all graph optimisations) against our <c>Embed</c> on the
/// same weights and inputs: relative L2 ≤ 1e-5 at batch 1, 7 and 32, over SIE (camera, view, both, none), JPM
/// (rearranged, raster, off) and NeckFeature Before/After; and against the PyTorch reference's fixtures directly.
/// </summary>
public class OnnxModelExportTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    public static TheoryData<string> Tiny => new() { "tiny_jpm_sie", "tiny_base", "tiny_view_odd", "onnx_view_raster", "onnx_camera_plain", "tiny_demo" };

    internal static ITransReIDModel Create(string name, int seed = 3)
    {
        ITransReIDModel model = name switch
        {
            "tiny_jpm_sie" => TinyJpmSie.Create(Device.Cpu, seed),         // camera SIE, JPM, Before
            "tiny_base" => TinyBase.Create(Device.Cpu, seed),              // no SIE, no JPM, After
            "tiny_view_odd" => TinyViewOdd.Create(Device.Cpu, seed),       // camera × view SIE, JPM (odd N), After, no qkv bias
            "onnx_view_raster" => OnnxViewRaster.Create(Device.Cpu, seed), // view SIE, JPM in raster order, Before
            "onnx_camera_plain" => OnnxCameraPlain.Create(Device.Cpu, seed), // camera SIE, no JPM, Before
            "tiny_demo" => TinyDemo.Create(Device.Cpu, seed),              // the CLI's tiny preset
            _ => throw new ArgumentException(name),
        };
        OnnxTestKit.Randomize(model, seed + 100);
        return model;
    }

    [Theory]
    [MemberData(nameof(Tiny))]
    public void Onnx_runtime_equals_Embed_at_batch_1_7_32(string name)
    {
        using var model = Create(name);
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file);
        using var session = OnnxTestKit.Open(file);
        foreach (int batch in new[] { 1, 7, 32 })
            AssertSame(model, session, batch, seed: batch, name);
    }

    [Fact]
    public void Market_stride_with_random_weights_equals_Embed_at_batch_1_7_32()
    {
        // ViT-B/16, stride 12, camera SIE, JPM: batch 32 takes about 6 s in Embed and 8 s in ONNX Runtime on 2 cores
        using var model = MarketVitTransReIDStride.Create(Device.Cpu, 5);
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file, new OnnxExportOptions { Preset = "market-vit-transreid-stride" });
        using var session = OnnxTestKit.Open(file);
        Assert.Equal("market-vit-transreid-stride", session.ModelMetadata.CustomMetadataMap["transreid.preset"]);
        foreach (int batch in new[] { 1, 7, 32 })
            AssertSame(model, session, batch, seed: batch, "market-vit-transreid-stride");
    }

    /// <summary>
    /// The PyTorch reference's own fixtures (tests/reference: weights, inputs and the float64 embeddings of the
    /// official module structure): ONNX Runtime on the export of those weights gives the reference's embeddings to the
    /// export's bound, float32 against float64 (measured 1.4e-7 to 2.9e-7).
    /// </summary>
    [Theory]
    [MemberData(nameof(FixtureParityTests.Names), MemberType = typeof(FixtureParityTests))]
    public void Export_of_the_reference_weights_gives_the_reference_embeddings(string name)
    {
        using var fx = Fixture.Open(name);
        using var model = FixtureParityTests.Create(name);
        model.Load(fx.WeightsPath);
        AssertReference(model, fx.Images, fx.Cameras, fx.Views, fx.Expected.ReadF32("embeddings"), name);
    }

    /// <summary>
    /// A TransReID checkpoint as the official code saves it (a DDP state dict in torch.save's zip container,
    /// tests/reference/make_pth_fixtures.py): loaded, exported, and run by ONNX Runtime, it gives the reference's
    /// embeddings of those weights.
    /// </summary>
    [Fact]
    public void Export_of_an_official_pth_checkpoint_gives_the_reference_embeddings()
    {
        using var expected = TransReID.Runtime.IO.SafetensorsFile.Open(PthFixtures.File("transreid_expected.safetensors"));
        using var model = PthSie.Create(Device.Cpu, 1);
        model.Load(PthFixtures.File("transreid_zip.pth"));
        AssertReference(model, expected.ReadF32("images"), expected.ReadI32("cameras"), [], expected.ReadF32("embeddings"), "transreid_zip.pth");
    }

    [Fact]
    public void Exported_model_loads_with_declared_inputs_outputs_and_metadata()
    {
        using var model = Create("tiny_view_odd");
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file, new OnnxExportOptions { Preset = "tiny-view-odd" });
        using var session = OnnxTestKit.Open(file);
        var info = model.Info;

        Assert.Equal(["images", "cameras", "views"], session.InputNames);
        Assert.Equal(["features"], session.OutputNames);
        var images = session.InputMetadata["images"];
        Assert.Equal(typeof(float), images.ElementType);
        Assert.Equal([-1, 3, info.ImageHeight, info.ImageWidth], images.Dimensions);
        Assert.Equal("N", images.SymbolicDimensions[0]);
        Assert.Equal(typeof(long), session.InputMetadata["cameras"].ElementType);
        Assert.Equal([-1], session.InputMetadata["views"].Dimensions);
        Assert.Equal([-1, info.FeatureDim], session.OutputMetadata["features"].Dimensions);

        var meta = session.ModelMetadata;
        Assert.Equal("TransReID.Compiler", meta.ProducerName);
        Assert.False(string.IsNullOrEmpty(meta.Version.ToString()));
        var map = meta.CustomMetadataMap;
        Assert.Equal("tiny-view-odd", map["transreid.preset"]);
        Assert.Equal(info.FeatureDim.ToString(System.Globalization.CultureInfo.InvariantCulture), map["transreid.feature_dim"]);
        Assert.Equal("2", map["transreid.cameras"]);
        Assert.Equal("3", map["transreid.views"]);
        Assert.Equal("After", map["transreid.neck_feature"]);
        Assert.Equal("0.5,0.5,0.5", map["transreid.pixel_mean"]);
        Assert.Equal("outside", map["transreid.preprocessing"]);
        Assert.Equal("1E-06", map["transreid.layer_norm_eps"]);
        foreach (string key in new[] { "image_height", "image_width", "patch_size", "stride_y", "stride_x", "depth", "embed_dim", "heads", "mlp_hidden", "sie_rows", "sie_coefficient", "jpm", "jpm_parts", "jpm_shift", "jpm_shuffle_groups", "jpm_rearrange", "classes", "patch_grid_y", "patch_grid_x", "token_count", "parameter_count", "trainable_parameter_count", "pixel_std", "opset" })
            Assert.True(map.ContainsKey("transreid." + key), key);
    }

    [Fact]
    public void Fixed_camera_gives_the_same_as_feeding_that_camera()
    {
        using var model = Create("tiny_jpm_sie");
        var info = model.Info;
        using var openDir = new TempDirectory();
        string open = openDir.File("model.onnx");
        using var fixedFileDir = new TempDirectory();
        string fixedFile = fixedFileDir.File("model.onnx");
        model.ExportOnnx(open);
        model.ExportOnnx(fixedFile, new OnnxExportOptions { FixedCamera = 2 });
        using var openSession = OnnxTestKit.Open(open);
        using var fixedSession = OnnxTestKit.Open(fixedFile);
        Assert.Equal(["images"], fixedSession.InputNames);

        const int batch = 5;
        float[] images = OnnxTestKit.Images(info, batch, 11);
        int[] cameras = [.. Enumerable.Repeat(2, batch)];
        float[] fed = OnnxTestKit.RunModel(openSession, info, images, cameras, []);
        float[] baked = OnnxTestKit.Run(fixedSession, ("images", images, [batch, 3, info.ImageHeight, info.ImageWidth]));
        float[] embed = new float[batch * info.FeatureDim];
        model.Embed(images, cameras, [], embed);
        Assert.True(Fixture.RelativeL2(baked, fed) <= 1e-6, $"fixed camera vs fed camera: {Fixture.RelativeL2(baked, fed):E3}");
        Assert.True(Fixture.RelativeL2(baked, embed) <= Tolerance, $"fixed camera vs Embed: {Fixture.RelativeL2(baked, embed):E3}");
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(null, 2)]
    [InlineData(1, 2)]
    public void Fixed_camera_and_or_view_on_camera_view_model(int? camera, int? view)
    {
        using var model = Create("tiny_view_odd");
        var info = model.Info;
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file, new OnnxExportOptions { FixedCamera = camera, FixedView = view });
        using var session = OnnxTestKit.Open(file);
        const int batch = 4;
        float[] images = OnnxTestKit.Images(info, batch, 12);
        int[] cameras = camera is int c ? [.. Enumerable.Repeat(c, batch)] : OnnxTestKit.Ids(batch, info.Cameras, 1);
        int[] views = view is int v ? [.. Enumerable.Repeat(v, batch)] : OnnxTestKit.Ids(batch, info.Views, 2);
        var inputs = new System.Collections.Generic.List<(string, Array, long[])> { ("images", images, [batch, 3, info.ImageHeight, info.ImageWidth]) };
        if (camera is null) inputs.Add(("cameras", OnnxTestKit.Longs(cameras), [batch]));
        if (view is null) inputs.Add(("views", OnnxTestKit.Longs(views), [batch]));
        Assert.Equal(inputs.Select(i => i.Item1), session.InputNames);
        float[] onnx = OnnxTestKit.Run(session, [.. inputs]);
        float[] embed = new float[batch * info.FeatureDim];
        model.Embed(images, cameras, views, embed);
        double err = Fixture.RelativeL2(onnx, embed);
        Assert.True(err <= Tolerance, $"camera {camera}, view {view}: relative L2 {err:E3}");
    }

    [Theory]
    [InlineData("tiny_jpm_sie")]
    [InlineData("onnx_camera_plain")]
    public void Included_preprocessing_takes_uint8_hwc_and_equals_Embed_of_normalised_images(string name)
    {
        using var model = Create(name);
        var info = model.Info;
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file, new OnnxExportOptions { IncludePreprocessing = true });
        using var session = OnnxTestKit.Open(file);
        Assert.Equal(typeof(byte), session.InputMetadata["images"].ElementType);
        Assert.Equal([-1, info.ImageHeight, info.ImageWidth, 3], session.InputMetadata["images"].Dimensions);
        Assert.Equal("inside", session.ModelMetadata.CustomMetadataMap["transreid.preprocessing"]);

        const int batch = 3;
        int h = info.ImageHeight, w = info.ImageWidth;
        var rng = new Random(7);
        var pixels = new byte[batch * h * w * 3];
        rng.NextBytes(pixels);
        var normalised = new float[batch * info.ImageFloats];
        for (int b = 0; b < batch; b++)
        {
            for (int c = 0; c < 3; c++)
            {
                for (int i = 0; i < h * w; i++)
                    normalised[(((b * 3) + c) * h * w) + i] = ((pixels[(((b * h * w) + i) * 3) + c] / 255f) - info.PixelMean[c]) / info.PixelStd[c];
            }
        }

        int[] cameras = OnnxTestKit.Ids(batch, info.Cameras, 0);
        float[] embed = new float[batch * info.FeatureDim];
        model.Embed(normalised, cameras, [], embed);
        var inputs = new System.Collections.Generic.List<(string, Array, long[])> { ("images", pixels, [batch, h, w, 3]) };
        if (info.UsesCameras) inputs.Add(("cameras", OnnxTestKit.Longs(cameras), [batch]));
        float[] onnx = OnnxTestKit.Run(session, [.. inputs]);
        double err = Fixture.RelativeL2(onnx, embed);
        Assert.True(err <= Tolerance, $"{name} with preprocessing: relative L2 {err:E3}");
    }

    [Fact]
    public void Opset_21_export_runs_the_same()
    {
        using var model = Create("tiny_view_odd");
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file, new OnnxExportOptions { Opset = 21 });
        using var session = OnnxTestKit.Open(file);
        AssertSame(model, session, 3, 4, "opset 21");
    }

    [Fact]
    public void Wrong_input_shape_or_dtype_or_id_fails_clearly()
    {
        using var model = Create("tiny_jpm_sie");
        var info = model.Info;
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file);
        using var session = OnnxTestKit.Open(file);
        int h = info.ImageHeight, w = info.ImageWidth;

        var shape = Assert.Throws<OnnxRuntimeException>(() => OnnxTestKit.Run(session,
            ("images", new float[2 * 3 * (h + 8) * w], [2, 3, h + 8, w]), ("cameras", new long[2], [2])));
        output.WriteLine($"wrong shape: {shape.Message}");
        Assert.Contains("images", shape.Message, StringComparison.Ordinal);
        Assert.Contains("dimensions", shape.Message, StringComparison.OrdinalIgnoreCase);

        var dtype = Assert.Throws<OnnxRuntimeException>(() => OnnxTestKit.Run(session,
            ("images", new double[3 * h * w], [1, 3, h, w]), ("cameras", new long[1], [1])));
        output.WriteLine($"wrong dtype: {dtype.Message}");
        Assert.Contains("tensor(float)", dtype.Message, StringComparison.Ordinal);

        var cameraType = Assert.Throws<OnnxRuntimeException>(() => OnnxTestKit.Run(session,
            ("images", new float[3 * h * w], [1, 3, h, w]), ("cameras", new int[1], [1])));
        output.WriteLine($"int32 cameras: {cameraType.Message}");
        Assert.Contains("tensor(int64)", cameraType.Message, StringComparison.Ordinal);

        var missing = Assert.ThrowsAny<Exception>(() => OnnxTestKit.Run(session, ("images", new float[3 * h * w], [1, 3, h, w])));
        output.WriteLine($"no cameras: {missing.Message}");
        Assert.Contains("cameras", missing.Message, StringComparison.Ordinal);

        var count = Assert.Throws<OnnxRuntimeException>(() => OnnxTestKit.Run(session,
            ("images", new float[2 * 3 * h * w], [2, 3, h, w]), ("cameras", new long[3], [3])));
        output.WriteLine($"3 cameras for 2 images: {count.Message}");
        Assert.Contains("broadcast", count.Message, StringComparison.OrdinalIgnoreCase);

        foreach (long bad in new long[] { info.Cameras, -1 })
        {
            var range = Assert.Throws<OnnxRuntimeException>(() => OnnxTestKit.Run(session,
                ("images", new float[3 * h * w], [1, 3, h, w]), ("cameras", new[] { bad }, [1])));
            output.WriteLine($"camera {bad}: {range.Message}");
            Assert.Contains("out of", range.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Options_that_do_not_fit_the_model_are_refused()
    {
        using var model = Create("tiny_base");
        Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder(model.Info, model.Parameter, new OnnxExportOptions { Opset = 16 }));
        Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder(model.Info, model.Parameter, new OnnxExportOptions { FixedCamera = 0 }));
        using var cams = Create("tiny_jpm_sie");
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxGraphBuilder(cams.Info, cams.Parameter, new OnnxExportOptions { FixedCamera = 3 }));
        var builder = new OnnxGraphBuilder(cams.Info, cams.Parameter, new OnnxExportOptions());
        Assert.Throws<InvalidOperationException>(() => builder.Save(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "never.onnx")));
    }

    /// <summary>Exports <paramref name="model"/>, runs ONNX Runtime on the inputs, and compares with the reference's embeddings.</summary>
    private void AssertReference(ITransReIDModel model, float[] images, int[] cameras, int[] views, float[] reference, string name)
    {
        var info = model.Info;
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        model.ExportOnnx(file);
        using var session = OnnxTestKit.Open(file);
        float[] onnx = OnnxTestKit.RunModel(session, info, images, info.UsesCameras ? cameras : [], info.UsesViews ? views : []);
        double err = Fixture.RelativeL2(onnx, reference);
        output.WriteLine($"{name}: ONNX Runtime vs the PyTorch reference, relative L2 {err:E3}");
        Assert.True(err <= Tolerance, $"{name}: ONNX Runtime vs the PyTorch reference relative L2 {err:E3} > {Tolerance:E0}");
    }

    private void AssertSame(ITransReIDModel model, InferenceSession session, int batch, int seed, string name)
    {
        var info = model.Info;
        float[] images = OnnxTestKit.Images(info, batch, seed);
        int[] cameras = OnnxTestKit.Ids(batch, info.Cameras, seed);
        int[] views = OnnxTestKit.Ids(batch, info.Views, seed + 1);
        var embed = new float[batch * info.FeatureDim];
        model.Embed(images, cameras, views, embed);
        float[] onnx = OnnxTestKit.RunModel(session, info, images, cameras, views);
        double err = Fixture.RelativeL2(onnx, embed);
        output.WriteLine($"{name} batch {batch}: relative L2 {err:E3}");
        Assert.True(err <= Tolerance, $"{name} batch {batch}: ONNX Runtime vs Embed relative L2 {err:E3} > {Tolerance:E0}");
    }
}
