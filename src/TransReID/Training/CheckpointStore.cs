using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>Where the current checkpoint of a run lies.</summary>
/// <param name="PointerPath">The commit record (<c>checkpoint.json</c>).</param>
/// <param name="WeightsPath">The weights (official names; usable on their own with <c>transreid eval</c>).</param>
/// <param name="StatePath">The training state (optimiser buffers, counters, generators).</param>
/// <param name="State">What the state file holds.</param>
public sealed record CheckpointInfo(string PointerPath, string WeightsPath, string StatePath, TrainingState State);

/// <summary>
/// Checkpoints of a run in its output folder. A checkpoint is two files under <c>checkpoints/</c>, named by the step
/// (<c>ckpt-step00000123.safetensors</c> with the weights, <c>ckpt-step00000123.state.safetensors</c> with the training
/// state), and the commit record <c>checkpoint.json</c> that names them. Each file is written atomically
/// (<see cref="AtomicFile"/>) and the commit record last, so a failure at any point leaves the previous checkpoint
/// complete and current; older checkpoint files are deleted only after the new record is in place.
/// </summary>
public sealed class CheckpointStore
{
    private const string Format = "transreid-checkpoint";
    private const string StateFormat = "transreid-training-state";

    /// <summary>A store for the output folder <paramref name="outputDirectory"/>.</summary>
    public CheckpointStore(string outputDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        Directory = Path.GetFullPath(outputDirectory);
    }

    /// <summary>The run's output folder.</summary>
    public string Directory { get; }

    /// <summary>The commit record.</summary>
    public string PointerPath => Path.Combine(Directory, "checkpoint.json");

    /// <summary>The folder of the checkpoint files.</summary>
    public string FilesDirectory => Path.Combine(Directory, "checkpoints");

    /// <summary>Whether a checkpoint has been committed.</summary>
    public bool Exists => File.Exists(PointerPath);

    /// <summary>
    /// Writes the model's weights and <paramref name="state"/> with the optimiser buffers of <paramref name="model"/>,
    /// then commits them. Nothing is written when the current checkpoint already holds this step.
    /// </summary>
    public CheckpointInfo Save(ITransReIDModel model, TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(state);
        System.IO.Directory.CreateDirectory(FilesDirectory);
        if (Exists && TryReadCurrent() is { } current && current.State.Step == state.Step
            && string.Equals(current.State.ModelName, state.ModelName, StringComparison.Ordinal)
            && current.State.Epoch == state.Epoch && current.State.NextBatch == state.NextBatch)
        {
            return current;
        }

        string stem = string.Create(CultureInfo.InvariantCulture, $"ckpt-step{state.Step:D8}");
        string weights = Path.Combine(FilesDirectory, stem + ".safetensors");
        string statePath = Path.Combine(FilesDirectory, stem + ".state.safetensors");

        model.Core.Save(weights, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["transreid.step"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["transreid.epoch"] = state.Epoch.ToString(CultureInfo.InvariantCulture),
        });
        WriteState(statePath, model.Core, state);
        AtomicFile.WriteAllText(PointerPath, PointerJson(state, weights, statePath));
        RemoveStaleTemporaries();

        foreach (string file in System.IO.Directory.EnumerateFiles(FilesDirectory, "ckpt-step*.safetensors"))
        {
            string full = Path.GetFullPath(file);
            if (!string.Equals(full, weights, StringComparison.Ordinal) && !string.Equals(full, statePath, StringComparison.Ordinal))
            {
                _ = TryDelete(full);
            }
        }

        return new CheckpointInfo(PointerPath, weights, statePath, state);
    }

    /// <summary>
    /// Deletes the temporaries an interrupted write left behind (<c>checkpoints/.ckpt-*.tmp</c>, and the record's and
    /// the log's <c>.checkpoint.json.*.tmp</c> / <c>.train-log.jsonl.*.tmp</c>), each as large as what it was to
    /// become. Called when a run starts and after every committed checkpoint (one run per folder at a time).
    /// </summary>
    /// <returns>How many files were deleted.</returns>
    public int RemoveStaleTemporaries()
    {
        int removed = 0;
        if (System.IO.Directory.Exists(FilesDirectory))
        {
            foreach (string file in System.IO.Directory.EnumerateFiles(FilesDirectory, ".ckpt-*.tmp"))
            {
                if (TryDelete(file)) removed++;
            }
        }

        if (System.IO.Directory.Exists(Directory))
        {
            foreach (string pattern in (string[])[".checkpoint.json.*.tmp", ".train-log.jsonl.*.tmp"])
            {
                foreach (string file in System.IO.Directory.EnumerateFiles(Directory, pattern))
                {
                    if (TryDelete(file)) removed++;
                }
            }
        }

        return removed;
    }

    /// <summary>Reads the current checkpoint's record and state without touching a model.</summary>
    /// <exception cref="FileNotFoundException">No checkpoint, or a file it names is missing.</exception>
    /// <exception cref="InvalidDataException">The record or the state file is not what this store writes.</exception>
    public CheckpointInfo ReadCurrent()
    {
        if (!Exists) throw new FileNotFoundException($"no checkpoint in '{Directory}' (no checkpoint.json)", PointerPath);
        (string weights, string state) = ReadPointer();
        if (!File.Exists(weights)) throw new FileNotFoundException($"checkpoint '{PointerPath}' names weights '{weights}', which do not exist", weights);
        if (!File.Exists(state)) throw new FileNotFoundException($"checkpoint '{PointerPath}' names training state '{state}', which does not exist", state);
        using var file = SafetensorsFile.Open(state);
        return new CheckpointInfo(PointerPath, weights, state, ParseState(file));
    }

    /// <summary>
    /// Restores the current checkpoint into <paramref name="model"/>: weights, BNNeck counters, step count, drop-path
    /// generator, and (when steps were taken) the optimiser buffers of <paramref name="optimizer"/>'s kind.
    /// </summary>
    public CheckpointInfo Restore(ITransReIDModel model, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var info = ReadCurrent();
        var state = info.State;
        if (!string.Equals(state.ModelName, model.Core.ModelName, StringComparison.Ordinal))
        {
            throw new CheckpointException(
                $"checkpoint '{info.StatePath}' was written by the model {state.ModelName}, not {model.Core.ModelName}");
        }

        OptimizerKind kind = optimizer is AdamWOptimizer ? OptimizerKind.AdamW : OptimizerKind.Sgd;
        if (state.Step > 0 && kind != state.Optimizer)
        {
            throw new CheckpointException(
                $"checkpoint '{info.StatePath}' holds {state.Optimizer} state; this run uses {kind}: resume with the same optimiser");
        }

        model.Load(info.WeightsPath);
        var core = model.Core;
        using (var file = SafetensorsFile.Open(info.StatePath))
        {
            if (state.Step > 0)
            {
                core.PrepareOptimizer(optimizer);
                var (first, second) = core.OptimizerState;
                UploadState(file, info.StatePath, "optimizer.state0", core, first!);
                if (second is not null) UploadState(file, info.StatePath, "optimizer.state1", core, second);
            }
        }

        if (state.NumBatchesTracked.Length != core.NumBatchesTracked.Length)
        {
            throw new InvalidDataException(
                $"'{info.StatePath}': num_batches_tracked has {state.NumBatchesTracked.Length} values, the model has {core.NumBatchesTracked.Length} BNNecks");
        }

        Array.Copy(state.NumBatchesTracked, core.NumBatchesTracked, state.NumBatchesTracked.Length);
        core.Step = state.Step;
        model.DropPathRng.State = state.DropPathRng;
        return info;
    }

    private CheckpointInfo? TryReadCurrent()
    {
        try
        {
            return ReadCurrent();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SafetensorsException)
        {
            return null;
        }
    }

    private static void UploadState(SafetensorsFile file, string path, string key, ModelCore core, Runtime.DeviceBuffer buffer)
    {
        if (!file.Entries.TryGetValue(key, out var entry))
        {
            throw new InvalidDataException($"'{path}': missing tensor '{key}' (optimiser state)");
        }

        if (entry.Dtype != SafetensorsDtype.F32 || entry.ElementCount != core.ParameterCount)
        {
            throw new InvalidDataException(
                $"'{path}': tensor '{key}' is {entry.Dtype} with {entry.ElementCount} values; expected F32 with {core.ParameterCount}");
        }

        float[] host = file.ReadF32(key);
        core.Backend.Upload(host, buffer.Ptr);
    }

    private static void WriteState(string path, ModelCore core, TrainingState s)
    {
        var writer = new SafetensorsWriter();
        writer.AddMetadata("format", StateFormat);
        writer.AddMetadata("version", "1");
        writer.AddMetadata("model", s.ModelName);
        writer.AddMetadata("epoch", Inv(s.Epoch));
        writer.AddMetadata("next_batch", Inv(s.NextBatch));
        writer.AddMetadata("step", Inv(s.Step));
        writer.AddMetadata("optimizer", s.Optimizer == OptimizerKind.Sgd ? "sgd" : "adamw");
        writer.AddMetadata("seed", Inv(s.Seed));
        writer.AddMetadata("p", Inv(s.IdentitiesPerBatch));
        writer.AddMetadata("k", Inv(s.InstancesPerIdentity));
        writer.AddMetadata("epochs", Inv(s.Epochs));
        writer.AddMetadata("base_lr", s.BaseLearningRate.ToString("R", CultureInfo.InvariantCulture));
        writer.AddMetadata("skipped_images", Inv(s.SkippedImages));
        writer.AddMetadata("unreadable_files", JsonSerializer.Serialize(s.UnreadableFiles, CheckpointJson.Default.StringArray));
        if (s.Dataset is { } d)
        {
            writer.AddMetadata("dataset_sha256", d.Sha256);
            writer.AddMetadata("dataset_files", Inv(d.Files));
            writer.AddMetadata("dataset_bytes", Inv(d.Bytes));
        }

        var (first, second) = core.OptimizerState;
        if (s.Step > 0 && first is not null)
        {
            var host = new float[core.ParameterCount];
            core.Backend.Download(first.Ptr, host);
            writer.Add("optimizer.state0", host, core.ParameterCount);
            if (second is not null)
            {
                core.Backend.Download(second.Ptr, host);
                writer.Add("optimizer.state1", host, core.ParameterCount);
            }
        }

        writer.Add("num_batches_tracked", s.NumBatchesTracked, s.NumBatchesTracked.Length);
        writer.Add("drop_path_rng", s.DropPathRng.Select(u => unchecked((long)u)).ToArray(), s.DropPathRng.Length);
        writer.Save(path);
    }

    private static TrainingState ParseState(SafetensorsFile file)
    {
        var m = file.Metadata;
        string Get(string key) => m.TryGetValue(key, out string? v)
            ? v
            : throw new InvalidDataException($"'{file.Path}': metadata key '{key}' is missing (not a training-state file?)");
        int Int(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new InvalidDataException($"'{file.Path}': metadata '{key}' = '{Get(key)}' is not an integer");
        long Long(string key) => long.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new InvalidDataException($"'{file.Path}': metadata '{key}' = '{Get(key)}' is not an integer");

        if (!string.Equals(Get("format"), StateFormat, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{file.Path}': format '{Get("format")}' is not '{StateFormat}'");
        }

        if (!string.Equals(Get("version"), "1", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{file.Path}': training-state version '{Get("version")}' is not supported (expected 1)");
        }

        OptimizerKind optimizer = Get("optimizer") switch
        {
            "sgd" => OptimizerKind.Sgd,
            "adamw" => OptimizerKind.AdamW,
            var other => throw new InvalidDataException($"'{file.Path}': unknown optimizer '{other}'"),
        };
        if (!double.TryParse(Get("base_lr"), NumberStyles.Float, CultureInfo.InvariantCulture, out double lr))
        {
            throw new InvalidDataException($"'{file.Path}': metadata 'base_lr' = '{Get("base_lr")}' is not a number");
        }

        long[] Tensor(string key)
        {
            if (!file.Entries.TryGetValue(key, out var e) || e.Dtype != SafetensorsDtype.I64)
            {
                throw new InvalidDataException($"'{file.Path}': I64 tensor '{key}' is missing");
            }

            if (e.ElementCount > 1 << 16)
            {
                throw new InvalidDataException($"'{file.Path}': I64 tensor '{key}' has {e.ElementCount} values, more than a training state holds");
            }

            return file.ReadI64(key);
        }

        string[] unreadable = [];
        if (m.TryGetValue("unreadable_files", out string? list))
        {
            try
            {
                unreadable = JsonSerializer.Deserialize(list, CheckpointJson.Default.StringArray) ?? [];
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{file.Path}': metadata 'unreadable_files' is not a JSON array of strings: {e.Message}", e);
            }

            if (unreadable.Any(u => u is null)) throw new InvalidDataException($"'{file.Path}': metadata 'unreadable_files' holds null");
        }

        DatasetFingerprint? dataset = null;
        if (m.TryGetValue("dataset_sha256", out string? sha))
        {
            dataset = new DatasetFingerprint(sha, Int("dataset_files"), Long("dataset_bytes"));
        }

        long[] rng = Tensor("drop_path_rng");
        if (rng.Length != 4) throw new InvalidDataException($"'{file.Path}': drop_path_rng has {rng.Length} words; expected 4");
        return new TrainingState
        {
            ModelName = Get("model"),
            Epoch = Int("epoch"),
            NextBatch = Int("next_batch"),
            Step = Long("step"),
            NumBatchesTracked = Tensor("num_batches_tracked"),
            DropPathRng = rng.Select(v => unchecked((ulong)v)).ToArray(),
            Optimizer = optimizer,
            Seed = Int("seed"),
            IdentitiesPerBatch = Int("p"),
            InstancesPerIdentity = Int("k"),
            Epochs = Int("epochs"),
            BaseLearningRate = lr,
            SkippedImages = Int("skipped_images"),
            UnreadableFiles = unreadable,
            Dataset = dataset,
        };
    }

    private string PointerJson(TrainingState s, string weights, string state)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", 1);
            w.WriteString("model", s.ModelName);
            w.WriteNumber("epoch", s.Epoch);
            w.WriteNumber("next_batch", s.NextBatch);
            w.WriteNumber("step", s.Step);
            w.WriteString("weights", Path.GetRelativePath(Directory, weights).Replace('\\', '/'));
            w.WriteString("state", Path.GetRelativePath(Directory, state).Replace('\\', '/'));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private (string Weights, string State) ReadPointer()
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(PointerPath));
            var root = doc.RootElement;
            string format = root.GetProperty("format").GetString() ?? string.Empty;
            if (!string.Equals(format, Format, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"'{PointerPath}': format '{format}' is not '{Format}'");
            }

            string weights = root.GetProperty("weights").GetString() ?? throw new InvalidDataException($"'{PointerPath}': 'weights' is null");
            string state = root.GetProperty("state").GetString() ?? throw new InvalidDataException($"'{PointerPath}': 'state' is null");
            return (Path.GetFullPath(Path.Combine(Directory, weights)), Path.GetFullPath(Path.Combine(Directory, state)));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"'{PointerPath}' is not a checkpoint record: {e.Message}", e);
        }
    }

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            // an old checkpoint file that cannot be deleted now is removed by the next save
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            // same
            return false;
        }
    }
}

/// <summary>Source-generated JSON for the state file's metadata (trimming- and AOT-safe).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class CheckpointJson : System.Text.Json.Serialization.JsonSerializerContext;
