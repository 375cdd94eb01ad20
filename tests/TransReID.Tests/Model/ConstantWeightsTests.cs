using System;
using System.IO;
using TransReID.Runtime;
using TransReID.Runtime.Model;
using TransReID.TestShared;

namespace TransReID.Tests.Model;

/// <summary>
/// Embed declares the parameters constant (the CPU backend then keeps the Linear weights packed between calls): every
/// way the parameters change must make the next Embed see the new values. The model embeds once (packing the weights),
/// then after each change embeds again and compares with a fresh model loaded with the changed parameters
/// (bit for bit: both run the same packed kernels). That packed and per-call packed Linear agree with a float64
/// reference is PackedGemmTests' part; FixtureParityTests compare Embed with PyTorch.
/// </summary>
public class ConstantWeightsTests
{
    [Fact]
    public void Embed_sees_the_weights_after_a_training_step_WriteParameter_Initialize_and_Load()
    {
        using var fx = Fixture.Open("tiny_jpm_sie");
        using var model = TinyJpmSie.Create(Device.Cpu, 3);
        model.Load(fx.WeightsPath);
        float[] first = model.Embed(fx.Images, fx.Cameras);

        model.TrainStep(fx.Images, fx.Labels, fx.Cameras, [], new SgdOptimizer(0.5));
        float[] trained = AssertSeesCurrentWeights(model, fx, first);

        string name = "base.blocks.0.mlp.fc1.weight";
        float[] w = model.Parameter(name);
        for (int i = 0; i < w.Length; i++) w[i] *= -2f;
        model.Core.WriteParameter(name, w);
        float[] written = AssertSeesCurrentWeights(model, fx, trained);

        model.Core.Initialize(11);
        AssertSeesCurrentWeights(model, fx, written);

        model.Load(fx.WeightsPath);
        Assert.Equal(first, model.Embed(fx.Images, fx.Cameras));
    }

    /// <summary>The model's Embed equals a fresh model's with the same parameters and differs from <paramref name="stale"/>.</summary>
    private static float[] AssertSeesCurrentWeights(TinyJpmSie model, Fixture fx, float[] stale)
    {
        float[] now = model.Embed(fx.Images, fx.Cameras);
        Assert.NotEqual(stale, now);
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "now.safetensors");
        model.Save(path);
        using var fresh = TinyJpmSie.Create(Device.Cpu, 0);
        fresh.Load(path);
        Assert.Equal(fresh.Embed(fx.Images, fx.Cameras), now);

        return now;
    }
}
