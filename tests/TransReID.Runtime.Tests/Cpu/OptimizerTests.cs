using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>SGD (momentum buffer: first step vs later steps) and AdamW against float64 transcriptions of torch.optim.</summary>
public class OptimizerTests
{
    [Theory]
    [InlineData(1003, 0.9f, 1e-4f)]
    [InlineData(140_003, 0.9f, 0f)]
    public void Sgd_first_and_later_steps_match_torch(int n, float momentum, float wd)
    {
        const float lr = 0.008f;
        using var rig = new CpuRig();
        float[] p0 = Random(1, n), g1 = Random(2, n, 0.1), g2 = Random(3, n, 0.1);
        DevicePtr p = rig.Up(p0), buf = rig.Up(Random(4, n, 100)); // garbage: the first step must not read it
        // torch: d_p = g + wd·p; buf = d_p (first) or momentum·buf + d_p; p −= lr·buf
        double[] pr = D(p0), br = new double[n];
        foreach ((float[] g, bool first) in new[] { (g1, true), (g2, false) })
        {
            rig.Backend.SgdStep(p, rig.Up(g), buf, n, lr, momentum, wd, first);
            for (int i = 0; i < n; i++)
            {
                double dp = g[i] + (double)wd * pr[i];
                br[i] = first ? dp : momentum * br[i] + dp;
                pr[i] -= lr * br[i];
            }
            AssertClose(pr, rig.Down(p, n), 1e-6, first ? "param after step 1" : "param after step 2");
            AssertClose(br, rig.Down(buf, n), 1e-6, first ? "buffer after step 1" : "buffer after step 2");
        }
    }

    [Fact]
    public void Sgd_without_momentum_needs_no_buffer()
    {
        const int n = 50;
        using var rig = new CpuRig();
        float[] p0 = Random(5, n), g = Random(6, n);
        DevicePtr p = rig.Up(p0);
        rig.Backend.SgdStep(p, rig.Up(g), DevicePtr.Null, n, 0.1f, 0f, 0.01f, true);
        var expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = p0[i] - 0.1 * (g[i] + 0.01 * p0[i]);
        AssertClose(expected, rig.Down(p, n), 1e-6, "param");
    }

    [Theory]
    [InlineData(1003)]
    [InlineData(140_003)]
    public void AdamW_two_steps_match_torch(int n)
    {
        const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.05f;
        using var rig = new CpuRig();
        float[] p0 = Random(7, n), g1 = Random(8, n, 0.1), g2 = Random(9, n, 0.1);
        DevicePtr p = rig.Up(p0), m = rig.Alloc(n), v = rig.Alloc(n);
        double[] pr = D(p0), mr = new double[n], vr = new double[n];
        int step = 0;
        foreach (float[] g in new[] { g1, g2 })
        {
            step++;
            rig.Backend.AdamWStep(p, rig.Up(g), m, v, n, lr, beta1, beta2, eps, wd, step);
            // torch.optim.AdamW (single tensor, non-amsgrad)
            double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
            for (int i = 0; i < n; i++)
            {
                pr[i] *= 1 - (double)lr * wd;
                mr[i] += (1 - (double)beta1) * (g[i] - mr[i]);
                vr[i] = beta2 * vr[i] + (1 - (double)beta2) * g[i] * g[i];
                double denom = Math.Sqrt(vr[i]) / Math.Sqrt(bc2) + eps;
                pr[i] -= lr / bc1 * mr[i] / denom;
            }
            AssertClose(pr, rig.Down(p, n), 1e-6, $"param after step {step}");
            AssertClose(mr, rig.Down(m, n), 1e-6, $"exp_avg after step {step}");
            AssertClose(vr, rig.Down(v, n), 1e-6, $"exp_avg_sq after step {step}");
        }
    }
}
