/* CPU drivers of the Gaussian-step DPO losses: log-ratio, Step DPO / D3PO
 * (TailorPO eq. 5, 8, 19), the d3po public-code variant, TailorPO (eq. 10,
 * 11, 21), RDPO (eq. 6, 9, 10), ranking.  Element math: src/core/dpo_loss.h.
 * Each public function has a float32 and a float64 entry point sharing one
 * body (f32 flag): elements are widened to double, summed in the canonical
 * tree, and gradients rounded once to the storage type. */
#include "diffpo.h"
#include "core/dpo_loss.h"
#include "core/dpo_rules.h"
#include "internal.h"
#include "cpu_simd_model.h"

/* ------------------------------------------------------------ validation */

static int all_finite(const void *p, int f32, size_t n)
{
    size_t i;
    if (f32) {
        const float *a = (const float *)p;
        for (i = 0; i < n; i++)
            if (!dpo_pm_isfinitef(a[i]))
                return 0;
    } else {
        const double *a = (const double *)p;
        for (i = 0; i < n; i++)
            if (!dpo_pm_isfinite(a[i]))
                return 0;
    }
    return 1;
}

/* Checks inputs ins[0..nin) (n elements each, non-NULL, finite) and outputs
 * outs[0..nout) (may be NULL, must not overlap any input or each other). */
static dpo_status check_tensors(const void *const *ins, int nin, void *const *outs, int nout, size_t n, int f32)
{
    int i, j;
    size_t bytes = n * (f32 ? sizeof(float) : sizeof(double));
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    for (i = 0; i < nin; i++)
        if (!ins[i])
            return DPO_ERR_NULL;
    for (i = 0; i < nout; i++) {
        if (!outs[i])
            continue;
        for (j = 0; j < nin; j++)
            if (dpo_overlap(outs[i], bytes, ins[j], bytes))
                return DPO_ERR_ALIAS;
        for (j = 0; j < i; j++)
            if (dpo_overlap(outs[i], bytes, outs[j], bytes))
                return DPO_ERR_ALIAS;
    }
    for (i = 0; i < nin; i++)
        if (!all_finite(ins[i], f32, n))
            return DPO_ERR_NONFINITE;
    return DPO_OK;
}

/* ----------------------------------------------------------- log-ratio */

/* The canonical sum of dpo_lr_term over the n elements (dpo_sum_add in
 * order), the terms and the tree's leaves in the CPU level's vector form:
 * the same bits at every level (src/cpu_simd_model.h). */
static double lr_sum(const void *x, const void *mu, const void *mr, size_t n, int f32)
{
    return dpo__simd_lr_sum(x, mu, mr, n, f32, dpo_simd_level());
}

static double lr_of(const void *x, const void *mu, const void *mr, size_t n, int f32, double sigma, int mean)
{
    return dpo_lr_finish(lr_sum(x, mu, mr, n, f32), 2.0 * (sigma * sigma), (double)n, mean);
}

static dpo_status logratio(double *lr, const void *x, const void *mu, const void *mr, size_t n, double sigma,
                           dpo_logprob_mode mode, int f32)
{
    const void *ins[3];
    dpo_status st;
    ins[0] = x;
    ins[1] = mu;
    ins[2] = mr;
    if (!lr)
        return DPO_ERR_NULL;
    if (!dpo_rule_mode_ok(mode))
        return DPO_ERR_RANGE;
    /* unlike the losses (dpo_rule_sigma_status), a positive sigma whose
     * square underflows is reported as DPO_ERR_SIGMA_ZERO here */
    if (!dpo_rule_sigma_ok(sigma))
        return dpo_rule_pos_finite(sigma) || sigma == 0 ? DPO_ERR_SIGMA_ZERO : DPO_ERR_RANGE;
    st = check_tensors(ins, 3, NULL, 0, n, f32);
    if (st)
        return st;
    *lr = lr_of(x, mu, mr, n, f32, sigma, mode == DPO_LOGPROB_MEAN);
    return DPO_OK;
}

dpo_status dpo_logratio_f32(double *lr, const float *x, const float *mu, const float *mu_ref, size_t n,
                            double sigma, dpo_logprob_mode mode)
{
    return logratio(lr, x, mu, mu_ref, n, sigma, mode, 1);
}

dpo_status dpo_logratio_f64(double *lr, const double *x, const double *mu, const double *mu_ref, size_t n,
                            double sigma, dpo_logprob_mode mode)
{
    return logratio(lr, x, mu, mu_ref, n, sigma, mode, 0);
}

/* g[i] = coef * (x[i] - mu[i]) */
static void grad_write(void *g, const void *x, const void *mu, size_t n, double coef, int f32)
{
    if (g) /* the element loop in the CPU level's vector form (src/cpu_simd_model.h) */
        dpo__simd_grad_diff(g, x, mu, n, coef, f32, dpo_simd_level());
}

/* -------------------------------------------------------------- step DPO */

static dpo_status stepdpo(dpo_pair_result *res, void *gw, void *gl, const void *xw, const void *muw,
                          const void *mrw, const void *xl, const void *mul, const void *mrl, size_t n,
                          dpo_pair_params p, int f32)
{
    const void *ins[6];
    void *outs[2];
    dpo_status st;
    dpo_pair_result r;
    double cw, cl;
    ins[0] = xw, ins[1] = muw, ins[2] = mrw, ins[3] = xl, ins[4] = mul, ins[5] = mrl;
    outs[0] = gw, outs[1] = gl;
    if (!res)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_dpo_params_status(p)) != DPO_OK)
        return st;
    if ((st = check_tensors(ins, 6, outs, 2, n, f32)) != DPO_OK)
        return st;
    dpo_stepdpo_scalars(&r, &cw, &cl, lr_sum(xw, muw, mrw, n, f32), lr_sum(xl, mul, mrl, n, f32), (double)n, p);
    grad_write(gw, xw, muw, n, cw, f32);
    grad_write(gl, xl, mul, n, cl, f32);
    *res = r;
    return DPO_OK;
}

dpo_status dpo_stepdpo_f32(dpo_pair_result *res, float *g_mu_w, float *g_mu_l, const float *x_w, const float *mu_w,
                           const float *mu_ref_w, const float *x_l, const float *mu_l, const float *mu_ref_l,
                           size_t n, dpo_pair_params p)
{
    return stepdpo(res, g_mu_w, g_mu_l, x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l, n, p, 1);
}

dpo_status dpo_stepdpo_f64(dpo_pair_result *res, double *g_mu_w, double *g_mu_l, const double *x_w,
                           const double *mu_w, const double *mu_ref_w, const double *x_l, const double *mu_l,
                           const double *mu_ref_l, size_t n, dpo_pair_params p)
{
    return stepdpo(res, g_mu_w, g_mu_l, x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l, n, p, 0);
}

/* ------------------------------------------------------------- d3po code */

dpo_status dpo_d3po_label(int *label, double r0, double r1)
{
    if (!label)
        return DPO_ERR_NULL;
    if (!dpo_pm_isfinite(r0) || !dpo_pm_isfinite(r1))
        return DPO_ERR_NONFINITE;
    *label = r0 > r1 ? 1 : (r0 < r1 ? -1 : 0);
    return DPO_OK;
}

static dpo_status d3po_code(dpo_pair_result *res, void *g0, void *g1, const void *x0, const void *mu0,
                            const void *mr0, const void *x1, const void *mu1, const void *mr1, size_t n, int label,
                            dpo_clip_params p, int f32)
{
    const void *ins[6];
    void *outs[2];
    dpo_status st;
    dpo_pair_result r;
    double c0, c1;
    ins[0] = x0, ins[1] = mu0, ins[2] = mr0, ins[3] = x1, ins[4] = mu1, ins[5] = mr1;
    outs[0] = g0, outs[1] = g1;
    if (!res)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_clip_params_status(p, label)) != DPO_OK)
        return st;
    if ((st = check_tensors(ins, 6, outs, 2, n, f32)) != DPO_OK)
        return st;
    dpo_d3po_code_scalars(&r, &c0, &c1, lr_sum(x0, mu0, mr0, n, f32), lr_sum(x1, mu1, mr1, n, f32), (double)n,
                          label, p);
    grad_write(g0, x0, mu0, n, c0, f32);
    grad_write(g1, x1, mu1, n, c1, f32);
    *res = r;
    return DPO_OK;
}

dpo_status dpo_d3po_code_f32(dpo_pair_result *res, float *g_mu_0, float *g_mu_1, const float *x_0,
                             const float *mu_0, const float *mu_ref_0, const float *x_1, const float *mu_1,
                             const float *mu_ref_1, size_t n, int label, dpo_clip_params p)
{
    return d3po_code(res, g_mu_0, g_mu_1, x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1, n, label, p, 1);
}

dpo_status dpo_d3po_code_f64(dpo_pair_result *res, double *g_mu_0, double *g_mu_1, const double *x_0,
                             const double *mu_0, const double *mu_ref_0, const double *x_1, const double *mu_1,
                             const double *mu_ref_1, size_t n, int label, dpo_clip_params p)
{
    return d3po_code(res, g_mu_0, g_mu_1, x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1, n, label, p, 0);
}

/* ------------------------------------------------ TailorPO and RDPO (shared x_t) */

/* Shared-parent pair: canonical sum of the shared-form difference terms. */
static double shared_sum(const void *xw, const void *xl, const void *mu, const void *mr, size_t n, int f32)
{
    dpo_sum s;
    size_t i;
    dpo_sum_init(&s);
    for (i = 0; i < n; i++)
        dpo_sum_add(&s, dpo_lr_shared_term(dpo_ld(xw, f32, i), dpo_ld(xl, f32, i), dpo_ld(mu, f32, i),
                                           dpo_ld(mr, f32, i)));
    return dpo_sum_result(&s);
}

/* g = cw (x_w - mu) + cl (x_l - mu), each coefficient already / sigma^2 [/ n] */
static void grad_write2(void *g, const void *xw, const void *xl, const void *mu, size_t n, double cw, double cl,
                        int f32)
{
    size_t i;
    if (!g)
        return;
    for (i = 0; i < n; i++) /* TailorPO (cl == -cw): exactly cw (x_w - x_l), eq. 21 */
        dpo_st(g, f32, i, dpo_grad2_elem(dpo_ld(xw, f32, i), dpo_ld(xl, f32, i), dpo_ld(mu, f32, i), cw, cl));
}

static dpo_status rdpo(dpo_pair_result *res, void *g, const void *xw, const void *xl, const void *mu,
                       const void *mr, size_t n, dpo_rdpo_params p, int f32)
{
    const void *ins[4];
    void *outs[1];
    dpo_status st;
    dpo_pair_result r;
    double cw, cl;
    ins[0] = xw, ins[1] = xl, ins[2] = mu, ins[3] = mr;
    outs[0] = g;
    if (!res)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_rdpo_params_status(p)) != DPO_OK)
        return st;
    if ((st = check_tensors(ins, 4, outs, 1, n, f32)) != DPO_OK)
        return st;
    dpo_rdpo_scalars(&r, &cw, &cl, lr_sum(xw, mu, mr, n, f32), lr_sum(xl, mu, mr, n, f32),
                     shared_sum(xw, xl, mu, mr, n, f32), (double)n, p);
    grad_write2(g, xw, xl, mu, n, cw, cl, f32);
    *res = r;
    return DPO_OK;
}

dpo_status dpo_rdpo_f32(dpo_pair_result *res, float *g_mu, const float *x_w, const float *x_l, const float *mu,
                        const float *mu_ref, size_t n, dpo_rdpo_params p)
{
    return rdpo(res, g_mu, x_w, x_l, mu, mu_ref, n, p, 1);
}

dpo_status dpo_rdpo_f64(dpo_pair_result *res, double *g_mu, const double *x_w, const double *x_l,
                        const double *mu, const double *mu_ref, size_t n, dpo_rdpo_params p)
{
    return rdpo(res, g_mu, x_w, x_l, mu, mu_ref, n, p, 0);
}

static dpo_rdpo_params as_rdpo(dpo_pair_params p)
{
    dpo_rdpo_params q;
    q.beta = p.beta;
    q.lambda = 0.0;
    q.sigma = p.sigma;
    q.mode = p.mode;
    q.variant = DPO_RDPO_PRINTED;
    return q;
}

/* TailorPO is RDPO with lambda = 0 (the same body, eq. 10 / 21). */
dpo_status dpo_tailorpo_f32(dpo_pair_result *res, float *g_mu, const float *x_w, const float *x_l, const float *mu,
                            const float *mu_ref, size_t n, dpo_pair_params p)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta))
        return DPO_ERR_RANGE;
    return rdpo(res, g_mu, x_w, x_l, mu, mu_ref, n, as_rdpo(p), 1);
}

dpo_status dpo_tailorpo_f64(dpo_pair_result *res, double *g_mu, const double *x_w, const double *x_l,
                            const double *mu, const double *mu_ref, size_t n, dpo_pair_params p)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta))
        return DPO_ERR_RANGE;
    return rdpo(res, g_mu, x_w, x_l, mu, mu_ref, n, as_rdpo(p), 0);
}

/* ---------------------------------------------------------------- ranking */

dpo_status dpo_rank_desc(int *order, const double *reward, size_t k)
{
    size_t i, j;
    if (!order || !reward)
        return DPO_ERR_NULL;
    if (k < 2 || k > 65536)
        return DPO_ERR_SIZE;
    if (dpo_overlap(order, k * sizeof(int), reward, k * sizeof(double)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < k; i++)
        if (!dpo_pm_isfinite(reward[i]))
            return DPO_ERR_NONFINITE;
    /* stable insertion sort, descending: equal rewards keep index order */
    for (i = 0; i < k; i++) {
        int v = (int)i;
        j = i;
        while (j > 0 && reward[order[j - 1]] < reward[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return DPO_OK;
}

dpo_status dpo_rdpo_delta_q(double *dq, const double *r_after, double r_before, size_t k, dpo_dq_variant v)
{
    size_t i;
    if (!dq || !r_after)
        return DPO_ERR_NULL;
    if (k == 0 || k > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if ((int)v != DPO_DQ_PRINTED && (int)v != DPO_DQ_GAIN)
        return DPO_ERR_RANGE;
    if (dq != r_after && dpo_overlap(dq, k * sizeof(double), r_after, k * sizeof(double)))
        return DPO_ERR_ALIAS;
    if (!dpo_pm_isfinite(r_before))
        return DPO_ERR_NONFINITE;
    for (i = 0; i < k; i++)
        if (!dpo_pm_isfinite(r_after[i]))
            return DPO_ERR_NONFINITE;
    for (i = 0; i < k; i++)
        dq[i] = v == DPO_DQ_PRINTED ? r_before - r_after[i] : r_after[i] - r_before;
    return DPO_OK;
}
