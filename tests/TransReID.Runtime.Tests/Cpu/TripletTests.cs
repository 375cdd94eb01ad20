using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Batch-hard triplet loss: soft and hard margin, raw and normalised features, accumulate, ties.</summary>
public class TripletTests
{
    private static readonly int[] PkLabels = [0, 0, 1, 1, 2, 2, 3, 3];
    private static readonly int[] SingletonLabels = [0, 0, 1, 2, 2, 3, 4, 4]; // ids 1 and 3: the anchor is its own only positive

    private static double LossRef(double[] x, int[] labels, int n, int d, double margin, bool normalize)
    {
        var f = (double[])x.Clone();
        if (normalize)
        {
            for (int i = 0; i < n; i++)
            {
                double s = 0;
                for (int c = 0; c < d; c++) s += x[i * d + c] * x[i * d + c];
                double k = 1 / (Math.Sqrt(s) + 1e-12);
                for (int c = 0; c < d; c++) f[i * d + c] = x[i * d + c] * k;
            }
        }
        var sq = new double[n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < d; c++) sq[i] += f[i * d + c] * f[i * d + c];
        double Dist(int i, int j)
        {
            double g = 0;
            for (int c = 0; c < d; c++) g += f[i * d + c] * f[j * d + c];
            return Math.Sqrt(Math.Max(sq[i] + sq[j] - 2 * g, 1e-12));
        }
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double ap = double.NegativeInfinity, an = double.PositiveInfinity;
            for (int j = 0; j < n; j++)
            {
                double dij = Dist(i, j);
                if (labels[j] == labels[i]) ap = Math.Max(ap, dij);
                else an = Math.Min(an, dij);
            }
            double z = ap - an;
            total += margin <= 0 ? Math.Log(1 + Math.Exp(z)) : Math.Max(0, z + margin);
        }
        return total / n;
    }

    [Theory]
    [InlineData(0f, false, false, false)]
    [InlineData(0f, true, false, false)]
    [InlineData(0.3f, false, true, false)]
    [InlineData(0.3f, true, true, false)]
    [InlineData(0f, false, true, true)]
    [InlineData(0f, true, false, true)]
    public void Triplet_matches_reference_and_finite_differences(float margin, bool normalize, bool accumulateDx, bool singletons)
    {
        const int n = 8, d = 5;
        const float gradScale = 0.5f;
        int[] labels = singletons ? SingletonLabels : PkLabels;
        using var rig = new CpuRig();
        float[] x = Random(normalize ? 2 : 1, n * d, 1, 0.2), dx0 = Random(3, n * d, 0.5);
        DevicePtr loss = rig.Alloc(1), dx = rig.Up(dx0);
        rig.Backend.Triplet(rig.Up(x), rig.Up(labels), loss, dx, rig.Alloc(n * n + 4 * n), n, d, margin, normalize, gradScale, accumulateDx);
        double[] xd = D(x);
        AssertClose([LossRef(xd, labels, n, d, margin, normalize)], rig.Down(loss, 1), 1e-5, "loss");
        float[] got = rig.Down(dx, n * d);
        GradCheck.AssertClose(GradCheck.Numeric(() => gradScale * LossRef(xd, labels, n, d, margin, normalize), xd),
            accumulateDx ? GradCheck.Accumulated(got, dx0) : got, "dx");
    }

    [Fact]
    public void Triplet_hard_margin_passes_no_gradient_from_satisfied_anchors()
    {
        // two tight, far-apart clusters: every d_an − d_ap exceeds the margin, so loss and gradient are exactly 0
        const int n = 4, d = 2;
        float[] x = [0f, 0f, 0.1f, 0f, 10f, 0f, 10.1f, 0f];
        using var rig = new CpuRig();
        DevicePtr loss = rig.Alloc(1), dx = rig.Up(Random(4, n * d, 100));
        rig.Backend.Triplet(rig.Up(x), rig.Up(new[] { 0, 0, 1, 1 }), loss, dx, rig.Alloc(n * n + 4 * n), n, d, 0.3f, false, 1f, false);
        Assert.Equal(0f, rig.Down(loss, 1)[0]);
        Assert.All(rig.Down(dx, n * d), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Triplet_ties_take_the_first_index()
    {
        // x2 and x3 are identical negatives of anchors 0 and 1, at equal distances: the first (2) must be mined. With
        // margin 0.5 anchors 0 and 1 are active and anchors 2 and 3 (d_an ≥ 1) are not, so x3 could only receive
        // gradient by being mined as a negative.
        const int n = 4, d = 2;
        float[] x = [0f, 0f, 0.8f, 0f, 0f, 1f, 0f, 1f];
        using var rig = new CpuRig();
        DevicePtr dx = rig.Alloc(n * d);
        rig.Backend.Triplet(rig.Up(x), rig.Up(new[] { 0, 0, 1, 1 }), rig.Alloc(1), dx, rig.Alloc(n * n + 4 * n), n, d, 0.5f, false, 1f, false);
        float[] g = rig.Down(dx, n * d);
        Assert.True(g[5] != 0f, "x2 (first of the tied negatives) should receive gradient");
        Assert.Equal(0f, g[6]);
        Assert.Equal(0f, g[7]);
    }

    [Fact]
    public void Triplet_rejects_a_batch_without_negatives()
    {
        using var rig = new CpuRig();
        DevicePtr p = rig.Alloc(64);
        var e = Assert.Throws<ArgumentException>(() => rig.Backend.Triplet(p, rig.Up(new[] { 4, 4, 4 }), p, p, rig.Alloc(64), 3, 2, 0f, false, 1f, false));
        Assert.Contains("has no negative", e.Message, StringComparison.Ordinal);
    }
}
