using System;

namespace TransReID.Runtime.Model;

/// <summary>Optimiser settings shared by the generated models; the state (momentum, moments) lives with the model.</summary>
public abstract class Optimizer
{
    /// <summary>Base learning rate of this step (set by a schedule before each epoch or step).</summary>
    public double LearningRate { get; set; }

    /// <summary>Weight decay applied to every trainable tensor (biases included, as the official recipe).</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>Learning-rate multiplier for tensors whose name contains "bias" (official <c>BIAS_LR_FACTOR</c> = 2).</summary>
    public double BiasLearningRateFactor { get; set; } = 2.0;

    /// <summary>Weight decay for bias tensors (official <c>WEIGHT_DECAY_BIAS</c> = 1e-4).</summary>
    public double WeightDecayBias { get; set; } = 1e-4;

    /// <summary>Number of state buffers per parameter (1 for SGD, 2 for AdamW).</summary>
    internal abstract int StateBuffers { get; }

    /// <summary>Applies one update to one tensor.</summary>
    internal abstract void Apply(IBackend backend, DevicePtr param, DevicePtr grad, DevicePtr state0, DevicePtr state1, long count, float lr, float weightDecay, long step);
}

/// <summary>SGD with momentum exactly as <c>torch.optim.SGD</c> (no dampening, no Nesterov): the official recipe.</summary>
public sealed class SgdOptimizer : Optimizer
{
    /// <summary>The official recipe: base LR 0.008, momentum 0.9, weight decay 1e-4, bias LR × 2.</summary>
    public SgdOptimizer(double learningRate = 0.008, double momentum = 0.9)
    {
        LearningRate = learningRate;
        Momentum = momentum;
    }

    /// <summary>Momentum.</summary>
    public double Momentum { get; set; }

    internal override int StateBuffers => 1;

    internal override void Apply(IBackend backend, DevicePtr param, DevicePtr grad, DevicePtr state0, DevicePtr state1, long count, float lr, float weightDecay, long step) =>
        backend.SgdStep(param, grad, state0, count, lr, (float)Momentum, weightDecay, step == 1);
}

/// <summary>AdamW as <c>torch.optim.AdamW</c> (decoupled weight decay).</summary>
public sealed class AdamWOptimizer : Optimizer
{
    /// <summary>Creates AdamW settings.</summary>
    public AdamWOptimizer(double learningRate = 3e-4, double weightDecay = 1e-2)
    {
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        WeightDecayBias = weightDecay;
        BiasLearningRateFactor = 1.0;
    }

    /// <summary>β1.</summary>
    public double Beta1 { get; set; } = 0.9;

    /// <summary>β2.</summary>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>ε.</summary>
    public double Epsilon { get; set; } = 1e-8;

    internal override int StateBuffers => 2;

    internal override void Apply(IBackend backend, DevicePtr param, DevicePtr grad, DevicePtr state0, DevicePtr state1, long count, float lr, float weightDecay, long step) =>
        backend.AdamWStep(param, grad, state0, state1, count, lr, (float)Beta1, (float)Beta2, (float)Epsilon, weightDecay, checked((int)step));
}

/// <summary>
/// The official learning-rate schedule (<c>solver/cosine_lr.py</c>), stepped per epoch e = 1..E at the start of each
/// epoch: linear warm-up from 0.01·base over <see cref="WarmupEpochs"/> epochs, then cosine to 0.002·base.
/// </summary>
public sealed record WarmupCosineSchedule(double BaseLearningRate = 0.008, int Epochs = 120, int WarmupEpochs = 5,
    double WarmupFactor = 0.01, double MinFactor = 0.002)
{
    /// <summary>Learning rate of epoch <paramref name="epoch"/> (1-based) for a group whose base LR is <paramref name="groupBase"/>.</summary>
    public double At(int epoch, double groupBase)
    {
        double lrInit = WarmupFactor * BaseLearningRate, lrMin = MinFactor * BaseLearningRate;
        if (epoch < WarmupEpochs) return lrInit + epoch * (groupBase - lrInit) / WarmupEpochs;
        if (epoch >= Epochs) return lrMin;
        return lrMin + 0.5 * (groupBase - lrMin) * (1 + Math.Cos(Math.PI * epoch / Epochs));
    }

    /// <summary>Learning rate of epoch <paramref name="epoch"/> for the base group.</summary>
    public double At(int epoch) => At(epoch, BaseLearningRate);
}

/// <summary>Loss settings (docs/model.md#id-loss, #triplet-loss, #loss-combination); the defaults are the official stride configs.</summary>
public sealed record LossOptions
{
    /// <summary>Label smoothing ε for the ID loss (0 = off, official; 0.1 when on).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Triplet margin; 0 or less = soft margin log(1+exp(−(d_an − d_ap))) (official <c>NO_MARGIN</c>).</summary>
    public double TripletMargin { get; init; }

    /// <summary>L2-normalise features before the triplet distances (official: off).</summary>
    public bool NormalizeTripletFeatures { get; init; }

    /// <summary>Weight of the ID loss.</summary>
    public double IdWeight { get; init; } = 1.0;

    /// <summary>Weight of the triplet loss.</summary>
    public double TripletWeight { get; init; } = 1.0;

    /// <summary>Weight of the global branch inside each loss when JPM is on (official 0.5).</summary>
    public double GlobalWeight { get; init; } = 0.5;

    /// <summary>Weight of the mean over parts inside each loss when JPM is on (official 0.5).</summary>
    public double PartsWeight { get; init; } = 0.5;
}

/// <summary>Every loss component of one training step (parts = mean over the JPM parts; 0 without JPM).</summary>
public readonly record struct TrainStepResult(float IdGlobal, float IdParts, float TripletGlobal, float TripletParts, float Total);
