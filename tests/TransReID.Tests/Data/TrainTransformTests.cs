using System;
using System.Linq;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class TrainTransformTests : IDisposable
{
    private const int H = 16, W = 8;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Rgb24 Pixel(int x, int y) => new((byte)(x * 30 + 3), (byte)(y * 15 + 1), (byte)((x * y) % 251));

    private static float Norm(byte v) => (v / 255f - 0.5f) / 0.5f;

    private float[] Run(TrainTransform t, string path, Pcg32 rng)
    {
        var chw = new float[3 * t.Height * t.Width];
        t.Apply(path, ref rng, chw);
        return chw;
    }

    [Fact]
    public void SameSeed_SameOutput_OtherSeed_DifferentOutput()
    {
        string path = _dir.WriteImage("p.png", 20, 40, (x, y) => new Rgb24((byte)(x * 12), (byte)(y * 6), (byte)(x * y)));
        var t = new TrainTransform(32, 16);

        float[] a = Run(t, path, Pcg32.ForSample(1234, 3, 17));
        float[] b = Run(t, path, Pcg32.ForSample(1234, 3, 17));
        float[] c = Run(t, path, Pcg32.ForSample(1234, 3, 18));
        float[] d = Run(t, path, Pcg32.ForSample(1235, 3, 17));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, d);
    }

    [Fact]
    public void FlipOnly_MirrorsTheNormalisedImage()
    {
        string path = _dir.WriteImage("p.png", W, H, Pixel); // already H×W: no resize
        var t = new TrainTransform(H, W) { FlipProbability = 1, Padding = 0, ErasingProbability = 0 };

        float[] chw = Run(t, path, new Pcg32(5));

        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                var p = Pixel(W - 1 - x, y);
                Assert.Equal(Norm(p.R), chw[(y * W) + x], 6);
                Assert.Equal(Norm(p.G), chw[(H * W) + (y * W) + x], 6);
                Assert.Equal(Norm(p.B), chw[(2 * H * W) + (y * W) + x], 6);
            }
        }
    }

    [Fact]
    public void PadAndCrop_IsAShiftWithinTenPixels_FilledWithNormalisedBlack()
    {
        string path = _dir.WriteImage("p.png", W, H, Pixel);
        var t = new TrainTransform(H, W) { FlipProbability = 0, ErasingProbability = 0 };
        var shifts = new System.Collections.Generic.HashSet<(int, int)>();

        for (int s = 0; s < 40; s++)
        {
            float[] chw = Run(t, path, new Pcg32((ulong)s));
            // Exactly one offset in [−10, 10]² explains every output pixel.
            var matches = (from dy in Enumerable.Range(-10, 21)
                           from dx in Enumerable.Range(-10, 21)
                           where Explains(chw, dy, dx)
                           select (dy, dx)).ToList();
            Assert.NotEmpty(matches);
            shifts.Add(matches[0]);
        }

        Assert.True(shifts.Count > 10, $"only {shifts.Count} distinct crops in 40 draws");

        static bool Explains(float[] chw, int dy, int dx)
        {
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    int sy = y + dy, sx = x + dx;
                    bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                    var p = inside ? Pixel(sx, sy) : default;
                    if (chw[(y * W) + x] != Norm(p.R) || chw[(2 * H * W) + (y * W) + x] != Norm(p.B))
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }

    [Fact]
    public void RandomErasing_MatchesTimmStatistics()
    {
        const int h = 64, w = 32, trials = 4000;
        var img = new float[3 * h * w];
        int erased = 0, badOutside = 0, zeroInside = 0, badAspect = 0, badBounds = 0;
        double sum = 0, sumSq = 0;
        long count = 0;
        double minArea = 1, maxArea = 0;
        for (int s = 0; s < trials; s++)
        {
            Array.Clear(img);
            var rng = Pcg32.ForSample(7, 0, s);
            var region = RandomErasing.Apply(img, h, w, 0.5, ref rng);
            var r = region ?? new ErasedRegion(0, 0, 0, 0);
            if (region is not null)
            {
                erased++;
                double area = (double)r.Height * r.Width / (h * w);
                minArea = Math.Min(minArea, area);
                maxArea = Math.Max(maxArea, area);
                double aspect = (double)r.Height / r.Width; // = exp(U[log .3, log 1/.3]) up to the rounding of h and w
                badAspect += aspect < 0.3 * 0.75 || aspect > (1 / 0.3) * 1.25 ? 1 : 0;
                badBounds += r.Height < 1 || r.Height >= h || r.Width < 1 || r.Width >= w || r.Top < 0 || r.Left < 0
                    || r.Top + r.Height > h || r.Left + r.Width > w ? 1 : 0;
            }

            for (int c = 0; c < 3; c++)
            {
                for (int y = 0; y < h; y++)
                {
                    for (int x = 0; x < w; x++)
                    {
                        float v = img[(c * h * w) + (y * w) + x];
                        if (y >= r.Top && y < r.Top + r.Height && x >= r.Left && x < r.Left + r.Width)
                        {
                            zeroInside += v == 0 ? 1 : 0;
                            sum += v;
                            sumSq += (double)v * v;
                            count++;
                        }
                        else
                        {
                            badOutside += v != 0 ? 1 : 0;
                        }
                    }
                }
            }
        }

        Assert.InRange(erased / (double)trials, 0.47, 0.53); // p = 0.5 (σ ≈ 0.008)
        Assert.Equal(0, badOutside);
        Assert.Equal(0, zeroInside);
        Assert.Equal(0, badAspect);
        Assert.Equal(0, badBounds);
        Assert.InRange(minArea, 0.015, 0.04); // target area U[0.02, 1/3] of the image, before rounding
        Assert.InRange(maxArea, 0.25, 0.36);
        double mean = sum / count, variance = (sumSq / count) - (mean * mean); // per-pixel N(0, 1)
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(variance, 0.98, 1.02);
    }

    [Fact]
    public void Pcg32_IsUniformAndGaussian()
    {
        var rng = new Pcg32(42, 1);
        var buckets = new int[10];
        double gs = 0, gs2 = 0;
        const int n = 100_000;
        for (int i = 0; i < n; i++)
        {
            buckets[rng.NextInt(10)]++;
            double g = rng.NextGaussian();
            gs += g;
            gs2 += g * g;
        }

        Assert.All(buckets, b => Assert.InRange(b, 9_500, 10_500));
        Assert.InRange(gs / n, -0.02, 0.02);
        Assert.InRange(gs2 / n, 0.98, 1.02);
        Assert.NotEqual(new Pcg32(1).NextUInt(), new Pcg32(2).NextUInt());
    }
}
