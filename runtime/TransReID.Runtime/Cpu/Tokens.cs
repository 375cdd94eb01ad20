using System;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>[cls] prepend + position embedding + λ·SIE[index] (docs/model.md#token-assembly), forward and backward.</summary>
internal static unsafe class CpuTokens
{
    /// <summary>Column range width of the SIE gradient pass (its per-sample sums live on the stack).</summary>
    private const int SieTile = 512;

    /// <summary>x[b,0] = cls + pos[0]; x[b,1+p] = patches[b,p] + pos[1+p]; then + coef·sie[sieIndex[b]] when sie is set.</summary>
    public static void Forward(CpuParallel par, float* patches, float* cls, float* pos, float* sie, int* sieIndex, float coef,
        float* x, int batch, int tokens, int dim)
    {
        var a = new ForwardArgs
        {
            Patches = patches, Cls = cls, Pos = pos, Sie = sie, SieIndex = sieIndex, Coef = coef, X = x, Tokens = tokens, Dim = dim,
        };
        par.For((long)batch * tokens, Math.Max(1, 16384 / dim), &ForwardBody, &a);
    }

    /// <summary>
    /// dpatches[B,N,D] = dx[:,1:] (overwritten); dcls += Σ_b dx[b,0]; dpos[t] += Σ_b dx[b,t];
    /// dsie[sieIndex[b]] += coef·Σ_t dx[b,t] when dsie is set. dpatches, dcls, dpos may each be null (skipped).
    /// </summary>
    public static void Backward(CpuParallel par, float* dx, float* dpatches, float* dcls, float* dpos, float* dsie, int* sieIndex,
        float coef, int batch, int tokens, int dim)
    {
        var a = new BackwardArgs
        {
            Dx = dx, DPatches = dpatches, DCls = dcls, DPos = dpos, DSie = dsie, SieIndex = sieIndex, Coef = coef,
            Batch = batch, Tokens = tokens, Dim = dim,
        };
        if (dpatches is not null || dcls is not null || dpos is not null)
            par.For(tokens, Math.Max(1, 16384 / ((long)batch * dim)), &TokenBody, &a);
        if (dsie is not null)
            par.For(dim, Math.Max(64, 32768 / ((long)batch * tokens)), &SieBody, &a);
    }

    private struct ForwardArgs
    {
        public float* Patches, Cls, Pos, Sie, X;
        public int* SieIndex;
        public float Coef;
        public int Tokens, Dim;
    }

    private static void ForwardBody(void* p, int chunk, long start, long end)
    {
        ref ForwardArgs a = ref *(ForwardArgs*)p;
        int d = a.Dim;
        for (long r = start; r < end; r++)
        {
            long b = r / a.Tokens;
            int t = (int)(r - b * a.Tokens);
            float* src = t == 0 ? a.Cls : a.Patches + (b * (a.Tokens - 1) + t - 1) * d;
            var dst = new Span<float>(a.X + r * d, d);
            TensorPrimitives.Add(new ReadOnlySpan<float>(src, d), new ReadOnlySpan<float>(a.Pos + (long)t * d, d), dst);
            if (a.Sie is not null)
            {
                var sieRow = new ReadOnlySpan<float>(a.Sie + (long)a.SieIndex[b] * d, d);
                TensorPrimitives.MultiplyAdd(sieRow, a.Coef, dst, dst);
            }
        }
    }

    private struct BackwardArgs
    {
        public float* Dx, DPatches, DCls, DPos, DSie;
        public int* SieIndex;
        public float Coef;
        public int Batch, Tokens, Dim;
    }

    /// <summary>Per token t: the dpatches copies, dpos[t] and (t = 0) dcls. Tokens are independent, so no conflicts.</summary>
    private static void TokenBody(void* p, int chunk, long start, long end)
    {
        ref BackwardArgs a = ref *(BackwardArgs*)p;
        int d = a.Dim;
        for (long t = start; t < end; t++)
        {
            var pos = a.DPos is null ? default : new Span<float>(a.DPos + t * d, d);
            var cls = t == 0 && a.DCls is not null ? new Span<float>(a.DCls, d) : default;
            for (int b = 0; b < a.Batch; b++)
            {
                var g = new ReadOnlySpan<float>(a.Dx + ((long)b * a.Tokens + t) * d, d);
                if (!pos.IsEmpty) TensorPrimitives.Add(pos, g, pos);
                if (!cls.IsEmpty) TensorPrimitives.Add(cls, g, cls);
                if (t > 0 && a.DPatches is not null) g.CopyTo(new Span<float>(a.DPatches + ((long)b * (a.Tokens - 1) + t - 1) * d, d));
            }
        }
    }

    /// <summary>Per column range: dsie[idx[b], cols] += coef·Σ_t dx[b,t,cols]. Samples may share a row, columns never.</summary>
    private static void SieBody(void* p, int chunk, long start, long end)
    {
        ref BackwardArgs a = ref *(BackwardArgs*)p;
        int d = a.Dim;
        float* sum = stackalloc float[SieTile];
        for (long c0 = start; c0 < end; c0 += SieTile)
        {
            int w = (int)Math.Min(SieTile, end - c0);
            var s = new Span<float>(sum, w);
            for (int b = 0; b < a.Batch; b++)
            {
                float* row = a.Dx + (long)b * a.Tokens * d + c0;
                new ReadOnlySpan<float>(row, w).CopyTo(s);
                for (int t = 1; t < a.Tokens; t++) TensorPrimitives.Add(s, new ReadOnlySpan<float>(row + (long)t * d, w), s);
                var dst = new Span<float>(a.DSie + (long)a.SieIndex[b] * d + c0, w);
                TensorPrimitives.MultiplyAdd(s, a.Coef, dst, dst);
            }
        }
    }
}
