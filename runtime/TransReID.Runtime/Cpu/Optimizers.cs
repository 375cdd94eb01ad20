using System;
using System.Numerics;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Optimiser steps with torch.optim's element-wise arithmetic (docs/model.md#training-recipe): SGD with momentum (no dampening, no Nesterov)
/// and AdamW (decoupled weight decay, bias-corrected moments, non-amsgrad). Memory-bound, so one fused pass each.
/// </summary>
internal static unsafe class CpuOptimizers
{
    private const long Grain = 1 << 16;

    /// <summary>
    /// g = grad + wd·p; buf = momentum·buf + g (buf = g on the first step); p −= lr·buf. With momentum 0 the buffer is
    /// not used (and may be null): p −= lr·g.
    /// </summary>
    public static void Sgd(CpuParallel par, float* param, float* grad, float* buf, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        var a = new Args { P = param, G = grad, M = buf, Lr = lr, Beta1 = momentum, WeightDecay = weightDecay, First = firstStep };
        par.For(n, Grain, &SgdBody, &a);
    }

    /// <summary>
    /// torch.optim.AdamW, per element: p ·= 1 − lr·wd; m += (1−β1)·(g − m); v = β2·v + (1−β2)·g²;
    /// p −= (lr/(1−β1^t))·m / (√v/√(1−β2^t) + eps). Scalars are computed in double as Python does, then used as float.
    /// </summary>
    public static void AdamW(CpuParallel par, float* param, float* grad, float* m, float* v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        var a = new Args
        {
            P = param, G = grad, M = m, V = v, Beta1 = beta1, Beta2 = beta2, Eps = eps,
            Decay = (float)(1 - (double)lr * weightDecay),
            StepSize = (float)(lr / bc1),
            Bc2Sqrt = (float)Math.Sqrt(bc2),
        };
        par.For(n, Grain, &AdamWBody, &a);
    }

    private struct Args
    {
        public float* P, G, M, V;
        public float Lr, Beta1, Beta2, Eps, WeightDecay, Decay, StepSize, Bc2Sqrt;
        public bool First;
    }

    private static void SgdBody(void* ptr, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)ptr;
        float* p = a.P, g = a.G, buf = a.M;
        float lr = a.Lr, mom = a.Beta1, wd = a.WeightDecay;
        bool useBuf = mom != 0 && buf is not null;
        int vw = Vector<float>.Count;
        long i = start;
        var vlr = new Vector<float>(lr);
        var vmom = new Vector<float>(mom);
        var vwd = new Vector<float>(wd);
        for (; i + vw <= end; i += vw)
        {
            var pv = Vector.Load(p + i);
            var gv = Vector.FusedMultiplyAdd(pv, vwd, Vector.Load(g + i));
            if (useBuf)
            {
                gv = a.First ? gv : Vector.FusedMultiplyAdd(Vector.Load(buf + i), vmom, gv);
                Vector.Store(gv, buf + i);
            }
            Vector.Store(pv - vlr * gv, p + i);
        }
        for (; i < end; i++)
        {
            float gi = g[i] + wd * p[i];
            if (useBuf)
            {
                gi = a.First ? gi : mom * buf[i] + gi;
                buf[i] = gi;
            }
            p[i] -= lr * gi;
        }
    }

    private static void AdamWBody(void* ptr, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)ptr;
        float* p = a.P, g = a.G, m = a.M, v = a.V;
        float b1c = 1 - a.Beta1, b2 = a.Beta2, b2c = 1 - a.Beta2, decay = a.Decay, stepSize = a.StepSize, bc2s = a.Bc2Sqrt, eps = a.Eps;
        int vw = Vector<float>.Count;
        long i = start;
        var vb1c = new Vector<float>(b1c);
        var vb2 = new Vector<float>(b2);
        var vb2c = new Vector<float>(b2c);
        var vdecay = new Vector<float>(decay);
        var vstep = new Vector<float>(stepSize);
        var vbc2s = new Vector<float>(bc2s);
        var veps = new Vector<float>(eps);
        for (; i + vw <= end; i += vw)
        {
            var gv = Vector.Load(g + i);
            var pv = Vector.Load(p + i) * vdecay;
            var mv = Vector.Load(m + i);
            mv = Vector.FusedMultiplyAdd(gv - mv, vb1c, mv);
            var vv = Vector.FusedMultiplyAdd(gv * gv, vb2c, Vector.Load(v + i) * vb2);
            var denom = Vector.SquareRoot(vv) / vbc2s + veps;
            Vector.Store(mv, m + i);
            Vector.Store(vv, v + i);
            Vector.Store(pv - vstep * (mv / denom), p + i);
        }
        for (; i < end; i++)
        {
            float gi = g[i];
            float pi = p[i] * decay;
            float mi = m[i] + b1c * (gi - m[i]);
            float vi = v[i] * b2 + b2c * gi * gi;
            float denom = MathF.Sqrt(vi) / bc2s + eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - stepSize * (mi / denom);
        }
    }
}
