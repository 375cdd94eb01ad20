using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TransReID.Runtime.Cpu;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Float64 helpers for the reference implementations the op tests compare against.</summary>
internal static class Reference
{
    /// <summary>Uniform values in [offset − scale, offset + scale), seeded.</summary>
    public static float[] Random(int seed, long n, double scale = 1, double offset = 0)
    {
        var rng = new Random(seed);
        var r = new float[n];
        for (long i = 0; i < n; i++) r[i] = (float)(offset + scale * (2 * rng.NextDouble() - 1));
        return r;
    }

    public static double[] D(float[] a) => Array.ConvertAll(a, v => (double)v);

    public static float[] F(double[] a) => Array.ConvertAll(a, v => (float)v);

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double Dot(double[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>a − b elementwise (b converted to double).</summary>
    public static double[] Minus(float[] a, float[] b)
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = (double)a[i] - b[i];
        return r;
    }

    /// <summary>
    /// Every |actual − expected| ≤ tol·(|expected| + max|expected|): a relative error scaled by the tensor's magnitude,
    /// so entries near zero are judged on the tensor's scale. On failure the message names the first mismatches.
    /// </summary>
    public static void AssertClose(double[] expected, float[] actual, double tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        var bad = new StringBuilder();
        int count = 0;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            double allowed = tol * (Math.Abs(expected[i]) + scale);
            if (!(err <= allowed) || double.IsNaN(actual[i]) != double.IsNaN(expected[i]))
            {
                if (count++ < 5)
                    bad.Append(CultureInfo.InvariantCulture, $"\n  [{i}] expected {expected[i]:R}, got {actual[i]:R} (err {err:E2})");
            }
            if (err > worst) worst = err;
        }
        Assert.True(count == 0, $"{what}: {count} of {expected.Length} values off (tol {tol:E1}, scale {scale:E3}, max err {worst:E3}):{bad}");
    }

    /// <summary>Bitwise-equal float arrays.</summary>
    public static void AssertEqual(float[] expected, float[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (!expected[i].Equals(actual[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
