using System;
using System.Globalization;
using System.Linq;
using System.Text;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>
/// Central finite differences in float64 of a scalar loss (usually L = Σ r·y through a float64 reference forward), for
/// judging the analytic gradients a backend op produces in float32.
/// </summary>
internal static class GradCheck
{
    /// <summary>
    /// ∂f/∂x_i ≈ (f(x + h_i e_i) − f(x − h_i e_i)) / (2h_i), h_i = h·max(1, |x_i|), for every element of
    /// <paramref name="x"/>; <paramref name="f"/> reads <paramref name="x"/>, which is perturbed in place and restored.
    /// </summary>
    public static double[] Numeric(Func<double> f, double[] x, double h = 1e-5)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i], step = h * Math.Max(1, Math.Abs(keep));
            x[i] = keep + step;
            double up = f();
            x[i] = keep - step;
            double down = f();
            x[i] = keep;
            g[i] = (up - down) / (2 * step);
        }
        return g;
    }

    /// <summary>
    /// max_i |analytic_i − numeric_i| ≤ tol·max(max|numeric|, 1e-6) (errors judged on the gradient's own scale); also
    /// fails when the numeric gradient is identically zero but the analytic one is not, or vice versa.
    /// </summary>
    public static void AssertClose(double[] numeric, float[] analytic, string what, double tol = 1e-3)
    {
        Assert.True(numeric.Length == analytic.Length, $"{what}: analytic length {analytic.Length}, numeric {numeric.Length}");
        double scale = Math.Max(numeric.Max(Math.Abs), 1e-6);
        var bad = new StringBuilder();
        int count = 0;
        for (int i = 0; i < numeric.Length; i++)
        {
            double err = Math.Abs(analytic[i] - numeric[i]);
            if (!(err <= tol * scale) && count++ < 5)
                bad.Append(CultureInfo.InvariantCulture, $"\n  [{i}] numeric {numeric[i]:E6}, analytic {analytic[i]:E6}");
        }
        Assert.True(count == 0, $"{what}: {count} of {numeric.Length} gradient entries off (tol {tol:E1} x scale {scale:E3}):{bad}");
    }

    /// <summary>The gradient an op accumulated: after − before.</summary>
    public static float[] Accumulated(float[] after, float[] before)
    {
        var r = new float[after.Length];
        for (int i = 0; i < r.Length; i++) r[i] = after[i] - before[i];
        return r;
    }
}
