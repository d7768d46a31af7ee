/* The built-in model: exact epsilon-predictor of a Gaussian mixture. */
#include "diffpo.h"
#include "core/dpo_philox.h"
#include "core/dpo_reduce.h"
#include "internal.h"

static const double gmm_default_w[4] = {0.1, 0.2, 0.3, 0.4};
static const double gmm_default_sd[4] = {0.15, 0.2, 0.25, 0.3};

dpo_status dpo_gmm_init(dpo_gmm *g, int k, const double *weight, const double *sd, const double *mean, size_t dim,
                        const dpo_schedule *sched)
{
    dpo_gmm r;
    double wsum = 0;
    int i;
    size_t j;
    if (!g || !weight || !sd || !mean || !sched)
        return DPO_ERR_NULL;
    if (k < 1 || k > DPO_GMM_MAX_K || dim == 0 || dim > DPO_MAX_ELEMS / (size_t)DPO_GMM_MAX_K)
        return DPO_ERR_SIZE;
    for (i = 0; i < k; i++) {
        if (!dpo_pm_isfinite(weight[i]) || !(weight[i] > 0) || !dpo_pm_isfinite(sd[i]) || !(sd[i] > 0))
            return DPO_ERR_RANGE;
        wsum += weight[i];
    }
    for (j = 0; j < (size_t)k * dim; j++)
        if (!dpo_pm_isfinite(mean[j]))
            return DPO_ERR_NONFINITE;
    r.k = k;
    r.dim = dim;
    for (i = 0; i < DPO_GMM_MAX_K; i++) {
        r.weight[i] = i < k ? weight[i] / wsum : 0.0;
        r.log_weight[i] = i < k ? dpo_log(r.weight[i]) : 0.0;
        r.sd[i] = i < k ? sd[i] : 0.0;
    }
    r.mean = mean;
    r.sched = sched;
    *g = r;
    return DPO_OK;
}

dpo_status dpo_gmm_init_default(dpo_gmm *g, double *mean_storage, size_t dim, uint64_t model_seed,
                                const dpo_schedule *sched)
{
    int k;
    dpo_noise_coord c;
    if (!g || !mean_storage || !sched)
        return DPO_ERR_NULL;
    if (dim == 0 || dim > DPO_MAX_ELEMS / (size_t)DPO_GMM_MAX_K)
        return DPO_ERR_SIZE;
    c.seed = model_seed;
    c.stream = DPO_STREAM_DATA;
    c.step = 0;
    c.candidate = 0;
    for (k = 0; k < 4; k++) {
        double *m = mean_storage + (size_t)k * dim;
        dpo_sum s;
        double norm;
        size_t j;
        c.sample = (uint32_t)k;
        dpo_normal_f64(m, c, 0, dim);
        dpo_sum_init(&s);
        for (j = 0; j < dim; j++)
            dpo_sum_add(&s, m[j] * m[j]);
        norm = DPO_SQRT(dpo_sum_result(&s));
        for (j = 0; j < dim; j++)
            m[j] = 2.0 * m[j] / norm;
    }
    return dpo_gmm_init(g, 4, gmm_default_w, gmm_default_sd, mean_storage, dim, sched);
}

/* eps* for one sample, in double. */
static void gmm_eps_one(const dpo_gmm *g, double *outd, float *outf, const double *xd, const float *xf, double at)
{
    double sa = DPO_SQRT(at), sb = DPO_SQRT(1.0 - at);
    double logp[DPO_GMM_MAX_K], coef[DPO_GMM_MAX_K], var[DPO_GMM_MAX_K];
    double mx = -1.0e308, tot;
    size_t j, dim = g->dim;
    int k;
    for (k = 0; k < g->k; k++) {
        const double *m = g->mean + (size_t)k * dim;
        dpo_sum s;
        var[k] = at * g->sd[k] * g->sd[k] + (1.0 - at);
        dpo_sum_init(&s);
        for (j = 0; j < dim; j++) {
            double xv = xd ? xd[j] : (double)xf[j];
            double d = xv - sa * m[j];
            dpo_sum_add(&s, d * d);
        }
        logp[k] = g->log_weight[k] - 0.5 * dpo_sum_result(&s) / var[k] - 0.5 * (double)dim * dpo_log(var[k]);
        if (logp[k] > mx)
            mx = logp[k];
    }
    tot = 0;
    for (k = 0; k < g->k; k++) {
        coef[k] = dpo_exp(logp[k] - mx);
        tot += coef[k];
    }
    for (k = 0; k < g->k; k++)
        coef[k] = coef[k] / tot / var[k]; /* r_k / v_k */
    for (j = 0; j < dim; j++) {
        double xv = xd ? xd[j] : (double)xf[j];
        double acc = 0;
        for (k = 0; k < g->k; k++)
            acc += coef[k] * (xv - sa * g->mean[(size_t)k * dim + j]);
        if (outd)
            outd[j] = sb * acc;
        else
            outf[j] = (float)(sb * acc);
    }
}

static dpo_status gmm_check(const dpo_gmm *g, const void *out, const void *x, size_t n, int t)
{
    if (!g || !out || !x || !g->sched || !g->mean)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS / g->dim)
        return DPO_ERR_SIZE;
    if (t < 0 || t >= g->sched->num_train_steps)
        return DPO_ERR_RANGE;
    return DPO_OK;
}

dpo_status dpo_gmm_eps_f64(const dpo_gmm *g, double *out, const double *x, size_t n, int timestep)
{
    size_t i;
    dpo_status st = gmm_check(g, out, x, n, timestep);
    if (st)
        return st;
    if (dpo_overlap(out, n * g->dim * sizeof(double), x, n * g->dim * sizeof(double)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < n * g->dim; i++)
        if (!dpo_pm_isfinite(x[i]))
            return DPO_ERR_NONFINITE;
    for (i = 0; i < n; i++)
        gmm_eps_one(g, out + i * g->dim, 0, x + i * g->dim, 0, g->sched->ac64[timestep]);
    return DPO_OK;
}

/* Float32 interface: inputs widened to double, outputs rounded once. */
dpo_status dpo_gmm_eps(const dpo_gmm *g, float *out, const float *x, size_t n, int timestep)
{
    size_t i;
    dpo_status st = gmm_check(g, out, x, n, timestep);
    if (st)
        return st;
    if (dpo_overlap(out, n * g->dim * sizeof(float), x, n * g->dim * sizeof(float)))
        return DPO_ERR_ALIAS;
    for (i = 0; i < n * g->dim; i++)
        if (!dpo_pm_isfinitef(x[i]))
            return DPO_ERR_NONFINITE;
    for (i = 0; i < n; i++)
        gmm_eps_one(g, 0, out + i * g->dim, 0, x + i * g->dim, g->sched->ac64[timestep]);
    return DPO_OK;
}

dpo_status dpo_gmm_moments(const dpo_gmm *g, double *mean, double *cov)
{
    size_t i, j, D;
    int k;
    if (!g || !mean || !g->mean)
        return DPO_ERR_NULL;
    D = g->dim;
    for (i = 0; i < D; i++) {
        double m = 0;
        for (k = 0; k < g->k; k++)
            m += g->weight[k] * g->mean[(size_t)k * D + i];
        mean[i] = m;
    }
    if (cov) {
        for (i = 0; i < D; i++)
            for (j = 0; j < D; j++) {
                double c = 0;
                for (k = 0; k < g->k; k++) {
                    const double *m = g->mean + (size_t)k * D;
                    c += g->weight[k] * ((i == j ? g->sd[k] * g->sd[k] : 0.0) + m[i] * m[j]);
                }
                cov[i * D + j] = c - mean[i] * mean[j];
            }
    }
    return DPO_OK;
}

static int gmm_forward(void *user, float *out, const float *x, size_t n, int timestep, const int32_t *cond)
{
    (void)cond;
    return (int)dpo_gmm_eps((const dpo_gmm *)user, out, x, n, timestep);
}

dpo_eps_model dpo_gmm_model(dpo_gmm *g)
{
    dpo_eps_model m;
    m.user = g;
    m.dim = g ? g->dim : 0;
    m.forward = gmm_forward;
    return m;
}
