// common.cuh: helpers shared by every TransReID kernel file. Supplied to NVRTC as a named header (no toolkit
// headers are needed). Conventions of all kernels:
//   * tensors are row-major float32 (int32 where named), element indices are 64-bit (i64);
//   * blockDim.x * blockDim.y is a multiple of 32 and at most 1024 wherever a block or warp reduction is used;
//   * a kernel that assumes its block shape (shared tiles of 32 x 8, one warp per row, 32 partial sums) says so
//     with __launch_bounds__(N), N = the block it is launched with; the backend's kernel table repeats N and
//     refuses a larger block before the driver sees it;
//   * reductions accumulate in float in a fixed order, so every kernel is deterministic run to run;
//   * model constants come from IKernelSpecializer.Specialize as -DNAME=value. Kernels use them only when the
//     runtime size equals the constant (template fast path) and fall back to the generic path otherwise, so a
//     specialised module still computes every shape correctly.
#pragma once

typedef long long i64;

#define TR_FULL_MASK 0xffffffffu
#define TR_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

// Model constants; 0 = not specialised.
#ifdef DIM
#define TR_DIM (DIM)
#else
#define TR_DIM 0
#endif
#ifdef TOKENS
#define TR_TOKENS (TOKENS)
#else
#define TR_TOKENS 0
#endif

// Loop over [0, n) with all threads of a 1-D grid.
#define TR_GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

__device__ __forceinline__ float tr_infinity() { return __int_as_float(0x7f800000); }

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(TR_FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(TR_FULL_MASK, v, o));
    return v;
}

// Sum over the whole block (1-D or 2-D); every thread receives the total. scratch: 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    const int tid = threadIdx.y * blockDim.x + threadIdx.x;
    const int lane = tid & 31, warp = tid >> 5, warps = (blockDim.x * blockDim.y) >> 5;
    v = warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(t);
}

// Column sums, stage 2: out[c] (+)= scale * sum_k partial[k * cols + c] in chunk order (deterministic).
__device__ __forceinline__ void finish_column_sums(const float* __restrict__ partial, int chunks, int cols, float* __restrict__ out,
    float scale, bool accumulate)
{
    TR_GRID_STRIDE(c, cols)
    {
        float s = 0.0f;
        for (int k = 0; k < chunks; k++) s += partial[(i64)k * cols + c];
        out[c] = accumulate ? out[c] + scale * s : scale * s;
    }
}
