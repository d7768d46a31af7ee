/* Built-in rewards (src/model/reward.c, docs/rewards.md).
 *
 * - values against an independent long-double implementation typed from
 *   docs/rewards.md (templates written out as pictures, libm expl/logl/sqrtl);
 * - each gradient component against a central finite difference of the
 *   value in double (inputs on a 2^-16 grid so x +- h is exact in float);
 * - purity (same bits on repeat, batch split, with and without gradient),
 *   the dpo_reward_model wrapper, validation (outputs untouched on error);
 * - sanity: CLASSMATCH is highest for the matching template, COMPRESS of a
 *   constant image is the maximum, AESTHETIC prefers a bright centre. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"

#define S DPO_IMG_SIDE
#define D DPO_IMG_DIM

static uint64_t sm_state = 0x1234567887654321ULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform on the 2^-16 grid in [-a, a] */
static float grid_uniform(double a)
{
    int64_t q = (int64_t)(splitmix64() % 131073u) - 65536; /* [-2^16, 2^16] */
    return (float)(a * ldexp((double)q, -16));
}

static void random_images(float *x, size_t n, double a)
{
    size_t k;
    for (k = 0; k < n * D; k++)
        x[k] = grid_uniform(a);
}

/* ------------------------------------------------ independent reference
 * Typed from docs/rewards.md, written differently from src/model/reward.c. */

/* The idealised class pictures at S = 8 ('#' = +1, '.' = -1). */
static const char *const pictures[DPO_DATA_CLASSES][8] = {
    {"........", "........", "........", "########", "########", "........", "........", "........"},
    {"...##...", "...##...", "...##...", "...##...", "...##...", "...##...", "...##...", "...##..."},
    {"##......", "###.....", ".###....", "..###...", "...###..", "....###.", ".....###", "......##"},
    {"........", "...##...", "..####..", ".######.", ".######.", "..####..", "...##...", "........"}};

static long double ref_template(int c, int k)
{
    long double sum = 0, ss = 0, mean, v;
    int i;
    for (i = 0; i < D; i++)
        sum += pictures[c][i / 8][i % 8] == '#' ? 1.0L : -1.0L;
    mean = sum / D;
    for (i = 0; i < D; i++) {
        v = (pictures[c][i / 8][i % 8] == '#' ? 1.0L : -1.0L) - mean;
        ss += v * v;
    }
    v = (pictures[c][k / 8][k % 8] == '#' ? 1.0L : -1.0L) - mean;
    return v / sqrtl(ss);
}

static long double ref_aesthetic_w(int i, int j)
{
    long double di = i - 3.5L, dj = j - 3.5L;
    long double w = expl(-(di * di + dj * dj) / (2.0L * 1.5L * 1.5L));
    if (i == 0 || i == 7 || j == 0 || j == 7)
        w -= 0.5L;
    return w;
}

static long double ref_reward(int kind, const float *x, int cls)
{
    long double acc = 0;
    int i, j, c;
    if (kind == DPO_REWARD_AESTHETIC) {
        for (i = 0; i < 8; i++)
            for (j = 0; j < 8; j++) {
                long double v = x[i * 8 + j];
                acc += ref_aesthetic_w(i, j) * v - 0.125L * v * v;
            }
        return acc;
    }
    if (kind == DPO_REWARD_COMPRESS) {
        for (i = 0; i < 8; i++)
            for (j = 0; j < 8; j++) {
                long double v = x[i * 8 + j];
                long double dx = j < 7 ? (long double)x[i * 8 + j + 1] - v : 0;
                long double dy = i < 7 ? (long double)x[(i + 1) * 8 + j] - v : 0;
                acc += sqrtl(dx * dx + dy * dy + 0.01L);
            }
        return -acc / 8;
    }
    {
        long double l[DPO_DATA_CLASSES], z = 0;
        for (c = 0; c < DPO_DATA_CLASSES; c++) {
            long double d = 0;
            for (i = 0; i < D; i++)
                d += ref_template(c, i) * x[i];
            l[c] = 0.5L * d;
            z += expl(l[c]);
        }
        return l[cls] - logl(z);
    }
}

static void test_names(void)
{
    CHECK(strcmp(dpo_reward_name(DPO_REWARD_AESTHETIC), "aesthetic") == 0, "aesthetic");
    CHECK(strcmp(dpo_reward_name(DPO_REWARD_COMPRESS), "compress") == 0, "compress");
    CHECK(strcmp(dpo_reward_name(DPO_REWARD_CLASSMATCH), "classmatch") == 0, "classmatch");
    CHECK(strcmp(dpo_reward_name((dpo_reward_kind)7), "unknown") == 0, "unknown");
}

/* The C code computes in double from float inputs: relative 1e-13 covers
 * its rounding (64-term sums, portable exp/log within a few ulp). */
static void test_values_vs_reference(void)
{
    enum { N = 200 };
    static float x[N * D];
    static int32_t cls[N];
    double r[N];
    int kind;
    size_t i;
    double worst[DPO_REWARD_KINDS] = {0, 0, 0};
    random_images(x, N, 1.5);
    for (i = 0; i < N; i++)
        cls[i] = (int32_t)(i % DPO_DATA_CLASSES);
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        CHECK(dpo_reward_builtin_eval(r, NULL, (dpo_reward_kind)kind, x, N, cls) == DPO_OK, "eval");
        for (i = 0; i < N; i++) {
            long double ref = ref_reward(kind, x + i * D, cls[i]);
            double err = (double)fabsl((long double)r[i] - ref) / (1.0 + fabs((double)ref));
            if (err > worst[kind])
                worst[kind] = err;
            CHECK(err < 1e-13, "kind %d image %zu: %.17g vs %.17Lg", kind, i, r[i], ref);
        }
    }
    printf("     value vs long-double reference, max rel err: aesthetic %.2e compress %.2e classmatch %.2e\n",
           worst[0], worst[1], worst[2]);
}

/* Central difference with h = 2^-14 on inputs on a 2^-16 grid in [-1.5,
 * 1.5]: x +- h is exact in float.  Truncation h^2/6 |f'''| is below 1e-7
 * for AESTHETIC (0) and CLASSMATCH, and below ~1e-6 for COMPRESS (|f'''|
 * of the smoothed TV is at most ~1e3 with eps = 0.01); cancellation adds
 * about 1e-16 / 6e-5 ~ 2e-12.  Tolerance 1e-5 (1 + |g|). */
static void test_gradients_fd(void)
{
    enum { N = 12 };
    static float x[N * D], g[N * D], xp[D];
    static int32_t cls[N];
    double r[N];
    const double h = ldexp(1.0, -14);
    int kind;
    size_t i, k;
    random_images(x, N, 1.5);
    /* a few images with flat regions and exact ties (TV's kink region) */
    for (k = 0; k < D; k++) {
        x[k] = 0.25f;
        x[D + k] = (k % 8) < 4 ? -1.0f : 1.0f;
    }
    for (i = 0; i < N; i++)
        cls[i] = (int32_t)((i * 3) % DPO_DATA_CLASSES);
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        double worst = 0;
        CHECK(dpo_reward_builtin_eval(r, g, (dpo_reward_kind)kind, x, N, cls) == DPO_OK, "eval");
        for (i = 0; i < N; i++)
            for (k = 0; k < D; k++) {
                double rp, rm, fd, err;
                memcpy(xp, x + i * D, sizeof xp);
                xp[k] = (float)((double)xp[k] + h);
                CHECK(dpo_reward_builtin_eval(&rp, NULL, (dpo_reward_kind)kind, xp, 1, cls + i) == DPO_OK, "eval+");
                xp[k] = (float)((double)x[i * D + k] - h);
                CHECK(dpo_reward_builtin_eval(&rm, NULL, (dpo_reward_kind)kind, xp, 1, cls + i) == DPO_OK, "eval-");
                CHECK((double)xp[k] + h == (double)x[i * D + k], "x - h exact");
                fd = (rp - rm) / (2 * h);
                err = fabs(fd - (double)g[i * D + k]) / (1.0 + fabs(fd));
                if (err > worst)
                    worst = err;
                CHECK(err < 1e-5, "%s image %zu pixel %zu: grad %.9g fd %.9g", dpo_reward_name(kind), i, k,
                      (double)g[i * D + k], fd);
            }
        printf("     %s gradient vs central difference: max rel err %.2e\n", dpo_reward_name(kind), worst);
    }
}

/* The gradient is not trivially zero or symmetric: a directional
 * derivative along a random direction matches too (catches a transposed
 * neighbour in the TV gradient that a per-pixel check at a symmetric point
 * might miss). */
static void test_directional(void)
{
    static float x[D], xp[D], xm[D], g[D], v[D];
    const double h = ldexp(1.0, -12);
    int kind;
    int32_t c = 2;
    size_t k;
    random_images(x, 1, 1.0);
    for (k = 0; k < D; k++)
        v[k] = (float)((splitmix64() % 3) - 1.0); /* -1, 0, 1 */
    for (k = 0; k < D; k++) {
        xp[k] = (float)((double)x[k] + h * v[k]);
        xm[k] = (float)((double)x[k] - h * v[k]);
    }
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        double r0, rp, rm, dd = 0, fd;
        CHECK(dpo_reward_builtin_eval(&r0, g, (dpo_reward_kind)kind, x, 1, &c) == DPO_OK, "eval");
        CHECK(dpo_reward_builtin_eval(&rp, NULL, (dpo_reward_kind)kind, xp, 1, &c) == DPO_OK, "eval");
        CHECK(dpo_reward_builtin_eval(&rm, NULL, (dpo_reward_kind)kind, xm, 1, &c) == DPO_OK, "eval");
        for (k = 0; k < D; k++)
            dd += (double)g[k] * v[k];
        fd = (rp - rm) / (2 * h);
        CHECK(fabs(fd - dd) < 1e-4 * (1 + fabs(fd)), "%s directional %.9g vs %.9g", dpo_reward_name(kind), dd, fd);
        CHECK(fabs(dd) > 1e-3, "%s: directional derivative should not vanish (%g)", dpo_reward_name(kind), dd);
    }
}

static void test_purity(void)
{
    enum { N = 9 };
    static float x[N * D], xc[N * D], g1[N * D], g2[N * D], g3[N * D];
    static int32_t cls[N];
    double r1[N], r2[N], r3[N], r4[N];
    int kind;
    size_t i;
    random_images(x, N, 1.0);
    memcpy(xc, x, sizeof x);
    for (i = 0; i < N; i++)
        cls[i] = (int32_t)((i * 7) % DPO_DATA_CLASSES);
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        dpo_reward_kind kd = (dpo_reward_kind)kind;
        CHECK(dpo_reward_builtin_eval(r1, g1, kd, x, N, cls) == DPO_OK, "eval");
        CHECK(dpo_reward_builtin_eval(r2, g2, kd, x, N, cls) == DPO_OK, "eval");
        CHECK(dpo_reward_builtin_eval(r3, NULL, kd, x, N, cls) == DPO_OK, "eval");
        for (i = 0; i < N; i++) /* one at a time, from the end */
            CHECK(dpo_reward_builtin_eval(r4 + (N - 1 - i), g3 + (N - 1 - i) * D, kd, x + (N - 1 - i) * D, 1,
                                  cls + (N - 1 - i)) == DPO_OK,
                  "eval one");
        CHECK(chk_same_bits(r1, r2, sizeof r1) && chk_same_bits(g1, g2, sizeof g1), "%d: repeat", kind);
        CHECK(chk_same_bits(r1, r3, sizeof r1), "%d: value without gradient", kind);
        CHECK(chk_same_bits(r1, r4, sizeof r1) && chk_same_bits(g1, g3, sizeof g1), "%d: batch split", kind);
        CHECK(chk_same_bits(x, xc, sizeof x), "%d: input untouched", kind);
    }
}

static void test_builtin_model(void)
{
    enum { N = 5 };
    static float x[N * D], g1[N * D], g2[N * D];
    int32_t cls[N] = {0, 1, 2, 3, 1};
    double r1[N], r2[N], r3[N];
    int kind;
    dpo_reward_model bad;
    random_images(x, N, 1.0);
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        dpo_reward_model m = dpo_reward_builtin((dpo_reward_kind)kind);
        CHECK(m.dim == D && m.value && m.grad && m.user, "%d: filled", kind);
        if (!m.value || !m.grad)
            continue;
        CHECK(dpo_reward_builtin_eval(r1, g1, (dpo_reward_kind)kind, x, N, cls) == DPO_OK, "eval");
        CHECK(m.value(m.user, r2, x, N, cls) == 0, "value cb");
        CHECK(m.grad(m.user, r3, g2, x, N, cls) == 0, "grad cb");
        CHECK(chk_same_bits(r1, r2, sizeof r1) && chk_same_bits(r1, r3, sizeof r1) &&
                  chk_same_bits(g1, g2, sizeof g1),
              "%d: wrapper agrees with dpo_reward_builtin_eval", kind);
        CHECK(m.value(m.user, r2, x, 0, cls) != 0, "%d: callback reports failure", kind);
    }
    bad = dpo_reward_builtin((dpo_reward_kind)3);
    CHECK(!bad.value && !bad.grad && bad.dim == 0, "invalid kind: no callbacks");
    bad = dpo_reward_builtin((dpo_reward_kind)-1);
    CHECK(!bad.value && !bad.grad, "negative kind: no callbacks");
    /* a reward model goes through TailorPO-G guidance: it must be accepted */
    {
        dpo_reward_model m = dpo_reward_builtin(DPO_REWARD_COMPRESS);
        CHECK(m.dim == DPO_IMG_DIM, "dim");
    }
}

static void test_validation(void)
{
    enum { N = 3 };
    static float x[N * D], g[N * D], gs[N * D];
    static double dbuf[N * D];
    int32_t cls[N] = {0, 1, 2}, badcls[N] = {0, 4, 1}, negcls[N] = {-1, 0, 0};
    double r[N], rs[N];
    int kind;
    size_t k;
    random_images(x, N, 1.0);
    for (k = 0; k < N; k++)
        rs[k] = -12345.0;
    for (k = 0; k < N * D; k++)
        gs[k] = 777.0f;
#define RESET() (memcpy(r, rs, sizeof r), memcpy(g, gs, sizeof g))
#define UNTOUCHED() (chk_same_bits(r, rs, sizeof r) && chk_same_bits(g, gs, sizeof g))
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        dpo_reward_kind kd = (dpo_reward_kind)kind;
        float save;
        RESET();
        CHECK(dpo_reward_builtin_eval(NULL, g, kd, x, N, cls) == DPO_ERR_NULL && UNTOUCHED(), "%d: r NULL", kind);
        CHECK(dpo_reward_builtin_eval(r, g, kd, NULL, N, cls) == DPO_ERR_NULL && UNTOUCHED(), "%d: x NULL", kind);
        CHECK(dpo_reward_builtin_eval(r, g, kd, x, 0, cls) == DPO_ERR_SIZE && UNTOUCHED(), "%d: n 0", kind);
        CHECK(dpo_reward_builtin_eval(r, g, kd, x, (size_t)-1, cls) == DPO_ERR_SIZE && UNTOUCHED(), "%d: n huge", kind);
        save = x[N * D - 1];
        x[N * D - 1] = NAN;
        CHECK(dpo_reward_builtin_eval(r, g, kd, x, N, cls) == DPO_ERR_NONFINITE && UNTOUCHED(), "%d: NaN", kind);
        x[N * D - 1] = -INFINITY;
        CHECK(dpo_reward_builtin_eval(r, g, kd, x, N, cls) == DPO_ERR_NONFINITE && UNTOUCHED(), "%d: -inf", kind);
        x[N * D - 1] = save;
        x[0] = INFINITY;
        CHECK(dpo_reward_builtin_eval(r, NULL, kd, x, N, cls) == DPO_ERR_NONFINITE && UNTOUCHED(), "%d: inf", kind);
        x[0] = 0.5f;
        /* gradient aliasing the input or the values */
        CHECK(dpo_reward_builtin_eval(r, x, kd, x, N, cls) == DPO_ERR_ALIAS && UNTOUCHED(), "%d: g = x", kind);
        CHECK(dpo_reward_builtin_eval(r, x + D, kd, x, N, cls) == DPO_ERR_ALIAS && UNTOUCHED(), "%d: g inside x", kind);
        /* r overlapping g or x (a double buffer viewed as floats) */
        memcpy(dbuf, x, sizeof x);
        CHECK(dpo_reward_builtin_eval(dbuf + 1, (float *)(void *)dbuf, kd, x, N, cls) == DPO_ERR_ALIAS,
              "%d: r inside g", kind);
        CHECK(dpo_reward_builtin_eval(dbuf + 1, NULL, kd, (const float *)(const void *)dbuf, N, cls) == DPO_ERR_ALIAS,
              "%d: r inside x", kind);
    }
    RESET();
    CHECK(dpo_reward_builtin_eval(r, g, (dpo_reward_kind)3, x, N, cls) == DPO_ERR_RANGE && UNTOUCHED(), "kind 3");
    CHECK(dpo_reward_builtin_eval(r, g, (dpo_reward_kind)-1, x, N, cls) == DPO_ERR_RANGE && UNTOUCHED(), "kind -1");
    CHECK(dpo_reward_builtin_eval(r, g, DPO_REWARD_CLASSMATCH, x, N, NULL) == DPO_ERR_NULL && UNTOUCHED(), "cls NULL");
    CHECK(dpo_reward_builtin_eval(r, g, DPO_REWARD_CLASSMATCH, x, N, badcls) == DPO_ERR_RANGE && UNTOUCHED(), "cls 4");
    CHECK(dpo_reward_builtin_eval(r, g, DPO_REWARD_CLASSMATCH, x, N, negcls) == DPO_ERR_RANGE && UNTOUCHED(), "cls -1");
    /* classes are ignored (may be NULL or anything) for the other kinds */
    CHECK(dpo_reward_builtin_eval(r, g, DPO_REWARD_AESTHETIC, x, N, NULL) == DPO_OK, "aesthetic, cls NULL");
    CHECK(dpo_reward_builtin_eval(r, g, DPO_REWARD_COMPRESS, x, N, badcls) == DPO_OK, "compress, cls ignored");
    /* extreme but finite inputs give finite values */
    for (k = 0; k < D; k++)
        x[k] = (k & 1) ? 3.0e38f : -3.0e38f;
    for (kind = 0; kind < DPO_REWARD_KINDS; kind++) {
        CHECK(dpo_reward_builtin_eval(r, g, (dpo_reward_kind)kind, x, 1, cls) == DPO_OK, "%d: huge", kind);
        CHECK(isfinite(r[0]), "%d: huge input gives finite value %g", kind, r[0]);
    }
#undef RESET
#undef UNTOUCHED
}

static void picture_image(float *x, int c)
{
    int k;
    for (k = 0; k < D; k++)
        x[k] = pictures[c][k / 8][k % 8] == '#' ? 1.0f : -1.0f;
}

static void test_classmatch_sanity(void)
{
    static float x[D];
    int c, q;
    for (c = 0; c < DPO_DATA_CLASSES; c++) {
        double r[DPO_DATA_CLASSES];
        int32_t cl;
        picture_image(x, c);
        for (q = 0; q < DPO_DATA_CLASSES; q++) {
            cl = q;
            CHECK(dpo_reward_builtin_eval(&r[q], NULL, DPO_REWARD_CLASSMATCH, x, 1, &cl) == DPO_OK, "eval");
        }
        for (q = 0; q < DPO_DATA_CLASSES; q++)
            if (q != c)
                CHECK(r[c] > r[q] + 0.5, "template %d: log p(%d) = %g not above log p(%d) = %g", c, c, r[c], q, r[q]);
        CHECK(r[c] > log(0.5), "template %d: p(own class) = %g", c, exp(r[c]));
        printf("     template %d: p(c|x) = %.4f %.4f %.4f %.4f\n", c, exp(r[0]), exp(r[1]), exp(r[2]), exp(r[3]));
    }
    /* the log-probabilities of one image normalise */
    {
        double s = 0, r;
        int32_t cl;
        random_images(x, 1, 1.0);
        for (q = 0; q < DPO_DATA_CLASSES; q++) {
            cl = q;
            CHECK(dpo_reward_builtin_eval(&r, NULL, DPO_REWARD_CLASSMATCH, x, 1, &cl) == DPO_OK, "eval");
            CHECK(r < 0, "log p < 0");
            s += exp(r);
        }
        CHECK(fabs(s - 1) < 1e-12, "sum p = %.17g", s);
    }
}

static void test_compress_sanity(void)
{
    static float x[D], g[D];
    double rc, r;
    int trial;
    size_t k;
    for (k = 0; k < D; k++)
        x[k] = 0.375f;
    CHECK(dpo_reward_builtin_eval(&rc, g, DPO_REWARD_COMPRESS, x, 1, NULL) == DPO_OK, "eval");
    /* every term is sqrt(0.01) = 0.1: -64 * 0.1 / 8 */
    CHECK(fabs(rc - (-0.8)) < 1e-15, "constant image: %.17g", rc);
    for (k = 0; k < D; k++)
        CHECK(g[k] == 0.0f, "gradient at a constant image is 0 (pixel %zu: %g)", k, (double)g[k]);
    for (trial = 0; trial < 200; trial++) {
        random_images(x, 1, trial < 100 ? 0.01 : 1.0);
        CHECK(dpo_reward_builtin_eval(&r, NULL, DPO_REWARD_COMPRESS, x, 1, NULL) == DPO_OK, "eval");
        CHECK(r < rc, "trial %d: %g not below the constant image's %g", trial, r, rc);
    }
    /* a smooth ramp beats a checkerboard */
    {
        double rr, rk;
        for (k = 0; k < D; k++)
            x[k] = (float)((double)(k % 8) / 7.0 * 2 - 1);
        dpo_reward_builtin_eval(&rr, NULL, DPO_REWARD_COMPRESS, x, 1, NULL);
        for (k = 0; k < D; k++)
            x[k] = ((k % 8) + (k / 8)) % 2 ? 1.0f : -1.0f;
        dpo_reward_builtin_eval(&rk, NULL, DPO_REWARD_COMPRESS, x, 1, NULL);
        CHECK(rr > rk, "ramp %g vs checkerboard %g", rr, rk);
    }
}

static void test_aesthetic_sanity(void)
{
    static float bright[D], dark[D], flat[D], g[D];
    double rb, rd, rf;
    int i, j;
    for (i = 0; i < 8; i++)
        for (j = 0; j < 8; j++) {
            int centre = i >= 2 && i < 6 && j >= 2 && j < 6;
            bright[i * 8 + j] = centre ? 1.0f : -1.0f;
            dark[i * 8 + j] = centre ? -1.0f : 1.0f;
            flat[i * 8 + j] = 0.0f;
        }
    dpo_reward_builtin_eval(&rb, NULL, DPO_REWARD_AESTHETIC, bright, 1, NULL);
    dpo_reward_builtin_eval(&rd, NULL, DPO_REWARD_AESTHETIC, dark, 1, NULL);
    dpo_reward_builtin_eval(&rf, g, DPO_REWARD_AESTHETIC, flat, 1, NULL);
    CHECK(rb > rf && rf > rd, "bright centre %g > flat %g > dark centre %g", rb, rf, rd);
    CHECK(rf == 0.0, "zero image scores 0 (%g)", rf);
    /* at x = 0 the gradient is w: positive in the centre, negative on the border */
    CHECK(g[3 * 8 + 3] > 0.85f && g[0] < -0.4f && g[3] < 0, "w: centre %g corner %g edge %g", (double)g[27],
          (double)g[0], (double)g[3]);
    printf("     aesthetic: bright centre %.4f, flat %.4f, dark centre %.4f\n", rb, rf, rd);
}

int main(void)
{
    RUN(test_names);
    RUN(test_values_vs_reference);
    RUN(test_gradients_fd);
    RUN(test_directional);
    RUN(test_purity);
    RUN(test_builtin_model);
    RUN(test_validation);
    RUN(test_classmatch_sanity);
    RUN(test_compress_sanity);
    RUN(test_aesthetic_sanity);
    return chk_summary();
}
