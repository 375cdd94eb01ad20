using System;
using TransReID.Runtime.Model;
using TransReID.Training;

namespace TransReID.Tests.Training;

public sealed class LearningRatePlanTests
{
    [Theory]
    // docs/model.md#learning-rate-schedule: the values for v = 0.008, within half a unit of the last digit printed there
    [InlineData(1, 1.664e-3, 0.0005e-3)]
    [InlineData(2, 3.248e-3, 0.0005e-3)]
    [InlineData(3, 4.832e-3, 0.0005e-3)]
    [InlineData(4, 6.416e-3, 0.0005e-3)]
    [InlineData(5, 7.966e-3, 0.0005e-3)]
    [InlineData(30, 6.831e-3, 0.0005e-3)]
    [InlineData(60, 4.008e-3, 0.0005e-3)]
    [InlineData(90, 1.185e-3, 0.0005e-3)]
    [InlineData(119, 1.74e-5, 0.005e-5)]
    [InlineData(120, 1.6e-5, 0.05e-5)]
    public void OfficialRecipe_GivesTheSpecValues(int epoch, double expected, double tolerance)
    {
        var plan = new LearningRatePlan(0.008, 120);
        Assert.Equal(5, plan.Schedule.WarmupEpochs);
        double lr = plan.At(epoch);
        Assert.True(Math.Abs(lr - expected) <= tolerance, $"epoch {epoch}: {lr:R}, spec {expected:R}");
    }

    [Fact]
    public void BiasGroup_HasItsOwnCurveFromTwiceTheBase_WithTheSameAbsoluteInitAndMin()
    {
        var plan = new LearningRatePlan(0.008, 120);
        // warm-up: lr_init + e·(v − lr_init)/5 with v = 0.016 and lr_init = 8e-5 (not 2 × the weight LR)
        Assert.Equal(8e-5 + (1 * (0.016 - 8e-5) / 5), plan.BiasAt(1), 15);
        Assert.Equal(1.6e-5, plan.BiasAt(120), 15);
        Assert.Equal(1.0, plan.BiasFactorAt(120), 12);
        Assert.Equal(plan.BiasAt(30) / plan.At(30), plan.BiasFactorAt(30), 15);

        var sgd = new SgdOptimizer();
        plan.Apply(sgd, 1);
        Assert.Equal(plan.At(1), sgd.LearningRate);
        Assert.Equal(plan.BiasAt(1), sgd.LearningRate * sgd.BiasLearningRateFactor, 15);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(30, 2)]
    [InlineData(48, 2)]
    [InlineData(60, 3)]
    [InlineData(96, 4)]
    [InlineData(120, 5)]
    [InlineData(300, 5)]
    public void AutoWarmup_KeepsTheOfficialFractionWithinTwoToFiveEpochs(int epochs, int warmup) =>
        Assert.Equal(warmup, LearningRatePlan.AutoWarmupEpochs(epochs));

    [Fact]
    public void ShortRun_WarmsUpInItsFirstEpoch_AndEndsAtTheMinimum()
    {
        var plan = new LearningRatePlan(0.01, 20);
        Assert.Equal(2, plan.Schedule.WarmupEpochs);
        Assert.Equal(1e-4 + ((0.01 - 1e-4) / 2), plan.At(1), 15);
        Assert.True(plan.At(2) > plan.At(1) && plan.At(2) < 0.01);
        Assert.Equal(2e-5, plan.At(20), 15);
    }

    [Fact]
    public void BadSettings_NameTheSetting()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRatePlan(0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRatePlan(0.01, 0));
        var e = Assert.Throws<ArgumentException>(() => new TrainerOptions { OutputDirectory = "x", DropPathRate = 1 }.Validate());
        Assert.Contains("DropPathRate", e.Message, StringComparison.Ordinal);
    }
}
