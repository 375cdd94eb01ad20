// triplet.cu: batch-hard triplet loss (TransReID's TripletLoss with hard example mining), loss and gradient.
// Shapes: x, dx [N, D]; labels int32[N]; gram [N, N] = x . x^T (computed by cuBLAS into the scratch's first N*N
// floats); work = scratch + N*N: ap int[N], an int[N], cap float[N], can float[N] (N*N + 4N floats in all).
// Distances: with n_i = ||x_i|| + 1e-12 when normalising (else 1), xhat = x / n, G' = G / (n_i n_j),
//   d_ij = sqrt(max(G'_ii + G'_jj - 2 G'_ij, 1e-12)).
// Ops:
//   triplet_mine   per anchor i: d_ap = max over same label (the anchor itself included), d_an = min over other
//                  labels (first index wins ties); z = d_ap - d_an; loss_i = log(1 + exp(z)) (soft margin,
//                  margin <= 0) or max(0, z + margin); loss[0] = mean_i loss_i. cap/can = gradScale * dloss/dd / d
//                  (0 where d^2 was clamped). An anchor with no other label contributes 0 loss and no gradient.
//   triplet_grad   dxhat_k = sum over pairs (i, j) of c (xhat_i - xhat_j) to row i and c (xhat_j - xhat_i) to row j;
//                  dx_k = (dxhat_k - (xhat_k . dxhat_k) x_k / ||x_k||) / n_k when normalising, else dxhat_k;
//                  dx (=, or += when accumulate).
// Launch: triplet_mine: one block of 256 threads (warp per anchor). triplet_grad: one block of 256 threads per row
//         (grid N), dynamic shared memory 5 N floats (N <= 2048).
#include "common.cuh"

__device__ __forceinline__ float triplet_norm(const float* gram, int n, int i, int normalize)
{
    return normalize ? sqrtf(gram[(i64)i * n + i]) + 1e-12f : 1.0f;
}

extern "C" __global__ void __launch_bounds__(256) triplet_mine(const float* __restrict__ gram, const int* __restrict__ labels, float* __restrict__ loss,
    float* __restrict__ work, int n, float margin, int normalize, float gradScale)
{
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int* apIndex = (int*)work;
    int* anIndex = (int*)(work + n);
    float* cap = work + 2 * n;
    float* can = work + 3 * n;
    float acc = 0.0f;
    for (int i = warp; i < n; i += warps)
    {
        const float ni = triplet_norm(gram, n, i, normalize);
        const float gii = gram[(i64)i * n + i] / (ni * ni);
        const int li = labels[i];
        float bestP = -1.0f, bestN = tr_infinity(), d2P = 0.0f, d2N = 0.0f;
        int idxP = -1, idxN = -1;
        for (int j = lane; j < n; j += 32)
        {
            const float nj = triplet_norm(gram, n, j, normalize);
            const float gjj = gram[(i64)j * n + j] / (nj * nj);
            const float gij = gram[(i64)i * n + j] / (ni * nj);
            const float d2 = gii + gjj - 2.0f * gij;
            const float d = sqrtf(fmaxf(d2, 1e-12f));
            if (labels[j] == li)
            {
                if (d > bestP) { bestP = d; idxP = j; d2P = d2; }
            }
            else if (d < bestN)
            {
                bestN = d; idxN = j; d2N = d2;
            }
        }
        for (int o = 16; o > 0; o >>= 1)
        {
            const float oP = __shfl_xor_sync(TR_FULL_MASK, bestP, o);
            const int oiP = __shfl_xor_sync(TR_FULL_MASK, idxP, o);
            const float od2P = __shfl_xor_sync(TR_FULL_MASK, d2P, o);
            if (oiP >= 0 && (idxP < 0 || oP > bestP || (oP == bestP && oiP < idxP))) { bestP = oP; idxP = oiP; d2P = od2P; }
            const float oN = __shfl_xor_sync(TR_FULL_MASK, bestN, o);
            const int oiN = __shfl_xor_sync(TR_FULL_MASK, idxN, o);
            const float od2N = __shfl_xor_sync(TR_FULL_MASK, d2N, o);
            if (oiN >= 0 && (idxN < 0 || oN < bestN || (oN == bestN && oiN < idxN))) { bestN = oN; idxN = oiN; d2N = od2N; }
        }
        if (lane == 0)
        {
            float l = 0.0f, dz = 0.0f;
            if (idxN >= 0)
            {
                const float z = bestP - bestN;
                if (margin <= 0.0f)
                {
                    // softplus(z) = max(z, 0) + log1p(exp(-|z|)); d/dz = sigmoid(z)
                    l = fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)));
                    dz = 1.0f / (1.0f + expf(-z));
                }
                else
                {
                    const float h = z + margin;
                    l = h > 0.0f ? h : 0.0f;
                    dz = h > 0.0f ? 1.0f : 0.0f;
                }
            }
            acc += l;
            const float g = gradScale * dz / n;
            apIndex[i] = idxP;
            anIndex[i] = idxN;
            cap[i] = (idxN >= 0 && d2P > 1e-12f) ? g / bestP : 0.0f;
            can[i] = (idxN >= 0 && d2N > 1e-12f) ? -g / bestN : 0.0f;
        }
    }
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        float total = 0.0f;
        for (int w = 0; w < warps; w++) total += partial[w];
        loss[0] = total / n;
    }
}

__device__ __forceinline__ float triplet_dxhat(const float* __restrict__ x, int n, int dim, int k, int d, const int* ap,
    const int* an, const float* cap, const float* can, const float* inv)
{
    const float xk = x[(i64)k * dim + d] * inv[k];
    float g = 0.0f;
    if (ap[k] >= 0) g += cap[k] * (xk - x[(i64)ap[k] * dim + d] * inv[ap[k]]);
    if (an[k] >= 0) g += can[k] * (xk - x[(i64)an[k] * dim + d] * inv[an[k]]);
    for (int i = 0; i < n; i++)
    {
        if (ap[i] == k) g += cap[i] * (xk - x[(i64)i * dim + d] * inv[i]);
        if (an[i] == k) g += can[i] * (xk - x[(i64)i * dim + d] * inv[i]);
    }
    return g;
}

extern "C" __global__ void __launch_bounds__(256) triplet_grad(const float* __restrict__ x, const float* __restrict__ gram, const float* __restrict__ work,
    float* __restrict__ dx, int n, int dim, int normalize, int accumulate)
{
    extern __shared__ float shared[];
    __shared__ float red[32];
    int* ap = (int*)shared;
    int* an = (int*)(shared + n);
    float* cap = shared + 2 * n;
    float* can = shared + 3 * n;
    float* inv = shared + 4 * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
    {
        ap[i] = ((const int*)work)[i];
        an[i] = ((const int*)work)[n + i];
        cap[i] = work[2 * n + i];
        can[i] = work[3 * n + i];
        inv[i] = 1.0f / triplet_norm(gram, n, i, normalize);
    }
    __syncthreads();
    const int k = blockIdx.x;
    float* out = dx + (i64)k * dim;
    if (!normalize)
    {
        for (int d = threadIdx.x; d < dim; d += blockDim.x)
        {
            const float v = triplet_dxhat(x, n, dim, k, d, ap, an, cap, can, inv);
            out[d] = accumulate ? out[d] + v : v;
        }
        return;
    }
    float dot = 0.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        dot += triplet_dxhat(x, n, dim, k, d, ap, an, cap, can, inv) * (x[(i64)k * dim + d] * inv[k]);
    dot = block_sum(dot, red);
    const float norm = sqrtf(gram[(i64)k * n + k]);
    const float radial = norm > 0.0f ? dot / norm : 0.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
    {
        const float g = triplet_dxhat(x, n, dim, k, d, ap, an, cap, can, inv);
        const float v = (g - radial * x[(i64)k * dim + d]) * inv[k];
        out[d] = accumulate ? out[d] + v : v;
    }
}
