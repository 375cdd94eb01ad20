namespace TransReID.Training;

/// <summary>
/// Everything besides the weights that a run needs to continue exactly where it stopped: where (epoch, batch), the
/// optimiser's step count, the BNNeck counters, the drop-path generator, and the settings that fix the random streams
/// (the sampler and the augmentation are pure functions of (seed, epoch, index), so the seed is their whole state).
/// </summary>
public sealed record TrainingState
{
    /// <summary>The generated model's name (a checkpoint only fits the model that wrote it).</summary>
    public required string ModelName { get; init; }

    /// <summary>The epoch to continue in (1-based); Epochs + 1 when the run had finished.</summary>
    public required int Epoch { get; init; }

    /// <summary>The first batch of <see cref="Epoch"/> not trained yet.</summary>
    public required int NextBatch { get; init; }

    /// <summary>Optimiser steps taken (<c>ModelCore.Step</c>).</summary>
    public required long Step { get; init; }

    /// <summary>The BNNecks' <c>num_batches_tracked</c> (also in the weights file).</summary>
    public required long[] NumBatchesTracked { get; init; }

    /// <summary>The drop-path generator's state (<c>Rng.State</c>).</summary>
    public required ulong[] DropPathRng { get; init; }

    /// <summary>The optimiser the state buffers belong to.</summary>
    public required OptimizerKind Optimizer { get; init; }

    /// <summary>Seed of the sampler and the augmentation.</summary>
    public required int Seed { get; init; }

    /// <summary>P.</summary>
    public required int IdentitiesPerBatch { get; init; }

    /// <summary>K.</summary>
    public required int InstancesPerIdentity { get; init; }

    /// <summary>Epochs of the schedule the run was started with.</summary>
    public required int Epochs { get; init; }

    /// <summary>Base LR the run was started with.</summary>
    public required double BaseLearningRate { get; init; }

    /// <summary>Unreadable training-image files found so far (distinct files).</summary>
    public int SkippedImages { get; init; }

    /// <summary>The unreadable training-image files found so far (full paths, ordinal order).</summary>
    public string[] UnreadableFiles { get; init; } = [];

    /// <summary>The dataset the run trains on (null in state files written before fingerprints were stored).</summary>
    public DatasetFingerprint? Dataset { get; init; }
}
