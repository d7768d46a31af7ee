/* CPU drivers of TailorPO-G guidance (eq. 13, 14), SPO selection and
 * resampling (eq. 3-5, public code) and the chain rule from the step mean
 * to the model output. */
#include <string.h>
#include "diffpo.h"
#include "core/dpo_loss.h"
#include "core/dpo_rules.h"
#include "core/dpo_philox.h"
#include "internal.h"

/* ------------------------------------------------------------ TailorPO-G */

static dpo_status g_update(void *xp, const void *x, const void *g, const void *vjp, size_t n, dpo_guide_params p,
                           int f32)
{
    size_t i, bytes = n * (f32 ? sizeof(float) : sizeof(double));
    double sa, sb, scale;
    dpo_status st;
    int use_vjp;
    if (!xp || !x || !g)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_guide_params_status(p)) != DPO_OK)
        return st;
    use_vjp = p.jac == DPO_GUIDE_VJP;
    if (use_vjp && !vjp)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if ((xp != x && dpo_overlap(xp, bytes, x, bytes)) || dpo_overlap(xp, bytes, g, bytes) ||
        (use_vjp && dpo_overlap(xp, bytes, vjp, bytes)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinite(dpo_ld(x, f32, i)) || !dpo_pm_isfinite(dpo_ld(g, f32, i)) ||
            (use_vjp && !dpo_pm_isfinite(dpo_ld(vjp, f32, i))))
            return DPO_ERR_NONFINITE;
    dpo_guide_scalars(&sa, &sb, &scale, p);
    for (i = 0; i < n; i++)
        dpo_st(xp, f32, i,
               dpo_guide_elem(dpo_ld(x, f32, i), dpo_ld(g, f32, i), use_vjp ? dpo_ld(vjp, f32, i) : 0.0, scale,
                              sb, sa));
    return DPO_OK;
}

dpo_status dpo_tailorpo_g_update_f32(float *x_plus, const float *x, const float *g, const float *vjp, size_t n,
                                     dpo_guide_params p)
{
    return g_update(x_plus, x, g, vjp, n, p, 1);
}

dpo_status dpo_tailorpo_g_update_f64(double *x_plus, const double *x, const double *g, const double *vjp,
                                     size_t n, dpo_guide_params p)
{
    return g_update(x_plus, x, g, vjp, n, p, 0);
}

size_t dpo_tailorpo_g_workspace_size(size_t n, size_t dim)
{
    if (n == 0 || dim == 0 || n > DPO_MAX_ELEMS / dim)
        return 0;
    return n * sizeof(double) + 3 * n * dim * sizeof(float);
}

dpo_status dpo_tailorpo_g_guide_f32(float *x_plus, double *r_before, const float *x, const float *eps_hat,
                                    size_t n, size_t dim, int timestep, const int32_t *cond,
                                    const dpo_reward_model *reward, const dpo_eps_vjp *vjp, dpo_guide_params p,
                                    void *work, size_t work_size)
{
    size_t i, m, need;
    float *x0, *g, *v;
    double sa, sb, *rv;
    dpo_status st;
    if (!x_plus || !x || !eps_hat || !reward)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_guide_params_status(p)) != DPO_OK)
        return st;
    if (!reward->grad)
        return DPO_ERR_UNSUPPORTED;
    if (p.jac == DPO_GUIDE_VJP && (!vjp || !vjp->vjp_x))
        return DPO_ERR_NULL;
    need = dpo_tailorpo_g_workspace_size(n, dim);
    if (need == 0 || (reward->dim && reward->dim != dim))
        return DPO_ERR_SIZE;
    if (!dpo_work_ok(work, work_size, need))
        return DPO_ERR_WORKSPACE;
    m = n * dim;
    if (dpo_overlap(x_plus, m * sizeof(float), x, m * sizeof(float)) ||
        dpo_overlap(x_plus, m * sizeof(float), eps_hat, m * sizeof(float)) ||
        dpo_overlap(x_plus, m * sizeof(float), work, need) || (r_before && dpo_overlap(r_before, n * sizeof(double), work, need)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < m; i++)
        if (!dpo_pm_isfinitef(x[i]) || !dpo_pm_isfinitef(eps_hat[i]))
            return DPO_ERR_NONFINITE;
    rv = (double *)work; /* work must be aligned for double */
    x0 = (float *)(rv + n);
    g = x0 + m;
    v = g + m;
    sa = DPO_SQRT(p.alpha);
    sb = DPO_SQRT(1.0 - p.alpha);
    for (i = 0; i < m; i++)
        x0[i] = (float)(((double)x[i] - sb * (double)eps_hat[i]) / sa);
    if (reward->grad(reward->user, rv, g, x0, n, cond))
        return DPO_ERR_MODEL;
    for (i = 0; i < m; i++)
        if (!dpo_pm_isfinitef(g[i]))
            return DPO_ERR_MODEL;
    if (p.jac == DPO_GUIDE_VJP) {
        if (vjp->vjp_x(vjp->user, v, x, g, n, timestep, cond))
            return DPO_ERR_MODEL;
        for (i = 0; i < m; i++)
            if (!dpo_pm_isfinitef(v[i]))
                return DPO_ERR_MODEL;
    }
    st = g_update(x_plus, x, g, p.jac == DPO_GUIDE_VJP ? v : NULL, m, p, 1);
    if (st == DPO_OK && r_before)
        memcpy(r_before, rv, n * sizeof(double));
    return st;
}

dpo_status dpo_tailorpo_g_eta(double *eta, double i, double T, double eta_min, double eta_max)
{
    if (!eta)
        return DPO_ERR_NULL;
    if (!dpo_pm_isfinite(i) || !dpo_pm_isfinite(T) || !dpo_pm_isfinite(eta_min) || !dpo_pm_isfinite(eta_max))
        return DPO_ERR_NONFINITE;
    if (!(T > 0) || i < 0 || i > T || eta_min < 0 || eta_max < eta_min)
        return DPO_ERR_RANGE;
    *eta = eta_min + (eta_max - eta_min) * (0.5 * (1.0 + dpo_cospi(i / T)));
    return DPO_OK;
}

/* ------------------------------------------------------------------- SPO */

dpo_status dpo_spo_select(int *best, int *worst, int *valid, const double *score, size_t k, int t,
                          dpo_spo_params p)
{
    size_t i, b = 0, w = 0;
    double gap;
    if (!best || !worst || !valid || !score)
        return DPO_ERR_NULL;
    if (k < 2 || k > 65536)
        return DPO_ERR_SIZE;
    if (!dpo_pm_isfinite(p.thr) || p.thr < 0 || !(p.thr < 1))
        return DPO_ERR_RANGE;
    for (i = 0; i < k; i++)
        if (!dpo_pm_isfinite(score[i]))
            return DPO_ERR_NONFINITE;
    for (i = 1; i < k; i++) {
        if (score[i] > score[b])
            b = i;
        if (score[i] < score[w])
            w = i;
    }
    gap = score[b] - score[w];
    *best = (int)b;
    *worst = (int)w;
    /* softmax(s_b, s_w) = (sigma(gap), sigma(-gap)) */
    *valid = t <= p.kappa && b != w && (dpo_sigmoid(gap) - dpo_sigmoid(-gap)) > p.thr;
    return DPO_OK;
}

dpo_status dpo_spo_resample_index(uint32_t *idx, uint64_t seed, uint32_t sample, uint32_t step, uint32_t k)
{
    uint32_t ctr[4], key[2], w[4];
    if (!idx)
        return DPO_ERR_NULL;
    if (k < 1 || k > 65536)
        return DPO_ERR_SIZE;
    dpo_philox_coords(ctr, key, seed, DPO_STREAM_RESAMPLE, sample, step, 0u, 0u);
    dpo_philox4x32_10(w, ctr, key);
    *idx = dpo_uniform_index(w[0], k);
    return DPO_OK;
}

/* ------------------------------------------------------------ chain rule */

static dpo_status dmu_dout(double *k, int kind, int pred, int clip, double sa, double sb, double sap, double dir,
                           double mx0)
{
    double dx0, deps;
    if (!k)
        return DPO_ERR_NULL;
    if (clip)
        return DPO_ERR_UNSUPPORTED;
    if (!(sa > 0) || !(sb > 0) || !dpo_pm_isfinite(sa) || !dpo_pm_isfinite(sb) || !dpo_pm_isfinite(sap) ||
        !dpo_pm_isfinite(dir) || !dpo_pm_isfinite(mx0))
        return DPO_ERR_RANGE;
    if (pred == DPO_PRED_EPSILON) {
        dx0 = -sb / sa;
        deps = 1.0;
    } else if (pred == DPO_PRED_V) {
        dx0 = -sb;
        deps = sa;
    } else if (pred == DPO_PRED_SAMPLE) {
        dx0 = 1.0;
        deps = -sa / sb;
    } else
        return DPO_ERR_RANGE;
    if (kind == DPO_STEP_DDPM)
        *k = mx0 * dx0;
    else if (kind == DPO_STEP_DDIM)
        *k = sap * dx0 + dir * deps;
    else
        return DPO_ERR_RANGE;
    return DPO_OK;
}

dpo_status dpo_dmu_dout_f32(double *k, const dpo_step_coef_f32 *c)
{
    if (!c)
        return DPO_ERR_NULL;
    return dmu_dout(k, c->kind, c->pred, c->clip, c->sqrt_alpha_t, c->sqrt_beta_t, c->sqrt_alpha_prev,
                    c->dir_coef, c->mean_x0);
}

dpo_status dpo_dmu_dout_f64(double *k, const dpo_step_coef_f64 *c)
{
    if (!c)
        return DPO_ERR_NULL;
    return dmu_dout(k, c->kind, c->pred, c->clip, c->sqrt_alpha_t, c->sqrt_beta_t, c->sqrt_alpha_prev,
                    c->dir_coef, c->mean_x0);
}

static dpo_status to_out(void *go, const void *gm, size_t n, double k, int f32)
{
    size_t i, bytes = n * (f32 ? sizeof(float) : sizeof(double));
    if (!go || !gm)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if (go != gm && dpo_overlap(go, bytes, gm, bytes))
        return DPO_ERR_ALIAS;
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinite(dpo_ld(gm, f32, i)))
            return DPO_ERR_NONFINITE;
    for (i = 0; i < n; i++)
        dpo_st(go, f32, i, k * dpo_ld(gm, f32, i));
    return DPO_OK;
}

dpo_status dpo_grad_mu_to_out_f32(float *g_out, const float *g_mu, size_t n, const dpo_step_coef_f32 *c)
{
    double k;
    dpo_status st = dpo_dmu_dout_f32(&k, c);
    if (st)
        return st;
    return to_out(g_out, g_mu, n, k, 1);
}

dpo_status dpo_grad_mu_to_out_f64(double *g_out, const double *g_mu, size_t n, const dpo_step_coef_f64 *c)
{
    double k;
    dpo_status st = dpo_dmu_dout_f64(&k, c);
    if (st)
        return st;
    return to_out(g_out, g_mu, n, k, 0);
}
