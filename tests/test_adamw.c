/* AdamW: against an independent double implementation written here from
 * Loshchilov & Hutter (decoupled weight decay, bias-corrected moments),
 * over several steps within a float32 bound; the float32 operation order
 * of the contract bit for bit on one step; the bias-correction powers
 * b^step; defaults; validation.
 *
 * Float32 bound: every float op rounds with relative error <= u = 2^-24;
 * m and v are linear recurrences with coefficients < 1, so their relative
 * error (m: relative to its scale |m| + sqrt(v), as m can cancel) stays
 * below ~4u per step accumulated (we allow 1e-5 after 20 steps, ~170 u).  The update lr (mhat / (sqrt(vhat) + eps) + wd p) has
 * relative error ~1e-5 from those, so after k steps
 *   |p32 - p64| <= k (1e-5 lr |ratio| + 2 ulp(p)),
 * bounded here by k (2e-5 lr + 4 u |p|). */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"
#include "core/dpo_mlp.h"

static double lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (double)(*s >> 8) / 16777216.0 * 2.0 - 1.0;
}

static void ref_step(double *p, double *m, double *v, const double *g, size_t n, double lr, double b1, double b2,
                     double eps, double wd, int step)
{
    size_t i;
    double c1 = 1.0 - pow(b1, step), c2 = 1.0 - pow(b2, step);
    for (i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * ((m[i] / c1) / (sqrt(v[i] / c2) + eps) + wd * p[i]);
    }
}

#define N 257

static void test_vs_double(void)
{
    static float p[N], m[N], v[N], g[N];
    static double pd[N], md[N], vd[N], gd[N];
    double wds[2] = {0.0, 0.01};
    int w, k;
    size_t i;
    uint32_t s = 1;
    for (w = 0; w < 2; w++) {
        dpo_adamw h = dpo_adamw_default(1e-2);
        double maxp = 0, maxm = 0, maxv = 0;
        int okp = 1;
        h.weight_decay = wds[w];
        for (i = 0; i < N; i++) {
            p[i] = (float)(lcg(&s) * 2);
            pd[i] = p[i];
            m[i] = v[i] = 0;
            md[i] = vd[i] = 0;
        }
        for (k = 1; k <= 20; k++) {
            for (i = 0; i < N; i++) {
                /* gradients over several magnitudes, some exact zeros */
                g[i] = (float)(lcg(&s) * pow(10.0, (double)(i % 7) - 4.0));
                if (i % 31 == 0)
                    g[i] = 0.0f;
                gd[i] = g[i];
            }
            CHECK(dpo_adamw_step(p, m, v, g, N, &h, (uint64_t)k) == DPO_OK, "step %d", k);
            ref_step(pd, md, vd, gd, N, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, k);
            for (i = 0; i < N; i++) {
                double ep = fabs(p[i] - pd[i]), em, ev;
                double bound = k * (2e-5 * h.lr + 4 * 5.96e-8 * fabs(pd[i]));
                if (ep > bound)
                    okp = 0;
                if (ep / bound > maxp)
                    maxp = ep / bound;
                /* m is a signed sum that can cancel: relative to its scale sqrt(v) */
                em = fabs(m[i] - md[i]) / (fabs(md[i]) + sqrt(vd[i]) + 1e-30);
                ev = fabs(v[i] - vd[i]) / (fabs(vd[i]) + 1e-30);
                if (md[i] != 0 && em > maxm)
                    maxm = em;
                if (vd[i] != 0 && ev > maxv)
                    maxv = ev;
            }
        }
        CHECK(okp, "wd %g: p within the float32 bound (worst %.3g of it)", wds[w], maxp);
        CHECK(maxm < 1e-5 && maxv < 1e-5, "wd %g: m, v relative errors %g %g", wds[w], maxm, maxv);
    }
}

/* One step typed out in float32 in the documented order. */
static void test_float_order_bits(void)
{
    float p[64], m[64], v[64], g[64], pe[64], me[64], ve[64];
    dpo_adamw h = dpo_adamw_default(3e-3);
    uint64_t step = 7;
    size_t i;
    uint32_t s = 3;
    h.weight_decay = 0.05;
    for (i = 0; i < 64; i++) {
        p[i] = pe[i] = (float)lcg(&s);
        m[i] = me[i] = (float)(lcg(&s) * 0.1);
        v[i] = ve[i] = (float)(fabs(lcg(&s)) * 0.01);
        g[i] = (float)(lcg(&s) * 0.3);
    }
    {
        float b1 = (float)0.9, b2 = (float)0.999, omb1 = (float)(1.0 - 0.9), omb2 = (float)(1.0 - 0.999);
        /* b^7 by the documented right-to-left squaring: b^1 (b^2 ... ) */
        double a1 = 0.9, a2 = a1 * a1, a4 = a2 * a2, c1 = 0.999, c2 = c1 * c1, c4 = c2 * c2;
        float bc1 = (float)(1.0 - (a1 * a2) * a4);
        float bc2 = (float)(1.0 - (c1 * c2) * c4);
        float lr = (float)3e-3, eps = (float)1e-8, wd = (float)0.05;
        for (i = 0; i < 64; i++) {
            float mm = b1 * me[i] + omb1 * g[i];
            float vv = b2 * ve[i] + omb2 * (g[i] * g[i]);
            float den = sqrtf(vv / bc2) + eps;
            float upd = (mm / bc1) / den + wd * pe[i];
            me[i] = mm;
            ve[i] = vv;
            pe[i] = pe[i] - lr * upd;
        }
    }
    CHECK(dpo_adamw_step(p, m, v, g, 64, &h, step) == DPO_OK, "step");
    CHECK(chk_same_bits(m, me, sizeof m), "m bit for bit");
    CHECK(chk_same_bits(v, ve, sizeof v), "v bit for bit");
    CHECK(chk_same_bits(p, pe, sizeof p), "p bit for bit");
}

static void test_bias_correction_powers(void)
{
    double b[4] = {0.9, 0.999, 0.5, 0.99999};
    uint64_t n[9] = {0, 1, 2, 3, 10, 1000, 12345, 1000000, 100000000};
    int i, j;
    for (i = 0; i < 4; i++) {
        CHECK(dpo_pow_u64(b[i], 0) == 1.0, "b^0");
        CHECK(dpo_pow_u64(b[i], 1) == b[i], "b^1 exact");
        CHECK(dpo_pow_u64(b[i], 2) == b[i] * b[i], "b^2 = fl(b b)");
        CHECK(dpo_pow_u64(b[i], 3) == b[i] * (b[i] * b[i]), "b^3 = fl(b fl(b b))");
        for (j = 0; j < 9; j++) {
            long double ref = powl((long double)b[i], (long double)n[j]);
            double got = dpo_pow_u64(b[i], n[j]);
            /* repeated squaring: relative error <= 2 n u (each squaring
             * doubles the relative error, plus one rounding per step) */
            double rel = ref > 0 ? (double)fabsl(((long double)got - ref) / ref) : fabs(got);
            double bound = n[j] ? 2.0 * (double)n[j] * 1.12e-16 + 1e-300 : 0;
            if (ref < 1e-300L)
                CHECK(got < 1e-290, "b %g ^ %llu underflows: %g", b[i], (unsigned long long)n[j], got);
            else
                CHECK(rel <= bound, "b %g ^ %llu: rel err %g > %g", b[i], (unsigned long long)n[j], rel, bound);
        }
    }
    /* step 1 from zero moments: mhat = g, vhat = g^2 exactly up to the
     * float roundings, so the first step moves p by lr sign(g) */
    {
        float p[3] = {1, 1, 1}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0}, g[3] = {0.5f, -2e-3f, 40.0f};
        dpo_adamw h = dpo_adamw_default(0.01);
        CHECK(dpo_adamw_step(p, m, v, g, 3, &h, 1) == DPO_OK, "step 1");
        CHECK(fabs(p[0] - 0.99) < 1e-6 && fabs(p[1] - 1.01) < 1e-6 && fabs(p[2] - 0.99) < 1e-6,
              "first step is lr sign(g): %.8g %.8g %.8g", p[0], p[1], p[2]);
    }
    /* a huge step number: bias corrections are 1 */
    {
        float p[1] = {1}, m[1] = {0}, v[1] = {0}, g[1] = {1};
        dpo_adamw h = dpo_adamw_default(1.0);
        h.eps = 1e-3;
        CHECK(dpo_adamw_step(p, m, v, g, 1, &h, (uint64_t)1 << 40) == DPO_OK, "step 2^40");
        /* m = 0.1, v = 0.001: p = 1 - 0.1 / (sqrt(0.001) + 1e-3) */
        CHECK(fabs(p[0] - (1.0 - 0.1 / (sqrt(0.001) + 1e-3))) < 1e-6, "no bias correction: %.8g", p[0]);
    }
}

static void test_defaults_and_validation(void)
{
    dpo_adamw h = dpo_adamw_default(0.25), bad;
    float p[4] = {1, 2, 3, 4}, m[4] = {0}, v[4] = {0}, g[4] = {1, 1, 1, 1}, keep[4];
    CHECK(h.lr == 0.25 && h.beta1 == 0.9 && h.beta2 == 0.999 && h.eps == 1e-8 && h.weight_decay == 0, "defaults");
    memcpy(keep, p, sizeof p);
    CHECK(dpo_adamw_step(p, m, v, g, 4, &h, 0) == DPO_ERR_RANGE, "step 0");
    bad = h;
    bad.beta1 = 1.0;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &bad, 1) == DPO_ERR_RANGE, "beta1 = 1");
    bad = h;
    bad.beta2 = -0.1;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &bad, 1) == DPO_ERR_RANGE, "beta2 < 0");
    bad = h;
    bad.eps = 0;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &bad, 1) == DPO_ERR_RANGE, "eps = 0");
    bad = h;
    bad.lr = NAN;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &bad, 1) == DPO_ERR_RANGE, "lr NaN");
    bad = h;
    bad.weight_decay = -1;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &bad, 1) == DPO_ERR_RANGE, "wd < 0");
    CHECK(dpo_adamw_step(p, m, m, g, 4, &h, 1) == DPO_ERR_ALIAS, "m = v");
    CHECK(dpo_adamw_step(p, m, v, p, 4, &h, 1) == DPO_ERR_ALIAS, "grad = param");
    CHECK(dpo_adamw_step(p, NULL, v, g, 4, &h, 1) == DPO_ERR_NULL, "m NULL");
    CHECK(dpo_adamw_step(p, m, v, g, 4, NULL, 1) == DPO_ERR_NULL, "h NULL");
    g[2] = INFINITY;
    CHECK(dpo_adamw_step(p, m, v, g, 4, &h, 1) == DPO_ERR_NONFINITE, "inf gradient");
    CHECK(chk_same_bits(p, keep, sizeof p) && m[0] == 0 && v[3] == 0, "failed steps left the state untouched");
    CHECK(dpo_adamw_step(p, m, v, g, 0, &h, 1) == DPO_OK, "n = 0 is a no-op");
}

int main(void)
{
    RUN(test_vs_double);
    RUN(test_float_order_bits);
    RUN(test_bias_correction_powers);
    RUN(test_defaults_and_validation);
    return chk_summary();
}
