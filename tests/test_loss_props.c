/* Invariants, validation and float32-vs-float64 checks of the preference
 * losses (docs/losses.md). */
#include <math.h>
#include <stdlib.h>
#include "diffpo.h"
#include "check.h"

#define N 48

static uint64_t rs = 12345;
static double nr(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return 2.0 * ((double)(z >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
}
static void fillf(float *a, size_t n, double s)
{
    size_t i;
    for (i = 0; i < n; i++)
        a[i] = (float)(s * nr());
}
static void widen(double *d, const float *f, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        d[i] = f[i];
}

static dpo_pair_params P(double beta, double sigma, dpo_logprob_mode m)
{
    dpo_pair_params p;
    p.beta = beta;
    p.sigma = sigma;
    p.mode = m;
    return p;
}

/* --------------------------------------------------------- invariants */

static void test_stepdpo_antisymmetry(void)
{
    double xw[N], mw[N], rw[N], xl[N], ml[N], rl[N], gw[N], gl[N], gw2[N], gl2[N];
    float t[N];
    dpo_pair_result a, b;
    int i;
    fillf(t, N, 1), widen(xw, t, N);
    fillf(t, N, 1), widen(mw, t, N);
    fillf(t, N, 1), widen(rw, t, N);
    fillf(t, N, 1), widen(xl, t, N);
    fillf(t, N, 1), widen(ml, t, N);
    fillf(t, N, 1), widen(rl, t, N);
    CHECK(!dpo_stepdpo_f64(&a, gw, gl, xw, mw, rw, xl, ml, rl, N, P(0.7, 0.9, DPO_LOGPROB_SUM)), "st");
    CHECK(!dpo_stepdpo_f64(&b, gw2, gl2, xl, ml, rl, xw, mw, rw, N, P(0.7, 0.9, DPO_LOGPROB_SUM)), "st");
    CHECK(a.z == -b.z, "swapping winner and loser must negate h exactly: %.17g %.17g", a.z, b.z);
    /* softplus(-h) - softplus(h) = -h */
    CHECK(fabs((a.loss - b.loss) + a.z) <= 1e-14 * (1 + fabs(a.z)), "L(h) - L(-h) != -h");
    /* sigma(-h) + sigma(h) = 1: gradient weights */
    CHECK(fabs(a.sig_neg + b.sig_neg - 1) <= 1e-15, "sig_neg(h) + sig_neg(-h) != 1");
    for (i = 0; i < N; i++) {
        /* eq. 19 signs: winner gradient is -(f/s^2)(x_w - mu_w) */
        double f = 0.7 * a.sig_neg;
        CHECK(fabs(gw[i] + f / 0.81 * (xw[i] - mw[i])) <= 1e-15 * (1 + fabs(gw[i])), "eq 19 winner %d", i);
        CHECK(fabs(gl[i] - f / 0.81 * (xl[i] - ml[i])) <= 1e-15 * (1 + fabs(gl[i])), "eq 19 loser %d", i);
    }
}

static void test_policy_equals_ref(void)
{
    /* theta = ref: every log-ratio exactly 0, L = log 2, f = beta/2 */
    float x[N], m[N], xl[N];
    double x64[N], m64[N], xl64[N], g[N];
    dpo_pair_result r;
    int i;
    fillf(x, N, 1), fillf(m, N, 1), fillf(xl, N, 1);
    widen(x64, x, N), widen(m64, m, N), widen(xl64, xl, N);
    CHECK(!dpo_tailorpo_f64(&r, g, x64, xl64, m64, m64, N, P(2.0, 0.5, DPO_LOGPROB_MEAN)), "st");
    CHECK(r.z == 0 && r.lr_w == 0 && r.lr_l == 0, "lr not exactly 0 for theta = ref");
    CHECK(fabs(r.loss - 0.69314718055994530942) <= 2.3e-16, "L(0) = %.17g", r.loss);
    CHECK(r.sig_neg == 0.5, "sigma(0) = %.17g", r.sig_neg);
    for (i = 0; i < N; i++)
        CHECK(fabs(g[i] - (-2.0 * 0.5 / 0.25 / N) * (x64[i] - xl64[i])) <= 1e-15, "eq 21 gradient %d", i);
}

static void test_d3po_code_tie_and_clamp(void)
{
    double x0[N], m0[N], r0[N], x1[N], m1[N], r1[N], g0[N], g1[N];
    dpo_clip_params p;
    dpo_pair_result r;
    int i, lab;
    float t[N];
    p.beta = 0.1, p.clip_eps = 0.1, p.sigma = 1.0, p.mode = DPO_LOGPROB_MEAN;
    fillf(t, N, 1), widen(x0, t, N);
    fillf(t, N, 1), widen(x1, t, N);
    fillf(t, N, 0.05), widen(m0, t, N);
    fillf(t, N, 0.05), widen(m1, t, N);
    for (i = 0; i < N; i++)
        r0[i] = m0[i] + 0.01, r1[i] = m1[i] - 0.01;
    /* tie: L = log 2 and exactly zero gradients */
    CHECK(!dpo_d3po_label(&lab, 3.5, 3.5) && lab == 0, "tie label");
    CHECK(!dpo_d3po_code_f64(&r, g0, g1, x0, m0, r0, x1, m1, r1, N, 0, p), "st");
    CHECK(fabs(r.loss - 0.69314718055994530942) <= 2.3e-16 && r.z == 0, "tie loss %.17g", r.loss);
    for (i = 0; i < N; i++)
        CHECK(g0[i] == 0 && g1[i] == 0, "tie gradient not zero at %d", i);
    /* far outside the clamp: sample 0 ratio exp(lr) >> 1.1 -> zero gradient */
    for (i = 0; i < N; i++)
        m0[i] = x0[i], r0[i] = x0[i] + 1.0; /* lr_0 = +1/2 (mean form, sigma 1) */
    CHECK(!dpo_d3po_code_f64(&r, g0, g1, x0, m0, r0, x1, m1, r1, N, 1, p), "st");
    CHECK(fabs(r.lr_w - 0.5) < 1e-15, "lr_0 %.17g", r.lr_w);
    CHECK(fabs(r.z - 0.1 * (log(1.1) - r.lr_l)) < 1e-15 || r.dl_dlr_l == 0, "clamped z");
    for (i = 0; i < N; i++)
        CHECK(g0[i] == 0, "clamped sample has nonzero gradient at %d", i);
    CHECK(r.dl_dlr_w == 0, "clamped dL/dlr");
    /* below the clamp (ratio < 0.9) likewise */
    for (i = 0; i < N; i++)
        m0[i] = x0[i] + 1.0, r0[i] = x0[i];
    CHECK(!dpo_d3po_code_f64(&r, g0, g1, x0, m0, r0, x1, m1, r1, N, -1, p), "st");
    for (i = 0; i < N; i++)
        CHECK(g0[i] == 0, "clamped (low) sample has nonzero gradient at %d", i);
}

static void test_rdpo_loser_direction(void)
{
    /* A case with lr_l > 0 (the loser's likelihood above the reference's).
     * One gradient-descent step on lr_l (d lr_l = -dL/dlr_l) with
     * lambda > beta: the printed eq. 9 RAISES the loser's log-ratio, the
     * intended variant lowers it more than plain TailorPO does. */
    double xw[1] = {0.0}, xl[1] = {1.0}, mu[1] = {0.5}, mr[1] = {0.0};
    dpo_rdpo_params p;
    dpo_pair_result pr, in, tp;
    double g[1];
    p.beta = 0.5, p.lambda = 2.0, p.sigma = 1.0, p.mode = DPO_LOGPROB_SUM;
    p.variant = DPO_RDPO_PRINTED;
    CHECK(!dpo_rdpo_f64(&pr, g, xw, xl, mu, mr, 1, p), "st");
    p.variant = DPO_RDPO_INTENDED;
    CHECK(!dpo_rdpo_f64(&in, g, xw, xl, mu, mr, 1, p), "st");
    p.lambda = 0;
    CHECK(!dpo_rdpo_f64(&tp, g, xw, xl, mu, mr, 1, p), "st");
    /* lr_l = ((1-0)^2 - (1-0.5)^2)/2 = 0.375 > 0 */
    CHECK(fabs(pr.lr_l - 0.375) < 1e-15, "lr_l %.17g", pr.lr_l);
    CHECK(-pr.dl_dlr_l > 0, "printed eq. 9 should raise the loser's log-ratio here (d = %.3g)", -pr.dl_dlr_l);
    CHECK(-in.dl_dlr_l < -tp.dl_dlr_l && -tp.dl_dlr_l < 0, "intended variant should lower it more than TailorPO");
    /* lr_l < 0: the penalty is inactive, all three agree exactly */
    mu[0] = -0.5;
    p.lambda = 2.0;
    p.variant = DPO_RDPO_PRINTED;
    CHECK(!dpo_rdpo_f64(&pr, g, xw, xl, mu, mr, 1, p), "st");
    p.variant = DPO_RDPO_INTENDED;
    CHECK(!dpo_rdpo_f64(&in, g, xw, xl, mu, mr, 1, p), "st");
    CHECK(pr.lr_l < 0 && pr.loss == in.loss && pr.dl_dlr_l == in.dl_dlr_l, "inactive penalty differs");
}

static void test_rdpo_lambda0_is_tailorpo(void)
{
    double xw[N], xl[N], mu[N], mr[N], g1[N], g2[N];
    float t[N];
    dpo_rdpo_params p;
    dpo_pair_result a, b;
    fillf(t, N, 1), widen(xw, t, N);
    fillf(t, N, 1), widen(xl, t, N);
    fillf(t, N, 1), widen(mu, t, N);
    fillf(t, N, 1), widen(mr, t, N);
    p.beta = 1.5, p.lambda = 0, p.sigma = 0.7, p.mode = DPO_LOGPROB_SUM, p.variant = DPO_RDPO_INTENDED;
    CHECK(!dpo_rdpo_f64(&a, g1, xw, xl, mu, mr, N, p), "st");
    CHECK(!dpo_tailorpo_f64(&b, g2, xw, xl, mu, mr, N, P(1.5, 0.7, DPO_LOGPROB_SUM)), "st");
    CHECK(a.loss == b.loss && chk_same_bits(g1, g2, sizeof g1), "lambda = 0 must be TailorPO bit for bit");
}

static void test_rank_and_delta_q(void)
{
    double r[5] = {0.3, 0.7, 0.3, -1.0, 0.7}, dq[5];
    int o[5], o2[5];
    double after[2] = {1e-20, 2e-20};
    CHECK(!dpo_rank_desc(o, r, 5), "st");
    CHECK(o[0] == 1 && o[1] == 4 && o[2] == 0 && o[3] == 2 && o[4] == 3, "order %d %d %d %d %d", o[0], o[1], o[2],
          o[3], o[4]);
    /* printed Delta Q (before - after) with a shared x_t reverses the r order */
    CHECK(!dpo_rdpo_delta_q(dq, r, 0.25, 5, DPO_DQ_PRINTED), "st");
    CHECK(!dpo_rank_desc(o2, dq, 5), "st");
    CHECK(o2[0] == 3 && o2[4] == 4, "printed dq winner %d loser %d", o2[0], o2[4]);
    /* the gain form ranks as r does */
    CHECK(!dpo_rdpo_delta_q(dq, r, 0.25, 5, DPO_DQ_GAIN), "st");
    CHECK(!dpo_rank_desc(o2, dq, 5), "st");
    CHECK(!memcmp(o, o2, sizeof o), "gain dq ranks differently from r");
    /* ...except where rounding the subtraction creates a tie: r differs,
     * dq = after - 1 rounds both to -1, and the tie rule picks index 0 */
    CHECK(!dpo_rdpo_delta_q(dq, after, 1.0, 2, DPO_DQ_GAIN), "st");
    CHECK(dq[0] == dq[1], "expected a rounding tie");
    CHECK(!dpo_rank_desc(o, after, 2) && o[0] == 1, "r ranks 1 first");
    CHECK(!dpo_rank_desc(o2, dq, 2) && o2[0] == 0, "tied dq ranks 0 first");
}

static void test_spo_select(void)
{
    double s[4] = {0.1, 0.9, -0.2, 0.9};
    dpo_spo_params p;
    int b = -1, w = -1, v = -1;
    double thr_gap = 0.61903920840622351; /* 2 atanh(0.3) */
    p.thr = 0.3, p.kappa = 750;
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 500, p), "st");
    CHECK(b == 1 && w == 2 && v == 1, "best %d worst %d valid %d", b, w, v);
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 751, p) && v == 0, "t > kappa must be a tie");
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 750, p) && v == 1, "t = kappa is ranked");
    s[0] = 0, s[1] = thr_gap + 1e-9, s[2] = 0, s[3] = 0;
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 0, p) && v == 1 && b == 1 && w == 0, "gap just above");
    s[1] = thr_gap - 1e-9;
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 0, p) && v == 0, "gap just below");
    s[1] = 0;
    CHECK(!dpo_spo_select(&b, &w, &v, s, 4, 0, p) && v == 0, "all equal");
}

static void test_spo_resample(void)
{
    uint32_t i1, i2, cnt[4] = {0, 0, 0, 0}, s;
    uint32_t ctr[4], key[2], w[4];
    uint64_t seed = 0x0123456789abcdefULL;
    double chi = 0;
    int k;
    CHECK(!dpo_spo_resample_index(&i1, seed, 7, 3, 4) && !dpo_spo_resample_index(&i2, seed, 7, 3, 4) && i1 == i2,
          "not a pure function");
    /* the documented coordinates, through the public Philox block */
    ctr[0] = 0, ctr[1] = 7, ctr[2] = 3, ctr[3] = DPO_STREAM_RESAMPLE << 16;
    key[0] = (uint32_t)seed, key[1] = (uint32_t)(seed >> 32);
    dpo_philox4x32_10_block(w, ctr, key);
    CHECK(i1 == (uint32_t)(((uint64_t)w[0] * 4u) >> 32), "coordinate mapping");
    for (s = 0; s < 40000; s++) {
        CHECK(!dpo_spo_resample_index(&i1, seed, s, 5, 4), "st");
        cnt[i1]++;
    }
    for (k = 0; k < 4; k++)
        chi += (cnt[k] - 10000.0) * (cnt[k] - 10000.0) / 10000.0;
    CHECK(chi < 16.3, "chi-square %.2f over 3 dof (p ~ 0.001)", chi);
    CHECK(dpo_spo_resample_index(&i1, seed, 0, 0, 0) == DPO_ERR_SIZE, "k = 0");
}

/* --------------------------------------------------------- TailorPO-G */

static int quad_grad(void *u, double *r, float *g, const float *x0, size_t n, const int32_t *cond)
{
    size_t dim = *(size_t *)u, s, i;
    (void)cond;
    for (s = 0; s < n; s++) {
        double acc = 0;
        for (i = 0; i < dim; i++) {
            double d = x0[s * dim + i] - 0.5;
            acc += d * d;
            g[s * dim + i] = (float)(-d);
        }
        r[s] = -0.5 * acc; /* r(x0) = -||x0 - 0.5||^2 / 2 */
    }
    return 0;
}

static const double eps_a = 0.3; /* eps(x) = a x elementwise, J^T v = a v */
static int lin_vjp(void *u, float *out, const float *x, const float *v, size_t n, int t, const int32_t *c)
{
    size_t i, m = n * *(size_t *)u;
    (void)x, (void)t, (void)c;
    for (i = 0; i < m; i++)
        out[i] = (float)(eps_a * v[i]);
    return 0;
}

static void test_tailorpo_g(void)
{
    size_t dim = 8, i;
    float x[8], eps[8], xp[8], xq[8];
    double rb[1], eta, e2;
    unsigned char work[4096];
    dpo_reward_model rm;
    dpo_eps_vjp vj;
    dpo_guide_params p;
    double alpha = 0.6, sa = sqrt(0.6), sb = sqrt(0.4);
    for (i = 0; i < dim; i++)
        x[i] = (float)(0.2 * i - 0.7), eps[i] = (float)(eps_a * x[i]);
    rm.user = &dim, rm.dim = dim, rm.value = NULL, rm.grad = quad_grad;
    vj.user = &dim, vj.vjp_x = lin_vjp;
    p.eta = 0.2, p.delta = 0.5, p.alpha = alpha, p.sign = 1, p.jac = DPO_GUIDE_VJP;
    CHECK(dpo_tailorpo_g_workspace_size(1, dim) <= sizeof work, "workspace");
    CHECK(!dpo_tailorpo_g_guide_f32(xp, rb, x, eps, 1, dim, 10, NULL, &rm, &vj, p, work, sizeof work), "st");
    /* closed form: r_t(x) = -||x0(x) - 0.5||^2/2, x0 = (1 - sb a) x / sa;
     * grad_x r_t = -(x0 - 0.5)(1 - sb a)/sa; x+ = x + 2 eta delta grad */
    for (i = 0; i < dim; i++) {
        double k = (1 - sb * eps_a) / sa, x0 = k * x[i];
        double want = x[i] + 2 * 0.2 * 0.5 * (-(x0 - 0.5) * k);
        CHECK(fabs(xp[i] - want) <= 1e-6 * (1 + fabs(want)), "guided x %zu: %.9g vs %.9g", i, xp[i], want);
    }
    /* the d eps/dx = 0 approximation: grad = g / sa */
    p.jac = DPO_GUIDE_NO_EPS;
    CHECK(!dpo_tailorpo_g_guide_f32(xq, NULL, x, eps, 1, dim, 10, NULL, &rm, NULL, p, work, sizeof work), "st");
    for (i = 0; i < dim; i++) {
        double x0 = ((double)x[i] - sb * (double)eps[i]) / sa;
        double want = x[i] + 2 * 0.2 * 0.5 * (-(x0 - 0.5)) / sa;
        CHECK(fabs(xq[i] - want) <= 1e-6 * (1 + fabs(want)), "no-eps x %zu", i);
    }
    /* eta schedule: 0.2 at i = 0, 0.1 at i = T, 0.15 at T/2, decreasing */
    CHECK(!dpo_tailorpo_g_eta(&eta, 0, 20, 0.1, 0.2) && eta == 0.2, "eta(0) = %.17g", eta);
    CHECK(!dpo_tailorpo_g_eta(&eta, 20, 20, 0.1, 0.2) && fabs(eta - 0.1) < 1e-17, "eta(T) = %.17g", eta);
    CHECK(!dpo_tailorpo_g_eta(&eta, 10, 20, 0.1, 0.2) && fabs(eta - 0.15) < 1e-16, "eta(T/2) = %.17g", eta);
    CHECK(!dpo_tailorpo_g_eta(&e2, 5, 20, 0.1, 0.2) && !dpo_tailorpo_g_eta(&eta, 4, 20, 0.1, 0.2) && eta > e2,
          "not decreasing");
    /* validation: no gradient -> unsupported; outputs untouched */
    rm.grad = NULL;
    memcpy(xq, xp, sizeof xq);
    CHECK(dpo_tailorpo_g_guide_f32(xq, NULL, x, eps, 1, dim, 10, NULL, &rm, NULL, p, work, sizeof work) ==
              DPO_ERR_UNSUPPORTED && !memcmp(xq, xp, sizeof xq), "no reward gradient");
}

/* ------------------------------------------------------------ validation */

static void test_validation_untouched(void)
{
    double x[4] = {1, 2, 3, 4}, m[4] = {0, 0, 0, 0}, r[4] = {1, 1, 1, 1}, g[4], g2[4], sent = -123.0;
    dpo_pair_result res, keep;
    dpo_status st;
    int i;
    for (i = 0; i < 4; i++)
        g[i] = g2[i] = sent;
    memset(&res, 0x5a, sizeof res);
    keep = res;
#define UNTOUCHED() (!memcmp(&res, &keep, sizeof res) && g[0] == sent && g[3] == sent && g2[0] == sent)
    st = dpo_stepdpo_f64(&res, g, g2, x, m, r, x, m, r, 4, P(1, 0, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_SIGMA_ZERO && UNTOUCHED(), "sigma 0: %d", st);
    st = dpo_stepdpo_f64(&res, g, g2, x, m, r, x, m, r, 4, P(0, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "beta 0: %d", st);
    st = dpo_stepdpo_f64(&res, g, g2, x, m, r, x, m, r, 4, P(1, 1, (dpo_logprob_mode)7));
    CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "mode: %d", st);
    st = dpo_stepdpo_f64(&res, g, g2, x, m, r, x, m, r, 0, P(1, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_SIZE && UNTOUCHED(), "n 0: %d", st);
    st = dpo_stepdpo_f64(&res, g, g2, x, NULL, r, x, m, r, 4, P(1, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_NULL && UNTOUCHED(), "null: %d", st);
    st = dpo_stepdpo_f64(&res, x, g2, x, m, r, x, m, r, 4, P(1, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_ALIAS && UNTOUCHED(), "alias: %d", st);
    m[2] = NAN;
    st = dpo_stepdpo_f64(&res, g, g2, x, m, r, x, m, r, 4, P(1, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_NONFINITE && UNTOUCHED(), "nan: %d", st);
    st = dpo_tailorpo_f64(&res, g, x, x, m, r, 4, P(1, 1, DPO_LOGPROB_SUM));
    CHECK(st == DPO_ERR_NONFINITE && UNTOUCHED(), "tailorpo nan: %d", st);
    m[2] = 0;
    r[1] = INFINITY;
    {
        dpo_clip_params cp;
        cp.beta = 0.1, cp.clip_eps = 0.1, cp.sigma = 1, cp.mode = DPO_LOGPROB_MEAN;
        st = dpo_d3po_code_f64(&res, g, g2, x, m, r, x, m, r, 4, 1, cp);
        CHECK(st == DPO_ERR_NONFINITE && UNTOUCHED(), "d3po inf: %d", st);
        r[1] = 1;
        cp.clip_eps = 1.0;
        st = dpo_d3po_code_f64(&res, g, g2, x, m, r, x, m, r, 4, 1, cp);
        CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "d3po eps 1: %d", st);
        cp.clip_eps = 0.1;
        st = dpo_d3po_code_f64(&res, g, g2, x, m, r, x, m, r, 4, 2, cp);
        CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "d3po label 2: %d", st);
    }
    {
        dpo_rdpo_params rp;
        rp.beta = 1, rp.lambda = -1, rp.sigma = 1, rp.mode = DPO_LOGPROB_SUM, rp.variant = DPO_RDPO_PRINTED;
        st = dpo_rdpo_f64(&res, g, x, x, m, r, 4, rp);
        CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "rdpo lambda < 0: %d", st);
    }
    {
        dpo_eps_params ep;
        dpo_dspo_params dp = dpo_dspo_params_code(0.001, 0);
        ep.beta = 5000, ep.mode = DPO_LOGPROB_MEAN;
        m[0] = NAN;
        st = dpo_diffdpo_f64(&res, g, g2, x, x, m, r, m, r, 4, ep);
        CHECK(st == DPO_ERR_NONFINITE && UNTOUCHED(), "diffdpo nan: %d", st);
        st = dpo_dspo_f64(&res, g, g2, x, x, m, r, m, r, 4, dp);
        CHECK(st == DPO_ERR_NONFINITE && UNTOUCHED(), "dspo nan: %d", st);
        m[0] = 0;
        dp.stopgrad = 3;
        st = dpo_dspo_f64(&res, g, g2, x, x, m, r, m, r, 4, dp);
        CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "dspo stopgrad 3: %d", st);
        ep.beta = -1;
        st = dpo_diffdpo_f64(&res, g, g2, x, x, m, r, m, r, 4, ep);
        CHECK(st == DPO_ERR_RANGE && UNTOUCHED(), "diffdpo beta: %d", st);
    }
    {
        int o[3] = {9, 9, 9};
        double rr[3] = {1, NAN, 2};
        CHECK(dpo_rank_desc(o, rr, 3) == DPO_ERR_NONFINITE && o[0] == 9, "rank nan");
        CHECK(dpo_rank_desc(o, rr, 1) == DPO_ERR_SIZE && o[0] == 9, "rank k 1");
    }
#undef UNTOUCHED
}

/* ------------------------------------------------- float32 vs float64
 * The float32 path widens its inputs exactly and runs the same double
 * arithmetic, so its scalars equal the float64 path's on the widened
 * inputs bit for bit and its gradients are those rounded once to float
 * (docs/losses.md: float32 bound = float64 bound + 0.5 ulp(float)). */
static void test_f32_equals_rounded_f64(void)
{
    float xw[N], mw[N], rw[N], xl[N], ml[N], rl[N], gw[N], gl[N];
    double Xw[N], Mw[N], Rw[N], Xl[N], Ml[N], Rl[N], Gw[N], Gl[N];
    dpo_pair_result a, b;
    int trial, i;
    for (trial = 0; trial < 12; trial++) {
        dpo_logprob_mode mode = trial & 1 ? DPO_LOGPROB_MEAN : DPO_LOGPROB_SUM;
        int ok = 1;
        fillf(xw, N, 2), fillf(mw, N, 2), fillf(rw, N, 2), fillf(xl, N, 2), fillf(ml, N, 2), fillf(rl, N, 2);
        widen(Xw, xw, N), widen(Mw, mw, N), widen(Rw, rw, N), widen(Xl, xl, N), widen(Ml, ml, N), widen(Rl, rl, N);
#define SAME()                                                                                   \
    do {                                                                                         \
        ok = a.loss == b.loss && a.z == b.z && a.lr_w == b.lr_w && a.lr_l == b.lr_l;             \
        for (i = 0; i < N; i++)                                                                  \
            ok = ok && gw[i] == (float)Gw[i] && gl[i] == (float)Gl[i];                           \
    } while (0)
        CHECK(!dpo_stepdpo_f32(&a, gw, gl, xw, mw, rw, xl, ml, rl, N, P(1.3, 0.4, mode)), "st");
        CHECK(!dpo_stepdpo_f64(&b, Gw, Gl, Xw, Mw, Rw, Xl, Ml, Rl, N, P(1.3, 0.4, mode)), "st");
        SAME();
        CHECK(ok, "stepdpo f32 != rounded f64 (trial %d)", trial);
        {
            dpo_clip_params cp;
            cp.beta = 0.1, cp.clip_eps = 0.5, cp.sigma = 3.0, cp.mode = mode;
            CHECK(!dpo_d3po_code_f32(&a, gw, gl, xw, mw, rw, xl, ml, rl, N, 1, cp), "st");
            CHECK(!dpo_d3po_code_f64(&b, Gw, Gl, Xw, Mw, Rw, Xl, Ml, Rl, N, 1, cp), "st");
            SAME();
            CHECK(ok, "d3po-code f32 != rounded f64 (trial %d)", trial);
        }
        CHECK(!dpo_tailorpo_f32(&a, gw, xw, xl, mw, rw, N, P(1.3, 0.4, mode)), "st");
        CHECK(!dpo_tailorpo_f64(&b, Gw, Xw, Xl, Mw, Rw, N, P(1.3, 0.4, mode)), "st");
        for (i = 0; i < N; i++)
            gl[i] = 0, Gl[i] = 0;
        SAME();
        CHECK(ok, "tailorpo f32 != rounded f64 (trial %d)", trial);
        {
            dpo_rdpo_params rp;
            rp.beta = 0.8, rp.lambda = 1.1, rp.sigma = 0.4, rp.mode = mode;
            rp.variant = trial & 2 ? DPO_RDPO_INTENDED : DPO_RDPO_PRINTED;
            CHECK(!dpo_rdpo_f32(&a, gw, xw, xl, mw, rw, N, rp), "st");
            CHECK(!dpo_rdpo_f64(&b, Gw, Xw, Xl, Mw, Rw, N, rp), "st");
            SAME();
            CHECK(ok, "rdpo f32 != rounded f64 (trial %d)", trial);
        }
        {
            dpo_eps_params ep;
            ep.beta = mode == DPO_LOGPROB_MEAN ? 50 : 1;
            ep.mode = mode;
            CHECK(!dpo_diffdpo_f32(&a, gw, gl, xw, xl, mw, rw, ml, rl, N, ep), "st");
            CHECK(!dpo_diffdpo_f64(&b, Gw, Gl, Xw, Xl, Mw, Rw, Ml, Rl, N, ep), "st");
            SAME();
            CHECK(ok, "diffdpo f32 != rounded f64 (trial %d)", trial);
        }
        {
            dpo_dspo_params dp = trial & 2 ? dpo_dspo_params_code(0.7, trial & 4 ? 1 : 0)
                                           : dpo_dspo_params_paper(0.7, 0.3, trial & 4 ? 1 : 0);
            CHECK(!dpo_dspo_f32(&a, gw, gl, xw, xl, mw, rw, ml, rl, N, dp), "st");
            CHECK(!dpo_dspo_f64(&b, Gw, Gl, Xw, Xl, Mw, Rw, Ml, Rl, N, dp), "st");
            SAME();
            CHECK(ok, "dspo f32 != rounded f64 (trial %d)", trial);
        }
#undef SAME
    }
}

/* Direct-difference log-ratio at SD size with large offsets: the naive
 * difference of two log-densities loses everything, ours stays accurate.
 * Reference: the exact value of a constructed case. */
static void test_logratio_no_cancellation(void)
{
    static double x[16384], mu[16384], mr[16384];
    size_t i, n = 16384;
    double lr;
    /* x = 1000, mu = 1000 + 2^-20, mr = 1000 - 2^-20 (all exact doubles):
     * per element ((x-mr)^2 - (x-mu)^2) = 0, so lr = 0 exactly; and with
     * mu = 1000 + 2^-20, mr = 1000: per element (2^-20)(-2^-20 + 0)... use
     * x = 1000 + 2^-19: (x-mr)^2 - (x-mu)^2 = 2^-38 - 2^-40 = 3 * 2^-40. */
    for (i = 0; i < n; i++) {
        x[i] = 1000.0 + 0x1p-19;
        mu[i] = 1000.0 + 0x1p-20;
        mr[i] = 1000.0;
    }
    CHECK(!dpo_logratio_f64(&lr, x, mu, mr, n, 0.5, DPO_LOGPROB_SUM), "st");
    /* sum over n of 3*2^-40 / (2 * 0.25) = 16384 * 6 * 2^-40 = 6 * 2^-26 */
    CHECK(lr == 6.0 * 0x1p-26, "lr = %.17g, want %.17g", lr, 6.0 * 0x1p-26);
    CHECK(!dpo_logratio_f64(&lr, x, mu, mr, n, 0.5, DPO_LOGPROB_MEAN), "st");
    CHECK(lr == 6.0 * 0x1p-40, "mean lr = %.17g", lr);
}

int main(void)
{
    RUN(test_stepdpo_antisymmetry);
    RUN(test_policy_equals_ref);
    RUN(test_d3po_code_tie_and_clamp);
    RUN(test_rdpo_loser_direction);
    RUN(test_rdpo_lambda0_is_tailorpo);
    RUN(test_rank_and_delta_q);
    RUN(test_spo_select);
    RUN(test_spo_resample);
    RUN(test_tailorpo_g);
    RUN(test_validation_untouched);
    RUN(test_f32_equals_rounded_f64);
    RUN(test_logratio_no_cancellation);
    return chk_summary();
}
