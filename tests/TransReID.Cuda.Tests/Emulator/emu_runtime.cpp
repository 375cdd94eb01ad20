// emu_runtime.cpp: runs the blocks of an emulated kernel launch (tests only; see README.md).
//
// Threads of a block are fibers: each has its own stack (64 KiB, allocated once per worker, below a guard page) and
// runs on its worker's OS thread until it reaches a barrier, a warp shuffle or its end, then switches back to the
// scheduler (run_block), which resumes the next ready thread. __syncthreads releases its waiters when every live
// thread of the block waits there; a warp barrier (each shuffle has two: write, wait, read partner, wait) when every
// live lane of the warp does. A finished thread drops out of both counts. A block in which nothing is ready but
// threads are still live is a deadlock (e.g. a __syncthreads not reached by every live thread, or lanes of a warp at
// different barriers): undefined on the GPU, an error message and abort() here.
//
// Lanes are not in lockstep: between two barriers a thread runs alone, start to finish, so a read of a location that
// another thread of the same phase writes sees the write exactly when the writer ran first. The order is fixed for a
// given launch configuration (reproducible) but not monotonic: warps run in ascending or descending order, and the
// lanes of each warp too, the direction alternating with the block index, the warp index and each barrier a warp
// passes. TRANSREID_EMU_ORDER=1 reverses every one of these choices, so two runs (0 and 1) see each pair of threads
// of each phase in both orders.
//
// Blocks of one launch run in parallel on the calling thread and on helper OS threads (TRANSREID_EMU_THREADS workers
// in all, default: the number of CPUs, at most 4); __shared__ statics, threadIdx/blockIdx/... are thread_local.
#include "emu_runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

thread_local emu::dim3 threadIdx, blockIdx, blockDim, gridDim;

// ---- context switch ------------------------------------------------------------------------------------------------
// emu_switch(save, to): stores the current stack pointer in *save and continues on the stack `to`, which was saved by
// emu_switch or prepared by new_stack. Only the callee-saved registers are kept (System V x86-64 calls); the
// floating-point control state is shared by all fibers of a thread and never changed by the kernels.
extern "C" void emu_switch(void** save, void* to) EMU_HIDDEN;
#if defined(__x86_64__)
asm(R"(
    .text
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
#else
#error "emu_runtime.cpp: emu_switch is written for x86-64 only"
#endif

namespace emu
{
namespace
{
constexpr int MaxThreads = 1024;
constexpr size_t StackBytes = 64 * 1024;
constexpr size_t MaxDynamicShared = 48 * 1024;
constexpr uint32_t Poison = 0x7FC0DEAD; // a quiet NaN as a float, a huge index as an int

[[noreturn]] __attribute__((format(printf, 1, 2))) void fatal(const char* format, ...)
{
    va_list args;
    va_start(args, format);
    std::fputs("transreid-fakecuda: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
    va_end(args);
    std::fflush(stderr);
    std::abort();
}

void fill_poison(void* p, size_t bytes)
{
    auto* w = static_cast<uint32_t*>(p);
    size_t words = bytes / 4;
    for (size_t i = 0; i < words; i++) w[i] = Poison;
    std::memset(static_cast<unsigned char*>(p) + words * 4, 0xFF, bytes - words * 4);
}

// TRANSREID_EMU_ORDER: 0 (default) or 1, which reverses every scheduling direction (see the top of this file).
unsigned orderSeed()
{
    static const unsigned seed = [] {
        const char* v = std::getenv("TRANSREID_EMU_ORDER");
        return v != nullptr && std::atoi(v) % 2 != 0 ? 1u : 0u;
    }();
    return seed;
}

void* map_or_die(size_t bytes)
{
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) fatal("mmap of %zu bytes failed", bytes);
    return p;
}

enum class State : uint8_t
{
    Starting,
    Ready,
    AtSyncthreads,
    AtWarpBarrier,
    Done,
};

struct Fiber
{
    void* sp = nullptr;
    dim3 idx;
    State state = State::Ready;
};

struct Launch
{
    const Kernel* kernel;
    dim3 grid, block;
    unsigned sharedBytes;
    void** params;
    unsigned long long blocks;
    std::atomic<unsigned long long> next{0};
};

// The fibers, stacks and block state of one OS thread; made on first use, kept until the thread ends.
struct Worker
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t slot = StackBytes + page; // a guard page below each stack
    char* stacks = nullptr;
    size_t sharedSpan = (MaxDynamicShared + page - 1) / page * page;
    char* sharedArea = nullptr; // dynamic shared memory, ending at a guard page

    Fiber fibers[MaxThreads];
    void* schedulerSp = nullptr;
    Fiber* current = nullptr;
    int currentTid = -1;
    const Launch* launch = nullptr;
    unsigned char* dynamicShared = nullptr;

    int threads = 0, live = 0, atSyncthreads = 0;
    int warpLive[MaxThreads / 32] = {}, atWarpBarrier[MaxThreads / 32] = {};
    uint32_t exchange[MaxThreads] = {};
    int queue[MaxThreads] = {};
    int head = 0, count = 0;
    unsigned orderBase = 0;       // order seed + block index: the parity that picks the directions of this block
    unsigned blockPhase = 0;      // block barriers released so far
    unsigned warpPhase[MaxThreads / 32] = {}; // releases of each warp (by either barrier)
    std::vector<void*> poisoned; // __shared__ statics already filled in this block

    Worker()
    {
        stacks = static_cast<char*>(map_or_die(slot * MaxThreads));
        for (int t = 0; t < MaxThreads; t++) mprotect(stacks + slot * t, page, PROT_NONE);
        sharedArea = static_cast<char*>(map_or_die(sharedSpan + page));
        mprotect(sharedArea + sharedSpan, page, PROT_NONE);
        poisoned.reserve(16);
    }

    ~Worker()
    {
        munmap(stacks, slot * MaxThreads);
        munmap(sharedArea, sharedSpan + page);
    }

    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void push(int t)
    {
        queue[(head + count) % MaxThreads] = t;
        count++;
    }

    int pop()
    {
        int t = queue[head];
        head = (head + 1) % MaxThreads;
        count--;
        return t;
    }
};

thread_local std::unique_ptr<Worker> tlsWorker;
thread_local Worker* tw = nullptr;

Worker& this_worker()
{
    if (tw == nullptr)
    {
        tlsWorker = std::make_unique<Worker>();
        tw = tlsWorker.get();
    }
    return *tw;
}

// Where a fiber starts: run the kernel for this thread, then report Done to the scheduler for good.
void fiber_main()
{
    Worker* w = tw;
    w->launch->kernel->thunk(w->launch->params);
    w->current->state = State::Done;
    emu_switch(&w->current->sp, w->schedulerSp);
    __builtin_unreachable();
}

void* new_stack(Worker& w, int t)
{
    char* top = w.stacks + w.slot * t + w.slot; // stacks grow down, towards the guard page of their slot
    auto* sp = reinterpret_cast<uintptr_t*>(top);
    *--sp = 0;                                          // fiber_main's return address (it never returns)
    *--sp = reinterpret_cast<uintptr_t>(&fiber_main);   // where emu_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = 0;              // rbp, rbx, r12-r15
    return sp;
}

Worker& in_kernel(const char* what)
{
    Worker* w = tw;
    if (w == nullptr || w->current == nullptr) fatal("%s called outside an emulated kernel", what);
    return *w;
}

void wait_here(Worker& w, State s)
{
    Fiber* f = w.current;
    f->state = s;
    emu_switch(&f->sp, w.schedulerSp);
}

const char* kernel_name(const Worker& w) { return w.launch->kernel->name; }

// Makes the lanes of `warp` that wait in state `from` ready, in this warp's direction for its current phase.
void release_lanes(Worker& w, int warp, State from)
{
    const int first = warp * 32, lanes = std::min(w.threads, first + 32) - first;
    const bool descending = ((w.orderBase + (unsigned)warp + w.warpPhase[warp]++) & 1) != 0;
    for (int i = 0; i < lanes; i++)
    {
        int t = first + (descending ? lanes - 1 - i : i);
        if (w.fibers[t].state == from)
        {
            w.fibers[t].state = State::Ready;
            w.push(t);
        }
    }
}

void release_warp(Worker& w, int warp)
{
    release_lanes(w, warp, State::AtWarpBarrier);
    w.atWarpBarrier[warp] = 0;
}

// Every warp's waiters at __syncthreads (or, at the start of a block, every thread), warps in this phase's direction.
void release_block(Worker& w, State from)
{
    const int warps = (w.threads + 31) / 32;
    const bool descending = ((w.orderBase + w.blockPhase++) & 1) != 0;
    for (int i = 0; i < warps; i++) release_lanes(w, descending ? warps - 1 - i : i, from);
    w.atSyncthreads = 0;
}

[[noreturn]] void deadlock(Worker& w)
{
    std::string warps;
    for (int warp = 0; warp * 32 < w.threads; warp++)
    {
        int sync = 0, shfl = 0, done = 0, lanes = 0;
        for (int t = warp * 32; t < std::min(w.threads, warp * 32 + 32); t++, lanes++)
        {
            State s = w.fibers[t].state;
            sync += s == State::AtSyncthreads;
            shfl += s == State::AtWarpBarrier;
            done += s == State::Done;
        }
        if (done == lanes) continue;
        char line[160];
        std::snprintf(line, sizeof line, "\n  warp %d: %d lanes at __syncthreads, %d at a warp shuffle/__syncwarp, %d returned", warp, sync,
            shfl, done);
        warps += line;
    }
    fatal("deadlock in kernel %s (%s), block (%u, %u, %u) of grid (%u, %u, %u), block size (%u, %u, %u): %d of %d threads are "
          "still live, but no barrier can complete (a __syncthreads not reached by every live thread of the block, or lanes of a "
          "warp at different barriers; undefined behaviour on a GPU):%s",
        kernel_name(w), w.launch->kernel->file, blockIdx.x, blockIdx.y, blockIdx.z, gridDim.x, gridDim.y, gridDim.z, blockDim.x,
        blockDim.y, blockDim.z, w.live, w.threads, warps.c_str());
}

void run_block(Worker& w, const Launch& launch, unsigned long long linear)
{
    const dim3 g = launch.grid, b = launch.block;
    blockIdx = {(unsigned)(linear % g.x), (unsigned)(linear / g.x % g.y), (unsigned)(linear / ((unsigned long long)g.x * g.y))};
    const int n = (int)(b.x * b.y * b.z);
    w.threads = w.live = n;
    w.atSyncthreads = 0;
    for (int warp = 0; warp * 32 < n; warp++)
    {
        w.warpLive[warp] = std::min(32, n - warp * 32);
        w.atWarpBarrier[warp] = 0;
    }
    // Shared memory and unwritten shuffle slots start as NaN: reading them before a write shows.
    fill_poison(w.exchange, sizeof(uint32_t) * (size_t)((n + 31) / 32 * 32));
    w.dynamicShared = reinterpret_cast<unsigned char*>(w.sharedArea + w.sharedSpan - (launch.sharedBytes + 15) / 16 * 16);
    fill_poison(w.dynamicShared, launch.sharedBytes);
    w.poisoned.clear();
    w.orderBase = orderSeed() + (unsigned)linear;
    w.blockPhase = 0;
    w.head = w.count = 0;
    for (int t = 0; t < n; t++)
    {
        Fiber& f = w.fibers[t];
        f.idx = {(unsigned)t % b.x, (unsigned)t / b.x % b.y, (unsigned)t / (b.x * b.y)};
        f.state = State::Starting;
        f.sp = new_stack(w, t);
    }
    for (int warp = 0; warp * 32 < n; warp++) w.warpPhase[warp] = 0;
    release_block(w, State::Starting);

    while (w.count > 0)
    {
        int t = w.pop();
        Fiber& f = w.fibers[t];
        threadIdx = f.idx;
        w.current = &f;
        w.currentTid = t;
        emu_switch(&w.schedulerSp, f.sp);
        w.current = nullptr;
        const int warp = t >> 5;
        switch (f.state)
        {
        case State::Done:
            w.live--;
            w.warpLive[warp]--;
            w.exchange[t] = Poison;
            if (w.atWarpBarrier[warp] > 0 && w.atWarpBarrier[warp] == w.warpLive[warp]) release_warp(w, warp);
            if (w.atSyncthreads > 0 && w.atSyncthreads == w.live) release_block(w, State::AtSyncthreads);
            break;
        case State::AtSyncthreads:
            if (++w.atSyncthreads == w.live) release_block(w, State::AtSyncthreads);
            break;
        case State::AtWarpBarrier:
            if (++w.atWarpBarrier[warp] == w.warpLive[warp]) release_warp(w, warp);
            break;
        case State::Starting:
        case State::Ready:
            fatal("internal error: thread %d of kernel %s switched back while ready", t, kernel_name(w));
        }
    }

    if (w.live > 0) deadlock(w);
}

void run_blocks(Launch& launch)
{
    Worker& w = this_worker();
    const Launch* outer = w.launch;
    if (outer != nullptr && w.current != nullptr) fatal("a kernel launch from inside kernel %s", outer->kernel->name);
    w.launch = &launch;
    blockDim = launch.block;
    gridDim = launch.grid;
    for (unsigned long long i; (i = launch.next.fetch_add(1, std::memory_order_relaxed)) < launch.blocks;) run_block(w, launch, i);
    w.launch = nullptr;
}

// Helper OS threads: every job is run by the caller and all helpers; each takes work items until none are left.
class Pool
{
public:
    explicit Pool(int helpers)
    {
        for (int i = 0; i < helpers; i++) std::thread([this] { Loop(); }).detach();
        _helpers = helpers;
    }

    int Helpers() const { return _helpers; }

    // Runs job(state) on the caller and every helper; returns when all are done. False when another thread's job is
    // running (the caller then does the work alone).
    bool TryRun(void (*job)(void*), void* state)
    {
        std::unique_lock busy(_busy, std::try_to_lock);
        if (!busy.owns_lock() || _helpers == 0) return false;
        {
            std::lock_guard lock(_mutex);
            _job = job;
            _state = state;
            _active = _helpers;
            _generation++;
        }
        _wake.notify_all();
        job(state);
        std::unique_lock lock(_mutex);
        _done.wait(lock, [this] { return _active == 0; });
        _job = nullptr;
        return true;
    }

private:
    void Loop()
    {
        unsigned long long seen = 0;
        for (;;)
        {
            void (*job)(void*);
            void* state;
            {
                std::unique_lock lock(_mutex);
                _wake.wait(lock, [&] { return _generation != seen; });
                seen = _generation;
                job = _job;
                state = _state;
            }
            job(state);
            std::lock_guard lock(_mutex);
            if (--_active == 0) _done.notify_one();
        }
    }

    int _helpers = 0;
    std::mutex _busy, _mutex;
    std::condition_variable _wake, _done;
    unsigned long long _generation = 0;
    void (*_job)(void*) = nullptr;
    void* _state = nullptr;
    int _active = 0;
};

Pool& pool()
{
    // Never destroyed: the helpers wait on it until the process ends.
    static Pool* p = [] {
        const char* v = std::getenv("TRANSREID_EMU_THREADS");
        int workers = v != nullptr && *v != 0 ? std::atoi(v) : (int)std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
        return new Pool(std::clamp(workers, 1, 64) - 1);
    }();
    return *p;
}

std::map<std::string, Kernel>& registry()
{
    static std::map<std::string, Kernel> r;
    return r;
}
} // namespace

// ---- device-side functions (emu.h) ---------------------------------------------------------------------------------
void syncthreads() { wait_here(in_kernel("__syncthreads"), State::AtSyncthreads); }

void syncwarp(unsigned mask)
{
    Worker& w = in_kernel("__syncwarp");
    if (mask != 0xffffffffu) fatal("kernel %s: __syncwarp(0x%08x): only the full mask is emulated", kernel_name(w), mask);
    wait_here(w, State::AtWarpBarrier);
}

uint32_t shfl_xor(uint32_t v, int laneMask, unsigned mask)
{
    Worker& w = in_kernel("__shfl_xor_sync");
    if (mask != 0xffffffffu) fatal("kernel %s: __shfl_xor_sync(0x%08x, ...): only the full mask is emulated", kernel_name(w), mask);
    const int t = w.currentTid;
    w.exchange[t] = v;
    wait_here(w, State::AtWarpBarrier);
    uint32_t r = w.exchange[(t & ~31) | ((t ^ laneMask) & 31)];
    wait_here(w, State::AtWarpBarrier);
    return r;
}

void* dynamic_shared() { return in_kernel("extern __shared__").dynamicShared; }

void shared_static(void* p, size_t bytes)
{
    Worker& w = in_kernel("__shared__");
    if (std::find(w.poisoned.begin(), w.poisoned.end(), p) != w.poisoned.end()) return;
    w.poisoned.push_back(p);
    fill_poison(p, bytes);
}

// ---- host side (emu_runtime.h) -------------------------------------------------------------------------------------
const Kernel* find_kernel(const char* name)
{
    auto it = registry().find(name);
    return it == registry().end() ? nullptr : &it->second;
}

void run_grid(const Kernel& kernel, dim3 grid, dim3 block, unsigned sharedBytes, void** params)
{
    Launch launch;
    launch.kernel = &kernel;
    launch.grid = grid;
    launch.block = block;
    launch.sharedBytes = sharedBytes;
    launch.params = params;
    launch.blocks = (unsigned long long)grid.x * grid.y * grid.z;
    const unsigned long long threads = launch.blocks * block.x * block.y * block.z;
    // Waking the helpers costs tens of microseconds: only for launches with a few thousand threads or more.
    if (launch.blocks >= 2 && threads >= 2048 && pool().TryRun([](void* l) { run_blocks(*static_cast<Launch*>(l)); }, &launch)) return;
    run_blocks(launch);
}

void parallel_for(long long n, long long minPerTask, void (*body)(long long, long long, void*), void* state)
{
    struct Job
    {
        long long n, chunk;
        void (*body)(long long, long long, void*);
        void* state;
        std::atomic<long long> next{0};
    } job{n, 0, body, state};
    int workers = pool().Helpers() + 1;
    job.chunk = std::max(minPerTask, (n + 4LL * workers - 1) / (4LL * workers));
    auto run = [](void* p) {
        auto& j = *static_cast<Job*>(p);
        for (long long i; (i = j.next.fetch_add(j.chunk, std::memory_order_relaxed)) < j.n;) j.body(i, std::min(j.n, i + j.chunk), j.state);
    };
    if (n > minPerTask && pool().TryRun(run, &job)) return;
    run(&job);
}
} // namespace emu

void emu_register(const char* name, void (*thunk)(void**), int maxThreadsPerBlock, const char* file)
{
    auto [it, added] = emu::registry().try_emplace(name, emu::Kernel{name, thunk, maxThreadsPerBlock, file});
    if (!added) emu::fatal("kernel %s is defined in both %s and %s", name, it->second.file, file);
    it->second.name = it->first.c_str();
}
