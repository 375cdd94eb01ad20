// attention.cu: the row softmax of multi-head attention and its backward. The four GEMMs of attention run in
// cuBLAS (strided-batched over heads, reading Q, K, V in place inside qkv[B, T, 3D]; see CudaBackend.Attention).
// Shapes: scores/probs/dprobs [B, H, T, T] seen as rows = B*H*T rows of length T (the keys axis).
// Ops:
//   softmax_forward    s[row, :] = softmax(s[row, :]) in place (scores were already multiplied by the scale)
//   softmax_backward   d[row, :] = p * (d - sum(p * d)) in place: dprobs -> dscores (the scale is applied by the
//                      following GEMMs' alpha)
// Launch: one warp per row, block 256 (8 rows), grid ceil(rows / 8). A row of TOKENS (specialised) floats is held
//         in registers; other lengths are read from global memory (twice for backward, three times forward).
#include "common.cuh"

template <int L>
__device__ __forceinline__ void softmax_row(float* __restrict__ s, int nArg)
{
    const int lane = threadIdx.x & 31;
    const int n = L > 0 ? L : nArg;
    if (L > 0)
    {
        constexpr int per = L > 0 ? (L + 31) / 32 : 1;
        float v[per];
        float m = -tr_infinity();
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            v[k] = i < n ? s[i] : -tr_infinity();
            m = fmaxf(m, v[k]);
        }
        m = warp_max(m);
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            v[k] = i < n ? expf(v[k] - m) : 0.0f;
            sum += v[k];
        }
        const float inv = 1.0f / warp_sum(sum);
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            if (i < n) s[i] = v[k] * inv;
        }
    }
    else
    {
        float m = -tr_infinity();
        for (int i = lane; i < n; i += 32) m = fmaxf(m, s[i]);
        m = warp_max(m);
        float sum = 0.0f;
        for (int i = lane; i < n; i += 32) sum += expf(s[i] - m);
        const float inv = 1.0f / warp_sum(sum);
        for (int i = lane; i < n; i += 32) s[i] = expf(s[i] - m) * inv;
    }
}

extern "C" __global__ void __launch_bounds__(256) softmax_forward(float* __restrict__ s, i64 rows, int n)
{
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    if (TR_TOKENS > 0 && n == TR_TOKENS) softmax_row<TR_TOKENS>(s + row * n, n);
    else softmax_row<0>(s + row * n, n);
}

template <int L>
__device__ __forceinline__ void softmax_backward_row(const float* __restrict__ p, float* __restrict__ d, int nArg)
{
    const int lane = threadIdx.x & 31;
    const int n = L > 0 ? L : nArg;
    if (L > 0)
    {
        constexpr int per = L > 0 ? (L + 31) / 32 : 1;
        float pv[per], dv[per];
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            pv[k] = i < n ? p[i] : 0.0f;
            dv[k] = i < n ? d[i] : 0.0f;
            dot += pv[k] * dv[k];
        }
        dot = warp_sum(dot);
#pragma unroll
        for (int k = 0; k < per; k++)
        {
            const int i = lane + 32 * k;
            if (i < n) d[i] = pv[k] * (dv[k] - dot);
        }
    }
    else
    {
        float dot = 0.0f;
        for (int i = lane; i < n; i += 32) dot += p[i] * d[i];
        dot = warp_sum(dot);
        for (int i = lane; i < n; i += 32) d[i] = p[i] * (d[i] - dot);
    }
}

extern "C" __global__ void __launch_bounds__(256) softmax_backward(const float* __restrict__ p, float* __restrict__ d, i64 rows, int n)
{
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    if (TR_TOKENS > 0 && n == TR_TOKENS) softmax_backward_row<TR_TOKENS>(p + row * n, d + row * n, n);
    else softmax_backward_row<0>(p + row * n, d + row * n, n);
}
