namespace TransReID.Runtime.Model;

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
