using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Tests.Data;
using TransReID.Training;

namespace TransReID.Tests.Training;

/// <summary>A tiny synthetic dataset shared by the trainer tests: 4 train identities × 2 cameras × 3 images, 32×16.</summary>
public sealed class TinySyntheticSet : IDisposable
{
    private readonly TempDirectory _dir = new();

    public TinySyntheticSet() =>
        Dataset = SyntheticDataset.Generate(_dir.Combine("synthetic"), ids: 8, cameras: 2, seed: 11, imagesPerIdPerCamera: 3, height: 32, width: 16);

    public ReidDataset Dataset { get; }

    public void Dispose() => _dir.Dispose();
}

public sealed class TrainerTests(TinySyntheticSet data) : IClassFixture<TinySyntheticSet>, IDisposable
{
    private const int Seed = 77;
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private TrainerOptions Options(string name, int epochs = 2) => new()
    {
        OutputDirectory = _out.Combine(name),
        Epochs = epochs,
        IdentitiesPerBatch = 2,
        InstancesPerIdentity = 2,
        Seed = Seed,
        LoaderThreads = 2,
        Progress = ProgressMode.None,
        CheckpointEvery = 1,
        EvalBatchSize = 8,
        RankedListQueries = 2,
    };

    private (TrainingResult Result, List<TrainStepRecord> Steps) Train(TrainerOptions options, Func<TrainStepRecord, bool>? stopAfter = null)
    {
        using var model = TrainerTinyJpm.Create(Device.Cpu, Seed);
        return Train(model, options, stopAfter);
    }

    private (TrainingResult Result, List<TrainStepRecord> Steps) Train(TrainerTinyJpm model, TrainerOptions options, Func<TrainStepRecord, bool>? stopAfter)
    {
        var steps = new List<TrainStepRecord>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var trainer = new Trainer(model, data.Dataset, options) { Output = TextWriter.Null };
        trainer.StepCompleted += r =>
        {
            steps.Add(r);
            if (stopAfter?.Invoke(r) == true) cts.Cancel();
        };
        return (trainer.Run(cts.Token), steps);
    }

    private static void AssertSameLosses(IReadOnlyList<TrainStepRecord> expected, IReadOnlyList<TrainStepRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.Equal((e.Epoch, e.Step, e.Batch, e.Images), (a.Epoch, a.Step, a.Batch, a.Images));
            // bit for bit: compare the raw float bits of every component
            Assert.Equal(BitConverter.SingleToInt32Bits(e.IdGlobal), BitConverter.SingleToInt32Bits(a.IdGlobal));
            Assert.Equal(BitConverter.SingleToInt32Bits(e.IdParts), BitConverter.SingleToInt32Bits(a.IdParts));
            Assert.Equal(BitConverter.SingleToInt32Bits(e.TripletGlobal), BitConverter.SingleToInt32Bits(a.TripletGlobal));
            Assert.Equal(BitConverter.SingleToInt32Bits(e.TripletParts), BitConverter.SingleToInt32Bits(a.TripletParts));
            Assert.Equal(BitConverter.SingleToInt32Bits(e.Total), BitConverter.SingleToInt32Bits(a.Total));
            Assert.Equal(e.LearningRate, a.LearningRate);
        }
    }

    /// <summary>Batches of epoch <paramref name="epoch"/> (the sampler stops when fewer than P identities have chunks left).</summary>
    private int Batches(int epoch) => new RandomIdentitySampler(data.Dataset.Train, 2, 2, Seed).EpochBatches(epoch).Count;

    private static byte[] Hash(string path) => SHA256.HashData(File.ReadAllBytes(path));

    [Fact]
    public void TwoEpochs_OnATinySyntheticSet_WritesLogCheckpointWeightsMetricsAndPlots()
    {
        var options = Options("plain");
        var (result, steps) = Train(options);

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        Assert.Equal(3, result.Epoch);
        Assert.Equal(steps.Count, result.Steps);
        int total = Batches(1) + Batches(2);
        Assert.InRange(Batches(1), 4, 6); // 4 identities × 3 chunks of K = 2, P = 2 per batch
        Assert.Equal(total, steps.Count);
        Assert.All(steps, s => Assert.True(float.IsFinite(s.Total) && s.Total > 0 && s.IdParts > 0 && s.Images == 4));
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), steps.Select(s => s.Step));

        // the LR of each epoch is the plan's (2 epochs: no warm-up; the last epoch is at lr_min)
        var plan = new LearningRatePlan(options.BaseLearningRate, 2);
        Assert.All(steps, s => Assert.Equal(plan.At(s.Epoch), s.LearningRate));

        string dir = options.OutputDirectory;
        var logged = TrainingLog.ReadAll(Path.Combine(dir, "train-log.jsonl"));
        AssertSameLosses(steps, logged);
        foreach (string f in (string[])["model.safetensors", "checkpoint.json", "loss-curves.png", "metrics.json", "cmc.png", "eval-history.jsonl"])
        {
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        }

        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "ranked"), "*.png").Length);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "checkpoints")).Length); // only the latest checkpoint is kept
        Assert.NotNull(result.Evaluation);
        Assert.InRange(result.Evaluation.Metrics.MeanAP, 0, 1);
        Assert.Equal(8, result.Evaluation.QueryImages);
        Assert.Equal(0, result.SkippedImages);
        var state = new CheckpointStore(dir).ReadCurrent().State;
        Assert.Equal((3, 0, (long)total), (state.Epoch, state.NextBatch, state.Step));
    }

    [Theory]
    [InlineData(true)] // after the last batch of epoch 1: resume at the start of epoch 2
    [InlineData(false)] // in the middle of epoch 1: resume at batch 3 of epoch 1
    public void Resume_GivesBitForBitTheLossesAndWeightsOfAnUninterruptedRun(bool atEpochEnd)
    {
        int stopAfterStep = atEpochEnd ? Batches(1) : 3;
        var straight = Options("straight");
        var (_, expected) = Train(straight);

        var split = Options("split");
        var (first, before) = Train(split, r => r.Step == stopAfterStep);
        Assert.Equal(TrainingOutcome.Interrupted, first.Outcome);
        Assert.Equal(stopAfterStep, before.Count);
        Assert.Null(first.WeightsPath);

        // a fresh process: a new model with another seed; everything comes from the checkpoint
        using var model = TrainerTinyJpm.Create(Device.Cpu, 999);
        var (second, after) = Train(model, split with { Resume = true }, null);
        Assert.Equal(TrainingOutcome.Completed, second.Outcome);

        AssertSameLosses(expected, [.. before, .. after]);
        AssertSameLosses(expected, TrainingLog.ReadAll(Path.Combine(split.OutputDirectory, "train-log.jsonl")));
        Assert.Equal(Hash(Path.Combine(straight.OutputDirectory, "model.safetensors")), Hash(Path.Combine(split.OutputDirectory, "model.safetensors")));
    }

    [Fact]
    public void FailedCheckpointWrite_LeavesThePreviousCheckpointCurrentAndComplete()
    {
        var options = Options("atomic", epochs: 3);
        int epoch1 = Batches(1), epoch2 = epoch1 + Batches(2);
        Train(options, r => r.Step == epoch1); // checkpoint after epoch 1
        var store = new CheckpointStore(options.OutputDirectory);
        var before = store.ReadCurrent();
        byte[] pointer = File.ReadAllBytes(store.PointerPath);
        byte[] weights = Hash(before.WeightsPath), state = Hash(before.StatePath);

        // The next checkpoint (after epoch 2) cannot be written: its state file's name is taken by a folder.
        string blocked = Path.Combine(store.FilesDirectory, $"ckpt-step{epoch2:D8}.state.safetensors");
        Directory.CreateDirectory(blocked);
        using (var model = TrainerTinyJpm.Create(Device.Cpu, Seed))
        {
            Assert.ThrowsAny<IOException>(() => Train(model, options with { Resume = true }, null));
        }

        Assert.Equal(pointer, File.ReadAllBytes(store.PointerPath));
        var after = store.ReadCurrent();
        Assert.Equal(before.State, after.State with { NumBatchesTracked = before.State.NumBatchesTracked, DropPathRng = before.State.DropPathRng });
        Assert.Equal(weights, Hash(after.WeightsPath));
        Assert.Equal(state, Hash(after.StatePath));
        Assert.Empty(Directory.GetFiles(store.FilesDirectory, "*.tmp", SearchOption.AllDirectories));

        // and the run can still be resumed from it
        Directory.Delete(blocked);
        using var resumed = TrainerTinyJpm.Create(Device.Cpu, Seed);
        var (result, steps) = Train(resumed, options with { Resume = true }, null);
        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        Assert.Equal(epoch1 + 1, steps[0].Step);
    }

    [Fact]
    public void NonFiniteLoss_StopsTheRun_AndKeepsTheLastGoodCheckpoint()
    {
        var options = Options("nan", epochs: 3);
        int epoch1 = Batches(1);
        Train(options, r => r.Step == epoch1);
        var store = new CheckpointStore(options.OutputDirectory);
        var good = store.ReadCurrent();
        byte[] pointer = File.ReadAllBytes(store.PointerPath);
        byte[] weights = Hash(good.WeightsPath);

        using var model = TrainerTinyJpm.Create(Device.Cpu, Seed);
        var huge = options with { Resume = true, BaseLearningRate = 1e30 };
        var e = Assert.Throws<TrainingDivergedException>(() => Train(model, huge, null));

        Assert.Contains("diverged", e.Message, StringComparison.Ordinal);
        Assert.Contains("last good checkpoint", e.Message, StringComparison.Ordinal);
        Assert.True(e.Step > epoch1);
        Assert.Equal(good.WeightsPath, e.LastCheckpoint?.WeightsPath);
        Assert.Equal(pointer, File.ReadAllBytes(store.PointerPath));
        Assert.Equal(weights, Hash(store.ReadCurrent().WeightsPath));
        Assert.False(File.Exists(Path.Combine(options.OutputDirectory, "model.safetensors")));
        // the steps before the failing one were logged, the failing one was not
        Assert.Equal(e.Step - 1, TrainingLog.ReadAll(Path.Combine(options.OutputDirectory, "train-log.jsonl")).Last().Step);
    }

    [Fact]
    public void UnreadableTrainingImage_IsReplacedAndCounted_AndTheRunCompletes()
    {
        // the first image of every identity is unreadable
        var images = data.Dataset.Train.Images.ToArray();
        foreach (int i in Enumerable.Range(0, images.Length).Where(i => i == 0 || images[i].Identity != images[i - 1].Identity))
        {
            images[i] = images[i] with { Path = _out.Write($"bad/{i}.jpg", "not a jpeg") };
        }

        var dataset = data.Dataset with { Train = new ReidSplit(images) };
        using var model = TrainerTinyJpm.Create(Device.Cpu, Seed);
        var trainer = new Trainer(model, dataset, Options("corrupt") with { Epochs = 1 }) { Output = TextWriter.Null };

        var result = trainer.Run(TestContext.Current.CancellationToken);

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        Assert.True(result.SkippedImages >= 1, $"skipped {result.SkippedImages}");
        Assert.All(TrainingLog.ReadAll(Path.Combine(_out.Combine("corrupt"), "train-log.jsonl")), r => Assert.Equal(4, r.Images));
    }

    [Fact]
    public void ResumeWithoutACheckpoint_OrWithOtherSamplerSettings_IsAClearError()
    {
        var options = Options("noresume");
        var e = Assert.Throws<CheckpointException>(() => Train(options with { Resume = true }));
        Assert.Contains("checkpoint.json", e.Message, StringComparison.Ordinal);

        Train(options, r => r.Step == 2);
        e = Assert.Throws<CheckpointException>(() => Train(options with { Resume = true, Seed = Seed + 1 }));
        Assert.Contains("seed 77", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DatasetThatDoesNotFitTheModel_IsRejectedBeforeTraining_NamingEveryProblem()
    {
        using var model = TrainerTinyThreeClasses.Create(Device.Cpu, 1);
        var trainer = new Trainer(model, data.Dataset, Options("unfit") with { IdentitiesPerBatch = 5 }) { Output = TextWriter.Null };
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Run(TestContext.Current.CancellationToken));
        Assert.Contains("4 identities but the model TrainerTinyThreeClasses has Classes = 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("P = 5", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_out.Combine("unfit")));

        var cameras = data.Dataset with { Cameras = 3 };
        var report = DatasetFit.ForTraining(TrainerTinyJpm.ModelInfo, cameras, 2);
        Assert.Contains(report.Errors, m => m.Contains("3 cameras but the model TrainerTinyJpm's camera table has 2", StringComparison.Ordinal));
        var noCameras = DatasetFit.ForEvaluation(TrainerTinyJpm.ModelInfo, data.Dataset with { Cameras = 0 });
        Assert.Contains(noCameras.Errors, m => m.Contains("has no camera labels", StringComparison.Ordinal));
    }

    [Fact]
    public void Resume_AfterATornLastLogLine_DropsItAndLaterSteps_WithAWarning()
    {
        var straight = Options("torn-straight");
        var (_, expected) = Train(straight);

        var options = Options("torn");
        Train(options, r => r.Step == 3); // checkpoint at step 3
        string logPath = Path.Combine(options.OutputDirectory, "train-log.jsonl");
        // what a full disk leaves: a record of a step after the checkpoint, then half a line
        string step4 = expected[3].ToJson();
        File.AppendAllText(logPath, step4 + "\n" + step4[..(step4.Length / 2)]);

        var output = new StringWriter();
        using var model = TrainerTinyJpm.Create(Device.Cpu, 999);
        var trainer = new Trainer(model, data.Dataset, options with { Resume = true, Progress = ProgressMode.Plain }) { Output = output };
        var result = trainer.Run(TestContext.Current.CancellationToken);

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        Assert.Contains("warning: '" + logPath + "': dropped 1 line(s) that are not training-step records", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("dropped 1 record(s) of steps after the checkpoint's step 3", output.ToString(), StringComparison.Ordinal);
        AssertSameLosses(expected, TrainingLog.ReadAll(logPath));
    }

    [Fact]
    public void StaleCheckpointTemporaries_AreRemovedAtStart_AndAfterEveryWrite()
    {
        var options = Options("stale");
        var store = new CheckpointStore(options.OutputDirectory);
        Directory.CreateDirectory(store.FilesDirectory);
        string[] stale =
        [
            Path.Combine(store.FilesDirectory, ".ckpt-step00000009.safetensors.0123456789abcdef0123456789abcdef.tmp"),
            Path.Combine(store.FilesDirectory, ".ckpt-step00000009.state.safetensors.0123456789abcdef0123456789abcdee.tmp"),
            Path.Combine(options.OutputDirectory, ".checkpoint.json.0123456789abcdef0123456789abcdef.tmp"),
        ];
        foreach (string f in stale) File.WriteAllText(f, "half a checkpoint");
        string unrelated = Path.Combine(store.FilesDirectory, "notes.tmp");
        File.WriteAllText(unrelated, "not ours");

        var output = new StringWriter();
        using (var model = TrainerTinyJpm.Create(Device.Cpu, Seed))
        {
            var trainer = new Trainer(model, data.Dataset, options with { Epochs = 1, Progress = ProgressMode.Plain }) { Output = output };
            trainer.Run(TestContext.Current.CancellationToken);
        }

        Assert.All(stale, f => Assert.False(File.Exists(f), f));
        Assert.True(File.Exists(unrelated));
        Assert.Contains("removed 3 temporary file(s)", output.ToString(), StringComparison.Ordinal);

        // a write interrupted mid-run leaves one; the next committed checkpoint removes it
        string late = Path.Combine(store.FilesDirectory, ".ckpt-step00000099.safetensors.fedcba9876543210fedcba9876543210.tmp");
        File.WriteAllText(late, "x");
        using var m2 = TrainerTinyJpm.Create(Device.Cpu, Seed);
        store.Save(m2, store.ReadCurrent().State with { Step = 12345 });
        Assert.False(File.Exists(late));
        Assert.Equal(0, store.RemoveStaleTemporaries());
    }

    [Fact]
    public void Resume_WithAnotherDataset_IsRefused_UnlessAllowed()
    {
        var options = Options("fingerprint");
        Train(options, r => r.Step == 2);
        var state = new CheckpointStore(options.OutputDirectory).ReadCurrent().State;
        Assert.Equal(DatasetFingerprint.Of(data.Dataset), state.Dataset);

        // the same images with one relabelled (or one file rewritten) is another dataset
        var images = data.Dataset.Train.Images.ToArray();
        images[0] = images[0] with { Camera = 1 - images[0].Camera };
        var other = data.Dataset with { Train = new ReidSplit(images) };
        Assert.NotEqual(DatasetFingerprint.Of(data.Dataset).Sha256, DatasetFingerprint.Of(other).Sha256);

        using (var model = TrainerTinyJpm.Create(Device.Cpu, Seed))
        {
            var trainer = new Trainer(model, other, options with { Resume = true }) { Output = TextWriter.Null };
            var e = Assert.Throws<CheckpointException>(() => trainer.Run(TestContext.Current.CancellationToken));
            Assert.Contains("the dataset differs", e.Message, StringComparison.Ordinal);
            Assert.Contains("--allow-data-change", e.Message, StringComparison.Ordinal);
        }

        using (var model = TrainerTinyJpm.Create(Device.Cpu, Seed))
        {
            var output = new StringWriter();
            var trainer = new Trainer(model, other, options with { Resume = true, AllowDataChange = true, Progress = ProgressMode.Plain }) { Output = output };
            Assert.Equal(TrainingOutcome.Completed, trainer.Run(TestContext.Current.CancellationToken).Outcome);
            Assert.Contains("warning: the dataset changed", output.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DatasetFingerprint_KeepsAMovedFolder_AndSeesAFileOfAnotherSize()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        var first = SyntheticDataset.Generate(a.Combine("x"), ids: 4, cameras: 2, seed: 3, imagesPerIdPerCamera: 2, height: 32, width: 16);
        var moved = SyntheticDataset.Generate(b.Combine("elsewhere"), ids: 4, cameras: 2, seed: 3, imagesPerIdPerCamera: 2, height: 32, width: 16);
        Assert.Equal(DatasetFingerprint.Of(first), DatasetFingerprint.Of(moved));
        File.AppendAllText(moved.Train.Images[0].Path, "x");
        Assert.NotEqual(DatasetFingerprint.Of(first).Sha256, DatasetFingerprint.Of(moved).Sha256);
    }

    [Fact]
    public void EveryTrainingImageUnreadable_FailsTheRun_CountingFilesNotDraws()
    {
        var images = data.Dataset.Train.Images.Select((img, i) => img with { Path = _out.Write($"allbad/{i}.jpg", "not a jpeg") }).ToArray();
        var dataset = data.Dataset with { Train = new ReidSplit(images) };
        using var model = TrainerTinyJpm.Create(Device.Cpu, Seed);
        var trainer = new Trainer(model, dataset, Options("allbad") with { Epochs = 2 }) { Output = TextWriter.Null };

        var e = Assert.Throws<ImageLoadException>(() => trainer.Run(TestContext.Current.CancellationToken));

        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{images.Length} of {images.Length} training image file(s) are unreadable"),
            e.Message, StringComparison.Ordinal);
        Assert.Contains("epoch 1 had no readable batch", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_out.Combine("allbad"), "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(_out.Combine("allbad"), "metrics.json")));
    }

    [Fact]
    public void UnreadableImages_AreCountedOncePerFile_AcrossEpochsAndResumes()
    {
        var images = data.Dataset.Train.Images.ToArray();
        images[0] = images[0] with { Path = _out.Write("once/bad.jpg", "not a jpeg") };
        var dataset = data.Dataset with { Train = new ReidSplit(images) };
        var options = Options("once", epochs: 3);
        using (var model = TrainerTinyJpm.Create(Device.Cpu, Seed))
        {
            var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            var trainer = new Trainer(model, dataset, options) { Output = TextWriter.Null };
            trainer.StepCompleted += r => { if (r.Epoch == 2) cts.Cancel(); };
            Assert.Equal(TrainingOutcome.Interrupted, trainer.Run(cts.Token).Outcome);
        }

        using var resumed = TrainerTinyJpm.Create(Device.Cpu, Seed);
        var result = new Trainer(resumed, dataset, options with { Resume = true }) { Output = TextWriter.Null }.Run(TestContext.Current.CancellationToken);
        Assert.Equal(1, result.SkippedImages);
    }
}
