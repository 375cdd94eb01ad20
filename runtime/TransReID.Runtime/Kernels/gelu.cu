// gelu.cu: exact GELU (erf form, PyTorch nn.GELU default), forward and backward, elementwise over n floats.
// Ops:
//   gelu_forward    y = 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2)   (y may alias x)
//   gelu_backward   dx = dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)   (dx may alias dy)
// erfc keeps full relative accuracy where 1 + erf cancels (x < -3), matching the CPU's double-precision erf.
// Launch: 1-D grid-stride, any block size.
#include "common.cuh"

#define TR_SQRT1_2 0.70710678118654752440f
#define TR_INV_SQRT_2PI 0.39894228040143267794f

extern "C" __global__ void gelu_forward(const float* x, float* y, i64 n)
{
    TR_GRID_STRIDE(i, n)
    {
        const float v = x[i];
        y[i] = 0.5f * v * erfcf(-v * TR_SQRT1_2);
    }
}

extern "C" __global__ void gelu_backward(const float* dy, const float* x, float* dx, i64 n)
{
    TR_GRID_STRIDE(i, n)
    {
        const float v = x[i];
        const float cdf = 0.5f * erfcf(-v * TR_SQRT1_2);
        const float pdf = expf(-0.5f * v * v) * TR_INV_SQRT_2PI;
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}
