// batchnorm.cu: BatchNorm1d over x[N, C] (the BNNecks), training, eval and backward.
// Shapes: x, y, dy, dx [rows, channels]; gamma, beta, mean, rstd, runningMean, runningVar, dgamma, dbeta [channels].
// Ops:
//   batchnorm_train      batch mean and biased variance per channel (two passes, float); y = (x - mean) * rstd *
//                        gamma + beta (beta may be null: 0); saves mean, rstd; running stats (when not null) r = (1 - m) r + m stat with
//                        the unbiased variance var * N / (N - 1) (the biased one when N = 1).
//   batchnorm_eval       y = (x - runningMean) * (1 / sqrt(runningVar + eps)) * gamma + beta
//   batchnorm_backward   dgamma += sum dy * xhat; dbeta += sum dy (dbeta may be null: frozen);
//                        dx (=, or += when accumulate) = gamma * rstd / N * (N dy - sum dy - xhat * sum dy * xhat)
//   batchnorm_eval_backward  eval mode (running statistics constant): dx (=, or +=) = dy * gamma / sqrt(runningVar + eps);
//                        dgamma += sum dy * xhat; dbeta += sum dy (dbeta may be null)
// Launch: batchnorm_train and batchnorm_backward: block (32, 8), grid ceil(channels / 32); each block owns 32
//         channels and walks all rows (N is a batch: tens to hundreds). batchnorm_eval: 1-D grid-stride.
//         batchnorm_eval_backward: 1-D, one thread per channel (block 128).
#include "common.cuh"

__device__ __forceinline__ float column_block_sum(float v, float (*tile)[33])
{
    __syncthreads();
    tile[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    float s = 0.0f;
    for (int k = 0; k < 8; k++) s += tile[k][threadIdx.x];
    return s;
}

extern "C" __global__ void __launch_bounds__(256) batchnorm_train(const float* __restrict__ x, const float* __restrict__ gamma,
    const float* __restrict__ beta, float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd,
    float* __restrict__ runningMean, float* __restrict__ runningVar, int rows, int channels, float eps, float momentum)
{
    __shared__ float tile[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const bool active = c < channels;
    float s = 0.0f;
    if (active)
        for (int r = threadIdx.y; r < rows; r += 8) s += x[(i64)r * channels + c];
    const float m = column_block_sum(s, tile) / rows;
    float q = 0.0f;
    if (active)
    {
        for (int r = threadIdx.y; r < rows; r += 8)
        {
            const float d = x[(i64)r * channels + c] - m;
            q += d * d;
        }
    }
    const float var = column_block_sum(q, tile) / rows;
    if (!active) return;
    const float rs = 1.0f / sqrtf(var + eps);
    const float g = gamma[c], b = beta == nullptr ? 0.0f : beta[c];
    for (int r = threadIdx.y; r < rows; r += 8)
    {
        const i64 i = (i64)r * channels + c;
        y[i] = (x[i] - m) * rs * g + b;
    }
    if (threadIdx.y == 0)
    {
        if (mean != nullptr) mean[c] = m;
        if (rstd != nullptr) rstd[c] = rs;
        if (runningMean != nullptr) runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * m;
        if (runningVar != nullptr)
        {
            const float unbiased = rows > 1 ? var * ((float)rows / (float)(rows - 1)) : var;
            runningVar[c] = (1.0f - momentum) * runningVar[c] + momentum * unbiased;
        }
    }
}

extern "C" __global__ void batchnorm_eval(const float* __restrict__ x, const float* __restrict__ gamma,
    const float* __restrict__ beta, const float* __restrict__ runningMean, const float* __restrict__ runningVar,
    float* __restrict__ y, int rows, int channels, float eps)
{
    TR_GRID_STRIDE(i, (i64)rows * channels)
    {
        const int c = (int)(i % channels);
        const float rs = 1.0f / sqrtf(runningVar[c] + eps);
        y[i] = (x[i] - runningMean[c]) * rs * gamma[c] + (beta == nullptr ? 0.0f : beta[c]);
    }
}

extern "C" __global__ void __launch_bounds__(256) batchnorm_backward(const float* __restrict__ dy, const float* __restrict__ x,
    const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd, float* __restrict__ dx,
    float* __restrict__ dgamma, float* __restrict__ dbeta, int rows, int channels, int accumulate)
{
    __shared__ float tile[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const bool active = c < channels;
    const float m = active ? mean[c] : 0.0f;
    const float rs = active ? rstd[c] : 0.0f;
    float sdy = 0.0f, sdyx = 0.0f;
    if (active)
    {
        for (int r = threadIdx.y; r < rows; r += 8)
        {
            const i64 i = (i64)r * channels + c;
            const float g = dy[i];
            sdy += g;
            sdyx += g * ((x[i] - m) * rs);
        }
    }
    sdy = column_block_sum(sdy, tile);
    sdyx = column_block_sum(sdyx, tile);
    if (!active) return;
    if (threadIdx.y == 0)
    {
        if (dgamma != nullptr) dgamma[c] += sdyx;
        if (dbeta != nullptr) dbeta[c] += sdy;
    }
    if (dx == nullptr) return;
    const float k = gamma[c] * rs / rows;
    for (int r = threadIdx.y; r < rows; r += 8)
    {
        const i64 i = (i64)r * channels + c;
        const float xh = (x[i] - m) * rs;
        const float v = k * (rows * dy[i] - sdy - xh * sdyx);
        dx[i] = accumulate ? dx[i] + v : v;
    }
}

// Eval-mode backward (running statistics constant): one thread per channel walks the rows.
// dx = dy * gamma / sqrt(var + eps) (accumulated when asked); dgamma += sum dy * xhat; dbeta += sum dy.
// Launch: 1-D, one thread per channel.
extern "C" __global__ void __launch_bounds__(128) batchnorm_eval_backward(const float* __restrict__ dy, const float* __restrict__ x,
    const float* __restrict__ gamma, const float* __restrict__ runningMean, const float* __restrict__ runningVar,
    float* __restrict__ dx, float* __restrict__ dgamma, float* __restrict__ dbeta, int rows, int channels, float eps, int accumulate)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    const float rs = 1.0f / sqrtf(runningVar[c] + eps);
    const float k = gamma[c] * rs, m = runningMean[c];
    float sdy = 0.0f, sdyx = 0.0f;
    for (int r = 0; r < rows; r++)
    {
        const i64 i = (i64)r * channels + c;
        const float g = dy[i];
        sdy += g;
        sdyx += g * (x[i] - m) * rs;
        dx[i] = accumulate ? dx[i] + k * g : k * g;
    }
    if (dgamma != nullptr) dgamma[c] += sdyx;
    if (dbeta != nullptr) dbeta[c] += sdy;
}
