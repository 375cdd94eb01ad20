using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>PatchEmbed (im2col + GEMM) against a direct convolution; its weight gradients against finite differences.</summary>
public class PatchEmbedTests
{
    private static (double[] Y, double[] Cols) PatchEmbedRef(double[] img, double[] w, double[] b, int batch, int c, int h, int wd, int p,
        int sy, int sx, int gy, int gx, int dim)
    {
        int rows = batch * gy * gx, kk = c * p * p;
        var cols = new double[rows * kk];
        for (int bi = 0; bi < batch; bi++)
            for (int py = 0; py < gy; py++)
                for (int px = 0; px < gx; px++)
                {
                    int r = (bi * gy + py) * gx + px;
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < p; ky++)
                            for (int kx = 0; kx < p; kx++)
                                cols[r * kk + (ci * p + ky) * p + kx] = img[((bi * c + ci) * h + py * sy + ky) * wd + px * sx + kx];
                }
        return (LinearTests.LinearRef(cols, w, b, rows, kk, dim), cols);
    }

    [Fact]
    public void PatchEmbed_matches_direct_convolution_and_its_weight_gradients_finite_differences()
    {
        // 11x10 image, 4x4 kernel, stride (3, 2): grid 3 x 4, the last row/column of pixels uncovered
        const int batch = 2, c = 3, h = 11, wd = 10, p = 4, sy = 3, sx = 2, gy = 3, gx = 4, dim = 5;
        int rows = batch * gy * gx, kk = c * p * p;
        using var rig = new CpuRig();
        float[] img = Random(31, batch * c * h * wd), w = Random(32, dim * kk, 0.2), b = Random(33, dim);
        DevicePtr cols = rig.Alloc(rows * kk), y = rig.Alloc(rows * dim);
        rig.Backend.PatchEmbed(rig.Up(img), cols, rig.Up(w), rig.Up(b), y, batch, c, h, wd, p, sy, sx, gy, gx, dim);
        double[] wdd = D(w), bd = D(b), imgd = D(img);
        var (yRef, colsRef) = PatchEmbedRef(imgd, wdd, bd, batch, c, h, wd, p, sy, sx, gy, gx, dim);
        AssertClose(colsRef, rig.Down(cols, rows * kk), 0, "cols");
        AssertClose(yRef, rig.Down(y, rows * dim), 1e-5, "y");

        float[] r = Random(34, rows * dim), dw0 = Random(35, dim * kk, 0.5), db0 = Random(36, dim, 0.5);
        DevicePtr dw = rig.Up(dw0), db = rig.Up(db0);
        rig.Backend.PatchEmbedBackward(rig.Up(r), cols, dw, db, rows, kk, dim);
        double[] rd = D(r);
        double Loss() => Dot(rd, PatchEmbedRef(imgd, wdd, bd, batch, c, h, wd, p, sy, sx, gy, gx, dim).Y);
        GradCheck.AssertClose(GradCheck.Numeric(Loss, wdd), GradCheck.Accumulated(rig.Down(dw, dim * kk), dw0), "dw");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, bd), GradCheck.Accumulated(rig.Down(db, dim), db0), "db");
    }

    [Fact]
    public void PatchEmbed_rejects_a_grid_that_does_not_fit()
    {
        using var rig = new CpuRig();
        DevicePtr any = rig.Alloc(4096);
        var e = Assert.Throws<ArgumentException>(() =>
            rig.Backend.PatchEmbed(any, any, any, DevicePtr.Null, any, 1, 3, 11, 10, 4, 3, 2, 4, 4, 5));
        Assert.Contains("4x4 grid", e.Message, StringComparison.Ordinal);
    }
}
