using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Model;

namespace TransReID.Cuda.Tests;

/// <summary>A tiny JPM + camera-SIE model (the same numbers as tests/TransReID.Tests' TinyJpmSie fixture config).</summary>
[TransReIDModel(ImageHeight = 64, ImageWidth = 32, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 3, EmbedDim = 48, Heads = 3,
    Cameras = 3, Jpm = true, JpmParts = 4, Classes = 5)]
public sealed partial class CudaTinyJpm;

/// <summary>A tiny plain ViT with features after the BNNeck.</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 16, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2, EmbedDim = 32, Heads = 2,
    Jpm = false, Classes = 3, NeckFeature = NeckFeature.After)]
public sealed partial class CudaTinyBase;

/// <summary>configs/Market/vit_transreid_stride.yml.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 6, Classes = 751)]
public sealed partial class CudaMarketStride;

/// <summary>The whole generated model on CUDA against the CPU backend: Embed, losses and every gradient of one step.</summary>
[Trait("Category", "Gpu")]
public class ModelCudaTests
{
    private static (float[] Images, int[] Labels, int[] Cams) Batch(int imageFloats, int ids, int per, int cameras, ulong seed)
    {
        var rng = new Rng(seed);
        int n = ids * per;
        var images = new float[n * imageFloats];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        return (images, Enumerable.Range(0, n).Select(i => i / per).ToArray(), Enumerable.Range(0, n).Select(i => i % Math.Max(cameras, 1)).ToArray());
    }

    private static double RelativeL2(float[] a, float[] b, double floor = 0)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            num += d * d;
            den += (double)b[i] * b[i];
        }

        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), floor);
    }

    private static void CompareTraining<T>(int ids, int per, ulong seed)
        where T : ITransReIDModel<T>
    {
        TestEnvironment.RequireGpu();
        using var cpu = T.Create(Device.Cpu, 5);
        using var gpu = T.Create(Device.Cuda(0), 5);
        cpu.DropPathRate = gpu.DropPathRate = 0;
        var info = T.ModelInfo;
        var (images, labels, cams) = Batch(info.ImageFloats, ids, per, info.Cameras, seed);
        int[] c = info.UsesCameras ? cams : [];

        float[] e1 = new float[images.Length / info.ImageFloats * info.FeatureDim], e2 = new float[e1.Length];
        cpu.Embed(images, c, default, e1);
        gpu.Embed(images, c, default, e2);
        Assert.True(RelativeL2(e2, e1) <= 1e-4, $"Embed CUDA vs CPU: {RelativeL2(e2, e1):E3}");

        var r1 = cpu.ComputeGradients(images, labels, c, default);
        var r2 = gpu.ComputeGradients(images, labels, c, default);
        Assert.True(Math.Abs(r1.Total - r2.Total) <= 1e-4 * Math.Abs(r1.Total), $"total loss CPU {r1.Total} vs CUDA {r2.Total}");
        var bad = new List<string>();
        foreach (var p in cpu.ParameterTable.Where(p => p.IsTrainable))
        {
            // floor 0.1: the final LayerNorm bias has an analytically zero gradient (train-mode BN and distances are shift-invariant)
            double err = RelativeL2(gpu.Gradient(p.Name), cpu.Gradient(p.Name), 0.1);
            if (!(err <= 1e-4)) bad.Add($"{p.Name}: {err:E3}");
        }

        Assert.True(bad.Count == 0, "gradients CUDA vs CPU:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void Tiny_jpm_model_embed_and_gradients_match_the_cpu() => CompareTraining<CudaTinyJpm>(4, 2, 3);

    [Fact]
    public void Tiny_base_model_embed_and_gradients_match_the_cpu() => CompareTraining<CudaTinyBase>(3, 2, 4);

    [Fact]
    public void Market_stride_preset_embed_matches_the_cpu()
    {
        TestEnvironment.RequireGpu();
        TestEnvironment.SkipOnEmulator("the Market preset (ViT-B/16, 211 tokens) needs about 70 GFLOP per Embed of 4 images, minutes on the emulator's loop GEMM");
        using var cpu = CudaMarketStride.Create(Device.Cpu, 1);
        using var gpu = CudaMarketStride.Create(Device.Cuda(0), 1);
        var (images, _, cams) = Batch(CudaMarketStride.ImageFloats, 4, 1, CudaMarketStride.Cameras, 9);
        float[] a = cpu.Embed(images, cams), b = gpu.Embed(images, cams);
        Assert.True(RelativeL2(b, a) <= 1e-4, $"Market stride Embed CUDA vs CPU: {RelativeL2(b, a):E3}");
    }

    [Fact]
    public void Sgd_steps_on_cuda_follow_the_cpu()
    {
        TestEnvironment.RequireGpu();
        using var cpu = CudaTinyJpm.Create(Device.Cpu, 8);
        using var gpu = CudaTinyJpm.Create(Device.Cuda(0), 8);
        cpu.DropPathRate = gpu.DropPathRate = 0;
        var (images, labels, cams) = Batch(CudaTinyJpm.ImageFloats, 4, 2, 3, 12);
        var o1 = new SgdOptimizer(0.01);
        var o2 = new SgdOptimizer(0.01);
        for (int i = 0; i < 3; i++)
        {
            var r1 = cpu.TrainStep(images, labels, cams, default, o1);
            var r2 = gpu.TrainStep(images, labels, cams, default, o2);
            Assert.True(Math.Abs(r1.Total - r2.Total) <= 1e-3 * Math.Abs(r1.Total), $"step {i}: CPU {r1.Total} vs CUDA {r2.Total}");
        }

        Assert.True(RelativeL2(gpu.Parameter("b2.0.mlp.fc1.weight"), cpu.Parameter("b2.0.mlp.fc1.weight")) <= 1e-4);
    }
}
