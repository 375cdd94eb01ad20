using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Softmax cross-entropy with and without label smoothing: loss vs float64, dlogits vs finite differences.</summary>
public class CrossEntropyTests
{
    private static double LossRef(double[] z, int[] labels, int rows, int classes, double eps)
    {
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < classes; c++) max = Math.Max(max, z[r * classes + c]);
            for (int c = 0; c < classes; c++) sum += Math.Exp(z[r * classes + c] - max);
            double lse = max + Math.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                double t = (c == labels[r] ? 1 - eps : 0) + eps / classes;
                total -= t * (z[r * classes + c] - lse);
            }
        }
        return total / rows;
    }

    [Theory]
    [InlineData(0f, 1f, false)]
    [InlineData(0.1f, 0.5f, false)]
    [InlineData(0.1f, 0.125f, true)]
    [InlineData(0f, 1f, true)]
    public void CrossEntropy_matches_reference_and_finite_differences(float smoothing, float gradScale, bool inPlace)
    {
        const int rows = 6, classes = 11;
        int[] labels = [0, 10, 3, 3, 7, 1];
        using var rig = new CpuRig();
        float[] z = Random(1, rows * classes, 4);
        DevicePtr zp = rig.Up(z), loss = rig.Alloc(1), dz = inPlace ? zp : rig.Up(Random(2, rows * classes, 100));
        rig.Backend.CrossEntropy(zp, rig.Up(labels), loss, dz, rows, classes, smoothing, gradScale);
        double[] zd = D(z);
        AssertClose([LossRef(zd, labels, rows, classes, smoothing)], rig.Down(loss, 1), 1e-6, "loss");
        double[] numeric = GradCheck.Numeric(() => gradScale * LossRef(zd, labels, rows, classes, smoothing), zd);
        GradCheck.AssertClose(numeric, rig.Down(dz, rows * classes), "dlogits", 1e-4);
    }

    [Fact]
    public void CrossEntropy_is_stable_for_large_logits_and_parallel_rows()
    {
        const int rows = 300, classes = 751;
        var rng = new Random(3);
        var labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = rng.Next(classes);
        using var rig = new CpuRig();
        float[] z = Random(4, rows * classes, 200); // exp(200) overflows float without the max shift
        DevicePtr loss = rig.Alloc(1), dz = rig.Alloc(rows * classes);
        rig.Backend.CrossEntropy(rig.Up(z), rig.Up(labels), loss, dz, rows, classes, 0.1f, 1f);
        AssertClose([LossRef(D(z), labels, rows, classes, 0.1)], rig.Down(loss, 1), 1e-6, "loss");
        float[] g = rig.Down(dz, rows * classes);
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int c = 0; c < classes; c++) s += g[r * classes + c];
            Assert.True(Math.Abs(s) < 1e-6, $"row {r}: dlogits sum to {s}, expected 0");
        }
    }

    [Fact]
    public void CrossEntropy_rejects_a_label_out_of_range()
    {
        using var rig = new CpuRig();
        DevicePtr p = rig.Alloc(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => rig.Backend.CrossEntropy(p, rig.Up(new[] { 1, 5 }), p, p, 2, 5, 0, 1));
        Assert.Contains("label of row 1 is 5, outside [0, 5)", e.Message, StringComparison.Ordinal);
    }
}
