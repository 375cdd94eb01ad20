using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Spectre.Console;
using TransReID.Data;
using TransReID.Evaluation;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>How a run ended.</summary>
public enum TrainingOutcome
{
    /// <summary>Every epoch was trained.</summary>
    Completed,

    /// <summary>Stopped on request; a checkpoint to resume from was written.</summary>
    Interrupted,
}

/// <summary>The result of <see cref="Trainer.Run"/>.</summary>
/// <param name="Outcome">Completed or interrupted.</param>
/// <param name="Epoch">The epoch to continue in (Epochs + 1 when completed).</param>
/// <param name="Steps">Optimiser steps taken in total (across resumes).</param>
/// <param name="SkippedImages">Unreadable training-image files found over the whole run (each file counted once; every use was replaced or dropped).</param>
/// <param name="Checkpoint">The checkpoint written last (null when none was written).</param>
/// <param name="WeightsPath">The final weights (<c>model.safetensors</c>), null when interrupted.</param>
/// <param name="Evaluation">The final evaluation, null when interrupted or without query/gallery.</param>
/// <param name="Elapsed">Wall time of this session.</param>
public sealed record TrainingResult(TrainingOutcome Outcome, int Epoch, long Steps, int SkippedImages, CheckpointInfo? Checkpoint,
    string? WeightsPath, EvaluationResult? Evaluation, TimeSpan Elapsed);

/// <summary>A non-finite loss stopped the run; the weights are those before the failing step and no checkpoint was written.</summary>
public sealed class TrainingDivergedException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message, Exception innerException, int epoch, long step, CheckpointInfo? lastCheckpoint)
        : base(message, innerException)
    {
        Epoch = epoch;
        Step = step;
        LastCheckpoint = lastCheckpoint;
    }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The epoch of the failing step.</summary>
    public int Epoch { get; }

    /// <summary>The failing step's number (steps before it were applied).</summary>
    public long Step { get; }

    /// <summary>The last good checkpoint, kept as it was (null when none had been written).</summary>
    public CheckpointInfo? LastCheckpoint { get; }
}

/// <summary>
/// Trains any generated model (<see cref="ITransReIDModel"/>) on a <see cref="ReidDataset"/> with the recipe of docs/model.md#training-recipe:
/// PK batches from <see cref="RandomIdentitySampler"/> through a prefetching <see cref="BatchLoader"/> with the training
/// augmentation, one <see cref="ITransReIDModel.TrainStep"/> per batch, the LR set at the start of each epoch by the
/// warm-up + cosine schedule (<see cref="LearningRatePlan"/>).
/// </summary>
/// <remarks>
/// <para>Outputs in <see cref="TrainerOptions.OutputDirectory"/>: <c>train-log.jsonl</c> (every step),
/// <c>checkpoint.json</c> + <c>checkpoints/</c> (<see cref="CheckpointStore"/>), <c>eval-history.jsonl</c> (periodic
/// evaluations), and at the end <c>model.safetensors</c>, <c>loss-curves.png</c>, <c>metrics.json</c>, <c>cmc.png</c>
/// and <c>ranked/</c>.</para>
/// <para><b>Determinism.</b> Every random stream is a function of saved state: the sampler of (seed, epoch), the
/// augmentation of (seed, epoch, sample index), the drop-path masks of the model's <see cref="Rng"/>, whose state is in
/// the checkpoint. On the CPU backend a run interrupted (<see cref="Run"/>'s token, checked after every step) and
/// resumed therefore produces bit for bit the losses and weights of an uninterrupted run. Evaluations are not
/// interrupted (a cancellation is handled at the next training step).</para>
/// <para><b>Failures.</b> A non-finite loss leaves the weights unchanged (the model checks before updating) and ends
/// the run with <see cref="TrainingDivergedException"/>; the last checkpoint is kept. Unreadable images are replaced by
/// another image of the same identity and counted (<see cref="TrainingResult.SkippedImages"/>).</para>
/// </remarks>
public sealed class Trainer
{
    private readonly ITransReIDModel _model;
    private readonly ReidDataset _dataset;
    private readonly TrainerOptions _options;

    /// <summary>Prepares a run; nothing is read or written until <see cref="Run"/>.</summary>
    /// <param name="model">A model created with the run's seed (for a fresh run) or any instance (resume loads the weights).</param>
    /// <param name="dataset">The dataset; its train identities are the classes.</param>
    /// <param name="options">The settings.</param>
    public Trainer(ITransReIDModel model, ReidDataset dataset, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _model = model;
        _dataset = dataset;
        _options = options;
    }

    /// <summary>Where plain progress lines and messages go (default: standard output).</summary>
    public TextWriter Output { get; init; } = Console.Out;

    /// <summary>Called after every step with the logged record (on the training thread).</summary>
    public event Action<TrainStepRecord>? StepCompleted;

    /// <summary>The LR plan of this run.</summary>
    public LearningRatePlan Plan => new(_options.BaseLearningRate, _options.Epochs, _options.EffectiveBiasFactor, _options.WarmupEpochs);

    /// <summary>
    /// Trains until the last epoch or until <paramref name="cancellationToken"/> is cancelled (then a checkpoint is
    /// written at the next step boundary and the result is <see cref="TrainingOutcome.Interrupted"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The dataset does not fit the model.</exception>
    /// <exception cref="CheckpointException"><c>Resume</c> finds no usable checkpoint, or one of other settings or another dataset.</exception>
    /// <exception cref="ImageLoadException">No batch of an epoch could be read (every training image is unreadable).</exception>
    /// <exception cref="TrainingDivergedException">A loss became NaN or infinite.</exception>
    public TrainingResult Run(CancellationToken cancellationToken = default)
    {
        var fit = DatasetFit.ForTraining(_model.Info, _dataset, _options.IdentitiesPerBatch, _options.InstancesPerIdentity);
        fit.ThrowIfUnfit();
        string outDir = Path.GetFullPath(_options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        var reporter = CreateReporter();
        foreach (string warning in fit.Warnings) reporter.Info("note: " + warning);

        _model.Training = true;
        _model.DropPathRate = _options.DropPathRate;
        if (_options.Losses is { } losses) _model.Losses = losses;
        Optimizer optimizer = _options.Optimizer == OptimizerKind.Sgd
            ? new SgdOptimizer(_options.BaseLearningRate, _options.Momentum) { WeightDecay = _options.WeightDecay, WeightDecayBias = _options.WeightDecay }
            : new AdamWOptimizer(_options.BaseLearningRate, _options.WeightDecay);
        var plan = Plan;
        var sampler = new RandomIdentitySampler(_dataset.Train, _options.IdentitiesPerBatch, _options.InstancesPerIdentity, _options.Seed);
        var store = new CheckpointStore(outDir);
        int stale = store.RemoveStaleTemporaries();
        if (stale > 0) reporter.Info(string.Create(CultureInfo.InvariantCulture, $"note: removed {stale} temporary file(s) of an interrupted write in '{outDir}'"));
        string logPath = Path.Combine(outDir, "train-log.jsonl");
        var fingerprint = DatasetFingerprint.Of(_dataset);

        int startEpoch = 1, startBatch = 0;
        string[] unreadable = [];
        CheckpointInfo? lastCheckpoint = null;
        TrainingLog log;
        if (_options.Resume)
        {
            lastCheckpoint = ResumeFrom(store, optimizer, reporter, fingerprint);
            (startEpoch, startBatch, unreadable) = (lastCheckpoint.State.Epoch, lastCheckpoint.State.NextBatch, lastCheckpoint.State.UnreadableFiles);
            log = TrainingLog.Continue(logPath, lastCheckpoint.State.Step, reporter.Info);
        }
        else
        {
            if (store.Exists) reporter.Info($"note: starting a new run in '{outDir}'; its old checkpoint will be replaced (use resume to continue it)");
            log = TrainingLog.Create(logPath);
        }

        var clock = Stopwatch.StartNew();
        using (log)
        {
            var session = new Session(this, reporter, optimizer, plan, sampler, store, log, cancellationToken)
            {
                LastCheckpoint = lastCheckpoint,
                Fingerprint = fingerprint,
            };
            session.Unreadable.UnionWith(unreadable);
            bool completed;
            try
            {
                completed = reporter.Run(() => session.Loop(startEpoch, startBatch));
            }
            catch (TrainingDivergedException)
            {
                log.Dispose();
                TryWriteLossCurves(logPath, Path.Combine(outDir, "loss-curves.png"));
                throw;
            }

            if (!completed)
            {
                reporter.Info($"interrupted: checkpoint at epoch {session.LastCheckpoint!.State.Epoch}, batch {session.LastCheckpoint.State.NextBatch} ({store.PointerPath}); resume to continue");
                return new TrainingResult(TrainingOutcome.Interrupted, session.LastCheckpoint.State.Epoch, _model.Core.Step, session.Skipped,
                    session.LastCheckpoint, null, null, clock.Elapsed);
            }

            string weights = Path.Combine(outDir, "model.safetensors");
            _model.Save(weights);
            log.Dispose();
            WriteLossCurves(logPath, Path.Combine(outDir, "loss-curves.png"));
            EvaluationResult? evaluation = null;
            if (HasEvaluationSplit)
            {
                evaluation = ModelEvaluation.Evaluate(_model, _dataset, EvaluationOptionsFor(outDir, "final"), CancellationToken.None);
                AppendEvalHistory(outDir, evaluation, _options.Epochs);
                reporter.Info($"final evaluation: {evaluation.Metrics}");
            }

            if (session.Skipped > 0)
            {
                reporter.Info(string.Create(CultureInfo.InvariantCulture,
                    $"{session.Skipped} unreadable training image file(s) were skipped and replaced by other images of the same identity"));
            }

            return new TrainingResult(TrainingOutcome.Completed, _options.Epochs + 1, _model.Core.Step, session.Skipped, session.LastCheckpoint,
                weights, evaluation, clock.Elapsed);
        }
    }

    private bool HasEvaluationSplit => _dataset.Query.ImageCount > 0 && _dataset.Gallery.ImageCount > 0;

    private CheckpointInfo ResumeFrom(CheckpointStore store, Optimizer optimizer, ITrainingReporter reporter, DatasetFingerprint fingerprint)
    {
        if (!store.Exists)
        {
            throw new CheckpointException($"cannot resume: '{store.PointerPath}' does not exist (no checkpoint was written in '{store.Directory}')");
        }

        CheckpointInfo info;
        try
        {
            info = store.Restore(_model, optimizer);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or Runtime.IO.SafetensorsException or Runtime.IO.PthException
            or InvalidOperationException) // the checkpoint's weights do not fit the model (ModelCore.Load)
        {
            throw new CheckpointException($"cannot resume from '{store.PointerPath}': {e.Message}", e);
        }

        var s = info.State;
        var mismatches = new List<string>();
        if (s.Seed != _options.Seed) mismatches.Add($"seed {s.Seed} (now {_options.Seed})");
        if (s.IdentitiesPerBatch != _options.IdentitiesPerBatch) mismatches.Add($"P {s.IdentitiesPerBatch} (now {_options.IdentitiesPerBatch})");
        if (s.InstancesPerIdentity != _options.InstancesPerIdentity) mismatches.Add($"K {s.InstancesPerIdentity} (now {_options.InstancesPerIdentity})");
        if (mismatches.Count > 0)
        {
            throw new CheckpointException(
                $"cannot resume from '{store.PointerPath}': the checkpoint was trained with {string.Join(", ", mismatches)}; resume with the same settings");
        }

        if (s.Dataset is null)
        {
            reporter.Info($"note: the checkpoint '{info.StatePath}' predates dataset fingerprints; the dataset is not checked");
        }
        else if (!string.Equals(s.Dataset.Sha256, fingerprint.Sha256, StringComparison.Ordinal))
        {
            string what = $"the checkpoint was trained on a dataset of {s.Dataset}; '{_dataset.Name}' is {fingerprint}";
            if (!_options.AllowDataChange)
            {
                throw new CheckpointException(
                    $"cannot resume from '{store.PointerPath}': the dataset differs ({what}); resume with the same data, or allow it with --allow-data-change");
            }

            reporter.Info($"warning: the dataset changed ({what}); continuing as allowed");
        }

        if (s.Epochs != _options.Epochs || s.BaseLearningRate != _options.BaseLearningRate)
        {
            reporter.Info(string.Create(CultureInfo.InvariantCulture,
                $"note: the checkpoint's schedule was {s.Epochs} epochs at base LR {s.BaseLearningRate:R}; continuing with {_options.Epochs} epochs at {_options.BaseLearningRate:R}"));
        }

        reporter.Info(string.Create(CultureInfo.InvariantCulture, $"resuming at epoch {s.Epoch}, batch {s.NextBatch} (step {s.Step}) from {info.WeightsPath}"));
        return info;
    }

    private ITrainingReporter CreateReporter()
    {
        var mode = _options.Progress;
        if (mode == ProgressMode.Auto)
        {
            bool interactive = ReferenceEquals(Output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            mode = interactive ? ProgressMode.Live : ProgressMode.Plain;
        }

        return mode switch
        {
            ProgressMode.Live => new SpectreTrainingReporter(ReferenceEquals(Output, Console.Out)
                ? AnsiConsole.Console
                : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Output) })),
            ProgressMode.Plain => new PlainTrainingReporter(Output, _options.PlainLogEvery),
            _ => new SilentTrainingReporter(),
        };
    }

    private EvaluationOptions EvaluationOptionsFor(string? dir, string title) => new()
    {
        BatchSize = _options.EvalBatchSize,
        LoaderThreads = _options.LoaderThreads,
        ReRank = _options.ReRank,
        ReRanking = _options.ReRanking,
        OutputDirectory = dir,
        RankedListQueries = _options.RankedListQueries,
        Title = $"{ShortName(_model.Info.Name)} on {_dataset.Name} ({title})",
    };

    private static string ShortName(string name) => name[(name.LastIndexOf('.') + 1)..];

    private void AppendEvalHistory(string outDir, EvaluationResult evaluation, int epoch) =>
        File.AppendAllText(Path.Combine(outDir, "eval-history.jsonl"), ModelEvaluation.MetricsLine(evaluation, _model.Info.Name, epoch) + "\n");

    private static void TryWriteLossCurves(string logPath, string pngPath)
    {
        try
        {
            WriteLossCurves(logPath, pngPath);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException)
        {
            // the divergence is the error worth reporting; the plot is a diagnostic extra
        }
    }

    /// <summary>Plots every logged step's losses (the whole run, resumed parts included).</summary>
    private static void WriteLossCurves(string logPath, string pngPath)
    {
        var records = TrainingLog.ReadAll(logPath);
        if (records.Count == 0) return;
        var points = records.Select(r => ((int)r.Step, r.Losses)).ToList();
        Plots.SaveLossCurves(pngPath, points, "Training losses");
    }

    /// <summary>The state of one call of <see cref="Run"/>.</summary>
    private sealed class Session(Trainer trainer, ITrainingReporter reporter, Optimizer optimizer, LearningRatePlan plan,
        RandomIdentitySampler sampler, CheckpointStore store, TrainingLog log, CancellationToken cancellationToken)
    {
        private readonly TrainerOptions _o = trainer._options;
        private readonly ITransReIDModel _model = trainer._model;
        private readonly Stopwatch _clock = new();
        private long _stepsDone;
        private long _stepsTotal;

        /// <summary>Distinct unreadable training files found so far (this session and the ones before it).</summary>
        public HashSet<string> Unreadable { get; } = new(StringComparer.Ordinal);

        public int Skipped => Unreadable.Count;

        public CheckpointInfo? LastCheckpoint { get; set; }

        public DatasetFingerprint? Fingerprint { get; init; }

        /// <summary>Runs the epochs; false when interrupted (a checkpoint was written).</summary>
        public bool Loop(int startEpoch, int startBatch)
        {
            var info = _model.Info;
            var transform = new TrainTransform(info.ImageHeight, info.ImageWidth, info.PixelMean, info.PixelStd)
            {
                FlipProbability = _o.FlipProbability,
                Padding = _o.Padding,
                ErasingProbability = _o.ErasingProbability,
            };
            _clock.Start();
            for (int epoch = startEpoch; epoch <= _o.Epochs; epoch++)
            {
                plan.Apply(optimizer, epoch);
                var loader = BatchLoader.ForTraining(trainer._dataset.Train, sampler, epoch, transform, new BatchLoaderOptions
                {
                    Seed = _o.Seed,
                    Threads = _o.LoaderThreads,
                    Prefetch = _o.Prefetch,
                    Log = reporter.Info,
                });
                int first = epoch == startEpoch ? Math.Min(startBatch, loader.BatchCount) : 0;
                if (_stepsTotal == 0)
                {
                    _stepsTotal = (loader.BatchCount - first) + ((long)(_o.Epochs - epoch) * loader.BatchCount);
                }

                reporter.EpochStarted(epoch, _o.Epochs, loader.BatchCount, optimizer.LearningRate);
                var epochClock = Stopwatch.StartNew();
                var sums = new double[5];
                int steps = 0, images = 0, next = first;
                bool interrupted = cancellationToken.IsCancellationRequested;
                long lastTick = _clock.ElapsedTicks;
                if (!interrupted)
                {
                    foreach (var batch in loader.ReadAll(first, CancellationToken.None))
                    {
                        var record = Step(batch, epoch, optimizer.LearningRate, ref lastTick);
                        next = batch.Index + 1;
                        if (record is not null)
                        {
                            steps++;
                            images += record.Images;
                            sums[0] += record.IdGlobal;
                            sums[1] += record.IdParts;
                            sums[2] += record.TripletGlobal;
                            sums[3] += record.TripletParts;
                            sums[4] += record.Total;
                            _stepsDone++;
                            log.Append(record);
                            trainer.StepCompleted?.Invoke(record);
                            reporter.StepCompleted(record, Position(epoch, next, loader.BatchCount));
                        }

                        if (cancellationToken.IsCancellationRequested)
                        {
                            interrupted = true;
                            break;
                        }
                    }
                }

                Unreadable.UnionWith(loader.BadPaths);
                if (interrupted)
                {
                    bool epochDone = next >= loader.BatchCount;
                    LastCheckpoint = Checkpoint(epochDone ? epoch + 1 : epoch, epochDone ? 0 : next);
                    return false;
                }

                if (steps == 0 && next > first)
                {
                    int total = trainer._dataset.Train.ImageCount;
                    string example = loader.BadPaths.Order(StringComparer.Ordinal).FirstOrDefault() ?? "(none)";
                    throw new ImageLoadException(example, string.Create(CultureInfo.InvariantCulture,
                        $"epoch {epoch} had no readable batch: {Unreadable.Count} of {total} training image file(s) are unreadable (this one among them). The run stopped without training; check the dataset"));
                }

                double seconds = epochClock.Elapsed.TotalSeconds;
                int n = Math.Max(1, steps);
                reporter.EpochCompleted(epoch, new EpochSummary(steps, sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n, sums[4] / n,
                    optimizer.LearningRate, images / Math.Max(seconds, 1e-9), seconds), Position(epoch, loader.BatchCount, loader.BatchCount));

                if ((_o.CheckpointEvery > 0 && epoch % _o.CheckpointEvery == 0) || epoch == _o.Epochs)
                {
                    LastCheckpoint = Checkpoint(epoch + 1, 0);
                }

                if (_o.EvalEvery > 0 && epoch % _o.EvalEvery == 0 && epoch != _o.Epochs && trainer.HasEvaluationSplit)
                {
                    var evaluation = ModelEvaluation.Evaluate(_model, trainer._dataset, trainer.EvaluationOptionsFor(null, $"epoch {epoch}"), CancellationToken.None);
                    trainer.AppendEvalHistory(store.Directory, evaluation, epoch);
                    reporter.Info(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch} evaluation: {evaluation.Metrics}"));
                }
            }

            return true;
        }

        private TrainStepRecord? Step(ReidBatch batch, int epoch, double lr, ref long lastTick)
        {
            var info = _model.Info;
            if (!UsableBatch(batch, out float[] images, out int[] labels, out int[] cameras, out int[] views))
            {
                reporter.Info(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch} batch {batch.Index}: skipped (after unreadable images it has fewer than 2 identities with 2 images)"));
                return null;
            }

            TrainStepResult result;
            try
            {
                result = _model.TrainStep(images, labels, info.UsesCameras ? cameras : [], info.UsesViews ? views : [], optimizer);
            }
            catch (NonFiniteLossException e)
            {
                long failing = _model.Core.Step + 1;
                string kept = LastCheckpoint is { } c
                    ? string.Create(CultureInfo.InvariantCulture, $"the last good checkpoint ({c.WeightsPath}, epoch {c.State.Epoch}, step {c.State.Step}) is kept")
                    : "no checkpoint had been written yet";
                throw new TrainingDivergedException(
                    string.Create(CultureInfo.InvariantCulture,
                        $"training diverged at epoch {epoch}, step {failing} (lr {lr:0.###e+0}): {e.Message}. The run stopped; {kept}. Lower the learning rate and resume or restart."),
                    e, epoch, failing, LastCheckpoint);
            }

            long now = _clock.ElapsedTicks;
            double seconds = Math.Max((now - lastTick) / (double)Stopwatch.Frequency, 1e-9);
            lastTick = now;
            return new TrainStepRecord(epoch, _model.Core.Step, batch.Index, labels.Length, result.IdGlobal, result.IdParts,
                result.TripletGlobal, result.TripletParts, result.Total, lr, labels.Length / seconds);
        }

        /// <summary>
        /// The batch as the model takes it. A batch shrunk by unreadable images may hold an identity only once, which the
        /// triplet loss cannot use: such samples are left out; the batch is skipped when fewer than 2 identities remain.
        /// </summary>
        private static bool UsableBatch(ReidBatch batch, out float[] images, out int[] labels, out int[] cameras, out int[] views)
        {
            var counts = new Dictionary<int, int>();
            foreach (int l in batch.Labels) counts[l] = counts.TryGetValue(l, out int c) ? c + 1 : 1;
            if (counts.Values.All(c => c >= 2))
            {
                (images, labels, cameras, views) = (batch.Images, batch.Labels, batch.Cameras, batch.Views);
                return counts.Count >= 2;
            }

            int floats = batch.Count == 0 ? 0 : batch.Images.Length / batch.Count;
            int[] keep = Enumerable.Range(0, batch.Count).Where(i => counts[batch.Labels[i]] >= 2).ToArray();
            images = new float[keep.Length * floats];
            for (int k = 0; k < keep.Length; k++) batch.Images.AsSpan(keep[k] * floats, floats).CopyTo(images.AsSpan(k * floats));
            labels = keep.Select(i => batch.Labels[i]).ToArray();
            cameras = keep.Select(i => batch.Cameras[i]).ToArray();
            views = keep.Select(i => batch.Views[i]).ToArray();
            return labels.Distinct().Count() >= 2;
        }

        private TrainingPosition Position(int epoch, int batch, int batches)
        {
            TimeSpan? eta = _stepsDone == 0 ? null
                : TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds / _stepsDone * Math.Max(0, _stepsTotal - _stepsDone));
            return new TrainingPosition(epoch, _o.Epochs, batch, batches, _stepsDone, _stepsTotal, eta);
        }

        private CheckpointInfo Checkpoint(int epoch, int nextBatch)
        {
            var core = _model.Core;
            var info = store.Save(_model, new TrainingState
            {
                ModelName = core.ModelName,
                Epoch = epoch,
                NextBatch = nextBatch,
                Step = core.Step,
                NumBatchesTracked = (long[])core.NumBatchesTracked.Clone(),
                DropPathRng = _model.DropPathRng.State,
                Optimizer = _o.Optimizer,
                Seed = _o.Seed,
                IdentitiesPerBatch = _o.IdentitiesPerBatch,
                InstancesPerIdentity = _o.InstancesPerIdentity,
                Epochs = _o.Epochs,
                BaseLearningRate = _o.BaseLearningRate,
                SkippedImages = Skipped,
                UnreadableFiles = [.. Unreadable.Order(StringComparer.Ordinal)],
                Dataset = Fingerprint,
            });
            return info;
        }
    }
}
