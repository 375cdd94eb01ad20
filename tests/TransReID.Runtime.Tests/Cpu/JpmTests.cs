using System;
using CsCheck;
using TransReID.Shapes;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>JPM gather (shift + shuffle + split, cls prepended) and its scatter-add backward.</summary>
public class JpmTests
{
    [Fact]
    public void JpmGather_reproduces_the_spec_tiny_example()
    {
        // docs/model.md#jpm-index-examples: N = 12, m = 5, g = 2, K = 4, L = 3: part0 = [cls p4 p10 p5], part1 = [cls p11 p6 p0],
        // part2 = [cls p7 p1 p8], part3 = [cls p2 p9 p3]. Token t of sample b holds the value 100·b + t (cls = 0).
        const int batch = 2, n = 12, d = 2, k = 4, l = 3;
        int[][] expected = [[4, 10, 5], [11, 6, 0], [7, 1, 8], [2, 9, 3]];
        var x = new float[batch * (n + 1) * d];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t <= n; t++)
                for (int c = 0; c < d; c++) x[(b * (n + 1) + t) * d + c] = 100 * b + t + 0.5f * c;
        using var rig = new CpuRig();
        DevicePtr parts = rig.Alloc(k * batch * (l + 1) * d);
        rig.Backend.JpmGather(rig.Up(x), parts, batch, n, d, k, l, 5, 2, true);
        float[] got = rig.Down(parts, k * batch * (l + 1) * d);
        for (int part = 0; part < k; part++)
            for (int b = 0; b < batch; b++)
                for (int j = 0; j <= l; j++)
                {
                    float token = j == 0 ? 0 : 1 + expected[part][j - 1];
                    for (int c = 0; c < d; c++)
                        Assert.Equal(100 * b + token + 0.5f * c, got[(((part * batch) + b) * (l + 1) + j) * d + c]);
                }
    }

    private static double[] GatherRef(double[] x, int batch, int n, int d, int k, int l, int shift, int groups, bool rearrange)
    {
        var parts = new double[k * batch * (l + 1) * d];
        for (int part = 0; part < k; part++)
            for (int b = 0; b < batch; b++)
                for (int j = 0; j <= l; j++)
                {
                    int token = j == 0 ? 0 : 1 + ShapeMath.JpmSource(part * l + j - 1, n, shift, groups, rearrange);
                    Array.Copy(x, (b * (n + 1) + token) * d, parts, ((part * batch + b) * (l + 1) + j) * d, d);
                }
        return parts;
    }

    [Theory]
    [InlineData(3, 210, 8, 4, 5, 2, true)]  // the stride-12 person case at width 8
    [InlineData(2, 441, 4, 4, 8, 2, true)]  // odd N (256x256 stride 12): padded shuffle
    [InlineData(2, 128, 4, 4, 5, 2, false)] // no rearrangement: contiguous stripes
    public void JpmGather_and_backward_match_the_reference(int batch, int n, int d, int k, int shift, int groups, bool rearrange)
    {
        int l = ShapeMath.PartLength(n, k), partsLength = k * batch * (l + 1) * d, xLength = batch * (n + 1) * d;
        using var rig = new CpuRig();
        float[] x = Random(1, xLength), dparts = Random(2, partsLength), dx0 = Random(3, xLength);
        DevicePtr parts = rig.Alloc(partsLength), dx = rig.Up(dx0);
        rig.Backend.JpmGather(rig.Up(x), parts, batch, n, d, k, l, shift, groups, rearrange);
        AssertClose(GatherRef(D(x), batch, n, d, k, l, shift, groups, rearrange), rig.Down(parts, partsLength), 0, "parts");

        rig.Backend.JpmGatherBackward(rig.Up(dparts), dx, batch, n, d, k, l, shift, groups, rearrange);
        // reference scatter-add, written independently of the gather: walk the parts and add each row to its source
        double[] expected = D(dx0);
        for (int part = 0; part < k; part++)
            for (int b = 0; b < batch; b++)
                for (int j = 0; j <= l; j++)
                {
                    int token = j == 0 ? 0 : 1 + ShapeMath.JpmSource(part * l + j - 1, n, shift, groups, rearrange);
                    for (int c = 0; c < d; c++) expected[(b * (n + 1) + token) * d + c] += dparts[((part * batch + b) * (l + 1) + j) * d + c];
                }
        AssertClose(expected, rig.Down(dx, xLength), 1e-6, "dx");
    }

    [Fact]
    public void JpmGatherBackward_matches_finite_differences()
    {
        // odd N = 13 with 2 groups (the padded shuffle), shift 3, K = 3 parts of 4 tokens; cls gathers into every part
        const int batch = 2, n = 13, d = 3, k = 3, shift = 3, groups = 2;
        int l = ShapeMath.PartLength(n, k), partsLength = k * batch * (l + 1) * d, xLength = batch * (n + 1) * d;
        using var rig = new CpuRig();
        float[] x = Random(4, xLength), r = Random(5, partsLength), dx0 = Random(6, xLength);
        DevicePtr dx = rig.Up(dx0);
        rig.Backend.JpmGatherBackward(rig.Up(r), dx, batch, n, d, k, l, shift, groups, true);
        double[] xd = D(x), rd = D(r);
        double Loss() => Dot(rd, GatherRef(xd, batch, n, d, k, l, shift, groups, true));
        GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), GradCheck.Accumulated(rig.Down(dx, xLength), dx0), "dx");
    }

    [Fact]
    public void JpmGather_and_backward_are_adjoint()
    {
        var gen = Gen.Select(Gen.Int[1, 3], Gen.Int[4, 40], Gen.Int[1, 5], Gen.Int[1, 5], Gen.Int[0, 9], Gen.Int[1, 3], Gen.Bool, Gen.Int,
                (b, n, d, k, shift, groups, rearrange, seed) => (B: b, N: n, D: d, K: k, Shift: shift, Groups: groups, Rearrange: rearrange, Seed: seed))
            .Where(c => c.N / c.K >= 1 && (!c.Rearrange || ShapeMath.ShuffleAllowed(c.N, c.Groups)));
        using var rig = new CpuRig();
        gen.Sample(c =>
        {
            int l = ShapeMath.PartLength(c.N, c.K), partsLength = c.K * c.B * (l + 1) * c.D, xLength = c.B * (c.N + 1) * c.D;
            float[] x = Random(c.Seed, xLength), y = Random(c.Seed + 1, partsLength);
            DevicePtr parts = rig.Alloc(partsLength), dx = rig.Alloc(xLength);
            rig.Backend.JpmGather(rig.Up(x), parts, c.B, c.N, c.D, c.K, l, c.Shift, c.Groups, c.Rearrange);
            rig.Backend.JpmGatherBackward(rig.Up(y), dx, c.B, c.N, c.D, c.K, l, c.Shift, c.Groups, c.Rearrange);
            double lhs = Dot(D(y), rig.Down(parts, partsLength)); // ⟨gather(x), y⟩
            double rhs = Dot(D(x), rig.Down(dx, xLength));        // ⟨x, scatter(y)⟩
            Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * (1 + Math.Abs(lhs)), $"⟨gather(x), y⟩ = {lhs}, ⟨x, scatter(y)⟩ = {rhs} for {c}");
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void JpmGather_rejects_parts_longer_than_the_patches_and_impossible_shuffles()
    {
        using var rig = new CpuRig();
        DevicePtr p = rig.Alloc(4096);
        var e = Assert.Throws<ArgumentException>(() => rig.Backend.JpmGather(p, p, 1, 12, 2, 4, 4, 5, 2, true));
        Assert.Contains("4 parts of 4 tokens", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => rig.Backend.JpmGatherBackward(p, p, 1, 13, 2, 4, 3, 5, 3, true));
        Assert.Contains("13 patches cannot be shuffled into 3 groups", e.Message, StringComparison.Ordinal);
    }
}
