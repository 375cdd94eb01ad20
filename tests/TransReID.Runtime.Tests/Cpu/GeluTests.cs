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
