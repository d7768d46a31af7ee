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
// for tests/gpu/bench_torch.py.  Timings: CUDA events, median of 20 runs
// after 3 warm-up runs.
//
// Every benchmark's output is checked after its timing runs (outputs are
// first filled with 0xFF bytes, NaN as float and double): the copies must
// equal their source on sampled ranges, the normals must be finite with a
// plausible mean and variance, every step output (x_prev, mu, log-prob) must
// be finite.  A failed check prints "bench_gpu: check failed: ..." on stderr
// and exits 3 before anything is reported for it; a timing that is not
// positive and finite exits 3 too.
//
// DPO_BENCH_QUICK=1: small sizes (copies and normals 2^12 elements, d = 256,
// batch 1..4, WARM 1, REPS 3), the same code path; for the CPU emulation
// (make test-emu runs it through run_bench_gpu.sh).  Its times mean nothing.
#include <cuda_runtime.h>
#include <curand.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "diffpo_cuda.h"

#define WARM_FULL 3
#define REPS_FULL 20
#define WARM_QUICK 1
#define REPS_QUICK 3

static int n_warm = WARM_FULL, n_reps = REPS_FULL;

// The launch hook of kernels/dpo_cuda_internal.cuh: under nvcc exactly
// kernel<<<grid, block, shared, stream>>>(args...); the CPU emulation's
// cuda_runtime.h (tests/gpu/emu) defines it first.
#ifndef DPO_CU_LAUNCH
#define DPO_CU_LAUNCH_CFG(...) __VA_ARGS__
#define DPO_CU_LAUNCH(kern, cfg, ...) kern<<<DPO_CU_LAUNCH_CFG cfg>>>(__VA_ARGS__)
#endif

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

static void fail_check(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

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

static void fail_check(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bench_gpu: check failed: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(3);
}

static int finite_f(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) != 0x7f800000u;
}

static int finite_d(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

static void *host_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_gpu: out of host memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

// The sampled ranges of an n-element array: its head, its middle and its
// tail, k = min(n, 4096) elements each.
#define NSAMPLE 3
static size_t sample_k(size_t n)
{
    return n < 4096 ? n : 4096;
}
static size_t sample_at(size_t n, int which)
{
    size_t k = sample_k(n);
    return which == 0 ? 0 : which == 1 ? (n - k) / 2 : n - k;
}

// The copy benchmarks: d_dst equals d_src bit for bit on the sampled ranges,
// and the source there is finite and not constant (so the comparison means
// something).
static void check_copy(const float *d_dst, const float *d_src, size_t n, const char *what)
{
    size_t k = sample_k(n), i;
    float *hd = (float *)host_alloc(k * sizeof(float)), *hs = (float *)host_alloc(k * sizeof(float));
    int w;
    for (w = 0; w < NSAMPLE; w++) {
        size_t at = sample_at(n, w);
        CU_OK(cudaMemcpy(hd, d_dst + at, k * sizeof(float), cudaMemcpyDeviceToHost));
        CU_OK(cudaMemcpy(hs, d_src + at, k * sizeof(float), cudaMemcpyDeviceToHost));
        for (i = 0; i < k; i++)
            if (!finite_f(hs[i]))
                fail_check("%s: source element %zu is not finite", what, at + i);
        if (k > 1 && hs[0] == hs[k - 1] && hs[0] == hs[k / 2])
            fail_check("%s: source elements %zu, %zu, %zu are equal", what, at, at + k / 2, at + k - 1);
        for (i = 0; i < k; i++)
            if (memcmp(&hd[i], &hs[i], sizeof(float)) != 0)
                fail_check("%s: element %zu is %g, source %g", what, at + i, (double)hd[i], (double)hs[i]);
    }
    free(hd);
    free(hs);
}

// The normals: finite on the sampled ranges; on the head, mean within 0.1
// of 0 and variance within 0.2 of 1 (about 6 standard errors at 4096).
static void check_normals(const float *d, size_t n, const char *what)
{
    size_t k = sample_k(n), i;
    float *h = (float *)host_alloc(k * sizeof(float));
    double s = 0, s2 = 0, mean, var;
    int w;
    for (w = NSAMPLE - 1; w >= 0; w--) {
        size_t at = sample_at(n, w);
        CU_OK(cudaMemcpy(h, d + at, k * sizeof(float), cudaMemcpyDeviceToHost));
        for (i = 0; i < k; i++)
            if (!finite_f(h[i]))
                fail_check("%s: element %zu is not finite", what, at + i);
    }
    for (i = 0; i < k; i++)
        s += h[i];
    mean = s / (double)k;
    for (i = 0; i < k; i++)
        s2 += (h[i] - mean) * (h[i] - mean);
    var = s2 / (double)k;
    if (k < 1024 || !(mean > -0.1 && mean < 0.1) || !(var > 0.8 && var < 1.2))
        fail_check("%s: first %zu values have mean %g and variance %g", what, k, mean, var);
    free(h);
}

// Every element of a device float or double array is finite.
static void check_finite(const void *d, size_t n, int is_double, const char *what, const char *arr, size_t batch)
{
    size_t es = is_double ? sizeof(double) : sizeof(float), i;
    unsigned char *h = (unsigned char *)host_alloc(n * es);
    CU_OK(cudaMemcpy(h, d, n * es, cudaMemcpyDeviceToHost));
    for (i = 0; i < n; i++) {
        int ok;
        if (is_double) {
            double v;
            memcpy(&v, h + i * es, es);
            ok = finite_d(v);
        } else {
            float v;
            memcpy(&v, h + i * es, es);
            ok = finite_f(v);
        }
        if (!ok)
            fail_check("%s, batch %zu: %s element %zu of %zu is not finite", what, batch, arr, i, n);
    }
    free(h);
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

// Median milliseconds of fn(arg) over n_reps timed runs after n_warm.
typedef void (*bench_fn)(void *arg);
static float time_ms(bench_fn fn, void *arg)
{
    cudaEvent_t a, b;
    float t[REPS_FULL];
    int i;
    CU_OK(cudaEventCreate(&a));
    CU_OK(cudaEventCreate(&b));
    for (i = 0; i < n_warm; i++)
        fn(arg);
    CU_OK(cudaDeviceSynchronize());
    for (i = 0; i < n_reps; i++) {
        CU_OK(cudaEventRecord(a));
        fn(arg);
        CU_OK(cudaEventRecord(b));
        CU_OK(cudaEventSynchronize(b));
        CU_OK(cudaEventElapsedTime(&t[i], a, b));
        if (!(t[i] > 0) || !finite_f(t[i])) {
            fprintf(stderr, "bench_gpu: event time %g ms is not positive and finite\n", (double)t[i]);
            exit(3);
        }
    }
    CU_OK(cudaGetLastError());
    CU_OK(cudaEventDestroy(a));
    CU_OK(cudaEventDestroy(b));
    qsort(t, (size_t)n_reps, sizeof t[0], cmp_f);
    return t[n_reps / 2];
}

// ------------------------------------------------------------------- copy
typedef struct copy_arg {
    float *dst;
    const float *src;
    size_t n;
    int sms;
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
    DPO_CU_LAUNCH(k_copy4, (a->sms * 8, 256), (float4 *)a->dst, (const float4 *)a->src, a->n / 4);
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

// "64 MiB" / "16 KiB" (bytes), "64 M" / "4 K" (counts, powers of 2).
static const char *size_str(char *buf, size_t len, size_t n, const char *unit_m, const char *unit_k)
{
    if (n >= ((size_t)1 << 20))
        snprintf(buf, len, "%zu %s", n >> 20, unit_m);
    else
        snprintf(buf, len, "%zu %s", n >> 10, unit_k);
    return buf;
}

int main(int argc, char **argv)
{
    cudaDeviceProp prop;
    int ndev = 0, sms = 0;
    size_t ncopy = (size_t)1 << 26, nnorm = (size_t)1 << 26, dim = 16384, maxb = 256, b;
    float *d0, *d1, *d2, *d3, *d4, ms_memcpy, ms_kcopy, ms_dpo, ms_cur = 0;
    double bw_memcpy, bw_kcopy, bw;
    char szb[32];
    copy_arg ca;
    normal_arg na;
    step_arg sa;
    void *lib = NULL;
    FILE *tsv = NULL;
    dpo_schedule *sched;
    dpo_step_opts o = dpo_step_opts_default();
    const char *quick = getenv("DPO_BENCH_QUICK");
    if (quick && strcmp(quick, "1") == 0) {
        ncopy = nnorm = (size_t)1 << 12;
        dim = 256;
        maxb = 4;
        n_warm = WARM_QUICK;
        n_reps = REPS_QUICK;
    }
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("no CUDA device\n");
        return 1;
    }
    CU_OK(cudaGetDeviceProperties(&prop, 0));
    CU_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    if (sms < 1) {
        fprintf(stderr, "bench_gpu: %d multiprocessors\n", sms);
        return 2;
    }
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
    if (n_warm != WARM_FULL)
        out("DPO_BENCH_QUICK=1: small sizes, %d warm-up and %d timed runs; these times mean nothing.\n\n", n_warm,
            n_reps);
    CU_OK(cudaMalloc((void **)&d0, ncopy * 4));
    CU_OK(cudaMalloc((void **)&d1, ncopy * 4));
    {
        // the copies' source: a host pattern (finite, not constant, written
        // by no kernel), so that the checks can tell a copy from stale memory
        float *h = (float *)host_alloc(ncopy * 4);
        size_t i;
        for (i = 0; i < ncopy; i++)
            h[i] = (float)(i & 0xFFFFF) - 524288.0f;
        CU_OK(cudaMemcpy(d0, h, ncopy * 4, cudaMemcpyHostToDevice));
        free(h);
    }

    // 1. copy bandwidth (read + write bytes)
    ca.dst = d1, ca.src = d0, ca.n = ncopy, ca.sms = sms;
    CU_OK(cudaMemset(d1, 0xFF, ncopy * 4));
    ms_memcpy = time_ms(run_memcpy, &ca);
    check_copy(d1, d0, ncopy, "cudaMemcpy D2D");
    CU_OK(cudaMemset(d1, 0xFF, ncopy * 4));
    ms_kcopy = time_ms(run_copy_kernel, &ca);
    check_copy(d1, d0, ncopy, "float4 copy kernel");
    bw_memcpy = 2.0 * ncopy * 4 / (ms_memcpy * 1e-3);
    bw_kcopy = 2.0 * ncopy * 4 / (ms_kcopy * 1e-3);
    bw = bw_memcpy > bw_kcopy ? bw_memcpy : bw_kcopy;
    size_str(szb, sizeof szb, ncopy * 4, "MiB", "KiB");
    out("| measurement | size | time (us) | rate | ratio |\n|---|---|---|---|---|\n");
    out("| cudaMemcpy D2D | %s | %.1f | %.1f GB/s | - |\n", szb, ms_memcpy * 1e3, bw_memcpy / 1e9);
    out("| float4 copy kernel | %s | %.1f | %.1f GB/s | - |\n", szb, ms_kcopy * 1e3, bw_kcopy / 1e9);

    // 2. normals
    na.d = d1, na.n = nnorm, na.gen = NULL, na.gen_normal = NULL;
    CU_OK(cudaMemset(d1, 0xFF, nnorm * 4));
    ms_dpo = time_ms(run_dpo_normal, &na);
    check_normals(d1, nnorm, "diffpo Philox normals");
#ifndef DPO_EMU
    // (the CPU emulation has no cuRAND: the real library would take the
    // emulation's host buffers for device memory)
    lib = dlopen("libcurand.so", RTLD_NOW);
    if (!lib)
        lib = dlopen("libcurand.so.10", RTLD_NOW);
#endif
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
            create(&na.gen, CURAND_RNG_PSEUDO_PHILOX4_32_10) == CURAND_STATUS_SUCCESS) {
            if (seed(na.gen, 1234ull) == CURAND_STATUS_SUCCESS) {
                CU_OK(cudaMemset(d1, 0xFF, nnorm * 4));
                ms_cur = time_ms(run_curand_normal, &na);
                check_normals(d1, nnorm, "curandGenerateNormal");
            }
            destroy(na.gen);
        }
    }
    size_str(szb, sizeof szb, nnorm, "M", "K");
    out("| diffpo Philox normals (f32) | %s | %.1f | %.2f G/s | ", szb, ms_dpo * 1e3, nnorm / (ms_dpo * 1e-3) / 1e9);
    if (ms_cur > 0)
        out("%.2f x cuRAND |\n", ms_cur / ms_dpo);
    else
        out("cuRAND not available |\n");
    if (ms_cur > 0)
        out("| curandGenerateNormal (PHILOX4_32_10) | %s | %.1f | %.2f G/s | 1 |\n", szb, ms_cur * 1e3,
            nnorm / (ms_cur * 1e-3) / 1e9);

    // 3. fused step sweep
    if (maxb * dim > ncopy) {
        fprintf(stderr, "bench_gpu: step inputs (%zu) larger than the copy buffers (%zu)\n", maxb * dim, ncopy);
        return 2;
    }
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
        float t[2];
        double n = (double)b * dim;
        int ph;
        sa.batch = b;
        for (ph = 0; ph < 2; ph++) {
            const char *what = ph ? "step (Philox noise)" : "step (given noise)";
            sa.philox = ph;
            CU_OK(cudaMemset(sa.xp, 0xFF, b * dim * 4));
            CU_OK(cudaMemset(sa.mu, 0xFF, b * dim * 4));
            CU_OK(cudaMemset(sa.lp, 0xFF, b * sizeof(double)));
            t[ph] = time_ms(run_step, &sa);
            check_finite(sa.xp, b * dim, 0, what, "x_prev", b);
            check_finite(sa.mu, b * dim, 0, what, "mu", b);
            check_finite(sa.lp, b, 1, what, "log-prob", b);
        }
        out("| %zu | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", b, t[0] * 1e3, 20.0 * n / (t[0] * 1e-3) / 1e9,
            20.0 * n / (t[0] * 1e-3) / bw, t[1] * 1e3, 16.0 * n / (t[1] * 1e-3) / 1e9, 16.0 * n / (t[1] * 1e-3) / bw);
        if (tsv)
            fprintf(tsv, "%zu\t%zu\t%.3f\t%.3f\n", b, dim, t[0] * 1e3, t[1] * 1e3);
    }
    if (md)
        fclose(md);
    if (tsv)
        fclose(tsv);
    free(sched);
    return 0;
}
