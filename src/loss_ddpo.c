/* CPU driver of the DDPO loss (Black et al., policy gradient with the
 * clipped importance ratio of PPO; public code ddpo-pytorch) and its
 * per-prompt advantages.  Element math: dpo_lr_term, dpo_lr_finish,
 * dpo_lr_grad_coef and dpo_ddpo_scalars of src/core/dpo_loss.h.  One body
 * for float32 and float64 (f32 flag): elements widened to double, the
 * log-ratio summed in the canonical tree, gradients rounded once. */
#include "diffpo.h"
#include "core/dpo_loss.h"
#include "internal.h"
#include "cpu_simd_model.h"

static int ddpo_finite_arr(const void *p, int f32, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinite(dpo_ld(p, f32, i)))
            return 0;
    return 1;
}

/* clip_eps in (0, 1); adv_clip >= 0 and finite */
static dpo_status ddpo_check_scalars(double adv, dpo_ddpo_params p)
{
    if (!dpo_pm_isfinite(p.clip_eps) || !(p.clip_eps > 0 && p.clip_eps < 1) || !dpo_pm_isfinite(p.adv_clip) ||
        !(p.adv_clip >= 0))
        return DPO_ERR_RANGE;
    if (!dpo_pm_isfinite(adv))
        return DPO_ERR_NONFINITE;
    return DPO_OK;
}

static void ddpo_fill(dpo_ddpo_result *res, double lr, double adv, dpo_ddpo_params p)
{
    res->lr = lr;
    dpo_ddpo_scalars(&res->loss, &res->ratio, &res->adv, &res->dl_dlr, &res->clipped, lr, adv, p.clip_eps,
                     p.adv_clip);
}

dpo_status dpo_ddpo_from_logratio(dpo_ddpo_result *res, double lr, double adv, dpo_ddpo_params p)
{
    dpo_status st;
    if (!res)
        return DPO_ERR_NULL;
    st = ddpo_check_scalars(adv, p);
    if (st)
        return st;
    if (!dpo_pm_isfinite(lr))
        return DPO_ERR_NONFINITE;
    ddpo_fill(res, lr, adv, p);
    return DPO_OK;
}

static dpo_status ddpo_tensors(dpo_ddpo_result *res, void *g_mu, const void *x, const void *mu, const void *mu_old,
                               size_t n, double adv, dpo_ddpo_params p, int f32)
{
    size_t bytes = n * (f32 ? sizeof(float) : sizeof(double));
    int mean = p.mode == DPO_LOGPROB_MEAN;
    double var, coef, lr;
    dpo_ddpo_result r;
    dpo_status st;
    if (!res || !x || !mu || !mu_old)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if ((int)p.mode != DPO_LOGPROB_SUM && (int)p.mode != DPO_LOGPROB_MEAN)
        return DPO_ERR_RANGE;
    st = ddpo_check_scalars(adv, p);
    if (st)
        return st;
    /* sigma^2 a positive normal number, 2 sigma^2 finite (as the other losses) */
    if (!dpo_pm_isfinite(p.sigma) || !(p.sigma >= 0))
        return DPO_ERR_RANGE;
    if (p.sigma == 0)
        return DPO_ERR_SIGMA_ZERO;
    var = p.sigma * p.sigma;
    if (!(var >= 2.2250738585072014e-308) || !dpo_pm_isfinite(2.0 * var))
        return DPO_ERR_SIGMA_ZERO;
    if (g_mu && (dpo_overlap(g_mu, bytes, x, bytes) || dpo_overlap(g_mu, bytes, mu, bytes) ||
                 dpo_overlap(g_mu, bytes, mu_old, bytes)))
        return DPO_ERR_ALIAS;
    if (!ddpo_finite_arr(x, f32, n) || !ddpo_finite_arr(mu, f32, n) || !ddpo_finite_arr(mu_old, f32, n))
        return DPO_ERR_NONFINITE;
    /* the canonical sum of dpo_lr_term and the gradient write below in the
     * CPU level's vector forms (src/cpu_simd_model.h; the same bits) */
    lr = dpo_lr_finish(dpo__simd_lr_sum(x, mu, mu_old, n, f32, dpo_simd_level()), 2.0 * (p.sigma * p.sigma),
                       (double)n, mean);
    if (!dpo_pm_isfinite(lr))
        return DPO_ERR_NONFINITE;
    ddpo_fill(&r, lr, adv, p);
    if (g_mu) {
        coef = dpo_lr_grad_coef(r.dl_dlr, var, (double)n, mean);
        dpo__simd_grad_diff(g_mu, x, mu, n, coef, f32, dpo_simd_level());
    }
    *res = r;
    return DPO_OK;
}

dpo_status dpo_ddpo_f32(dpo_ddpo_result *res, float *g_mu, const float *x, const float *mu, const float *mu_old,
                        size_t n, double adv, dpo_ddpo_params p)
{
    return ddpo_tensors(res, g_mu, x, mu, mu_old, n, adv, p, 1);
}

dpo_status dpo_ddpo_f64(dpo_ddpo_result *res, double *g_mu, const double *x, const double *mu,
                        const double *mu_old, size_t n, double adv, dpo_ddpo_params p)
{
    return ddpo_tensors(res, g_mu, x, mu, mu_old, n, adv, p, 0);
}

/* mean and population standard deviation of the rewards whose group is g
 * (all rewards when all != 0); *m = their count. */
static void ddpo_group_stats(double *mean, double *sd, size_t *m, const double *reward, const uint32_t *group,
                             size_t n, uint32_t g, int all)
{
    size_t i, k = 0;
    double s = 0.0, q = 0.0, mu;
    for (i = 0; i < n; i++)
        if (all || group[i] == g) {
            s += reward[i];
            k++;
        }
    mu = s / (double)k;
    for (i = 0; i < n; i++)
        if (all || group[i] == g) {
            double d = reward[i] - mu;
            q += d * d;
        }
    *mean = mu;
    *sd = DPO_SQRT(q / (double)k);
    *m = k;
}

dpo_status dpo_ddpo_advantages(double *adv, const double *reward, const uint32_t *group, size_t n, size_t min_count,
                               double std_eps)
{
    size_t i, m;
    double gm, gs, mu, sd;
    if (!adv || !reward || !group)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if (!dpo_pm_isfinite(std_eps) || !(std_eps >= 0))
        return DPO_ERR_RANGE;
    if (dpo_overlap(adv, n * sizeof(double), reward, n * sizeof(double)) ||
        dpo_overlap(adv, n * sizeof(double), group, n * sizeof(uint32_t)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinite(reward[i]))
            return DPO_ERR_NONFINITE;
    ddpo_group_stats(&gm, &gs, &m, reward, group, n, 0, 1);
    if (!dpo_pm_isfinite(gm) || !dpo_pm_isfinite(gs))
        return DPO_ERR_NONFINITE;
    for (i = 0; i < n; i++) {
        ddpo_group_stats(&mu, &sd, &m, reward, group, n, group[i], 0);
        if (m < min_count) {
            mu = gm;
            sd = gs;
        }
        if (!dpo_pm_isfinite(mu) || !dpo_pm_isfinite(sd + std_eps))
            return DPO_ERR_NONFINITE;
        if (!(sd + std_eps > 0))
            return DPO_ERR_RANGE; /* equal rewards and std_eps 0 */
    }
    for (i = 0; i < n; i++) {
        ddpo_group_stats(&mu, &sd, &m, reward, group, n, group[i], 0);
        if (m < min_count) {
            mu = gm;
            sd = gs;
        }
        adv[i] = (reward[i] - mu) / (sd + std_eps);
    }
    return DPO_OK;
}
