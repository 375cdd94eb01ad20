using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TransReID.Data;
using TransReID.Runtime.Model;

namespace TransReID.Training;

/// <summary>What does not fit between a model's fixed numbers and a dataset.</summary>
/// <param name="Errors">Problems that make training or evaluation impossible.</param>
/// <param name="Warnings">Things that work but may not be what was meant.</param>
public sealed record DatasetFitReport(IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    /// <summary>True when there are no errors.</summary>
    public bool Fits => Errors.Count == 0;

    /// <summary>Throws an <see cref="InvalidOperationException"/> listing every error.</summary>
    public void ThrowIfUnfit()
    {
        if (Fits) return;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"the dataset does not fit the model ({Errors.Count} problem(s)):");
        foreach (string e in Errors) sb.Append("\n  - ").Append(e);
        throw new InvalidOperationException(sb.ToString());
    }
}

/// <summary>Checks that a dataset fits a generated model's fixed classes, cameras and views before any work starts.</summary>
public static class DatasetFit
{
    /// <summary>Checks for training with P identities per batch (and evaluation when query and gallery are present).</summary>
    /// <param name="info">The model.</param>
    /// <param name="dataset">The dataset.</param>
    /// <param name="identitiesPerBatch">P.</param>
    /// <param name="instancesPerIdentity">K, when known: the advice then also gives the batch size in images (P·K).</param>
    public static DatasetFitReport ForTraining(ModelInfo info, ReidDataset dataset, int identitiesPerBatch, int instancesPerIdentity = 0)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(dataset);
        var errors = new List<string>();
        var warnings = new List<string>();
        int ids = dataset.TrainIdentities;
        if (dataset.Train.ImageCount == 0)
        {
            errors.Add($"the dataset '{dataset.Name}' has no training images");
        }
        else
        {
            if (ids > info.Classes)
            {
                errors.Add(Inv($"the training split has {ids} identities but the model {Short(info)} has Classes = {info.Classes}: use a model (preset) with Classes = {ids}"));
            }
            else if (ids < info.Classes)
            {
                warnings.Add(Inv($"the training split has {ids} identities; the model has Classes = {info.Classes}, so {info.Classes - ids} classifier rows are never trained"));
            }

            if (ids < 2)
            {
                errors.Add(Inv($"the training split has {ids} identity; the triplet loss needs at least 2 identities: add identities to the dataset"));
            }
            else if (ids < identitiesPerBatch)
            {
                string images = instancesPerIdentity > 0
                    ? Inv($" (a batch of at most {ids * instancesPerIdentity} images with K = {instancesPerIdentity}, e.g. --batch {ids * instancesPerIdentity})")
                    : string.Empty;
                errors.Add(Inv($"a batch takes P = {identitiesPerBatch} identities but the training split has only {ids}: use P of at most {ids} identities{images}"));
            }
        }

        CheckSideInformation(info, dataset, errors);
        if (dataset.Query.ImageCount == 0 || dataset.Gallery.ImageCount == 0)
        {
            warnings.Add($"the dataset '{dataset.Name}' has no query/gallery split: the run is not evaluated");
        }

        return new DatasetFitReport(errors, warnings);
    }

    /// <summary>Checks for evaluation (query and gallery present, cameras and views within the model's tables).</summary>
    public static DatasetFitReport ForEvaluation(ModelInfo info, ReidDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(dataset);
        var errors = new List<string>();
        if (dataset.Query.ImageCount == 0) errors.Add($"the dataset '{dataset.Name}' has no query images");
        if (dataset.Gallery.ImageCount == 0) errors.Add($"the dataset '{dataset.Name}' has no gallery images");
        CheckSideInformation(info, dataset, errors);
        return new DatasetFitReport(errors, []);
    }

    private static void CheckSideInformation(ModelInfo info, ReidDataset dataset, List<string> errors)
    {
        if (info.UsesCameras)
        {
            if (dataset.Cameras == 0)
            {
                errors.Add(Inv($"the model {Short(info)} uses camera side information ({info.Cameras} cameras) but the dataset '{dataset.Name}' has no camera labels"));
            }
            else if (dataset.Cameras > info.Cameras)
            {
                int[] over = dataset.Train.Images.Concat(dataset.Query.Images).Concat(dataset.Gallery.Images)
                    .Select(i => i.Camera).Where(c => c >= info.Cameras).Distinct().Order().Take(8).Select(c => c + 1).ToArray();
                errors.Add(Inv($"the dataset '{dataset.Name}' has {dataset.Cameras} cameras but the model {Short(info)}'s camera table has {info.Cameras} (cameras {string.Join(", ", over)} do not fit)"));
            }
        }

        if (info.UsesViews)
        {
            if (dataset.Views == 0)
            {
                errors.Add(Inv($"the model {Short(info)} uses view side information ({info.Views} views) but the dataset '{dataset.Name}' has no view labels"));
            }
            else if (dataset.Views > info.Views)
            {
                errors.Add(Inv($"the dataset '{dataset.Name}' has {dataset.Views} views but the model {Short(info)}'s view table has {info.Views}"));
            }
        }
    }

    private static string Short(ModelInfo info)
    {
        int dot = info.Name.LastIndexOf('.');
        return dot >= 0 ? info.Name[(dot + 1)..] : info.Name;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
