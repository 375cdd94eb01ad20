// cross_entropy.cu: softmax cross-entropy with label smoothing, mean over rows, loss and gradient in one kernel.
// Shapes: logits, dlogits [rows, classes]; labels int32[rows]; loss float[1].
// Op: cross_entropy   per row: lse = log sum exp z; loss_r = lse - (1 - eps) z[y] - (eps / C) sum z;
//                     loss[0] = mean_r loss_r; dlogits[r, c] = gradScale / rows * (softmax(z)[c] - t[c]) with
//                     t = (1 - eps) onehot(y) + eps / C (dlogits may be null, or alias logits: every row is
//                     fully read before it is written). A label outside [0, C) makes its row's
//                     loss and gradient NaN (labels live on the device; the host cannot check them).
// Launch: exactly one block of 1024 threads (32 warps; warp w takes rows w, w + 32, ...). Per-warp sums are added in
//         warp order, so the loss is deterministic. Rows are a batch (tens to hundreds) and C a few thousand at most.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(1024) cross_entropy(const float* logits, const int* __restrict__ labels, float* __restrict__ loss,
    float* dlogits, int rows, int classes, float smoothing, float gradScale)
{
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const float nan = __int_as_float(0x7fc00000);
    const float coef = gradScale / rows;
    float acc = 0.0f;
    for (int r = warp; r < rows; r += warps)
    {
        const float* z = logits + (i64)r * classes;
        const int y = labels[r];
        const bool valid = y >= 0 && y < classes;
        // Read z[y] before the warp's reductions: once they are done, other lanes may already overwrite the row
        // (dlogits aliasing logits), and lanes of a warp are not in lockstep.
        const float zy = valid ? z[y] : 0.0f;
        float m = -tr_infinity();
        for (int c = lane; c < classes; c += 32) m = fmaxf(m, z[c]);
        m = warp_max(m);
        float se = 0.0f, sz = 0.0f;
        for (int c = lane; c < classes; c += 32)
        {
            se += expf(z[c] - m);
            sz += z[c];
        }
        se = warp_sum(se);
        sz = warp_sum(sz);
        const float lse = m + logf(se);
        const float uniform = smoothing / classes;
        acc += valid ? lse - (1.0f - smoothing) * zy - uniform * sz : nan;
        if (dlogits != nullptr)
        {
            float* g = dlogits + (i64)r * classes;
            const float inv = 1.0f / se;
            for (int c = lane; c < classes; c += 32)
            {
                const float t = (c == y ? 1.0f - smoothing : 0.0f) + uniform;
                g[c] = valid ? coef * (expf(z[c] - m) * inv - t) : nan;
            }
        }
    }
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        float total = 0.0f;
        for (int w = 0; w < warps; w++) total += partial[w];
        loss[0] = total / rows;
    }
}
