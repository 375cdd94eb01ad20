using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>LayerNorm forward (values, saved mean/rstd, in place) and backward against float64 and finite differences.</summary>
public class LayerNormTests
{
    private static (double[] Y, double[] Mean, double[] Rstd) Ref(double[] x, double[] g, double[] b, int rows, int dim, double eps)
    {
        var y = new double[rows * dim];
        var mean = new double[rows];
        var rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double mu = 0, var = 0;
            for (int i = 0; i < dim; i++) mu += x[r * dim + i];
            mu /= dim;
            for (int i = 0; i < dim; i++) var += (x[r * dim + i] - mu) * (x[r * dim + i] - mu);
            var /= dim;
            double rs = 1 / Math.Sqrt(var + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - mu) * rs * g[i] + b[i];
            mean[r] = mu;
            rstd[r] = rs;
        }
        return (y, mean, rstd);
    }

    [Theory]
    [InlineData(9, 37, 1e-6f)]
    [InlineData(200, 768, 1e-5f)]
    public void LayerNorm_matches_float64_reference(int rows, int dim, float eps)
    {
        using var rig = new CpuRig();
        float[] x = Random(1, rows * dim, 2, 0.5), g = Random(2, dim, 0.5, 1), b = Random(3, dim);
        DevicePtr y = rig.Alloc(rows * dim), mean = rig.Alloc(rows), rstd = rig.Alloc(rows);
        rig.Backend.LayerNorm(rig.Up(x), rig.Up(g), rig.Up(b), y, mean, rstd, rows, dim, eps);
        var (yr, mr, rr) = Ref(D(x), D(g), D(b), rows, dim, eps);
        AssertClose(yr, rig.Down(y, rows * dim), 1e-5, "y");
        AssertClose(mr, rig.Down(mean, rows), 1e-5, "mean");
        AssertClose(rr, rig.Down(rstd, rows), 1e-5, "rstd");
    }

    [Fact]
    public void LayerNorm_in_place_equals_out_of_place()
    {
        const int rows = 5, dim = 33;
        using var rig = new CpuRig();
        float[] x = Random(4, rows * dim), g = Random(5, dim), b = Random(6, dim);
        DevicePtr xp = rig.Up(x), gp = rig.Up(g), bp = rig.Up(b), y = rig.Alloc(rows * dim), m = rig.Alloc(rows), s = rig.Alloc(rows);
        rig.Backend.LayerNorm(xp, gp, bp, y, m, s, rows, dim, 1e-6f);
        rig.Backend.LayerNorm(xp, gp, bp, xp, m, s, rows, dim, 1e-6f);
        AssertEqual(rig.Down(y, rows * dim), rig.Down(xp, rows * dim), "in-place y");
    }

    [Theory]
    [InlineData(false, 1e-6f)]
    [InlineData(true, 1e-5f)]
    public void LayerNormBackward_matches_finite_differences(bool accumulateDx, float eps)
    {
        const int rows = 7, dim = 19;
        using var rig = new CpuRig();
        float[] x = Random(11, rows * dim, 2), g = Random(12, dim, 0.5, 1), b = Random(13, dim), r = Random(14, rows * dim);
        float[] dx0 = Random(15, rows * dim, 0.5), dg0 = Random(16, dim, 0.5), db0 = Random(17, dim, 0.5);
        DevicePtr xp = rig.Up(x), gp = rig.Up(g), y = rig.Alloc(rows * dim), mean = rig.Alloc(rows), rstd = rig.Alloc(rows);
        rig.Backend.LayerNorm(xp, gp, rig.Up(b), y, mean, rstd, rows, dim, eps);
        DevicePtr dx = rig.Up(dx0), dg = rig.Up(dg0), db = rig.Up(db0);
        rig.Backend.LayerNormBackward(rig.Up(r), xp, gp, mean, rstd, dx, dg, db, rows, dim, accumulateDx);

        double[] xd = D(x), gd = D(g), bd = D(b), rd = D(r);
        double Loss() => Dot(rd, Ref(xd, gd, bd, rows, dim, eps).Y);
        float[] gotDx = rig.Down(dx, rows * dim);
        GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), accumulateDx ? GradCheck.Accumulated(gotDx, dx0) : gotDx, "dx");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, gd), GradCheck.Accumulated(rig.Down(dg, dim), dg0), "dgamma");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, bd), GradCheck.Accumulated(rig.Down(db, dim), db0), "dbeta");
    }

    [Fact]
    public void LayerNormBackward_partial_sums_are_reduced_over_many_chunks()
    {
        // 300 rows of 64: 8 chunks on 2 threads, each with its own dgamma/dbeta partials
        const int rows = 300, dim = 64;
        using var rig = new CpuRig();
        float[] x = Random(21, rows * dim), g = Random(22, dim, 0.5, 1), dy = Random(23, rows * dim);
        DevicePtr xp = rig.Up(x), gp = rig.Up(g), y = rig.Alloc(rows * dim), mean = rig.Alloc(rows), rstd = rig.Alloc(rows);
        rig.Backend.LayerNorm(xp, gp, rig.Alloc(dim), y, mean, rstd, rows, dim, 1e-6f);
        DevicePtr dx = rig.Alloc(rows * dim), dg = rig.Alloc(dim), db = rig.Alloc(dim);
        rig.Backend.LayerNormBackward(rig.Up(dy), xp, gp, mean, rstd, dx, dg, db, rows, dim, false);
        var (_, mr, rr) = Ref(D(x), D(g), new double[dim], rows, dim, 1e-6);
        var dgRef = new double[dim];
        var dbRef = new double[dim];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < dim; i++)
            {
                dgRef[i] += dy[r * dim + i] * (x[r * dim + i] - mr[r]) * rr[r];
                dbRef[i] += dy[r * dim + i];
            }
        AssertClose(dgRef, rig.Down(dg, dim), 1e-5, "dgamma");
        AssertClose(dbRef, rig.Down(db, dim), 1e-5, "dbeta");
    }
}
