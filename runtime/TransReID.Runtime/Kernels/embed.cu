// embed.cu: overlapping patch embedding (im2col; the GEMM is cuBLAS) and the token embedding
// ([cls] + position + SIE), forward and backward.
// Shapes: images[B,C,H,W]; cols[B*gy*gx, C*P*P] (row r = (b, py, px), column c = (ch, ky, kx));
//         patches[B,N,D]; x[B,T,D] with T = N + 1; cls[D]; pos[T,D]; sie[S,D]; sieIndex int32[B].
// Ops:
//   im2col                      cols[r, c] = images[b, ch, py*sy + ky, px*sx + kx]
//   token_embed_forward         x[b,t] = (t == 0 ? cls : patches[b,t-1]) + pos[t] + coef * sie[sieIndex[b]]
//   token_embed_patch_grad      dpatches[b,p] = dx[b,1+p]
//   token_embed_pos_grad        dpos[t] += sum_b dx[b,t]; dcls += sum_b dx[b,0]   (either may be null)
//   token_embed_sample_sums     work[b,d] = sum_t dx[b,t,d]
//   token_embed_sie_scatter     dsie[sieIndex[b], d] += coef * work[b,d], b in order (deterministic)
// Launch: im2col, token_embed_forward, token_embed_patch_grad: 1-D grid-stride; token_embed_pos_grad: 1-D
//         grid-stride over T*D; token_embed_sample_sums: block (32, 8), grid (ceil(D/32), B);
//         token_embed_sie_scatter: 1-D grid-stride over D.
#include "common.cuh"

extern "C" __global__ void im2col(const float* __restrict__ images, float* __restrict__ cols, int batch, int channels,
    int height, int width, int patch, int strideY, int strideX, int gridY, int gridX)
{
    const i64 colsPerRow = (i64)channels * patch * patch;
    const i64 patchesPerImage = (i64)gridY * gridX;
    const i64 total = (i64)batch * patchesPerImage * colsPerRow;
    TR_GRID_STRIDE(i, total)
    {
        const i64 r = i / colsPerRow;
        const int c = (int)(i - r * colsPerRow);
        const int b = (int)(r / patchesPerImage);
        const int p = (int)(r - (i64)b * patchesPerImage);
        const int py = p / gridX, px = p - py * gridX;
        const int ch = c / (patch * patch);
        const int rem = c - ch * patch * patch;
        const int ky = rem / patch, kx = rem - ky * patch;
        const int yy = py * strideY + ky, xx = px * strideX + kx;
        cols[i] = images[(((i64)b * channels + ch) * height + yy) * width + xx];
    }
}

extern "C" __global__ void token_embed_forward(const float* __restrict__ patches, const float* __restrict__ cls,
    const float* __restrict__ pos, const float* __restrict__ sie, const int* __restrict__ sieIndex, float coef,
    float* __restrict__ x, int batch, int tokens, int dim)
{
    const i64 total = (i64)batch * tokens * dim;
    TR_GRID_STRIDE(i, total)
    {
        const i64 row = i / dim;
        const int d = (int)(i - row * dim);
        const int b = (int)(row / tokens);
        const int t = (int)(row - (i64)b * tokens);
        float v = t == 0 ? cls[d] : patches[((i64)b * (tokens - 1) + (t - 1)) * dim + d];
        v += pos[(i64)t * dim + d];
        if (sie != nullptr) v += coef * sie[(i64)sieIndex[b] * dim + d];
        x[i] = v;
    }
}

extern "C" __global__ void token_embed_patch_grad(const float* __restrict__ dx, float* __restrict__ dpatches, int batch,
    int tokens, int dim)
{
    const i64 perSample = (i64)(tokens - 1) * dim;
    TR_GRID_STRIDE(i, (i64)batch * perSample)
    {
        const i64 b = i / perSample;
        dpatches[i] = dx[b * tokens * dim + dim + (i - b * perSample)];
    }
}

extern "C" __global__ void token_embed_pos_grad(const float* __restrict__ dx, float* __restrict__ dpos, float* __restrict__ dcls,
    int batch, int tokens, int dim)
{
    const i64 perSample = (i64)tokens * dim;
    TR_GRID_STRIDE(i, perSample)
    {
        float s = 0.0f;
        for (int b = 0; b < batch; b++) s += dx[b * perSample + i];
        if (dpos != nullptr) dpos[i] += s;
        if (dcls != nullptr && i < dim) dcls[i] += s;
    }
}

extern "C" __global__ void __launch_bounds__(256) token_embed_sample_sums(const float* __restrict__ dx, float* __restrict__ work, int tokens, int dim)
{
    __shared__ float tile[8][33];
    const int d = blockIdx.x * 32 + threadIdx.x;
    const int b = blockIdx.y;
    float s = 0.0f;
    if (d < dim)
        for (int t = threadIdx.y; t < tokens; t += 8) s += dx[((i64)b * tokens + t) * dim + d];
    tile[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && d < dim)
    {
        float total = 0.0f;
        for (int k = 0; k < 8; k++) total += tile[k][threadIdx.x];
        work[(i64)b * dim + d] = total;
    }
}

extern "C" __global__ void token_embed_sie_scatter(const float* __restrict__ work, const int* __restrict__ sieIndex, float coef,
    float* __restrict__ dsie, int batch, int dim)
{
    TR_GRID_STRIDE(d, dim)
    {
        for (int b = 0; b < batch; b++) dsie[(i64)sieIndex[b] * dim + d] += coef * work[(i64)b * dim + d];
    }
}
