using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>BatchNorm1d train/eval forward, running statistics and backward (with and without a frozen β).</summary>
public class BatchNormTests
{
    private static (double[] Y, double[] Mean, double[] Var) TrainRef(double[] x, double[] g, double[] b, int n, int c, double eps)
    {
        var y = new double[n * c];
        var mean = new double[c];
        var var = new double[c];
        for (int j = 0; j < c; j++)
        {
            double mu = 0, v = 0;
            for (int i = 0; i < n; i++) mu += x[i * c + j];
            mu /= n;
            for (int i = 0; i < n; i++) v += (x[i * c + j] - mu) * (x[i * c + j] - mu);
            v /= n;
            for (int i = 0; i < n; i++) y[i * c + j] = (x[i * c + j] - mu) / Math.Sqrt(v + eps) * g[j] + b[j];
            mean[j] = mu;
            var[j] = v;
        }
        return (y, mean, var);
    }

    [Theory]
    [InlineData(8, 300)]
    [InlineData(64, 768)]
    public void BatchNormTrain_matches_reference_and_updates_running_stats_with_unbiased_variance(int n, int c)
    {
        const float eps = 1e-5f, momentum = 0.1f;
        using var rig = new CpuRig();
        float[] x = Random(1, n * c, 2, 0.7), g = Random(2, c, 0.5, 1), b = Random(3, c), rm0 = Random(4, c), rv0 = Random(5, c, 0.5, 1);
        DevicePtr y = rig.Alloc(n * c), mean = rig.Alloc(c), rstd = rig.Alloc(c), rm = rig.Up(rm0), rv = rig.Up(rv0);
        rig.Backend.BatchNormTrain(rig.Up(x), rig.Up(g), rig.Up(b), y, mean, rstd, rm, rv, n, c, eps, momentum);
        var (yr, mr, vr) = TrainRef(D(x), D(g), D(b), n, c, eps);
        AssertClose(yr, rig.Down(y, n * c), 1e-5, "y");
        AssertClose(mr, rig.Down(mean, c), 1e-5, "mean");
        AssertClose(Array.ConvertAll(vr, v => 1 / Math.Sqrt(v + eps)), rig.Down(rstd, c), 1e-5, "rstd");
        var rmRef = new double[c];
        var rvRef = new double[c];
        for (int j = 0; j < c; j++)
        {
            rmRef[j] = (1 - momentum) * rm0[j] + momentum * mr[j];
            rvRef[j] = (1 - momentum) * rv0[j] + momentum * vr[j] * n / (n - 1);
        }
        AssertClose(rmRef, rig.Down(rm, c), 1e-5, "running mean");
        AssertClose(rvRef, rig.Down(rv, c), 1e-5, "running var");
    }

    [Fact]
    public void BatchNormTrain_without_running_stats_or_beta()
    {
        const int n = 4, c = 20;
        using var rig = new CpuRig();
        float[] x = Random(6, n * c), g = Random(7, c, 0.5, 1);
        DevicePtr y = rig.Alloc(n * c);
        rig.Backend.BatchNormTrain(rig.Up(x), rig.Up(g), DevicePtr.Null, y, rig.Alloc(c), rig.Alloc(c), DevicePtr.Null, DevicePtr.Null, n, c, 1e-5f, 0.1f);
        AssertClose(TrainRef(D(x), D(g), new double[c], n, c, 1e-5).Y, rig.Down(y, n * c), 1e-5, "y");
    }

    [Fact]
    public void BatchNormEval_uses_running_stats()
    {
        const int n = 5, c = 270;
        const float eps = 1e-5f;
        using var rig = new CpuRig();
        float[] x = Random(8, n * c), g = Random(9, c), b = Random(10, c), rm = Random(11, c), rv = Random(12, c, 0.5, 1);
        DevicePtr y = rig.Alloc(n * c);
        rig.Backend.BatchNormEval(rig.Up(x), rig.Up(g), rig.Up(b), rig.Up(rm), rig.Up(rv), y, n, c, eps);
        var expected = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++) expected[i * c + j] = ((double)x[i * c + j] - rm[j]) / Math.Sqrt(rv[j] + (double)eps) * g[j] + b[j];
        AssertClose(expected, rig.Down(y, n * c), 1e-5, "y");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchNormEvalBackward_matches_a_float64_reference(bool accumulateDx)
    {
        const int n = 6, c = 7;
        const float eps = 1e-5f;
        using var rig = new CpuRig();
        float[] x = Random(61, n * c, 2), g = Random(62, c, 0.5, 1), rm = Random(63, c), rv = Random(64, c, 0.5, 1), dy = Random(65, n * c);
        float[] dx0 = Random(66, n * c, 0.5), dg0 = Random(67, c, 0.5), db0 = Random(68, c, 0.5);
        DevicePtr dx = rig.Up(dx0), dg = rig.Up(dg0), db = rig.Up(db0);
        rig.Backend.BatchNormEvalBackward(rig.Up(dy), rig.Up(x), rig.Up(g), rig.Up(rm), rig.Up(rv), dx, dg, db, n, c, eps, accumulateDx);
        // y = (x − m)·γ/sqrt(v + eps) + β is affine in x and in γ: the derivatives are exact in float64
        var edx = new double[n * c];
        var edg = new double[c];
        var edb = new double[c];
        for (int j = 0; j < c; j++)
        {
            double rs = 1 / Math.Sqrt(rv[j] + (double)eps);
            edg[j] = dg0[j];
            edb[j] = db0[j];
            for (int i = 0; i < n; i++)
            {
                int k = i * c + j;
                edx[k] = (accumulateDx ? dx0[k] : 0) + dy[k] * g[j] * rs;
                edg[j] += dy[k] * (x[k] - rm[j]) * rs;
                edb[j] += dy[k];
            }
        }

        AssertClose(edx, rig.Down(dx, n * c), 1e-5, "dx");
        AssertClose(edg, rig.Down(dg, c), 1e-5, "dgamma");
        AssertClose(edb, rig.Down(db, c), 1e-5, "dbeta");
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void BatchNormBackward_matches_finite_differences(bool accumulateDx, bool trainBeta)
    {
        const int n = 6, c = 5;
        const float eps = 1e-5f;
        using var rig = new CpuRig();
        float[] x = Random(21, n * c, 2), g = Random(22, c, 0.5, 1), b = Random(23, c), r = Random(24, n * c);
        float[] dx0 = Random(25, n * c, 0.5), dg0 = Random(26, c, 0.5), db0 = Random(27, c, 0.5);
        DevicePtr xp = rig.Up(x), gp = rig.Up(g), mean = rig.Alloc(c), rstd = rig.Alloc(c);
        rig.Backend.BatchNormTrain(xp, gp, rig.Up(b), rig.Alloc(n * c), mean, rstd, DevicePtr.Null, DevicePtr.Null, n, c, eps, 0.1f);
        DevicePtr dx = rig.Up(dx0), dg = rig.Up(dg0), db = trainBeta ? rig.Up(db0) : DevicePtr.Null;
        rig.Backend.BatchNormBackward(rig.Up(r), xp, gp, mean, rstd, dx, dg, db, n, c, accumulateDx);

        double[] xd = D(x), gd = D(g), bd = D(b), rd = D(r);
        double Loss() => Dot(rd, TrainRef(xd, gd, bd, n, c, eps).Y);
        float[] gotDx = rig.Down(dx, n * c);
        GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), accumulateDx ? GradCheck.Accumulated(gotDx, dx0) : gotDx, "dx");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, gd), GradCheck.Accumulated(rig.Down(dg, c), dg0), "dgamma");
        if (trainBeta) GradCheck.AssertClose(GradCheck.Numeric(Loss, bd), GradCheck.Accumulated(rig.Down(db, c), db0), "dbeta");
    }

    [Fact]
    public void BatchNormTrain_rejects_a_single_row()
    {
        using var rig = new CpuRig();
        DevicePtr p = rig.Alloc(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => rig.Backend.BatchNormTrain(p, p, p, p, p, p, p, p, 1, 8, 1e-5f, 0.1f));
        Assert.Contains("more than one value per channel", e.Message, StringComparison.Ordinal);
    }
}
