// emu_runtime.h: what fake_driver.cpp needs from the block scheduler (emu_runtime.cpp). Not seen by the kernels.
#pragma once
#include "emu.h"

namespace emu
{
struct Kernel
{
    const char* name;
    void (*thunk)(void**);
    int maxThreadsPerBlock; // __launch_bounds__, 0 = none
    const char* file;
};

// The kernel registered under this name, or null.
EMU_HIDDEN const Kernel* find_kernel(const char* name);

// Runs every block of the grid and returns when all are done. The configuration must already be valid
// (fake_driver.cpp checks it against the device limits).
EMU_HIDDEN void run_grid(const Kernel& kernel, dim3 grid, dim3 block, unsigned sharedBytes, void** params);

// Runs body(i) for i in [0, n) on the calling thread and the helper workers (same pool as the blocks).
EMU_HIDDEN void parallel_for(long long n, long long minPerTask, void (*body)(long long begin, long long end, void* state), void* state);
} // namespace emu
