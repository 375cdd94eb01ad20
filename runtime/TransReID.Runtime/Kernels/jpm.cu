// jpm.cu: the jigsaw patch module's gather of shifted and shuffled patch tokens into parts, and its backward.
// Shapes: x, dx [B, T, D] with T = N + 1 (token 0 = cls); parts, dparts [K, B, L + 1, D].
// Index rule (same formula as ShapeMath.JpmSource in the runtime): position u of the rearranged sequence comes
// from patch jpm_source(u); parts[k, b, 0] = x[b, 0], parts[k, b, 1 + i] = x[b, 1 + jpm_source(k L + i)].
// Ops:
//   jpm_gather             parts = gather(x)
//   jpm_gather_backward    dx[b, t, :] += every dparts row gathered from (b, t); each thread owns one (b, d)
//                          column and adds parts in order k, then position, so the result is deterministic.
// Launch: jpm_gather 1-D grid-stride over K*B*(L+1)*D; jpm_gather_backward 1-D grid-stride over B*D.
#include "common.cuh"

__device__ __forceinline__ int jpm_source(int u, int patchCount, int shift, int groups, int rearrange)
{
    if (!rearrange) return u;
    const int n = patchCount;
    const int padded = n % groups == 0 ? n : n + 1;
    const int perGroup = padded / groups;
    const int j = u / groups, k = u % groups;
    int s = k * perGroup + j;
    if (s >= n) s = n - 2; // the appended duplicate of s[N-2]
    const int roll = shift - 1;
    int src = (s + roll) % n;
    if (src < 0) src += n;
    return src;
}

extern "C" __global__ void jpm_gather(const float* __restrict__ x, float* __restrict__ parts, int batch, int patchCount, int dim,
    int partCount, int partLength, int shift, int groups, int rearrange)
{
    const int rowsPerPart = partLength + 1;
    const i64 total = (i64)partCount * batch * rowsPerPart * dim;
    const int tokens = patchCount + 1;
    TR_GRID_STRIDE(i, total)
    {
        const i64 row = i / dim;
        const int d = (int)(i - row * dim);
        const int pos = (int)(row % rowsPerPart);
        const i64 kb = row / rowsPerPart;
        const int b = (int)(kb % batch);
        const int k = (int)(kb / batch);
        const int t = pos == 0 ? 0 : 1 + jpm_source(k * partLength + pos - 1, patchCount, shift, groups, rearrange);
        parts[i] = x[((i64)b * tokens + t) * dim + d];
    }
}

extern "C" __global__ void jpm_gather_backward(const float* __restrict__ dparts, float* __restrict__ dx, int batch, int patchCount,
    int dim, int partCount, int partLength, int shift, int groups, int rearrange)
{
    const int rowsPerPart = partLength + 1;
    const int tokens = patchCount + 1;
    TR_GRID_STRIDE(i, (i64)batch * dim)
    {
        const int b = (int)(i / dim);
        const int d = (int)(i - (i64)b * dim);
        for (int k = 0; k < partCount; k++)
        {
            const float* src = dparts + (((i64)k * batch + b) * rowsPerPart) * dim + d;
            for (int pos = 0; pos < rowsPerPart; pos++)
            {
                const int t = pos == 0 ? 0 : 1 + jpm_source(k * partLength + pos - 1, patchCount, shift, groups, rearrange);
                dx[((i64)b * tokens + t) * dim + d] += src[(i64)pos * dim];
            }
        }
    }
}
