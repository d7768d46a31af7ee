// The CPU emulation's runtime: the launch scheduler, device memory and the
// runtime API of cuda_runtime.h beside this file (make test-emu).
//
// Scheduling.  A launch runs CTA by CTA (ascending linear index, or
// descending with DPO_EMU_ORDER=reverse).  Within a CTA, GPU thread 0 runs
// first on a fiber of its own.  If it returns without calling
// __syncthreads(), the kernel has no barrier on this path and the other
// threads run straight on the host stack, one after another; a
// __syncthreads() among them is barrier divergence (thread 0 did not
// arrive) and is reported.  If thread 0 stops at a barrier, every thread
// gets a fiber and the CTA runs phase by phase: each live thread in turn
// runs up to its next barrier (or its end); a phase in which some threads
// wait at a barrier while others have returned is barrier divergence.
// One host thread runs everything: what a GPU thread reads from another
// thread of its CTA within one phase depends on the order, which is what
// DPO_EMU_ORDER=reverse varies.
#include "cuda_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include <map>
#include <vector>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

// ------------------------------------------------------------- errors
// As in the runtime: a configuration or argument error is returned once by
// cudaGetLastError; a failure while a kernel runs (here: barrier divergence)
// is sticky and is returned by every later synchronising call.
cudaError_t last = cudaSuccess, sticky = cudaSuccess;
unsigned long long n_launches = 0, n_threads = 0, n_fiber_ctas = 0;
// Launches per stream handle (dpo_emu_stream_launches): how a caller that
// only holds a handle (the Python package's test, through ctypes) sees
// which stream its work was enqueued on.
std::map<const void *, unsigned long long> stream_launches;

// Every diagnostic line starts with "emu: " (run_emu.sh counts them).
void fail(cudaError_t e, bool is_sticky, const char *fmt, const char *what, unsigned long long a = 0,
          unsigned long long b = 0)
{
    fprintf(stderr, "emu: ");
    fprintf(stderr, fmt, what, a, b);
    fputc('\n', stderr);
    if (is_sticky && sticky == cudaSuccess)
        sticky = e;
    if (last == cudaSuccess)
        last = e;
}

// ------------------------------------------------------------- fibers
const size_t STACK = 256 * 1024;

struct Fiber {
    ucontext_t ctx;
    char *stack = nullptr;
    bool done = false;
};

ucontext_t main_ctx;
std::vector<Fiber> fibers;
const std::function<void()> *cur_body = nullptr;
Fiber *cur_fiber = nullptr; // null: the thread runs on the host stack
bool direct_mode = false;
const char *cur_kernel = "";

int order = -1;            // 1: reverse; -1: not yet read from DPO_EMU_ORDER
bool div_reported = false; // one divergence report per launch

bool reverse_order()
{
    if (order < 0) {
        const char *s = getenv("DPO_EMU_ORDER");
        order = s && strcmp(s, "reverse") == 0;
    }
    return order == 1;
}

void fiber_entry()
{
    (*cur_body)();
    cur_fiber->done = true;
    swapcontext(&cur_fiber->ctx, &main_ctx);
}

void set_tid(unsigned t)
{
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

void ensure_fibers(unsigned n)
{
    if (fibers.size() >= n)
        return;
    size_t old = fibers.size();
    fibers.resize(n);
    for (size_t i = old; i < n; i++) {
        fibers[i].stack = (char *)malloc(STACK);
        if (!fibers[i].stack) {
            fprintf(stderr, "emu: out of memory for fiber stacks\n");
            exit(2);
        }
    }
}

void start_fiber(unsigned t)
{
    Fiber &f = fibers[t];
    f.done = false;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = STACK;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_entry, 0);
}

void resume(unsigned t)
{
    set_tid(t);
    cur_fiber = &fibers[t];
    swapcontext(&main_ctx, &cur_fiber->ctx);
    cur_fiber = nullptr;
}

void run_cta(unsigned nt, bool rev)
{
    // thread 0 first, on a fiber
    ensure_fibers(1);
    direct_mode = false;
    start_fiber(0);
    resume(0);
    n_threads += nt;
    if (fibers[0].done) {
        // no barrier on thread 0's path: the rest run directly
        direct_mode = true;
        for (unsigned i = 1; i < nt; i++) {
            unsigned t = rev ? nt - i : i;
            set_tid(t);
            (*cur_body)();
        }
        direct_mode = false;
        return;
    }
    // thread 0 waits at a barrier: every thread on a fiber, phase by phase
    n_fiber_ctas++;
    ensure_fibers(nt);
    for (unsigned t = 1; t < nt; t++)
        start_fiber(t);
    bool first = true, reported = false;
    for (;;) {
        for (unsigned i = 0; i < nt; i++) {
            unsigned t = rev ? nt - 1 - i : i;
            if (first && t == 0)
                continue; // already at its first barrier
            if (!fibers[t].done)
                resume(t);
        }
        first = false;
        unsigned waiting = 0, done = 0;
        for (unsigned t = 0; t < nt; t++) {
            if (fibers[t].done)
                done++;
            else
                waiting++;
        }
        if (waiting == 0)
            return;
        if (done > 0 && !reported && !div_reported) {
            fail(cudaErrorLaunchFailure, true,
                 "%s: barrier divergence (%llu threads wait at __syncthreads, %llu returned)", cur_kernel, waiting,
                 done);
            reported = div_reported = true;
        }
        // next phase: every waiting thread goes on past its barrier
    }
}

// ------------------------------------------------------------- memory
std::map<uintptr_t, size_t> allocs; // base -> size

const std::pair<const uintptr_t, size_t> *find_alloc(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin())
        return nullptr;
    --it;
    if (a >= it->first && a < it->first + (it->second ? it->second : 1))
        return &*it;
    return nullptr;
}

bool range_is_device(const void *p, size_t n)
{
    if (n == 0)
        return true;
    const std::pair<const uintptr_t, size_t> *a = find_alloc(p);
    return a && (uintptr_t)p + n <= a->first + a->second;
}

cudaError_t check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind, const char *who)
{
    bool dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool sd = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (n && (!dst || !src))
        return cudaErrorInvalidValue;
    if ((dd && !range_is_device(dst, n)) || (sd && !range_is_device(src, n))) {
        fail(cudaErrorInvalidValue, false, "%s: %llu bytes (kind %llu) outside a device allocation", who, n,
             (unsigned long long)kind);
        return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

double now_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// DPO_EMU_SKIP=NAME: launches of NAME are validated but not run.
bool skip_kernel(const char *what)
{
    static bool reported = false;
    const char *s = getenv("DPO_EMU_SKIP");
    if (!s || strcmp(s, what) != 0)
        return false;
    if (!reported) {
        fprintf(stderr, "emu: DPO_EMU_SKIP: launches of %s are not run\n", what);
        reported = true;
    }
    return true;
}

struct Report {
    ~Report()
    {
        if (getenv("DPO_EMU_STATS"))
            fprintf(stderr, "emu stats: %llu launches, %llu GPU threads, %llu CTAs with barriers\n", n_launches,
                    n_threads, n_fiber_ctas);
    }
} report;

} // namespace

// ------------------------------------------------------------- barrier
void __syncthreads(void)
{
    if (direct_mode || !cur_fiber) {
        if (div_reported)
            return;
        div_reported = true;
        fail(cudaErrorLaunchFailure, true, "%s: barrier divergence (__syncthreads after thread 0 returned without one)",
             cur_kernel);
        return;
    }
    Fiber *f = cur_fiber;
    swapcontext(&f->ctx, &main_ctx);
}

// ------------------------------------------------------------- launch
void dpo_emu_launch(const dpo_emu_cfg &c, const char *what, std::function<void()> body)
{
    const unsigned long long nt = (unsigned long long)c.block.x * c.block.y * c.block.z;
    n_launches++;
    stream_launches[(const void *)c.stream]++;
    // what the runtime rejects with cudaErrorInvalidConfiguration (sm_90)
    if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.x > 2147483647u || c.grid.y > 65535u ||
        c.grid.z > 65535u) {
        fail(cudaErrorInvalidConfiguration, false, "%s: invalid grid (x %llu, y %llu)", what, c.grid.x, c.grid.y);
        return;
    }
    if (nt == 0 || nt > 1024 || c.block.x > 1024 || c.block.y > 1024 || c.block.z > 64) {
        fail(cudaErrorInvalidConfiguration, false, "%s: invalid block (%llu threads, x %llu)", what, nt, c.block.x);
        return;
    }
    if (c.shared > 48 * 1024) {
        fail(cudaErrorInvalidConfiguration, false, "%s: %llu bytes of dynamic shared memory", what, c.shared);
        return;
    }
    if (sticky != cudaSuccess)
        return; // a sticky error: the context is unusable, nothing runs
    if (skip_kernel(what))
        return;
    const bool rev = reverse_order();
    div_reported = false;
    const unsigned long long nb = (unsigned long long)c.grid.x * c.grid.y * c.grid.z;
    gridDim = c.grid;
    blockDim = c.block;
    cur_body = &body;
    cur_kernel = what;
    for (unsigned long long i = 0; i < nb; i++) {
        unsigned long long b = rev ? nb - 1 - i : i;
        blockIdx.x = (unsigned)(b % c.grid.x);
        blockIdx.y = (unsigned)((b / c.grid.x) % c.grid.y);
        blockIdx.z = (unsigned)(b / ((unsigned long long)c.grid.x * c.grid.y));
        run_cta((unsigned)nt, rev);
    }
    cur_body = nullptr;
}

// ------------------------------------------------------------- runtime
cudaError_t cudaGetLastError(void)
{
    cudaError_t e = sticky != cudaSuccess ? sticky : last;
    last = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void)
{
    return sticky != cudaSuccess ? sticky : last;
}
const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error (emulation)";
    case cudaErrorInvalidValue:
        return "invalid argument (emulation)";
    case cudaErrorMemoryAllocation:
        return "out of memory (emulation)";
    case cudaErrorInvalidConfiguration:
        return "invalid configuration argument (emulation)";
    case cudaErrorInvalidDevicePointer:
        return "invalid device pointer (emulation)";
    case cudaErrorInvalidDevice:
        return "invalid device ordinal (emulation)";
    case cudaErrorLaunchFailure:
        return "unspecified launch failure (emulation)";
    default:
        return "unknown error (emulation)";
    }
}
cudaError_t cudaGetDeviceCount(int *n)
{
    if (!n)
        return cudaErrorInvalidValue;
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *dev)
{
    if (!dev)
        return cudaErrorInvalidValue;
    *dev = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev)
{
    if (!p || dev != 0)
        return cudaErrorInvalidValue;
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "CPU emulation (tests/gpu/emu)");
    p->major = 0;
    p->minor = 0;
    p->multiProcessorCount = 1;
    p->sharedMemPerBlock = 48 * 1024;
    p->maxThreadsPerBlock = 1024;
    p->warpSize = 32;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev)
{
    if (!value || dev != 0)
        return cudaErrorInvalidValue;
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
        *value = 1024;
        return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
        *value = 48 * 1024;
        return cudaSuccess;
    case cudaDevAttrWarpSize:
        *value = 32;
        return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
        *value = 1;
        return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
    case cudaDevAttrComputeCapabilityMinor:
        *value = 0;
        return cudaSuccess;
    }
    return cudaErrorInvalidValue;
}
// As the runtime: an invalid ordinal is returned and also recorded as the
// last error (returned once by cudaGetLastError, seen by
// cudaPeekAtLastError), without a diagnostic -- it is the caller's error, not
// one the emulator rejects.  The GPU tests use it to leave an error pending.
cudaError_t cudaSetDevice(int dev)
{
    if (dev == 0)
        return cudaSuccess;
    if (last == cudaSuccess)
        last = cudaErrorInvalidDevice;
    return cudaErrorInvalidDevice;
}
cudaError_t cudaDeviceSynchronize(void)
{
    return sticky;
}

cudaError_t cudaMalloc(void **p, size_t n)
{
    if (!p)
        return cudaErrorInvalidValue;
    size_t r = (n + 255) / 256 * 256;
    void *q = aligned_alloc(256, r ? r : 256);
    if (!q)
        return cudaErrorMemoryAllocation;
    memset(q, 0xFF, r ? r : 256); // NaN in every float and double: reads of unwritten memory show
    allocs[(uintptr_t)q] = n;
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
    if (!p)
        return cudaSuccess;
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end()) {
        fail(cudaErrorInvalidDevicePointer, false, "%s: pointer not from cudaMalloc", "cudaFree");
        return cudaErrorInvalidDevicePointer;
    }
    allocs.erase(it);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpy");
    if (e == cudaSuccess && n)
        memmove(dst, src, n);
    return e;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t)
{
    cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpyAsync");
    if (e == cudaSuccess && n)
        memmove(dst, src, n);
    return e;
}
cudaError_t cudaMemset(void *p, int v, size_t n)
{
    if (!range_is_device(p, n)) {
        fail(cudaErrorInvalidValue, false, "%s: %llu bytes outside a device allocation", "cudaMemset", n);
        return cudaErrorInvalidValue;
    }
    if (n)
        memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t)
{
    return cudaMemset(p, v, n);
}

struct dpo_emu_stream {
    int unused;
};
cudaError_t cudaStreamCreate(cudaStream_t *st)
{
    if (!st)
        return cudaErrorInvalidValue;
    *st = new dpo_emu_stream();
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t st)
{
    delete st;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t)
{
    return sticky;
}

struct dpo_emu_event {
    double ms;
};
cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    if (!e)
        return cudaErrorInvalidValue;
    *e = new dpo_emu_event();
    (*e)->ms = 0;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t)
{
    if (!e)
        return cudaErrorInvalidValue;
    e->ms = now_ms();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    return e ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    if (!ms || !a || !b)
        return cudaErrorInvalidValue;
    *ms = (float)(b->ms - a->ms);
    return cudaSuccess;
}

int dpo_emu_is_device(const void *p, size_t n)
{
    return range_is_device(p, n) ? 1 : 0;
}

// How many launches named this stream handle so far (NULL: the default
// stream), whether or not they ran.  C linkage, for ctypes.
extern "C" unsigned long long dpo_emu_stream_launches(const void *stream)
{
    std::map<const void *, unsigned long long>::const_iterator it = stream_launches.find(stream);
    return it == stream_launches.end() ? 0 : it->second;
}

void dpo_emu_reset(void)
{
    last = sticky = cudaSuccess;
}

void dpo_emu_set_order(int reverse)
{
    order = reverse ? 1 : 0;
}
