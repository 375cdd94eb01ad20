using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Model;

namespace TransReID.Tests.Model;

/// <summary>The generated training step: whole-model finite differences, learning, determinism, bad input.</summary>
public class TrainingTests
{
    private static (TinyJpmSie Model, Fixture Fx) LoadTiny()
    {
        var fx = Fixture.Open("tiny_jpm_sie");
        var model = TinyJpmSie.Create(Device.Cpu, 3);
        model.Load(fx.WeightsPath);
        model.DropPathRate = 0;
        return (model, fx);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Whole_loss_gradient_matches_central_differences_for_every_tensor(bool training)
    {
        var (model, fx) = LoadTiny();
        model.Training = training;
        using var _ = model;
        using var __ = fx;
        float[] images = fx.Images;
        int[] labels = fx.Labels, cams = fx.Cameras;
        model.ComputeGradients(images, labels, cams, []);
        var grads = model.ParameterTable.Where(p => p.IsTrainable).ToDictionary(p => p.Name, p => model.Gradient(p.Name));

        double Loss() => model.ComputeGradients(images, labels, cams, []).Total;
        var failures = new List<string>();
        int checkedCount = 0;
        foreach (var p in model.ParameterTable.Where(p => p.IsTrainable))
        {
            float[] g = grads[p.Name];
            float[] w = model.Parameter(p.Name);
            // a sample of 8 coordinates (the largest gradient and 7 pseudo-random ones) perturbed together with random
            // signs: the central difference of the loss along that direction must equal the gradient's dot product with it
            var rng = new Rng((ulong)p.Offset + 1);
            int largest = Enumerable.Range(0, g.Length).MaxBy(i => Math.Abs(g[i]));
            var picks = Enumerable.Range(0, 7).Select(_ => rng.NextInt(g.Length)).Append(largest).Distinct().ToArray();
            var signs = picks.Select(_ => rng.NextDouble() < 0.5 ? -1f : 1f).ToArray();
            const float h = 1e-3f;
            double analytic = 0, scale = 0;
            for (int j = 0; j < picks.Length; j++)
            {
                analytic += signs[j] * (double)g[picks[j]];
                scale += Math.Abs(g[picks[j]]);
            }

            float[] plusW = (float[])w.Clone(), minusW = (float[])w.Clone();
            for (int j = 0; j < picks.Length; j++)
            {
                plusW[picks[j]] += h * signs[j];
                minusW[picks[j]] -= h * signs[j];
            }

            model.Core.WriteParameter(p.Name, plusW);
            double plus = Loss();
            model.Core.WriteParameter(p.Name, minusW);
            double minus = Loss();
            model.Core.WriteParameter(p.Name, w);
            double fd = (plus - minus) / (2.0 * h);
            double tol = 3e-2 * scale + 2e-3;
            checkedCount++;
            if (Math.Abs(fd - analytic) > tol) failures.Add($"{p.Name} {string.Join(",", picks)}: analytic {analytic:E4}, central difference {fd:E4}");
        }

        Assert.True(failures.Count == 0, $"training = {training}: {failures.Count} of {checkedCount} directions disagree:\n" + string.Join("\n", failures));
        Assert.True(checkedCount > 40);
    }

    /// <summary>4 identities × 4 images: a bright identity-specific pattern plus noise per image.</summary>
    private static (float[] Images, int[] Labels, int[] Cams) ToyBatch(int seed)
    {
        var rng = new Rng((ulong)seed);
        int ids = 4, per = 4, n = ids * per, f = TinyJpmSie.ImageFloats;
        var protos = new float[ids][];
        for (int k = 0; k < ids; k++)
        {
            protos[k] = new float[f];
            for (int j = 0; j < f; j++) protos[k][j] = (float)(rng.NextDouble() * 2 - 1);
        }

        var images = new float[n * f];
        var labels = new int[n];
        var cams = new int[n];
        for (int s = 0; s < n; s++)
        {
            labels[s] = s / per;
            cams[s] = s % 3;
            for (int j = 0; j < f; j++) images[s * f + j] = 0.7f * protos[labels[s]][j] + 0.3f * (float)(rng.NextDouble() * 2 - 1);
        }

        return (images, labels, cams);
    }

    [Fact]
    public void Tiny_model_learns_four_identities_in_40_steps()
    {
        using var model = TinyJpmSie.Create(Device.Cpu, 11);
        var (images, labels, cams) = ToyBatch(5);
        // From scratch (no ImageNet weights) plain SGD needs far more than 40 steps before the classifiers move
        // (their init is N(0, 0.001)); AdamW, the recipe's option, learns the toy task in 40.
        var optimizer = new AdamWOptimizer(learningRate: 1e-3, weightDecay: 1e-4);
        float first = 0, last = 0;
        var log = new System.Text.StringBuilder();
        for (int step = 0; step < 40; step++)
        {
            var r = model.TrainStep(images, labels, cams, [], optimizer);
            if (step == 0) first = r.Total;
            last = r.Total;
            if (step % 5 == 0 || step == 39) log.AppendLine(System.FormattableString.Invariant($"step {step}: {r}"));
        }

        Assert.True(last < 0.3 * first, $"total loss {first} -> {last}: not below 30% of the start\n{log}");

        // embeddings of the same identity closer than those of different identities
        float[] e = model.Embed(images, cams, []);
        int n = labels.Length, d = TinyJpmSie.FeatureDim;
        double Dist(int i, int j)
        {
            double s = 0;
            for (int c = 0; c < d; c++)
            {
                double x = e[i * d + c] - e[j * d + c];
                s += x * x;
            }

            return s;
        }

        double same = 0, diff = 0;
        int ns = 0, nd = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                if (labels[i] == labels[j]) { same += Dist(i, j); ns++; }
                else { diff += Dist(i, j); nd++; }
            }
        }

        Assert.True(same / ns < diff / nd, $"mean same-identity distance {same / ns} is not below the different-identity mean {diff / nd}\n{log}");
    }

    [Fact]
    public void Eval_mode_uses_and_keeps_the_running_statistics()
    {
        var (model, fx) = LoadTiny();
        using var _ = model;
        using var __ = fx;
        float[] mean = model.Parameter("bottleneck_1.running_mean"), variance = model.Parameter("bottleneck_1.running_var");
        long tracked = model.Core.NumBatchesTracked[1];
        model.Training = false;
        model.DropPathRate = 0.1; // ignored in eval mode: two calls agree exactly
        var a = model.ComputeGradients(fx.Images, fx.Labels, fx.Cameras, []);
        var b = model.ComputeGradients(fx.Images, fx.Labels, fx.Cameras, []);
        Assert.Equal(a, b);
        Assert.Equal(mean, model.Parameter("bottleneck_1.running_mean"));
        Assert.Equal(variance, model.Parameter("bottleneck_1.running_var"));
        Assert.Equal(tracked, model.Core.NumBatchesTracked[1]);
        model.Training = true;
        var c = model.ComputeGradients(fx.Images, fx.Labels, fx.Cameras, []);
        Assert.NotEqual(a.IdGlobal, c.IdGlobal); // batch statistics differ from the running ones
        Assert.NotEqual(mean, model.Parameter("bottleneck_1.running_mean"));
        Assert.Equal(tracked + 1, model.Core.NumBatchesTracked[1]);
    }

    [Fact]
    public void Same_seed_gives_bit_identical_losses_with_drop_path()
    {
        var (images, labels, cams) = ToyBatch(9);
        float[] Run()
        {
            using var model = TinyJpmSie.Create(Device.Cpu, 21);
            model.DropPathRate = 0.1;
            var sgd = new SgdOptimizer(learningRate: 0.01);
            var totals = new List<float>();
            for (int i = 0; i < 4; i++)
            {
                var r = model.TrainStep(images, labels, cams, [], sgd);
                totals.AddRange([r.IdGlobal, r.IdParts, r.TripletGlobal, r.TripletParts, r.Total]);
            }

            return totals.ToArray();
        }

        float[] a = Run(), b = Run();
        Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Bad_labels_and_unusable_batches_leave_the_weights_unchanged()
    {
        var (model, fx) = LoadTiny();
        using var _ = model;
        using var __ = fx;
        var sgd = new SgdOptimizer();
        float[] before = model.Parameter("b1.0.attn.qkv.weight");
        int[] labels = fx.Labels;

        var outOfRange = (int[])labels.Clone();
        outOfRange[3] = TinyJpmSie.Classes;
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(fx.Images, outOfRange, fx.Cameras, [], sgd));
        Assert.Contains("label of image 3", e1.Message, StringComparison.Ordinal);

        var lonely = (int[])labels.Clone();
        lonely[0] = 4; // identity 4 appears once
        var e2 = Assert.Throws<ArgumentException>(() => model.TrainStep(fx.Images, lonely, fx.Cameras, [], sgd));
        Assert.Contains("at least two images of each identity", e2.Message, StringComparison.Ordinal);

        var single = new int[labels.Length];
        var e3 = Assert.Throws<ArgumentException>(() => model.TrainStep(fx.Images, single, fx.Cameras, [], sgd));
        Assert.Contains("at least two identities", e3.Message, StringComparison.Ordinal);

        var badCam = (int[])fx.Cameras.Clone();
        badCam[1] = 3;
        Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(fx.Images, labels, badCam, [], sgd));

        Assert.Equal(before, model.Parameter("b1.0.attn.qkv.weight"));
    }

    [Fact]
    public void Non_finite_loss_throws_and_leaves_weights_and_running_statistics_unchanged()
    {
        var (model, fx) = LoadTiny();
        using var _ = model;
        using var __ = fx;
        float[] images = fx.Images;
        images[5] = float.NaN;
        float[] weights = model.Parameter("base.pos_embed");
        float[] runningVar = model.Parameter("bottleneck_2.running_var");
        long tracked = model.Core.NumBatchesTracked[0];
        var e = Assert.Throws<NonFiniteLossException>(() => model.TrainStep(images, fx.Labels, fx.Cameras, [], new SgdOptimizer()));
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
        Assert.Equal(weights, model.Parameter("base.pos_embed"));
        Assert.Equal(runningVar, model.Parameter("bottleneck_2.running_var"));
        Assert.Equal(tracked, model.Core.NumBatchesTracked[0]);
    }

    [Fact]
    public void Sgd_step_matches_a_float64_transcription_of_the_official_update()
    {
        var (model, fx) = LoadTiny();
        using var _ = model;
        using var __ = fx;
        var sgd = new SgdOptimizer(learningRate: 0.01);
        string weightName = "b2.0.mlp.fc1.weight", biasName = "b2.0.mlp.fc1.bias", frozen = "bottleneck_1.bias", unused = "base.blocks.2.mlp.fc1.weight";
        float[] w0 = model.Parameter(weightName), b0 = model.Parameter(biasName), f0 = model.Parameter(frozen), u0 = model.Parameter(unused);
        model.TrainStep(fx.Images, fx.Labels, fx.Cameras, [], sgd);
        float[] gw = model.Gradient(weightName), gb = model.Gradient(biasName);
        float[] w1 = model.Parameter(weightName), b1 = model.Parameter(biasName);
        for (int i = 0; i < w0.Length; i++)
        {
            double expected = w0[i] - 0.01 * (gw[i] + 1e-4 * w0[i]); // first step: buffer = g + wd·p
            Assert.True(Math.Abs(w1[i] - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{weightName}[{i}] {w1[i]} vs {expected}");
        }

        for (int i = 0; i < b0.Length; i++)
        {
            double expected = b0[i] - 0.02 * (gb[i] + 1e-4 * b0[i]); // bias: LR × 2
            Assert.True(Math.Abs(b1[i] - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{biasName}[{i}] {b1[i]} vs {expected}");
        }

        Assert.Equal(f0, model.Parameter(frozen)); // BNNeck bias frozen
        Assert.Equal(u0, model.Parameter(unused)); // backbone's last block: never used with JPM, never decayed
    }
}
