/* Trainers: one preference-alignment iteration of every method on the
 * built-in network.  docs/trainers.md describes each method's iteration. */
#include <string.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_ddim.h"
#include "../core/dpo_philox.h"
#include "../internal.h"

static const char *const method_names[DPO_METHODS] = {"d3po",   "diffusion-dpo", "tailorpo", "tailorpo-g",
                                                      "rdpo",   "rdpo-fixed",    "spo",      "dspo"};

const char *dpo_method_name(dpo_method m)
{
    return (int)m >= 0 && (int)m < DPO_METHODS ? method_names[m] : "unknown";
}

dpo_status dpo_method_parse(dpo_method *m, const char *name)
{
    int i;
    if (!m || !name)
        return DPO_ERR_NULL;
    for (i = 0; i < DPO_METHODS; i++)
        if (!strcmp(name, method_names[i])) {
            *m = (dpo_method)i;
            return DPO_OK;
        }
    return DPO_ERR_RANGE;
}

dpo_train_cfg dpo_train_cfg_default(dpo_method m)
{
    dpo_train_cfg c;
    memset(&c, 0, sizeof c);
    c.method = m;
    c.seed = 1;
    c.batch = 8;
    c.num_steps = 20;
    c.eta = 1.0;
    c.reward = DPO_REWARD_AESTHETIC;
    c.lp_mode = DPO_LOGPROB_SUM;
    c.beta = 0.1;
    c.lambda = 0.0;
    c.clip_eps = 0.1;
    c.train_from = 0;
    c.train_every = 1;
    c.k = 2;
    c.spo_thr = 0.3;
    c.kappa = 750;
    c.resampler = DPO_RESAMPLE_RANDOM;
    c.guide_eta_min = 0.1;
    c.guide_eta_max = 0.2;
    c.guide_delta = 0.5;
    c.guide_jac = DPO_GUIDE_VJP;
    c.opt = dpo_adamw_default(1e-3);
    switch (m) {
    case DPO_METHOD_D3PO: /* public code: mean log-prob, clamp 0.1, beta 0.1, every step */
        c.lp_mode = DPO_LOGPROB_MEAN;
        c.beta = 0.1;
        break;
    case DPO_METHOD_TAILORPO:
    case DPO_METHOD_TAILORPO_G: /* fine-tune at t = 20, 16, 12, 8, 4 of 20 */
        c.train_every = 4;
        c.beta = 0.1;
        break;
    case DPO_METHOD_RDPO:
    case DPO_METHOD_RDPO_FIXED:
        c.train_every = 4;
        c.beta = 0.1;
        c.lambda = 0.1; /* = beta: Psi is a raw log-ratio, delta is beta times one (docs/trainers.md) */
        break;
    case DPO_METHOD_SPO: /* public code: from step 4, k = 4, beta 10, mean log-prob */
        c.train_from = 4;
        c.k = 4;
        c.beta = 10.0;
        c.lp_mode = DPO_LOGPROB_MEAN;
        c.opt = dpo_adamw_default(5e-4); /* 1e-3 diverges after ~60 iterations (docs/trainers.md) */
        break;
    case DPO_METHOD_DIFFDPO: /* beta scaled for d = 64 (SD-1.5: 5000 on 16384 latents) */
        c.lp_mode = DPO_LOGPROB_MEAN;
        c.beta = 500.0;
        break;
    case DPO_METHOD_DSPO:
        c.lp_mode = DPO_LOGPROB_MEAN;
        c.beta = 0.05;
        break;
    }
    return c;
}

/* --------------------------------------------------------------- scratch */
#define ALIGN64(n) (((n) + 63) & ~(size_t)63)
enum { BUF_EPS, BUF_EPS_REF, BUF_MU, BUF_MU_REF, BUF_X0, BUF_GMU, BUF_GEPS, BUF_G, BUF_VJP, BUF_Z,
       BUF_EPS1, BUF_EPS_REF1, BUF_MU1, BUF_MU_REF1, BUF_GMU1, BUF_GEPS1, BUF_XT, BUF_XT1, BUF_X, BUF_N };

typedef struct scratch {
    void *mw[4];        /* network activations: 0, 1 keep theta's forward for backward; 2, 3 auxiliary */
    size_t mw_size;
    float *buf[BUF_N];  /* dim each */
    float *cand;        /* (DPO_TRAIN_MAX_K + 1) x dim */
    float *traj0, *traj1; /* (T + 1) x dim each */
} scratch;

static size_t scratch_size(const dpo_mlp_cfg *m, int T)
{
    size_t d = m->dim * sizeof(float);
    return 4 * ALIGN64(dpo_mlp_workspace_size(m, 1)) + BUF_N * ALIGN64(d) + ALIGN64((DPO_TRAIN_MAX_K + 1) * d) +
           2 * ALIGN64((size_t)(T + 1) * d);
}

static void scratch_bind(scratch *s, unsigned char *p, const dpo_mlp_cfg *m, int T)
{
    size_t d = m->dim * sizeof(float);
    int i;
    s->mw_size = ALIGN64(dpo_mlp_workspace_size(m, 1));
    for (i = 0; i < 4; i++) {
        s->mw[i] = p;
        p += s->mw_size;
    }
    for (i = 0; i < BUF_N; i++) {
        s->buf[i] = (float *)p;
        p += ALIGN64(d);
    }
    s->cand = (float *)p;
    p += ALIGN64((DPO_TRAIN_MAX_K + 1) * d);
    s->traj0 = (float *)p;
    p += ALIGN64((size_t)(T + 1) * d);
    s->traj1 = (float *)p;
}

/* ----------------------------------------------------------- primitives */
typedef struct ctx {
    const dpo_mlp_cfg *m;
    const float *base, *lora;
    const dpo_schedule *sched;
    const int32_t *ts;
    int T;
    double eta;
    uint64_t seed;
    dpo_reward_kind reward;
    const dpo_reward_model *user; /* the caller's reward, or NULL: the built-in `reward` */
} ctx;

/* r (and g = grad r when g != NULL) of one image x0 of class cls. */
static dpo_status reward_at(double *r, float *g, const ctx *c, const float *x0, int32_t cls)
{
    if (c->user) {
        int rc = g ? c->user->grad(c->user->user, r, g, x0, 1, &cls) : c->user->value(c->user->user, r, x0, 1, &cls);
        if (rc != 0)
            return DPO_ERR_MODEL;
        return dpo_pm_isfinite(*r) ? DPO_OK : DPO_ERR_NONFINITE;
    }
    return dpo_reward_eval(r, g, c->reward, x0, 1, &cls);
}

static dpo_status eps_at(float *out, void *work, size_t wsz, const ctx *c, const float *lora, const float *x, int t,
                         int32_t cls)
{
    int32_t tt = t, cc = cls;
    return dpo_mlp_forward(out, work, wsz, c->m, c->base, lora, x, &tt, &cc, 1);
}

static dpo_status coef_at(dpo_step_coef_f32 *co, const ctx *c, int j)
{
    dpo_step_opts o = dpo_step_opts_default();
    o.eta = c->eta;
    return dpo_step_coef_f32_init(co, c->sched, c->ts[j], c->T, &o);
}

/* mu (and x0) of the step from x with model output e. */
static void step_mean(float *mu, float *x0, const float *x, const float *e, size_t n, const dpo_step_coef_f32 *co)
{
    size_t i;
    for (i = 0; i < n; i++) {
        float a, m;
        dpo_step_elem_f32(&a, &m, x[i], e[i], 0.0f, co);
        mu[i] = m;
        if (x0)
            x0[i] = a;
    }
}

static void noise(float *z, const ctx *c, uint32_t stream, uint32_t g, uint32_t step, uint32_t cand, size_t n)
{
    dpo_noise_coord nc;
    nc.seed = c->seed;
    nc.stream = stream;
    nc.sample = g;
    nc.step = step;
    nc.candidate = cand;
    dpo_normal_f32(z, nc, 0, n);
}

/* x = mu + sigma z, the same arithmetic as dpo_step_elem_f32. */
static void sample_from(float *x, const float *mu, const float *z, size_t n, const dpo_step_coef_f32 *co)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = mu[i] + co->sigma * z[i];
}

/* Step-wise reward r(x0_hat(x)) of x = x_{t-1} after step j: x0_hat with the
 * model's eps at the next timestep; after the last step x itself. */
static dpo_status stepwise_reward(double *r, float *x0h, float *g, const ctx *c, const scratch *s, int aux,
                                  const float *x, int j, int32_t cls, double *alpha_next)
{
    dpo_status st;
    if (j + 1 >= c->T) {
        memcpy(x0h, x, c->m->dim * sizeof(float));
        if (alpha_next)
            *alpha_next = 1.0;
    } else {
        dpo_step_coef_f32 co;
        float *e = s->buf[BUF_Z];
        size_t i;
        if ((st = coef_at(&co, c, j + 1)) != DPO_OK)
            return st;
        if ((st = eps_at(e, s->mw[aux], s->mw_size, c, c->lora, x, c->ts[j + 1], cls)) != DPO_OK)
            return st;
        for (i = 0; i < c->m->dim; i++) {
            float a, ee;
            dpo_ddim_x0_eps_f32(&a, &ee, x[i], e[i], &co);
            x0h[i] = a;
        }
        if (alpha_next)
            *alpha_next = (double)co.alpha_t;
    }
    return reward_at(r, g, c, x0h, cls);
}

/* Adds the gradient wrt eps_theta through theta's forward kept in mw[w]. */
static dpo_status backprop(float *slot, const ctx *c, const scratch *s, int w, const float *g_eps)
{
    return dpo_mlp_backward(0, 0, slot, g_eps, s->mw[w], s->mw_size, c->m, c->base, c->lora, 1);
}

/* ------------------------------------------------------- the iterations */
static dpo_status iter_d3po(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                            dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    int j, i, label;
    double r0, r1;
    dpo_status e;
    float *tr2[2];
    tr2[0] = s->traj0;
    tr2[1] = s->traj1;
    /* two trajectories from one x_T, independent step noise (candidates 0, 1) */
    noise(s->traj0, c, DPO_STREAM_INIT, g, 0, 0, D);
    memcpy(s->traj1, s->traj0, D * sizeof(float));
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK)
            return e;
        for (i = 0; i < 2; i++) {
            const float *x = tr2[i] + (size_t)j * D;
            if ((e = eps_at(s->buf[BUF_EPS], s->mw[2], s->mw_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK)
                return e;
            step_mean(s->buf[BUF_MU], 0, x, s->buf[BUF_EPS], D, &co);
            noise(s->buf[BUF_Z], c, DPO_STREAM_STEP, g, (uint32_t)j, (uint32_t)i, D);
            sample_from(tr2[i] + (size_t)(j + 1) * D, s->buf[BUF_MU], s->buf[BUF_Z], D, &co);
        }
    }
    if ((e = reward_at(&r0, 0, c, s->traj0 + (size_t)c->T * D, cls)) != DPO_OK ||
        (e = reward_at(&r1, 0, c, s->traj1 + (size_t)c->T * D, cls)) != DPO_OK)
        return e;
    if ((e = dpo_d3po_label(&label, r0, r1)) != DPO_OK)
        return e;
    st->reward = 0.5 * (r0 + r1);
    for (j = tr->cfg.train_from; j < c->T; j++) {
        dpo_step_coef_f32 co;
        dpo_pair_result res;
        dpo_clip_params p;
        coef_at(&co, c, j);
        for (i = 0; i < 2; i++) {
            const float *x = tr2[i] + (size_t)j * D;
            float *eps = s->buf[i ? BUF_EPS1 : BUF_EPS], *eref = s->buf[i ? BUF_EPS_REF1 : BUF_EPS_REF];
            if ((e = eps_at(eps, s->mw[i], s->mw_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK ||
                (e = eps_at(eref, s->mw[2], s->mw_size, c, 0, x, c->ts[j], cls)) != DPO_OK)
                return e;
            step_mean(s->buf[i ? BUF_MU1 : BUF_MU], 0, x, eps, D, &co);
            step_mean(s->buf[i ? BUF_MU_REF1 : BUF_MU_REF], 0, x, eref, D, &co);
        }
        p.beta = tr->cfg.beta;
        p.clip_eps = tr->cfg.clip_eps;
        p.sigma = (double)co.sigma;
        p.mode = tr->cfg.lp_mode;
        e = dpo_d3po_code_f32(&res, s->buf[BUF_GMU], s->buf[BUF_GMU1], s->traj0 + (size_t)(j + 1) * D, s->buf[BUF_MU],
                              s->buf[BUF_MU_REF], s->traj1 + (size_t)(j + 1) * D, s->buf[BUF_MU1],
                              s->buf[BUF_MU_REF1], D, label, p);
        if (e)
            return e;
        st->loss += res.loss;
        st->terms++;
        st->lr_winner += label >= 0 ? res.lr_w : res.lr_l;
        st->lr_loser += label >= 0 ? res.lr_l : res.lr_w;
        if (label == 0)
            continue; /* a tie: zero gradient, counted in the mean */
        for (i = 0; i < 2; i++) {
            float *geps = s->buf[i ? BUF_GEPS1 : BUF_GEPS];
            if ((e = dpo_grad_mu_to_out_f32(geps, s->buf[i ? BUF_GMU1 : BUF_GMU], D, &co)) != DPO_OK ||
                (e = backprop(slot, c, s, i, geps)) != DPO_OK)
                return e;
        }
    }
    return DPO_OK;
}

/* TailorPO, TailorPO-G, RDPO (both), SPO: one trajectory; at trained steps
 * candidates from the same x_t, ranked by the step-wise reward. */
static dpo_status iter_stepwise(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                                dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    const dpo_train_cfg *cf = &tr->cfg;
    const dpo_method M = cf->method;
    const int K = M == DPO_METHOD_SPO ? cf->k : 2;
    float *x = s->buf[BUF_X];
    int j, i;
    dpo_status e;
    noise(x, c, DPO_STREAM_INIT, g, 0, 0, D);
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        double r[DPO_TRAIN_MAX_K + 1], r_before = 0;
        int train, w = 0, l = 1, next = 0;
        if ((e = coef_at(&co, c, j)) != DPO_OK)
            return e;
        if ((e = eps_at(s->buf[BUF_EPS], s->mw[0], s->mw_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK)
            return e;
        step_mean(s->buf[BUF_MU], s->buf[BUF_X0], x, s->buf[BUF_EPS], D, &co);
        train = j >= cf->train_from && (j - cf->train_from) % cf->train_every == 0;
        if (!train) {
            noise(s->buf[BUF_Z], c, DPO_STREAM_STEP, g, (uint32_t)j, 0, D);
            sample_from(x, s->buf[BUF_MU], s->buf[BUF_Z], D, &co);
            continue;
        }
        if ((e = eps_at(s->buf[BUF_EPS_REF], s->mw[2], s->mw_size, c, 0, x, c->ts[j], cls)) != DPO_OK)
            return e;
        step_mean(s->buf[BUF_MU_REF], 0, x, s->buf[BUF_EPS_REF], D, &co);
        memcpy(s->buf[BUF_XT], x, D * sizeof(float));
        for (i = 0; i < K; i++) {
            noise(s->buf[BUF_Z], c, DPO_STREAM_STEP, g, (uint32_t)j, (uint32_t)i, D);
            sample_from(s->cand + (size_t)i * D, s->buf[BUF_MU], s->buf[BUF_Z], D, &co);
            if ((e = stepwise_reward(&r[i], s->buf[BUF_EPS1], 0, c, s, 2, s->cand + (size_t)i * D, j,
                                     cls, 0)) != DPO_OK)
                return e;
        }
        if (M == DPO_METHOD_SPO) {
            dpo_spo_params sp;
            int valid;
            sp.thr = cf->spo_thr;
            sp.kappa = cf->kappa;
            if ((e = dpo_spo_select(&w, &l, &valid, r, (size_t)K, c->ts[j], sp)) != DPO_OK)
                return e;
            if (valid) {
                dpo_pair_result res;
                dpo_clip_params p;
                size_t q;
                p.beta = cf->beta;
                p.clip_eps = cf->clip_eps;
                p.sigma = (double)co.sigma;
                p.mode = cf->lp_mode;
                e = dpo_d3po_code_f32(&res, s->buf[BUF_GMU], s->buf[BUF_GMU1], s->cand + (size_t)w * D, s->buf[BUF_MU],
                                      s->buf[BUF_MU_REF], s->cand + (size_t)l * D, s->buf[BUF_MU],
                                      s->buf[BUF_MU_REF], D, 1, p);
                if (e)
                    return e;
                for (q = 0; q < D; q++) /* both candidates share the parent mean */
                    s->buf[BUF_GMU][q] += s->buf[BUF_GMU1][q];
                st->loss += res.loss;
                st->terms++;
                st->lr_winner += res.lr_w;
                st->lr_loser += res.lr_l;
                if ((e = dpo_grad_mu_to_out_f32(s->buf[BUF_GEPS], s->buf[BUF_GMU], D, &co)) != DPO_OK ||
                    (e = backprop(slot, c, s, 0, s->buf[BUF_GEPS])) != DPO_OK)
                    return e;
            }
            switch (cf->resampler) {
            case DPO_RESAMPLE_WINNER: next = w; break;
            case DPO_RESAMPLE_LOSER: next = l; break;
            case DPO_RESAMPLE_NONE:
                next = K;
                noise(s->buf[BUF_Z], c, DPO_STREAM_STEP, g, (uint32_t)j, (uint32_t)K, D);
                sample_from(s->cand + (size_t)K * D, s->buf[BUF_MU], s->buf[BUF_Z], D, &co);
                break;
            default: {
                uint32_t idx;
                if ((e = dpo_spo_resample_index(&idx, c->seed, g, (uint32_t)j, (uint32_t)K)) != DPO_OK)
                    return e;
                next = (int)idx;
            }
            }
            memcpy(x, s->cand + (size_t)next * D, D * sizeof(float));
            continue;
        }
        /* TailorPO / RDPO: two candidates */
        if (M == DPO_METHOD_RDPO || M == DPO_METHOD_RDPO_FIXED) {
            double dq[2];
            int order[2];
            if ((e = reward_at(&r_before, 0, c, s->buf[BUF_X0], cls)) != DPO_OK ||
                (e = dpo_rdpo_delta_q(dq, r, r_before, 2, DPO_DQ_GAIN)) != DPO_OK ||
                (e = dpo_rank_desc(order, dq, 2)) != DPO_OK)
                return e;
            w = order[0];
            l = order[1];
            if (dq[0] == dq[1])
                w = -1;
        } else {
            int order[2];
            if ((e = dpo_rank_desc(order, r, 2)) != DPO_OK)
                return e;
            w = order[0];
            l = order[1];
            if (r[0] == r[1])
                w = -1;
        }
        if (w < 0) { /* a tie carries no preference: continue with candidate 0 */
            memcpy(x, s->cand, D * sizeof(float));
            continue;
        }
        if (M == DPO_METHOD_TAILORPO_G) {
            /* guidance on the winner: raise its step-wise reward */
            dpo_guide_params gp;
            double rw, alpha, eta_t;
            float *xw = s->cand + (size_t)w * D;
            if ((e = stepwise_reward(&rw, s->buf[BUF_EPS1], s->buf[BUF_G], c, s, 3, xw, j, cls, &alpha)) != DPO_OK)
                return e;
            if ((e = dpo_tailorpo_g_eta(&eta_t, (double)c->ts[j], (double)(c->sched->num_train_steps - 1),
                                        cf->guide_eta_min, cf->guide_eta_max)) != DPO_OK)
                return e;
            gp.eta = eta_t;
            gp.delta = cf->guide_delta;
            gp.alpha = alpha;
            gp.sign = 1;
            gp.jac = cf->guide_jac;
            if (j + 1 >= c->T)
                gp.jac = DPO_GUIDE_NO_EPS; /* x0_hat = x: no model in the chain */
            if (gp.jac == DPO_GUIDE_VJP) {
                /* J_eps^T g through the network's input VJP (forward kept in mw[3]) */
                memset(s->buf[BUF_VJP], 0, D * sizeof(float));
                if ((e = dpo_mlp_backward(s->buf[BUF_VJP], 0, 0, s->buf[BUF_G], s->mw[3], s->mw_size, c->m, c->base,
                                          c->lora, 1)) != DPO_OK)
                    return e;
            }
            if ((e = dpo_tailorpo_g_update_f32(xw, xw, s->buf[BUF_G], gp.jac == DPO_GUIDE_VJP ? s->buf[BUF_VJP] : 0,
                                               D, gp)) != DPO_OK)
                return e;
        }
        {
            dpo_pair_result res;
            const float *xw = s->cand + (size_t)w * D, *xl = s->cand + (size_t)l * D;
            if (M == DPO_METHOD_RDPO || M == DPO_METHOD_RDPO_FIXED) {
                dpo_rdpo_params p;
                memset(&p, 0, sizeof p);
                p.beta = cf->beta;
                p.lambda = cf->lambda;
                p.sigma = (double)co.sigma;
                p.mode = cf->lp_mode;
                p.variant = M == DPO_METHOD_RDPO ? DPO_RDPO_PRINTED : DPO_RDPO_INTENDED;
                e = dpo_rdpo_f32(&res, s->buf[BUF_GMU], xw, xl, s->buf[BUF_MU], s->buf[BUF_MU_REF], D, p);
            } else {
                dpo_dpo_params p;
                p.beta = cf->beta;
                p.sigma = (double)co.sigma;
                p.mode = cf->lp_mode;
                e = dpo_tailorpo_f32(&res, s->buf[BUF_GMU], xw, xl, s->buf[BUF_MU], s->buf[BUF_MU_REF], D, p);
            }
            if (e)
                return e;
            st->loss += res.loss;
            st->terms++;
            st->lr_winner += res.lr_w;
            st->lr_loser += res.lr_l;
            if ((e = dpo_grad_mu_to_out_f32(s->buf[BUF_GEPS], s->buf[BUF_GMU], D, &co)) != DPO_OK ||
                (e = backprop(slot, c, s, 0, s->buf[BUF_GEPS])) != DPO_OK)
                return e;
            memcpy(x, xw, D * sizeof(float)); /* the winner continues */
        }
    }
    return reward_at(&st->reward, 0, c, x, cls);
}

/* Diffusion-DPO and DSPO on the offline pairs. */
static dpo_status iter_eps(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, float *slot, dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    size_t p = (size_t)g % tr->n_pairs, i;
    const float *xw = tr->pairs + p * 2 * D, *xl = xw + D;
    int32_t cls = tr->pair_cls[p];
    uint32_t ctr[4], key[2], wds[4];
    int t;
    float sa, sb, *eps = s->buf[BUF_Z];
    dpo_pair_result res;
    dpo_status e;
    dpo_philox_coords(ctr, key, c->seed, DPO_STREAM_TIMESTEP, g, 0, 0, 0);
    dpo_philox4x32_10(wds, ctr, key);
    t = (int)dpo_uniform_index(wds[0], (uint32_t)c->sched->num_train_steps);
    noise(eps, c, DPO_STREAM_TRAIN, g, 0, 0, D);
    sa = DPO_SQRTF(c->sched->ac32[t]);
    sb = DPO_SQRTF(1.0f - c->sched->ac32[t]);
    for (i = 0; i < D; i++) { /* shared t and noise for winner and loser */
        s->buf[BUF_XT][i] = sa * xw[i] + sb * eps[i];
        s->buf[BUF_XT1][i] = sa * xl[i] + sb * eps[i];
    }
    if ((e = eps_at(s->buf[BUF_EPS], s->mw[0], s->mw_size, c, c->lora, s->buf[BUF_XT], t, cls)) != DPO_OK ||
        (e = eps_at(s->buf[BUF_EPS1], s->mw[1], s->mw_size, c, c->lora, s->buf[BUF_XT1], t, cls)) != DPO_OK ||
        (e = eps_at(s->buf[BUF_EPS_REF], s->mw[2], s->mw_size, c, 0, s->buf[BUF_XT], t, cls)) != DPO_OK ||
        (e = eps_at(s->buf[BUF_EPS_REF1], s->mw[2], s->mw_size, c, 0, s->buf[BUF_XT1], t, cls)) != DPO_OK)
        return e;
    if (tr->cfg.method == DPO_METHOD_DIFFDPO) {
        dpo_eps_params pp;
        pp.beta = tr->cfg.beta;
        pp.mode = tr->cfg.lp_mode;
        e = dpo_diffdpo_f32(&res, s->buf[BUF_GEPS], s->buf[BUF_GEPS1], eps, eps, s->buf[BUF_EPS], s->buf[BUF_EPS_REF],
                            s->buf[BUF_EPS1], s->buf[BUF_EPS_REF1], D, pp);
    } else {
        dpo_dspo_params pp = dpo_dspo_params_code(tr->cfg.beta, 0);
        e = dpo_dspo_f32(&res, s->buf[BUF_GEPS], s->buf[BUF_GEPS1], eps, eps, s->buf[BUF_EPS], s->buf[BUF_EPS_REF],
                         s->buf[BUF_EPS1], s->buf[BUF_EPS_REF1], D, pp);
    }
    if (e)
        return e;
    st->loss = res.loss;
    st->terms = 1;
    st->lr_winner = res.lr_w;
    st->lr_loser = res.lr_l;
    if ((e = backprop(slot, c, s, 0, s->buf[BUF_GEPS])) != DPO_OK ||
        (e = backprop(slot, c, s, 1, s->buf[BUF_GEPS1])) != DPO_OK)
        return e;
    return DPO_OK;
}

/* ------------------------------------------------------------ trainer API */
static dpo_status cfg_check(const dpo_train_cfg *cf, const dpo_mlp_cfg *m)
{
    if (!cf || !m)
        return DPO_ERR_NULL;
    if ((int)cf->method < 0 || (int)cf->method >= DPO_METHODS || (int)cf->reward < 0 ||
        (int)cf->reward >= DPO_REWARD_KINDS)
        return DPO_ERR_RANGE;
    if (cf->batch == 0 || cf->batch > 65536 || cf->num_steps < 1 || cf->num_steps > DPO_TRAIN_MAX_STEPS ||
        m->dim == 0 || m->lora_rank == 0)
        return DPO_ERR_SIZE;
    if (!(cf->eta > 0) || !(cf->beta > 0) || !(cf->lambda >= 0) || !(cf->clip_eps > 0 && cf->clip_eps < 1) ||
        cf->train_from < 0 || cf->train_from >= cf->num_steps || cf->train_every < 1 || cf->k < 2 ||
        cf->k > DPO_TRAIN_MAX_K || !(cf->spo_thr >= 0 && cf->spo_thr < 1) || !(cf->opt.lr > 0) ||
        !(cf->guide_eta_min > 0) || !(cf->guide_eta_max >= cf->guide_eta_min) || !(cf->guide_delta > 0))
        return DPO_ERR_RANGE;
    if (cf->user_reward) {
        if (!cf->user_reward->value)
            return DPO_ERR_NULL;
        if (cf->user_reward->dim != m->dim)
            return DPO_ERR_SIZE;
        if (cf->method == DPO_METHOD_TAILORPO_G && !cf->user_reward->grad)
            return DPO_ERR_UNSUPPORTED;
    }
    return DPO_OK;
}

size_t dpo_trainer_workspace_size(const dpo_train_cfg *cfg, const dpo_mlp_cfg *mcfg)
{
    if (cfg_check(cfg, mcfg))
        return 0;
    return cfg->batch * (ALIGN64(scratch_size(mcfg, cfg->num_steps)) + ALIGN64(dpo_mlp_num_lora(mcfg) * sizeof(float)));
}

dpo_status dpo_trainer_init(dpo_trainer *tr, const dpo_train_cfg *cfg, const dpo_mlp_cfg *mcfg,
                            const dpo_schedule *sched, const float *base, float *lora, float *m, float *v,
                            void *work, size_t work_size)
{
    dpo_trainer t;
    dpo_status st;
    if (!tr || !sched || !base || !lora || !m || !v || !work)
        return DPO_ERR_NULL;
    if ((st = cfg_check(cfg, mcfg)) != DPO_OK)
        return st;
    if (work_size < dpo_trainer_workspace_size(cfg, mcfg) || ((uintptr_t)work & 63))
        return DPO_ERR_WORKSPACE;
    if (mcfg->num_train_steps != sched->num_train_steps)
        return DPO_ERR_SIZE;
    memset(&t, 0, sizeof t);
    t.cfg = *cfg;
    t.mcfg = *mcfg;
    t.sched = sched;
    t.base = base;
    t.lora = lora;
    t.m = m;
    t.v = v;
    t.n_lora = dpo_mlp_num_lora(mcfg);
    if ((st = dpo_timesteps(t.timesteps, cfg->num_steps, sched->num_train_steps, DPO_SPACING_LEADING, 1)) != DPO_OK)
        return st;
    t.per_sample = ALIGN64(scratch_size(mcfg, cfg->num_steps));
    t.work = (unsigned char *)work;
    t.slots = (float *)(t.work + cfg->batch * t.per_sample);
    *tr = t;
    return DPO_OK;
}

dpo_status dpo_trainer_set_pairs(dpo_trainer *tr, const float *pairs, const int32_t *cls, size_t n)
{
    size_t i;
    if (!tr || !pairs || !cls)
        return DPO_ERR_NULL;
    if (n == 0)
        return DPO_ERR_SIZE;
    for (i = 0; i < n; i++)
        if (cls[i] < 0 || (size_t)cls[i] >= tr->mcfg.n_classes)
            return DPO_ERR_RANGE;
    tr->pairs = pairs;
    tr->pair_cls = cls;
    tr->n_pairs = n;
    return DPO_OK;
}

dpo_status dpo_trainer_sample(dpo_trainer *tr, uint64_t it, size_t b, dpo_train_stats *stats)
{
    scratch s;
    ctx c;
    dpo_train_stats st;
    float *slot;
    uint64_t g64;
    uint32_t g;
    int32_t cls;
    dpo_status e;
    size_t i;
    if (!tr || !tr->work)
        return DPO_ERR_NULL;
    if (b >= tr->cfg.batch)
        return DPO_ERR_RANGE;
    g64 = it * (uint64_t)tr->cfg.batch + b;
    if (g64 > 0xffffffffu)
        return DPO_ERR_RANGE;
    if ((tr->cfg.method == DPO_METHOD_DIFFDPO || tr->cfg.method == DPO_METHOD_DSPO) && !tr->pairs)
        return DPO_ERR_NULL;
    g = (uint32_t)g64;
    cls = (int32_t)(g % (uint32_t)tr->mcfg.n_classes);
    scratch_bind(&s, tr->work + b * tr->per_sample, &tr->mcfg, tr->cfg.num_steps);
    slot = tr->slots + b * tr->n_lora;
    memset(slot, 0, tr->n_lora * sizeof(float));
    memset(&st, 0, sizeof st);
    c.m = &tr->mcfg;
    c.base = tr->base;
    c.lora = tr->lora;
    c.sched = tr->sched;
    c.ts = tr->timesteps;
    c.T = tr->cfg.num_steps;
    c.eta = tr->cfg.eta;
    c.seed = tr->cfg.seed;
    c.reward = tr->cfg.reward;
    c.user = tr->cfg.user_reward;
    switch (tr->cfg.method) {
    case DPO_METHOD_D3PO: e = iter_d3po(tr, &c, &s, g, cls, slot, &st); break;
    case DPO_METHOD_DIFFDPO:
    case DPO_METHOD_DSPO: e = iter_eps(tr, &c, &s, g, slot, &st); break;
    default: e = iter_stepwise(tr, &c, &s, g, cls, slot, &st); break;
    }
    if (e)
        return e;
    if (st.terms > 1) { /* the prompt's objective: the mean over its trained terms */
        float inv = 1.0f / (float)st.terms;
        for (i = 0; i < tr->n_lora; i++)
            slot[i] *= inv;
        st.loss /= st.terms;
        st.lr_loser /= st.terms;
        st.lr_winner /= st.terms;
    }
    if (stats)
        *stats = st;
    return DPO_OK;
}

dpo_status dpo_trainer_apply(dpo_trainer *tr, uint64_t it)
{
    size_t i, b, B;
    float *grad;
    if (!tr || !tr->work)
        return DPO_ERR_NULL;
    B = tr->cfg.batch;
    grad = tr->slots; /* summed into slot 0, in ascending b, in double */
    for (i = 0; i < tr->n_lora; i++) {
        double acc = 0;
        for (b = 0; b < B; b++)
            acc += (double)tr->slots[b * tr->n_lora + i];
        grad[i] = (float)(acc / (double)B);
    }
    return dpo_adamw_step(tr->lora, tr->m, tr->v, grad, tr->n_lora, &tr->cfg.opt, it + 1);
}

dpo_status dpo_trainer_iteration(dpo_trainer *tr, uint64_t it, dpo_train_stats *stats)
{
    size_t b;
    dpo_status e;
    if (!tr)
        return DPO_ERR_NULL;
    for (b = 0; b < tr->cfg.batch; b++)
        if ((e = dpo_trainer_sample(tr, it, b, stats ? stats + b : 0)) != DPO_OK)
            return e;
    return dpo_trainer_apply(tr, it);
}

/* ------------------------------------------- offline pairs and evaluation */
size_t dpo_make_pairs_workspace_size(const dpo_mlp_cfg *mcfg)
{
    return mcfg ? ALIGN64(scratch_size(mcfg, DPO_TRAIN_MAX_STEPS)) : 0;
}

/* One rollout of base + lora from x_T (Philox sample g) with step noise
 * candidate `cand`; the final image into out. */
static dpo_status rollout_one(float *out, const ctx *c, scratch *s, uint32_t g, uint32_t cand, int32_t cls,
                              const float *x_T)
{
    const size_t D = c->m->dim;
    float *x = s->buf[BUF_X];
    int j;
    dpo_status e;
    memcpy(x, x_T, D * sizeof(float));
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK ||
            (e = eps_at(s->buf[BUF_EPS], s->mw[2], s->mw_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK)
            return e;
        step_mean(s->buf[BUF_MU], 0, x, s->buf[BUF_EPS], D, &co);
        noise(s->buf[BUF_Z], c, DPO_STREAM_STEP, g, (uint32_t)j, cand, D);
        sample_from(x, s->buf[BUF_MU], s->buf[BUF_Z], D, &co);
    }
    memcpy(out, x, D * sizeof(float));
    return DPO_OK;
}

/* user NULL: the built-in `reward`; else the caller's model (reward unused). */
static dpo_status ctx_make(ctx *c, int32_t *ts, const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                           const dpo_schedule *sched, dpo_reward_kind reward, const dpo_reward_model *user, int T,
                           double eta, uint64_t seed)
{
    dpo_status e;
    if (!mcfg || !base || !sched || (user && !user->value))
        return DPO_ERR_NULL;
    if (T < 1 || T > DPO_TRAIN_MAX_STEPS || !(eta >= 0) ||
        (!user && ((int)reward < 0 || (int)reward >= DPO_REWARD_KINDS)))
        return DPO_ERR_RANGE;
    if (user && user->dim != mcfg->dim)
        return DPO_ERR_SIZE;
    if ((e = dpo_timesteps(ts, T, sched->num_train_steps, DPO_SPACING_LEADING, 1)) != DPO_OK)
        return e;
    c->m = mcfg;
    c->base = base;
    c->lora = lora;
    c->sched = sched;
    c->ts = ts;
    c->T = T;
    c->eta = eta;
    c->seed = seed;
    c->reward = reward;
    c->user = user;
    return DPO_OK;
}

static dpo_status make_pairs(float *pairs, int32_t *cls, size_t n, uint64_t seed, const dpo_mlp_cfg *mcfg,
                             const float *base, const dpo_schedule *sched, dpo_reward_kind reward,
                             const dpo_reward_model *user, int num_steps, double eta, void *work, size_t work_size)
{
    ctx c;
    scratch s;
    int32_t ts[DPO_TRAIN_MAX_STEPS];
    size_t i, D;
    dpo_status e;
    if (!pairs || !cls || !work)
        return DPO_ERR_NULL;
    if ((e = ctx_make(&c, ts, mcfg, base, 0, sched, reward, user, num_steps, eta, seed)) != DPO_OK)
        return e;
    if (n == 0 || n > 0xffffffffu)
        return DPO_ERR_SIZE;
    if (work_size < dpo_make_pairs_workspace_size(mcfg) || ((uintptr_t)work & 63))
        return DPO_ERR_WORKSPACE;
    D = mcfg->dim;
    scratch_bind(&s, (unsigned char *)work, mcfg, DPO_TRAIN_MAX_STEPS);
    for (i = 0; i < n; i++) {
        int32_t cl = (int32_t)(i % mcfg->n_classes);
        double r0, r1;
        float *p = pairs + i * 2 * D;
        noise(s.buf[BUF_XT], &c, DPO_STREAM_INIT, (uint32_t)i, 0, 0, D);
        if ((e = rollout_one(p, &c, &s, (uint32_t)i, 0, cl, s.buf[BUF_XT])) != DPO_OK ||
            (e = rollout_one(p + D, &c, &s, (uint32_t)i, 1, cl, s.buf[BUF_XT])) != DPO_OK ||
            (e = reward_at(&r0, 0, &c, p, cl)) != DPO_OK || (e = reward_at(&r1, 0, &c, p + D, cl)) != DPO_OK)
            return e;
        if (r1 > r0) { /* winner first; equal rewards keep the order */
            memcpy(s.buf[BUF_X0], p, D * sizeof(float));
            memcpy(p, p + D, D * sizeof(float));
            memcpy(p + D, s.buf[BUF_X0], D * sizeof(float));
        }
        cls[i] = cl;
    }
    return DPO_OK;
}

dpo_status dpo_make_pairs(float *pairs, int32_t *cls, size_t n, uint64_t seed, const dpo_mlp_cfg *mcfg,
                          const float *base, const dpo_schedule *sched, dpo_reward_kind reward, int num_steps,
                          double eta, void *work, size_t work_size)
{
    return make_pairs(pairs, cls, n, seed, mcfg, base, sched, reward, 0, num_steps, eta, work, work_size);
}

dpo_status dpo_make_pairs_user(float *pairs, int32_t *cls, size_t n, uint64_t seed, const dpo_mlp_cfg *mcfg,
                               const float *base, const dpo_schedule *sched, const dpo_reward_model *reward,
                               int num_steps, double eta, void *work, size_t work_size)
{
    if (!reward)
        return DPO_ERR_NULL;
    return make_pairs(pairs, cls, n, seed, mcfg, base, sched, DPO_REWARD_AESTHETIC, reward, num_steps, eta, work,
                      work_size);
}

size_t dpo_eval_workspace_size(const dpo_mlp_cfg *mcfg)
{
    return dpo_make_pairs_workspace_size(mcfg);
}

static dpo_status eval_reward(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                              const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                              const dpo_schedule *sched, dpo_reward_kind reward, const dpo_reward_model *user,
                              int num_steps, double eta, void *work, size_t work_size)
{
    ctx c;
    scratch s;
    int32_t ts[DPO_TRAIN_MAX_STEPS];
    size_t k, j, D;
    double acc = 0;
    dpo_status e;
    if (!mean_reward || !work)
        return DPO_ERR_NULL;
    if ((e = ctx_make(&c, ts, mcfg, base, lora, sched, reward, user, num_steps, eta, seed)) != DPO_OK)
        return e;
    if (n_per_class == 0 || n_per_class * mcfg->n_classes > 0xffffffffu)
        return DPO_ERR_SIZE;
    if (work_size < dpo_eval_workspace_size(mcfg) || ((uintptr_t)work & 63))
        return DPO_ERR_WORKSPACE;
    D = mcfg->dim;
    scratch_bind(&s, (unsigned char *)work, mcfg, DPO_TRAIN_MAX_STEPS);
    for (k = 0; k < mcfg->n_classes; k++)
        for (j = 0; j < n_per_class; j++) {
            uint32_t g = (uint32_t)(k * n_per_class + j);
            int32_t cl = (int32_t)k;
            double r;
            float *img = s.buf[BUF_X0];
            noise(s.buf[BUF_XT], &c, DPO_STREAM_INIT, g, 0, 0, D);
            if ((e = rollout_one(img, &c, &s, g, 0, cl, s.buf[BUF_XT])) != DPO_OK ||
                (e = reward_at(&r, 0, &c, img, cl)) != DPO_OK)
                return e;
            acc += r;
            if (images)
                memcpy(images + (size_t)g * D, img, D * sizeof(float));
        }
    *mean_reward = acc / (double)(n_per_class * mcfg->n_classes);
    return DPO_OK;
}

dpo_status dpo_eval_reward(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                           const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                           const dpo_schedule *sched, dpo_reward_kind reward, int num_steps, double eta,
                           void *work, size_t work_size)
{
    return eval_reward(mean_reward, images, seed, n_per_class, mcfg, base, lora, sched, reward, 0, num_steps, eta,
                       work, work_size);
}

dpo_status dpo_eval_reward_user(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                                const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                                const dpo_schedule *sched, const dpo_reward_model *reward, int num_steps,
                                double eta, void *work, size_t work_size)
{
    if (!reward)
        return DPO_ERR_NULL;
    return eval_reward(mean_reward, images, seed, n_per_class, mcfg, base, lora, sched, DPO_REWARD_AESTHETIC,
                       reward, num_steps, eta, work, work_size);
}
