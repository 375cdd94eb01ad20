using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Multi-head attention core (strided views into qkv) against float64 and finite differences.</summary>
public class AttentionTests
{
    private static (double[] Y, double[] P) Ref(double[] qkv, int batch, int t, int heads, int dh, double scale)
    {
        int d = heads * dh;
        var y = new double[batch * t * d];
        var probs = new double[batch * heads * t * t];
        var s = new double[t];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < t; i++)
                {
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < t; j++)
                    {
                        double dot = 0;
                        for (int c = 0; c < dh; c++) dot += qkv[(b * t + i) * 3 * d + h * dh + c] * qkv[(b * t + j) * 3 * d + d + h * dh + c];
                        s[j] = dot * scale;
                        max = Math.Max(max, s[j]);
                    }
                    for (int j = 0; j < t; j++) sum += s[j] = Math.Exp(s[j] - max);
                    for (int j = 0; j < t; j++)
                    {
                        double p = s[j] / sum;
                        probs[((b * heads + h) * t + i) * t + j] = p;
                        for (int c = 0; c < dh; c++) y[(b * t + i) * d + h * dh + c] += p * qkv[(b * t + j) * 3 * d + 2 * d + h * dh + c];
                    }
                }
        return (y, probs);
    }

    [Theory]
    [InlineData(2, 5, 3, 4)]
    [InlineData(3, 23, 4, 16)]
    public void Attention_matches_float64_reference(int batch, int t, int heads, int dh)
    {
        int d = heads * dh;
        float scale = 1f / MathF.Sqrt(dh);
        using var rig = new CpuRig();
        float[] qkv = Random(1, batch * t * 3 * d, 2);
        DevicePtr probs = rig.Alloc(batch * heads * t * t), y = rig.Alloc(batch * t * d);
        rig.Backend.Attention(rig.Up(qkv), probs, y, batch, t, heads, dh, scale, keepProbs: true);
        var (yr, pr) = Ref(D(qkv), batch, t, heads, dh, scale);
        AssertClose(pr, rig.Down(probs, batch * heads * t * t), 1e-5, "probs");
        AssertClose(yr, rig.Down(y, batch * t * d), 1e-5, "y");
    }

    [Fact]
    public void Attention_softmax_is_stable_for_large_scores()
    {
        const int batch = 1, t = 4, heads = 1, dh = 2;
        using var rig = new CpuRig();
        float[] qkv = Random(2, batch * t * 3 * dh, 60); // scores up to ~7000: exp overflows without the max shift
        DevicePtr probs = rig.Alloc(t * t), y = rig.Alloc(t * dh);
        rig.Backend.Attention(rig.Up(qkv), probs, y, batch, t, heads, dh, 1f, keepProbs: true);
        AssertClose(Ref(D(qkv), batch, t, heads, dh, 1).P, rig.Down(probs, t * t), 1e-5, "probs");
    }

    [Fact]
    public void AttentionBackward_matches_finite_differences()
    {
        const int batch = 2, t = 5, heads = 3, dh = 4, d = heads * dh;
        float scale = 1f / MathF.Sqrt(dh);
        using var rig = new CpuRig();
        float[] qkv = Random(11, batch * t * 3 * d), r = Random(12, batch * t * d);
        DevicePtr qp = rig.Up(qkv), probs = rig.Alloc(batch * heads * t * t), y = rig.Alloc(batch * t * d);
        rig.Backend.Attention(qp, probs, y, batch, t, heads, dh, scale, keepProbs: true);
        DevicePtr dqkv = rig.Up(Random(13, batch * t * 3 * d, 100)); // garbage: must be overwritten
        rig.Backend.AttentionBackward(rig.Up(r), qp, probs, dqkv, rig.Alloc(batch * heads * t * t), batch, t, heads, dh, scale);
        double[] qd = D(qkv), rd = D(r);
        GradCheck.AssertClose(GradCheck.Numeric(() => Dot(rd, Ref(qd, batch, t, heads, dh, scale).Y), qd),
            rig.Down(dqkv, batch * t * 3 * d), "dqkv");
    }
}
