/* CPU benchmark (one thread), printed as "key value" lines read by
 * tests/run_bench.sh:
 *   normals_per_s             float32 Philox normals, d = 16384, batch 8
 *   step_logprob_elems_per_s  dpo_step_f32 + dpo_step_logprob_f32 (two passes), batch 8
 *   fused_elems_per_s         dpo_step_fused_f32 with given noise, d = 16384, batch 64
 *                             (20 bytes per element: x, eps, z read; x_prev, mu written)
 *   fused_gen_elems_per_s     the same with the noise generated in the pass
 *   fused_large_elems_per_s   given noise, batch 256 (80 MiB in all: out of cache)
 *   copy_bytes_per_s          memcpy of a 64 MiB buffer, bytes read + written
 *   matmul_<pass>_<m>x<k>x<n>_flops  dpo_matmul_f32 at the built-in network's shapes
 *   mt<T>_*                   the multi-threaded forms at T = 1 and 2 threads (bench_threads)
 *   adamw_elems_per_s         dpo_adamw_step over 2^18 parameters (4 MiB: p, m, v, g)
 *   silu_elems_per_s          the network's SiLU (dpo_silu_f32 per element), 2^16 elements
 *   silu_vjp_elems_per_s      its vector-Jacobian product, in place, 2^16 elements
 *   logratio_elems_per_s      dpo_logratio_f32 (terms + canonical sum), d = 16384, batch 8
 *   leaves_terms_per_s        the canonical tree's leaf sums over 2^16 double terms
 * The dispatch level is the one DPO_SIMD selects (printed as simd_level). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "diffpo.h"
#include "diffpo_align.h"
#include "cpu_simd.h"
#include "cpu_simd_model.h"

#define D 16384
#define B 8
#define BF 64
#define BL 256 /* 5 tensors of 16 MiB: past any L3 */
#define REPS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *falloc(size_t n)
{
    float *p = (float *)malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static double bench_matmul(size_t m, size_t k, size_t n, int ta, int tb)
{
    float *A = falloc(m * k), *Bm = falloc(k * n), *C = falloc(m * n);
    double best = 1e30, t0;
    size_t i;
    int rep, it, iters = (int)(1e8 / (double)(m * k * n)) + 1;
    for (i = 0; i < m * k; i++)
        A[i] = (float)((double)(i % 17) * 0.1 - 0.8);
    for (i = 0; i < k * n; i++)
        Bm[i] = (float)((double)(i % 13) * 0.1 - 0.6);
    for (rep = 0; rep < REPS; rep++) {
        t0 = now();
        for (it = 0; it < iters; it++)
            dpo_matmul_f32(C, A, Bm, m, k, n, ta, tb, 0);
        t0 = (now() - t0) / iters;
        if (t0 < best)
            best = t0;
    }
    free(A);
    free(Bm);
    free(C);
    return 2.0 * (double)m * (double)k * (double)n / best;
}

/* Process CPU time (every thread of the process, the finished ones too). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The multi-threaded forms (dpo_*_mt) at 1 and 2 threads, best wall time
 * of REPS, and the process CPU time per call (mean over the REPS; on a
 * machine busy with other work the wall-time ratio measures the scheduler,
 * the CPU time what the split costs):
 *   mt<T>_normals_per_s            dpo_normal_f32_mt, one call of 131072 (16384 x 8) elements
 *   mt<T>_normals_row_per_s        the same as 8 calls of 16384 (a call per row)
 *   mt<T>_step_philox_elems_per_s  dpo_step_philox_f32_mt, one call of 131072 elements
 *   mt<T>_fused_elems_per_s        dpo_step_fused_f32_mt, given noise, d = 16384, batch 64
 *   mt<T>_fused_gen_elems_per_s    the same with the noise generated in the pass
 *   mt<T>_call8_s                  seconds per call of 8 normals (2 blocks: the cost of
 *                                  starting and joining a thread at T = 2)
 * each followed by the same key with _cpu_s: CPU seconds per call. */
#define MT_NM 6
static void bench_threads(float *xp, float *mu, double *lp, const float *x, const float *e, const float *z,
                          const dpo_step_coef_f32 *c)
{
    static const int tc[] = {1, 2};
    static const char *const key[MT_NM] = {"normals_per_s", "normals_row_per_s", "step_philox_elems_per_s",
                                           "fused_elems_per_s", "fused_gen_elems_per_s", "call8_s"};
    const double elems[MT_NM] = {(double)B * D, (double)B * D, (double)B * D, (double)BF * D, (double)BF * D, 0};
    dpo_noise_coord nc = {1234, DPO_STREAM_STEP, 0, 0, 0};
    int k, rep, b, it, m;
    for (k = 0; k < 2; k++) {
        double best[MT_NM], cpu[MT_NM], t0, c0, t;
        for (m = 0; m < MT_NM; m++)
            best[m] = 1e30, cpu[m] = 0;
        for (rep = 0; rep < REPS; rep++) {
            for (m = 0; m < MT_NM; m++) {
                nc.sample = 0;
                t0 = now();
                c0 = cpu_now();
                if (m == 0)
                    dpo_normal_f32_mt(xp, nc, 0, (size_t)B * D, tc[k]);
                else if (m == 1)
                    for (b = 0; b < B; b++) {
                        nc.sample = (uint32_t)b;
                        dpo_normal_f32_mt(xp + (size_t)b * D, nc, 0, D, tc[k]);
                    }
                else if (m == 2)
                    dpo_step_philox_f32_mt(xp, NULL, mu, x, e, nc, (size_t)B * D, c, tc[k]);
                else if (m == 3)
                    dpo_step_fused_f32_mt(xp, mu, lp, x, e, z, NULL, BF, D, c, DPO_LOGPROB_MEAN, tc[k]);
                else if (m == 4)
                    dpo_step_fused_f32_mt(xp, mu, lp, x, e, NULL, &nc, BF, D, c, DPO_LOGPROB_MEAN, tc[k]);
                else
                    for (it = 0; it < 100; it++)
                        dpo_normal_f32_mt(xp, nc, 0, 8, tc[k]);
                c0 = cpu_now() - c0;
                t = now() - t0;
                if (m == 5)
                    t /= 100, c0 /= 100;
                if (t < best[m])
                    best[m] = t;
                cpu[m] += c0 / REPS;
            }
        }
        for (m = 0; m < MT_NM; m++) {
            printf("mt%d_%s %.4g\n", tc[k], key[m], elems[m] ? elems[m] / best[m] : best[m]);
            printf("mt%d_%s_cpu_s %.4g\n", tc[k], key[m], cpu[m]);
        }
    }
}

/* Rates of the training element loops (src/cpu_simd_model.h) at the level
 * dpo_simd_level() reports; best of REPS rounds of iters calls each. */
static void bench_model(void)
{
    const size_t NA = (size_t)1 << 18, NS = (size_t)1 << 16, NL = (size_t)B * D;
    float *p = falloc(NA), *m = falloc(NA), *v = falloc(NA), *g = falloc(NA);
    float *x = falloc(NL), *mu = falloc(NL), *mr = falloc(NL);
    double *t = (double *)malloc(NS * sizeof(double)), *part = (double *)malloc(NS / 64 * sizeof(double));
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, t0, lr, sink = 0;
    dpo_adamw h = dpo_adamw_default(1e-3);
    int level = dpo_simd_level(), rep, it, w;
    const int iters = 20;
    size_t i;
    if (!t || !part) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (i = 0; i < NA; i++) {
        p[i] = (float)((double)(i % 101) * 0.01 - 0.5);
        m[i] = 0.0f;
        v[i] = 0.0f;
        g[i] = (float)((double)(i % 37) * 0.003 - 0.05);
    }
    for (i = 0; i < NL; i++) {
        x[i] = (float)((double)(i % 97) * 0.02 - 1.0);
        mu[i] = x[i] + (float)((double)(i % 7) * 1e-3);
        mr[i] = mu[i] + (float)((double)(i % 5) * 1e-4);
    }
    for (i = 0; i < NS; i++)
        t[i] = (double)(i % 89) * 0.01 - 0.4;
    for (rep = 0; rep < REPS; rep++)
        for (w = 0; w < 5; w++) {
            t0 = now();
            for (it = 0; it < iters; it++) {
                if (w == 0)
                    dpo_adamw_step(p, m, v, g, NA, &h, (uint64_t)it + 1);
                else if (w == 1)
                    dpo__simd_silu_f32(x, mu, NS, level);
                else if (w == 2)
                    dpo__simd_silu_vjp_f32(x, mr, NS, level);
                else if (w == 3) {
                    dpo_logratio_f32(&lr, mu, mr, mr + 1, NL - 1, 0.5, DPO_LOGPROB_SUM);
                    sink += lr;
                } else
                    dpo__simd_leaves_f64(part, t, NS, level);
            }
            t0 = (now() - t0) / iters;
            if (t0 < best[w])
                best[w] = t0;
        }
    printf("adamw_elems_per_s %.4g\n", (double)NA / best[0]);
    printf("silu_elems_per_s %.4g\n", (double)NS / best[1]);
    printf("silu_vjp_elems_per_s %.4g\n", (double)NS / best[2]);
    printf("logratio_elems_per_s %.4g\n", (double)(NL - 1) / best[3]);
    printf("leaves_terms_per_s %.4g\n", (double)NS / best[4]);
    if (sink != sink || part[0] != part[0])
        printf("# (non-finite sink)\n");
    free(p);
    free(m);
    free(v);
    free(g);
    free(x);
    free(mu);
    free(mr);
    free(t);
    free(part);
}

int main(void)
{
    float *x = falloc((size_t)BL * D), *e = falloc((size_t)BL * D), *z = falloc((size_t)BL * D);
    float *xp = falloc((size_t)BL * D), *mu = falloc((size_t)BL * D);
    char *cs = (char *)malloc((size_t)64 << 20), *cd = (char *)malloc((size_t)64 << 20);
    static dpo_schedule s;
    dpo_step_coef_f32 c;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_noise_coord nc = {1234, DPO_STREAM_STEP, 0, 0, 0};
    double t0, t1, lp[BL], best_n = 1e30, best_s = 1e30, best_f = 1e30, best_g = 1e30,
                          best_c = 1e30, best_l = 1e30;
    int rep, b;
    volatile double sink = 0;
    if (!cs || !cd)
        return 1;
    memset(cs, 1, (size_t)64 << 20);
    memset(cd, 2, (size_t)64 << 20);
    dpo_schedule_init(&s, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    dpo_step_coef_f32_init(&c, &s, 501, 20, &o);
    for (b = 0; b < BL; b++) {
        nc.sample = (uint32_t)b;
        nc.stream = DPO_STREAM_INIT;
        dpo_normal_f32(x + (size_t)b * D, nc, 0, D);
        nc.stream = DPO_STREAM_TRAIN;
        dpo_normal_f32(e + (size_t)b * D, nc, 0, D);
        nc.stream = DPO_STREAM_STEP;
        dpo_normal_f32(z + (size_t)b * D, nc, 0, D);
    }
    memset(xp, 0, (size_t)BL * D * sizeof(float));
    memset(mu, 0, (size_t)BL * D * sizeof(float));
    nc.stream = DPO_STREAM_STEP;
    nc.sample = 0;
    for (rep = 0; rep < REPS; rep++) {
        t0 = now();
        for (b = 0; b < B; b++) {
            nc.sample = (uint32_t)b;
            dpo_normal_f32(z + (size_t)b * D, nc, 0, D);
        }
        t1 = now();
        if (t1 - t0 < best_n)
            best_n = t1 - t0;
        t0 = now();
        dpo_step_f32(xp, 0, mu, x, e, z, (size_t)B * D, &c);
        dpo_step_logprob_f32(lp, xp, mu, B, D, &c, DPO_LOGPROB_MEAN);
        t1 = now();
        if (t1 - t0 < best_s)
            best_s = t1 - t0;
        sink += lp[0];
        t0 = now();
        dpo_step_fused_f32(xp, mu, lp, x, e, z, NULL, BF, D, &c, DPO_LOGPROB_MEAN);
        t1 = now();
        if (t1 - t0 < best_f)
            best_f = t1 - t0;
        sink += lp[1];
        nc.sample = 0;
        t0 = now();
        dpo_step_fused_f32(xp, mu, lp, x, e, NULL, &nc, BF, D, &c, DPO_LOGPROB_MEAN);
        t1 = now();
        if (t1 - t0 < best_g)
            best_g = t1 - t0;
        sink += lp[2];
        t0 = now();
        dpo_step_fused_f32(xp, mu, lp, x, e, z, NULL, BL, D, &c, DPO_LOGPROB_MEAN);
        t1 = now();
        if (t1 - t0 < best_l)
            best_l = t1 - t0;
        sink += lp[3];
        t0 = now();
        memcpy(cd, cs, (size_t)64 << 20);
        t1 = now();
        if (t1 - t0 < best_c)
            best_c = t1 - t0;
        sink += cd[rep];
    }
    printf("simd_level %s\n", dpo_simd_level_name(dpo_simd_level()));
    printf("batch %d\ndim %d\nfused_batch %d\n", B, D, BF);
    printf("normals_per_s %.4g\n", (double)B * D / best_n);
    printf("step_logprob_elems_per_s %.4g\n", (double)B * D / best_s);
    printf("fused_elems_per_s %.4g\n", (double)BF * D / best_f);
    printf("fused_gen_elems_per_s %.4g\n", (double)BF * D / best_g);
    printf("fused_large_elems_per_s %.4g\n", (double)BL * D / best_l);
    printf("copy_bytes_per_s %.4g\n", 2.0 * (double)((size_t)64 << 20) / best_c);
    /* the built-in network (src/model/mlp.c, batch 8, input 64 + 16 + 8,
     * hidden 128): forward Y = X W^T, backward dX = dY W, dW += dY^T X */
    printf("matmul_fwd_8x88x128_flops %.4g\n", bench_matmul(8, 88, 128, 0, 1));
    printf("matmul_fwd_8x128x128_flops %.4g\n", bench_matmul(8, 128, 128, 0, 1));
    printf("matmul_dx_8x128x128_flops %.4g\n", bench_matmul(8, 128, 128, 0, 0));
    printf("matmul_dw_128x8x128_flops %.4g\n", bench_matmul(128, 8, 128, 1, 0));
    /* one sample at a time, as make run's training and evaluation call it */
    printf("matmul_fwd_1x128x128_flops %.4g\n", bench_matmul(1, 128, 128, 0, 1));
    printf("matmul_dx_1x128x128_flops %.4g\n", bench_matmul(1, 128, 128, 0, 0));
    bench_threads(xp, mu, lp, x, e, z, &c);
    bench_model();
    free(x);
    free(e);
    free(z);
    free(xp);
    free(mu);
    free(cs);
    free(cd);
    return sink != sink;
}
