// emu.h: just enough of CUDA's device-side language to run the TransReID kernels on the CPU (tests only; see
// README.md). Included first by every translated kernel file (tools/CudaEmulatorGen). The threads of a block are
// fibers of one OS thread, run by emu_runtime.cpp: __syncthreads waits for every live thread of the block, a warp
// shuffle writes its value, waits for every live lane of the warp, reads its partner's and waits again, and a thread
// that returns drops out of both. __shared__ variables are per-OS-thread statics (one block runs at a time on each
// OS thread), filled with NaN when a block starts, as is dynamic shared memory.
#pragma once
#include <math.h>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define EMU_HIDDEN __attribute__((visibility("hidden")))

namespace emu
{
struct dim3
{
    unsigned x = 1, y = 1, z = 1;
};

EMU_HIDDEN void syncthreads();
EMU_HIDDEN void syncwarp(unsigned mask);
EMU_HIDDEN uint32_t shfl_xor(uint32_t v, int laneMask, unsigned mask);
EMU_HIDDEN void* dynamic_shared();
EMU_HIDDEN void shared_static(void* p, size_t bytes);
} // namespace emu

// Set by the scheduler: threadIdx on every switch to a thread, the others once per block.
extern thread_local emu::dim3 threadIdx EMU_HIDDEN, blockIdx EMU_HIDDEN, blockDim EMU_HIDDEN, gridDim EMU_HIDDEN;

#define __global__
#define __device__ static
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::syncwarp(mask); }
inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
inline int __float_as_int(float f)
{
    int i;
    std::memcpy(&i, &f, 4);
    return i;
}
inline float __shfl_xor_sync(unsigned mask, float v, int laneMask)
{
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = emu::shfl_xor(u, laneMask, mask);
    std::memcpy(&v, &u, 4);
    return v;
}
inline int __shfl_xor_sync(unsigned mask, int v, int laneMask) { return (int)emu::shfl_xor((uint32_t)v, laneMask, mask); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }

template <class A, class B> inline std::common_type_t<A, B> min(A a, B b) { return a < b ? a : b; }
template <class A, class B> inline std::common_type_t<A, B> max(A a, B b) { return a > b ? a : b; }

// One registration per extern "C" kernel (generated): maxThreadsPerBlock is the first __launch_bounds__ argument
// (0 = none; a larger block is refused as on the GPU).
EMU_HIDDEN void emu_register(const char* name, void (*thunk)(void**), int maxThreadsPerBlock, const char* file);
