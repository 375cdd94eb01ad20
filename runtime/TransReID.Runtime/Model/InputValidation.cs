using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace TransReID.Runtime.Model;

/// <summary>Host-side checks of a batch before any op runs, so that bad input never touches the weights.</summary>
public static class InputValidation
{
    /// <summary>Batch size from the image buffer length; throws when it is not a whole number of images.</summary>
    public static int BatchFromImages(int imageFloats, int imagesLength, int height, int width)
    {
        if (imagesLength == 0 || imagesLength % imageFloats != 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"images hold {imagesLength} floats, not a whole number of 3×{height}×{width} images ({imageFloats} floats each)"), "images");
        }

        return imagesLength / imageFloats;
    }

    /// <summary>
    /// SIE table row per sample (docs/model.md#side-information-embedding): cam·V + view with both on, cam or view alone, nothing when off.
    /// Cameras/views must be given per image when used, and be in range.
    /// </summary>
    public static int[] SieIndices(ReadOnlySpan<int> cameras, ReadOnlySpan<int> views, int batch, int cameraCount, int viewCount)
    {
        bool cam = cameraCount > 1, view = viewCount > 1;
        var result = new int[batch];
        if (!cam && !view) return result;
        if (cam && cameras.Length != batch)
            throw new ArgumentException($"the model uses camera side information: give one camera index per image ({batch}), got {cameras.Length}", nameof(cameras));
        if (view && views.Length != batch)
            throw new ArgumentException($"the model uses view side information: give one view index per image ({batch}), got {views.Length}", nameof(views));
        for (int i = 0; i < batch; i++)
        {
            int c = cam ? cameras[i] : 0, v = view ? views[i] : 0;
            if (cam && (c < 0 || c >= cameraCount))
                throw new ArgumentOutOfRangeException(nameof(cameras), c, $"camera index of image {i} must be in [0, {cameraCount})");
            if (view && (v < 0 || v >= viewCount))
                throw new ArgumentOutOfRangeException(nameof(views), v, $"view index of image {i} must be in [0, {viewCount})");
            result[i] = Shapes.ShapeMath.SieIndex(cameraCount, viewCount, c, v);
        }

        return result;
    }

    /// <summary>Labels in range; with the triplet loss, at least two identities and two images of each.</summary>
    public static void Labels(ReadOnlySpan<int> labels, int batch, int classes, bool triplet)
    {
        if (labels.Length != batch) throw new ArgumentException($"give one label per image ({batch}), got {labels.Length}", nameof(labels));
        if (batch < 2) throw new ArgumentException("a training batch needs at least 2 images (BatchNorm uses batch statistics)", nameof(labels));
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < batch; i++)
        {
            int l = labels[i];
            if (l < 0 || l >= classes) throw new ArgumentOutOfRangeException(nameof(labels), l, $"label of image {i} must be in [0, {classes})");
            counts[l] = counts.TryGetValue(l, out int c) ? c + 1 : 1;
        }

        if (!triplet) return;
        if (counts.Count < 2)
            throw new ArgumentException($"the triplet loss needs at least two identities in a batch; this batch has only identity {counts.Keys.First()}", nameof(labels));
        var single = counts.Where(kv => kv.Value < 2).Select(kv => kv.Key).Order().ToArray();
        if (single.Length > 0)
            throw new ArgumentException($"the triplet loss needs at least two images of each identity; identities with one image: {string.Join(", ", single.Take(10))}", nameof(labels));
    }

    /// <summary>Throws when a loss is not finite.</summary>
    public static void FiniteLosses(ReadOnlySpan<float> losses, IReadOnlyList<string> names)
    {
        for (int i = 0; i < losses.Length; i++)
        {
            if (!float.IsFinite(losses[i]))
                throw new NonFiniteLossException($"the loss '{names[i]}' is {losses[i].ToString(CultureInfo.InvariantCulture)}: the step was not applied and the weights are unchanged (lower the learning rate or check the inputs)");
        }
    }

    /// <summary>
    /// Stochastic-depth scales for one step: for each of <paramref name="blocks"/> entries (p, samples) draws keep ~
    /// Bernoulli(1 − p) per sample and writes keep/(1 − p) (timm DropPath). Entries with p = 0 are left at 1.
    /// </summary>
    public static void DropPathScales(Rng rng, Span<float> destination, ReadOnlySpan<double> probabilities, ReadOnlySpan<int> counts)
    {
        ArgumentNullException.ThrowIfNull(rng);
        int o = 0;
        for (int j = 0; j < probabilities.Length; j++)
        {
            double p = probabilities[j];
            float keepScale = (float)(1.0 / (1.0 - p));
            for (int i = 0; i < counts[j]; i++, o++)
            {
                destination[o] = p <= 0 ? 1f : (rng.NextDouble() >= p ? keepScale : 0f);
            }
        }
    }
}
