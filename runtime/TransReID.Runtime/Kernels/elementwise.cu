// elementwise.cu: residual adds with per-sample drop-path scale, row scaling and strided row copies.
// Shapes: x, branch, y [batch, rowLength]; scale float[batch] (0 or 1/keep; null = no drop path).
// Ops:
//   residual      y[b,:] = x[b,:] + branch[b,:] * scale[b]    (y may alias x)
//   scale_rows    dst[b,:] = src[b,:] * scale[b], or a copy when scale is null (dst may alias src)
//   copy_rows     dst[r*dstStride + c] (=, or += when accumulate) alpha * src[r*srcStride + c], r < rows, c < rowLength
// Launch: 1-D grid-stride over batch * rowLength (rows * rowLength), any block size.
#include "common.cuh"

extern "C" __global__ void residual(const float* x, const float* branch, const float* scale, float* y,
    int batch, i64 rowLength)
{
    TR_GRID_STRIDE(i, (i64)batch * rowLength)
    {
        const float s = scale == nullptr ? 1.0f : scale[i / rowLength];
        y[i] = x[i] + branch[i] * s;
    }
}

extern "C" __global__ void scale_rows(const float* src, const float* scale, float* dst, int batch, i64 rowLength)
{
    TR_GRID_STRIDE(i, (i64)batch * rowLength)
    {
        dst[i] = scale == nullptr ? src[i] : src[i] * scale[i / rowLength];
    }
}

extern "C" __global__ void copy_rows(const float* src, i64 srcStride, float* dst, i64 dstStride, int rows,
    int rowLength, float alpha, int accumulate)
{
    TR_GRID_STRIDE(i, (i64)rows * rowLength)
    {
        const i64 r = i / rowLength;
        const i64 c = i - r * rowLength;
        const float v = alpha * src[r * srcStride + c];
        float* d = dst + r * dstStride + c;
        *d = accumulate ? *d + v : v;
    }
}
