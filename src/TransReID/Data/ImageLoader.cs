using System;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;

namespace TransReID.Data;

/// <summary>
/// The test-time image pipeline (docs/model.md#input-normalisation): decode, RGB, bilinear resize, /255, (x − mean)/std, CHW.
/// </summary>
/// <remarks>
/// Thread-safe. ImageSharp itself runs single-threaded here (<see cref="Configuration.MaxDegreeOfParallelism"/> = 1):
/// callers parallelise over images (see <see cref="BatchLoader"/>), which scales better for small person crops.
/// </remarks>
public static class ImageLoader
{
    /// <summary>The default normalisation of the TransReID configs: mean = std = 0.5 on every channel.</summary>
    public static ReadOnlySpan<float> DefaultMean => [0.5f, 0.5f, 0.5f];

    /// <inheritdoc cref="DefaultMean"/>
    public static ReadOnlySpan<float> DefaultStd => [0.5f, 0.5f, 0.5f];

    /// <summary>JPEG, PNG and BMP only; one thread per decode/resize; contiguous pixel buffers.</summary>
    internal static readonly Configuration DecoderConfiguration = new(
        new JpegConfigurationModule(), new PngConfigurationModule(), new BmpConfigurationModule())
    {
        MaxDegreeOfParallelism = 1,
        PreferContiguousImageBuffers = true,
    };

    /// <summary>
    /// Decodes <paramref name="path"/> (jpg/jpeg/png/bmp), converts it to RGB, resizes it to
    /// <paramref name="height"/>×<paramref name="width"/> with bilinear (triangle) resampling unless it already has that
    /// size, scales to [0, 1], normalises each channel as (x − mean)/std and writes planar CHW floats.
    /// </summary>
    /// <param name="destinationChw">Exactly 3·height·width floats: the R plane, then G, then B.</param>
    /// <param name="mean">Three per-channel means; empty (default) = 0.5.</param>
    /// <param name="std">Three per-channel standard deviations; empty (default) = 0.5.</param>
    /// <exception cref="ImageLoadException">The file is missing, unreadable, truncated, corrupt or not an image.</exception>
    public static void LoadNormalized(string path, int height, int width, Span<float> destinationChw,
        ReadOnlySpan<float> mean = default, ReadOnlySpan<float> std = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckGeometry(height, width, destinationChw.Length);
        var (m, s) = ResolveNormalization(mean, std);
        using var image = Decode(path);
        ResizeIfNeeded(image, height, width, KnownResamplers.Triangle);
        WriteNormalizedChw(image, destinationChw, m, s);
    }

    /// <summary>Decodes a file into a new RGB image; every failure becomes an <see cref="ImageLoadException"/>.</summary>
    internal static Image<Rgb24> Decode(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ImageLoadException(path, ex is FileNotFoundException or DirectoryNotFoundException ? "file not found" : ex.Message, ex);
        }

        if (bytes.Length == 0)
        {
            throw new ImageLoadException(path, "the file is empty");
        }

        if (IsTruncatedJpeg(bytes))
        {
            throw new ImageLoadException(path, "truncated JPEG (no end-of-image marker)");
        }

        try
        {
            return Image.Load<Rgb24>(DecoderConfiguration, bytes);
        }
        catch (UnknownImageFormatException)
        {
            throw new ImageLoadException(path, "not a JPEG, PNG or BMP image");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Corrupt streams surface as ImageFormatException/InvalidImageContentException, but malformed headers can also
            // raise argument, range or invalid-operation errors from deep inside a decoder.
            throw new ImageLoadException(path, ex.Message, ex);
        }
    }

    /// <summary>
    /// ImageSharp's JPEG decoder decodes a JPEG cut inside its entropy-coded data without complaint (the missing part comes out black)
    /// instead of failing (PIL refuses such files by default). A baseline or progressive JPEG always ends with the EOI
    /// marker FF D9; writers may append some padding after it, so look for it in the last KiB (entropy-coded data never holds FF D9).
    /// </summary>
    private static bool IsTruncatedJpeg(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8)
        {
            return false;
        }

        var tail = bytes[Math.Max(2, bytes.Length - 1024)..];
        for (int i = tail.Length - 2; i >= 0; i--)
        {
            if (tail[i] == 0xFF && tail[i + 1] == 0xD9)
            {
                return false;
            }
        }

        return true;
    }

    internal static void CheckGeometry(int height, int width, int destinationLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        long needed = 3L * height * width;
        if (destinationLength != needed)
        {
            throw new ArgumentException(
                $"destination holds {destinationLength} floats but 3×{height}×{width} = {needed} are needed", "destinationChw");
        }
    }

    /// <summary>Returns (1/std, −mean/std) per channel, so that normalised = x·scale + shift with x in [0, 255]/255.</summary>
    internal static (float[] Mean, float[] Std) ResolveNormalization(ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        float[] m = mean.IsEmpty ? DefaultMean.ToArray() : mean.ToArray();
        float[] s = std.IsEmpty ? DefaultStd.ToArray() : std.ToArray();
        if (m.Length != 3)
        {
            throw new ArgumentException($"mean must have 3 values (one per RGB channel), got {m.Length}", nameof(mean));
        }

        if (s.Length != 3)
        {
            throw new ArgumentException($"std must have 3 values (one per RGB channel), got {s.Length}", nameof(std));
        }

        foreach (float v in s)
        {
            if (!(v > 0f) || float.IsInfinity(v))
            {
                throw new ArgumentException($"std values must be positive and finite, got {v}", nameof(std));
            }
        }

        return (m, s);
    }

    internal static void ResizeIfNeeded(Image<Rgb24> image, int height, int width, IResampler sampler)
    {
        if (image.Width == width && image.Height == height)
        {
            return;
        }

        image.Mutate(c => c.Resize(new ResizeOptions
        {
            Size = new Size(width, height),
            Sampler = sampler,
            Mode = ResizeMode.Stretch,
        }));
    }

    /// <summary>Writes ((p/255) − mean)/std per channel in CHW order. The image must already have the target size.</summary>
    internal static void WriteNormalizedChw(Image<Rgb24> image, Span<float> destinationChw, float[] mean, float[] std)
    {
        int plane = image.Width * image.Height;
        var lut = BuildLookup(mean, std);
        Rgb24[] pixels = System.Buffers.ArrayPool<Rgb24>.Shared.Rent(plane);
        try
        {
            image.CopyPixelDataTo(pixels.AsSpan(0, plane));
            var r = destinationChw[..plane];
            var g = destinationChw.Slice(plane, plane);
            var b = destinationChw.Slice(2 * plane, plane);
            for (int i = 0; i < plane; i++)
            {
                Rgb24 p = pixels[i];
                r[i] = lut[p.R];
                g[i] = lut[256 + p.G];
                b[i] = lut[512 + p.B];
            }
        }
        finally
        {
            System.Buffers.ArrayPool<Rgb24>.Shared.Return(pixels);
        }
    }

    /// <summary>768 entries: channel c, byte v → (v/255 − mean[c]) / std[c], computed as PyTorch does (divide, subtract, divide).</summary>
    internal static float[] BuildLookup(float[] mean, float[] std)
    {
        var lut = new float[768];
        for (int c = 0; c < 3; c++)
        {
            for (int v = 0; v < 256; v++)
            {
                lut[(c * 256) + v] = ((v / 255f) - mean[c]) / std[c];
            }
        }

        return lut;
    }
}

/// <summary>An image file could not be read or decoded.</summary>
public sealed class ImageLoadException : Exception
{
    public ImageLoadException()
        : this("(unknown)", "unknown error")
    {
    }

    public ImageLoadException(string message)
        : base(message)
    {
        Path = "(unknown)";
    }

    public ImageLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = "(unknown)";
    }

    public ImageLoadException(string path, string reason, Exception? innerException = null)
        : base($"cannot read image '{path}': {reason}", innerException)
    {
        Path = path;
    }

    /// <summary>The file that failed.</summary>
    public string Path { get; }
}
