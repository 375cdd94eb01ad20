// fake_driver.cpp: a CPU stand-in for the parts of libcuda and libcublas the TransReID CUDA backend calls, so that
// CudaBackend and the Gpu tests run on a machine without a GPU (see README.md). Device memory is host memory (filled
// with NaN when allocated, as cuMemAlloc's contents are undefined), every call is synchronous, cuModuleLoadData only
// checks that the image looks like a CUBIN or PTX (kernels are the emulated ones compiled into this library, found by
// name), launches are checked against an H100-like device's limits and the kernel's __launch_bounds__, then run by
// emu_runtime.cpp, and cuBLAS SGEMMs are plain loops. Faults can be injected for tests (emu_inject_fault). Never load
// this library except on purpose (TRANSREID_CUDA_DRIVER_PATH / TRANSREID_CUBLAS_PATH).
#include "emu_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace
{
// CUresult values used here (cuda.h).
constexpr int Success = 0, InvalidValue = 1, OutOfMemory = 2, InvalidDevice = 101, InvalidImage = 200, InvalidHandle = 400,
              NotFound = 500, IllegalAddress = 700, LaunchOutOfResources = 701, LaunchTimeout = 702, Assert = 710, LaunchFailed = 719;
constexpr int CublasExecutionFailed = 13;

// Injected faults (emu_inject_fault, for the tests of the backend's fault reports): the next launch of the named
// kernel does not run and returns success, as a faulting kernel's launch does; from then on the context is broken, as
// on a GPU: every call on it (memory, streams, events, modules, launches, cuBLAS) returns the fault until
// emu_clear_fault. Device queries, context selection and error names keep working.
std::mutex faultMutex;
std::string armedKernel; // "" = any kernel
int armedCode = 0;
std::atomic<int> stickyFault{0};

// The limits cuDeviceGetAttribute reports and cuLaunchKernel enforces.
constexpr unsigned MaxThreadsPerBlock = 1024, MaxBlockX = 1024, MaxBlockY = 1024, MaxBlockZ = 64;
constexpr unsigned MaxGridX = 2147483647u, MaxGridY = 65535, MaxGridZ = 65535;
constexpr unsigned MaxSharedPerBlock = 49152;

const long long capacity = 16LL << 30;
std::mutex memoryMutex;
std::map<unsigned long long, size_t> allocations; // device pointer -> bytes
long long allocated = 0;

const char* error_name(int e)
{
    switch (e)
    {
    case Success: return "CUDA_SUCCESS";
    case InvalidValue: return "CUDA_ERROR_INVALID_VALUE";
    case OutOfMemory: return "CUDA_ERROR_OUT_OF_MEMORY";
    case InvalidDevice: return "CUDA_ERROR_INVALID_DEVICE";
    case InvalidImage: return "CUDA_ERROR_INVALID_IMAGE";
    case InvalidHandle: return "CUDA_ERROR_INVALID_HANDLE";
    case NotFound: return "CUDA_ERROR_NOT_FOUND";
    case IllegalAddress: return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case LaunchOutOfResources: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    case LaunchTimeout: return "CUDA_ERROR_LAUNCH_TIMEOUT";
    case Assert: return "CUDA_ERROR_ASSERT";
    case LaunchFailed: return "CUDA_ERROR_LAUNCH_FAILED";
    default: return nullptr;
    }
}

const char* error_string(int e)
{
    switch (e)
    {
    case Success: return "no error";
    case InvalidValue: return "invalid argument";
    case OutOfMemory: return "out of memory";
    case InvalidDevice: return "invalid device ordinal";
    case InvalidImage: return "device kernel image is invalid";
    case InvalidHandle: return "invalid resource handle";
    case NotFound: return "named symbol not found";
    case IllegalAddress: return "an illegal memory access was encountered";
    case LaunchOutOfResources: return "too many resources requested for launch";
    case LaunchTimeout: return "the launch timed out and was terminated";
    case Assert: return "device-side assert triggered";
    case LaunchFailed: return "unspecified launch failure";
    default: return nullptr;
    }
}

// ---- GEMM (column-major, as cuBLAS): C = alpha op(A) op(B) + beta C, each element summed over p in order ------------
struct Gemm
{
    int ta, tb, m, n, k;
    float alpha, beta;
    const float* a;
    int lda;
    long long sa;
    const float* b;
    int ldb;
    long long sb;
    float* c;
    int ldc;
    long long sc;
};

void gemm_columns(long long begin, long long end, void* state)
{
    const Gemm& g = *static_cast<const Gemm*>(state);
    std::vector<float> acc(g.m), bcol(g.k);
    for (long long col = begin; col < end; col++)
    {
        long long batch = col / g.n;
        int j = (int)(col % g.n);
        const float* a = g.a + batch * g.sa;
        const float* b = g.b + batch * g.sb;
        float* c = g.c + batch * g.sc + (long long)j * g.ldc;
        for (int p = 0; p < g.k; p++) bcol[p] = g.tb ? b[j + (long long)p * g.ldb] : b[p + (long long)j * g.ldb];
        if (!g.ta)
        {
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int p = 0; p < g.k; p++)
            {
                const float* ap = a + (long long)p * g.lda;
                const float bv = bcol[p];
                for (int i = 0; i < g.m; i++) acc[i] += ap[i] * bv;
            }
        }
        else
        {
            for (int i = 0; i < g.m; i++)
            {
                const float* ai = a + (long long)i * g.lda;
                float s = 0;
                for (int p = 0; p < g.k; p++) s += ai[p] * bcol[p];
                acc[i] = s;
            }
        }
        for (int i = 0; i < g.m; i++) c[i] = g.beta == 0 ? g.alpha * acc[i] : g.alpha * acc[i] + g.beta * c[i];
    }
}

int gemm(Gemm g, int batch)
{
    if (g.m < 0 || g.n < 0 || g.k < 0 || batch < 0) return 7; // CUBLAS_STATUS_INVALID_VALUE
    if (g.lda < std::max(1, g.ta ? g.k : g.m) || g.ldb < std::max(1, g.tb ? g.n : g.k) || g.ldc < std::max(1, g.m)) return 7;
    long long columns = (long long)batch * g.n;
    long long perColumn = std::max(1LL, (long long)g.m * g.k);
    emu::parallel_for(columns, std::max(1LL, 65536 / perColumn), gemm_columns, &g);
    return 0;
}
} // namespace

#pragma GCC visibility push(default)
extern "C"
{
// ---- driver API ----------------------------------------------------------------------------------------------
int cuInit(unsigned) { return 0; }
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuDeviceGetCount(int* n) { *n = 1; return 0; }
int cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return InvalidDevice; *d = 0; return 0; }
int cuDeviceGetName(char* name, int len, int) { std::snprintf(name, len, "TransReID CPU emulator"); return 0; }
int cuDeviceGetAttribute(int* v, int attribute, int device)
{
    if (device != 0) return InvalidDevice;
    switch (attribute)
    {
    case 1: *v = (int)MaxThreadsPerBlock;
    return 0;
    case 2: *v = (int)MaxBlockX;
    return 0;
    case 3: *v = (int)MaxBlockY;
    return 0;
    case 4: *v = (int)MaxBlockZ;
    return 0;
    case 5: *v = (int)MaxGridX;
    return 0;
    case 6: *v = (int)MaxGridY;
    return 0;
    case 7: *v = (int)MaxGridZ;
    return 0;
    case 8: *v = (int)MaxSharedPerBlock;
    return 0;
    case 10: *v = 32; return 0;      // warp size
    case 13: *v = 1980000; return 0; // clock rate, kHz
    case 16: *v = 4; return 0;       // multiprocessors
    case 75: *v = 9; return 0;       // compute capability 9.0
    case 76: *v = 0;
    return 0;
    default: *v = 0;
    return 0;
    }
}
int cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = (size_t)capacity; return 0; }
int cuGetErrorName(int e, const char** s)
{
    *s = error_name(e);
    return *s != nullptr ? Success : InvalidValue;
}
int cuGetErrorString(int e, const char** s)
{
    *s = error_string(e);
    return *s != nullptr ? Success : InvalidValue;
}
int cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = (void*)0x1000; return 0; }
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxSetCurrent(void*) { return 0; }
int cuCtxPushCurrent_v2(void*) { return 0; }
int cuCtxPopCurrent_v2(void** ctx) { *ctx = (void*)0x1000; return 0; }
int cuCtxSynchronize()
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    return 0;
}

int cuMemAlloc_v2(unsigned long long* p, size_t bytes)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    if (bytes == 0) return InvalidValue;
    std::lock_guard lock(memoryMutex);
    if ((long long)bytes > capacity - allocated) return OutOfMemory;
    size_t rounded = (bytes + 255) / 256 * 256;
    void* m = std::aligned_alloc(256, rounded);
    if (!m) return OutOfMemory;
    // The contents of fresh device memory are undefined: NaN here, so that reading before writing shows.
    auto* w = static_cast<unsigned*>(m);
    for (size_t i = 0; i < rounded / 4; i++) w[i] = 0x7FC0DEADu;
    allocated += (long long)bytes;
    *p = (unsigned long long)m;
    allocations[*p] = bytes;
    return 0;
}
int cuMemFree_v2(unsigned long long p)
{
    std::lock_guard lock(memoryMutex);
    auto it = allocations.find(p);
    if (it == allocations.end()) return InvalidValue; // not from cuMemAlloc, or freed twice
    allocated -= (long long)it->second;
    allocations.erase(it);
    std::free((void*)p);
    return stickyFault.load(); // a broken context still lets go of its memory
}
int cuMemGetInfo_v2(size_t* free, size_t* total)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    std::lock_guard lock(memoryMutex);
    *total = (size_t)capacity;
    *free = (size_t)(capacity - allocated);
    return 0;
}
int cuMemsetD32Async(unsigned long long d, unsigned v, size_t n, void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    auto* p = (unsigned*)d;
    for (size_t i = 0; i < n; i++) p[i] = v;
    return 0;
}
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* s, size_t n, void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    std::memcpy((void*)d, s, n);
    return 0;
}
int cuMemcpyDtoHAsync_v2(void* d, unsigned long long s, size_t n, void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    std::memcpy(d, (void*)s, n);
    return 0;
}
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    std::memmove((void*)d, (void*)s, n);
    return 0;
}

int cuStreamCreate(void** s, unsigned)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    *s = new int(0);
    return 0;
}
int cuStreamDestroy_v2(void* s) { delete (int*)s; return 0; }
int cuStreamSynchronize(void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    return 0;
}
int cuEventCreate(void** e, unsigned)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    *e = new std::chrono::steady_clock::time_point();
    return 0;
}
int cuEventDestroy_v2(void* e) { delete (std::chrono::steady_clock::time_point*)e; return 0; }
int cuEventRecord(void* e, void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    *(std::chrono::steady_clock::time_point*)e = std::chrono::steady_clock::now();
    return 0;
}
int cuEventSynchronize(void*)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    return 0;
}
int cuEventElapsedTime(float* ms, void* a, void* b)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    auto d = *(std::chrono::steady_clock::time_point*)b - *(std::chrono::steady_clock::time_point*)a;
    *ms = std::chrono::duration<float, std::milli>(d).count();
    return 0;
}
int cuEventElapsedTime_v2(float* ms, void* a, void* b) { return cuEventElapsedTime(ms, a, b); }

int cuModuleLoadData(void** module, const void* image)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    const auto* b = (const unsigned char*)image;
    bool elf = b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    bool ptx = std::strstr((const char*)image, ".version") != nullptr && std::strstr((const char*)image, ".target") != nullptr;
    if (!elf && !ptx) return InvalidImage;
    *module = new int(1);
    return 0;
}
int cuModuleUnload(void* m) { delete (int*)m; return 0; }
int cuModuleGetFunction(void** f, void*, const char* name)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    const emu::Kernel* k = emu::find_kernel(name);
    if (k == nullptr) return NotFound;
    *f = (void*)k;
    return 0;
}

int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void*,
    void** params, void** extra)
{
    if (int fault = stickyFault.load(); fault != 0) return fault;
    if (f == nullptr) return InvalidHandle;
    const auto& kernel = *static_cast<const emu::Kernel*>(f);
    if (extra != nullptr) return InvalidValue; // the emulator takes kernelParams only
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return InvalidValue;
    if (gx > MaxGridX || gy > MaxGridY || gz > MaxGridZ) return InvalidValue;
    if (bx > MaxBlockX || by > MaxBlockY || bz > MaxBlockZ || (unsigned long long)bx * by * bz > MaxThreadsPerBlock) return InvalidValue;
    if (sharedBytes > MaxSharedPerBlock) return InvalidValue;
    if (kernel.maxThreadsPerBlock > 0 && bx * by * bz > (unsigned)kernel.maxThreadsPerBlock) return LaunchOutOfResources;
    {
        std::lock_guard lock(faultMutex);
        if (armedCode != 0 && (armedKernel.empty() || armedKernel == kernel.name))
        {
            stickyFault = armedCode; // reported by the next call, as an asynchronous fault is
            armedCode = 0;
            return 0;
        }
    }
    emu::run_grid(kernel, {gx, gy, gz}, {bx, by, bz}, sharedBytes, params);
    return 0;
}

// ---- cuBLAS (column-major, as the real one) -------------------------------------------------------------------
int cublasCreate_v2(void** h) { *h = new int(0); return 0; }
int cublasDestroy_v2(void* h) { delete (int*)h; return 0; }
int cublasGetVersion_v2(void*, int* v) { *v = 130100; return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int) { return 0; }
const char* cublasGetStatusString(int) { return "emulated cuBLAS status"; }

int cublasSgemm_v2(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
    const float* beta, float* c, int ldc)
{
    if (stickyFault.load() != 0) return CublasExecutionFailed;
    return gemm({ta, tb, m, n, k, *alpha, *beta, a, lda, 0, b, ldb, 0, c, ldc, 0}, 1);
}

int cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda, long long sa,
    const float* b, int ldb, long long sb, const float* beta, float* c, int ldc, long long sc, int batch)
{
    if (stickyFault.load() != 0) return CublasExecutionFailed;
    return gemm({ta, tb, m, n, k, *alpha, *beta, a, lda, sa, b, ldb, sb, c, ldc, sc}, batch);
}

// ---- test hooks (not CUDA) ------------------------------------------------------------------------------------
// Arms a fault: the next launch of kernel `name` ("" or null: of any kernel) breaks the context with CUresult `code`.
void emu_inject_fault(const char* name, int code)
{
    std::lock_guard lock(faultMutex);
    armedKernel = name != nullptr ? name : "";
    armedCode = code;
}

// Disarms any fault and repairs the context.
void emu_clear_fault()
{
    std::lock_guard lock(faultMutex);
    armedKernel.clear();
    armedCode = 0;
    stickyFault = 0;
}
}
#pragma GCC visibility pop
