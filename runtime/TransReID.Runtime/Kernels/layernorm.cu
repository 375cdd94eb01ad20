// layernorm.cu: LayerNorm over the last axis, forward and backward (float accumulation, biased variance).
// Shapes: x, y, dy, dx [rows, dim]; gamma, beta, dgamma, dbeta [dim]; mean, rstd [rows].
// Ops:
//   layernorm_forward               y = (x - mean) * rstd * gamma + beta (y may alias x); saves mean, rstd
//   layernorm_backward_dx           dx (=, or += when accumulate) = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//                                   g = dy * gamma, xhat = (x - mean) * rstd (dx may alias dy)
//   layernorm_backward_dparams      stage 1: per row chunk, sum of dy * xhat and of dy per column (or straight
//                                   into dgamma/dbeta when there is one chunk)
//   layernorm_backward_finish       stage 2: dgamma += , dbeta += the chunk sums in chunk order
// Launch: forward and backward_dx: one warp per row, block 256 (8 rows), grid ceil(rows / 8); a row of
//         DIM (specialised) floats is held in registers, other widths are read from global memory twice.
//         backward_dparams: block (32, 8), grid (ceil(dim / 32), chunks); partial holds 2 * chunks * dim floats.
//         backward_finish: 1-D grid-stride over dim.
#include "common.cuh"

template <int C>
__device__ __forceinline__ void layernorm_row(const float* xr, const float* __restrict__ gamma,
    const float* __restrict__ beta, float* yr, float* mean, float* rstd, i64 row, int dimArg, float eps)
{
    const int lane = threadIdx.x & 31;
    const int dim = C > 0 ? C : dimArg;
    float m, r;
    if (C > 0)
    {
        constexpr int per = C > 0 ? (C + 31) / 32 : 1;
        float v[per];
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            v[k] = i < dim ? xr[i] : 0.0f;
            s += v[k];
        }
        m = warp_sum(s) / dim;
        float q = 0.0f;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            const float d = v[k] - m;
            if (i < dim) q += d * d;
        }
        r = 1.0f / sqrtf(warp_sum(q) / dim + eps);
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            if (i < dim) yr[i] = (v[k] - m) * r * gamma[i] + beta[i];
        }
    }
    else
    {
        float s = 0.0f;
        for (int i = lane; i < dim; i += 32) s += xr[i];
        m = warp_sum(s) / dim;
        float q = 0.0f;
        for (int i = lane; i < dim; i += 32)
        {
            const float d = xr[i] - m;
            q += d * d;
        }
        r = 1.0f / sqrtf(warp_sum(q) / dim + eps);
        for (int i = lane; i < dim; i += 32) yr[i] = (xr[i] - m) * r * gamma[i] + beta[i];
    }
    if (lane == 0)
    {
        if (mean != nullptr) mean[row] = m;
        if (rstd != nullptr) rstd[row] = r;
    }
}

extern "C" __global__ void __launch_bounds__(256) layernorm_forward(const float* x, const float* __restrict__ gamma,
    const float* __restrict__ beta, float* y, float* __restrict__ mean, float* __restrict__ rstd, i64 rows, int dim,
    float eps)
{
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const float* xr = x + row * dim;
    float* yr = y + row * dim;
    if (TR_DIM > 0 && dim == TR_DIM) layernorm_row<TR_DIM>(xr, gamma, beta, yr, mean, rstd, row, dim, eps);
    else layernorm_row<0>(xr, gamma, beta, yr, mean, rstd, row, dim, eps);
}

template <int C>
__device__ __forceinline__ void layernorm_backward_row(const float* dyr, const float* __restrict__ xr,
    const float* __restrict__ gamma, float m, float r, float* dxr, int dimArg, bool accumulate)
{
    const int lane = threadIdx.x & 31;
    const int dim = C > 0 ? C : dimArg;
    if (C > 0)
    {
        constexpr int per = C > 0 ? (C + 31) / 32 : 1;
        float g[per], xh[per];
        float a = 0.0f, b = 0.0f;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            g[k] = i < dim ? dyr[i] * gamma[i] : 0.0f;
            xh[k] = i < dim ? (xr[i] - m) * r : 0.0f;
            a += g[k];
            b += g[k] * xh[k];
        }
        a = warp_sum(a) / dim;
        b = warp_sum(b) / dim;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            if (i < dim)
            {
                const float v = (g[k] - a - xh[k] * b) * r;
                dxr[i] = accumulate ? dxr[i] + v : v;
            }
        }
    }
    else
    {
        float a = 0.0f, b = 0.0f;
        for (int i = lane; i < dim; i += 32)
        {
            const float g = dyr[i] * gamma[i];
            a += g;
            b += g * (xr[i] - m) * r;
        }
        a = warp_sum(a) / dim;
        b = warp_sum(b) / dim;
        for (int i = lane; i < dim; i += 32)
        {
            const float g = dyr[i] * gamma[i];
            const float v = (g - a - (xr[i] - m) * r * b) * r;
            dxr[i] = accumulate ? dxr[i] + v : v;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256) layernorm_backward_dx(const float* dy, const float* __restrict__ x,
    const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd, float* dx,
    i64 rows, int dim, int accumulate)
{
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const i64 o = row * dim;
    if (TR_DIM > 0 && dim == TR_DIM)
        layernorm_backward_row<TR_DIM>(dy + o, x + o, gamma, mean[row], rstd[row], dx + o, dim, accumulate != 0);
    else
        layernorm_backward_row<0>(dy + o, x + o, gamma, mean[row], rstd[row], dx + o, dim, accumulate != 0);
}

extern "C" __global__ void __launch_bounds__(256) layernorm_backward_dparams(const float* __restrict__ dy, const float* __restrict__ x,
    const float* __restrict__ mean, const float* __restrict__ rstd, i64 rows, int dim, int rowsPerChunk,
    float* __restrict__ partial, float* __restrict__ dgamma, float* __restrict__ dbeta)
{
    __shared__ float tg[8][33];
    __shared__ float tb[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const i64 r0 = (i64)blockIdx.y * rowsPerChunk;
    const i64 r1 = min(rows, r0 + rowsPerChunk);
    float sg = 0.0f, sb = 0.0f;
    if (c < dim)
    {
        for (i64 r = r0 + threadIdx.y; r < r1; r += 8)
        {
            const float g = dy[r * dim + c];
            sg += g * ((x[r * dim + c] - mean[r]) * rstd[r]);
            sb += g;
        }
    }
    tg[threadIdx.y][threadIdx.x] = sg;
    tb[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && c < dim)
    {
        float g = 0.0f, b = 0.0f;
        for (int k = 0; k < 8; k++)
        {
            g += tg[k][threadIdx.x];
            b += tb[k][threadIdx.x];
        }
        if (gridDim.y == 1)
        {
            if (dgamma != nullptr) dgamma[c] += g;
            if (dbeta != nullptr) dbeta[c] += b;
        }
        else
        {
            partial[(i64)blockIdx.y * dim + c] = g;
            partial[((i64)gridDim.y + blockIdx.y) * dim + c] = b;
        }
    }
}

extern "C" __global__ void layernorm_backward_finish(const float* __restrict__ partial, int chunks, int dim,
    float* __restrict__ dgamma, float* __restrict__ dbeta)
{
    if (dgamma != nullptr) finish_column_sums(partial, chunks, dim, dgamma, 1.0f, true);
    if (dbeta != nullptr) finish_column_sums(partial + (i64)chunks * dim, chunks, dim, dbeta, 1.0f, true);
}
