// emu.h: just enough of CUDA's device-side language to run the TransReID kernels on the CPU, one block at a time,
// one std::thread per CUDA thread. __syncthreads is a block barrier, warp shuffles exchange through a per-warp
// buffer between two warp barriers, __shared__ variables are statics (blocks never overlap), and a thread that
// returns early drops out of both barriers, as exited threads do on the GPU. For tests only: see README.md.
#pragma once
#include <math.h>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace emu
{
struct dim3
{
    unsigned x = 1, y = 1, z = 1;
};

// Per-thread state of the running launch.
struct ThreadState
{
    int tid = 0;                 // linear thread index in the block
    void* block = nullptr;       // the block's barriers and exchange buffer (fake_driver.cpp)
};

float shfl_xor_float(float v, int laneMask);
int shfl_xor_int(int v, int laneMask);
void syncthreads();
void* dynamic_shared();
} // namespace emu

extern thread_local emu::dim3 threadIdx, blockIdx;
extern thread_local emu::dim3 blockDim, gridDim;

#define __global__
#define __device__ static
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

inline void __syncthreads() { emu::syncthreads(); }
inline float __shfl_xor_sync(unsigned, float v, int m) { return emu::shfl_xor_float(v, m); }
inline int __shfl_xor_sync(unsigned, int v, int m) { return emu::shfl_xor_int(v, m); }
inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}

template <class A, class B> inline std::common_type_t<A, B> min(A a, B b) { return a < b ? a : b; }
template <class A, class B> inline std::common_type_t<A, B> max(A a, B b) { return a > b ? a : b; }

void emu_register(const char* name, void (*thunk)(void**));
