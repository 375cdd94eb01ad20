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
