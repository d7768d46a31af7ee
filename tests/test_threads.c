/* The multi-threaded forms (dpo_*_mt, src/threads.c) against the
 * single-threaded calls, bit for bit: the reference is the single-threaded
 * call at the scalar level (DPO_SIMD=scalar); every dispatch level this CPU
 * supports is forced in turn and run with threads 0, 1, 2, 3, 4 and 7.
 * Sizes 0, 1, 3, 7, 31, 33 and 4097 (pieces past the 16-block rounding: 4097
 * elements on 2 threads are 513 blocks rounded to 528), starts inside a
 * Philox block, batches with fewer rows
 * than threads, outputs misaligned against every vector width, in-place
 * steps.  Every error case gives the single-threaded call's status and
 * leaves every output byte untouched, including a non-finite input in the
 * last piece (no earlier piece may have written).  Kept small: it also runs
 * under qemu-aarch64 (tests/cross_aarch64.sh), where a normal costs ~45 us. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "cpu_simd.h"

#define PAD 8
#define SENT 0x5a

static const int thread_counts[] = {0, 1, 2, 3, 4, 7};
#define NTC ((int)(sizeof thread_counts / sizeof thread_counts[0]))
static const size_t sizes[] = {1, 3, 7, 31, 33, 4097};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void force(int level)
{
    setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
}

static void *xalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* A buffer of PAD guard elements, n payload elements (at byte offset off
 * into the payload start: misaligned outputs), PAD guard elements. */
typedef struct gbuf {
    unsigned char *base;
    size_t bytes;
} gbuf;

static void gb_init(gbuf *g, size_t n, size_t es)
{
    g->bytes = (n + 2 * PAD) * es + 64;
    g->base = (unsigned char *)xalloc(g->bytes);
    memset(g->base, SENT, g->bytes);
}

static void *gb_at(gbuf *g, size_t es, size_t off_bytes)
{
    return g->base + PAD * es + off_bytes;
}

/* Bytes outside [p, p + len) still the sentinel? */
static int gb_guard_ok(const gbuf *g, const void *p, size_t len)
{
    size_t i, a = (size_t)((const unsigned char *)p - g->base);
    for (i = 0; i < g->bytes; i++)
        if ((i < a || i >= a + len) && g->base[i] != SENT)
            return 0;
    return 1;
}

static int all_sent(const void *p, size_t bytes)
{
    const unsigned char *q = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < bytes; i++)
        if (q[i] != SENT)
            return 0;
    return 1;
}

static dpo_noise_coord rand_coord(void)
{
    dpo_noise_coord c;
    c.seed = next();
    c.stream = (uint32_t)(next() & 0xffffu);
    c.sample = (uint32_t)(next() % 100000);
    c.step = (uint32_t)next();
    c.candidate = (uint32_t)(next() & 0xffffu);
    return c;
}

/* ------------------------------------------------------------ normals */

static void normals_case(dpo_noise_coord c, uint64_t e0, size_t n)
{
    float *r32 = (float *)xalloc(n * sizeof(float) + 1);
    double *r64 = (double *)xalloc(n * sizeof(double) + 1);
    int level, k;
    force(DPO_SIMD_SCALAR);
    CHECK(dpo_normal_f32(r32, c, e0, n) == DPO_OK && dpo_normal_f64(r64, c, e0, n) == DPO_OK, "reference");
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (k = 0; k < NTC; k++) {
            gbuf g32, g64;
            size_t off32 = (size_t)(next() % 4) * 4, off64 = (size_t)(next() % 4) * 8 + (next() & 1) * 4;
            float *o32;
            double *o64;
            dpo_status s32, s64;
            gb_init(&g32, n, sizeof(float));
            gb_init(&g64, n, sizeof(double));
            o32 = (float *)gb_at(&g32, sizeof(float), off32);
            o64 = (double *)gb_at(&g64, sizeof(double), off64 & ~(size_t)7); /* doubles stay 8-aligned */
            s32 = dpo_normal_f32_mt(o32, c, e0, n, thread_counts[k]);
            s64 = dpo_normal_f64_mt(o64, c, e0, n, thread_counts[k]);
            CHECK(s32 == DPO_OK && s64 == DPO_OK, "status %d %d", (int)s32, (int)s64);
            CHECK(!memcmp(o32, r32, n * sizeof(float)) && gb_guard_ok(&g32, o32, n * sizeof(float)),
                  "f32 normals differ: level %s threads %d e0 %llu n %zu", dpo_simd_level_name(level),
                  thread_counts[k], (unsigned long long)e0, n);
            CHECK(!memcmp(o64, r64, n * sizeof(double)) && gb_guard_ok(&g64, o64, n * sizeof(double)),
                  "f64 normals differ: level %s threads %d e0 %llu n %zu", dpo_simd_level_name(level),
                  thread_counts[k], (unsigned long long)e0, n);
            free(g32.base);
            free(g64.base);
        }
    }
    free(r32);
    free(r64);
}

static void test_normals(void)
{
    int s;
    for (s = 0; s < NSIZES; s++) {
        normals_case(rand_coord(), 0, sizes[s]);
        normals_case(rand_coord(), 4 * (next() % 1000) + 1 + next() % 3, sizes[s]); /* starts inside a block */
    }
    /* the top of the element range */
    normals_case(rand_coord(), ((uint64_t)1 << 34) - 4097, 4097);
    normals_case(rand_coord(), ((uint64_t)1 << 34) - 33, 33);
}

/* ------------------------------------------------------ Philox step */

static void fill_f32(float *p, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = scale * (float)((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void fill_f64(double *p, size_t n, double scale)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = scale * ((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void coefs(dpo_step_coef_f32 *c32, dpo_step_coef_f64 *c64, int variant)
{
    static dpo_schedule s;
    static int have;
    dpo_step_opts o = dpo_step_opts_default();
    if (!have) {
        dpo_schedule_init(&s, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
        have = 1;
    }
    if (variant == 1) {
        o.pred = DPO_PRED_V;
        o.clip = 1;
        o.clip_range = 0.5;
    } else if (variant == 2) {
        o.kind = DPO_STEP_DDPM;
        o.pred = DPO_PRED_SAMPLE;
    }
    dpo_step_coef_f32_init(c32, &s, 501, 20, &o);
    dpo_step_coef_f64_init(c64, &s, 501, 20, &o);
}

static void step_philox_case(size_t n, int variant, int inplace, int with_x0)
{
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    dpo_noise_coord nc = rand_coord();
    float *x32 = (float *)xalloc(n * sizeof(float)), *e32 = (float *)xalloc(n * sizeof(float));
    double *x64 = (double *)xalloc(n * sizeof(double)), *e64 = (double *)xalloc(n * sizeof(double));
    float *rp32 = (float *)xalloc(n * sizeof(float)), *rx32 = (float *)xalloc(n * sizeof(float)),
          *rm32 = (float *)xalloc(n * sizeof(float));
    double *rp64 = (double *)xalloc(n * sizeof(double)), *rx64 = (double *)xalloc(n * sizeof(double)),
           *rm64 = (double *)xalloc(n * sizeof(double));
    int level, k;
    coefs(&c32, &c64, variant);
    fill_f32(x32, n, 2.0f);
    fill_f32(e32, n, 1.5f);
    fill_f64(x64, n, 2.0);
    fill_f64(e64, n, 1.5);
    force(DPO_SIMD_SCALAR);
    CHECK(dpo_step_philox_f32(rp32, with_x0 ? rx32 : NULL, rm32, x32, e32, nc, n, &c32) == DPO_OK, "ref f32");
    CHECK(dpo_step_philox_f64(rp64, with_x0 ? rx64 : NULL, rm64, x64, e64, nc, n, &c64) == DPO_OK, "ref f64");
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (k = 0; k < NTC; k++) {
            int th = thread_counts[k];
            size_t off = (size_t)(next() % 4) * 4;
            gbuf gp, gx, gm, gp64, gx64, gm64;
            float *p32, *a32, *m32;
            double *p64, *a64, *m64;
            dpo_status s32, s64;
            gb_init(&gp, n, 4), gb_init(&gx, n, 4), gb_init(&gm, n, 4);
            gb_init(&gp64, n, 8), gb_init(&gx64, n, 8), gb_init(&gm64, n, 8);
            p32 = (float *)gb_at(&gp, 4, off), a32 = (float *)gb_at(&gx, 4, off), m32 = (float *)gb_at(&gm, 4, 0);
            p64 = (double *)gb_at(&gp64, 8, 0), a64 = (double *)gb_at(&gx64, 8, 8), m64 = (double *)gb_at(&gm64, 8, 0);
            if (inplace) { /* x_prev over x: copy x into the output first */
                memcpy(p32, x32, n * sizeof(float));
                memcpy(p64, x64, n * sizeof(double));
                s32 = dpo_step_philox_f32_mt(p32, with_x0 ? a32 : NULL, m32, p32, e32, nc, n, &c32, th);
                s64 = dpo_step_philox_f64_mt(p64, with_x0 ? a64 : NULL, m64, p64, e64, nc, n, &c64, th);
            } else {
                s32 = dpo_step_philox_f32_mt(p32, with_x0 ? a32 : NULL, m32, x32, e32, nc, n, &c32, th);
                s64 = dpo_step_philox_f64_mt(p64, with_x0 ? a64 : NULL, m64, x64, e64, nc, n, &c64, th);
            }
            CHECK(s32 == DPO_OK && s64 == DPO_OK, "status %d %d", (int)s32, (int)s64);
            CHECK(!memcmp(p32, rp32, n * 4) && !memcmp(m32, rm32, n * 4) &&
                      (!with_x0 || !memcmp(a32, rx32, n * 4)) && gb_guard_ok(&gp, p32, n * 4) &&
                      gb_guard_ok(&gm, m32, n * 4) && (with_x0 ? gb_guard_ok(&gx, a32, n * 4) : all_sent(gx.base, gx.bytes)),
                  "f32 step differs: level %s threads %d n %zu variant %d inplace %d x0 %d",
                  dpo_simd_level_name(level), th, n, variant, inplace, with_x0);
            CHECK(!memcmp(p64, rp64, n * 8) && !memcmp(m64, rm64, n * 8) &&
                      (!with_x0 || !memcmp(a64, rx64, n * 8)) && gb_guard_ok(&gp64, p64, n * 8) &&
                      gb_guard_ok(&gm64, m64, n * 8),
                  "f64 step differs: level %s threads %d n %zu variant %d inplace %d x0 %d",
                  dpo_simd_level_name(level), th, n, variant, inplace, with_x0);
            free(gp.base), free(gx.base), free(gm.base), free(gp64.base), free(gx64.base), free(gm64.base);
        }
    }
    free(x32), free(e32), free(x64), free(e64), free(rp32), free(rx32), free(rm32);
    free(rp64), free(rx64), free(rm64);
}

static void test_step_philox(void)
{
    int s;
    for (s = 0; s < NSIZES; s++) {
        step_philox_case(sizes[s], 0, 0, 1);
        step_philox_case(sizes[s], (int)(next() % 3), (int)(next() & 1), (int)(next() & 1));
    }
}

/* ------------------------------------------------------- fused step */

typedef struct fused_out {
    gbuf gp, gm, gl;
    float *xp, *mu;
    double *lp;
} fused_out;

static void fo_init(fused_out *f, size_t batch, size_t dim, size_t off)
{
    gb_init(&f->gp, batch * dim, 4);
    gb_init(&f->gm, batch * dim, 4);
    gb_init(&f->gl, batch, 8);
    f->xp = (float *)gb_at(&f->gp, 4, off);
    f->mu = (float *)gb_at(&f->gm, 4, (off + 4) % 16);
    f->lp = (double *)gb_at(&f->gl, 8, 0);
}

static void fo_free(fused_out *f)
{
    free(f->gp.base), free(f->gm.base), free(f->gl.base);
}

/* dpo_step_fused_x0_f32_mt against the single-threaded x0 pass: x0 equals
 * dpo_step_fused_x0_f32's, and x_prev, mu, logprob equal ref (the
 * scalar-level dpo_step_fused_f32), at every level and thread count. */
static void fused_x0_case(const fused_out *ref, dpo_status rst, const float *x, const float *e, const float *z,
                          const dpo_noise_coord *nc, size_t batch, size_t dim, const dpo_step_coef_f32 *c32,
                          int with_mu, int with_lp, dpo_logprob_mode mode)
{
    size_t n = batch * dim;
    float *x0r = (float *)xalloc(n * 4), *xpr = (float *)xalloc(n * 4);
    int level, k;
    force(DPO_SIMD_SCALAR);
    CHECK(dpo_step_fused_x0_f32(xpr, x0r, NULL, NULL, x, e, z, nc, batch, dim, c32, mode) == rst,
          "x0 reference status");
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (k = 0; k < NTC; k++) {
            int th = thread_counts[k];
            fused_out f;
            gbuf g0;
            float *x0;
            dpo_status st;
            fo_init(&f, batch, dim, (size_t)(next() % 4) * 4);
            gb_init(&g0, n, 4);
            x0 = (float *)gb_at(&g0, 4, (size_t)(next() % 4) * 4);
            st = dpo_step_fused_x0_f32_mt(f.xp, x0, with_mu ? f.mu : NULL, with_lp ? f.lp : NULL, x, e, z, nc,
                                          batch, dim, c32, mode, th);
            CHECK(st == rst, "x0 form: status %d, single-threaded %d", (int)st, (int)rst);
            CHECK(!memcmp(f.xp, ref->xp, n * 4) && !memcmp(x0, x0r, n * 4) && gb_guard_ok(&g0, x0, n * 4) &&
                      (!with_mu || !memcmp(f.mu, ref->mu, n * 4)) && (!with_lp || !memcmp(f.lp, ref->lp, batch * 8)),
                  "fused x0 differs: level %s threads %d batch %zu dim %zu", dpo_simd_level_name(level), th, batch,
                  dim);
            fo_free(&f);
            free(g0.base);
        }
    }
    free(x0r), free(xpr);
}

/* noise_kind 0: given, 1: coordinates, 2: none (eta 0 coefficients). */
static void fused_case(size_t batch, size_t dim, int noise_kind, int with_mu, int with_lp, dpo_logprob_mode mode,
                       float scale)
{
    size_t n = batch * dim;
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    dpo_noise_coord nc = rand_coord();
    float *x = (float *)xalloc(n * 4), *e = (float *)xalloc(n * 4), *z = (float *)xalloc(n * 4);
    fused_out ref;
    dpo_status rst;
    int level, k;
    coefs(&c32, &c64, 0);
    if (noise_kind == 2) {
        dpo_step_coef_f32_ddim(&c32, c32.alpha_t, c32.alpha_prev, 0.0f, DPO_PRED_EPSILON);
        with_lp = 0;
    }
    fill_f32(x, n, scale);
    fill_f32(e, n, scale);
    fill_f32(z, n, 3.0f);
    fo_init(&ref, batch, dim, 0);
    force(DPO_SIMD_SCALAR);
    rst = dpo_step_fused_f32(ref.xp, with_mu ? ref.mu : NULL, with_lp ? ref.lp : NULL, x, e,
                             noise_kind == 0 ? z : NULL, noise_kind == 1 ? &nc : NULL, batch, dim, &c32, mode);
    CHECK(rst == DPO_OK || (scale > 1e30f && rst == DPO_ERR_NONFINITE), "reference status %d", (int)rst);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (k = 0; k < NTC; k++) {
            int th = thread_counts[k];
            fused_out f;
            dpo_status st;
            fo_init(&f, batch, dim, (size_t)(next() % 4) * 4);
            st = dpo_step_fused_f32_mt(f.xp, with_mu ? f.mu : NULL, with_lp ? f.lp : NULL, x, e,
                                       noise_kind == 0 ? z : NULL, noise_kind == 1 ? &nc : NULL, batch, dim, &c32,
                                       mode, th);
            CHECK(st == rst, "status %d, single-threaded %d", (int)st, (int)rst);
            CHECK(!memcmp(f.xp, ref.xp, n * 4) && gb_guard_ok(&f.gp, f.xp, n * 4) &&
                      (with_mu ? !memcmp(f.mu, ref.mu, n * 4) && gb_guard_ok(&f.gm, f.mu, n * 4)
                               : all_sent(f.gm.base, f.gm.bytes)) &&
                      (with_lp ? !memcmp(f.lp, ref.lp, batch * 8) && gb_guard_ok(&f.gl, f.lp, batch * 8)
                               : all_sent(f.gl.base, f.gl.bytes)),
                  "fused differs: level %s threads %d batch %zu dim %zu noise %d mu %d lp %d mode %d",
                  dpo_simd_level_name(level), th, batch, dim, noise_kind, with_mu, with_lp, (int)mode);
            fo_free(&f);
        }
    }
    fused_x0_case(&ref, rst, x, e, noise_kind == 0 ? z : NULL, noise_kind == 1 ? &nc : NULL, batch, dim, &c32,
                  with_mu, with_lp, mode);
    fo_free(&ref);
    free(x), free(e), free(z);
}

static void test_fused(void)
{
    static const size_t batches[] = {1, 2, 3, 5, 8};
    static const size_t dims[] = {1, 3, 7, 31, 33, 4097};
    size_t b, d;
    for (b = 0; b < sizeof batches / sizeof batches[0]; b++)
        for (d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            fused_case(batches[b], dims[d], 0, 1, 1, DPO_LOGPROB_MEAN, 2.0f);
            fused_case(batches[b], dims[d], (int)(next() % 3), (int)(next() & 1), (int)(next() & 1),
                       next() & 1 ? DPO_LOGPROB_SUM : DPO_LOGPROB_MEAN, 2.0f);
        }
    fused_case(9, 517, 1, 1, 1, DPO_LOGPROB_SUM, 2.0f);
}

/* An overflow in one row (finite inputs near FLT_MAX): every logprob NaN
 * and DPO_ERR_NONFINITE, x_prev and mu as in one call. */
static void test_fused_overflow(void)
{
    size_t batch = 6, dim = 37, n = batch * dim, i;
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    float *x = (float *)xalloc(n * 4), *e = (float *)xalloc(n * 4), *z = (float *)xalloc(n * 4);
    fused_out ref;
    int k;
    coefs(&c32, &c64, 0);
    fill_f32(x, n, 1.0f);
    fill_f32(e, n, 1.0f);
    fill_f32(z, n, 1.0f);
    for (i = 4 * dim; i < 5 * dim; i++) /* row 4 only */
        x[i] = 3.0e38f, e[i] = -3.0e38f;
    fo_init(&ref, batch, dim, 0);
    force(DPO_SIMD_SCALAR);
    CHECK(dpo_step_fused_f32(ref.xp, ref.mu, ref.lp, x, e, z, NULL, batch, dim, &c32, DPO_LOGPROB_SUM) ==
              DPO_ERR_NONFINITE, "the single-threaded call reports the overflow");
    for (k = 0; k < NTC; k++) {
        fused_out f;
        dpo_status st;
        fo_init(&f, batch, dim, 4);
        st = dpo_step_fused_f32_mt(f.xp, f.mu, f.lp, x, e, z, NULL, batch, dim, &c32, DPO_LOGPROB_SUM,
                                   thread_counts[k]);
        CHECK(st == DPO_ERR_NONFINITE, "threads %d: status %d", thread_counts[k], (int)st);
        CHECK(!memcmp(f.xp, ref.xp, n * 4) && !memcmp(f.mu, ref.mu, n * 4) && !memcmp(f.lp, ref.lp, batch * 8),
              "threads %d: outputs differ from the single-threaded call", thread_counts[k]);
        for (i = 0; i < batch; i++)
            CHECK(f.lp[i] != f.lp[i], "threads %d: logprob[%zu] not NaN", thread_counts[k], i);
        fo_free(&f);
    }
    fo_free(&ref);
    free(x), free(e), free(z);
}

/* ------------------------------------------------------------ errors */

/* Same status as the single-threaded call; the outputs untouched by both. */
#define SAME_ERR(single, multi, what)                                                              \
    do {                                                                                           \
        dpo_status s1_, s2_;                                                                       \
        int k_;                                                                                    \
        s1_ = (single);                                                                            \
        CHECK(s1_ != DPO_OK, "%s: the single-threaded call accepts it", what);                     \
        for (k_ = 0; k_ < NTC; k_++) {                                                             \
            int th = thread_counts[k_];                                                            \
            s2_ = (multi);                                                                         \
            CHECK(s2_ == s1_, "%s, threads %d: status %s, single-threaded %s", what, th,           \
                  dpo_status_str(s2_), dpo_status_str(s1_));                                       \
        }                                                                                          \
        CHECK(all_sent(o32, sizeof o32) && all_sent(o64, sizeof o64) && all_sent(m32, sizeof m32) && \
                  all_sent(lp, sizeof lp),                                                         \
              "%s: an output was written", what);                                                  \
    } while (0)

#define EN 4099
static float o32[EN], m32[EN], in32[EN], ep32[EN], nz32[EN];
static double o64[EN], in64[EN], ep64[EN];
static double lp[8];

static void test_errors(void)
{
    dpo_noise_coord c = rand_coord(), bad = c;
    dpo_step_coef_f32 c32, cnan;
    dpo_step_coef_f64 c64;
    const size_t B = 7, D = EN / 7; /* 7 rows of 585 */
    static const int bad_threads[] = {-1, -3, DPO_MAX_THREADS + 1, 100000};
    int th, bt;
    memset(o32, SENT, sizeof o32), memset(o64, SENT, sizeof o64), memset(m32, SENT, sizeof m32);
    memset(lp, SENT, sizeof lp);
    coefs(&c32, &c64, 0);
    cnan = c32;
    cnan.sigma = 0.0f / 0.0f;
    fill_f32(in32, EN, 1.0f), fill_f32(ep32, EN, 1.0f), fill_f32(nz32, EN, 1.0f);
    fill_f64(in64, EN, 1.0), fill_f64(ep64, EN, 1.0);
    bad.stream = 70000;

    /* a bad thread count: DPO_ERR_RANGE, nothing written */
    for (bt = 0; bt < 4; bt++) {
        th = bad_threads[bt];
        CHECK(dpo_normal_f32_mt(o32, c, 0, EN, th) == DPO_ERR_RANGE, "threads %d", th);
        CHECK(dpo_normal_f64_mt(o64, c, 0, EN, th) == DPO_ERR_RANGE, "threads %d", th);
        CHECK(dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, c, EN, &c32, th) == DPO_ERR_RANGE, "threads %d", th);
        CHECK(dpo_step_philox_f64_mt(o64, NULL, NULL, in64, ep64, c, EN, &c64, th) == DPO_ERR_RANGE, "threads %d", th);
        CHECK(dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM, th) ==
                  DPO_ERR_RANGE, "threads %d", th);
    }
    CHECK(all_sent(o32, sizeof o32) && all_sent(o64, sizeof o64) && all_sent(m32, sizeof m32) &&
              all_sent(lp, sizeof lp), "a bad thread count wrote an output");
    CHECK(dpo_normal_f32_mt(o32, c, 0, 1, DPO_MAX_THREADS) == DPO_OK, "DPO_MAX_THREADS is accepted");
    memset(o32, SENT, sizeof o32);

    /* normals */
    SAME_ERR(dpo_normal_f32(o32, c, 0, 0), dpo_normal_f32_mt(o32, c, 0, 0, th), "n = 0");
    SAME_ERR(dpo_normal_f64(NULL, c, 0, EN), dpo_normal_f64_mt(NULL, c, 0, EN, th), "NULL out");
    SAME_ERR(dpo_normal_f32(o32, bad, 0, EN), dpo_normal_f32_mt(o32, bad, 0, EN, th), "stream >= 65536");
    SAME_ERR(dpo_normal_f64(o64, c, ((uint64_t)1 << 34) - 5, EN), dpo_normal_f64_mt(o64, c, ((uint64_t)1 << 34) - 5, EN, th),
             "past 2^34");

    /* the Philox step */
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, NULL, ep32, c, EN, &c32),
             dpo_step_philox_f32_mt(o32, NULL, m32, NULL, ep32, c, EN, &c32, th), "NULL x");
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, in32, ep32, c, 0, &c32),
             dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, c, 0, &c32, th), "n = 0");
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, in32, ep32, bad, EN, &c32),
             dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, bad, EN, &c32, th), "bad coordinates");
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, in32, ep32, c, EN, &cnan),
             dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, c, EN, &cnan, th), "NaN sigma");
    SAME_ERR(dpo_step_philox_f32(o32, NULL, o32 + 1, in32, ep32, c, EN - 1, &c32),
             dpo_step_philox_f32_mt(o32, NULL, o32 + 1, in32, ep32, c, EN - 1, &c32, th), "outputs overlap");
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, o32 + 3, ep32, c, EN - 3, &c32),
             dpo_step_philox_f32_mt(o32, NULL, m32, o32 + 3, ep32, c, EN - 3, &c32, th), "x_prev overlaps x");
    in32[EN - 1] = 1.0f / 0.0f; /* in the last piece */
    SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, in32, ep32, c, EN, &c32),
             dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, c, EN, &c32, th), "infinite x in the last piece");
    in32[EN - 1] = 0.5f;
    {
        /* a non-finite input at either end of every piece of every thread count */
        size_t q;
        for (q = 0; q < EN; q++) {
            if (q % 64 != 0 && q % 64 != 63 && q != EN - 1)
                continue;
            ep32[q] = 0.0f / 0.0f;
            SAME_ERR(dpo_step_philox_f32(o32, NULL, m32, in32, ep32, c, EN, &c32),
                     dpo_step_philox_f32_mt(o32, NULL, m32, in32, ep32, c, EN, &c32, th), "NaN model output");
            ep32[q] = 0.5f;
            in64[q] = 1.0 / 0.0;
            SAME_ERR(dpo_step_philox_f64(o64, NULL, NULL, in64, ep64, c, EN, &c64),
                     dpo_step_philox_f64_mt(o64, NULL, NULL, in64, ep64, c, EN, &c64, th), "infinite x, f64");
            in64[q] = 0.5;
        }
        for (q = 0; q < B; q++) {
            size_t at[2];
            int w;
            at[0] = q * D, at[1] = q * D + D - 1;
            for (w = 0; w < 2; w++) {
                in32[at[w]] = -1.0f / 0.0f;
                SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM),
                         dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM, th),
                         "infinite x at a row's end");
                in32[at[w]] = 0.5f;
            }
        }
    }
    ep64[EN - 2] = 0.0 / 0.0;
    SAME_ERR(dpo_step_philox_f64(o64, NULL, NULL, in64, ep64, c, EN, &c64),
             dpo_step_philox_f64_mt(o64, NULL, NULL, in64, ep64, c, EN, &c64, th), "NaN model output, f64");
    ep64[EN - 2] = 0.5;

    /* the fused step */
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, &c, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, &c, B, D, &c32, DPO_LOGPROB_SUM, th),
             "noise and coordinates");
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, NULL, NULL, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, NULL, NULL, B, D, &c32, DPO_LOGPROB_SUM, th),
             "no noise with sigma > 0");
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, NULL, 0, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, 0, D, &c32, DPO_LOGPROB_SUM, th), "batch 0");
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, (dpo_logprob_mode)7),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, (dpo_logprob_mode)7, th),
             "bad mode");
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, NULL, &bad, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, NULL, &bad, B, D, &c32, DPO_LOGPROB_SUM, th),
             "bad coordinates");
    SAME_ERR(dpo_step_fused_f32(o32, m32, (double *)(void *)in32, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, (double *)(void *)in32, in32, ep32, nz32, NULL, B, D, &c32,
                                   DPO_LOGPROB_SUM, th),
             "logprob over x");
    SAME_ERR(dpo_step_fused_f32(o32, o32 + 2, lp, in32, ep32, nz32, NULL, B, D - 1, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, o32 + 2, lp, in32, ep32, nz32, NULL, B, D - 1, &c32, DPO_LOGPROB_SUM, th),
             "mu overlaps x_prev");
    {
        dpo_step_coef_f32 c0;
        dpo_step_coef_f32_ddim(&c0, c32.alpha_t, c32.alpha_prev, 0.0f, DPO_PRED_EPSILON);
        SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, NULL, NULL, B, D, &c0, DPO_LOGPROB_SUM),
                 dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, NULL, NULL, B, D, &c0, DPO_LOGPROB_SUM, th),
                 "logprob with sigma 0");
    }
    nz32[B * D - 1] = 0.0f / 0.0f; /* the last element of the last row */
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM, th),
             "NaN noise in the last row");
    nz32[B * D - 1] = 0.5f;
    ep32[0] = -1.0f / 0.0f;
    SAME_ERR(dpo_step_fused_f32(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM),
             dpo_step_fused_f32_mt(o32, m32, lp, in32, ep32, nz32, NULL, B, D, &c32, DPO_LOGPROB_SUM, th),
             "infinite model output in the first row");
    ep32[0] = 0.5f;
}

/* Two multi-threaded calls at once from two threads of the caller: no
 * shared state between calls. */
#include <pthread.h>
typedef struct conc {
    dpo_noise_coord c;
    float *out;
    size_t n;
    dpo_status st;
} conc;

static void *conc_main(void *p)
{
    conc *k = (conc *)p;
    k->st = dpo_normal_f32_mt(k->out, k->c, 0, k->n, 3);
    return NULL;
}

static void test_concurrent(void)
{
    const size_t n = 20001;
    conc a, b;
    pthread_t t;
    float *ra = (float *)xalloc(n * 4), *rb = (float *)xalloc(n * 4);
    unsetenv("DPO_SIMD");
    a.c = rand_coord(), b.c = rand_coord();
    a.n = b.n = n;
    a.out = (float *)xalloc(n * 4), b.out = (float *)xalloc(n * 4);
    CHECK(dpo_normal_f32(ra, a.c, 0, n) == DPO_OK && dpo_normal_f32(rb, b.c, 0, n) == DPO_OK, "reference");
    CHECK(pthread_create(&t, NULL, conc_main, &a) == 0, "pthread_create");
    conc_main(&b);
    pthread_join(t, NULL);
    CHECK(a.st == DPO_OK && b.st == DPO_OK && !memcmp(a.out, ra, n * 4) && !memcmp(b.out, rb, n * 4),
          "concurrent calls differ");
    free(a.out), free(b.out), free(ra), free(rb);
}

/* Threads that cannot be created: the pieces run on the calling thread,
 * with the same bits and DPO_OK.  A child process lowers its address-space
 * limit until a thread stack no longer fits (checked with a plain
 * pthread_create), then calls the _mt forms.  Skipped under valgrind and
 * the sanitizers, which need the address space themselves. */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static int block_fd = -1;
static void *block_main(void *p)
{
    char ch;
    while (read(block_fd, &ch, 1) < 0)
        ;
    return p;
}

static void test_create_fails(void)
{
    const size_t n = 4097;
    float *r = (float *)xalloc(n * 4), *o = (float *)xalloc(n * 4);
    dpo_noise_coord c = rand_coord();
    pid_t pid;
    int status = 0;
    if (getenv("DPO_UNDER_VALGRIND") || UNDER_SANITIZER) {
        printf("  (skipped under valgrind and the sanitizers)\n");
        free(r), free(o);
        return;
    }
    unsetenv("DPO_SIMD");
    CHECK(dpo_normal_f32(r, c, 0, n) == DPO_OK, "reference");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        struct rlimit lim;
        pthread_t t;
        long pages = 0, psz = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1)
            _exit(3);
        fclose(f);
        lim.rlim_cur = lim.rlim_max = (rlim_t)(pages * psz + ((long)1 << 20));
        int fds[2], k;
        if (pipe(fds) != 0 || setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(3);
        block_fd = fds[0];
        /* threads that wait on the pipe take the stacks the C library keeps
         * for reuse, until a new one cannot be mapped */
        for (k = 0; k < 1000; k++)
            if (pthread_create(&t, NULL, block_main, NULL) != 0)
                break;
        if (k == 1000)
            _exit(4); /* threads still start here (an emulator ignoring the limit) */
        if (dpo_normal_f32_mt(o, c, 0, n, 4) != DPO_OK || memcmp(o, r, n * 4) != 0)
            _exit(1);
        _exit(0);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status), "child");
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 4))
        printf("  (the address-space limit did not stop thread creation here (%d): not exercised)\n", WEXITSTATUS(status));
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "with no thread creatable the call differs or fails (child status %d)", WEXITSTATUS(status));
    free(r), free(o);
}

int main(void)
{
    int l;
    printf("simd levels on this CPU:");
    for (l = 0; l < DPO_SIMD_NLEVELS; l++)
        if (dpo_simd_supported(l))
            printf(" %s", dpo_simd_level_name(l));
    printf("\n");
    RUN(test_normals);
    RUN(test_step_philox);
    RUN(test_fused);
    RUN(test_fused_overflow);
    RUN(test_errors);
    RUN(test_concurrent);
    RUN(test_create_fails);
    unsetenv("DPO_SIMD");
    return chk_summary();
}
