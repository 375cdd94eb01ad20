using System;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Softmax cross-entropy with label smoothing (docs/model.md#id-loss): target t = (1−ε)·onehot + ε/C, loss = mean_rows(−Σ t·log p)
/// = mean_rows(lse − (1−ε)·z_y − (ε/C)·Σz); dlogits = gradScale·(p − t)/N. dlogits may equal logits.
/// </summary>
internal static unsafe class CpuCrossEntropy
{
    public static void Forward(CpuParallel par, float* logits, int* labels, float* loss, float* dlogits, int rows, int classes,
        float smoothing, float gradScale)
    {
        for (int r = 0; r < rows; r++)
        {
            int y = labels[r];
            if ((uint)y >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), y, $"CrossEntropy: label of row {r} is {y}, outside [0, {classes}).");
        }
        long grain = Math.Max(1, 16384 / classes);
        int chunks = par.Chunks(rows, grain);
        double* partial = stackalloc double[Math.Max(chunks, 1)];
        var a = new Args
        {
            Logits = logits, Labels = labels, DLogits = dlogits, Partial = partial, Rows = rows, Classes = classes,
            Smoothing = smoothing, GradScale = gradScale,
        };
        par.For(rows, grain, &Body, &a);
        double total = 0;
        for (int c = 0; c < chunks; c++) total += partial[c];
        loss[0] = (float)(total / rows);
    }

    private struct Args
    {
        public float* Logits, DLogits;
        public int* Labels;
        public double* Partial;
        public int Rows, Classes;
        public float Smoothing, GradScale;
    }

    private static void Body(void* p, int chunk, long start, long end)
    {
        ref Args a = ref *(Args*)p;
        int c = a.Classes;
        double eps = a.Smoothing, sum = 0;
        float g = a.GradScale / a.Rows;
        float offTarget = (float)(g * eps / c), onTarget = (float)(g * (1 - eps));
        for (long r = start; r < end; r++)
        {
            var z = new ReadOnlySpan<float>(a.Logits + r * c, c);
            var d = new Span<float>(a.DLogits + r * c, c);
            int y = a.Labels[r];
            // read everything needed from z before d (which may alias z) is written
            float max = TensorPrimitives.Max(z);
            float zy = z[y];
            double sumZ = eps != 0 ? TensorPrimitives.Sum(z) : 0;
            TensorPrimitives.Subtract(z, max, d);
            TensorPrimitives.Exp(d, d);
            float sumExp = TensorPrimitives.Sum(d);
            double lse = max + Math.Log(sumExp);
            sum += lse - (1 - eps) * zy - eps / c * sumZ;
            // d = g·p − g·ε/C, then −g·(1−ε) at the label
            TensorPrimitives.Multiply(d, g / sumExp, d);
            if (offTarget != 0) TensorPrimitives.Subtract(d, offTarget, d);
            d[y] -= onTarget;
        }
        a.Partial[chunk] = sum;
    }
}
