using System;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Overlapping patch embedding (Conv2d C→D, kernel P, stride (sy, sx), no padding) as im2col + one GEMM
/// (docs/model.md#patch-embedding); the backward needs only the weight gradients, so it is a transA GEMM and a column sum over the kept cols.
/// </summary>
internal static unsafe class CpuPatchEmbed
{
    /// <summary>
    /// images[B,C,H,W] → cols[B·gy·gx, C·P·P] → y[B·gy·gx, D] = cols·wᵀ + b; with <paramref name="packedW"/> (w packed
    /// once, see <see cref="ConstantWeights"/>) the product runs on it instead of packing w again.
    /// </summary>
    public static void Forward(CpuParallel par, float* images, float* cols, float* w, float* b, float* y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim,
        PackedWeight? packedW = null)
    {
        int rows = batch * gridY * gridX;
        int rowLength = channels * patch * patch;
        var a = new Im2ColArgs
        {
            Images = images, Cols = cols, Channels = channels, Height = height, Width = width, Patch = patch,
            StrideY = strideY, StrideX = strideX, GridY = gridY, GridX = gridX,
        };
        par.For(rows, Math.Max(1, 16384 / rowLength), &Im2ColBody, &a);
        if (packedW is not null) PackedGemm.Linear(par, cols, rows, packedW, b, y);
        else CpuLinear.Forward(par, cols, w, b, y, rows, rowLength, dim);
    }

    /// <summary>dw[D, C·P·P] += dyᵀ·cols; db[D] += Σ_rows dy (db may be null).</summary>
    public static void Backward(CpuParallel par, float* dy, float* cols, float* dw, float* db, int rows, int colsPerRow, int dim) =>
        CpuLinear.Backward(par, dy, cols, null, null, dw, db, rows, colsPerRow, dim, accumulateDx: false);

    private struct Im2ColArgs
    {
        public float* Images;
        public float* Cols;
        public int Channels, Height, Width, Patch, StrideY, StrideX, GridY, GridX;
    }

    private static void Im2ColBody(void* p, int chunk, long start, long end)
    {
        ref Im2ColArgs a = ref *(Im2ColArgs*)p;
        int perImage = a.GridY * a.GridX, pp = a.Patch * a.Patch;
        long rowLength = (long)a.Channels * pp, plane = (long)a.Height * a.Width;
        nuint bytes = (nuint)a.Patch * sizeof(float);
        for (long r = start; r < end; r++)
        {
            long b = r / perImage;
            int cell = (int)(r - b * perImage);
            int py = cell / a.GridX, px = cell - py * a.GridX;
            float* dst = a.Cols + r * rowLength;
            float* image = a.Images + b * a.Channels * plane + (long)py * a.StrideY * a.Width + (long)px * a.StrideX;
            for (int c = 0; c < a.Channels; c++)
            {
                float* src = image + c * plane;
                for (int ky = 0; ky < a.Patch; ky++)
                    Buffer.MemoryCopy(src + (long)ky * a.Width, dst + c * pp + ky * a.Patch, bytes, bytes);
            }
        }
    }
}
