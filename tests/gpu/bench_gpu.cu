// GPU benchmarks (make bench-gpu; docs/performance.md describes the method).
//   1. copy bandwidth of the device: cudaMemcpy device-to-device and a
//      float4 copy kernel (bytes read + bytes written per second);
//   2. Philox normals: dpo_cuda_normal_f32 against curandGenerateNormal with
//      a CURAND_RNG_PSEUDO_PHILOX4_32_10 generator (libcurand is loaded with
//      dlopen, so the binary needs no -lcurand; without it that row says so);
//   3. the fused step with log-probability, d = 16384, batch 1..256, with
//      given noise (reads x, eps, noise; writes x_prev, mu: 20 bytes per
//      element) and with in-kernel Philox noise (16 bytes per element), as
//      a fraction of the measured copy bandwidth.
// Usage: bench_gpu [markdown-out [tsv-out]].  Prints the table; writes it to
// markdown-out and the step timings (batch, dim, microseconds) to tsv-out
// for tests/gpu/bench_torch.py.  Timings: CUDA events, median of REPS runs
// after WARM warm-up runs.
#include <cuda_runtime.h>
#include <curand.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "diffpo_cuda.h"

#define WARM 3
#define REPS 20

#define CU_OK(call)                                                                                      \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) {                                                                         \
            fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);     \
            exit(2);                                                                                     \
        }                                                                                                \
    } while (0)

#define DPO_OK_OR_DIE(call)                                                                              \
    do {                                                                                                 \
        dpo_status s_ = (call);                                                                          \
        if (s_ != DPO_OK) {                                                                              \
            fprintf(stderr, "%s failed: %s (line %d)\n", #call, dpo_status_str(s_), __LINE__);           \
            exit(2);                                                                                     \
        }                                                                                                \
    } while (0)

static FILE *md;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (md) {
        va_start(ap, fmt);
        vfprintf(md, fmt, ap);
        va_end(ap);
    }
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

// Median milliseconds of fn(arg) over REPS timed runs.
typedef void (*bench_fn)(void *arg);
static float time_ms(bench_fn fn, void *arg)
{
    cudaEvent_t a, b;
    float t[REPS];
    int i;
    CU_OK(cudaEventCreate(&a));
    CU_OK(cudaEventCreate(&b));
    for (i = 0; i < WARM; i++)
        fn(arg);
    CU_OK(cudaDeviceSynchronize());
    for (i = 0; i < REPS; i++) {
        CU_OK(cudaEventRecord(a));
        fn(arg);
        CU_OK(cudaEventRecord(b));
        CU_OK(cudaEventSynchronize(b));
        CU_OK(cudaEventElapsedTime(&t[i], a, b));
    }
    CU_OK(cudaGetLastError());
    CU_OK(cudaEventDestroy(a));
    CU_OK(cudaEventDestroy(b));
    qsort(t, REPS, sizeof t[0], cmp_f);
    return t[REPS / 2];
}

// ------------------------------------------------------------------- copy
typedef struct copy_arg {
    float *dst;
    const float *src;
    size_t n;
} copy_arg;

static void run_memcpy(void *p)
{
    copy_arg *a = (copy_arg *)p;
    CU_OK(cudaMemcpyAsync(a->dst, a->src, a->n * sizeof(float), cudaMemcpyDeviceToDevice));
}

static __global__ void k_copy4(float4 *dst, const float4 *src, size_t n4)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, s = (size_t)gridDim.x * blockDim.x;
    for (; i < n4; i += s)
        dst[i] = src[i];
}

static void run_copy_kernel(void *p)
{
    copy_arg *a = (copy_arg *)p;
    int sms = 0;
    CU_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    k_copy4<<<sms * 8, 256>>>((float4 *)a->dst, (const float4 *)a->src, a->n / 4);
}

// ---------------------------------------------------------------- normals
typedef struct normal_arg {
    float *d;
    size_t n;
    curandGenerator_t gen;
    curandStatus_t (*gen_normal)(curandGenerator_t, float *, size_t, float, float);
} normal_arg;

static void run_dpo_normal(void *p)
{
    normal_arg *a = (normal_arg *)p;
    dpo_noise_coord c;
    c.seed = 1234;
    c.stream = DPO_STREAM_STEP;
    c.sample = 0;
    c.step = 0;
    c.candidate = 0;
    DPO_OK_OR_DIE(dpo_cuda_normal_f32(a->d, c, 0, a->n, NULL));
}

static void run_curand_normal(void *p)
{
    normal_arg *a = (normal_arg *)p;
    if (a->gen_normal(a->gen, a->d, a->n, 0.0f, 1.0f) != CURAND_STATUS_SUCCESS) {
        fprintf(stderr, "curandGenerateNormal failed\n");
        exit(2);
    }
}

// ------------------------------------------------------------------- step
typedef struct step_arg {
    float *xp, *mu;
    const float *x, *e, *z;
    double *lp;
    size_t batch, dim;
    dpo_step_coef_f32 c;
    void *work;
    size_t ws;
    int philox;
} step_arg;

static void run_step(void *p)
{
    step_arg *a = (step_arg *)p;
    if (a->philox) {
        dpo_noise_coord nc;
        nc.seed = 77;
        nc.stream = DPO_STREAM_STEP;
        nc.sample = 0;
        nc.step = 3;
        nc.candidate = 0;
        DPO_OK_OR_DIE(dpo_cuda_step_philox_f32(a->xp, NULL, a->mu, a->lp, a->x, a->e, nc, a->batch, a->dim, &a->c,
                                               DPO_LOGPROB_MEAN, a->work, a->ws, NULL));
    } else
        DPO_OK_OR_DIE(dpo_cuda_step_f32(a->xp, NULL, a->mu, a->lp, a->x, a->e, a->z, a->batch, a->dim, &a->c,
                                        DPO_LOGPROB_MEAN, a->work, a->ws, NULL));
}

int main(int argc, char **argv)
{
    cudaDeviceProp prop;
    int ndev = 0;
    size_t ncopy = (size_t)1 << 26, nnorm = (size_t)1 << 26, dim = 16384, maxb = 256, b;
    float *d0, *d1, *d2, *d3, *d4, ms_memcpy, ms_kcopy, ms_dpo, ms_cur = 0;
    double bw_memcpy, bw_kcopy, bw;
    copy_arg ca;
    normal_arg na;
    step_arg sa;
    void *lib;
    FILE *tsv = NULL;
    dpo_schedule *sched;
    dpo_step_opts o = dpo_step_opts_default();
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("no CUDA device\n");
        return 1;
    }
    CU_OK(cudaGetDeviceProperties(&prop, 0));
    if (argc > 1 && !(md = fopen(argv[1], "w"))) {
        fprintf(stderr, "cannot write %s\n", argv[1]);
        return 1;
    }
    if (argc > 2 && !(tsv = fopen(argv[2], "w"))) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    out("Device: %s (sm_%d%d, %d SMs, %.1f GiB)\n\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
        (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    CU_OK(cudaMalloc((void **)&d0, ncopy * 4));
    CU_OK(cudaMalloc((void **)&d1, ncopy * 4));
    CU_OK(cudaMemset(d0, 0, ncopy * 4));

    // 1. copy bandwidth (read + write bytes)
    ca.dst = d1, ca.src = d0, ca.n = ncopy;
    ms_memcpy = time_ms(run_memcpy, &ca);
    ms_kcopy = time_ms(run_copy_kernel, &ca);
    bw_memcpy = 2.0 * ncopy * 4 / (ms_memcpy * 1e-3);
    bw_kcopy = 2.0 * ncopy * 4 / (ms_kcopy * 1e-3);
    bw = bw_memcpy > bw_kcopy ? bw_memcpy : bw_kcopy;
    out("| measurement | size | time (us) | rate | ratio |\n|---|---|---|---|---|\n");
    out("| cudaMemcpy D2D | %zu MiB | %.1f | %.1f GB/s | - |\n", ncopy * 4 >> 20, ms_memcpy * 1e3, bw_memcpy / 1e9);
    out("| float4 copy kernel | %zu MiB | %.1f | %.1f GB/s | - |\n", ncopy * 4 >> 20, ms_kcopy * 1e3, bw_kcopy / 1e9);

    // 2. normals
    na.d = d1, na.n = nnorm, na.gen = NULL, na.gen_normal = NULL;
    ms_dpo = time_ms(run_dpo_normal, &na);
    lib = dlopen("libcurand.so", RTLD_NOW);
    if (!lib)
        lib = dlopen("libcurand.so.10", RTLD_NOW);
    if (lib) {
        curandStatus_t (*create)(curandGenerator_t *, curandRngType_t) =
            (curandStatus_t(*)(curandGenerator_t *, curandRngType_t))dlsym(lib, "curandCreateGenerator");
        curandStatus_t (*seed)(curandGenerator_t, unsigned long long) =
            (curandStatus_t(*)(curandGenerator_t, unsigned long long))dlsym(lib, "curandSetPseudoRandomGeneratorSeed");
        curandStatus_t (*destroy)(curandGenerator_t) =
            (curandStatus_t(*)(curandGenerator_t))dlsym(lib, "curandDestroyGenerator");
        na.gen_normal = (curandStatus_t(*)(curandGenerator_t, float *, size_t, float, float))dlsym(
            lib, "curandGenerateNormal");
        if (create && seed && destroy && na.gen_normal &&
            create(&na.gen, CURAND_RNG_PSEUDO_PHILOX4_32_10) == CURAND_STATUS_SUCCESS &&
            seed(na.gen, 1234ull) == CURAND_STATUS_SUCCESS) {
            ms_cur = time_ms(run_curand_normal, &na);
            destroy(na.gen);
        }
    }
    out("| diffpo Philox normals (f32) | %zu M | %.1f | %.2f G/s | ", nnorm >> 20, ms_dpo * 1e3,
        nnorm / (ms_dpo * 1e-3) / 1e9);
    if (ms_cur > 0)
        out("%.2f x cuRAND |\n", ms_cur / ms_dpo);
    else
        out("cuRAND not available |\n");
    if (ms_cur > 0)
        out("| curandGenerateNormal (PHILOX4_32_10) | %zu M | %.1f | %.2f G/s | 1 |\n", nnorm >> 20, ms_cur * 1e3,
            nnorm / (ms_cur * 1e-3) / 1e9);

    // 3. fused step sweep, d = 16384
    sched = (dpo_schedule *)malloc(sizeof *sched);
    if (!sched)
        return 2;
    DPO_OK_OR_DIE(dpo_schedule_init(sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0));
    DPO_OK_OR_DIE(dpo_step_coef_f32_init(&sa.c, sched, 481, 50, &o));
    CU_OK(cudaMalloc((void **)&d2, maxb * dim * 4));
    CU_OK(cudaMalloc((void **)&d3, maxb * dim * 4));
    CU_OK(cudaMalloc((void **)&d4, maxb * dim * 4));
    {
        dpo_noise_coord c;
        c.seed = 5, c.stream = DPO_STREAM_USER, c.sample = 0, c.step = 0, c.candidate = 0;
        DPO_OK_OR_DIE(dpo_cuda_normal_f32(d0, c, 0, maxb * dim, NULL));
        c.sample = 1;
        DPO_OK_OR_DIE(dpo_cuda_normal_f32(d2, c, 0, maxb * dim, NULL));
        c.sample = 2;
        DPO_OK_OR_DIE(dpo_cuda_normal_f32(d3, c, 0, maxb * dim, NULL));
    }
    CU_OK(cudaMalloc((void **)&sa.lp, maxb * sizeof(double)));
    sa.ws = dpo_cuda_step_workspace_size(maxb, dim);
    CU_OK(cudaMalloc(&sa.work, sa.ws));
    sa.x = d0, sa.e = d2, sa.z = d3, sa.xp = d1, sa.mu = d4, sa.dim = dim;
    out("\nFused step with log-probability (mean form), d = %zu; copy bandwidth = %.1f GB/s (the larger of the two)\n\n",
        dim, bw / 1e9);
    out("| batch | given noise (us) | GB/s | of copy bw | Philox noise (us) | GB/s | of copy bw |\n"
        "|---|---|---|---|---|---|---|\n");
    for (b = 1; b <= maxb; b *= 2) {
        float t0, t1;
        double n = (double)b * dim;
        sa.batch = b;
        sa.philox = 0;
        t0 = time_ms(run_step, &sa);
        sa.philox = 1;
        t1 = time_ms(run_step, &sa);
        out("| %zu | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", b, t0 * 1e3, 20.0 * n / (t0 * 1e-3) / 1e9,
            20.0 * n / (t0 * 1e-3) / bw, t1 * 1e3, 16.0 * n / (t1 * 1e-3) / 1e9, 16.0 * n / (t1 * 1e-3) / bw);
        if (tsv)
            fprintf(tsv, "%zu\t%zu\t%.3f\t%.3f\n", b, dim, t0 * 1e3, t1 * 1e3);
    }
    if (md)
        fclose(md);
    if (tsv)
        fclose(tsv);
    free(sched);
    return 0;
}
