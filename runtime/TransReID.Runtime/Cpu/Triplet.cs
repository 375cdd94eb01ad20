using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Batch-hard triplet loss (docs/model.md#triplet-loss) on x[N,D]: d_ij = sqrt(max(‖x_i − x_j‖², 1e-12)) on the raw rows
/// or on x/(‖x‖ + 1e-12) (the reference implementation's <c>normalize</c>); hardest positive (the anchor itself
/// included) and hardest negative per anchor, first index on ties; soft margin softplus(d_ap − d_an) or hard margin
/// max(0, d_ap − d_an + m); mean over anchors. The gradient touches only the 2 mined pairs per anchor, so it is
/// applied as a few row updates (in the normalised space, then through the normalisation's Jacobian per row).
/// Scratch: dist[N,N] | row scale[N] (1 or 1/(‖x‖ + ε)) | norm[N] | positive index[N] | negative index[N].
/// </summary>
internal static unsafe class CpuTriplet
{
    private const float MinSquaredDistance = 1e-12f;
    private const float NormEps = 1e-12f;

    public static void Forward(CpuParallel par, float* x, int* labels, float* loss, float* dx, float* scratch, int n, int d,
        float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        float* dist = scratch, scale = scratch + (long)n * n, norm = scale + n;
        int* pos = (int*)(norm + n), neg = pos + n;
        float minDist = MathF.Sqrt(MinSquaredDistance);

        for (int i = 0; i < n; i++)
        {
            norm[i] = MathF.Sqrt(TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(x + (long)i * d, d)));
            scale[i] = normalize ? 1f / (norm[i] + NormEps) : 1f;
        }
        var a = new DistanceArgs { X = x, Scale = scale, Dist = dist, N = n, D = d };
        par.For(n, Math.Max(1, 65536 / ((long)n * d)), &DistanceBody, &a);

        // mining: strict comparisons keep the first index on ties (torch.max / torch.min on CPU)
        for (int i = 0; i < n; i++)
        {
            float* row = dist + (long)i * n;
            int p = -1, q = -1;
            for (int j = 0; j < n; j++)
            {
                if (labels[j] == labels[i])
                {
                    if (p < 0 || row[j] > row[p]) p = j;
                }
                else if (q < 0 || row[j] < row[q])
                {
                    q = j;
                }
            }
            if (q < 0)
                throw new ArgumentException($"Triplet: sample {i} (label {labels[i]}) has no negative in the batch of {n}; batch-hard mining needs at least two identities.", nameof(labels));
            pos[i] = p;
            neg[i] = q;
        }

        // loss and dloss/dd per anchor
        double total = 0;
        if (!accumulateDx) new Span<float>(dx, checked(n * d)).Clear();
        for (int i = 0; i < n; i++)
        {
            float dap = dist[(long)i * n + pos[i]], dan = dist[(long)i * n + neg[i]];
            double z = (double)dap - dan, coef;
            if (margin <= 0)
            {
                total += Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)));
                coef = 1 / (1 + Math.Exp(-z));
            }
            else
            {
                double h = z + margin;
                total += Math.Max(h, 0);
                coef = h > 0 ? 1 : 0;
            }
            float g = (float)(coef * gradScale / n);
            if (g == 0) continue;
            AddPairGradient(x, dx, norm, d, i, pos[i], g, dap, minDist, normalize);
            AddPairGradient(x, dx, norm, d, i, neg[i], -g, dan, minDist, normalize);
        }
        loss[0] = (float)(total / n);
    }

    private struct DistanceArgs
    {
        public float* X, Scale, Dist;
        public int N, D;
    }

    /// <summary>
    /// Row i of the distance matrix. d²_ij = Σ_c (s_i·x_ic − s_j·x_jc)² is summed from the differences rather than as
    /// ‖x_i‖² + ‖x_j‖² − 2·x_i·x_j: the same value without the float cancellation that turns d_ii (and the distance of
    /// near-duplicate rows) into rounding noise of the squared norms. Exactly symmetric.
    /// </summary>
    private static void DistanceBody(void* p, int chunk, long start, long end)
    {
        ref DistanceArgs a = ref *(DistanceArgs*)p;
        int d = a.D, vw = Vector<float>.Count;
        for (long i = start; i < end; i++)
        {
            float* xi = a.X + i * d;
            var si = new Vector<float>(a.Scale[i]);
            for (int j = 0; j < a.N; j++)
            {
                float* xj = a.X + (long)j * d;
                float sj = a.Scale[j];
                var vsj = new Vector<float>(sj);
                var acc = Vector<float>.Zero;
                int c = 0;
                for (; c <= d - vw; c += vw)
                {
                    var diff = Vector.Load(xi + c) * si - Vector.Load(xj + c) * vsj;
                    acc = Vector.FusedMultiplyAdd(diff, diff, acc);
                }
                float s = Vector.Sum(acc);
                for (; c < d; c++)
                {
                    float t = xi[c] * a.Scale[i] - xj[c] * sj;
                    s += t * t;
                }
                a.Dist[i * a.N + j] = MathF.Sqrt(MathF.Max(s, MinSquaredDistance));
            }
        }
    }

    /// <summary>
    /// Adds g·∂d_ij/∂x to rows i and j of dx. Raw rows: ∂d/∂x_i = (x_i − x_j)/d = −∂d/∂x_j. Normalised rows
    /// x̂ = c·x, c = 1/(‖x‖ + ε): the x̂-space gradient v = (g/d)(x̂_i − x̂_j) goes through Jᵀv = c·v − x̂·(x̂·v)/‖x‖.
    /// Nothing when j = i or the distance was clamped (the clamp passes no gradient).
    /// </summary>
    private static void AddPairGradient(float* x, float* dx, float* norm, int d, int i, int j, float g, float dist, float minDist, bool normalize)
    {
        if (j == i || dist <= minDist) return;
        float w = g / dist;
        var xi = new ReadOnlySpan<float>(x + (long)i * d, d);
        var xj = new ReadOnlySpan<float>(x + (long)j * d, d);
        var gi = new Span<float>(dx + (long)i * d, d);
        var gj = new Span<float>(dx + (long)j * d, d);
        if (!normalize)
        {
            TensorPrimitives.MultiplyAdd(xi, w, gi, gi);
            TensorPrimitives.MultiplyAdd(xj, -w, gi, gi);
            TensorPrimitives.MultiplyAdd(xj, w, gj, gj);
            TensorPrimitives.MultiplyAdd(xi, -w, gj, gj);
            return;
        }
        float ni = norm[i], nj = norm[j];
        float ci = 1f / (ni + NormEps), cj = 1f / (nj + NormEps);
        float gij = TensorPrimitives.Dot(xi, xj);
        // row i: v = w·(c_i x_i − c_j x_j); s_i = x̂_i·v
        float si = w * (ci * ci * ni * ni - ci * cj * gij);
        float ai = ci * ci * w - (ni > 0 ? si * ci / ni : 0f);
        TensorPrimitives.MultiplyAdd(xi, ai, gi, gi);
        TensorPrimitives.MultiplyAdd(xj, -ci * cj * w, gi, gi);
        // row j: −v; s_j = x̂_j·(−v)
        float sj = -w * (ci * cj * gij - cj * cj * nj * nj);
        float aj = cj * cj * w - (nj > 0 ? sj * cj / nj : 0f);
        TensorPrimitives.MultiplyAdd(xj, aj, gj, gj);
        TensorPrimitives.MultiplyAdd(xi, -ci * cj * w, gj, gj);
    }
}
