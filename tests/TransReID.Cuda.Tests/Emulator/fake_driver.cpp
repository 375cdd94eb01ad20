// fake_driver.cpp: a CPU stand-in for the parts of libcuda and libcublas the TransReID CUDA backend calls, so that
// CudaBackend and the Gpu tests run on a machine without a GPU (see README.md). Device memory is host memory,
// every call is synchronous, cuModuleLoadData only checks that the image looks like a CUBIN or PTX (kernels are the
// emulated ones compiled into this library, found by name), and cuBLAS SGEMMs are plain loops. Never load this
// library except on purpose (TRANSREID_CUDA_DRIVER_PATH / TRANSREID_CUBLAS_PATH).
#include "emu.h"

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

thread_local emu::dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace
{
struct Block
{
    int threads;
    std::barrier<> all;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<uint32_t> exchange;
    std::vector<unsigned char> shared;
    Block(int n, size_t sharedBytes) : threads(n), all(n), exchange(n), shared(sharedBytes + 16)
    {
        for (int w = 0; w < (n + 31) / 32; w++) warps.push_back(std::make_unique<std::barrier<>>(std::min(32, n - 32 * w)));
    }
};

thread_local emu::ThreadState state;

std::map<std::string, void (*)(void**)>& registry()
{
    static std::map<std::string, void (*)(void**)> r;
    return r;
}

uint32_t shfl(uint32_t v, int mask)
{
    auto* b = static_cast<Block*>(state.block);
    int tid = state.tid, lane = tid & 31, warp = tid >> 5;
    b->exchange[tid] = v;
    b->warps[warp]->arrive_and_wait();
    uint32_t r = b->exchange[(tid & ~31) | ((lane ^ mask) & 31)];
    b->warps[warp]->arrive_and_wait();
    return r;
}

std::atomic<long long> allocated{0};
const long long capacity = 16LL << 30;
} // namespace

void emu_register(const char* name, void (*thunk)(void**)) { registry()[name] = thunk; }

namespace emu
{
void syncthreads() { static_cast<Block*>(state.block)->all.arrive_and_wait(); }
void* dynamic_shared() { return static_cast<Block*>(state.block)->shared.data(); }
float shfl_xor_float(float v, int m)
{
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = shfl(u, m);
    std::memcpy(&v, &u, 4);
    return v;
}
int shfl_xor_int(int v, int m) { return (int)shfl((uint32_t)v, m); }
} // namespace emu

extern "C"
{
// ---- driver API ----------------------------------------------------------------------------------------------
int cuInit(unsigned) { return 0; }
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuDeviceGetCount(int* n) { *n = 1; return 0; }
int cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
int cuDeviceGetName(char* name, int len, int) { std::snprintf(name, len, "TransReID CPU emulator"); return 0; }
int cuDeviceGetAttribute(int* v, int attribute, int)
{
    switch (attribute)
    {
    case 8: *v = 49152; return 0;  // shared memory per block
    case 16: *v = 4; return 0;     // multiprocessors
    case 75: *v = 9; return 0;     // compute capability 9.0
    case 76: *v = 0; return 0;
    default: *v = 0; return 0;
    }
}
int cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = (size_t)capacity; return 0; }
int cuGetErrorName(int e, const char** s)
{
    *s = e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : e == 200 ? "CUDA_ERROR_INVALID_IMAGE" : e == 500 ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
int cuGetErrorString(int e, const char** s)
{
    *s = e == 2 ? "out of memory" : e == 200 ? "device kernel image is invalid" : e == 500 ? "named symbol not found" : "unknown error";
    return 0;
}
int cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = (void*)0x1000; return 0; }
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxSetCurrent(void*) { return 0; }
int cuCtxPushCurrent_v2(void*) { return 0; }
int cuCtxPopCurrent_v2(void** ctx) { *ctx = (void*)0x1000; return 0; }
int cuCtxSynchronize() { return 0; }

int cuMemAlloc_v2(unsigned long long* p, size_t bytes)
{
    if ((long long)bytes > capacity - allocated.load()) return 2;
    void* m = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!m) return 2;
    allocated += (long long)bytes;
    *p = (unsigned long long)m;
    return 0;
}
int cuMemFree_v2(unsigned long long p) { std::free((void*)p); return 0; }
int cuMemGetInfo_v2(size_t* free, size_t* total) { *total = (size_t)capacity; *free = (size_t)(capacity - allocated.load()); return 0; }
int cuMemsetD32Async(unsigned long long d, unsigned v, size_t n, void*)
{
    auto* p = (unsigned*)d;
    for (size_t i = 0; i < n; i++) p[i] = v;
    return 0;
}
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* s, size_t n, void*) { std::memcpy((void*)d, s, n); return 0; }
int cuMemcpyDtoHAsync_v2(void* d, unsigned long long s, size_t n, void*) { std::memcpy(d, (void*)s, n); return 0; }
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void*) { std::memmove((void*)d, (void*)s, n); return 0; }

int cuStreamCreate(void** s, unsigned) { *s = new int(0); return 0; }
int cuStreamDestroy_v2(void* s) { delete (int*)s; return 0; }
int cuStreamSynchronize(void*) { return 0; }
int cuEventCreate(void** e, unsigned) { *e = new std::chrono::steady_clock::time_point(); return 0; }
int cuEventDestroy_v2(void* e) { delete (std::chrono::steady_clock::time_point*)e; return 0; }
int cuEventRecord(void* e, void*) { *(std::chrono::steady_clock::time_point*)e = std::chrono::steady_clock::now(); return 0; }
int cuEventSynchronize(void*) { return 0; }
int cuEventElapsedTime(float* ms, void* a, void* b)
{
    auto d = *(std::chrono::steady_clock::time_point*)b - *(std::chrono::steady_clock::time_point*)a;
    *ms = std::chrono::duration<float, std::milli>(d).count();
    return 0;
}

int cuModuleLoadData(void** module, const void* image)
{
    const auto* b = (const unsigned char*)image;
    bool elf = b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    bool ptx = std::strstr((const char*)image, ".version") != nullptr && std::strstr((const char*)image, ".target") != nullptr;
    if (!elf && !ptx) return 200;
    *module = new int(1);
    return 0;
}
int cuModuleUnload(void* m) { delete (int*)m; return 0; }
int cuModuleGetFunction(void** f, void*, const char* name)
{
    auto it = registry().find(name);
    if (it == registry().end()) return 500;
    *f = (void*)it->second;
    return 0;
}

int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void*,
    void** params, void**)
{
    auto thunk = (void (*)(void**))f;
    int n = (int)(bx * by * bz);
    if (n < 1 || n > 1024 || gz != 1 || bz != 1) return 1;
    for (unsigned y = 0; y < gy; y++)
    {
        for (unsigned x = 0; x < gx; x++)
        {
            Block block(n, sharedBytes);
            std::vector<std::thread> threads;
            threads.reserve(n);
            for (int t = 0; t < n; t++)
            {
                threads.emplace_back([&, t] {
                    state.tid = t;
                    state.block = &block;
                    threadIdx = {(unsigned)t % bx, (unsigned)t / bx, 0};
                    blockIdx = {x, y, 0};
                    blockDim = {bx, by, 1};
                    gridDim = {gx, gy, 1};
                    thunk(params);
                    block.warps[t >> 5]->arrive_and_drop();
                    block.all.arrive_and_drop();
                });
            }
            for (auto& th : threads) th.join();
        }
    }
    return 0;
}

// ---- cuBLAS (column-major, as the real one) -------------------------------------------------------------------
int cublasCreate_v2(void** h) { *h = new int(0); return 0; }
int cublasDestroy_v2(void* h) { delete (int*)h; return 0; }
int cublasGetVersion_v2(void*, int* v) { *v = 130100; return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int) { return 0; }
const char* cublasGetStatusString(int) { return "emulated cuBLAS status"; }

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc)
{
    for (int j = 0; j < n; j++)
    {
        for (int i = 0; i < m; i++)
        {
            float s = 0;
            for (int p = 0; p < k; p++)
            {
                float av = ta ? a[(long long)i * lda + p] : a[(long long)p * lda + i];
                float bv = tb ? b[(long long)p * ldb + j] : b[(long long)j * ldb + p];
                s += av * bv;
            }
            float* cij = c + (long long)j * ldc + i;
            *cij = beta == 0 ? alpha * s : alpha * s + beta * *cij;
        }
    }
}

int cublasSgemm_v2(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
    const float* beta, float* c, int ldc)
{
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
    gemm(ta, tb, m, n, k, *alpha, a, lda, b, ldb, *beta, c, ldc);
    return 0;
}

int cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda, long long sa,
    const float* b, int ldb, long long sb, const float* beta, float* c, int ldc, long long sc, int batch)
{
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
    for (int i = 0; i < batch; i++) gemm(ta, tb, m, n, k, *alpha, a + i * sa, lda, b + i * sb, ldb, *beta, c + i * sc, ldc);
    return 0;
}
}
