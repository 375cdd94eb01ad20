// linear.cu: the non-GEMM parts of Linear and PatchEmbed (the GEMMs themselves are cuBLAS, see Cuda/Blas.cs).
// Ops:
//   bias_broadcast          forward: y[M,N] = b[N] for every row (rows ldy floats apart, ldy >= N; the columns past N
//                           are not written), before a beta = 1 GEMM adds x . w^T.
//   bias_grad_partial       backward, stage 1: partial[chunk, n] = sum of dy[r, n] over the chunk's rows
//                           (or db[n] += that sum directly when there is one chunk).
//   bias_grad_finish        backward, stage 2: db[n] += sum over chunks, in chunk order.
// Launch: bias_broadcast 1-D grid-stride over M*N; bias_grad_partial block (32, 8), grid (ceil(N/32), chunks),
//         rowsPerChunk rows each; bias_grad_finish 1-D grid-stride over N.
#include "common.cuh"

extern "C" __global__ void bias_broadcast(const float* __restrict__ b, float* __restrict__ y, i64 rows, int n, int ldy)
{
    TR_GRID_STRIDE(i, rows * n) y[i / n * ldy + i % n] = b[i % n];
}

extern "C" __global__ void __launch_bounds__(256) bias_grad_partial(const float* __restrict__ dy, i64 rows, int n, int rowsPerChunk,
    float* __restrict__ partial, float* __restrict__ db)
{
    __shared__ float tile[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const i64 r0 = (i64)blockIdx.y * rowsPerChunk;
    const i64 r1 = min(rows, r0 + rowsPerChunk);
    float s = 0.0f;
    if (c < n)
        for (i64 r = r0 + threadIdx.y; r < r1; r += 8) s += dy[r * n + c];
    tile[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < n)
    {
        float t = 0.0f;
        for (int k = 0; k < 8; k++) t += tile[k][threadIdx.x];
        if (gridDim.y == 1) db[c] += t;
        else partial[(i64)blockIdx.y * n + c] = t;
    }
}

extern "C" __global__ void bias_grad_finish(const float* __restrict__ partial, int chunks, int n, float* __restrict__ db)
{
    finish_column_sums(partial, chunks, n, db, 1.0f, true);
}
