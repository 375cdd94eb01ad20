using System;

namespace TransReID.Runtime.Model;

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
