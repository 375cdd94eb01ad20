using System;
using System.Globalization;
using System.IO;
using Spectre.Console;

namespace TransReID.Training;

/// <summary>Where a run stands, for progress displays.</summary>
/// <param name="Epoch">Current epoch (1-based).</param>
/// <param name="Epochs">Epochs of the run.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches of this epoch.</param>
/// <param name="StepsDone">Steps done in this session.</param>
/// <param name="StepsTotal">Steps this session will take (estimated from the current epoch's length).</param>
/// <param name="Eta">Estimated time left, null before the first step.</param>
public readonly record struct TrainingPosition(int Epoch, int Epochs, int Batch, int Batches, long StepsDone, long StepsTotal, TimeSpan? Eta);

/// <summary>Shows a run's progress; the trainer calls it from the training thread only.</summary>
internal interface ITrainingReporter
{
    /// <summary>Runs the training loop inside the display (a live display exists only while <paramref name="body"/> runs).</summary>
    T Run<T>(Func<T> body);

    void EpochStarted(int epoch, int epochs, int batches, double learningRate);

    void StepCompleted(TrainStepRecord record, TrainingPosition position);

    void EpochCompleted(int epoch, EpochSummary summary, TrainingPosition position);

    void Info(string message);
}

/// <summary>Means of one epoch's steps.</summary>
/// <param name="Steps">Steps in the epoch (this session).</param>
/// <param name="IdGlobal">Mean global ID loss.</param>
/// <param name="IdParts">Mean parts ID loss.</param>
/// <param name="TripletGlobal">Mean global triplet loss.</param>
/// <param name="TripletParts">Mean parts triplet loss.</param>
/// <param name="Total">Mean total.</param>
/// <param name="LearningRate">The epoch's LR.</param>
/// <param name="ImagesPerSecond">Images over wall time of the epoch.</param>
/// <param name="Seconds">Wall time of the epoch.</param>
public sealed record EpochSummary(int Steps, double IdGlobal, double IdParts, double TripletGlobal, double TripletParts, double Total,
    double LearningRate, double ImagesPerSecond, double Seconds);

internal static class ReportFormat
{
    public static string Losses(double idG, double idP, double triG, double triP, double total) =>
        string.Create(CultureInfo.InvariantCulture,
            $"id {idG:F3}/{idP:F3}  tri {triG:F3}/{triP:F3}  total {total:F3}");

    public static string Eta(TimeSpan? eta) => eta is not { } t ? "--:--"
        : t.TotalHours >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes:D2}:{t.Seconds:D2}");
}

/// <summary>Plain lines: one every N steps and one per epoch (logs, pipes).</summary>
internal sealed class PlainTrainingReporter(TextWriter output, int every) : ITrainingReporter
{
    public T Run<T>(Func<T> body) => body();

    public void EpochStarted(int epoch, int epochs, int batches, double learningRate) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}: {batches} batches, lr {learningRate:0.###e+0}"));

    public void StepCompleted(TrainStepRecord r, TrainingPosition p)
    {
        if ((r.Batch + 1) % every != 0) return;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  epoch {r.Epoch}/{p.Epochs} step {r.Batch + 1}/{p.Batches} ({r.Step})  {ReportFormat.Losses(r.IdGlobal, r.IdParts, r.TripletGlobal, r.TripletParts, r.Total)}  lr {r.LearningRate:0.###e+0}  {r.ImagesPerSecond:F1} img/s  eta {ReportFormat.Eta(p.Eta)}"));
    }

    public void EpochCompleted(int epoch, EpochSummary s, TrainingPosition p) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}/{p.Epochs} done: {s.Steps} steps in {s.Seconds:F1} s, {s.ImagesPerSecond:F1} img/s, mean {ReportFormat.Losses(s.IdGlobal, s.IdParts, s.TripletGlobal, s.TripletParts, s.Total)}, eta {ReportFormat.Eta(p.Eta)}"));

    public void Info(string message) => output.WriteLine(message);
}

/// <summary>Nothing at all.</summary>
internal sealed class SilentTrainingReporter : ITrainingReporter
{
    public T Run<T>(Func<T> body) => body();

    public void EpochStarted(int epoch, int epochs, int batches, double learningRate)
    {
    }

    public void StepCompleted(TrainStepRecord record, TrainingPosition position)
    {
    }

    public void EpochCompleted(int epoch, EpochSummary summary, TrainingPosition position)
    {
    }

    public void Info(string message)
    {
    }
}

/// <summary>
/// A live Spectre.Console display of the current step: epoch, step, a bar for the run with percent and ETA, LR, speed and
/// each loss component; a line per finished epoch and every message scroll above it. Redrawn at most 10 times a second.
/// </summary>
internal sealed class SpectreTrainingReporter(IAnsiConsole console) : ITrainingReporter
{
    private const int BarWidth = 30;
    private LiveDisplayContext? _live;
    private long _lastDraw;
    private string _header = "starting";

    public T Run<T>(Func<T> body)
    {
        T result = default!;
        console.Live(new Markup("[grey]starting…[/]"))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Ellipsis)
            .Start(ctx =>
            {
                _live = ctx;
                try
                {
                    result = body();
                }
                finally
                {
                    _live = null;
                }
            });
        return result;
    }

    public void EpochStarted(int epoch, int epochs, int batches, double learningRate)
    {
        _header = string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}: {batches} batches, lr {learningRate:0.###e+0}");
        if (_live is null) return;
        _live.UpdateTarget(new Markup("[bold]" + Markup.Escape(_header) + "[/]"));
        _live.Refresh();
    }

    public void StepCompleted(TrainStepRecord r, TrainingPosition p)
    {
        if (_live is null) return;
        long now = Environment.TickCount64;
        if (now - _lastDraw < 100 && p.Batch < p.Batches) return;
        _lastDraw = now;
        double done = p.StepsTotal > 0 ? Math.Clamp((double)p.StepsDone / p.StepsTotal, 0, 1) : 0;
        int filled = (int)Math.Round(done * BarWidth);
        var grid = new Grid();
        grid.AddColumn(new GridColumn().NoWrap());
        grid.AddColumn(new GridColumn().NoWrap());
        grid.AddColumn(new GridColumn().NoWrap());
        grid.AddRow(
            new Markup(string.Create(CultureInfo.InvariantCulture, $"[bold]epoch {r.Epoch}/{p.Epochs}[/]  step {p.Batch}/{p.Batches}")),
            new Markup("[green]" + new string('━', filled) + "[/][grey]" + new string('━', BarWidth - filled) + "[/]"),
            new Markup(string.Create(CultureInfo.InvariantCulture, $"{done * 100,3:F0}%  eta {ReportFormat.Eta(p.Eta)}")));
        grid.AddRow(
            new Markup(string.Create(CultureInfo.InvariantCulture, $"lr {r.LearningRate:0.###e+0}  {r.ImagesPerSecond:F0} img/s")),
            new Markup(string.Create(CultureInfo.InvariantCulture, $"id [blue]{r.IdGlobal:F3}[/] / parts [blue]{r.IdParts:F3}[/]")),
            new Markup(string.Create(CultureInfo.InvariantCulture, $"step {r.Step}")));
        grid.AddRow(
            new Markup(string.Create(CultureInfo.InvariantCulture, $"total [bold]{r.Total:F3}[/]")),
            new Markup(string.Create(CultureInfo.InvariantCulture, $"triplet [blue]{r.TripletGlobal:F3}[/] / parts [blue]{r.TripletParts:F3}[/]")),
            new Text(string.Empty));
        _live.UpdateTarget(grid);
        _live.Refresh();
    }

    public void EpochCompleted(int epoch, EpochSummary s, TrainingPosition p) =>
        console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}/{p.Epochs}: {s.Steps} steps, {s.Seconds:F1} s, {s.ImagesPerSecond:F1} img/s, mean {ReportFormat.Losses(s.IdGlobal, s.IdParts, s.TripletGlobal, s.TripletParts, s.Total)}, lr {s.LearningRate:0.###e+0}")));

    public void Info(string message) => console.MarkupLine("[grey]" + Markup.Escape(message) + "[/]");
}
