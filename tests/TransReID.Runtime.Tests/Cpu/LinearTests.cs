using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Linear forward and backward (dx overwrite/accumulate, null bias, null dx) against float64 and finite differences.</summary>
public class LinearTests
{
    internal static double[] LinearRef(double[] x, double[] w, double[]? b, int m, int k, int n)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = b is null ? 0 : b[j];
                for (int p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
                y[i * n + j] = s;
            }
        return y;
    }

    [Theory]
    [InlineData(7, 13, 9, true)]
    [InlineData(7, 13, 9, false)]
    [InlineData(300, 70, 150, true)]
    public void Linear_matches_float64_reference(int m, int k, int n, bool bias)
    {
        using var rig = new CpuRig();
        float[] x = Random(1, m * k), w = Random(2, n * k, 0.3), b = Random(3, n);
        DevicePtr y = rig.Alloc(m * n);
        rig.Backend.Linear(rig.Up(x), rig.Up(w), bias ? rig.Up(b) : DevicePtr.Null, y, m, k, n);
        AssertClose(LinearRef(D(x), D(w), bias ? D(b) : null, m, k, n), rig.Down(y, m * n), 1e-5, "y");
    }

    [Theory]
    [InlineData(false, true, true)]
    [InlineData(true, true, true)]
    [InlineData(false, false, true)]
    [InlineData(true, true, false)]
    public void LinearBackward_matches_finite_differences(bool accumulateDx, bool bias, bool withDx)
    {
        const int m = 6, k = 5, n = 4;
        using var rig = new CpuRig();
        float[] x = Random(11, m * k), w = Random(12, n * k), b = Random(13, n), r = Random(14, m * n);
        float[] dx0 = Random(15, m * k, 0.5), dw0 = Random(16, n * k, 0.5), db0 = Random(17, n, 0.5);
        DevicePtr dx = withDx ? rig.Up(dx0) : DevicePtr.Null, dw = rig.Up(dw0), db = bias ? rig.Up(db0) : DevicePtr.Null;
        rig.Backend.LinearBackward(rig.Up(r), rig.Up(x), rig.Up(w), dx, dw, db, m, k, n, accumulateDx);

        double[] xd = D(x), wd = D(w), bd = D(b), rd = D(r);
        double Loss() => Dot(rd, LinearRef(xd, wd, bias ? bd : null, m, k, n));
        if (withDx)
        {
            float[] gotDx = rig.Down(dx, m * k);
            GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), accumulateDx ? GradCheck.Accumulated(gotDx, dx0) : gotDx, "dx");
        }
        GradCheck.AssertClose(GradCheck.Numeric(Loss, wd), GradCheck.Accumulated(rig.Down(dw, n * k), dw0), "dw");
        if (bias) GradCheck.AssertClose(GradCheck.Numeric(Loss, bd), GradCheck.Accumulated(rig.Down(db, n), db0), "db");
    }

    [Fact]
    public void LinearBackward_bias_gradient_sums_many_rows()
    {
        // 1000 rows × 600 columns: several column chunks and row blocks in the two-level column sum
        const int m = 1000, k = 3, n = 600;
        using var rig = new CpuRig();
        float[] dy = Random(21, m * n), x = Random(22, m * k), w = Random(23, n * k);
        DevicePtr db = rig.Alloc(n), dw = rig.Alloc(n * k);
        rig.Backend.LinearBackward(rig.Up(dy), rig.Up(x), rig.Up(w), DevicePtr.Null, dw, db, m, k, n, false);
        var expected = new double[n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) expected[j] += dy[i * n + j];
        // sums of 1000 values of size 1 that largely cancel: judge on the scale of √m
        var got = rig.Down(db, n);
        for (int j = 0; j < n; j++) Assert.True(Math.Abs(got[j] - expected[j]) < 1e-4 * Math.Sqrt(m), $"db[{j}]: {got[j]} vs {expected[j]}");
    }
}
