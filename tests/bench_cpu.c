/* CPU benchmark: Philox normals per second and DDIM step + log-prob
 * elements per second at d = 16384, batch 8 (one thread).  Prints
 * "key value" lines read by tests/run_bench.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "diffpo.h"

#define D 16384
#define B 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    static float x[B * D], e[B * D], z[B * D], xp[B * D], mu[B * D];
    static dpo_schedule s;
    dpo_step_coef_f32 c;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_noise_coord nc = {1234, DPO_STREAM_STEP, 0, 0, 0};
    double t0, t1, lp[B], best_n = 1e30, best_s = 1e30;
    int rep, b;
    volatile double sink = 0;
    dpo_schedule_init(&s, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    dpo_step_coef_f32_init(&c, &s, 501, 20, &o);
    for (b = 0; b < B; b++) {
        nc.sample = (uint32_t)b;
        nc.stream = DPO_STREAM_INIT;
        dpo_normal_f32(x + b * D, nc, 0, D);
        nc.stream = DPO_STREAM_TRAIN;
        dpo_normal_f32(e + b * D, nc, 0, D);
    }
    nc.stream = DPO_STREAM_STEP;
    for (rep = 0; rep < 7; rep++) {
        t0 = now();
        for (b = 0; b < B; b++) {
            nc.sample = (uint32_t)b;
            dpo_normal_f32(z + b * D, nc, 0, D);
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
    }
    printf("batch %d\ndim %d\n", B, D);
    printf("normals_per_s %.4g\n", (double)B * D / best_n);
    printf("step_logprob_elems_per_s %.4g\n", (double)B * D / best_s);
    return sink != sink;
}
