using System;
using System.Buffers;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace TransReID.Data;

/// <summary>Turns an image file into normalised CHW floats of a fixed size; used by <see cref="BatchLoader"/>.</summary>
public interface IImageTransform
{
    int Height { get; }

    int Width { get; }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="destinationChw"/> (3·Height·Width floats). Random choices, if
    /// any, come from <paramref name="rng"/> only, so the same generator state gives the same output.
    /// </summary>
    /// <exception cref="ImageLoadException">The image cannot be read.</exception>
    void Apply(string path, ref Pcg32 rng, Span<float> destinationChw);
}

/// <summary>The test transform of docs/model.md#input-normalisation: <see cref="ImageLoader.LoadNormalized"/> (bilinear resize, no randomness).</summary>
public sealed class TestTransform : IImageTransform
{
    private readonly float[] _mean;
    private readonly float[] _std;

    public TestTransform(int height, int width, float[]? mean = null, float[]? std = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        Height = height;
        Width = width;
        (_mean, _std) = ImageLoader.ResolveNormalization(mean, std);
    }

    public int Height { get; }

    public int Width { get; }

    public void Apply(string path, ref Pcg32 rng, Span<float> destinationChw) =>
        ImageLoader.LoadNormalized(path, Height, Width, destinationChw, _mean, _std);
}

/// <summary>
/// The training augmentation of docs/model.md#training-augmentation, in order: bicubic resize to Height×Width, horizontal flip (p = 0.5), zero pad
/// (10 px) + random crop back to Height×Width (top and left uniform in [0, 2·pad]), /255, (x − mean)/std, then timm
/// random erasing (p = 0.5, <see cref="RandomErasing"/>). Random draws, in this order: flip, crop top, crop left, erasing.
/// </summary>
public sealed class TrainTransform : IImageTransform
{
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly float[] _lut;
    private readonly float[] _padValue;

    public TrainTransform(int height, int width, float[]? mean = null, float[]? std = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        Height = height;
        Width = width;
        (_mean, _std) = ImageLoader.ResolveNormalization(mean, std);
        _lut = ImageLoader.BuildLookup(_mean, _std);
        _padValue = [_lut[0], _lut[256], _lut[512]];
    }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Probability of the horizontal flip (0.5).</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Zero padding on every side before the random crop (10); 0 disables pad + crop.</summary>
    public int Padding { get; init; } = 10;

    /// <summary>Probability of random erasing (0.5; DeiT configs use 0.8; 0 disables it).</summary>
    public double ErasingProbability { get; init; } = 0.5;

    public void Apply(string path, ref Pcg32 rng, Span<float> destinationChw)
    {
        ArgumentNullException.ThrowIfNull(path);
        ImageLoader.CheckGeometry(Height, Width, destinationChw.Length);
        using var image = ImageLoader.Decode(path);
        Apply(image, ref rng, destinationChw);
    }

    /// <summary>Augments an already decoded image (resized in place when its size differs).</summary>
    public void Apply(Image<Rgb24> image, ref Pcg32 rng, Span<float> destinationChw)
    {
        ArgumentNullException.ThrowIfNull(image);
        ImageLoader.CheckGeometry(Height, Width, destinationChw.Length);
        ImageLoader.ResizeIfNeeded(image, Height, Width, KnownResamplers.Bicubic);

        bool flip = rng.NextDouble() < FlipProbability;
        int top = Padding > 0 ? rng.NextInt((2 * Padding) + 1) - Padding : 0;
        int left = Padding > 0 ? rng.NextInt((2 * Padding) + 1) - Padding : 0;

        int h = Height, w = Width, plane = h * w;
        Rgb24[] pixels = ArrayPool<Rgb24>.Shared.Rent(plane);
        try
        {
            image.CopyPixelDataTo(pixels.AsSpan(0, plane));
            // Output (y, x) reads the flipped image at (y + top, x + left); outside the image is the zero padding.
            for (int y = 0; y < h; y++)
            {
                int sy = y + top;
                for (int x = 0; x < w; x++)
                {
                    int sx = x + left;
                    int o = (y * w) + x;
                    if ((uint)sy >= (uint)h || (uint)sx >= (uint)w)
                    {
                        destinationChw[o] = _padValue[0];
                        destinationChw[plane + o] = _padValue[1];
                        destinationChw[(2 * plane) + o] = _padValue[2];
                        continue;
                    }

                    Rgb24 p = pixels[(sy * w) + (flip ? w - 1 - sx : sx)];
                    destinationChw[o] = _lut[p.R];
                    destinationChw[plane + o] = _lut[256 + p.G];
                    destinationChw[(2 * plane) + o] = _lut[512 + p.B];
                }
            }
        }
        finally
        {
            ArrayPool<Rgb24>.Shared.Return(pixels);
        }

        RandomErasing.Apply(destinationChw, h, w, ErasingProbability, ref rng);
    }
}

/// <summary>An erased rectangle (rows Top..Top+Height−1, columns Left..Left+Width−1).</summary>
public readonly record struct ErasedRegion(int Top, int Left, int Height, int Width);

/// <summary>
/// timm <c>RandomErasing(probability, mode='pixel', max_count=1, device='cpu')</c> on a normalised CHW image (docs/model.md#training-augmentation).
/// </summary>
public static class RandomErasing
{
    public const double MinArea = 0.02;
    public const double MaxArea = 1.0 / 3.0;
    public const double MinAspect = 0.3;
    public const int Attempts = 10;

    /// <summary>
    /// With probability <paramref name="probability"/>: up to 10 attempts of target area ~ U[0.02, 1/3]·H·W and aspect
    /// r = exp(U[log 0.3, log(1/0.3)]), h = round(√(area·r)), w = round(√(area/r)) (round half to even, as Python);
    /// the first attempt with h &lt; H and w &lt; W picks top ∈ [0, H−h], left ∈ [0, W−w] and fills the rectangle on all
    /// three channels with per-pixel N(0, 1) noise (channel-major, row-major order). Returns the rectangle, or null.
    /// </summary>
    public static ErasedRegion? Apply(Span<float> chw, int height, int width, double probability, ref Pcg32 rng)
    {
        int plane = height * width;
        if (chw.Length != 3 * plane)
        {
            throw new ArgumentException($"image holds {chw.Length} floats, expected 3×{height}×{width}", nameof(chw));
        }

        if (probability <= 0 || rng.NextDouble() >= probability)
        {
            return null;
        }

        double logMin = Math.Log(MinAspect), logMax = Math.Log(1.0 / MinAspect);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            double targetArea = rng.NextDouble(MinArea, MaxArea) * plane;
            double aspect = Math.Exp(rng.NextDouble(logMin, logMax));
            int h = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int w = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (w < width && h < height)
            {
                int top = rng.NextIntInclusive(0, height - h);
                int left = rng.NextIntInclusive(0, width - w);
                for (int c = 0; c < 3; c++)
                {
                    for (int y = top; y < top + h; y++)
                    {
                        var row = chw.Slice((c * plane) + (y * width) + left, w);
                        for (int x = 0; x < row.Length; x++)
                        {
                            row[x] = (float)rng.NextGaussian();
                        }
                    }
                }

                return new ErasedRegion(top, left, h, w);
            }
        }

        return null;
    }
}
