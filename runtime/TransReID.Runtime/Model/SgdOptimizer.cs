namespace TransReID.Runtime.Model;

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
