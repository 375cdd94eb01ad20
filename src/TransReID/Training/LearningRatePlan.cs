using System;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>
/// The per-epoch learning rates of a run: the official <see cref="WarmupCosineSchedule"/> (docs/model.md#learning-rate-schedule) for the weight group
/// (base LR v) and for the bias group (base LR factor·v), set at the start of each epoch.
/// </summary>
/// <remarks>
/// <para><b>Bias group.</b> The official schedule gives each parameter group its own curve from its own base LR with the
/// same absolute <c>lr_init</c> and <c>lr_min</c>, so the bias LR is not exactly factor × the weight LR during warm-up
/// and at the end. <see cref="BiasFactorAt"/> returns the exact ratio of the two curves, which the trainer puts in
/// <see cref="Optimizer.BiasLearningRateFactor"/> each epoch.</para>
/// <para><b>Warm-up for short runs.</b> The official recipe warms up over 5 of 120 epochs. When
/// <see cref="WarmupCosineSchedule.WarmupEpochs"/> is not given, <see cref="AutoWarmupEpochs"/> keeps that fraction:
/// W = ⌈5·E/120⌉ clamped to [2, 5], so that a run of 4–48 epochs still spends its first epoch at about half the
/// base LR (the schedule's epochs 1..W−1 ramp up; epoch W is already on the cosine). Runs of fewer than 4 epochs get
/// W = 1: no warm-up (there is no room for one). E ≥ 97 gives the official 5.</para>
/// </remarks>
public sealed class LearningRatePlan
{
    /// <summary>Creates the plan.</summary>
    /// <param name="baseLearningRate">v, the weight group's base LR (official 0.008).</param>
    /// <param name="epochs">E, the length of the schedule.</param>
    /// <param name="biasFactor">The bias group's base LR multiplier (official 2).</param>
    /// <param name="warmupEpochs">W; null: <see cref="AutoWarmupEpochs"/>(E).</param>
    public LearningRatePlan(double baseLearningRate, int epochs, double biasFactor = 2.0, int? warmupEpochs = null)
    {
        if (!(baseLearningRate > 0) || !double.IsFinite(baseLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate, "the base learning rate must be a positive number");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!(biasFactor > 0) || !double.IsFinite(biasFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(biasFactor), biasFactor, "the bias LR factor must be a positive number");
        }

        int warmup = warmupEpochs ?? AutoWarmupEpochs(epochs);
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, 1, nameof(warmupEpochs));
        Schedule = new WarmupCosineSchedule(baseLearningRate, epochs, warmup);
        BiasFactor = biasFactor;
    }

    /// <summary>The schedule of the weight group.</summary>
    public WarmupCosineSchedule Schedule { get; }

    /// <summary>The bias group's base LR multiplier.</summary>
    public double BiasFactor { get; }

    /// <summary>W for an E-epoch run (see the remarks): 5·E/120 rounded up, clamped to [2, 5]; 1 below 4 epochs.</summary>
    public static int AutoWarmupEpochs(int epochs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (epochs < 4)
        {
            return 1;
        }

        return Math.Clamp((int)Math.Ceiling(5.0 * epochs / 120.0), 2, 5);
    }

    /// <summary>The weight group's LR for epoch <paramref name="epoch"/> (1-based).</summary>
    public double At(int epoch) => Schedule.At(epoch);

    /// <summary>The bias group's LR for epoch <paramref name="epoch"/>.</summary>
    public double BiasAt(int epoch) => Schedule.At(epoch, BiasFactor * Schedule.BaseLearningRate);

    /// <summary>BiasAt(e) / At(e): the multiplier that gives the bias group its own official curve.</summary>
    public double BiasFactorAt(int epoch) => BiasAt(epoch) / At(epoch);

    /// <summary>Sets <paramref name="optimizer"/>'s LR and bias factor for epoch <paramref name="epoch"/>.</summary>
    public void Apply(Optimizer optimizer, int epoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = At(epoch);
        optimizer.BiasLearningRateFactor = BiasFactorAt(epoch);
    }
}
