using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Spectre.Console;
using TransReID.Cli.Presets;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Training;

namespace TransReID.Cli;

/// <summary>
/// <c>transreid train</c>: trains a preset from scratch, from ImageNet weights (<c>--pretrained</c>, the official start)
/// or from TransReID weights (<c>--init</c>) on a dataset with the official
/// recipe; Ctrl+C or SIGTERM writes a checkpoint at the next step and exits with 130; <c>--resume</c> continues it exactly.
/// </summary>
internal static class TrainCommand
{
    private const int InstancesPerIdentity = 4;

    public static Command Create()
    {
        var preset = CliOptions.Preset();
        var data = new Option<string>("--data") { Description = "Dataset folder (or .csv manifest)", Required = true };
        var kind = new Option<string>("--dataset") { Description = "market, duke, msmt17, veri, folder, csv or auto", DefaultValueFactory = _ => "auto" };
        var output = new Option<string>("--output", "--out") { Description = "Output folder: log, checkpoints, weights, metrics, plots", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs (official 120)", DefaultValueFactory = _ => 120 };
        var batch = CliOptions.Batch("Batch size P·K with K = 4 images per identity (official 64)", 64);
        var device = CliOptions.Device();
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --output" };
        var evalEvery = new Option<int>("--eval-every") { Description = "Evaluate every N epochs (0: only at the end)", DefaultValueFactory = _ => 0 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N epochs (one is always written at the end)", DefaultValueFactory = _ => 5 };
        var lr = new Option<double?>("--lr") { Description = "Base learning rate (default: 0.008 for SGD, 3.5e-4 for AdamW)" };
        var seed = CliOptions.Seed("Seed of the initial weights, sampler, augmentation and drop path", 1234);
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (official) or adamw", DefaultValueFactory = _ => "sgd" };
        var init = new Option<string?>("--init") { Description = "Start from these TransReID weights (.safetensors or .pth, official names) instead of from scratch" };
        var pretrained = new Option<string?>("--pretrained") { Description = "Start from ImageNet ViT/DeiT weights (.pth, timm names), as the official recipe; the rest from scratch with --seed" };
        var progress = new Option<string>("--progress") { Description = "auto, live, plain or none", DefaultValueFactory = _ => "auto" };
        var allowDataChange = new Option<bool>("--allow-data-change") { Description = "With --resume: continue although the dataset (files, labels, sizes) differs from the checkpoint's" };
        var command = new Command("train", "Train a preset on a re-identification dataset")
        {
            preset, data, kind, output, epochs, batch, device, resume, evalEvery, checkpointEvery, lr, seed, optimizer, init, pretrained, progress,
            allowDataChange,
        };
        command.SetAction(r => Program.Guard(() => Run(new Settings(
            PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(data)!, r.GetValue(kind)!, r.GetValue(output)!, r.GetValue(epochs),
            r.GetValue(batch), r.GetValue(device)!, r.GetValue(resume), r.GetValue(evalEvery), r.GetValue(checkpointEvery), r.GetValue(lr),
            r.GetValue(seed), r.GetValue(optimizer)!, r.GetValue(init), r.GetValue(pretrained), r.GetValue(progress)!) { AllowDataChange = r.GetValue(allowDataChange) })));
        return command;
    }

    private sealed record Settings(Preset Preset, string Data, string Kind, string Out, int Epochs, int Batch, string Device, bool Resume,
        int EvalEvery, int CheckpointEvery, double? LearningRate, int Seed, string Optimizer, string? Init, string? Pretrained, string Progress)
    {
        public bool AllowDataChange { get; init; }
    }

    private static int Run(Settings s)
    {
        if (s.Batch < 2 * InstancesPerIdentity || s.Batch % InstancesPerIdentity != 0)
        {
            throw new CliException($"--batch {s.Batch} must be a multiple of K = {InstancesPerIdentity} images per identity, at least {2 * InstancesPerIdentity}");
        }

        UserInput.CheckBatch("--batch", s.Batch, s.Preset.Info);
        if (s.Epochs < 1) throw new CliException($"--epochs {s.Epochs} must be at least 1");
        if (s.EvalEvery < 0) throw new CliException($"--eval-every {s.EvalEvery} must be 0 or more");
        if (s.CheckpointEvery < 0) throw new CliException($"--checkpoint-every {s.CheckpointEvery} must be 0 or more");
        var optimizer = s.Optimizer.ToUpperInvariant() switch
        {
            "SGD" => OptimizerKind.Sgd,
            "ADAMW" => OptimizerKind.AdamW,
            _ => throw new CliException($"--optimizer '{s.Optimizer}' is not sgd or adamw"),
        };
        var progress = s.Progress.ToUpperInvariant() switch
        {
            "AUTO" => ProgressMode.Auto,
            "LIVE" => ProgressMode.Live,
            "PLAIN" => ProgressMode.Plain,
            "NONE" => ProgressMode.None,
            _ => throw new CliException($"--progress '{s.Progress}' is not auto, live, plain or none"),
        };
        double lr = s.LearningRate ?? (optimizer == OptimizerKind.Sgd ? 0.008 : 3.5e-4);
        if (!(lr > 0) || !double.IsFinite(lr)) throw new CliException($"--lr {lr.ToString(CultureInfo.InvariantCulture)} must be a positive number");
        if (s.Init is not null && !File.Exists(s.Init)) throw new CliException($"--init weights '{s.Init}' do not exist");
        if (s.Init is not null && s.Resume) throw new CliException("--init and --resume exclude each other: a resumed run takes its weights from the checkpoint");
        if (s.Pretrained is not null && !File.Exists(s.Pretrained)) throw new CliException($"--pretrained weights '{s.Pretrained}' do not exist");
        if (s.Pretrained is not null && s.Init is not null) throw new CliException("--pretrained and --init exclude each other: --pretrained is an ImageNet backbone, --init a TransReID model");
        if (s.Pretrained is not null && s.Resume) throw new CliException("--pretrained and --resume exclude each other: a resumed run takes its weights from the checkpoint");
        if (s.AllowDataChange && !s.Resume) throw new CliException("--allow-data-change only applies with --resume");

        var dataset = UserInput.OpenDataset(s.Data, s.Kind);
        Console.Out.Write(dataset.Describe());
        var info = s.Preset.Info;
        int p = s.Batch / InstancesPerIdentity;
        UserInput.ThrowIfUnfit(DatasetFit.ForTraining(info, dataset, p, InstancesPerIdentity));

        var options = new TrainerOptions
        {
            OutputDirectory = s.Out,
            Epochs = s.Epochs,
            IdentitiesPerBatch = p,
            InstancesPerIdentity = InstancesPerIdentity,
            Optimizer = optimizer,
            BaseLearningRate = lr,
            WeightDecay = optimizer == OptimizerKind.Sgd ? 1e-4 : 1e-2,
            Seed = s.Seed,
            EvalEvery = s.EvalEvery,
            CheckpointEvery = s.CheckpointEvery,
            Resume = s.Resume,
            AllowDataChange = s.AllowDataChange,
            Progress = progress,
        };

        using var model = s.Preset.Create(UserInput.ParseDevice(s.Device), s.Seed);
        if (s.Init is not null) UserInput.Load(model, s.Init);
        if (s.Pretrained is not null)
        {
            var report = UserInput.LoadPretrained(model, s.Pretrained, s.Seed);
            Program.Status($"[grey]ImageNet initialisation: {Markup.Escape(report.ToString())}[/]");
        }
        var plan = new LearningRatePlan(lr, s.Epochs, options.EffectiveBiasFactor);
        string optimizerName = optimizer == OptimizerKind.Sgd ? "SGD" : "AdamW";
        Program.Status(string.Create(CultureInfo.InvariantCulture,
            $"[grey]{s.Preset.Name} on {model.Core.Backend.Name}: {s.Epochs} epochs, batch {p}×{InstancesPerIdentity}, {optimizerName} lr {lr:R} (warm-up {plan.Schedule.WarmupEpochs} epochs), seed {s.Seed} → {Markup.Escape(Path.GetFullPath(s.Out))}[/]"));

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // a second Ctrl+C ends the process
            e.Cancel = true;
            cts.Cancel();
            Program.Status("[yellow]stopping: a checkpoint is written after the current step (Ctrl+C again to abort without one)[/]");
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (docker stop, systemd, schedulers) stops the run as Ctrl+C does: a checkpoint, then exit 130
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            if (cts.IsCancellationRequested) return; // a second SIGTERM ends the process
            ctx.Cancel = true;
            cts.Cancel();
            Program.Status("[yellow]SIGTERM: stopping; a checkpoint is written after the current step[/]");
        });
        try
        {
            var result = new Trainer(model, dataset, options).Run(cts.Token);
            if (result.Outcome == TrainingOutcome.Interrupted)
            {
                Program.Status($"[yellow]interrupted at epoch {result.Epoch}; continue with the same command and --resume[/]");
                return 130;
            }

            if (result.SkippedImages > 0)
            {
                Program.Status($"[yellow]{result.SkippedImages} unreadable training image file(s) were skipped[/]");
            }

            Program.Status(string.Create(CultureInfo.InvariantCulture,
                $"[green]done[/] in {result.Elapsed.TotalMinutes:F1} min, {result.Steps} steps; weights {Markup.Escape(result.WeightsPath!)}"));
            if (result.Evaluation is { } ev) EvalCommand.PrintMetrics(ev, $"{s.Preset.Name} on {dataset.Name}");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
