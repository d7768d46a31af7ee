/* Portable transcendental functions for the bit-reproducibility contract.
 *
 * Each function is built from IEEE-754 double + - * / and sqrt, in a fixed
 * order, with no fused multiply-add (the build forbids contraction).  libm
 * and CUDA's math library round differently from each other; these give the
 * same bits everywhere.  Accuracy is measured against an x87 long-double
 * reference (itself checked against mpmath by tests/py_pmath_mpmath.py) by
 * tests/pmath_accuracy.c over >= 10^6 arguments per domain
 * (tests/run_accuracy.sh); the bounds and the error analysis are in
 * docs/portable-math.md and tests/test_pmath.c asserts them.
 *
 * Domain conventions: NaN in -> NaN out; the functions never trap. */
#ifndef DPO_PMATH_H
#define DPO_PMATH_H

#include "dpo_hd.h"

/* Reinterpretation of doubles, through a union in C and memcpy-free shifts
 * so that the same code works under nvcc. */
typedef union dpo_f64bits_u {
    double d;
    uint64_t u;
} dpo_f64bits;

DPO_HD uint64_t dpo_pm_bits(double x)
{
    dpo_f64bits b;
    b.d = x;
    return b.u;
}

DPO_HD double dpo_pm_from_bits(uint64_t u)
{
    dpo_f64bits b;
    b.u = u;
    return b.d;
}

/* 2^k for integer k in [-1022, 1023], exactly. */
DPO_HD double dpo_pm_pow2i(int k)
{
    return dpo_pm_from_bits((uint64_t)(k + 1023) << 52);
}

/* x * 2^k exactly (with correct gradual underflow and overflow to inf),
 * for |k| <= 2100. */
DPO_HD double dpo_pm_ldexp(double x, int k)
{
    while (k > 1000) {
        x *= dpo_pm_pow2i(1000);
        k -= 1000;
    }
    while (k < -1000) {
        /* scale in two halves to round only once at the end */
        x *= dpo_pm_pow2i(-1000);
        k += 1000;
    }
    return x * dpo_pm_pow2i(k);
}

DPO_HD int dpo_pm_isnan(double x)
{
    return x != x;
}

DPO_HD int dpo_pm_isfinite(double x)
{
    return (dpo_pm_bits(x) & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL;
}

DPO_HD int dpo_pm_isfinitef(float x)
{
    return dpo_pm_isfinite((double)x);
}

/* fmaf(a, b, c): a*b + c rounded once to float32, from double arithmetic
 * only (no FMA instruction, no libm).  a*b is exact in double (24 + 24
 * bits); the sum is rounded to double with round-to-odd (TwoSum gives the
 * error; an inexact even result moves one ulp towards the true value),
 * which has more than 2 extra bits, so the final rounding to float32 is
 * the correct rounding of the exact a*b + c.  Used by PyTorch's fused
 * linspace (src/schedule.c) and the threshold's lerp (src/threshold.c). */
DPO_HD float dpo_pm_fmaf(float a, float b, float c)
{
    double p = (double)a * (double)b;
    double q = (double)c;
    double s = p + q;
    double bb = s - p;
    double err = (p - (s - bb)) + (q - bb);
    if (err != 0.0) {
        uint64_t u = dpo_pm_bits(s);
        if ((u & 1u) == 0) {
            if ((err > 0.0) == (s > 0.0))
                u += 1;
            else
                u -= 1;
            s = dpo_pm_from_bits(u);
        }
    }
    return (float)s;
}

/* Round to nearest integer, ties away from zero, for |x| < 2^52. */
DPO_HD double dpo_pm_round(double x)
{
    double a = x < 0 ? -x : x;
    double r;
    if (!(a < 4503599627370496.0)) /* >= 2^52: already an integer (or NaN) */
        return x;
    r = (a + 4503599627370496.0) - 4503599627370496.0; /* nearest, ties even */
    if (r < a && a - r == 0.5) /* a tie rounded down to even: round away */
        r += 1.0;
    return x < 0 ? -r : r;
}

DPO_HD double dpo_pm_floor(double x)
{
    double r;
    double a = x < 0 ? -x : x;
    if (!(a < 4503599627370496.0))
        return x;
    r = dpo_pm_round(x);
    if (r > x) r -= 1.0;
    return r;
}

/* ln 2 split so that k * LN2_HI is exact for |k| < 2^11. */
#define DPO_PM_LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define DPO_PM_LN2_LO 1.90821492927058770002e-10 /* 0x3dea39ef35793c76 */
#define DPO_PM_INV_LN2 1.44269504088896338700e+00
#define DPO_PM_LN2 0.69314718055994530942
#define DPO_PM_PI 3.14159265358979311600e+00
#define DPO_PM_2PI_HI 6.28318530717958623200e+00 /* nearest double to 2 pi */
#define DPO_PM_2PI_LO 2.44929359829470635445e-16 /* 2 pi - 2PI_HI */
#define DPO_PM_LOG_SQRT_2PI 0.91893853320467274178
#define DPO_PM_LOG_2PI 1.8378770664093454836

/* exp(x).  x = k ln2 + r, |r| <= ln2/2 (Cody-Waite with a two-part ln 2),
 * exp(r) by its Taylor series to r^13 in Horner form, then scaled by 2^k. */
DPO_HD double dpo_exp(double x)
{
    double kd, hi, lo, r, p;
    int k;
    if (dpo_pm_isnan(x))
        return x;
    if (x > 709.782712893384) /* > log(DBL_MAX) */
        return dpo_pm_from_bits(0x7ff0000000000000ULL);
    if (x < -745.1332191019412) /* below half the smallest subnormal */
        return 0.0;
    kd = dpo_pm_round(x * DPO_PM_INV_LN2);
    k = (int)kd;
    hi = x - kd * DPO_PM_LN2_HI; /* exact: kd*LN2_HI has spare low bits */
    lo = kd * DPO_PM_LN2_LO;
    r = hi - lo;
    /* exp(r) - 1 = r + r^2/2! + ... + r^13/13! */
    p = 1.0 / 6227020800.0;             /* 1/13! */
    p = 1.0 / 479001600.0 + r * p;      /* 1/12! */
    p = 1.0 / 39916800.0 + r * p;       /* 1/11! */
    p = 1.0 / 3628800.0 + r * p;        /* 1/10! */
    p = 1.0 / 362880.0 + r * p;         /* 1/9!  */
    p = 1.0 / 40320.0 + r * p;          /* 1/8!  */
    p = 1.0 / 5040.0 + r * p;           /* 1/7!  */
    p = 1.0 / 720.0 + r * p;            /* 1/6!  */
    p = 1.0 / 120.0 + r * p;            /* 1/5!  */
    p = 1.0 / 24.0 + r * p;             /* 1/4!  */
    p = 1.0 / 6.0 + r * p;              /* 1/3!  */
    p = 0.5 + r * p;                    /* 1/2!  */
    /* e^r = 1 + (hi - (lo - r*r*p)): keeps the small parts together */
    p = 1.0 + (hi - (lo - (r * r) * p));
    return dpo_pm_ldexp(p, k);
}

/* log(1+f) for f in [sqrt(2)/2 - 1, sqrt(2) - 1], through s = f/(2+f):
 * log(1+f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R)),
 * R = 2 s^2/3 + 2 s^4/5 + ... (series to s^24). */
DPO_HD double dpo_pm_log1p_core(double f)
{
    double s = f / (2.0 + f);
    double z = s * s;
    double hfsq = 0.5 * f * f;
    double R;
    R = 2.0 / 25.0;
    R = 2.0 / 23.0 + z * R;
    R = 2.0 / 21.0 + z * R;
    R = 2.0 / 19.0 + z * R;
    R = 2.0 / 17.0 + z * R;
    R = 2.0 / 15.0 + z * R;
    R = 2.0 / 13.0 + z * R;
    R = 2.0 / 11.0 + z * R;
    R = 2.0 / 9.0 + z * R;
    R = 2.0 / 7.0 + z * R;
    R = 2.0 / 5.0 + z * R;
    R = 2.0 / 3.0 + z * R;
    R = z * R;
    return f - (hfsq - s * (hfsq + R));
}

/* Split x > 0 (finite) into x = m 2^k with m in [sqrt(2)/2, sqrt(2)). */
DPO_HD double dpo_pm_frexp_sqrt2(double x, int *k)
{
    uint64_t u;
    int e, adj = 0;
    if (x < 2.2250738585072014e-308) { /* subnormal: scale into normal range */
        x *= 18014398509481984.0;      /* 2^54 */
        adj = -54;
    }
    u = dpo_pm_bits(x);
    e = (int)((u >> 52) & 0x7ff) - 1023;
    u = (u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* m in [1,2) */
    if (u > 0x3ff6a09e667f3bcdULL) {                          /* m > sqrt 2 */
        u -= 0x0010000000000000ULL;                           /* m /= 2 */
        e += 1;
    }
    *k = e + adj;
    return dpo_pm_from_bits(u);
}

/* Natural logarithm. log(0) = -inf, log(x<0) = NaN, log(inf) = inf. */
DPO_HD double dpo_log(double x)
{
    int k;
    double m, f, hfsq, s, z, R, kd;
    if (dpo_pm_isnan(x))
        return x;
    if (x < 0.0)
        return dpo_pm_from_bits(0x7ff8000000000000ULL);
    if (x == 0.0)
        return -dpo_pm_from_bits(0x7ff0000000000000ULL);
    if (!dpo_pm_isfinite(x))
        return x;
    m = dpo_pm_frexp_sqrt2(x, &k);
    f = m - 1.0; /* exact */
    kd = (double)k;
    if (k == 0)
        return dpo_pm_log1p_core(f);
    s = f / (2.0 + f);
    z = s * s;
    hfsq = 0.5 * f * f;
    R = 2.0 / 25.0;
    R = 2.0 / 23.0 + z * R;
    R = 2.0 / 21.0 + z * R;
    R = 2.0 / 19.0 + z * R;
    R = 2.0 / 17.0 + z * R;
    R = 2.0 / 15.0 + z * R;
    R = 2.0 / 13.0 + z * R;
    R = 2.0 / 11.0 + z * R;
    R = 2.0 / 9.0 + z * R;
    R = 2.0 / 7.0 + z * R;
    R = 2.0 / 5.0 + z * R;
    R = 2.0 / 3.0 + z * R;
    R = z * R;
    return kd * DPO_PM_LN2_HI - ((hfsq - (s * (hfsq + R) + kd * DPO_PM_LN2_LO)) - f);
}

/* log(1+x).  For 1+x rounding to u, the exact argument is u + c with
 * c = x - (u - 1) (or 1 - (u - x) when x is large): log(1+x) = log(u) + c/u
 * to first order, which is enough because |c/u| < ulp(u)/2. */
DPO_HD double dpo_log1p(double x)
{
    double u, c;
    if (dpo_pm_isnan(x))
        return x;
    if (x < -1.0)
        return dpo_pm_from_bits(0x7ff8000000000000ULL);
    if (x == -1.0)
        return -dpo_pm_from_bits(0x7ff0000000000000ULL);
    if (!dpo_pm_isfinite(x))
        return x;
    if ((x < 0 ? -x : x) < 1.1102230246251565e-16) /* 2^-53: log1p(x) = x */
        return x;
    if (x > -0.2928932188134524 && x < 0.41421356237309503) /* 1+x in [sqrt2/2, sqrt2) */
        return dpo_pm_log1p_core(x);
    u = 1.0 + x;
    if (u > 2.0)
        c = 1.0 - (u - x);
    else
        c = x - (u - 1.0);
    return dpo_log(u) + c / u;
}

/* The rounding error of a product: a * b = p + dpo_pm_two_prod_err(a, b, p)
 * exactly, for p = fl(a * b), by Veltkamp splitting and Dekker's product
 * (no FMA needed; exact unless a*b underflows or a, b exceed 2^995). */
DPO_HD double dpo_pm_two_prod_err(double a, double b, double p)
{
    double ca = 134217729.0 * a, cb = 134217729.0 * b; /* 2^27 + 1 */
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/* sin(2 pi r) and cos(2 pi r) for |r| <= 1/8, by Taylor series in
 * theta = 2 pi r.  theta is carried as th + tl to about 2^-100 relative
 * (two-part 2 pi and the exact error of r * 2PI_HI), and th^2 as z + zl
 * exactly, so the only sizeable error is the final rounding. */
DPO_HD void dpo_pm_sincos2pi_kernel(double r, double *s, double *c)
{
    double th = r * DPO_PM_2PI_HI;
    double tl = dpo_pm_two_prod_err(r, DPO_PM_2PI_HI, th) + r * DPO_PM_2PI_LO;
    double z = th * th;
    double zl = dpo_pm_two_prod_err(th, th, z);
    double ps, pc;
    /* sin: th - th^3/3! + ... - th^19/19!;  sin(th + tl) = sin th + tl cos th,
     * cos th = 1 - z/2 to the precision the tl term needs */
    ps = -1.0 / 121645100408832000.0;    /* -1/19! */
    ps = 1.0 / 355687428096000.0 + z * ps; /* 1/17! */
    ps = -1.0 / 1307674368000.0 + z * ps;  /* -1/15! */
    ps = 1.0 / 6227020800.0 + z * ps;      /* 1/13! */
    ps = -1.0 / 39916800.0 + z * ps;       /* -1/11! */
    ps = 1.0 / 362880.0 + z * ps;          /* 1/9! */
    ps = -1.0 / 5040.0 + z * ps;           /* -1/7! */
    ps = 1.0 / 120.0 + z * ps;             /* 1/5! */
    ps = -1.0 / 6.0 + z * ps;              /* -1/3! */
    *s = th + ((tl - tl * (0.5 * z)) + th * (z * ps));
    /* cos: 1 - th^2/2! + ... + th^20/20!;  cos(th + tl) = cos th - tl sin th */
    pc = 1.0 / 2432902008176640000.0;    /* 1/20! */
    pc = -1.0 / 6402373705728000.0 + z * pc; /* -1/18! */
    pc = 1.0 / 20922789888000.0 + z * pc;    /* 1/16! */
    pc = -1.0 / 87178291200.0 + z * pc;      /* -1/14! */
    pc = 1.0 / 479001600.0 + z * pc;         /* 1/12! */
    pc = -1.0 / 3628800.0 + z * pc;          /* -1/10! */
    pc = 1.0 / 40320.0 + z * pc;             /* 1/8! */
    pc = -1.0 / 720.0 + z * pc;              /* -1/6! */
    pc = 1.0 / 24.0 + z * pc;                /* 1/4! */
    {
        double hz = 0.5 * z;   /* exact */
        double w = 1.0 - hz;   /* 1 - th^2/2 rounded ... */
        double e = (1.0 - w) - hz; /* ... and its rounding error, exactly */
        *c = w + (e + (z * (z * pc) - (0.5 * zl + th * tl)));
    }
}

/* sin(2 pi u) and cos(2 pi u) for any finite u.  The reduction is exact:
 * for u >= 0, u - floor(u) and the quadrant split are exact in binary
 * arithmetic; negative u (and -0) use sin(-a) = -sin(a), cos(-a) = cos(a)
 * exactly. */
DPO_HD void dpo_sincos2pi(double u, double *s, double *c)
{
    double f, q, r, ss, cc, a;
    int qi, neg;
    if (!dpo_pm_isfinite(u)) {
        *s = *c = dpo_pm_from_bits(0x7ff8000000000000ULL);
        return;
    }
    neg = (int)(dpo_pm_bits(u) >> 63);
    a = neg ? -u : u;
    if (a >= 4503599627370496.0) { /* integer: angle 0 */
        *s = neg ? -0.0 : 0.0;
        *c = 1.0;
        return;
    }
    f = a - dpo_pm_floor(a);      /* [0, 1), exact */
    q = dpo_pm_round(4.0 * f);    /* 0..4 */
    r = f - 0.25 * q;             /* [-1/8, 1/8], exact */
    qi = ((int)q) & 3;
    dpo_pm_sincos2pi_kernel(r, &ss, &cc);
    switch (qi) {
    case 0: *s = ss; *c = cc; break;
    case 1: *s = cc; *c = -ss; break;
    case 2: *s = -ss; *c = -cc; break;
    default: *s = -cc; *c = ss; break;
    }
    if (neg)
        *s = -*s;
}

/* cos(pi x) for finite x. */
DPO_HD double dpo_cospi(double x)
{
    double s, c;
    dpo_sincos2pi(0.5 * x, &s, &c);
    return c;
}

/* Logistic sigmoid 1/(1+e^-x), stable for both signs.  d + dl = 1 + e
 * exactly (Fast2Sum, 1 >= e), and 1/(d + dl) = (1/d)(1 - dl/d) to first
 * order, so the rounding of 1 + e does not reach the result. */
DPO_HD double dpo_sigmoid(double x)
{
    double e, d, dl, q;
    if (dpo_pm_isnan(x))
        return x;
    e = dpo_exp(x >= 0 ? -x : x);
    d = 1.0 + e;
    dl = (1.0 - d) + e;
    q = (x >= 0 ? 1.0 : e) / d;
    return q - q * (dl / d);
}

/* softplus(x) = log(1 + e^x) = max(x,0) + log1p(e^-|x|); -log sigmoid(x) = softplus(-x). */
DPO_HD double dpo_softplus(double x)
{
    double a = x < 0 ? -x : x;
    double m = x > 0 ? x : 0.0;
    return m + dpo_log1p(dpo_exp(-a));
}

#endif
