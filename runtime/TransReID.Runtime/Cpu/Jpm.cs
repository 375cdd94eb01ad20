using System;
using System.Numerics.Tensors;
using TransReID.Shapes;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// JPM shift + patch shuffle + split (docs/model.md#jigsaw-patch-module): a row gather from x[B,T,D] into parts[K,B,L+1,D] with the cls row
/// prepended to every part, and its adjoint, a scatter-add back. Row sources come from
/// <see cref="ShapeMath.JpmSource"/>.
/// </summary>
internal static unsafe class CpuJpm
{
    /// <summary>parts[k,b,0] = x[b,0]; parts[k,b,1+i] = x[b, 1 + JpmSource(k·L + i)].</summary>
    public static void Gather(CpuParallel par, float* x, float* parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        var a = new Args
        {
            X = x, Parts = parts, Batch = batch, PatchCount = patchCount, Dim = dim, PartCount = partCount, PartLength = partLength,
            Shift = shift, Groups = groups, Rearrange = rearrange,
        };
        long rows = (long)partCount * batch * (partLength + 1);
        par.For(rows, Math.Max(1, 32768 / dim), &GatherBody, &a);
    }

    /// <summary>dx[b,0] += Σ_k dparts[k,b,0]; dx[b,1+JpmSource(k·L+i)] += dparts[k,b,1+i]. Parallel over samples (no conflicts).</summary>
    public static void Scatter(CpuParallel par, float* dparts, float* dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        var a = new Args
        {
            X = dx, Parts = dparts, Batch = batch, PatchCount = patchCount, Dim = dim, PartCount = partCount, PartLength = partLength,
            Shift = shift, Groups = groups, Rearrange = rearrange,
        };
        long perSample = (long)partCount * (partLength + 1) * dim;
        par.For(batch, Math.Max(1, 32768 / Math.Max(perSample, 1)), &ScatterBody, &a);
    }

    private struct Args
    {
        public float* X, Parts;
        public int Batch, PatchCount, Dim, PartCount, PartLength, Shift, Groups;
        public bool Rearrange;
    }

    private static void GatherBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int len = a.PartLength + 1, d = a.Dim, tokens = a.PatchCount + 1;
        nuint bytes = (nuint)d * sizeof(float);
        for (long r = start; r < end; r++)
        {
            // r = (k·B + b)·(L+1) + j
            long kb = r / len;
            int j = (int)(r - kb * len);
            int k = (int)(kb / a.Batch);
            long b = kb - (long)k * a.Batch;
            int token = j == 0 ? 0 : 1 + ShapeMath.JpmSource(k * a.PartLength + j - 1, a.PatchCount, a.Shift, a.Groups, a.Rearrange);
            Buffer.MemoryCopy(a.X + (b * tokens + token) * d, a.Parts + r * d, bytes, bytes);
        }
    }

    private static void ScatterBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int len = a.PartLength + 1, d = a.Dim, tokens = a.PatchCount + 1;
        for (long b = start; b < end; b++)
        {
            for (int k = 0; k < a.PartCount; k++)
            {
                float* part = a.Parts + ((long)k * a.Batch + b) * len * d;
                for (int j = 0; j < len; j++)
                {
                    int token = j == 0 ? 0 : 1 + ShapeMath.JpmSource(k * a.PartLength + j - 1, a.PatchCount, a.Shift, a.Groups, a.Rearrange);
                    var dst = new Span<float>(a.X + (b * tokens + token) * d, d);
                    TensorPrimitives.Add(dst, new ReadOnlySpan<float>(part + (long)j * d, d), dst);
                }
            }
        }
    }
}
