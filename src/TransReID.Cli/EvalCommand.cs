using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using Spectre.Console;
using TransReID.Cli.Presets;
using TransReID.Data;
using TransReID.Evaluation;
using TransReID.Runtime;
using TransReID.Training;

namespace TransReID.Cli;

/// <summary><c>transreid eval</c>: the evaluation protocol of docs/model.md#evaluation-protocol for a preset with weights on a dataset's query/gallery.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var preset = CliOptions.Preset();
        var weights = new Option<string>("--weights") { Description = "Weights: .safetensors or a PyTorch .pth/.pt state dict, official TransReID key names", Required = true };
        var data = new Option<string>("--data") { Description = "Dataset folder (or .csv manifest) with query and gallery", Required = true };
        var kind = new Option<string>("--dataset") { Description = "market, duke, msmt17, veri, folder, csv or auto", DefaultValueFactory = _ => "auto" };
        var rerank = new Option<bool>("--rerank") { Description = "k-reciprocal re-ranking" };
        var rerankPreset = new Option<string>("--rerank-preset")
        {
            Description = "Re-ranking parameters: " + string.Join(", ", ReRankingOptions.Presets.Select(p => $"{p.Key} (k1 {p.Value.K1}, k2 {p.Value.K2}, λ {p.Value.Lambda.ToString(CultureInfo.InvariantCulture)})")),
            DefaultValueFactory = _ => ReRankingOptions.Presets[0].Key,
        };
        rerankPreset.AcceptOnlyFromAmong([.. ReRankingOptions.Presets.Select(p => p.Key)]);
        var k1 = new Option<int?>("--k1") { Description = "Re-ranking k1 (default: the --rerank-preset's)" };
        var k2 = new Option<int?>("--k2") { Description = "Re-ranking k2 (default: the --rerank-preset's)" };
        var lambda = new Option<double?>("--lambda") { Description = "Re-ranking λ, the weight of the original distance (default: the --rerank-preset's)" };
        var output = new Option<string?>("--output", "--out") { Description = "Write metrics.json, cmc.png and ranked-list images here" };
        var batch = CliOptions.Batch("Images per batch", 64);
        var device = CliOptions.Device();
        var command = new Command("eval", "Evaluate weights on a dataset's query/gallery split (mAP, CMC, mINP)")
        {
            preset, weights, data, kind, rerank, rerankPreset, k1, k2, lambda, output, batch, device,
        };
        command.SetAction(r => Program.Guard(() => Run(PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(weights)!, r.GetValue(data)!,
            r.GetValue(kind)!, r.GetValue(rerank), ReRankingFrom(r.GetValue(rerankPreset)!, r.GetValue(k1), r.GetValue(k2), r.GetValue(lambda)), r.GetValue(output),
            r.GetValue(batch), r.GetValue(device)!)));
        return command;
    }

    /// <summary>The named <see cref="ReRankingOptions.Presets"/> entry with any of k1, k2, λ overridden.</summary>
    internal static ReRankingOptions ReRankingFrom(string presetName, int? k1, int? k2, double? lambda)
    {
        var preset = ReRankingOptions.Presets.First(p => string.Equals(p.Key, presetName, StringComparison.OrdinalIgnoreCase)).Value;
        return preset with { K1 = k1 ?? preset.K1, K2 = k2 ?? preset.K2, Lambda = lambda ?? preset.Lambda };
    }

    private static int Run(Preset preset, string weights, string data, string kind, bool rerank, ReRankingOptions reRanking, string? output,
        int batch, string device)
    {
        UserInput.CheckBatch("--batch", batch, preset.Info);
        if (reRanking.K1 < 1) throw new CliException($"--k1 {reRanking.K1} must be at least 1");
        if (reRanking.K2 < 1) throw new CliException($"--k2 {reRanking.K2} must be at least 1");
        if (!(reRanking.Lambda >= 0 && reRanking.Lambda <= 1)) throw new CliException($"--lambda {reRanking.Lambda.ToString(CultureInfo.InvariantCulture)} must be in [0, 1]");
        if (!File.Exists(weights)) throw new CliException($"weights file '{weights}' does not exist");
        var dataset = UserInput.OpenDataset(data, kind);
        UserInput.ThrowIfUnfit(DatasetFit.ForEvaluation(preset.Info, dataset));

        using var model = preset.Create(UserInput.ParseDevice(device), 0);
        UserInput.Load(model, weights);
        Program.Status(string.Create(CultureInfo.InvariantCulture,
            $"[grey]{preset.Name} on {model.Core.Backend.Name}: {dataset.Query.ImageCount} query, {dataset.Gallery.ImageCount} gallery images of {Markup.Escape(dataset.Name)}[/]"));
        var result = ModelEvaluation.Evaluate(model, dataset, new EvaluationOptions
        {
            BatchSize = batch,
            ReRank = rerank,
            ReRanking = reRanking,
            OutputDirectory = output,
            Title = $"{preset.Name} on {dataset.Name}",
            Log = line => Program.Status("[yellow]" + Markup.Escape(line) + "[/]"),
        });
        PrintMetrics(result, $"{preset.Name} on {dataset.Name}" + (rerank ? " (re-ranked)" : string.Empty));
        if (output is not null) Program.Status($"[grey]wrote metrics.json, cmc.png and ranked/ to {Markup.Escape(Path.GetFullPath(output))}[/]");
        return 0;
    }

    /// <summary>The metrics as a table on standard output.</summary>
    internal static void PrintMetrics(EvaluationResult result, string title)
    {
        var m = result.Metrics;
        var table = new Table { Title = new TableTitle(Markup.Escape(title)) };
        table.AddColumn("metric");
        table.AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, double value) => table.AddRow(name, value.ToString("P1", CultureInfo.InvariantCulture).Replace(" %", "%", StringComparison.Ordinal));
        Row("mAP", m.MeanAP);
        Row("Rank-1", m.Rank1);
        Row("Rank-5", m.Rank5);
        Row("Rank-10", m.Rank10);
        Row("Rank-20", m.Rank20);
        Row("mINP", m.MeanInp);
        table.AddRow("queries", m.ValidQueries.ToString(CultureInfo.InvariantCulture));
        table.AddRow("gallery", result.GalleryImages.ToString(CultureInfo.InvariantCulture));
        if (result.SkippedImages > 0) table.AddRow("[yellow]unreadable, skipped[/]", result.SkippedImages.ToString(CultureInfo.InvariantCulture));
        Consoles.Stdout().Write(table);
    }
}
