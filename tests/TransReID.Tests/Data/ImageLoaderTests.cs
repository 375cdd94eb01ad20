using System;
using System.IO;
using System.Linq;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class ImageLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("one.png")]
    [InlineData("one.bmp")]
    public void OnePixelImage_ResizedTo4x2_IsConstantAndNormalised(string name)
    {
        string path = _dir.WriteImage(name, 1, 1, (_, _) => new Rgb24(200, 100, 50));
        var chw = new float[3 * 4 * 2];

        ImageLoader.LoadNormalized(path, 4, 2, chw);

        // (v/255 − 0.5)/0.5, per channel plane of 8 values.
        float[] expected = [(200 / 255f - 0.5f) / 0.5f, (100 / 255f - 0.5f) / 0.5f, (50 / 255f - 0.5f) / 0.5f];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(expected[c], chw[(c * 8) + i], 6);
            }
        }
    }

    [Fact]
    public void SameSizeImage_KeepsPixelsInChwOrder_WithCustomMeanStd()
    {
        // 2 wide × 3 high, every pixel distinct.
        string path = _dir.WriteImage("grid.png", 2, 3, (x, y) => new Rgb24((byte)(10 * x + 40 * y), (byte)(200 - x), (byte)(7 * y)));
        var chw = new float[3 * 3 * 2];
        float[] mean = [0.485f, 0.456f, 0.406f];
        float[] std = [0.229f, 0.224f, 0.225f];

        ImageLoader.LoadNormalized(path, 3, 2, chw, mean, std);

        for (int y = 0; y < 3; y++)
        {
            for (int x = 0; x < 2; x++)
            {
                int o = (y * 2) + x;
                Assert.Equal(((10 * x + 40 * y) / 255f - 0.485f) / 0.229f, chw[o], 5);
                Assert.Equal(((200 - x) / 255f - 0.456f) / 0.224f, chw[6 + o], 5);
                Assert.Equal((7 * y / 255f - 0.406f) / 0.225f, chw[12 + o], 5);
            }
        }
    }

    [Fact]
    public void Jpeg_RoundTripsApproximately()
    {
        string path = _dir.WriteImage("flat.jpg", 16, 16, (_, _) => new Rgb24(128, 128, 128));
        var chw = new float[3 * 8 * 8];

        ImageLoader.LoadNormalized(path, 8, 8, chw);

        Assert.All(chw, v => Assert.InRange(v, -0.03f, 0.03f));
    }

    [Fact]
    public void CorruptFile_ThrowsImageLoadException_NamingThePath()
    {
        string path = _dir.Write("broken.jpg", "this is not an image at all");

        var ex = Assert.Throws<ImageLoadException>(() => ImageLoader.LoadNormalized(path, 4, 2, new float[24]));

        Assert.Equal(path, ex.Path);
        Assert.StartsWith($"cannot read image '{path}': ", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cut.jpg", 5)]
    [InlineData("cut.jpg", 9)] // inside the scan data, which ImageSharp alone would decode silently
    [InlineData("cut.png", 5)]
    [InlineData("cut.png", 9)]
    public void TruncatedFile_ThrowsImageLoadException(string name, int tenthsKept)
    {
        string path = _dir.WriteImage(name, 48, 48, (x, y) => new Rgb24((byte)(x * 5), (byte)(y * 5), (byte)(x ^ y)));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length * tenthsKept / 10).ToArray());

        var ex = Assert.Throws<ImageLoadException>(() => ImageLoader.LoadNormalized(path, 8, 4, new float[96]));

        Assert.Equal(path, ex.Path);
    }

    [Fact]
    public void MissingAndEmptyFiles_ThrowImageLoadException()
    {
        string missing = _dir.Combine("nope.png");
        string empty = _dir.Touch("empty.png");

        Assert.Contains("nope.png", Assert.Throws<ImageLoadException>(() => ImageLoader.LoadNormalized(missing, 2, 2, new float[12])).Message,
            StringComparison.Ordinal);
        Assert.Equal(empty, Assert.Throws<ImageLoadException>(() => ImageLoader.LoadNormalized(empty, 2, 2, new float[12])).Path);
    }

    [Fact]
    public void WrongDestinationLength_IsAnArgumentError()
    {
        string path = _dir.WriteImage("a.png", 2, 2, (_, _) => default);

        var ex = Assert.Throws<ArgumentException>(() => ImageLoader.LoadNormalized(path, 4, 2, new float[23]));

        Assert.Contains("3×4×2 = 24", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ImageLoader.LoadNormalized(path, 4, 2, new float[24], new float[] { 0.5f }));
        Assert.True(Enumerable.SequenceEqual(ImageLoader.DefaultMean.ToArray(), new[] { 0.5f, 0.5f, 0.5f }));
    }
}
