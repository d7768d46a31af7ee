/* Accuracy measurement of the portable math in src/core/dpo_pmath.h (not a
 * unit test: tests/run_accuracy.sh builds and runs it; docs/portable-math.md
 * holds the numbers it printed).
 *
 * Reference: x87 80-bit long double (64-bit significand, 11 more bits than
 * double) through libm's expl, logl, log1pl, sinl, cosl.  The trigonometric
 * reference reduces its argument exactly in long double before calling
 * sinl/cosl, so the reference is never hurt by an inexact 2 pi u.
 * tests/py_pmath_mpmath.py checks this reference against mpmath at 50 digits
 * through the "dump" mode below.
 *
 * Usage:
 *   pmath_accuracy [N]          N arguments per domain (default 10^6), table
 *   pmath_accuracy dump N SEED  N lines per domain: name x ref got, as C99
 *                               hex floats (ref in long double, %La: exact) */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/dpo_pmath.h"

static uint64_t sm_state;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif01(void) /* [0, 1) with 53 random bits */
{
    return (double)(splitmix64() >> 11) * (1.0 / 9007199254740992.0);
}
static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
static uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* ---- references in long double ---- */
static const long double PI_L = 3.14159265358979323846264338327950288L;

/* sin(2 pi u), cos(2 pi u): exact reduction u = n + j/4 + r, |r| <= 1/8,
 * with n the integer nearest u (u - n holds only fraction bits of u, so it is
 * exact for any double u; x - floor(x) would not be for tiny negative x). */
static void ref_sincos2pi(long double x, long double *s, long double *c)
{
    long double f, r, ss, cc;
    long double q;
    int qi;
    f = x - roundl(x);            /* [-1/2, 1/2], exact */
    q = roundl(4.0L * f);         /* -2..2 */
    r = f - 0.25L * q;            /* exact */
    qi = (int)q & 3;
    ss = sinl(2.0L * PI_L * r);
    cc = cosl(2.0L * PI_L * r);
    switch (qi) {
    case 0: *s = ss; *c = cc; break;
    case 1: *s = cc; *c = -ss; break;
    case 2: *s = -ss; *c = -cc; break;
    default: *s = -cc; *c = ss; break;
    }
}

enum { F_EXP, F_LOG, F_LOG1P, F_SIN2PI, F_COS2PI, F_COSPI, F_SIGMOID, F_SOFTPLUS, F_COUNT };
static const char *fname[F_COUNT] = {"exp", "log", "log1p", "sin2pi", "cos2pi", "cospi", "sigmoid", "softplus"};

static long double ref_eval(int f, double x)
{
    long double s, c, lx = (long double)x;
    switch (f) {
    case F_EXP: return expl(lx);
    case F_LOG: return logl(lx);
    case F_LOG1P: return log1pl(lx);
    case F_SIN2PI: ref_sincos2pi(lx, &s, &c); return s;
    case F_COS2PI: ref_sincos2pi(lx, &s, &c); return c;
    case F_COSPI: /* cos(pi x) = cos(2 pi (x/2)); x/2 exact in long double */
        ref_sincos2pi(lx * 0.5L, &s, &c);
        return c;
    case F_SIGMOID:
        return lx >= 0 ? 1.0L / (1.0L + expl(-lx)) : expl(lx) / (1.0L + expl(lx));
    default: /* softplus */
        return lx > 0 ? lx + log1pl(expl(-lx)) : log1pl(expl(lx));
    }
}

static double lib_eval(int f, double x)
{
    double s, c;
    switch (f) {
    case F_EXP: return dpo_exp(x);
    case F_LOG: return dpo_log(x);
    case F_LOG1P: return dpo_log1p(x);
    case F_SIN2PI: dpo_sincos2pi(x, &s, &c); return s;
    case F_COS2PI: dpo_sincos2pi(x, &s, &c); return c;
    case F_COSPI: return dpo_cospi(x);
    case F_SIGMOID: return dpo_sigmoid(x);
    default: return dpo_softplus(x);
    }
}

/* Error of got in units of the last place of the double nearest ref
 * (ulp of subnormals = 2^-1074).  -1 when the reference is outside the
 * finite double range (overflow) and got is inf, or both are exactly 0. */
static double ulp_error(double got, long double ref)
{
    long double a = fabsl(ref), ulp;
    int e;
    if (a > (long double)DBL_MAX) {
        return (got == HUGE_VAL && ref > 0) || (got == -HUGE_VAL && ref < 0) ? -1.0 : 1e300;
    }
    if (a < (long double)DBL_MIN)
        ulp = ldexpl(1.0L, -1074);
    else {
        frexpl(a, &e); /* a = m 2^e, m in [0.5, 1) */
        /* the double nearest a may round up to the next binade: harmless
         * (the ulp is then overstated by 2 only when a is within half an
         * ulp of a power of two) */
        ulp = ldexpl(1.0L, e - 53);
    }
    return (double)(fabsl((long double)got - ref) / ulp);
}

/* Argument generators. */
enum { G_UNIFORM, G_LOGBITS, G_SYMLOG };
typedef struct domain {
    int f;
    int gen;
    double lo, hi; /* uniform: [lo, hi); logbits: bit patterns of [lo, hi] (lo, hi > 0);
                      symlog: +-|x| with |x| bit patterns in [lo, hi] */
    const char *desc;
} domain;

static double gen_arg(const domain *d)
{
    if (d->gen == G_UNIFORM)
        return d->lo + (d->hi - d->lo) * unif01();
    {
        uint64_t a = double_to_bits(d->lo), b = double_to_bits(d->hi);
        uint64_t r = splitmix64();
        double x = bits_to_double(a + r % (b - a + 1));
        if (d->gen == G_SYMLOG && (r >> 63))
            x = -x;
        return x;
    }
}

static const domain domains[] = {
    {F_EXP, G_UNIFORM, -745.0, 710.0, "[-745, 710] uniform"},
    {F_EXP, G_UNIFORM, -50.0, 50.0, "[-50, 50] uniform"},
    {F_EXP, G_SYMLOG, 1e-20, 1.0, "+-[1e-20, 1] log-spaced"},
    {F_EXP, G_UNIFORM, -745.13, -708.0, "[-745.13, -708] (subnormal results)"},
    {F_LOG, G_LOGBITS, 4.9406564584124654e-324, 1.7976931348623157e308, "(0, DBL_MAX] all bit patterns (incl. subnormals)"},
    {F_LOG, G_UNIFORM, 0.5, 2.0, "[0.5, 2) uniform"},
    {F_LOG, G_UNIFORM, 1.0 - 1e-6, 1.0 + 1e-6, "1 +- 1e-6 uniform"},
    {F_LOG, G_UNIFORM, 2.3283064365386963e-10, 1.0, "(2^-32, 1) uniform (Box-Muller u1)"},
    {F_LOG1P, G_UNIFORM, -1.0, 1.0, "(-1, 1) uniform"},
    {F_LOG1P, G_LOGBITS, 1.0, 1e300, "[1, 1e300] bit patterns"},
    {F_LOG1P, G_SYMLOG, 1e-300, 1e-3, "+-[1e-300, 1e-3] log-spaced (near 0)"},
    {F_LOG1P, G_LOGBITS, 1.2e-16, 1.0, "-(1 - [1.2e-16, 1]) (near -1)"},
    {F_SIN2PI, G_UNIFORM, 0.0, 1.0, "[0, 1) uniform"},
    {F_SIN2PI, G_UNIFORM, -1000.0, 1000.0, "[-1000, 1000] uniform"},
    {F_SIN2PI, G_SYMLOG, 1e-300, 1.0, "+-[1e-300, 1] log-spaced"},
    {F_COS2PI, G_UNIFORM, 0.0, 1.0, "[0, 1) uniform"},
    {F_COS2PI, G_UNIFORM, -1000.0, 1000.0, "[-1000, 1000] uniform"},
    {F_COS2PI, G_UNIFORM, 0.2499, 0.2501, "0.25 +- 1e-4 (zero crossing)"},
    {F_COSPI, G_UNIFORM, -4.0, 4.0, "[-4, 4] uniform"},
    {F_COSPI, G_UNIFORM, 0.0, 1.0, "[0, 1) uniform (schedules)"},
    {F_SIGMOID, G_UNIFORM, -40.0, 40.0, "[-40, 40] uniform"},
    {F_SIGMOID, G_UNIFORM, -740.0, 740.0, "[-740, 740] uniform"},
    {F_SOFTPLUS, G_UNIFORM, -40.0, 40.0, "[-40, 40] uniform"},
    {F_SOFTPLUS, G_UNIFORM, -740.0, 740.0, "[-740, 740] uniform"},
};

/* The type must be wide, and so must its arithmetic at run time (valgrind,
 * for one, computes x87 long double in double). */
static int long_double_ok(void)
{
    volatile long double one = 1.0L, tiny = 0x1p-63L;
    return LDBL_MANT_DIG >= 64 && (long double)(one + tiny) != one;
}

static int run_table(long n)
{
    size_t di;
    double fmax[F_COUNT] = {0}, fsum[F_COUNT] = {0};
    long fcnt[F_COUNT] = {0};
    int f;
    printf("# pmath_accuracy: %ld arguments per domain, reference long double (%d-bit significand)\n", n,
           LDBL_MANT_DIG);
    printf("# %-9s %-48s %9s %9s %10s  %s\n", "function", "domain", "count", "max_ulp", "mean_ulp", "argmax");
    for (di = 0; di < sizeof domains / sizeof domains[0]; di++) {
        const domain *d = &domains[di];
        double mx = 0, sum = 0, argmax = 0;
        long i, cnt = 0;
        sm_state = 0x1234567ULL + di;
        for (i = 0; i < n; i++) {
            double x = gen_arg(d), e;
            if (d->f == F_LOG1P && di == 11)
                x = -(1.0 - x); /* near -1 */
            e = ulp_error(lib_eval(d->f, x), ref_eval(d->f, x));
            if (e < 0)
                continue;
            cnt++;
            sum += e;
            if (e > mx) {
                mx = e;
                argmax = x;
            }
        }
        printf("  %-9s %-48s %9ld %9.4f %10.5f  %a\n", fname[d->f], d->desc, cnt, mx, sum / (double)cnt, argmax);
        if (mx > fmax[d->f])
            fmax[d->f] = mx;
        fsum[d->f] += sum;
        fcnt[d->f] += cnt;
    }
    printf("# per function over all its domains\n");
    for (f = 0; f < F_COUNT; f++)
        printf("  %-9s count %9ld  max %.4f ulp  mean %.5f ulp\n", fname[f], fcnt[f], fmax[f],
               fsum[f] / (double)fcnt[f]);
    return 0;
}

static int run_dump(long n, uint64_t seed)
{
    size_t di;
    long i;
    sm_state = seed;
    for (di = 0; di < sizeof domains / sizeof domains[0]; di++) {
        const domain *d = &domains[di];
        for (i = 0; i < n; i++) {
            double x = gen_arg(d);
            long double r;
            if (d->f == F_LOG1P && di == 11)
                x = -(1.0 - x);
            r = ref_eval(d->f, x);
            if (fabsl(r) > (long double)DBL_MAX)
                continue;
            printf("%s %a %La %a\n", fname[d->f], x, r, lib_eval(d->f, x));
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (!long_double_ok()) {
        printf("SKIP: long double arithmetic is not wider than double here (LDBL_MANT_DIG %d); "
               "no higher-precision reference\n", LDBL_MANT_DIG);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "dump") == 0) {
        long n = argc >= 3 ? atol(argv[2]) : 100;
        uint64_t seed = argc >= 4 ? strtoull(argv[3], NULL, 0) : 1;
        return run_dump(n, seed);
    }
    return run_table(argc >= 2 ? atol(argv[1]) : 1000000L);
}
