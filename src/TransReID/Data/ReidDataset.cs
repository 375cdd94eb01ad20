using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace TransReID.Data;

/// <summary>
/// One image of a re-identification dataset (docs/model.md#datasets: path, pid, camid, viewid).
/// </summary>
/// <param name="Path">Full path of the image file.</param>
/// <param name="Identity">Train split: relabelled 0..P−1 (ascending raw pid). Query/gallery: the raw pid (0 = distractor).</param>
/// <param name="Camera">0-based camera id (the files' 1-based id − 1).</param>
/// <param name="View">0-based viewpoint id; 0 where the dataset has no view labels.</param>
public sealed record ReidImage(string Path, int Identity, int Camera, int View);

/// <summary>A list of images (train, query or gallery) with the counts of the official statistics table.</summary>
public sealed record ReidSplit
{
    public ReidSplit(IReadOnlyList<ReidImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        Images = images;
        IdentityCount = images.Select(i => i.Identity).Distinct().Count();
        CameraCount = images.Select(i => i.Camera).Distinct().Count();
    }

    /// <summary>An empty split (e.g. no query set for a training-only folder).</summary>
    public static ReidSplit Empty { get; } = new(Array.Empty<ReidImage>());

    public IReadOnlyList<ReidImage> Images { get; }

    /// <summary>Number of distinct identities (pid 0 distractors count as one, as in the official code).</summary>
    public int IdentityCount { get; }

    public int ImageCount => Images.Count;

    /// <summary>Number of distinct camera ids present in this split.</summary>
    public int CameraCount { get; }
}

/// <summary>A dataset in a layout of docs/model.md#datasets.</summary>
/// <param name="Name">Short name (market1501, dukemtmcreid, msmt17, veri, folder, csv, ...).</param>
/// <param name="Cameras">
/// Size of the camera SIE table: max camera id + 1 over all splits. <b>0 = the dataset has no camera labels</b>: camera
/// SIE must be off; the <see cref="ReidImage.Camera"/> ids are then 0 for train and query and 1 for gallery, which
/// only serves to keep the evaluation's same-camera filter from firing (the VehicleID convention).
/// </param>
/// <param name="Views">Size of the view SIE table: max view id + 1. <b>0 = no view labels</b> (every View is 0): view SIE off.</param>
public sealed record ReidDataset(string Name, ReidSplit Train, ReidSplit Query, ReidSplit Gallery, int Cameras, int Views)
{
    /// <summary>Number of training classes (train identities are 0..TrainIdentities−1).</summary>
    public int TrainIdentities => Train.IdentityCount;

    /// <summary>The statistics table printed by the official code (<c>datasets/bases.py</c>).</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append("=> ").Append(Name).AppendLine(" loaded");
        sb.AppendLine("Dataset statistics:");
        sb.AppendLine("  ----------------------------------------");
        sb.AppendLine("  subset   | # ids | # images | # cameras");
        sb.AppendLine("  ----------------------------------------");
        AppendRow(sb, "train", Train);
        AppendRow(sb, "query", Query);
        AppendRow(sb, "gallery", Gallery);
        sb.AppendLine("  ----------------------------------------");
        return sb.ToString();
    }

    private static void AppendRow(StringBuilder sb, string name, ReidSplit split) =>
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-8} | {split.IdentityCount,5} | {split.ImageCount,8} | {split.CameraCount,9}"));
}
