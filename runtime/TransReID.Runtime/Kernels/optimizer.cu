// optimizer.cu: SGD with momentum and AdamW, as torch.optim's single-tensor arithmetic, elementwise over n.
// Ops:
//   sgd_step     g = grad + wd p; buf = first ? g : momentum buf + g; p = p - lr buf. The host passes buf = null
//                when momentum is 0 (the buffer is then not used): p = p - lr g.
//   adamw_step   p = p decay; m = m + (1 - beta1)(g - m); v = beta2 v + (1 - beta2) g^2;
//                p = p - stepSize m / (sqrt(v) / bc2Sqrt + eps), with decay = 1 - lr wd, stepSize = lr / (1 - beta1^t)
//                and bc2Sqrt = sqrt(1 - beta2^t) computed on the host in double, then rounded to float.
// Launch: 1-D grid-stride, any block size.
#include "common.cuh"

extern "C" __global__ void sgd_step(float* __restrict__ p, const float* __restrict__ grad, float* __restrict__ buf, i64 n, float lr,
    float momentum, float weightDecay, int firstStep)
{
    TR_GRID_STRIDE(i, n)
    {
        const float pv = p[i];
        float g = grad[i] + weightDecay * pv;
        if (buf != nullptr)
        {
            if (!firstStep) g = momentum * buf[i] + g;
            buf[i] = g;
        }
        p[i] = pv - lr * g;
    }
}

extern "C" __global__ void adamw_step(float* __restrict__ p, const float* __restrict__ grad, float* __restrict__ m, float* __restrict__ v,
    i64 n, float beta1, float beta2, float eps, float decay, float stepSize, float bc2Sqrt)
{
    TR_GRID_STRIDE(i, n)
    {
        const float g = grad[i];
        const float pv = p[i] * decay;
        const float mv = m[i] + (1.0f - beta1) * (g - m[i]);
        const float vv = v[i] * beta2 + (1.0f - beta2) * g * g;
        m[i] = mv;
        v[i] = vv;
        p[i] = pv - stepSize * (mv / (sqrtf(vv) / bc2Sqrt + eps));
    }
}
