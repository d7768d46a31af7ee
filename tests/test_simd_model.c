/* The vector forms of the training element loops (src/cpu_simd_model.h)
 * against the scalar definition, bit for bit, at every level this CPU
 * supports (level 0 too: the dispatcher's own scalar path, the only one on
 * other targets): AdamW, SiLU and its vector-Jacobian product, the leaves of the
 * canonical reduction tree, the loss term sums and the losses' gradient
 * writes.  The reference is computed here straight from the scalar element
 * math of src/core (dpo_adamw_elem, dpo_silu_f32, dpo_silu_vjp_f32,
 * dpo_sum_add of dpo_lr_term, dpo_err_diff_term and dpo_lp_term, dpo_st of
 * dpo_grad_diff), never through the dispatching code.  Shapes: 0, 1, 3, 7,
 * 8, 9, 31, 33 elements and larger ones with every tail, pointers
 * misaligned against every vector width, guard elements around each
 * output, special values (zeros of both signs, subnormals, infinities, NaN,
 * the exp underflow and rescaling edges) where the scalar code defines them
 * (a NaN must stay a NaN; its payload is compiler-dependent even in the
 * scalar code, see same_f32).  The public paths (dpo_adamw_step, the
 * network's forward and backward, the log-ratio, the step's
 * log-probability) are checked with DPO_SIMD
 * forcing each level in turn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_align.h"
#include "diffpo_loss.h"
#include "core/dpo_mlp.h"
#include "core/dpo_loss.h"
#include "core/dpo_reduce.h"
#include "core/dpo_ddim.h"
#include "cpu_simd_model.h"

#define MAXN 20000
#define PAD 16

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* uniform in [-1, 1) */
static double unif(void)
{
    return (double)(next() >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* A float of random sign and magnitude 2^e, e uniform in [lo, hi]. */
static float wide_f32(int lo, int hi)
{
    int e = lo + (int)(next() % (uint64_t)(hi - lo + 1));
    return (float)(unif() * ldexp(1.0, e));
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Same bits, or both NaN.  NaN payloads are not part of the contract: which
 * operand's NaN an operation passes on follows the compiler's operand order
 * even in the scalar code (dpo_silu_vjp_f32 with a NaN gradient and a NaN
 * input returns the gradient's NaN at gcc -O0 and the input's at -O2). */
static int same_f32(const float *a, const float *b)
{
    return memcmp(a, b, 4) == 0 || (*a != *a && *b != *b);
}

static const size_t sizes[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 129, 1000, 4099};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* ------------------------------------------------------------- AdamW */

static float p0[MAXN], m0[MAXN], v0[MAXN], g0[MAXN];
static float rp[MAXN], rm[MAXN], rv[MAXN];
static float gp[MAXN + PAD], gm[MAXN + PAD], gv[MAXN + PAD], gg[MAXN + PAD];

static void adamw_inputs(size_t n, int kind)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p0[i] = wide_f32(-20, 3);
        m0[i] = wide_f32(-30, 0);
        v0[i] = (float)fabs(wide_f32(-60, 0));
        g0[i] = kind == 0 ? wide_f32(-12, 2) : wide_f32(-140, 60); /* 1: subnormal .. g*g = inf */
        if (kind == 1 && i % 7 == 3)
            g0[i] = (i & 8) ? 0.0f : -0.0f;
        if (kind == 1 && i % 11 == 5)
            v0[i] = 0.0f;
        if (kind == 1 && i % 13 == 2)
            p0[i] = bits_f32(0x00000001u); /* smallest subnormal */
    }
}

static void test_adamw(void)
{
    static const double lrs[] = {1e-3, 0.5};
    static const double wds[] = {0.0, 0.01};
    static const uint64_t steps[] = {1, 2, 1000};
    int level, kind;
    size_t s, off, i;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (kind = 0; kind < 2; kind++)
            for (s = 0; s < NSIZES; s++)
                for (off = 0; off < 4; off++) {
                    size_t n = sizes[s], bad = 0, guard = 0;
                    dpo_adamw_coef c;
                    int h = (int)(next() % 12);
                    dpo_adamw_coef_init(&c, lrs[h & 1], 0.9, 0.999, 1e-8, wds[(h >> 1) & 1], steps[h >> 2]);
                    adamw_inputs(n, kind);
                    for (i = 0; i < MAXN + PAD; i++)
                        gp[i] = gm[i] = gv[i] = gg[i] = -7.0f;
                    memcpy(rp, p0, n * sizeof(float));
                    memcpy(rm, m0, n * sizeof(float));
                    memcpy(rv, v0, n * sizeof(float));
                    memcpy(gp + off, p0, n * sizeof(float));
                    memcpy(gm + off, m0, n * sizeof(float));
                    memcpy(gv + off, v0, n * sizeof(float));
                    memcpy(gg + off, g0, n * sizeof(float));
                    for (i = 0; i < n; i++)
                        dpo_adamw_elem(rp + i, rm + i, rv + i, g0[i], &c);
                    dpo__simd_adamw_f32(gp + off, gm + off, gv + off, gg + off, n, &c, level);
                    for (i = 0; i < n; i++)
                        if (!same_f32(&rp[i], &gp[off + i]) || !same_f32(&rm[i], &gm[off + i]) ||
                            !same_f32(&rv[i], &gv[off + i]))
                            bad++;
                    for (i = 0; i < MAXN + PAD; i++)
                        if ((i < off || i >= off + n) && (gp[i] != -7.0f || gm[i] != -7.0f || gv[i] != -7.0f))
                            guard++;
                    CHECK(bad == 0 && guard == 0, "level %s kind %d n %zu off %zu: %zu differ, %zu guard written",
                          dpo_simd_level_name(level), kind, n, off, bad, guard);
                }
    }
}

/* dpo_adamw_step (the public entry) with DPO_SIMD forcing each level: every
 * level's result equals the scalar element loop's. */
static void test_adamw_public(void)
{
    dpo_adamw h = dpo_adamw_default(1e-3);
    size_t n = 4099, i;
    int level;
    dpo_adamw_coef c;
    h.weight_decay = 0.02;
    adamw_inputs(n, 0);
    memcpy(rp, p0, n * 4);
    memcpy(rm, m0, n * 4);
    memcpy(rv, v0, n * 4);
    dpo_adamw_coef_init(&c, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, 7);
    for (i = 0; i < n; i++)
        dpo_adamw_elem(rp + i, rm + i, rv + i, g0[i], &c);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
        memcpy(gp + 1, p0, n * 4);
        memcpy(gm + 1, m0, n * 4);
        memcpy(gv + 1, v0, n * 4);
        memcpy(gg + 1, g0, n * 4);
        CHECK(dpo_adamw_step(gp + 1, gm + 1, gv + 1, gg + 1, n, &h, 7) == DPO_OK, "status");
        CHECK(!memcmp(rp, gp + 1, n * 4) && !memcmp(rm, gm + 1, n * 4) && !memcmp(rv, gv + 1, n * 4),
              "level %s: dpo_adamw_step differs from the element loop", dpo_simd_level_name(level));
        /* a non-finite gradient is still refused with the outputs untouched */
        gg[1 + n / 2] = bits_f32(0x7f800000u);
        memcpy(gp + 1, p0, n * 4);
        CHECK(dpo_adamw_step(gp + 1, gm + 1, gv + 1, gg + 1, n, &h, 7) == DPO_ERR_NONFINITE &&
                  !memcmp(gp + 1, p0, n * 4),
              "level %s: non-finite gradient", dpo_simd_level_name(level));
    }
    unsetenv("DPO_SIMD");
}

/* ------------------------------------------------------------- SiLU */

static float zin[MAXN], gin[MAXN], ra[MAXN], ga[MAXN + PAD];

/* z values: moderate, large (the exp rescaling below 2^-1000 and the
 * underflow to 0 near |z| = 693 .. 746), tiny, and the special values. */
static void silu_inputs(size_t n)
{
    static const uint32_t special[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x7f800000u, 0xff800000u,
        0x7fc00000u, 0xffc00001u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u, 0xbf800000u,
    };
    size_t i;
    for (i = 0; i < n; i++) {
        switch (next() % 6) {
        case 0:
            zin[i] = (float)(unif() * 8.0);
            break;
        case 1:
            zin[i] = (float)(unif() * 40.0);
            break;
        case 2: /* |z| in [680, 760]: k crosses -1000 and the underflow bound */
            zin[i] = (float)((unif() < 0 ? -1.0 : 1.0) * (680.0 + 80.0 * fabs(unif())));
            break;
        case 3:
            zin[i] = wide_f32(-149, 127);
            break;
        case 4:
            zin[i] = bits_f32(special[next() % (sizeof special / sizeof special[0])]);
            break;
        default:
            zin[i] = (float)(unif() * 1e-3);
        }
        gin[i] = next() % 17 == 0 ? bits_f32(special[next() % 12]) : wide_f32(-30, 10);
    }
}

static void test_silu(void)
{
    int level, rep;
    size_t s, off, i;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (rep = 0; rep < 3; rep++)
            for (s = 0; s < NSIZES; s++)
                for (off = 0; off < 4; off++) {
                    size_t n = sizes[s], bad = 0, badv = 0, guard = 0;
                    silu_inputs(n);
                    for (i = 0; i < MAXN + PAD; i++)
                        ga[i] = -7.0f;
                    for (i = 0; i < n; i++)
                        ra[i] = dpo_silu_f32(zin[i]);
                    dpo__simd_silu_f32(ga + off, zin, n, level);
                    for (i = 0; i < n; i++)
                        bad += !same_f32(&ra[i], &ga[off + i]);
                    for (i = 0; i < MAXN + PAD; i++)
                        guard += (i < off || i >= off + n) && ga[i] != -7.0f;
                    /* the VJP, in place on a misaligned gradient */
                    for (i = 0; i < n; i++)
                        ra[i] = dpo_silu_vjp_f32(gin[i], zin[i]);
                    memcpy(ga + off, gin, n * 4);
                    dpo__simd_silu_vjp_f32(ga + off, zin, n, level);
                    for (i = 0; i < n; i++)
                        badv += !same_f32(&ra[i], &ga[off + i]);
                    for (i = 0; i < MAXN + PAD; i++)
                        guard += (i < off || i >= off + n) && ga[i] != -7.0f;
                    CHECK(bad == 0 && badv == 0 && guard == 0,
                          "level %s n %zu off %zu: %zu silu and %zu vjp differ, %zu guard written",
                          dpo_simd_level_name(level), n, off, bad, badv, guard);
                }
    }
}

/* Every float of one binade sweep of z in [-760, 760] and at the exp
 * underflow bound, so that each branch edge is met exactly. */
static void test_silu_sweep(void)
{
    int level;
    size_t i, n = 0, bad = 0;
    float lim = (float)745.1332191019412;
    for (i = 0; i < 4000; i++)
        zin[n++] = (float)(-760.0 + 0.38 * (double)i);
    for (i = 0; i < 200; i++) {
        uint32_t u;
        memcpy(&u, &lim, 4);
        zin[n++] = bits_f32(u - 100u + (uint32_t)i);
        zin[n++] = -bits_f32(u - 100u + (uint32_t)i);
    }
    for (i = 0; i < 400; i++) { /* z where -z / ln 2 rounds to -1000 or -1001 */
        zin[n] = (float)(-(1000.5 * 0.69314718055994530942) + 0.0005 * ((double)i - 200.0));
        zin[n + 1] = -zin[n];
        n += 2;
    }
    for (i = 0; i < n; i++)
        ra[i] = dpo_silu_f32(zin[i]);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        dpo__simd_silu_f32(ga, zin, n, level);
        for (i = 0; i < n; i++)
            bad += !same_f32(&ra[i], &ga[i]);
        CHECK(bad == 0, "level %s: %zu of %zu differ", dpo_simd_level_name(level), bad, n);
    }
}

/* The double sigmoid under SiLU, on doubles: every lane's bits (the float
 * outputs above hide most last-bit differences of the double kernel). */
static double sx[MAXN], sref[MAXN], sgot[MAXN + PAD];

static void test_sigmoid_f64(void)
{
    static const uint64_t special[] = {0, 0x8000000000000000ULL, 1, 0x8000000000000001ULL, 0x7ff0000000000000ULL,
                                       0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0xfff8000000000123ULL,
                                       0x7fefffffffffffffULL, 0xffefffffffffffffULL};
    int level;
    size_t i, n = MAXN, off, bad;
    for (i = 0; i < n; i++) {
        switch (i % 5) {
        case 0:
            sx[i] = unif() * 10.0;
            break;
        case 1:
            sx[i] = unif() * 50.0;
            break;
        case 2:
            sx[i] = (unif() < 0 ? -1.0 : 1.0) * (690.0 + 60.0 * fabs(unif()));
            break;
        case 3:
            sx[i] = unif() * ldexp(1.0, (int)(next() % 2000) - 1000);
            break;
        default:
            if (i % 50 == 4)
                memcpy(&sx[i], &special[(i / 50) % 10], 8);
            else
                sx[i] = (unif() < 0 ? -1.0 : 1.0) * (0.69314718055994530942 * (1000.5 + 0.01 * unif()));
        }
        sref[i] = dpo_sigmoid(sx[i]);
    }
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (off = 0; off < 3; off++) {
            bad = 0;
            dpo__simd_sigmoid_f64(sgot + off, sx, n - off, level);
            for (i = 0; i < n - off; i++)
                bad += memcmp(&sref[i], &sgot[off + i], 8) != 0;
            CHECK(bad == 0, "level %s off %zu: %zu of %zu differ", dpo_simd_level_name(level), off, bad, n - off);
        }
    }
}

/* ------------------------------------------------------------- leaves */

static double tin[MAXN + PAD], rpart[MAXN / 64 + 2], gpart[MAXN / 64 + 2 + PAD];

static void test_leaves(void)
{
    static const size_t ln[] = {0,   1,   3,   7,   8,   9,        31,       33,       63,        64,  65,
                                127, 128, 129, 256, 320, 64 * 8 + 5, 64 * 9, 64 * 17 + 33, 64 * 33, 5000, MAXN};
    int level, kind;
    size_t s, off, i, k;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (kind = 0; kind < 3; kind++)
            for (s = 0; s < sizeof ln / sizeof ln[0]; s++)
                for (off = 0; off < 3; off++) {
                    size_t n = ln[s], nb = (n + 63) / 64, bad = 0, guard = 0;
                    dpo_sum sum;
                    dpo_tree tree;
                    double whole;
                    for (i = 0; i < n; i++) {
                        /* wide exponents: any other order of additions changes bits */
                        tin[off + i] = unif() * ldexp(1.0, (int)(next() % 80) - 40);
                        if (kind == 2 && next() % 97 == 0)
                            tin[off + i] = next() & 1 ? HUGE_VAL : -HUGE_VAL;
                        if (kind == 1 && i % 64 == 0)
                            tin[off + i] = -0.0;
                    }
                    for (k = 0; k < nb; k++) {
                        size_t len = n - 64 * k < 64 ? n - 64 * k : 64;
                        double v = tin[off + 64 * k];
                        for (i = 1; i < len; i++)
                            v = v + tin[off + 64 * k + i];
                        rpart[k] = v;
                    }
                    for (i = 0; i < sizeof gpart / sizeof gpart[0]; i++)
                        gpart[i] = -7.0;
                    dpo__simd_leaves_f64(gpart + off, tin + off, n, level);
                    for (k = 0; k < nb; k++)
                        bad += memcmp(&rpart[k], &gpart[off + k], 8) != 0;
                    for (i = 0; i < sizeof gpart / sizeof gpart[0]; i++)
                        guard += (i < off || i >= off + nb) && gpart[i] != -7.0;
                    /* the whole sum through the tree equals the streaming definition */
                    dpo_sum_init(&sum);
                    for (i = 0; i < n; i++)
                        dpo_sum_add(&sum, tin[off + i]);
                    whole = dpo_sum_result(&sum);
                    dpo_tree_init(&tree);
                    for (k = 0; k < nb; k++)
                        dpo_tree_push(&tree, gpart[off + k]);
                    {
                        double got = dpo_tree_result(&tree);
                        CHECK(bad == 0 && guard == 0 && memcmp(&got, &whole, 8) == 0,
                              "level %s kind %d n %zu off %zu: %zu partials differ, %zu guard written, sum %a vs %a",
                              dpo_simd_level_name(level), kind, n, off, bad, guard, got, whole);
                    }
                }
    }
}

/* ------------------------------------------------------------- log-ratio */

static float fx[MAXN + PAD], fm[MAXN + PAD], fr[MAXN + PAD];
static double dx[MAXN + PAD], dm[MAXN + PAD], dr[MAXN + PAD];

static void test_lr_sum(void)
{
    static const size_t ln[] = {0, 1, 3, 7, 8, 9, 31, 33, 64, 65, 1023, 1024, 1025, 3000, 16384 + 7};
    int level;
    size_t s, off, i;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (s = 0; s < sizeof ln / sizeof ln[0]; s++)
            for (off = 0; off < 3; off++) {
                size_t n = ln[s];
                dpo_sum r32, r64, e32, e64;
                double want32, want64, got32, got64, ew32, ew64, eg32, eg64;
                for (i = 0; i < n; i++) {
                    fx[off + i] = (float)unif();
                    fm[off + i] = fx[off + i] + wide_f32(-24, -4);
                    fr[off + i] = fm[off + i] + wide_f32(-30, -8);
                    dx[off + i] = unif();
                    dm[off + i] = dx[off + i] + unif() * ldexp(1.0, -(int)(next() % 30));
                    dr[off + i] = dm[off + i] + unif() * ldexp(1.0, -(int)(next() % 40));
                }
                dpo_sum_init(&r32);
                dpo_sum_init(&r64);
                dpo_sum_init(&e32);
                dpo_sum_init(&e64);
                for (i = 0; i < n; i++) {
                    dpo_sum_add(&r32, dpo_lr_term((double)fx[off + i], (double)fm[off + i], (double)fr[off + i]));
                    dpo_sum_add(&r64, dpo_lr_term(dx[off + i], dm[off + i], dr[off + i]));
                    dpo_sum_add(&e32, dpo_err_diff_term((double)fx[off + i], (double)fm[off + i], (double)fr[off + i]));
                    dpo_sum_add(&e64, dpo_err_diff_term(dx[off + i], dm[off + i], dr[off + i]));
                }
                {
                    dpo_sum l32, l64;
                    double lw32, lw64, lg32, lg64;
                    dpo_sum_init(&l32);
                    dpo_sum_init(&l64);
                    for (i = 0; i < n; i++) {
                        dpo_sum_add(&l32, dpo_lp_term((double)fx[off + i], (double)fm[off + i]));
                        dpo_sum_add(&l64, dpo_lp_term(dx[off + i], dm[off + i]));
                    }
                    lw32 = dpo_sum_result(&l32);
                    lw64 = dpo_sum_result(&l64);
                    lg32 = dpo__simd_lp_sum(fx + off, fm + off, n, 1, level);
                    lg64 = dpo__simd_lp_sum(dx + off, dm + off, n, 0, level);
                    CHECK(!memcmp(&lg32, &lw32, 8) && !memcmp(&lg64, &lw64, 8),
                          "level %s n %zu off %zu: lp sum f32 %a vs %a, f64 %a vs %a", dpo_simd_level_name(level),
                          n, off, lg32, lw32, lg64, lw64);
                }
                ew32 = dpo_sum_result(&e32);
                ew64 = dpo_sum_result(&e64);
                eg32 = dpo__simd_err_sum(fx + off, fm + off, fr + off, n, 1, level);
                eg64 = dpo__simd_err_sum(dx + off, dm + off, dr + off, n, 0, level);
                CHECK(!memcmp(&eg32, &ew32, 8) && !memcmp(&eg64, &ew64, 8),
                      "level %s n %zu off %zu: err sum f32 %a vs %a, f64 %a vs %a", dpo_simd_level_name(level), n,
                      off, eg32, ew32, eg64, ew64);
                want32 = dpo_sum_result(&r32);
                want64 = dpo_sum_result(&r64);
                got32 = dpo__simd_lr_sum(fx + off, fm + off, fr + off, n, 1, level);
                got64 = dpo__simd_lr_sum(dx + off, dm + off, dr + off, n, 0, level);
                CHECK(!memcmp(&got32, &want32, 8) && !memcmp(&got64, &want64, 8),
                      "level %s n %zu off %zu: f32 %a vs %a, f64 %a vs %a", dpo_simd_level_name(level), n, off,
                      got32, want32, got64, want64);
            }
    }
}

/* The losses' gradient writes: g[i] = coef (a[i] - b[i]) stored as float32
 * (rounded once) or float64, against dpo_st(dpo_grad_diff(...)). */
static float gf[MAXN + PAD], rf[MAXN];
static double gd[MAXN + PAD], rd[MAXN];

static void test_grad_diff(void)
{
    static const double coefs[] = {1.0, -3.7e-3, 6.02e23, 1e-300, 0.0};
    int level;
    size_t s, off, i, c;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (c = 0; c < sizeof coefs / sizeof coefs[0]; c++)
            for (s = 0; s < NSIZES; s++)
                for (off = 0; off < 3; off++) {
                    size_t n = sizes[s], bad = 0, guard = 0;
                    for (i = 0; i < n; i++) {
                        fx[i] = wide_f32(-30, 30);
                        fm[i] = i % 9 == 4 ? fx[i] : fx[i] + wide_f32(-40, 20);
                        dx[i] = unif() * ldexp(1.0, (int)(next() % 200) - 100);
                        dm[i] = dx[i] + unif() * ldexp(1.0, (int)(next() % 200) - 120);
                    }
                    for (i = 0; i < MAXN + PAD; i++) {
                        gf[i] = -7.0f;
                        gd[i] = -7.0;
                    }
                    for (i = 0; i < n; i++) {
                        dpo_st(rf, 1, i, dpo_grad_diff(coefs[c], (double)fx[i], (double)fm[i]));
                        dpo_st(rd, 0, i, dpo_grad_diff(coefs[c], dx[i], dm[i]));
                    }
                    dpo__simd_grad_diff(gf + off, fx, fm, n, coefs[c], 1, level);
                    dpo__simd_grad_diff(gd + off, dx, dm, n, coefs[c], 0, level);
                    for (i = 0; i < n; i++)
                        bad += memcmp(&rf[i], &gf[off + i], 4) != 0 || memcmp(&rd[i], &gd[off + i], 8) != 0;
                    for (i = 0; i < MAXN + PAD; i++)
                        guard += (i < off || i >= off + n) && (gf[i] != -7.0f || gd[i] != -7.0);
                    CHECK(bad == 0 && guard == 0, "level %s coef %g n %zu off %zu: %zu differ, %zu guard written",
                          dpo_simd_level_name(level), coefs[c], n, off, bad, guard);
                }
    }
}

/* The public log-ratio (dpo_logratio_f32/f64) with each level forced gives
 * the scalar level's bits. */
static void test_lr_public(void)
{
    size_t n = 3000, i;
    int level;
    double ref32 = 0, ref64 = 0, lp32[3], lp64[3], lpr32[3], lpr64[3];
    for (i = 0; i < n; i++) {
        fx[i] = (float)unif();
        fm[i] = fx[i] + wide_f32(-24, -4);
        fr[i] = fm[i] + wide_f32(-30, -8);
        dx[i] = (double)fx[i];
        dm[i] = (double)fm[i];
        dr[i] = (double)fr[i] * (1.0 + 1e-12);
    }
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        double lr32, lr64;
        if (!dpo_simd_supported(level))
            continue;
        setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
        CHECK(dpo_logratio_f32(&lr32, fx, fm, fr, n, 0.3, DPO_LOGPROB_MEAN) == DPO_OK, "f32 status");
        CHECK(dpo_logratio_f64(&lr64, dx, dm, dr, n, 0.3, DPO_LOGPROB_SUM) == DPO_OK, "f64 status");
        {
            /* the step's log-probability, rows of 1000 (tails at every width) */
            dpo_step_coef_f32 c32;
            dpo_step_coef_f64 c64;
            memset(&c32, 0, sizeof c32);
            memset(&c64, 0, sizeof c64);
            c32.sigma = 0.25f;
            c64.sigma = 0.25;
            CHECK(dpo_step_logprob_f32(lp32, fx, fm, 3, 1000, &c32, DPO_LOGPROB_MEAN) == DPO_OK, "lp f32");
            CHECK(dpo_step_logprob_f64(lp64, dx, dm, 3, 1000, &c64, DPO_LOGPROB_SUM) == DPO_OK, "lp f64");
            if (level == 0) {
                memcpy(lpr32, lp32, sizeof lp32);
                memcpy(lpr64, lp64, sizeof lp64);
            }
            CHECK(!memcmp(lp32, lpr32, sizeof lp32) && !memcmp(lp64, lpr64, sizeof lp64),
                  "level %s: step log-probability differs from the scalar level", dpo_simd_level_name(level));
        }
        if (level == 0) {
            ref32 = lr32;
            ref64 = lr64;
        }
        CHECK(!memcmp(&lr32, &ref32, 8) && !memcmp(&lr64, &ref64, 8),
              "level %s: log-ratio differs from the scalar level", dpo_simd_level_name(level));
    }
    unsetenv("DPO_SIMD");
}

/* The network (dpo_mlp_forward / dpo_mlp_backward, whose SiLU loops use the
 * vector forms) with DPO_SIMD forcing each level: outputs and every gradient
 * equal the scalar level's bit for bit.  Inputs scaled up so that the
 * hidden pre-activations reach the saturated ends of the sigmoid. */
static void test_mlp_public(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t nb = dpo_mlp_num_base(&cfg), nl = dpo_mlp_num_lora(&cfg), n = 9, D = cfg.dim, i;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n);
    float *base = malloc(nb * 4), *lora = malloc(nl * 4), *x = malloc(n * D * 4), *go = malloc(n * D * 4);
    float *o[2], *gx[2], *gb[2], *gl[2];
    int32_t t[9] = {0, 1, 17, 250, 500, 777, 998, 999, 3}, c[9] = {0, 1, 2, 3, 0, 1, 2, 3, 0};
    void *work = NULL;
    int level, k;
    for (k = 0; k < 2; k++) {
        o[k] = malloc(n * D * 4);
        gx[k] = malloc(n * D * 4);
        gb[k] = malloc(nb * 4);
        gl[k] = malloc(nl * 4);
    }
    if (posix_memalign(&work, DPO_WORK_ALIGN, wsz ? wsz : 1) || !base || !lora || !x || !go || !o[1] || !gl[1]) {
        CHECK(0, "out of memory");
        return;
    }
    dpo_mlp_init_base(base, &cfg, 5);
    CHECK(dpo_mlp_init_lora(lora, &cfg, 6) == DPO_OK, "init lora");
    for (i = 0; i < nl; i++)
        lora[i] = (float)(0.2 * unif());
    for (i = 0; i < n * D; i++) {
        x[i] = (float)(unif() * (i % 3 == 0 ? 40.0 : 2.0));
        go[i] = (float)unif();
    }
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        k = level == 0 ? 0 : 1;
        setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
        memset(gx[k], 0, n * D * 4);
        memset(gb[k], 0, nb * 4);
        memset(gl[k], 0, nl * 4);
        CHECK(dpo_mlp_forward(o[k], &cfg, base, lora, x, t, c, n, work, wsz) == DPO_OK, "forward");
        CHECK(dpo_mlp_backward(gx[k], gb[k], gl[k], go, &cfg, base, lora, n, work, wsz) == DPO_OK, "backward");
        if (k == 1)
            CHECK(!memcmp(o[0], o[1], n * D * 4) && !memcmp(gx[0], gx[1], n * D * 4) &&
                      !memcmp(gb[0], gb[1], nb * 4) && !memcmp(gl[0], gl[1], nl * 4),
                  "level %s: the network's output or a gradient differs from the scalar level",
                  dpo_simd_level_name(level));
    }
    unsetenv("DPO_SIMD");
    for (k = 0; k < 2; k++) {
        free(o[k]);
        free(gx[k]);
        free(gb[k]);
        free(gl[k]);
    }
    free(base);
    free(lora);
    free(x);
    free(go);
    free(work);
}

int main(void)
{
    RUN(test_adamw);
    RUN(test_adamw_public);
    RUN(test_silu);
    RUN(test_silu_sweep);
    RUN(test_sigmoid_f64);
    RUN(test_leaves);
    RUN(test_lr_sum);
    RUN(test_grad_diff);
    RUN(test_lr_public);
    RUN(test_mlp_public);
    return chk_summary();
}
