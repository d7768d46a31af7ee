/* Noise schedules and inference timesteps.
 *
 * Expected values come from outside the library:
 *  - float32 alphas_cumprod bits typed from PyTorch 2.15.0 (CPU, AVX-512
 *    kernels, the default on this machine) running diffusers' three lines
 *    (linspace, ** 2, 1 - betas, cumprod); the same bits come from PyTorch
 *    2.4.1 (docs/schedules.md);
 *  - timesteps typed from diffusers 0.42.1 DDIMScheduler.set_timesteps, or
 *    computed here in exact integer arithmetic;
 *  - the float64 tables against closed forms evaluated here with libm in
 *    long double (a different route from the library's). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "check.h"

static dpo_schedule s_a, s_b, s_sentinel;

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void fill_sentinel(dpo_schedule *s)
{
    memset(s, 0xA5, sizeof *s);
}

/* ------------------------------------------------------------ validation */

static void test_init_validation(void)
{
    struct {
        int kind;
        double b0, b1;
        int n, one;
        dpo_status want;
    } bad[] = {
        {DPO_BETA_TABLE, 0.001, 0.02, 1000, 0, DPO_ERR_RANGE},
        {7, 0.001, 0.02, 1000, 0, DPO_ERR_RANGE},
        {-1, 0.001, 0.02, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_LINEAR, 0.001, 0.02, 1, 0, DPO_ERR_SIZE},
        {DPO_BETA_LINEAR, 0.001, 0.02, 0, 0, DPO_ERR_SIZE},
        {DPO_BETA_LINEAR, 0.001, 0.02, DPO_MAX_TRAIN_STEPS + 1, 0, DPO_ERR_SIZE},
        {DPO_BETA_SQUAREDCOS_CAP_V2, 0, 0, 1, 0, DPO_ERR_SIZE},
        {DPO_BETA_LINEAR, 0.0, 0.02, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_LINEAR, -0.001, 0.02, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_SCALED_LINEAR, 0.03, 0.02, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_SCALED_LINEAR, 0.001, 1.0, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_LINEAR, 0.001, 1.5, 1000, 0, DPO_ERR_RANGE},
        {DPO_BETA_LINEAR, NAN, 0.02, 1000, 0, DPO_ERR_NONFINITE},
        {DPO_BETA_LINEAR, 0.001, INFINITY, 1000, 0, DPO_ERR_NONFINITE},
        {DPO_BETA_SCALED_LINEAR, 0.001, NAN, 1000, 0, DPO_ERR_NONFINITE},
        {DPO_BETA_LINEAR, 0.001, 0.02, 1000, 2, DPO_ERR_RANGE},
        {DPO_BETA_LINEAR, 0.001, 0.02, 1000, -1, DPO_ERR_RANGE},
        /* 0.01^4096 underflows: alphas_cumprod would reach 0 */
        {DPO_BETA_LINEAR, 0.99, 0.99, 4096, 0, DPO_ERR_RANGE},
        {DPO_BETA_SCALED_LINEAR, 0.5, 0.9, 4096, 0, DPO_ERR_RANGE},
        /* a start that is 0 in float32 */
        {DPO_BETA_LINEAR, 1e-300, 0.02, 1000, 0, DPO_ERR_RANGE},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dpo_status st;
        fill_sentinel(&s_a);
        fill_sentinel(&s_sentinel);
        st = dpo_schedule_init(&s_a, (dpo_beta_schedule)bad[i].kind, bad[i].b0, bad[i].b1, bad[i].n, bad[i].one);
        CHECK(st == bad[i].want, "case %u: status %d, want %d", (unsigned)i, (int)st, (int)bad[i].want);
        CHECK(!memcmp(&s_a, &s_sentinel, sizeof s_a), "case %u: output touched", (unsigned)i);
    }
    CHECK(dpo_schedule_init(NULL, DPO_BETA_LINEAR, 0.001, 0.02, 1000, 0) == DPO_ERR_NULL, "NULL");
    /* squaredcos ignores the betas (even NaN) */
    CHECK(dpo_schedule_init(&s_a, DPO_BETA_SQUAREDCOS_CAP_V2, NAN, NAN, 1000, 0) == DPO_OK, "cos ignores betas");
    /* edge cases that are valid */
    CHECK(dpo_schedule_init(&s_a, DPO_BETA_LINEAR, 0.02, 0.02, 2, 0) == DPO_OK, "b0 == b1, n = 2");
    CHECK(dpo_schedule_init(&s_a, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, DPO_MAX_TRAIN_STEPS, 1) == DPO_OK,
          "n = max");
}

static void test_table_validation(void)
{
    static float t32[1000];
    static double t64[1000];
    int i;
    dpo_status st;
    for (i = 0; i < 1000; i++) {
        t64[i] = 1.0 - (i + 1) / 1001.0;
        t32[i] = (float)t64[i];
    }
#define BAD_TABLE(call, want, what)                                                      \
    do {                                                                                 \
        fill_sentinel(&s_a);                                                             \
        fill_sentinel(&s_sentinel);                                                      \
        st = (call);                                                                     \
        CHECK(st == (want), "%s: status %d", what, (int)st);                             \
        CHECK(!memcmp(&s_a, &s_sentinel, sizeof s_a), "%s: output touched", what);       \
    } while (0)
    BAD_TABLE(dpo_schedule_from_table(&s_a, NULL, NULL, 1000, 0), DPO_ERR_NULL, "both NULL");
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, 1, 0), DPO_ERR_SIZE, "n = 1");
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, DPO_MAX_TRAIN_STEPS + 1, 0), DPO_ERR_SIZE, "n too big");
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, 1000, 3), DPO_ERR_RANGE, "set_alpha_to_one 3");
    t32[500] = 0.0f;
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, 1000, 0), DPO_ERR_RANGE, "zero entry");
    t32[500] = 1.0000001f;
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, 1000, 0), DPO_ERR_RANGE, "entry > 1");
    t32[500] = NAN;
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, NULL, 1000, 0), DPO_ERR_NONFINITE, "NaN entry");
    t32[500] = (float)t64[500];
    t64[999] = -0.5;
    BAD_TABLE(dpo_schedule_from_table(&s_a, NULL, t64, 1000, 0), DPO_ERR_RANGE, "negative f64 entry");
    t64[999] = 1e-60; /* positive, but 0 in float32 */
    BAD_TABLE(dpo_schedule_from_table(&s_a, NULL, t64, 1000, 0), DPO_ERR_RANGE, "f64 entry that is 0 in f32");
    t64[999] = INFINITY;
    BAD_TABLE(dpo_schedule_from_table(&s_a, t32, t64, 1000, 0), DPO_ERR_NONFINITE, "inf f64 entry");
    t64[999] = 1.0 - 1000 / 1001.0;
    CHECK(dpo_schedule_from_table(NULL, t32, t64, 1000, 0) == DPO_ERR_NULL, "NULL s");
#undef BAD_TABLE
}

static void test_table_contents(void)
{
    static float t32[300];
    static double t64[300];
    int i, ok32 = 1, ok64 = 1;
    for (i = 0; i < 300; i++) {
        t64[i] = 0.999 - i * 0.003 + 1e-12 * i; /* not float32-representable */
        t32[i] = (float)(0.5 - i * 0.001);
    }
    /* float64 only: ac32 = rounded, ac64 = as given */
    CHECK(dpo_schedule_from_table(&s_a, NULL, t64, 300, 0) == DPO_OK, "f64 table");
    for (i = 0; i < 300; i++) {
        ok32 &= s_a.ac32[i] == (float)t64[i];
        ok64 &= s_a.ac64[i] == t64[i];
    }
    CHECK(ok32 && ok64, "f64 table contents");
    CHECK(s_a.kind == DPO_BETA_TABLE && s_a.num_train_steps == 300, "kind, n");
    CHECK(s_a.final_ac32 == (float)t64[0] && s_a.final_ac64 == t64[0], "final = ac[0]");
    /* float32 only */
    CHECK(dpo_schedule_from_table(&s_a, t32, NULL, 300, 1) == DPO_OK, "f32 table");
    ok32 = ok64 = 1;
    for (i = 0; i < 300; i++) {
        ok32 &= s_a.ac32[i] == t32[i];
        ok64 &= s_a.ac64[i] == (double)t32[i];
    }
    CHECK(ok32 && ok64, "f32 table contents");
    CHECK(s_a.final_ac32 == 1.0f && s_a.final_ac64 == 1.0, "set_alpha_to_one: final = 1");
    /* both: each as given, even when they disagree */
    CHECK(dpo_schedule_from_table(&s_a, t32, t64, 300, 0) == DPO_OK, "both");
    CHECK(s_a.ac32[7] == t32[7] && s_a.ac64[7] == t64[7], "both as given");
}

/* ---------------------------------------------------- float32 known bits */

static void test_sd15_bits_pytorch(void)
{
    /* PyTorch 2.15.0 CPU (AVX-512):
     *   torch.cumprod(1 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000,
     *                 dtype=torch.float32)**2, 0)
     * Indices 273, 609, 702 are ones where PyTorch's non-SIMD kernel
     * (ATEN_CPU_CAPABILITY=default) gives 0x3f22c003, 0x3e1be0b3,
     * 0x3da688e4 instead: the test tells the two linspace rules apart. */
    static const struct {
        int i;
        uint32_t bits;
    } kat[] = {{0, 0x3f7fc84bu},   {1, 0x3f7f9054u},   {57, 0x3f71b241u},  {58, 0x3f716b79u},
               {100, 0x3f64ebcfu}, {273, 0x3f22c002u}, {499, 0x3e8e2ab0u}, {500, 0x3e8d7b73u},
               {501, 0x3e8ccca6u}, {609, 0x3e1be0b4u}, {702, 0x3da688e5u}, {998, 0x3b9a8e83u},
               {999, 0x3b98b3b6u}};
    size_t k;
    CHECK(dpo_schedule_init(&s_a, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) == DPO_OK, "init");
    for (k = 0; k < sizeof kat / sizeof kat[0]; k++)
        CHECK(fbits(s_a.ac32[kat[k].i]) == kat[k].bits, "ac32[%d] = 0x%08x, PyTorch 0x%08x", kat[k].i,
              (unsigned)fbits(s_a.ac32[kat[k].i]), (unsigned)kat[k].bits);
    /* published: alphas_cumprod[0] = 1 - 0.00085 */
    CHECK(s_a.ac32[0] == 0.99915f, "ac[0] = %.9g", (double)s_a.ac32[0]);
    /* published: init_noise_sigma 14.6146 = sqrt((1 - ac[999]) / ac[999]) */
    {
        double a = s_a.ac32[999];
        double sig = sqrt((1.0 - a) / a);
        CHECK(fabs(sig - 14.6146) < 0.00005, "init_noise_sigma %.6f", sig);
    }
    CHECK(s_a.final_ac32 == s_a.ac32[0] && s_a.final_ac64 == s_a.ac64[0], "final = ac[0]");
}

static void test_linear_bits_pytorch(void)
{
    /* PyTorch 2.15.0 CPU: torch.cumprod(1 - torch.linspace(0.0001, 0.02,
     * 1000, dtype=torch.float32), 0); the non-SIMD kernel gives 0x3f057bfb,
     * 0x3d9f53db, 0x38294667 at 250, 500, 999. */
    static const struct {
        int i;
        uint32_t bits;
    } kat[] = {{0, 0x3f7ff972u},   {7, 0x3f7fa711u},   {14, 0x3f7f1502u},
               {250, 0x3f057bfau}, {500, 0x3d9f53dau}, {999, 0x38294666u}};
    size_t k;
    CHECK(dpo_schedule_init(&s_a, DPO_BETA_LINEAR, 0.0001, 0.02, 1000, 1) == DPO_OK, "init");
    for (k = 0; k < sizeof kat / sizeof kat[0]; k++)
        CHECK(fbits(s_a.ac32[kat[k].i]) == kat[k].bits, "ac32[%d] = 0x%08x, PyTorch 0x%08x", kat[k].i,
              (unsigned)fbits(s_a.ac32[kat[k].i]), (unsigned)kat[k].bits);
    CHECK(s_a.final_ac32 == 1.0f && s_a.final_ac64 == 1.0, "set_alpha_to_one");
}

/* -------------------------------------------------- float64 closed forms */

/* prod_{j<=i} (1 - beta_j) with beta_j from the plain linspace formula,
 * in long double. */
static void check_f64_linear(int scaled, double b0, double b1, int n)
{
    long double p = 1.0L, r0, r1, worst = 0;
    int i;
    CHECK(dpo_schedule_init(&s_a, scaled ? DPO_BETA_SCALED_LINEAR : DPO_BETA_LINEAR, b0, b1, n, 0) == DPO_OK,
          "init");
    r0 = scaled ? sqrtl((long double)b0) : (long double)b0;
    r1 = scaled ? sqrtl((long double)b1) : (long double)b1;
    for (i = 0; i < n; i++) {
        long double r = r0 + (r1 - r0) * (long double)i / (long double)(n - 1);
        long double beta = scaled ? r * r : r;
        long double rel;
        p *= 1.0L - beta;
        rel = fabsl((long double)s_a.ac64[i] - p) / p;
        if (rel > worst)
            worst = rel;
    }
    /* n roundings of a product of values near 1: about n * 2^-53 */
    CHECK(worst < 1e-12L, "f64 table vs long double: rel err %Lg (n=%d)", worst, n);
    /* and the float32 table is that table to float32 accuracy (growing
     * with n: each beta carries a float32 rounding) */
    worst = 0;
    for (i = 0; i < n; i++) {
        long double rel = fabsl((long double)s_a.ac32[i] - (long double)s_a.ac64[i]) / (long double)s_a.ac64[i];
        if (rel > worst)
            worst = rel;
    }
    CHECK(worst < 1e-5L, "f32 vs f64 tables: rel %Lg", worst);
}

static void test_f64_linear_closed_form(void)
{
    check_f64_linear(0, 0.0001, 0.02, 1000);
    check_f64_linear(1, 0.00085, 0.012, 1000);
    check_f64_linear(1, 0.0001, 0.03, 4096);
    check_f64_linear(0, 0.001, 0.001, 17);
}

/* Without the cap the product telescopes: ac[i] = abar((i+1)/N) / abar(0). */
static void test_squaredcos_closed_form(void)
{
    int n, i;
    for (n = 2; n <= 4096; n = n * 3 + 1) {
        long double pi = 3.141592653589793238462643383279502884L, worst = 0, worst32 = 0;
        long double c0 = cosl((0.008L / 1.008L) * pi / 2), a0 = c0 * c0;
        int capped = 0;
        CHECK(dpo_schedule_init(&s_a, DPO_BETA_SQUAREDCOS_CAP_V2, 0, 0, n, 0) == DPO_OK, "init n=%d", n);
        for (i = 0; i < n; i++) {
            long double t1 = (long double)(i + 1) / n, t0 = (long double)i / n;
            long double c1 = cosl(((t1 + 0.008L) / 1.008L) * pi / 2), ct = cosl(((t0 + 0.008L) / 1.008L) * pi / 2);
            long double beta = 1 - (c1 * c1) / (ct * ct);
            long double want, rel;
            if (beta >= 0.999L) {
                capped = 1;
                break;
            }
            want = (c1 * c1) / a0;
            rel = fabsl((long double)s_a.ac64[i] - want) / want;
            if (rel > worst)
                worst = rel;
            rel = fabsl((long double)s_a.ac32[i] - want) / want;
            if (rel > worst32)
                worst32 = rel;
        }
        CHECK(capped && i == n - 1, "n=%d: only the last beta is capped (i=%d)", n, i);
        CHECK(worst < 1e-12L * n, "n=%d: f64 rel err %Lg", n, worst);
        CHECK(worst32 < 1e-4L, "n=%d: f32 rel err %Lg", n, worst32);
        /* the capped last step: ac[n-1] = ac[n-2] * (1 - 0.999) */
        {
            long double want = (long double)s_a.ac64[n - 2] * (1.0L - 0.999L);
            CHECK(fabsl((long double)s_a.ac64[n - 1] - want) / want < 1e-13L, "n=%d: capped last step", n);
        }
    }
}

/* ------------------------------------------------------------ properties */

static void test_monotone_and_alpha_one(void)
{
    static const int kinds[3] = {DPO_BETA_LINEAR, DPO_BETA_SCALED_LINEAR, DPO_BETA_SQUAREDCOS_CAP_V2};
    static const int ns[4] = {2, 10, 1000, 4096};
    int k, j, i;
    for (k = 0; k < 3; k++)
        for (j = 0; j < 4; j++) {
            int n = ns[j], mono = 1, range = 1;
            CHECK(dpo_schedule_init(&s_a, (dpo_beta_schedule)kinds[k], 0.00085, 0.012, n, 0) == DPO_OK, "a");
            CHECK(dpo_schedule_init(&s_b, (dpo_beta_schedule)kinds[k], 0.00085, 0.012, n, 1) == DPO_OK, "b");
            for (i = 0; i < n; i++) {
                range &= s_a.ac32[i] > 0 && s_a.ac32[i] < 1 && s_a.ac64[i] > 0 && s_a.ac64[i] < 1;
                if (i)
                    mono &= s_a.ac32[i] < s_a.ac32[i - 1] && s_a.ac64[i] < s_a.ac64[i - 1];
            }
            CHECK(mono, "kind %d n %d: strictly decreasing", kinds[k], n);
            CHECK(range, "kind %d n %d: in (0, 1)", kinds[k], n);
            /* set_alpha_to_one changes only the final alpha */
            CHECK(!memcmp(s_a.ac32, s_b.ac32, sizeof s_a.ac32) && !memcmp(s_a.ac64, s_b.ac64, sizeof s_a.ac64),
                  "tables independent of set_alpha_to_one");
            CHECK(s_a.final_ac32 == s_a.ac32[0] && s_a.final_ac64 == s_a.ac64[0], "final = ac[0]");
            CHECK(s_b.final_ac32 == 1.0f && s_b.final_ac64 == 1.0, "final = 1");
            CHECK(s_a.num_train_steps == n && s_a.kind == (dpo_beta_schedule)kinds[k] && s_a.set_alpha_to_one == 0 &&
                      s_b.set_alpha_to_one == 1,
                  "header fields");
        }
}

/* ------------------------------------------------------------- timesteps */

static void check_ts(const int32_t *want, int S, int N, dpo_spacing sp, int off, const char *what)
{
    int32_t got[64];
    int k, same = 1;
    CHECK(dpo_timesteps(got, S, N, sp, off) == DPO_OK, "%s: status", what);
    for (k = 0; k < S; k++)
        same &= got[k] == want[k];
    CHECK(same, "%s: got %d %d %d ... %d", what, got[0], got[1], got[2], got[S - 1]);
}

static void test_timesteps_known(void)
{
    /* all typed from diffusers 0.42.1 DDIMScheduler(num_train_timesteps=N,
     * timestep_spacing=..., steps_offset=...).set_timesteps(S) */
    static const int32_t lead20[20] = {951, 901, 851, 801, 751, 701, 651, 601, 551, 501,
                                       451, 401, 351, 301, 251, 201, 151, 101, 51,  1};
    static const int32_t trail20[20] = {999, 949, 899, 849, 799, 749, 699, 649, 599, 549,
                                        499, 449, 399, 349, 299, 249, 199, 149, 99,  49};
    static const int32_t lin20[20] = {999, 946, 894, 841, 789, 736, 684, 631, 578, 526,
                                      473, 421, 368, 315, 263, 210, 158, 105, 53,  0};
    static const int32_t trail7[7] = {999, 856, 713, 570, 428, 285, 142};
    static const int32_t lin7[7] = {999, 832, 666, 500, 333, 166, 0};
    static const int32_t lead7[7] = {852, 710, 568, 426, 284, 142, 0};
    static const int32_t trail3[3] = {999, 666, 332};
    static const int32_t lin4n4[4] = {3, 2, 1, 0};
    static const int32_t lin3n4[3] = {3, 2, 0}; /* round(1.5) = 2: half to even */
    static const int32_t lin5n6[5] = {5, 4, 2, 1, 0}; /* 3.75 2.5 1.25 -> 4 2 1 */
    static const int32_t one[1] = {0};
    check_ts(lead20, 20, 1000, DPO_SPACING_LEADING, 1, "leading 20 offset 1");
    check_ts(trail20, 20, 1000, DPO_SPACING_TRAILING, 1, "trailing 20 (offset ignored)");
    check_ts(lin20, 20, 1000, DPO_SPACING_LINSPACE, 1, "linspace 20 (offset ignored)");
    check_ts(trail7, 7, 1000, DPO_SPACING_TRAILING, 0, "trailing 7");
    check_ts(lin7, 7, 1000, DPO_SPACING_LINSPACE, 0, "linspace 7");
    check_ts(lead7, 7, 1000, DPO_SPACING_LEADING, 0, "leading 7 offset 0");
    check_ts(trail3, 3, 1000, DPO_SPACING_TRAILING, 0, "trailing 3");
    check_ts(lin4n4, 4, 4, DPO_SPACING_LINSPACE, 0, "linspace S = N = 4");
    check_ts(lin3n4, 3, 4, DPO_SPACING_LINSPACE, 0, "linspace half to even");
    check_ts(lin5n6, 5, 6, DPO_SPACING_LINSPACE, 0, "linspace 5 of 6");
    check_ts(one, 1, 1000, DPO_SPACING_LINSPACE, 0, "linspace S = 1");
    check_ts(one, 1, 1000, DPO_SPACING_LEADING, 0, "leading S = 1");
}

/* Round-half-even of num/den, den > 0, num >= 0, in integers. */
static long rdiv_even(long num, long den)
{
    long q = num / den, r = num % den;
    if (2 * r > den || (2 * r == den && (q & 1)))
        q++;
    return q;
}

static void test_timesteps_exact(void)
{
    /* Against exact rational values: leading exactly; linspace and trailing
     * wherever the exact value is not within 1e-6 of a rounding tie (there
     * numpy's double arithmetic decides, tested in tests/py_schedule.py). */
    static int32_t got[DPO_MAX_TRAIN_STEPS];
    int N, S, k, bad = 0, cases = 0, mono_bad = 0;
    for (N = 2; N <= DPO_MAX_TRAIN_STEPS; N += (N < 50 ? 1 : 97)) {
        for (S = 1; S <= N; S += (S < 30 ? 1 : 13)) {
            int sp;
            for (sp = 0; sp < 3; sp++) {
                int off = sp == DPO_SPACING_LEADING ? (S % 2) : 0;
                dpo_status st = dpo_timesteps(got, S, N, (dpo_spacing)sp, off);
                if (st != DPO_OK) {
                    /* allowed only where the top leading timestep is N, or
                     * numpy's trailing arange has S + 1 entries */
                    if (sp == DPO_SPACING_LEADING)
                        bad += (S - 1) * (N / S) + off < N;
                    else if (sp == DPO_SPACING_LINSPACE)
                        bad++;
                    continue;
                }
                cases++;
                for (k = 0; k < S; k++) {
                    long want = -1;
                    int tie = 0;
                    if (sp == DPO_SPACING_LEADING) {
                        want = (long)(S - 1 - k) * (N / S) + off;
                    } else if (sp == DPO_SPACING_TRAILING) {
                        /* N - k N / S = N (S - k) / S */
                        long num = (long)N * (S - k);
                        double frac = (double)(num % S) / S;
                        tie = fabs(frac - 0.5) < 1e-6;
                        want = rdiv_even(num, S) - 1;
                    } else {
                        int i = S - 1 - k;
                        if (S == 1) {
                            want = 0;
                        } else {
                            long num = (long)i * (N - 1);
                            double frac = (double)(num % (S - 1)) / (S - 1);
                            tie = fabs(frac - 0.5) < 1e-6;
                            want = rdiv_even(num, S - 1);
                        }
                    }
                    if (!tie && got[k] != want) {
                        if (bad < 5)
                            fprintf(stderr, "  N=%d S=%d sp=%d k=%d: got %d want %ld\n", N, S, sp, k, got[k], want);
                        bad++;
                    }
                    if (k && got[k] >= got[k - 1])
                        mono_bad++;
                    if (got[k] < 0 || got[k] >= N)
                        bad++;
                }
            }
        }
    }
    CHECK(bad == 0, "%d mismatches", bad);
    CHECK(mono_bad == 0, "%d non-descending pairs", mono_bad);
    CHECK(cases > 10000, "only %d cases", cases);
}

static void test_timesteps_validation(void)
{
    int32_t out[64], sentinel[64];
    struct {
        int S, N, sp, off;
        dpo_status want;
    } bad[] = {
        {0, 1000, 0, 1, DPO_ERR_SIZE},
        {-3, 1000, 0, 1, DPO_ERR_SIZE},
        {20, 1, 0, 0, DPO_ERR_SIZE},
        {20, DPO_MAX_TRAIN_STEPS + 1, 0, 0, DPO_ERR_SIZE},
        {21, 20, 2, 0, DPO_ERR_SIZE},
        {20, 1000, 3, 0, DPO_ERR_RANGE},
        {20, 1000, -1, 0, DPO_ERR_RANGE},
        {20, 1000, 0, -1, DPO_ERR_RANGE},
        {20, 1000, 1, -1, DPO_ERR_RANGE},
        /* leading, S = N with offset 1: the top timestep would be N */
        {40, 40, 0, 1, DPO_ERR_RANGE},
        /* leading 20 of 1000 with offset 49 -> 999 fine, 50 -> 1000 not */
        {20, 1000, 0, 50, DPO_ERR_RANGE},
        {20, 1000, 0, 2000000000, DPO_ERR_RANGE},
        /* trailing 61 of 1000: diffusers gives 62 timesteps, the last -1 */
        {61, 1000, 1, 0, DPO_ERR_RANGE},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dpo_status st;
        memset(out, 0x5a, sizeof out);
        memset(sentinel, 0x5a, sizeof sentinel);
        st = dpo_timesteps(out, bad[i].S, bad[i].N, (dpo_spacing)bad[i].sp, bad[i].off);
        CHECK(st == bad[i].want, "case %u: status %d, want %d", (unsigned)i, (int)st, (int)bad[i].want);
        CHECK(!memcmp(out, sentinel, sizeof out), "case %u: output touched", (unsigned)i);
    }
    CHECK(dpo_timesteps(NULL, 20, 1000, DPO_SPACING_LEADING, 1) == DPO_ERR_NULL, "NULL");
    CHECK(dpo_timesteps(out, 20, 1000, DPO_SPACING_LEADING, 49) == DPO_OK && out[0] == 999, "offset 49 ok");
    CHECK(dpo_timesteps(out, 60, 1000, DPO_SPACING_TRAILING, 0) == DPO_OK && out[59] == 16, "trailing 60 ok");
}

int main(void)
{
    RUN(test_init_validation);
    RUN(test_table_validation);
    RUN(test_table_contents);
    RUN(test_sd15_bits_pytorch);
    RUN(test_linear_bits_pytorch);
    RUN(test_f64_linear_closed_form);
    RUN(test_squaredcos_closed_form);
    RUN(test_monotone_and_alpha_one);
    RUN(test_timesteps_known);
    RUN(test_timesteps_exact);
    RUN(test_timesteps_validation);
    return chk_summary();
}
