/* Rollout driver: x_T from Philox, every step by the core's step with its
 * Philox noise (dpo_step_philox_f32) and its log-probability
 * (dpo_step_logprob_f32), over any range of samples. */
#include "diffpo.h"
#include "core/dpo_pmath.h"
#include "internal.h"

size_t dpo_rollout_workspace_size(size_t n, size_t dim)
{
    if (dim && n > DPO_MAX_ELEMS / dim)
        return 0;
    return n * dim * sizeof(float);
}

static dpo_status rollout_check(const dpo_rollout_cfg *cfg, const dpo_eps_model *model, size_t s0, size_t s1,
                                int want_lp)
{
    int k, prev_t = 0x7fffffff;
    if (!cfg || !model || !model->forward || !cfg->sched || !cfg->timesteps)
        return DPO_ERR_NULL;
    if (cfg->batch == 0 || cfg->dim == 0 || cfg->dim > DPO_MAX_ELEMS || cfg->batch > 0xffffffffu ||
        cfg->batch > DPO_MAX_ELEMS / cfg->dim || model->dim != cfg->dim)
        return DPO_ERR_SIZE;
    if (cfg->num_steps < 1 || cfg->num_steps > cfg->sched->num_train_steps || s0 >= s1 || s1 > cfg->batch)
        return DPO_ERR_RANGE;
    if ((int)cfg->lp_mode != DPO_LOGPROB_SUM && (int)cfg->lp_mode != DPO_LOGPROB_MEAN)
        return DPO_ERR_RANGE;
    for (k = 0; k < cfg->num_steps; k++) {
        dpo_step_coef_f32 c;
        dpo_status st;
        int t = cfg->timesteps[k];
        if (t >= prev_t) /* the sampler visits timesteps in descending order */
            return DPO_ERR_RANGE;
        prev_t = t;
        st = dpo_step_coef_f32_init(&c, cfg->sched, t, cfg->num_steps, &cfg->opts);
        if (st)
            return st;
        if (want_lp && !(c.sigma > 0))
            return DPO_ERR_SIGMA_ZERO;
    }
    return DPO_OK;
}

dpo_status dpo_rollout_f32(float *traj, double *logp, const dpo_rollout_cfg *cfg, const dpo_eps_model *model,
                           size_t s0, size_t s1, void *work, size_t work_size)
{
    size_t i, j, n, dim, row;
    float *eps;
    int k;
    dpo_status st;
    if (!traj)
        return DPO_ERR_NULL;
    st = rollout_check(cfg, model, s0, s1, logp != 0);
    if (st)
        return st;
    n = s1 - s0;
    dim = cfg->dim;
    row = cfg->batch * dim;
    if (!dpo_work_ok(work, work_size, dpo_rollout_workspace_size(n, dim)))
        return DPO_ERR_WORKSPACE;
    if (dpo_overlap(work, work_size, traj, row * (size_t)(cfg->num_steps + 1) * sizeof(float)) ||
        (logp && (dpo_overlap(work, work_size, logp, (size_t)cfg->num_steps * cfg->batch * sizeof(double)) ||
                  dpo_overlap(traj, row * (size_t)(cfg->num_steps + 1) * sizeof(float), logp,
                              (size_t)cfg->num_steps * cfg->batch * sizeof(double)))))
        return DPO_ERR_ALIAS;
    eps = (float *)work;

    /* x_T */
    for (i = s0; i < s1; i++) {
        dpo_noise_coord c;
        c.seed = cfg->seed;
        c.stream = DPO_STREAM_INIT;
        c.sample = (uint32_t)i;
        c.step = 0;
        c.candidate = 0;
        dpo_normal_f32(traj + i * dim, c, 0, dim);
    }

    for (k = 0; k < cfg->num_steps; k++) {
        dpo_step_coef_f32 c;
        const float *x = traj + (size_t)k * row + s0 * dim;
        float *xn = traj + (size_t)(k + 1) * row + s0 * dim;
        int t = cfg->timesteps[k];
        dpo_step_coef_f32_init(&c, cfg->sched, t, cfg->num_steps, &cfg->opts); /* checked above */
        if (model->forward(model->user, eps, x, n, t, cfg->cond ? cfg->cond + s0 : 0) != 0)
            return DPO_ERR_MODEL;
        for (j = 0; j < n * dim; j++)
            if (!dpo_pm_isfinitef(eps[j]))
                return DPO_ERR_NONFINITE;
        for (i = 0; i < n; i++) {
            const float *xi = x + i * dim;
            float *ei = eps + i * dim; /* the model output, then (in place) the step mean */
            float *oi = xn + i * dim;
            dpo_noise_coord nc;
            nc.seed = cfg->seed;
            nc.stream = DPO_STREAM_STEP;
            nc.sample = (uint32_t)(s0 + i);
            nc.step = (uint32_t)k;
            nc.candidate = 0;
            if ((st = dpo_step_philox_f32(oi, 0, ei, xi, ei, nc, dim, &c)) != DPO_OK ||
                (logp && (st = dpo_step_logprob_f32(&logp[(size_t)k * cfg->batch + s0 + i], oi, ei, 1, dim, &c,
                                                    cfg->lp_mode)) != DPO_OK))
                return st;
        }
    }
    return DPO_OK;
}
