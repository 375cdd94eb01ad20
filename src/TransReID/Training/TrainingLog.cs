using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using TransReID.Runtime.IO;

namespace TransReID.Training;

/// <summary>One optimiser step as the trainer logs it (one JSONL line).</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">Optimiser steps so far, this one included (<c>ModelCore.Step</c>, continuous across resumes).</param>
/// <param name="Batch">0-based batch index within the epoch.</param>
/// <param name="Images">Images in the batch.</param>
/// <param name="IdGlobal">ID loss of the global branch.</param>
/// <param name="IdParts">Mean ID loss of the JPM parts (0 without JPM).</param>
/// <param name="TripletGlobal">Triplet loss of the global branch.</param>
/// <param name="TripletParts">Mean triplet loss of the JPM parts.</param>
/// <param name="Total">The weighted total that was back-propagated.</param>
/// <param name="LearningRate">The weight group's LR of this epoch.</param>
/// <param name="ImagesPerSecond">Batch images over the wall time since the previous step ended (loading included).</param>
public sealed record TrainStepRecord(int Epoch, long Step, int Batch, int Images, float IdGlobal, float IdParts, float TripletGlobal,
    float TripletParts, float Total, double LearningRate, double ImagesPerSecond)
{
    /// <summary>The loss components by log name (for plots).</summary>
    public IReadOnlyDictionary<string, double> Losses => new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["total"] = Total,
        ["id_global"] = IdGlobal,
        ["id_parts"] = IdParts,
        ["triplet_global"] = TripletGlobal,
        ["triplet_parts"] = TripletParts,
    };

    /// <summary>The JSONL line (no newline). Floats use the shortest round-trip form, so equal losses give equal text.</summary>
    public string ToJson()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", Epoch);
            w.WriteNumber("step", Step);
            w.WriteNumber("batch", Batch);
            w.WriteNumber("images", Images);
            w.WriteNumber("id_global", IdGlobal);
            w.WriteNumber("id_parts", IdParts);
            w.WriteNumber("triplet_global", TripletGlobal);
            w.WriteNumber("triplet_parts", TripletParts);
            w.WriteNumber("total", Total);
            w.WriteNumber("lr", LearningRate);
            w.WriteNumber("images_per_s", Math.Round(ImagesPerSecond, 2));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses one JSONL line; the message names the line and what is wrong.</summary>
    public static TrainStepRecord Parse(string line, string source = "log")
    {
        ArgumentNullException.ThrowIfNull(line);
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new TrainStepRecord(r.GetProperty("epoch").GetInt32(), r.GetProperty("step").GetInt64(), r.GetProperty("batch").GetInt32(),
                r.GetProperty("images").GetInt32(), r.GetProperty("id_global").GetSingle(), r.GetProperty("id_parts").GetSingle(),
                r.GetProperty("triplet_global").GetSingle(), r.GetProperty("triplet_parts").GetSingle(), r.GetProperty("total").GetSingle(),
                r.GetProperty("lr").GetDouble(), r.GetProperty("images_per_s").GetDouble());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{source}: not a training-step record ({e.Message}): {Truncate(line)}", e);
        }
    }

    private static string Truncate(string s) => s.Length <= 120 ? s : string.Concat(s.AsSpan(0, 120), "…");
}

/// <summary>The JSONL file of every step (<c>train-log.jsonl</c>); appended line by line and flushed after each step.</summary>
public sealed class TrainingLog : IDisposable
{
    private readonly StreamWriter _writer;

    private TrainingLog(string path, StreamWriter writer)
    {
        Path = path;
        _writer = writer;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Starts a new log, replacing any old one.</summary>
    public static TrainingLog Create(string path) =>
        new(path, new StreamWriter(path, append: false, new UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" });

    /// <summary>
    /// Continues the log of a resumed run: lines of steps after <paramref name="lastStep"/> (written after the checkpoint
    /// by the interrupted run) are dropped first, so the file again lists every step once. Lines that are not records (a
    /// line torn by a full disk or a kill, garbage) are dropped too and reported through <paramref name="warn"/>; the
    /// file is rewritten atomically, so a failure leaves it as it was.
    /// </summary>
    public static TrainingLog Continue(string path, long lastStep, Action<string>? warn = null)
    {
        if (File.Exists(path))
        {
            var kept = new List<string>();
            int n = 0, later = 0, damaged = 0;
            string? firstDamage = null;
            foreach (string line in File.ReadLines(path))
            {
                n++;
                if (line.Length == 0) continue;
                TrainStepRecord record;
                try
                {
                    record = TrainStepRecord.Parse(line, string.Create(CultureInfo.InvariantCulture, $"{path}:{n}"));
                }
                catch (InvalidDataException e)
                {
                    damaged++;
                    firstDamage ??= e.Message;
                    continue;
                }

                if (record.Step <= lastStep) kept.Add(line);
                else later++;
            }

            if (damaged > 0)
            {
                warn?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"warning: '{path}': dropped {damaged} line(s) that are not training-step records (a torn write?); first: {firstDamage}"));
            }

            if (later > 0)
            {
                warn?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"note: '{path}': dropped {later} record(s) of steps after the checkpoint's step {lastStep} (they are trained again)"));
            }

            AtomicFile.WriteAllText(path, kept.Count == 0 ? string.Empty : string.Join('\n', kept) + "\n");
        }

        return new TrainingLog(path, new StreamWriter(path, append: true, new UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" });
    }

    /// <summary>Appends one step.</summary>
    public void Append(TrainStepRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        _writer.WriteLine(record.ToJson());
        _writer.Flush();
    }

    /// <summary>Reads every step of a log file (blank lines ignored).</summary>
    public static List<TrainStepRecord> ReadAll(string path)
    {
        var records = new List<TrainStepRecord>();
        int n = 0;
        foreach (string line in File.ReadLines(path))
        {
            n++;
            if (line.Length == 0) continue;
            records.Add(TrainStepRecord.Parse(line, string.Create(CultureInfo.InvariantCulture, $"{path}:{n}")));
        }

        return records;
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
