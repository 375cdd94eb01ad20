using System;
using System.IO;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;
using TransReID.Tests.IO;

namespace TransReID.Tests.Model;

/// <summary>
/// <c>Load</c> of TransReID state dicts and <c>LoadPretrained</c> of ImageNet ViT/DeiT state dicts from PyTorch files,
/// against the reference (tests/reference/make_pth_fixtures.py: the official <c>load_param</c> ported, F.interpolate).
/// </summary>
public sealed class PthLoadingTests
{
    private static float[] Embed(ITransReIDModel model, SafetensorsFile expected, bool cameras)
    {
        float[] images = expected.ReadF32("images");
        int batch = images.Length / model.Info.ImageFloats;
        var features = new float[batch * model.Info.FeatureDim];
        model.Embed(images, cameras ? expected.ReadI32("cameras") : [], [], features);
        return features;
    }

    [Theory]
    [InlineData("transreid_zip.pth", "embeddings")]
    [InlineData("transreid_legacy_f16.pth", "embeddings_f16")]
    public void TransReID_state_dict_embeds_as_the_reference(string file, string key)
    {
        using var expected = SafetensorsFile.Open(PthFixtures.File("transreid_expected.safetensors"));
        using var model = PthSie.Create(Device.Cpu, 1);
        var report = model.Load(PthFixtures.File(file));
        Assert.Equal(WeightsKind.TransReID, report.Kind);
        Assert.Equal(PthSie.Parameters.Count, report.Count(LoadAction.Loaded));
        double err = Fixture.RelativeL2(Embed(model, expected, cameras: true), expected.ReadF32(key));
        Assert.True(err <= 1e-4, $"{file}: embeddings relative L2 error {err:E3}");
        Assert.All(model.Core.NumBatchesTracked, n => Assert.True(n > 0));
    }

    [Fact]
    public void Classifiers_of_another_class_count_are_skipped_with_a_note()
    {
        using var reference = PthSie.Create(Device.Cpu, 1);
        reference.Load(PthFixtures.File("transreid_zip.pth"));
        using var model = PthSieFiveIds.Create(Device.Cpu, 7);
        float[] before = model.Parameter("classifier_2.weight");
        var report = model.Load(PthFixtures.File("transreid_zip.pth"));
        var skipped = report.With(LoadAction.Skipped).ToArray();
        Assert.Equal(["classifier.weight", "classifier_1.weight", "classifier_2.weight", "classifier_3.weight", "classifier_4.weight"], skipped.Select(s => s.Target));
        Assert.All(skipped, s => Assert.Contains("3 classes in the file, 5 in the model", s.Detail, StringComparison.Ordinal));
        Assert.Equal(before, model.Parameter("classifier_2.weight"));
        Assert.Equal(reference.Parameter("b2.0.mlp.fc1.weight"), model.Parameter("b2.0.mlp.fc1.weight"));
        Assert.Equal(reference.Parameter("base.sie_embed"), model.Parameter("base.sie_embed"));
    }

    [Fact]
    public void Everything_else_must_still_fit()
    {
        using var model = PthImageNet.Create(Device.Cpu, 1);
        float[] before = model.Parameter("base.pos_embed");
        var e = Assert.Throws<InvalidOperationException>(() => model.Load(PthFixtures.File("transreid_zip.pth")));
        Assert.Contains("unexpected key 'base.sie_embed'", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, model.Parameter("base.pos_embed"));
        var imagenet = Assert.Throws<InvalidOperationException>(() => model.Load(PthFixtures.File("imagenet_zip.pth")));
        Assert.Contains("LoadPretrained", imagenet.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("imagenet_zip.pth", "timm")]
    [InlineData("imagenet_legacy_linear.pth", "timm")]
    [InlineData("deit_tiny_distilled.pth", "deit")]
    public void ImageNet_initialisation_matches_the_official_load_param(string file, string key)
    {
        using var expected = SafetensorsFile.Open(PthFixtures.File("imagenet_expected.safetensors"));
        using var model = PthImageNet.Create(Device.Cpu, 1);
        var report = model.LoadPretrained(PthFixtures.File(file), seed: 5);
        Assert.Equal(WeightsKind.ImageNet, report.Kind);

        float[] pos = model.Parameter("base.pos_embed");
        float[] reference = expected.ReadF32(key + ".pos_embed");
        Assert.Equal(reference.Length, pos.Length);
        double worst = pos.Zip(reference, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(worst <= 1e-6, $"{file}: pos_embed differs from F.interpolate by {worst:E3}");

        double err = Fixture.RelativeL2(Embed(model, expected, cameras: false), expected.ReadF32(key + ".embeddings"));
        Assert.True(err <= 1e-4, $"{file}: embeddings relative L2 error {err:E3}");

        var resized = Assert.Single(report.With(LoadAction.Resized));
        Assert.Equal("base.pos_embed", resized.Target);
        Assert.Contains("4×4 grid", resized.Detail, StringComparison.Ordinal);
        Assert.Contains("7×3", resized.Detail, StringComparison.Ordinal);
        var skipped = report.With(LoadAction.Skipped).Select(s => s.Source).ToArray();
        Assert.Contains("head.weight", skipped);
        Assert.Contains("head.bias", skipped);
        if (key == "deit")
        {
            Assert.Contains("distillation row removed", resized.Detail, StringComparison.Ordinal);
            Assert.Contains("dist_token", skipped);
            Assert.Contains("head_dist.weight", skipped);
        }

        if (file.Contains("linear", StringComparison.Ordinal))
            Assert.Equal("base.patch_embed.proj.weight", Assert.Single(report.With(LoadAction.Reshaped)).Target);

        // b1/b2 start as copies of the loaded last block and final norm
        Assert.Equal(model.Parameter("base.blocks.1.attn.qkv.weight"), model.Parameter("b1.0.attn.qkv.weight"));
        Assert.Equal(model.Parameter("base.norm.weight"), model.Parameter("b2.1.weight"));
        Assert.Contains(report.With(LoadAction.Copied), c => c.Target == "b2.0.mlp.fc2.bias");

        // BNNecks, classifiers and the unused fc: the official scratch initialisation with the seed
        using var scratch = PthImageNet.Create(Device.Cpu, 5);
        foreach (var name in new[] { "classifier_3.weight", "bottleneck.weight", "bottleneck_1.running_var", "base.fc.weight" })
        {
            Assert.Equal(scratch.Parameter(name), model.Parameter(name));
            Assert.Contains(report.With(LoadAction.Initialized), i => i.Target == name);
        }
    }

    [Fact]
    public void Kind_is_told_by_the_keys()
    {
        Assert.Equal(WeightsKind.TransReID, ModelCore.DetectKind(PthFixtures.File("transreid_zip.pth")));
        Assert.Equal(WeightsKind.TransReID, ModelCore.DetectKind(PthFixtures.File("transreid_legacy_f16.pth")));
        Assert.Equal(WeightsKind.ImageNet, ModelCore.DetectKind(PthFixtures.File("imagenet_zip.pth")));
        Assert.Equal(WeightsKind.ImageNet, ModelCore.DetectKind(PthFixtures.File("deit_tiny_distilled.pth")));
        Assert.Equal(WeightsKind.TransReID, ModelCore.DetectKind(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_jpm_sie", "weights.safetensors")));
        Assert.Throws<InvalidOperationException>(() => ModelCore.DetectKind(PthFixtures.File("tensors_zip.pth")));
    }

    [Fact]
    public void A_TransReID_checkpoint_is_not_an_ImageNet_backbone()
    {
        using var model = PthSie.Create(Device.Cpu, 1);
        var e = Assert.Throws<InvalidOperationException>(() => model.LoadPretrained(PthFixtures.File("transreid_zip.pth"), 0));
        Assert.Contains("--init", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pretrained_weights_survive_a_safetensors_round_trip()
    {
        using var dir = new TempDirectory();
        using var model = PthImageNet.Create(Device.Cpu, 1);
        model.LoadPretrained(PthFixtures.File("imagenet_zip.pth"), seed: 3);
        string path = dir.File("converted.safetensors");
        model.Save(path);
        using var again = PthImageNet.Create(Device.Cpu, 99);
        again.Load(path);
        foreach (var p in PthImageNet.Parameters) Assert.Equal(model.Parameter(p.Name), again.Parameter(p.Name));
    }
}
