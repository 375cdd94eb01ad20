using System;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Multi-head self-attention core (docs/model.md#transformer-block): per (sample, head) pair, strided views straight into qkv[B,T,3D]
/// (leading dimension 3D, no transposed copies), single-threaded GEMMs, pairs spread over the threads.
/// </summary>
internal static unsafe class CpuAttention
{
    /// <summary>probs[B,H,T,T] = softmax(scale·Q·Kᵀ); y[B,T,D] = probs·V with heads concatenated.</summary>
    public static void Forward(CpuParallel par, float* qkv, float* probs, float* y, int batch, int tokens, int heads, int headDim, float scale)
    {
        var a = new Args { Qkv = qkv, Probs = probs, Y = y, Tokens = tokens, Heads = heads, HeadDim = headDim, Scale = scale };
        par.For((long)batch * heads, 1, &ForwardBody, &a);
    }

    /// <summary>
    /// dV = Pᵀ·dY; dP = dY·Vᵀ; dS = P ∘ (dP − rowsum(dP ∘ P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q. dqkv is overwritten;
    /// dS lives in scratch[B,H,T,T] (each pair its own block).
    /// </summary>
    public static void Backward(CpuParallel par, float* dy, float* qkv, float* probs, float* dqkv, float* scratch,
        int batch, int tokens, int heads, int headDim, float scale)
    {
        var a = new Args
        {
            Dy = dy, Qkv = qkv, Probs = probs, DQkv = dqkv, Scratch = scratch, Tokens = tokens, Heads = heads, HeadDim = headDim, Scale = scale,
        };
        par.For((long)batch * heads, 1, &BackwardBody, &a);
    }

    private struct Args
    {
        public float* Qkv, Probs, Y, Dy, DQkv, Scratch;
        public int Tokens, Heads, HeadDim;
        public float Scale;
    }

    private static void ForwardBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int t = a.Tokens, dh = a.HeadDim, d = a.Heads * dh, ld = 3 * d;
        for (long pair = start; pair < end; pair++)
        {
            long b = pair / a.Heads;
            int h = (int)(pair - b * a.Heads);
            float* q = a.Qkv + b * t * ld + h * dh, k = q + d, v = q + 2 * d;
            float* pr = a.Probs + pair * t * t;
            CpuGemm.Sgemm(false, true, t, t, dh, a.Scale, q, ld, k, ld, 0f, pr, t, parallel: false);
            for (int i = 0; i < t; i++) Softmax(new Span<float>(pr + (long)i * t, t));
            CpuGemm.Sgemm(false, false, t, dh, t, 1f, pr, t, v, ld, 0f, a.Y + b * t * d + h * dh, d, parallel: false);
        }
    }

    private static void BackwardBody(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int t = a.Tokens, dh = a.HeadDim, d = a.Heads * dh, ld = 3 * d;
        for (long pair = start; pair < end; pair++)
        {
            long b = pair / a.Heads;
            int h = (int)(pair - b * a.Heads);
            long qOffset = b * t * ld + h * dh;
            float* q = a.Qkv + qOffset, k = q + d, v = q + 2 * d;
            float* dq = a.DQkv + qOffset, dk = dq + d, dv = dq + 2 * d;
            float* pr = a.Probs + pair * t * t, ds = a.Scratch + pair * t * t;
            float* dyh = a.Dy + b * t * d + h * dh;
            CpuGemm.Sgemm(true, false, t, dh, t, 1f, pr, t, dyh, d, 0f, dv, ld, parallel: false);
            CpuGemm.Sgemm(false, true, t, t, dh, 1f, dyh, d, v, ld, 0f, ds, t, parallel: false);
            for (int i = 0; i < t; i++)
            {
                var row = new Span<float>(ds + (long)i * t, t);
                var prow = new ReadOnlySpan<float>(pr + (long)i * t, t);
                float c = TensorPrimitives.Dot(row, prow);
                TensorPrimitives.Subtract(row, c, row);
                TensorPrimitives.Multiply(row, prow, row);
            }
            CpuGemm.Sgemm(false, false, t, dh, t, a.Scale, ds, t, k, ld, 0f, dq, ld, parallel: false);
            CpuGemm.Sgemm(true, false, t, dh, t, a.Scale, ds, t, q, ld, 0f, dk, ld, parallel: false);
        }
    }

    /// <summary>Numerically stable softmax of one row in place (max subtracted), in float.</summary>
    internal static void Softmax(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row);
        TensorPrimitives.Multiply(row, 1f / sum, row);
    }
}
