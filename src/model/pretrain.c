/* Deterministic DDPM epsilon-MSE pretraining of the built-in network's base
 * parameters on the built-in data with AdamW (diffpo_align.h,
 * docs/model.md).  Each iteration is a pure function of (seed, it) and
 * the state (base, m, v). */
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_philox.h"
#include "../core/dpo_reduce.h"
#include "../core/dpo_rules_model.h"
#include "../internal.h"

#define A64(x) (((x) + 63u) & ~(size_t)63u)

typedef struct pl {
    size_t mlp, mlp_size, xt, eps, out, gout, gbase, t, cls, total;
} pl;

static int layout(pl *L, const dpo_mlp_cfg *cfg, size_t batch)
{
    size_t o = 0, d, nb, f = sizeof(float);
    L->mlp_size = dpo_mlp_workspace_size(cfg, batch);
    nb = dpo_mlp_num_base(cfg);
    if (!L->mlp_size || !nb)
        return 0;
    d = batch * cfg->dim;
    L->mlp = o;
    o += A64(L->mlp_size);
    L->xt = o;
    o += A64(d * f);
    L->eps = o;
    o += A64(d * f);
    L->out = o;
    o += A64(d * f);
    L->gout = o;
    o += A64(d * f);
    L->gbase = o;
    o += A64(nb * f);
    L->t = o;
    o += A64(batch * sizeof(int32_t));
    L->cls = o;
    o += A64(batch * sizeof(int32_t));
    L->total = o;
    return 1;
}

size_t dpo_pretrain_workspace_size(const dpo_mlp_cfg *cfg, size_t batch)
{
    pl L;
    if (!cfg || batch == 0 || batch > 0xffffffffu || cfg->dim != DPO_IMG_DIM)
        return 0;
    if (!layout(&L, cfg, batch))
        return 0;
    return L.total;
}

dpo_status dpo_pretrain_run(float *base, float *adam_m, float *adam_v, double *loss_out, const dpo_mlp_cfg *cfg,
                            const dpo_schedule *sched, uint64_t seed, uint64_t it_begin, uint64_t it_end,
                            size_t batch, const dpo_adamw *opt, void *work, size_t work_size)
{
    pl L;
    unsigned char *w = (unsigned char *)work;
    float *xt, *eps, *out, *gout, *gbase;
    int32_t *tt, *cc;
    size_t nb, d, i, f = sizeof(float);
    uint64_t it;
    dpo_status st;
    if (!base || !adam_m || !adam_v || !cfg || !sched || !opt)
        return DPO_ERR_NULL;
    if (batch == 0 || batch > 0xffffffffu || cfg->dim != DPO_IMG_DIM || cfg->n_classes < DPO_DATA_CLASSES ||
        !layout(&L, cfg, batch))
        return DPO_ERR_SIZE;
    /* the rules shared with dpo_cuda_pretrain_run (src/core/dpo_rules_model.h): the
     * AdamW rule is applied here, before any work, also to an empty range */
    if (dpo_rule_pretrain_range_status(cfg->num_train_steps, sched->num_train_steps, it_begin, it_end, batch) ||
        dpo_rule_adamw_status(opt))
        return DPO_ERR_RANGE;
    if (!dpo_work_ok(work, work_size, L.total))
        return DPO_ERR_WORKSPACE;
    nb = dpo_mlp_num_base(cfg);
    d = batch * cfg->dim;
    {
        size_t bb = nb * f;
        size_t nl = (size_t)(it_end - it_begin) * sizeof(double);
        if (dpo_overlap(base, bb, adam_m, bb) || dpo_overlap(base, bb, adam_v, bb) ||
            dpo_overlap(adam_m, bb, adam_v, bb) || dpo_overlap(work, L.total, base, bb) ||
            dpo_overlap(work, L.total, adam_m, bb) || dpo_overlap(work, L.total, adam_v, bb) ||
            (loss_out && (dpo_overlap(loss_out, nl, base, bb) || dpo_overlap(loss_out, nl, adam_m, bb) ||
                          dpo_overlap(loss_out, nl, adam_v, bb) || dpo_overlap(loss_out, nl, work, L.total))))
            return DPO_ERR_ALIAS;
    }
    for (i = 0; i < nb; i++)
        if (!dpo_pm_isfinitef(base[i]) || !dpo_pm_isfinitef(adam_m[i]) || !dpo_pm_isfinitef(adam_v[i]))
            return DPO_ERR_NONFINITE;

    xt = (float *)(w + L.xt);
    eps = (float *)(w + L.eps);
    out = (float *)(w + L.out);
    gout = (float *)(w + L.gout);
    gbase = (float *)(w + L.gbase);
    tt = (int32_t *)(w + L.t);
    cc = (int32_t *)(w + L.cls);

    for (it = it_begin; it < it_end; it++) {
        dpo_sum s;
        double loss, gscale = 2.0 / (double)d;
        size_t b;
        /* the batch: the rule shared with dpo_cuda_pretrain_run */
        for (b = 0; b < batch; b++) {
            st = dpo_pretrain_sample(xt + b * cfg->dim, eps + b * cfg->dim, &tt[b], &cc[b], sched,
                                     cfg->num_train_steps, seed, it, batch, b, cfg->dim);
            if (st)
                return st;
        }
        st = dpo_mlp_forward(out, cfg, base, 0, xt, tt, cc, batch, w + L.mlp, L.mlp_size);
        if (st)
            return st;
        dpo_sum_init(&s);
        for (i = 0; i < d; i++) {
            double e = (double)out[i] - (double)eps[i];
            dpo_sum_add(&s, e * e);
            gout[i] = (float)(gscale * e);
        }
        loss = dpo_sum_result(&s) / (double)d;
        if (!dpo_pm_isfinite(loss))
            return DPO_ERR_NONFINITE;
        for (i = 0; i < nb; i++)
            gbase[i] = 0.0f;
        st = dpo_mlp_backward(0, gbase, 0, gout, cfg, base, 0, batch, w + L.mlp, L.mlp_size);
        if (st)
            return st;
        st = dpo_adamw_step(base, adam_m, adam_v, gbase, nb, opt, it + 1);
        if (st)
            return st;
        if (loss_out)
            loss_out[it - it_begin] = loss;
    }
    return DPO_OK;
}
