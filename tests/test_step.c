/* DDIM / DDPM step and log-probability: checked against an independent
 * long-double evaluation of the printed formulas, mathematical identities
 * (DDIM with eta = 1 is the DDPM posterior), and the validation contract. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"

static dpo_schedule sched;

/* A deterministic test table: a strictly decreasing alphas_cumprod. */
static void make_sched(void)
{
    static double tab[1000];
    int i;
    double a = 1.0;
    for (i = 0; i < 1000; i++) {
        double beta = 0.0001 + (0.02 - 0.0001) * i / 999.0;
        a *= 1.0 - beta;
        tab[i] = a;
    }
    if (dpo_schedule_from_table(&sched, 0, tab, 1000, 0) != DPO_OK) {
        fprintf(stderr, "schedule_from_table failed\n");
        exit(1);
    }
}

static uint64_t rng = 88172645463325252ULL;
static double urand(void) /* xorshift64*, uniform in [-1, 1) */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 4503599627370496.0 - 1.0;
}

/* Long-double reference of one DDIM step element (diffusers' formula). */
static void ref_ddim(long double *prev, long double *mu, long double x, long double e, long double z,
                     long double at, long double ap, long double eta)
{
    long double x0 = (x - sqrtl(1 - at) * e) / sqrtl(at);
    long double var = (1 - ap) / (1 - at) * (1 - at / ap);
    long double sig = eta * sqrtl(var);
    *mu = sqrtl(ap) * x0 + sqrtl(1 - ap - sig * sig) * e;
    *prev = *mu + sig * z;
}

static void test_ddim_f64_matches_reference(void)
{
    int S, trial;
    dpo_step_opts o = dpo_step_opts_default();
    double worst = 0;
    for (trial = 0; trial < 200; trial++) {
        int t, prev_t;
        dpo_step_coef_f64 c;
        double x[16], e[16], z[16], xp[16], mu[16], x0[16];
        size_t i;
        S = 1 + (int)((urand() + 1) * 0.5 * 100);
        t = (int)((urand() + 1) * 0.5 * 999);
        o.eta = (urand() + 1) * 0.5;
        CHECK(dpo_step_coef_f64_init(&c, &sched, t, S, &o) == DPO_OK, "coef t=%d S=%d", t, S);
        prev_t = t - 1000 / S;
        CHECK(c.prev_t == prev_t, "prev_t %d vs %d", c.prev_t, prev_t);
        for (i = 0; i < 16; i++) {
            x[i] = 2 * urand();
            e[i] = 2 * urand();
            z[i] = 2 * urand();
        }
        CHECK(dpo_step_f64(xp, x0, mu, x, e, z, 16, &c) == DPO_OK, "step");
        for (i = 0; i < 16; i++) {
            long double rp, rm;
            long double ap = prev_t >= 0 ? (long double)sched.ac64[prev_t] : (long double)sched.ac64[0];
            ref_ddim(&rp, &rm, x[i], e[i], z[i], sched.ac64[t], ap, o.eta);
            /* absolute error relative to the scale of the terms (|x|,|e|,|z| <= 2) */
            if (fabs(mu[i] - (double)rm) / 2.220446049250313e-16 / 8 > worst)
                worst = fabs(mu[i] - (double)rm) / 2.220446049250313e-16 / 8;
            CHECK(fabs(mu[i] - (double)rm) < 64 * 2.220446049250313e-16 * 8, "mu %g vs %Lg", mu[i], rm);
            CHECK(fabs(xp[i] - (double)rp) < 64 * 2.220446049250313e-16 * 8, "prev %g vs %Lg", xp[i], rp);
        }
    }
    printf("     ddim f64 worst |mu - ref| = %.2f ulp(8)\n", worst);
}

static void test_f32_close_to_f64(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    int t;
    for (t = 1; t < 1000; t += 37) {
        float x[8], e[8], z[8], p32[8];
        double xd[8], ed[8], zd[8], p64[8];
        int i;
        CHECK(dpo_step_coef_f32_init(&c32, &sched, t, 50, &o) == DPO_OK, "coef32");
        CHECK(dpo_step_coef_f64_init(&c64, &sched, t, 50, &o) == DPO_OK, "coef64");
        for (i = 0; i < 8; i++) {
            x[i] = (float)urand();
            e[i] = (float)urand();
            z[i] = (float)urand();
            xd[i] = x[i];
            ed[i] = e[i];
            zd[i] = z[i];
        }
        dpo_step_f32(p32, 0, 0, x, e, z, 8, &c32);
        dpo_step_f64(p64, 0, 0, xd, ed, zd, 8, &c64);
        for (i = 0; i < 8; i++) /* |x0| can reach 1/sqrt(a_t) ~ 1e2: scale the bound by it */
            CHECK(fabs(p32[i] - p64[i]) < 64 * 1.2e-7 * (1 + 1 / c64.sqrt_alpha_t), "t=%d %g vs %g", t, p32[i], p64[i]);
    }
}

/* DDIM with eta = 1 is the DDPM posterior q(x_{t-1} | x_t, x0): same mean
 * and variance (Song et al. 2021, section 4.1). */
static void test_ddim_eta1_is_ddpm(void)
{
    dpo_step_opts od = dpo_step_opts_default(), op = dpo_step_opts_default();
    int t;
    op.kind = DPO_STEP_DDPM;
    for (t = 1; t < 1000; t += 11) {
        dpo_step_coef_f64 a, b;
        double x[4] = {0.3, -1.2, 2.0, 0.01}, e[4] = {1.1, 0.2, -0.7, 0.4};
        double ma[4], mb[4];
        int i;
        CHECK(dpo_step_coef_f64_init(&a, &sched, t, 1000, &od) == DPO_OK, "ddim");
        CHECK(dpo_step_coef_f64_init(&b, &sched, t, 1000, &op) == DPO_OK, "ddpm");
        CHECK(fabs(a.sigma - b.sigma) <= 1e-12 * a.sigma, "t=%d sigma %g vs %g", t, a.sigma, b.sigma);
        dpo_step_f64(0, 0, ma, x, e, x, 4, &a);
        dpo_step_f64(0, 0, mb, x, e, x, 4, &b);
        for (i = 0; i < 4; i++)
            CHECK(fabs(ma[i] - mb[i]) <= 1e-11 * (1 + fabs(ma[i])), "t=%d mean %g vs %g", t, ma[i], mb[i]);
    }
}

static void test_prediction_types_consistent(void)
{
    /* the same (x0, eps) expressed as epsilon, sample and v outputs give the same step */
    dpo_step_opts o = dpo_step_opts_default();
    int t;
    for (t = 5; t < 1000; t += 97) {
        dpo_step_coef_f64 ce, cs, cv;
        double x0 = 0.37, eps = -1.3, xt, v, pe, ps, pv, z = 0.5, a0, m;
        o.pred = DPO_PRED_EPSILON;
        dpo_step_coef_f64_init(&ce, &sched, t, 20, &o);
        o.pred = DPO_PRED_SAMPLE;
        dpo_step_coef_f64_init(&cs, &sched, t, 20, &o);
        o.pred = DPO_PRED_V;
        dpo_step_coef_f64_init(&cv, &sched, t, 20, &o);
        xt = ce.sqrt_alpha_t * x0 + ce.sqrt_beta_t * eps;
        v = ce.sqrt_alpha_t * eps - ce.sqrt_beta_t * x0; /* v = sqrt(a) eps - sqrt(1-a) x0 */
        dpo_step_f64(&pe, &a0, &m, &xt, &eps, &z, 1, &ce);
        dpo_step_f64(&ps, &a0, &m, &xt, &x0, &z, 1, &cs);
        dpo_step_f64(&pv, &a0, &m, &xt, &v, &z, 1, &cv);
        CHECK(fabs(pe - ps) < 1e-9 * (1 + fabs(pe)) / ce.sqrt_alpha_t, "t=%d eps %g sample %g", t, pe, ps);
        CHECK(fabs(pe - pv) < 1e-12 * (1 + fabs(pe)) / ce.sqrt_alpha_t, "t=%d eps %g v %g", t, pe, pv);
    }
}

static void test_clip(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f64 c;
    double x = 0.5, e = -3.0, z = 0, x0, mu, p;
    o.clip = 1;
    o.clip_range = 1.0;
    dpo_step_coef_f64_init(&c, &sched, 500, 20, &o);
    dpo_step_f64(&p, &x0, &mu, &x, &e, &z, 1, &c);
    CHECK(x0 == 1.0, "x0 clipped to 1, got %g", x0);
    CHECK(mu == c.sqrt_alpha_prev * 1.0 + c.dir_coef * e, "mu uses clipped x0 and the model eps");
    o.use_clipped_output = 1;
    dpo_step_coef_f64_init(&c, &sched, 500, 20, &o);
    dpo_step_f64(&p, &x0, &mu, &x, &e, &z, 1, &c);
    CHECK(mu == c.sqrt_alpha_prev * 1.0 + c.dir_coef * ((x - c.sqrt_alpha_t * 1.0) / c.sqrt_beta_t),
          "mu uses eps re-derived from the clipped x0");
}

static void test_logprob_reference(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f64 c;
    int trial;
    for (trial = 0; trial < 50; trial++) {
        size_t d = 1 + (size_t)((urand() + 1) * 0.5 * 300), j;
        double *xp = malloc(d * sizeof *xp), *mu = malloc(d * sizeof *mu);
        double lps, lpm;
        long double S = 0, ref_sum, ref_mean, sig;
        int t = 20 + (int)((urand() + 1) * 0.5 * 900);
        dpo_step_coef_f64_init(&c, &sched, t, 20, &o);
        sig = c.sigma;
        for (j = 0; j < d; j++) {
            mu[j] = urand();
            xp[j] = mu[j] + c.sigma * 2 * urand();
            S += ((long double)xp[j] - mu[j]) * ((long double)xp[j] - mu[j]);
        }
        ref_sum = -S / (2 * sig * sig) - d * logl(sig) - d * 0.5L * logl(2 * 3.14159265358979323846264338327950288L);
        ref_mean = ref_sum / d;
        CHECK(dpo_step_logprob_f64(&lps, xp, mu, 1, d, &c, DPO_LOGPROB_SUM) == DPO_OK, "lp sum");
        CHECK(dpo_step_logprob_f64(&lpm, xp, mu, 1, d, &c, DPO_LOGPROB_MEAN) == DPO_OK, "lp mean");
        CHECK(fabsl(lps - ref_sum) <= 1e-13L * (fabsl(ref_sum) + d), "sum %.17g vs %.17Lg (d=%zu)", lps, ref_sum, d);
        CHECK(fabsl(lpm - ref_mean) <= 1e-13L * (fabsl(ref_mean) + 1), "mean %.17g vs %.17Lg", lpm, ref_mean);
        free(xp);
        free(mu);
    }
}

static void test_logprob_batch_rows_independent(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c;
    float xp[3 * 70], mu[3 * 70];
    double all[3], one;
    int i, b;
    dpo_step_coef_f32_init(&c, &sched, 601, 20, &o);
    for (i = 0; i < 3 * 70; i++) {
        mu[i] = (float)urand();
        xp[i] = (float)(mu[i] + c.sigma * urand());
    }
    dpo_step_logprob_f32(all, xp, mu, 3, 70, &c, DPO_LOGPROB_SUM);
    for (b = 0; b < 3; b++) {
        dpo_step_logprob_f32(&one, xp + 70 * b, mu + 70 * b, 1, 70, &c, DPO_LOGPROB_SUM);
        CHECK(chk_same_bits(&one, &all[b], sizeof one), "row %d differs alone vs in a batch", b);
    }
}

static void test_sigma_zero_is_error(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c;
    float xp[4] = {0}, mu[4] = {0};
    double out = 12345.0;
    o.eta = 0;
    CHECK(dpo_step_coef_f32_init(&c, &sched, 500, 20, &o) == DPO_OK, "coef eta 0");
    CHECK(c.sigma == 0.0f, "sigma 0 at eta 0");
    CHECK(dpo_step_logprob_f32(&out, xp, mu, 1, 4, &c, DPO_LOGPROB_SUM) == DPO_ERR_SIGMA_ZERO, "sigma-zero status");
    CHECK(out == 12345.0, "output untouched");
    /* eta = 0 step without noise is allowed */
    CHECK(dpo_step_f32(xp, 0, 0, mu, mu, 0, 4, &c) == DPO_OK, "deterministic step without noise");
}

static void test_validation_leaves_outputs(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c, c_before;
    float x[4] = {1, 2, 3, 4}, e[4] = {0, 0, 0, 0}, z[4] = {0, 0, 0, 0}, out[8];
    int i;
    memset(&c_before, 0x5a, sizeof c_before);
    c = c_before;
    CHECK(dpo_step_coef_f32_init(&c, &sched, 1000, 20, &o) == DPO_ERR_RANGE, "t = N");
    CHECK(dpo_step_coef_f32_init(&c, &sched, -1, 20, &o) == DPO_ERR_RANGE, "t < 0");
    CHECK(dpo_step_coef_f32_init(&c, &sched, 10, 0, &o) == DPO_ERR_RANGE, "S = 0");
    o.eta = -1;
    CHECK(dpo_step_coef_f32_init(&c, &sched, 10, 20, &o) == DPO_ERR_RANGE, "eta < 0");
    o.eta = 1e6;
    CHECK(dpo_step_coef_f32_init(&c, &sched, 500, 20, &o) == DPO_ERR_RANGE, "eta too large");
    o.eta = 1;
    o.pred = (dpo_pred_type)7;
    CHECK(dpo_step_coef_f32_init(&c, &sched, 10, 20, &o) == DPO_ERR_RANGE, "bad prediction type");
    CHECK(chk_same_bits(&c, &c_before, sizeof c), "coef untouched on error");
    o = dpo_step_opts_default();
    dpo_step_coef_f32_init(&c, &sched, 500, 20, &o);
    for (i = 0; i < 8; i++)
        out[i] = -7.0f;
    x[2] = (float)NAN;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 4, &c) == DPO_ERR_NONFINITE, "NaN input");
    x[2] = 3;
    e[1] = (float)INFINITY;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 4, &c) == DPO_ERR_NONFINITE, "inf model output");
    e[1] = 0;
    CHECK(dpo_step_f32(out, 0, 0, x, e, 0, 4, &c) == DPO_ERR_NULL, "missing noise with sigma > 0");
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 0, &c) == DPO_ERR_SIZE, "n = 0");
    for (i = 0; i < 8; i++)
        CHECK(out[i] == -7.0f, "output %d untouched", i);
    /* partial overlap of output and input is refused; exact in-place is allowed */
    CHECK(dpo_step_f32(x + 1, 0, 0, x, e, z, 3, &c) == DPO_ERR_ALIAS, "partial overlap");
    CHECK(dpo_step_f32(out, out + 2, 0, x, e, z, 3, &c) == DPO_ERR_ALIAS, "outputs overlap");
    {
        float y[4] = {1, 2, 3, 4}, ref[4];
        dpo_step_f32(ref, 0, 0, y, e, z, 4, &c);
        CHECK(dpo_step_f32(y, 0, 0, y, e, z, 4, &c) == DPO_OK, "in place");
        CHECK(chk_same_bits(y, ref, sizeof y), "in place gives the same bits");
    }
}

static void test_prev_rules(void)
{
    dpo_schedule s1;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 a, b;
    static double tab[1000];
    int i;
    for (i = 0; i < 1000; i++)
        tab[i] = sched.ac64[i];
    dpo_schedule_from_table(&s1, 0, tab, 1000, 1); /* set_alpha_to_one */
    /* last step of 20 (t = 1): diffusers uses final alpha 1, DDPO clamps to ac[0] */
    dpo_step_coef_f32_init(&a, &s1, 1, 20, &o);
    o.prev_rule = DPO_PREV_CLAMPED;
    dpo_step_coef_f32_init(&b, &s1, 1, 20, &o);
    CHECK(a.alpha_prev == 1.0f && a.prev_t == -49, "diffusers: alpha_prev = 1, got %g (prev %d)", a.alpha_prev, a.prev_t);
    CHECK(b.alpha_prev == s1.ac32[0] && b.prev_t == 0, "clamped: alpha_prev = ac[0], got %g", b.alpha_prev);
}

/* dpo_step_philox_*: the noise drawn inside the call gives the bits of
 * dpo_normal_* into a buffer followed by dpo_step_*, for lengths that do and
 * do not fill the last Philox block, both step kinds, in place too. */
#define PH_N 67
static void test_step_philox_matches_two_calls(void)
{
    static const size_t lens[] = {1, 3, 4, 5, 64, PH_N};
    static const dpo_step_kind kinds[] = {DPO_STEP_DDIM, DPO_STEP_DDPM};
    float x[PH_N], e[PH_N], z[PH_N], p1[PH_N], m1[PH_N], a1[PH_N], p2[PH_N], m2[PH_N], a2[PH_N], y[PH_N];
    double xd[PH_N], ed[PH_N], zd[PH_N], q1[PH_N], q2[PH_N], n1[PH_N], n2[PH_N];
    size_t li, i;
    int ki, t;
    for (i = 0; i < PH_N; i++) {
        xd[i] = urand() * 2;
        ed[i] = urand();
        x[i] = (float)xd[i];
        e[i] = (float)ed[i];
    }
    for (ki = 0; ki < 2; ki++)
        for (t = 1; t < 1000; t += 333)
            for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                size_t n = lens[li];
                dpo_step_opts o = dpo_step_opts_default();
                dpo_step_coef_f32 c;
                dpo_step_coef_f64 cd;
                dpo_noise_coord nc;
                o.kind = kinds[ki];
                nc.seed = 0x0123456789abcdefULL + (uint64_t)t;
                nc.stream = DPO_STREAM_STEP;
                nc.sample = (uint32_t)(7 * li + 3);
                nc.step = (uint32_t)t;
                nc.candidate = (uint32_t)ki;
                CHECK(dpo_step_coef_f32_init(&c, &sched, t, 20, &o) == DPO_OK, "coef32 t=%d", t);
                CHECK(dpo_step_coef_f64_init(&cd, &sched, t, 20, &o) == DPO_OK, "coef64 t=%d", t);
                CHECK(dpo_normal_f32(z, nc, 0, n) == DPO_OK, "normals32");
                CHECK(dpo_step_f32(p1, a1, m1, x, e, z, n, &c) == DPO_OK, "two-call f32");
                CHECK(dpo_step_philox_f32(p2, a2, m2, x, e, nc, n, &c) == DPO_OK, "philox f32");
                CHECK(chk_same_bits(p1, p2, n * sizeof(float)) && chk_same_bits(a1, a2, n * sizeof(float)) &&
                          chk_same_bits(m1, m2, n * sizeof(float)),
                      "f32 bits differ (kind %d, t %d, n %zu)", ki, t, n);
                memcpy(y, x, n * sizeof(float));
                CHECK(dpo_step_philox_f32(y, 0, 0, y, e, nc, n, &c) == DPO_OK, "philox f32 in place");
                CHECK(chk_same_bits(y, p1, n * sizeof(float)), "in place differs (n %zu)", n);
                CHECK(dpo_normal_f64(zd, nc, 0, n) == DPO_OK, "normals64");
                CHECK(dpo_step_f64(q1, 0, n1, xd, ed, zd, n, &cd) == DPO_OK, "two-call f64");
                CHECK(dpo_step_philox_f64(q2, 0, n2, xd, ed, nc, n, &cd) == DPO_OK, "philox f64");
                CHECK(chk_same_bits(q1, q2, n * sizeof(double)) && chk_same_bits(n1, n2, n * sizeof(double)),
                      "f64 bits differ (kind %d, t %d, n %zu)", ki, t, n);
            }
}

static void test_step_philox_refuses_bad_arguments(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c;
    dpo_noise_coord nc;
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, e[8] = {0}, out[8], mu[8];
    int i;
    memset(&nc, 0, sizeof nc);
    nc.stream = DPO_STREAM_STEP;
    dpo_step_coef_f32_init(&c, &sched, 500, 20, &o);
    for (i = 0; i < 8; i++)
        out[i] = mu[i] = -7.0f;
    CHECK(dpo_step_philox_f32(out, 0, mu, 0, e, nc, 8, &c) == DPO_ERR_NULL, "NULL x");
    CHECK(dpo_step_philox_f32(out, 0, mu, x, 0, nc, 8, &c) == DPO_ERR_NULL, "NULL model output");
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 8, 0) == DPO_ERR_NULL, "NULL coefficients");
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 0, &c) == DPO_ERR_SIZE, "n = 0");
    nc.stream = 0x10000u;
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 8, &c) == DPO_ERR_RANGE, "stream >= 65536");
    nc.stream = DPO_STREAM_STEP;
    nc.candidate = 0x10000u;
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 8, &c) == DPO_ERR_RANGE, "candidate >= 65536");
    nc.candidate = 0;
    x[5] = (float)NAN;
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 8, &c) == DPO_ERR_NONFINITE, "NaN input");
    x[5] = 6;
    e[7] = (float)INFINITY;
    CHECK(dpo_step_philox_f32(out, 0, mu, x, e, nc, 8, &c) == DPO_ERR_NONFINITE, "inf model output");
    e[7] = 0;
    CHECK(dpo_step_philox_f32(out, 0, out + 4, x, e, nc, 8, &c) == DPO_ERR_ALIAS, "outputs overlap");
    for (i = 0; i < 8; i++)
        CHECK(out[i] == -7.0f && mu[i] == -7.0f, "output %d untouched", i);
    CHECK(dpo_step_philox_f32(x + 1, 0, 0, x, e, nc, 7, &c) == DPO_ERR_ALIAS, "partial overlap with x");
    CHECK(x[1] == 2 && x[7] == 8, "x untouched after the refused call");
}

/* dpo_step_coef_*_ddim from (alpha_t, alpha_prev, sigma): given the sigma of
 * an eta = 0.7 step it reproduces the scalars _init forms (_init calls it, so
 * here the check is on the fields the two set apart: a hand long-double
 * reference for dir_coef); bad arguments are refused, output untouched. */
static void test_coef_ddim(void)
{
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f64 a, b;
    dpo_step_coef_f32 a32, b32;
    long double ref;
    o.eta = 0.7;
    o.pred = DPO_PRED_V;
    CHECK(dpo_step_coef_f64_init(&a, &sched, 500, 20, &o) == DPO_OK, "init f64");
    CHECK(dpo_step_coef_f64_ddim(&b, a.alpha_t, a.alpha_prev, a.sigma, DPO_PRED_V) == DPO_OK, "ddim f64");
    CHECK(b.kind == DPO_STEP_DDIM && b.pred == DPO_PRED_V && b.t == 0 && b.clip == 0, "ddim f64: kind/pred/t");
    CHECK(a.beta_t == b.beta_t && a.beta_prev == b.beta_prev && a.sqrt_alpha_t == b.sqrt_alpha_t &&
              a.sqrt_beta_t == b.sqrt_beta_t && a.sqrt_alpha_prev == b.sqrt_alpha_prev && a.sigma == b.sigma &&
              a.dir_coef == b.dir_coef,
          "ddim f64 differs from init f64");
    ref = sqrtl(1.0L - (long double)b.alpha_prev - (long double)b.sigma * (long double)b.sigma);
    CHECK(fabsl((long double)b.dir_coef - ref) <= 1e-15L, "dir_coef %.17g vs %.17Lg", b.dir_coef, ref);
    CHECK(dpo_step_coef_f32_init(&a32, &sched, 500, 20, &o) == DPO_OK, "init f32");
    CHECK(dpo_step_coef_f32_ddim(&b32, a32.alpha_t, a32.alpha_prev, a32.sigma, DPO_PRED_V) == DPO_OK, "ddim f32");
    CHECK(a32.sigma == b32.sigma && a32.dir_coef == b32.dir_coef && a32.sqrt_beta_t == b32.sqrt_beta_t,
          "ddim f32 differs from init f32");
    b = a;
    CHECK(dpo_step_coef_f64_ddim(&b, 1.0, 0.5, 0.1, DPO_PRED_EPSILON) == DPO_ERR_RANGE, "alpha_t = 1 accepted");
    CHECK(dpo_step_coef_f64_ddim(&b, 0.5, 0.5, 0.8, DPO_PRED_EPSILON) == DPO_ERR_RANGE, "sigma^2 > 1 - alpha_prev");
    CHECK(dpo_step_coef_f64_ddim(&b, 0.5, 0.5, -0.1, DPO_PRED_EPSILON) == DPO_ERR_RANGE, "negative sigma");
    CHECK(dpo_step_coef_f64_ddim(&b, 0.5, 0.5, 0.1, (dpo_pred_type)7) == DPO_ERR_RANGE, "bad pred");
    CHECK(dpo_step_coef_f64_ddim(NULL, 0.5, 0.5, 0.1, DPO_PRED_EPSILON) == DPO_ERR_NULL, "NULL");
    CHECK(!memcmp(&b, &a, sizeof a), "a refused call wrote its output");
}

int main(void)
{
    make_sched();
    RUN(test_ddim_f64_matches_reference);
    RUN(test_f32_close_to_f64);
    RUN(test_ddim_eta1_is_ddpm);
    RUN(test_prediction_types_consistent);
    RUN(test_clip);
    RUN(test_logprob_reference);
    RUN(test_logprob_batch_rows_independent);
    RUN(test_sigma_zero_is_error);
    RUN(test_validation_leaves_outputs);
    RUN(test_prev_rules);
    RUN(test_step_philox_matches_two_calls);
    RUN(test_step_philox_refuses_bad_arguments);
    RUN(test_coef_ddim);
    return chk_summary();
}
