using System;
using System.Globalization;
using TransReID.Evaluation;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>Which optimiser the trainer builds.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum (the official recipe).</summary>
    Sgd,

    /// <summary>AdamW (decoupled weight decay).</summary>
    AdamW,
}

/// <summary>How the trainer reports progress.</summary>
public enum ProgressMode
{
    /// <summary>A live Spectre.Console display when the console is interactive, plain lines otherwise.</summary>
    Auto,

    /// <summary>Always the live display.</summary>
    Live,

    /// <summary>Plain text lines (logs, pipes, CI).</summary>
    Plain,

    /// <summary>Nothing on the console (the JSONL log is still written).</summary>
    None,
}

/// <summary>
/// Settings of a <see cref="Trainer"/> run. The defaults are the official Market recipe of docs/model.md#training-recipe (P = 16, K = 4, SGD
/// momentum 0.9, base LR 0.008, weight decay 1e-4 on everything, bias LR × 2, warm-up + cosine per epoch, drop path
/// 0.1, seed 1234, flip 0.5, pad 10, random erasing 0.5) except the number of epochs, which is the caller's.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Folder for the log, checkpoints, final weights, metrics and plots (created when missing).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>E, the length of the run and of the LR schedule (official 120).</summary>
    public int Epochs { get; init; } = 120;

    /// <summary>P: identities per batch.</summary>
    public int IdentitiesPerBatch { get; init; } = 16;

    /// <summary>K: images per identity in a batch.</summary>
    public int InstancesPerIdentity { get; init; } = 4;

    /// <summary>Batch size P·K.</summary>
    public int BatchSize => IdentitiesPerBatch * InstancesPerIdentity;

    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>v, the base LR of the weights (official SGD 0.008).</summary>
    public double BaseLearningRate { get; init; } = 0.008;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Weight decay of every trainable tensor (official 1e-4, biases included).</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Bias LR multiplier; null: 2 for SGD (official <c>BIAS_LR_FACTOR</c>), 1 for AdamW.</summary>
    public double? BiasLearningRateFactor { get; init; }

    /// <summary>Warm-up epochs W; null: <see cref="LearningRatePlan.AutoWarmupEpochs"/> (5 for long runs, scaled down for short ones).</summary>
    public int? WarmupEpochs { get; init; }

    /// <summary>Stochastic-depth rate of the last block (official 0.1).</summary>
    public double DropPathRate { get; init; } = 0.1;

    /// <summary>Loss settings; null: the model's current <see cref="ITransReIDModel.Losses"/>.</summary>
    public LossOptions? Losses { get; init; }

    /// <summary>Seed of the sampler, the augmentation and (through the model's creation) the initial weights and drop path.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Probability of the horizontal flip.</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Padding before the random crop (0 turns pad + crop off).</summary>
    public int Padding { get; init; } = 10;

    /// <summary>Probability of random erasing (DeiT configs: 0.8).</summary>
    public double ErasingProbability { get; init; } = 0.5;

    /// <summary>Evaluate on query/gallery every N epochs (0: only after the last epoch).</summary>
    public int EvalEvery { get; init; }

    /// <summary>Write a checkpoint every N epochs (0: only after the last epoch). One is always written at the end.</summary>
    public int CheckpointEvery { get; init; } = 5;

    /// <summary>Continue from the checkpoint in <see cref="OutputDirectory"/>.</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// With <see cref="Resume"/>: continue even when the dataset's fingerprint (files, labels, sizes) differs from the
    /// checkpoint's. Off: such a resume is refused with a <see cref="CheckpointException"/>.
    /// </summary>
    public bool AllowDataChange { get; init; }

    /// <summary>Decode/augment threads of the loader.</summary>
    public int LoaderThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>Batches the loader prepares ahead of the model.</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Images per batch when embedding query and gallery.</summary>
    public int EvalBatchSize { get; init; } = 64;

    /// <summary>Apply k-reciprocal re-ranking in the evaluations.</summary>
    public bool ReRank { get; init; }

    /// <summary>Re-ranking parameters.</summary>
    public ReRankingOptions ReRanking { get; init; } = new();

    /// <summary>Ranked-list images written by the final evaluation.</summary>
    public int RankedListQueries { get; init; } = 5;

    /// <summary>Console reporting.</summary>
    public ProgressMode Progress { get; init; } = ProgressMode.Auto;

    /// <summary>With plain progress: a line every N steps (each epoch also ends with a summary line).</summary>
    public int PlainLogEvery { get; init; } = 20;

    /// <summary>The bias factor in force.</summary>
    public double EffectiveBiasFactor => BiasLearningRateFactor ?? (Optimizer == OptimizerKind.Sgd ? 2.0 : 1.0);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) Fail(nameof(OutputDirectory), "must name a folder");
        if (Epochs < 1) Fail(nameof(Epochs), $"is {Epochs}; must be at least 1");
        if (IdentitiesPerBatch < 2) Fail(nameof(IdentitiesPerBatch), $"(P) is {IdentitiesPerBatch}; the triplet loss needs at least 2 identities per batch");
        if (InstancesPerIdentity < 2) Fail(nameof(InstancesPerIdentity), $"(K) is {InstancesPerIdentity}; the triplet loss needs at least 2 images per identity");
        if (!(BaseLearningRate > 0) || !double.IsFinite(BaseLearningRate)) Fail(nameof(BaseLearningRate), $"is {Num(BaseLearningRate)}; must be a positive number");
        if (!(Momentum >= 0 && Momentum < 1)) Fail(nameof(Momentum), $"is {Num(Momentum)}; must be in [0, 1)");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) Fail(nameof(WeightDecay), $"is {Num(WeightDecay)}; must be ≥ 0");
        if (BiasLearningRateFactor is { } f && (!(f > 0) || !double.IsFinite(f))) Fail(nameof(BiasLearningRateFactor), $"is {Num(f)}; must be positive");
        if (WarmupEpochs is < 1) Fail(nameof(WarmupEpochs), $"is {WarmupEpochs}; must be at least 1 (1 = no warm-up)");
        if (!(DropPathRate >= 0 && DropPathRate < 1)) Fail(nameof(DropPathRate), $"is {Num(DropPathRate)}; must be in [0, 1)");
        if (!(FlipProbability >= 0 && FlipProbability <= 1)) Fail(nameof(FlipProbability), $"is {Num(FlipProbability)}; must be in [0, 1]");
        if (Padding < 0) Fail(nameof(Padding), $"is {Padding}; must be ≥ 0");
        if (!(ErasingProbability >= 0 && ErasingProbability <= 1)) Fail(nameof(ErasingProbability), $"is {Num(ErasingProbability)}; must be in [0, 1]");
        if (EvalEvery < 0) Fail(nameof(EvalEvery), $"is {EvalEvery}; must be ≥ 0");
        if (CheckpointEvery < 0) Fail(nameof(CheckpointEvery), $"is {CheckpointEvery}; must be ≥ 0");
        if (LoaderThreads < 1) Fail(nameof(LoaderThreads), $"is {LoaderThreads}; must be at least 1");
        if (Prefetch < 1) Fail(nameof(Prefetch), $"is {Prefetch}; must be at least 1");
        if (EvalBatchSize < 1) Fail(nameof(EvalBatchSize), $"is {EvalBatchSize}; must be at least 1");
        if (RankedListQueries < 0) Fail(nameof(RankedListQueries), $"is {RankedListQueries}; must be ≥ 0");
        if (PlainLogEvery < 1) Fail(nameof(PlainLogEvery), $"is {PlainLogEvery}; must be at least 1");
        ArgumentNullException.ThrowIfNull(ReRanking, nameof(ReRanking));

        static void Fail(string name, string why) => throw new ArgumentException($"TrainerOptions.{name} {why}", name);
        static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }
}
