/* DDPO loss API (include/diffpo_loss.h): what the golden vectors
 * (vectors/ddpo.vec) do not cover.
 *   - the tensor entry points equal dpo_ddpo_from_logratio given the same lr;
 *   - the f32 gradient is the f64 gradient of the widened inputs rounded once;
 *   - PPO's branch rule by hand: A > 0 above the interval and A < 0 below it
 *     give zero gradient and the constant loss -A (1 +- eps);
 *   - the advantage clamp, per-prompt advantages (mean 0, population std 1);
 *   - every refusal leaves the outputs untouched. */
#include <math.h>
#include <stdint.h>
#include "diffpo.h"
#include "check.h"

static dpo_ddpo_params prm(double eps, double aclip, double sigma, dpo_logprob_mode m)
{
    dpo_ddpo_params p;
    p.clip_eps = eps;
    p.adv_clip = aclip;
    p.sigma = sigma;
    p.mode = m;
    return p;
}

static void test_entry_points_agree(void)
{
    double x[5] = {0.3, -0.2, 0.9, 0.05, -1.1}, mu[5] = {0.25, -0.1, 0.8, 0.0, -1.0};
    double mo[5] = {0.26, -0.12, 0.79, 0.01, -1.02}, g[5];
    float xf[5], muf[5], mof[5], gf[5];
    double xw[5], muw[5], mow[5], gw[5];
    dpo_ddpo_result a, b, c, d;
    int i, m;
    for (m = 0; m < 2; m++) {
        dpo_ddpo_params p = prm(0.1, 5.0, 0.2, m ? DPO_LOGPROB_MEAN : DPO_LOGPROB_SUM);
        CHECK(dpo_ddpo_f64(&a, g, x, mu, mo, 5, 0.7, p) == DPO_OK, "f64");
        CHECK(dpo_ddpo_from_logratio(&b, a.lr, 0.7, p) == DPO_OK, "scalar");
        CHECK(a.loss == b.loss && a.ratio == b.ratio && a.dl_dlr == b.dl_dlr && a.clipped == b.clipped,
              "mode %d: tensor and scalar forms differ", m);
        for (i = 0; i < 5; i++) {
            xf[i] = (float)x[i];
            muf[i] = (float)mu[i];
            mof[i] = (float)mo[i];
            xw[i] = xf[i];
            muw[i] = muf[i];
            mow[i] = mof[i];
        }
        CHECK(dpo_ddpo_f32(&c, gf, xf, muf, mof, 5, 0.7, p) == DPO_OK, "f32");
        CHECK(dpo_ddpo_f64(&d, gw, xw, muw, mow, 5, 0.7, p) == DPO_OK, "f64 widened");
        CHECK(c.lr == d.lr && c.loss == d.loss, "f32 scalars are the widened f64 scalars");
        for (i = 0; i < 5; i++)
            CHECK(gf[i] == (float)gw[i], "f32 gradient %d not the rounded f64 one", i);
        /* d lr/d mu_i = (x_i - mu_i)/(sigma^2 N): g = dL/dlr times that */
        for (i = 0; i < 5; i++)
            CHECK(fabs(g[i] - a.dl_dlr * (x[i] - mu[i]) / (0.04 * (m ? 5 : 1))) <= 1e-15 * fabs(a.dl_dlr) * 100,
                  "gradient element %d", i);
    }
}

static void test_branches(void)
{
    dpo_ddpo_result r;
    dpo_ddpo_params p = prm(0.1, 0.0, 1.0, DPO_LOGPROB_MEAN);
    /* rho = e^0.5 > 1.1: A > 0 takes the clipped constant -A*1.1 */
    CHECK(dpo_ddpo_from_logratio(&r, 0.5, 2.0, p) == DPO_OK, "call");
    CHECK(r.dl_dlr == 0 && r.loss == -2.0 * (1.0 + 0.1) && r.clipped == 1, "A>0 above: %g %g", r.dl_dlr, r.loss);
    /* A < 0 above: the ratio term, dL/dlr = -A rho */
    CHECK(dpo_ddpo_from_logratio(&r, 0.5, -2.0, p) == DPO_OK, "call");
    CHECK(r.dl_dlr == 2.0 * r.ratio && r.loss == 2.0 * r.ratio && r.clipped == 1, "A<0 above");
    /* A < 0 below: clipped constant -A*0.9 */
    CHECK(dpo_ddpo_from_logratio(&r, -0.5, -2.0, p) == DPO_OK, "call");
    CHECK(r.dl_dlr == 0 && r.loss == 2.0 * (1.0 - 0.1), "A<0 below");
    /* A > 0 below: ratio term */
    CHECK(dpo_ddpo_from_logratio(&r, -0.5, 2.0, p) == DPO_OK, "call");
    CHECK(r.dl_dlr == -2.0 * r.ratio && r.clipped == 1, "A>0 below");
    /* inside: ratio term, not clipped */
    CHECK(dpo_ddpo_from_logratio(&r, 0.01, 3.0, p) == DPO_OK, "call");
    CHECK(r.dl_dlr == -3.0 * r.ratio && r.clipped == 0, "inside");
    /* the advantage clamp */
    p.adv_clip = 5.0;
    CHECK(dpo_ddpo_from_logratio(&r, 0.0, -7.5, p) == DPO_OK && r.adv == -5.0 && r.loss == 5.0, "clamp");
}

static void test_advantages(void)
{
    double rw[7] = {1.0, 2.0, 3.0, 10.0, -4.0, 6.0, 0.5}, a[7];
    uint32_t grp[7] = {3, 3, 3, 9, 9, 9, 1};
    double m = 0, v = 0;
    int i;
    CHECK(dpo_ddpo_advantages(a, rw, grp, 7, 2, 0.0) == DPO_OK, "call");
    for (i = 0; i < 3; i++)
        m += a[i], v += a[i] * a[i];
    CHECK(fabs(m) < 1e-15 && fabs(v / 3 - 1) < 1e-15, "group 3: mean %g, var %g", m, v / 3);
    CHECK(fabs(a[0] + sqrt(1.5)) < 1e-15, "group 3 first: %.17g", a[0]);
    /* group 1 has one sample (< min_count 2): the batch statistics */
    {
        double bm = 0, bv = 0;
        for (i = 0; i < 7; i++)
            bm += rw[i];
        bm /= 7;
        for (i = 0; i < 7; i++)
            bv += (rw[i] - bm) * (rw[i] - bm);
        CHECK(fabs(a[6] - (0.5 - bm) / sqrt(bv / 7)) < 1e-14, "single sample uses the batch");
    }
}

static void test_refusals(void)
{
    double x[3] = {0.1, 0.2, 0.3}, mu[3] = {0, 0, 0}, mo[3] = {0, 0, 0}, g[3] = {7, 7, 7};
    double rw[3] = {1, 1, 1}, a[3] = {7, 7, 7};
    uint32_t grp[3] = {0, 0, 0};
    dpo_ddpo_result r;
    dpo_ddpo_params p = prm(0.1, 5.0, 0.5, DPO_LOGPROB_MEAN);
    r.loss = 42;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, NAN, p) == DPO_ERR_NONFINITE, "nan adv");
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 0, 1.0, p) == DPO_ERR_SIZE, "n = 0");
    CHECK(dpo_ddpo_f64(&r, x, x, mu, mo, 3, 1.0, p) == DPO_ERR_ALIAS, "alias");
    CHECK(dpo_ddpo_f64(&r, g, x, NULL, mo, 3, 1.0, p) == DPO_ERR_NULL, "null");
    p.sigma = 0;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, 1.0, p) == DPO_ERR_SIGMA_ZERO, "sigma 0");
    p.sigma = 0.5;
    p.clip_eps = 1.0;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, 1.0, p) == DPO_ERR_RANGE, "clip_eps 1");
    CHECK(dpo_ddpo_from_logratio(&r, 0.0, 1.0, p) == DPO_ERR_RANGE, "scalar clip_eps 1");
    p.clip_eps = 0.1;
    p.adv_clip = -1;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, 1.0, p) == DPO_ERR_RANGE, "adv_clip < 0");
    p.adv_clip = 5;
    p.mode = (dpo_logprob_mode)7;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, 1.0, p) == DPO_ERR_RANGE, "mode");
    mu[1] = INFINITY;
    p.mode = DPO_LOGPROB_SUM;
    CHECK(dpo_ddpo_f64(&r, g, x, mu, mo, 3, 1.0, p) == DPO_ERR_NONFINITE, "inf input");
    CHECK(r.loss == 42 && g[0] == 7 && g[1] == 7 && g[2] == 7, "outputs touched by a refusal");
    CHECK(dpo_ddpo_advantages(a, rw, grp, 3, 0, 0.0) == DPO_ERR_RANGE, "equal rewards, std_eps 0");
    CHECK(dpo_ddpo_advantages(a, rw, grp, 3, 0, -1.0) == DPO_ERR_RANGE, "std_eps < 0");
    rw[2] = NAN;
    CHECK(dpo_ddpo_advantages(a, rw, grp, 3, 0, 1e-6) == DPO_ERR_NONFINITE, "nan reward");
    CHECK(dpo_ddpo_advantages(a, a, grp, 3, 0, 1e-6) == DPO_ERR_ALIAS, "alias");
    CHECK(a[0] == 7 && a[1] == 7 && a[2] == 7, "advantages touched by a refusal");
}

int main(void)
{
    RUN(test_entry_points_agree);
    RUN(test_branches);
    RUN(test_advantages);
    RUN(test_refusals);
    return chk_summary();
}
