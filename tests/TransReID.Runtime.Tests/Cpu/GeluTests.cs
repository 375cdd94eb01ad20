using System;
using TransReID.Runtime.Cpu;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>The float erf behind exact GELU, GELU itself and its derivative.</summary>
public class GeluTests
{
    /// <summary>
    /// erf in float64 from the all-positive series erf(x) = (2/√π)·e^{−x²}·Σ 2ⁿx^{2n+1}/(1·3···(2n+1)) (no cancellation,
    /// relative error ~1e-15); ±1 beyond |x| = 6, where erfc is below 2e-17.
    /// </summary>
    internal static double ErfRef(double x)
    {
        double t = Math.Abs(x);
        if (t > 6) return Math.Sign(x);
        double term = t, sum = t, t2 = 2 * t * t;
        for (int n = 1; term > 1e-17 * sum; n++)
        {
            term *= t2 / (2 * n + 1);
            sum += term;
        }
        return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * Math.Exp(-t * t) * sum;
    }

    private static double GeluRef(double x) => 0.5 * x * (1 + ErfRef(x / Math.Sqrt(2)));

    /// <summary>GELU'(x) = Φ(x) + x·φ(x) in float64.</summary>
    private static double GeluGradRef(double x) => 0.5 * (1 + ErfRef(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);

    /// <summary>
    /// Max over i of |actual − reference(x)| and of that divided by max(1, |reference|), with where each is reached; the
    /// float64 reference is evaluated on two threads.
    /// </summary>
    private static (double Abs, float AbsAt, double Scaled, float ScaledAt) MaxErrors(float[] x, float[] actual, Func<double, double> reference)
    {
        const int parts = 2;
        var worst = new (double Abs, float AbsAt, double Scaled, float ScaledAt)[parts];
        System.Threading.Tasks.Parallel.For(0, parts, p =>
        {
            for (int i = p; i < x.Length; i += parts)
            {
                double r = reference(x[i]), e = Math.Abs(actual[i] - r), scaled = e / Math.Max(1, Math.Abs(r));
                if (!(e <= worst[p].Abs)) worst[p] = (e, x[i], worst[p].Scaled, worst[p].ScaledAt);
                if (!(scaled <= worst[p].Scaled)) worst[p] = (worst[p].Abs, worst[p].AbsAt, scaled, x[i]);
            }
        });
        var a = worst[0].Abs >= worst[1].Abs ? worst[0] : worst[1];
        var b = worst[0].Scaled >= worst[1].Scaled ? worst[0] : worst[1];
        return (a.Abs, a.AbsAt, b.Scaled, b.ScaledAt);
    }

    [Fact]
    public void ErfRef_agrees_with_known_values()
    {
        Assert.Equal(0.8427007929497149, ErfRef(1), 1e-15);
        Assert.Equal(0.9953222650189527, ErfRef(2), 1e-15);
        Assert.Equal(-0.5204998778130465, ErfRef(-0.5), 1e-15);
        Assert.Equal(0.9999999845827421, ErfRef(4), 1e-15);
    }

    [Fact]
    public void Erf_max_abs_error_is_below_1e7_on_minus10_to_10()
    {
        // 500 001 points, step 4e-5; the float64 reference is evaluated on two threads
        const int n = 500_001, parts = 2;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(-10 + 20.0 * i / (n - 1));
        var y = new float[n];
        CpuGelu.Erf(x, y);
        var worst = new (double Err, float At)[parts];
        System.Threading.Tasks.Parallel.For(0, parts, p =>
        {
            for (int i = p; i < n; i += parts)
            {
                double e = Math.Abs(y[i] - ErfRef(x[i]));
                if (e > worst[p].Err) worst[p] = (e, x[i]);
            }
        });
        var (err, at) = worst[0].Err >= worst[1].Err ? worst[0] : worst[1];
        TestContext.Current.TestOutputHelper?.WriteLine($"max |erf error| {err:E3} at x = {at:R}");
        Assert.True(err <= 1e-7, $"max |erf error| {err:E3} at x = {at:R}");
    }

    [Fact]
    public void Erf_is_odd_and_handles_special_values()
    {
        float[] x = [0f, -0f, 1e-30f, 3.9999f, 4f, 1e30f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        var y = new float[x.Length];
        CpuGelu.Erf(x, y);
        Assert.Equal(0f, y[0]);
        Assert.Equal(1e-30 * 2 / Math.Sqrt(Math.PI), y[2], 1e-36);
        Assert.Equal(1f, y[4]);
        Assert.Equal(1f, y[5]);
        Assert.Equal(1f, y[6]);
        Assert.Equal(-1f, y[7]);
        Assert.True(float.IsNaN(y[8]));
        var neg = Array.ConvertAll(x, v => -v);
        var yn = new float[x.Length];
        CpuGelu.Erf(neg, yn);
        for (int i = 0; i < 8; i++) Assert.Equal(-y[i], yn[i]);
    }

    [Fact]
    public void Gelu_and_derivative_max_errors_on_minus10_to_10()
    {
        // 1 000 001 points, step 2e-5, through the backend (2 threads: vector bodies and scalar tails of each chunk).
        // The bound is 2e-7·max(1, |reference|): absolute where |GELU| ≤ 1, relative above, because on [4, 8) a float
        // result's own half ulp is already 2.4e-7 (the float64-evaluated code this replaced measured the same 2.38e-7
        // there); the plain absolute maximum is checked against that resolution.
        const int n = 1_000_001;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(-10 + 20.0 * i / (n - 1));
        var ones = new float[n];
        Array.Fill(ones, 1f);
        using var rig = new CpuRig();
        DevicePtr px = rig.Up(x), y = rig.Alloc(n), dx = rig.Alloc(n);
        rig.Backend.Gelu(px, y, n);
        rig.Backend.GeluBackward(rig.Up(ones), px, dx, n);
        var fwd = MaxErrors(x, rig.Down(y, n), GeluRef);
        var grad = MaxErrors(x, rig.Down(dx, n), GeluGradRef);
        string report = $"GELU: max abs error {fwd.Abs:E3} at x = {fwd.AbsAt:R}, max error/max(1,|GELU|) {fwd.Scaled:E3} at x = {fwd.ScaledAt:R}; "
            + $"GELU': max abs error {grad.Abs:E3} at x = {grad.AbsAt:R}, max error/max(1,|GELU'|) {grad.Scaled:E3} at x = {grad.ScaledAt:R}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(fwd.Scaled <= 2e-7, report);
        Assert.True(fwd.Abs <= 2.5e-7, report);
        Assert.True(grad.Scaled <= 2e-7, report);
        Assert.True(grad.Abs <= 2e-7, report);
    }

    [Fact]
    public void Gelu_and_derivative_special_values()
    {
        float[] special = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e30f, -1e30f, float.MaxValue,
            float.MinValue, 1e-30f, -1e-30f, 1e-42f, 20f, -20f];
        // each value at every lane of a vector and in the scalar tail (n mod 8 = 5), between ordinary values
        int n = 16 * special.Length + 5;
        float[] x = Random(3, n, 3);
        for (int i = 0; i < n; i += 3) x[i] = special[i / 3 % special.Length];
        float[] dy = Random(4, n, 1, 2); // in [1, 3): no zero
        using var rig = new CpuRig();
        DevicePtr px = rig.Up(x), y = rig.Alloc(n), dx = rig.Alloc(n);
        rig.Backend.Gelu(px, y, n);
        rig.Backend.GeluBackward(rig.Up(dy), px, dx, n);
        float[] g = rig.Down(y, n), d = rig.Down(dx, n);
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            string at = $"x = {v:R} at [{i}]";
            if (float.IsNaN(v))
            {
                Assert.True(float.IsNaN(g[i]) && float.IsNaN(d[i]), $"NaN does not propagate: GELU {g[i]:R}, dx {d[i]:R}, {at}");
                continue;
            }
            double gelu = float.IsInfinity(v) ? (v > 0 ? double.PositiveInfinity : 0) : GeluRef(v);
            double grad = float.IsInfinity(v) ? (v > 0 ? 1 : 0) : GeluGradRef(v);
            Assert.True(gelu == g[i] || Math.Abs(g[i] - gelu) <= 2e-7 * Math.Max(1, Math.Abs(gelu)), $"GELU {g[i]:R}, expected {gelu:R}, {at}");
            Assert.True(Math.Abs(d[i] - dy[i] * grad) <= 2e-7 * dy[i] * Math.Max(1, Math.Abs(grad)), $"dx {d[i]:R}, expected {dy[i] * grad:R}, {at}");
        }
        // exact limits and small values: GELU(±0) = 0, GELU(+∞) = +∞, GELU(−∞) = 0, GELU(x) = x/2 to 1e-7 for tiny x
        Assert.Equal(0f, g[0]);
        Assert.Equal(0f, g[3]);
        Assert.Equal(float.PositiveInfinity, g[6]);
        Assert.Equal(0f, g[9]);
        Assert.Equal(1e30f, g[15]);
        Assert.Equal(0f, g[18]);
        Assert.Equal(float.MaxValue, g[21]);
        Assert.Equal(0.5 * 1e-30, g[27], 1e-37);
        Assert.Equal(0.5f * dy[0], d[0]);
        Assert.Equal(dy[6], d[6]);
        Assert.Equal(0f, d[9]);
    }

    [Fact]
    public void Scalar_tail_matches_vector_body_bitwise()
    {
        // values on both sides of the near/far split, repeated so that each is computed in vector lanes and in the
        // scalar tail (7 = n mod 8 of one chunk): the two paths run the same float operations
        float[] values = [-6.5f, -2.9f, -2.8f, -0.7f, 0.3f, 2.85f, 12.5f];
        int n = 8 * values.Length + values.Length; // the last 7 form the tail, each value in the same order
        float[] dys = Random(5, values.Length);
        float[] x = new float[n], dy = new float[n];
        for (int i = 0; i < n; i++) (x[i], dy[i]) = (values[i % values.Length], dys[i % values.Length]);
        using var rig = new CpuRig(threads: 1);
        DevicePtr px = rig.Up(x), y = rig.Alloc(n), dx = rig.Alloc(n);
        rig.Backend.Gelu(px, y, n);
        rig.Backend.GeluBackward(rig.Up(dy), px, dx, n);
        float[] g = rig.Down(y, n), d = rig.Down(dx, n), e = new float[n];
        CpuGelu.Erf(x, e);
        for (int i = 0; i < n - values.Length; i++)
        {
            int j = n - values.Length + i % values.Length;
            Assert.Equal(g[j], g[i]);
            Assert.Equal(e[j], e[i]);
            Assert.Equal(d[j], d[i]);
        }
    }

    [Theory]
    [InlineData(1003)]
    [InlineData(100_003)]
    public void Gelu_matches_float64_reference(int n)
    {
        using var rig = new CpuRig();
        float[] x = Random(1, n, 7);
        DevicePtr y = rig.Alloc(n);
        rig.Backend.Gelu(rig.Up(x), y, n);
        AssertClose(Array.ConvertAll(x, v => GeluRef(v)), rig.Down(y, n), 1e-6, "gelu");
    }

    [Fact]
    public void Gelu_in_place()
    {
        const int n = 77;
        using var rig = new CpuRig();
        float[] x = Random(2, n, 5);
        DevicePtr xp = rig.Up(x), y = rig.Alloc(n);
        rig.Backend.Gelu(xp, y, n);
        rig.Backend.Gelu(xp, xp, n);
        AssertEqual(rig.Down(y, n), rig.Down(xp, n), "in-place gelu");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeluBackward_matches_finite_differences(bool inPlace)
    {
        const int n = 203;
        using var rig = new CpuRig();
        float[] x = Random(11, n, 6), r = Random(12, n);
        DevicePtr dy = rig.Up(r), dx = inPlace ? dy : rig.Alloc(n);
        rig.Backend.GeluBackward(dy, rig.Up(x), dx, n);
        double[] xd = D(x), rd = D(r);
        double Loss()
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += rd[i] * GeluRef(xd[i]);
            return s;
        }
        GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), rig.Down(dx, n), "dx", 1e-4);
    }
}
