// CPU emulation of the part of the CUDA runtime that kernels/*.cu and
// tests/gpu/test_*.cu use (make test-emu; tests/gpu/emu/README.md).
//
// Not NVIDIA's header.  Kernels are compiled as host C++ (g++ -x c++):
//  - __global__/__device__/__host__ vanish, __shared__ is a static local
//    (CTAs run one after another, so one copy per kernel is enough);
//  - threadIdx/blockIdx/blockDim/gridDim are globals that the scheduler in
//    emu.cpp sets before it runs a GPU thread;
//  - a launch, DPO_CU_LAUNCH (kernels/dpo_cuda_internal.cuh), runs every CTA
//    to completion before it returns: each GPU thread of a CTA is a fiber
//    (ucontext) and __syncthreads() switches to the next one, so a CTA's
//    threads run phase by phase, in index order or, with DPO_EMU_ORDER=
//    reverse, in reverse order (threads and CTAs);
//  - device memory is host memory from cudaMalloc (256-byte aligned, filled
//    with 0xFF bytes, which are NaN as float and double); copies, memsets
//    and streams are synchronous;
//  - events hold host wall time (CLOCK_MONOTONIC): cudaEventElapsedTime
//    gives the host time between two records, which says nothing about a GPU;
//  - one device, "CPU emulation (tests/gpu/emu)", sm_00, 1 multiprocessor.
// Fault injection for tests of harnesses (run_emu.sh): DPO_EMU_SKIP=NAME
// validates the launches of the kernel written NAME in its DPO_CU_LAUNCH
// (e.g. k_copy4, dpo_k_step_map, dpo_k_normal<T>) but runs none of them, and
// prints one "emu: " line saying so.
// The emulator rejects what the runtime would reject (launch geometry:
// cudaGetLastError returns it once) and two things compute-sanitizer would
// report: barrier divergence (a sticky error) and copies or memsets outside
// a cudaMalloc allocation.  Out-of-bounds accesses inside kernels are not
// seen.  Each rejection prints a line starting with "emu: ".
#ifndef DPO_EMU_CUDA_RUNTIME_H
#define DPO_EMU_CUDA_RUNTIME_H

#include <functional>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DPO_EMU 1

// ------------------------------------------------------------------ types
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c)
    {
    }
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) double2 {
    double x, y;
};
static inline float4 make_float4(float x, float y, float z, float w)
{
    float4 r = {x, y, z, w};
    return r;
}
static inline float2 make_float2(float x, float y)
{
    float2 r = {x, y};
    return r;
}

enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

struct dpo_emu_stream;
typedef struct dpo_emu_stream *cudaStream_t;
struct dpo_emu_event;
typedef struct dpo_emu_event *cudaEvent_t;

// The runtime's numbering of the attributes the emulation answers.
enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76
};

struct cudaDeviceProp {
    char name[256];
    int major, minor, multiProcessorCount;
    size_t totalGlobalMem, sharedMemPerBlock;
    int maxThreadsPerBlock, warpSize;
};

// ---------------------------------------------------- kernel-side builtins
#define __global__
#define __device__
#define __host__
#define __constant__ static
#define __shared__ static
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
static const int warpSize = 32;

void __syncthreads(void);

// Atomics: the emulator runs one GPU thread at a time, so plain updates are
// atomic here.  (Floating-point atomics are banned in kernels/ anyway.)
static inline unsigned atomicOr(unsigned *p, unsigned v)
{
    unsigned o = *p;
    *p = o | v;
    return o;
}
static inline unsigned atomicAnd(unsigned *p, unsigned v)
{
    unsigned o = *p;
    *p = o & v;
    return o;
}
static inline int atomicAdd(int *p, int v)
{
    int o = *p;
    *p = o + v;
    return o;
}
static inline unsigned atomicAdd(unsigned *p, unsigned v)
{
    unsigned o = *p;
    *p = o + v;
    return o;
}
static inline unsigned atomicMax(unsigned *p, unsigned v)
{
    unsigned o = *p;
    *p = o > v ? o : v;
    return o;
}

// ------------------------------------------------------------ launches
// The configuration of kernel<<<grid, block, shared, stream>>>.
struct dpo_emu_cfg {
    dim3 grid, block;
    size_t shared;
    cudaStream_t stream;
};
static inline dpo_emu_cfg dpo_emu_config(dim3 g, dim3 b, size_t sh = 0, cudaStream_t st = NULL)
{
    dpo_emu_cfg c;
    c.grid = g;
    c.block = b;
    c.shared = sh;
    c.stream = st;
    return c;
}
void dpo_emu_launch(const dpo_emu_cfg &cfg, const char *what, std::function<void()> body);

// The hook of kernels/dpo_cuda_internal.cuh: the kernel's arguments are
// evaluated once, on the host, as for a real launch; every GPU thread then
// calls the kernel with copies of them.
#define DPO_CU_LAUNCH(kern, cfg, ...) dpo_emu_launch(dpo_emu_config cfg, #kern, [=]() { kern(__VA_ARGS__); })

// ------------------------------------------------------------- runtime
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaDeviceSynchronize(void);

cudaError_t cudaMalloc(void **p, size_t n);
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t n)
{
    return cudaMalloc((void **)p, n);
}
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t st = NULL);
cudaError_t cudaMemset(void *p, int v, size_t n);
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t st = NULL);

cudaError_t cudaStreamCreate(cudaStream_t *st);
cudaError_t cudaStreamDestroy(cudaStream_t st);
cudaError_t cudaStreamSynchronize(cudaStream_t st);

cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t st = NULL);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);

// For the emulator's own checks (the cuBLASLt stand-in): nonzero when
// [p, p + n) lies inside one live cudaMalloc allocation.
int dpo_emu_is_device(const void *p, size_t n);
// For the emulator's self-test: clear the sticky error; set the order
// (0: index order, 1: reverse; the default comes from DPO_EMU_ORDER).
void dpo_emu_reset(void);
void dpo_emu_set_order(int reverse);

#endif
