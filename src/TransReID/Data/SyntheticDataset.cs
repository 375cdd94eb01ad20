using System;
using System.Globalization;
using System.IO;
using System.Threading.Tasks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace TransReID.Data;

/// <summary>
/// Writes a small Market-1501-format dataset of drawn "people" for demos and tests: identity = clothing colours and
/// pattern, body proportions, hair, bag; camera = lighting, colour cast, hue shift, blur, scale, background; each image
/// adds pose, crop and noise jitter. Identity is learnable and camera information helps factor out the camera nuisance.
/// </summary>
public static class SyntheticDataset
{
    private const int JpegQuality = 92;

    /// <summary>
    /// Generates the dataset under <paramref name="outDir"/> (<c>bounding_box_train/</c>, <c>query/</c>,
    /// <c>bounding_box_test/</c>; names <c>PPPP_cCs1_FFFFFF_01.jpg</c>, pids 1..ids) and returns it as read back by
    /// <see cref="DatasetReader.ReadMarket1501"/>. The first half of the pids (⌈ids/2⌉) is the train split; for every other
    /// pid one image from each of two cameras (chosen per pid) is a query and all its remaining images are the gallery.
    /// The output is byte-identical for the same arguments.
    /// </summary>
    /// <param name="ids">Identities, at least 2.</param>
    /// <param name="cameras">Cameras, 2..9 (the Market name pattern has a single camera digit).</param>
    /// <param name="imagesPerIdPerCamera">Images of each identity in each camera, at least 2.</param>
    public static ReidDataset Generate(string outDir, int ids = 60, int cameras = 4, int seed = 1,
        int imagesPerIdPerCamera = 5, int height = 128, int width = 64)
    {
        ArgumentNullException.ThrowIfNull(outDir);
        ArgumentOutOfRangeException.ThrowIfLessThan(ids, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(cameras, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cameras, 9);
        ArgumentOutOfRangeException.ThrowIfLessThan(imagesPerIdPerCamera, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 32);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 16);

        string trainDir = Path.Combine(outDir, "bounding_box_train");
        string queryDir = Path.Combine(outDir, "query");
        string galleryDir = Path.Combine(outDir, "bounding_box_test");
        foreach (string dir in (string[])[trainDir, queryDir, galleryDir])
        {
            Directory.CreateDirectory(dir);
        }

        var cams = new CameraStyle[cameras];
        for (int c = 0; c < cameras; c++)
        {
            cams[c] = CameraStyle.Create(seed, c);
        }

        int trainIds = (ids + 1) / 2;
        var encoder = new JpegEncoder { Quality = JpegQuality };
        Parallel.For(1, ids + 1, pid =>
        {
            var person = PersonStyle.Create(seed, pid);
            var pick = new Pcg32(Pcg32.Mix((ulong)(uint)seed), (ulong)pid * 7919UL);
            int queryCam1 = pick.NextInt(cameras);
            int queryCam2 = (queryCam1 + 1 + pick.NextInt(cameras - 1)) % cameras;
            var pixels = new Rgb24[height * width];
            var canvas = new float[3 * height * width];
            for (int c = 0; c < cameras; c++)
            {
                for (int k = 0; k < imagesPerIdPerCamera; k++)
                {
                    var rng = new Pcg32(Pcg32.Mix(((ulong)(uint)seed << 32) | (uint)pid), ((ulong)c << 16) | (uint)k);
                    Render(person, cams[c], ref rng, canvas, height, width);
                    Quantize(canvas, pixels);
                    int frame = (c * 1000) + (k * 25) + 1;
                    string name = string.Create(CultureInfo.InvariantCulture, $"{pid:D4}_c{c + 1}s1_{frame:D6}_01.jpg");
                    string dir = pid <= trainIds ? trainDir
                        : k == 0 && (c == queryCam1 || c == queryCam2) ? queryDir
                        : galleryDir;
                    using var image = Image.LoadPixelData<Rgb24>(ImageLoader.DecoderConfiguration, pixels, width, height);
                    image.SaveAsJpeg(Path.Combine(dir, name), encoder);
                }
            }
        });

        return DatasetReader.ReadMarket1501(outDir) with { Name = "synthetic" };
    }

    private static void Quantize(float[] canvas, Rgb24[] pixels)
    {
        int plane = pixels.Length;
        for (int i = 0; i < plane; i++)
        {
            pixels[i] = new Rgb24(ToByte(canvas[i]), ToByte(canvas[plane + i]), ToByte(canvas[(2 * plane) + i]));
        }

        static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
    }

    /// <summary>Draws background, person and camera effects into a CHW canvas of values in [0, 1].</summary>
    private static void Render(PersonStyle p, CameraStyle cam, ref Pcg32 rng, float[] canvas, int h, int w)
    {
        int plane = h * w;

        // Background: camera base colour, vertical gradient, a floor band and a low-frequency texture with a random phase.
        double phase = rng.NextDouble(0, 2 * Math.PI);
        float floorY = (float)(cam.FloorLevel + rng.NextDouble(-0.04, 0.04)) * h;
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                float t = (float)y / h;
                float tex = (float)(cam.TextureAmplitude * Math.Sin((x * cam.TextureFx) + (y * cam.TextureFy) + phase));
                for (int c = 0; c < 3; c++)
                {
                    float v = y >= floorY ? cam.Floor[c] : cam.Wall[c] * (1f - (0.25f * t));
                    canvas[(c * plane) + (y * w) + x] = v + tex;
                }
            }
        }

        // Person box: camera scale × per-image jitter (pose/crop), horizontally jittered, facing left or right.
        float personH = (float)(h * cam.Scale * rng.NextDouble(0.93, 1.04));
        float top = ((h - personH) / 2f) + (float)(rng.NextDouble(-0.04, 0.04) * h);
        float cx = (w / 2f) + (float)(rng.NextDouble(-0.09, 0.09) * w);
        bool facingLeft = rng.NextDouble() < 0.5;
        float stride = (float)rng.NextDouble(0.0, 0.09) * personH;
        float armSwing = (float)rng.NextDouble(-0.05, 0.05) * personH;

        float headH = p.HeadFraction * personH;
        float headW = headH * 0.78f;
        float bodyH = personH - headH;
        float torsoH = p.TorsoFraction * bodyH;
        float legsH = bodyH - torsoH;
        float torsoW = p.WidthRatio * personH;
        float torsoTop = top + headH;
        float hipY = torsoTop + torsoH;
        float legW = 0.42f * torsoW;
        float armW = 0.2f * torsoW;
        float period = Math.Max(2f, p.PatternPeriod * personH);

        // Legs (slanted by the stride), trousers down to TrousersLength then skin, shoes at the bottom.
        for (int side = -1; side <= 1; side += 2)
        {
            float hipX = cx + (side * (0.25f * torsoW));
            FillQuad(canvas, h, w, hipY, hipY + legsH, legW, hipX, hipX + (side * stride), (u, v) =>
                v > 0.93f ? p.Shoes : v <= p.TrousersLength ? p.Trousers : p.Skin);
        }

        // Arms (sleeves then skin), swinging opposite to each other.
        for (int side = -1; side <= 1; side += 2)
        {
            float shoulderX = cx + (side * ((torsoW / 2f) + (armW / 2f)));
            FillQuad(canvas, h, w, torsoTop + (0.02f * personH), torsoTop + (torsoH * 1.02f), armW, shoulderX,
                shoulderX + (side * armSwing), (u, v) => v <= p.SleeveLength ? p.ShirtColorAt(u, v * torsoH, period) : p.Skin);
        }

        // Torso with the identity's pattern.
        FillQuad(canvas, h, w, torsoTop, hipY + (0.02f * personH), torsoW, cx, cx,
            (u, v) => p.ShirtColorAt(u, v * torsoH, period));

        // Bag on one side (which side follows the facing direction).
        if (p.HasBag)
        {
            float bagX = cx + ((facingLeft ? -1 : 1) * ((torsoW / 2f) + (armW * 0.9f)));
            FillQuad(canvas, h, w, hipY - (0.45f * torsoH), hipY + (0.25f * torsoH), 0.32f * torsoW, bagX, bagX, (_, _) => p.Bag);
        }

        // Head: skin ellipse, hair on the top part (and down the back for long hair).
        float headCx = cx + ((facingLeft ? -1 : 1) * 0.04f * headW);
        float headCy = top + (headH / 2f);
        int y0 = Math.Max(0, (int)MathF.Floor(top)), y1 = Math.Min(h - 1, (int)MathF.Ceiling(top + headH + (p.LongHair ? 0.5f * headH : 0)));
        for (int y = y0; y <= y1; y++)
        {
            for (int x = Math.Max(0, (int)(headCx - headW)); x <= Math.Min(w - 1, (int)(headCx + headW)); x++)
            {
                float dx = (x + 0.5f - headCx) / (headW / 2f), dy = (y + 0.5f - headCy) / (headH / 2f);
                bool inHead = (dx * dx) + (dy * dy) <= 1f;
                bool inLongHair = p.LongHair && Math.Abs(dx) <= 1.05f && dy > 0 && dy < 2.0f && Math.Abs(dx) > 0.55f;
                if (!inHead && !inLongHair)
                {
                    continue;
                }

                var color = inLongHair || dy < p.HairLine ? p.Hair : p.Skin;
                Put(canvas, plane, (y * w) + x, color);
            }
        }

        // Camera: colour matrix (per-channel gain × hue rotation), brightness, blur, sensor noise.
        float gainJitter = (float)rng.NextDouble(0.92, 1.08);
        var m = cam.ColorMatrix;
        for (int i = 0; i < plane; i++)
        {
            float r = canvas[i], g = canvas[plane + i], b = canvas[(2 * plane) + i];
            canvas[i] = (((m[0] * r) + (m[1] * g) + (m[2] * b)) * gainJitter) + cam.Brightness;
            canvas[plane + i] = (((m[3] * r) + (m[4] * g) + (m[5] * b)) * gainJitter) + cam.Brightness;
            canvas[(2 * plane) + i] = (((m[6] * r) + (m[7] * g) + (m[8] * b)) * gainJitter) + cam.Brightness;
        }

        if (cam.BlurRadius > 0)
        {
            BoxBlur(canvas, h, w, cam.BlurRadius);
        }

        float sigma = cam.NoiseSigma;
        for (int i = 0; i < canvas.Length; i++)
        {
            canvas[i] += sigma * (float)rng.NextGaussian();
        }
    }

    /// <summary>
    /// Fills a vertical band of width <paramref name="bandW"/> from row <paramref name="yTop"/> to <paramref name="yBottom"/>
    /// whose centre moves linearly from <paramref name="xTop"/> to <paramref name="xBottom"/>; <paramref name="color"/>
    /// gets (u = x offset from the band's left edge in pixels, v = relative height 0..1).
    /// </summary>
    private static void FillQuad(float[] canvas, int h, int w, float yTop, float yBottom, float bandW, float xTop, float xBottom,
        Func<float, float, Rgb> color)
    {
        int plane = h * w;
        int y0 = Math.Max(0, (int)MathF.Floor(yTop)), y1 = Math.Min(h - 1, (int)MathF.Ceiling(yBottom) - 1);
        float span = Math.Max(1e-3f, yBottom - yTop);
        for (int y = y0; y <= y1; y++)
        {
            float v = (y + 0.5f - yTop) / span;
            if (v is < 0f or > 1f)
            {
                continue;
            }

            float centre = xTop + ((xBottom - xTop) * v);
            float left = centre - (bandW / 2f);
            int x0 = Math.Max(0, (int)MathF.Round(left)), x1 = Math.Min(w - 1, (int)MathF.Round(left + bandW) - 1);
            for (int x = x0; x <= x1; x++)
            {
                Put(canvas, plane, (y * w) + x, color(x + 0.5f - left, v));
            }
        }
    }

    private static void Put(float[] canvas, int plane, int o, Rgb color)
    {
        canvas[o] = color.R;
        canvas[plane + o] = color.G;
        canvas[(2 * plane) + o] = color.B;
    }

    /// <summary>Separable box blur of the given radius on each channel (edges clamp).</summary>
    private static void BoxBlur(float[] canvas, int h, int w, int radius)
    {
        int plane = h * w;
        var tmp = new float[plane];
        float norm = 1f / ((2 * radius) + 1);
        for (int c = 0; c < 3; c++)
        {
            var ch = canvas.AsSpan(c * plane, plane);
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++)
                {
                    float s = 0;
                    for (int d = -radius; d <= radius; d++)
                    {
                        s += ch[(y * w) + Math.Clamp(x + d, 0, w - 1)];
                    }

                    tmp[(y * w) + x] = s * norm;
                }
            }

            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++)
                {
                    float s = 0;
                    for (int d = -radius; d <= radius; d++)
                    {
                        s += tmp[(Math.Clamp(y + d, 0, h - 1) * w) + x];
                    }

                    ch[(y * w) + x] = s * norm;
                }
            }
        }
    }

    private readonly record struct Rgb(float R, float G, float B)
    {
        public float this[int c] => c switch { 0 => R, 1 => G, _ => B };

        public static Rgb Hsv(double hue, double saturation, double value)
        {
            double hh = (hue % 1.0) * 6.0;
            int sector = (int)hh;
            double f = hh - sector;
            double p = value * (1 - saturation), q = value * (1 - (saturation * f)), t = value * (1 - (saturation * (1 - f)));
            var (r, g, b) = sector switch
            {
                0 => (value, t, p),
                1 => (q, value, p),
                2 => (p, value, t),
                3 => (p, q, value),
                4 => (t, p, value),
                _ => (value, p, q),
            };
            return new Rgb((float)r, (float)g, (float)b);
        }
    }

    /// <summary>Everything that identifies a person.</summary>
    private sealed record PersonStyle(
        Rgb Shirt, Rgb ShirtAccent, int Pattern, float PatternPeriod, float SleeveLength,
        Rgb Trousers, float TrousersLength, Rgb Shoes, Rgb Skin, Rgb Hair, float HairLine, bool LongHair,
        bool HasBag, Rgb Bag, float HeadFraction, float TorsoFraction, float WidthRatio)
    {
        public static PersonStyle Create(int seed, int pid)
        {
            var r = new Pcg32(Pcg32.Mix(((ulong)(uint)seed << 32) | (uint)pid), 0xB0D7UL);
            Rgb RandomColor(ref Pcg32 g) => Rgb.Hsv(g.NextDouble(), g.NextDouble(0.25, 1.0), g.NextDouble(0.2, 0.95));
            var shirt = RandomColor(ref r);
            var accent = RandomColor(ref r);
            int pattern = r.NextInt(4); // 0 plain, 1 horizontal stripes, 2 vertical stripes, 3 checks
            float period = (float)r.NextDouble(0.025, 0.06);
            float sleeve = r.NextDouble() < 0.5 ? 1f : 0.45f;
            var trousers = r.NextDouble() < 0.4 ? Rgb.Hsv(r.NextDouble(0.55, 0.7), r.NextDouble(0.3, 0.8), r.NextDouble(0.15, 0.6)) : RandomColor(ref r);
            float trousersLength = r.NextDouble() < 0.25 ? 0.45f : 1f;
            float shoeV = (float)r.NextDouble(0.05, 0.6);
            var shoes = new Rgb(shoeV, shoeV * 0.9f, shoeV * 0.8f);
            float skinV = (float)r.NextDouble(0.35, 0.9);
            var skin = new Rgb(skinV, skinV * 0.78f, skinV * 0.62f);
            var hair = Rgb.Hsv(r.NextDouble(0.02, 0.12), r.NextDouble(0.2, 0.7), r.NextDouble(0.05, 0.7));
            float hairLine = (float)r.NextDouble(-0.5, 0.0);
            bool longHair = r.NextDouble() < 0.3;
            bool hasBag = r.NextDouble() < 0.4;
            var bag = RandomColor(ref r);
            float headFraction = (float)r.NextDouble(0.10, 0.15);
            float torsoFraction = (float)r.NextDouble(0.36, 0.5);
            float widthRatio = (float)r.NextDouble(0.2, 0.3);
            return new PersonStyle(shirt, accent, pattern, period, sleeve, trousers, trousersLength, shoes, skin, hair,
                hairLine, longHair, hasBag, bag, headFraction, torsoFraction, widthRatio);
        }

        /// <summary>Shirt colour at (u, v) pixels from the torso's top-left corner.</summary>
        public Rgb ShirtColorAt(float u, float v, float period)
        {
            int iu = (int)MathF.Floor(u / period), iv = (int)MathF.Floor(v / period);
            bool accent = Pattern switch
            {
                1 => (iv & 1) == 1,
                2 => (iu & 1) == 1,
                3 => ((iu + iv) & 1) == 1,
                _ => false,
            };
            return accent ? ShirtAccent : Shirt;
        }
    }

    /// <summary>Everything that a camera changes.</summary>
    private sealed record CameraStyle(
        float[] ColorMatrix, float Brightness, int BlurRadius, float NoiseSigma, float Scale,
        Rgb Wall, Rgb Floor, float FloorLevel, double TextureAmplitude, double TextureFx, double TextureFy)
    {
        public static CameraStyle Create(int seed, int camera)
        {
            var r = new Pcg32(Pcg32.Mix(((ulong)(uint)seed << 32) | 0xCA00u | (uint)camera), 0xCA3EUL);
            float gr = (float)r.NextDouble(0.75, 1.2), gg = (float)r.NextDouble(0.8, 1.15), gb = (float)r.NextDouble(0.75, 1.25);
            double angle = r.NextDouble(-0.45, 0.45); // hue rotation around the grey axis, radians
            double cos = Math.Cos(angle), sin = Math.Sin(angle), third = 1.0 / 3.0, s3 = Math.Sqrt(third);
            // Rodrigues rotation about (1,1,1)/√3.
            double a = cos + ((1 - cos) * third), b = ((1 - cos) * third) - (s3 * sin), c = ((1 - cos) * third) + (s3 * sin);
            float[] rot = [(float)a, (float)b, (float)c, (float)c, (float)a, (float)b, (float)b, (float)c, (float)a];
            float[] gains = [gr, gg, gb];
            var matrix = new float[9];
            for (int row = 0; row < 3; row++)
            {
                for (int col = 0; col < 3; col++)
                {
                    matrix[(row * 3) + col] = gains[row] * rot[(row * 3) + col];
                }
            }

            return new CameraStyle(
                matrix,
                Brightness: (float)r.NextDouble(-0.08, 0.08),
                BlurRadius: r.NextInt(3) == 0 ? 1 : 0,
                NoiseSigma: (float)r.NextDouble(0.005, 0.03),
                Scale: (float)r.NextDouble(0.8, 0.95),
                Wall: Rgb.Hsv(r.NextDouble(), r.NextDouble(0.05, 0.5), r.NextDouble(0.3, 0.9)),
                Floor: Rgb.Hsv(r.NextDouble(), r.NextDouble(0.0, 0.3), r.NextDouble(0.2, 0.7)),
                FloorLevel: (float)r.NextDouble(0.7, 0.9),
                TextureAmplitude: r.NextDouble(0.0, 0.08),
                TextureFx: r.NextDouble(0.05, 0.6),
                TextureFy: r.NextDouble(0.05, 0.6));
        }
    }
}
