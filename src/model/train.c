/* Trainers: one preference-alignment iteration of every method on the
 * built-in network.  docs/trainers.md describes each method's iteration. */
#include <string.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_ddim.h"
#include "../core/dpo_philox.h"
#include "../internal.h"

static const char *const method_names[DPO_METHODS] = {"d3po",   "diffusion-dpo", "tailorpo", "tailorpo-g",
                                                      "rdpo",   "rdpo-fixed",    "spo",      "dspo",
                                                      "ddpo"};

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
    case DPO_METHOD_DDPO: /* public code: mean log-prob, clip range 1e-4 (beta unused) */
        c.lp_mode = DPO_LOGPROB_MEAN;
        c.clip_eps = 1e-4;
        c.beta = 1.0;
        break;
    }
    return c;
}

/* --------------------------------------------------------------- scratch */
#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

/* One prompt's scratch inside the trainer's workspace.  Every vector is dim
 * floats unless its comment says otherwise; each piece starts 64-byte
 * aligned.  "w" / "l" name the winner's and the loser's side of a pair (D3PO:
 * trajectory 0 and 1; Diffusion-DPO / DSPO: the noised winner and loser). */
typedef struct scratch {
    size_t net_size;   /* bytes of one network workspace: dpo_mlp_workspace_size(m, 1), aligned */
    void *net_w;       /* theta's forward on the w side, kept for its backward */
    void *net_l;       /* theta's forward on the l side, kept for its backward */
    void *net_tmp;     /* forwards not differentiated: the reference, rollouts, step-wise rewards */
    void *net_guide;   /* TailorPO-G: the forward inside the winner's step-wise reward, for its input VJP */
    /* the dim-float vectors (SCRATCH_VECS of them, bound in this order) */
    float *eps_w, *eps_ref_w, *mu_w, *mu_ref_w; /* model outputs and step means of the w side */
    float *x0;                  /* x0_hat of the current state (step-wise methods); swap space */
    float *g_mu_w, *g_eps_w;    /* the loss's gradient wrt mu_w, then wrt eps_w */
    float *g_reward;            /* TailorPO-G: grad r(x0_hat(x^w)) */
    float *vjp;                 /* TailorPO-G: J_eps^T g_reward */
    float *tmp;                 /* eps at the next timestep (step-wise reward); training noise */
    float *eps_l, *eps_ref_l, *mu_l, *mu_ref_l; /* the same for the l side */
    float *g_mu_l, *g_eps_l;
    float *x_t_w, *x_t_l;       /* the noised pair (Diffusion-DPO, DSPO); x_T of a rollout (x_t_w) */
    float *x;                   /* the state of the step-wise trajectory or the rollout */
    float *cand;      /* (DPO_TRAIN_MAX_K + 1) x dim: the candidates of one trained step (+ SPO's fresh one) */
    float *traj_w, *traj_l; /* (T + 1) x dim each: D3PO's two trajectories */
} scratch;

#define SCRATCH_NETS 4
#define SCRATCH_VECS 19

static size_t scratch_size(const dpo_mlp_cfg *m, int T)
{
    size_t d = m->dim * sizeof(float);
    return SCRATCH_NETS * ALIGN64(dpo_mlp_workspace_size(m, 1)) + SCRATCH_VECS * ALIGN64(d) +
           ALIGN64((DPO_TRAIN_MAX_K + 1) * d) + 2 * ALIGN64((size_t)(T + 1) * d);
}

static void scratch_bind(scratch *s, unsigned char *p, const dpo_mlp_cfg *m, int T)
{
    void **nets[SCRATCH_NETS];
    float **vecs[SCRATCH_VECS];
    size_t d = m->dim * sizeof(float);
    int i;
    nets[0] = &s->net_w;
    nets[1] = &s->net_l;
    nets[2] = &s->net_tmp;
    nets[3] = &s->net_guide;
    vecs[0] = &s->eps_w;
    vecs[1] = &s->eps_ref_w;
    vecs[2] = &s->mu_w;
    vecs[3] = &s->mu_ref_w;
    vecs[4] = &s->x0;
    vecs[5] = &s->g_mu_w;
    vecs[6] = &s->g_eps_w;
    vecs[7] = &s->g_reward;
    vecs[8] = &s->vjp;
    vecs[9] = &s->tmp;
    vecs[10] = &s->eps_l;
    vecs[11] = &s->eps_ref_l;
    vecs[12] = &s->mu_l;
    vecs[13] = &s->mu_ref_l;
    vecs[14] = &s->g_mu_l;
    vecs[15] = &s->g_eps_l;
    vecs[16] = &s->x_t_w;
    vecs[17] = &s->x_t_l;
    vecs[18] = &s->x;
    s->net_size = ALIGN64(dpo_mlp_workspace_size(m, 1));
    for (i = 0; i < SCRATCH_NETS; i++) {
        *nets[i] = p;
        p += s->net_size;
    }
    for (i = 0; i < SCRATCH_VECS; i++) {
        *vecs[i] = (float *)p;
        p += ALIGN64(d);
    }
    s->cand = (float *)p;
    p += ALIGN64((DPO_TRAIN_MAX_K + 1) * d);
    s->traj_w = (float *)p;
    p += ALIGN64((size_t)(T + 1) * d);
    s->traj_l = (float *)p;
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
    return dpo_reward_builtin_eval(r, g, c->reward, x0, 1, &cls);
}

static dpo_status eps_at(float *out, void *work, size_t wsz, const ctx *c, const float *lora, const float *x, int t,
                         int32_t cls)
{
    int32_t tt = t, cc = cls;
    return dpo_mlp_forward(out, c->m, c->base, lora, x, &tt, &cc, 1, work, wsz);
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

static dpo_noise_coord coord(const ctx *c, uint32_t stream, uint32_t g, uint32_t step, uint32_t cand)
{
    dpo_noise_coord nc;
    nc.seed = c->seed;
    nc.stream = stream;
    nc.sample = g;
    nc.step = step;
    nc.candidate = cand;
    return nc;
}

/* n standard normals of tensor (stream, g, step, cand): x_T, training noise. */
static void noise(float *z, const ctx *c, uint32_t stream, uint32_t g, uint32_t step, uint32_t cand, size_t n)
{
    dpo_normal_f32(z, coord(c, stream, g, step, cand), 0, n);
}

/* x_prev = mu(x, e) + sigma z with z the step noise of (sample g, step j,
 * candidate cand): the core's step with its noise drawn inside. */
static dpo_status sample_step(float *x_prev, const ctx *c, const float *x, const float *e, uint32_t g, int j,
                              uint32_t cand, const dpo_step_coef_f32 *co)
{
    return dpo_step_philox_f32(x_prev, 0, 0, x, e, coord(c, DPO_STREAM_STEP, g, (uint32_t)j, cand), c->m->dim, co);
}

/* Step-wise reward r(x0_hat(x)) of x = x_{t-1} after step j: x0_hat with the
 * model's eps at the next timestep (forward in `net`); after the last step
 * x itself. */
static dpo_status stepwise_reward(double *r, float *x0h, float *g, const ctx *c, const scratch *s, void *net,
                                  const float *x, int j, int32_t cls, double *alpha_next)
{
    dpo_status st;
    if (j + 1 >= c->T) {
        memcpy(x0h, x, c->m->dim * sizeof(float));
        if (alpha_next)
            *alpha_next = 1.0;
    } else {
        dpo_step_coef_f32 co;
        float *e = s->tmp;
        size_t i;
        if ((st = coef_at(&co, c, j + 1)) != DPO_OK)
            return st;
        if ((st = eps_at(e, net, s->net_size, c, c->lora, x, c->ts[j + 1], cls)) != DPO_OK)
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

/* Adds the gradient wrt eps_theta through theta's forward kept in `net`. */
static dpo_status backprop(float *slot, const ctx *c, const scratch *s, void *net, const float *g_eps)
{
    return dpo_mlp_backward(0, 0, slot, g_eps, c->m, c->base, c->lora, 1, net, s->net_size);
}

/* ------------------------------------------------------- the iterations */
typedef dpo_status (*iter_fn)(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                              dpo_train_stats *st);

static dpo_status iter_d3po(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                            dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    int j, i, label;
    double r0, r1;
    dpo_status e;
    float *tr2[2];
    tr2[0] = s->traj_w;
    tr2[1] = s->traj_l;
    /* two trajectories from one x_T, independent step noise (candidates 0, 1) */
    noise(s->traj_w, c, DPO_STREAM_INIT, g, 0, 0, D);
    memcpy(s->traj_l, s->traj_w, D * sizeof(float));
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK)
            return e;
        for (i = 0; i < 2; i++) {
            const float *x = tr2[i] + (size_t)j * D;
            if ((e = eps_at(s->eps_w, s->net_tmp, s->net_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK ||
                (e = sample_step(tr2[i] + (size_t)(j + 1) * D, c, x, s->eps_w, g, j, (uint32_t)i, &co)) != DPO_OK)
                return e;
        }
    }
    if ((e = reward_at(&r0, 0, c, s->traj_w + (size_t)c->T * D, cls)) != DPO_OK ||
        (e = reward_at(&r1, 0, c, s->traj_l + (size_t)c->T * D, cls)) != DPO_OK)
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
            float *eps = i ? s->eps_l : s->eps_w, *eref = i ? s->eps_ref_l : s->eps_ref_w;
            if ((e = eps_at(eps, i ? s->net_l : s->net_w, s->net_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK ||
                (e = eps_at(eref, s->net_tmp, s->net_size, c, 0, x, c->ts[j], cls)) != DPO_OK)
                return e;
            step_mean(i ? s->mu_l : s->mu_w, 0, x, eps, D, &co);
            step_mean(i ? s->mu_ref_l : s->mu_ref_w, 0, x, eref, D, &co);
        }
        p.beta = tr->cfg.beta;
        p.clip_eps = tr->cfg.clip_eps;
        p.sigma = (double)co.sigma;
        p.mode = tr->cfg.lp_mode;
        e = dpo_d3po_code_f32(&res, s->g_mu_w, s->g_mu_l, s->traj_w + (size_t)(j + 1) * D, s->mu_w, s->mu_ref_w,
                              s->traj_l + (size_t)(j + 1) * D, s->mu_l, s->mu_ref_l, D, label, p);
        if (e)
            return e;
        st->loss += res.loss;
        st->terms++;
        st->lr_winner += label >= 0 ? res.lr_w : res.lr_l;
        st->lr_loser += label >= 0 ? res.lr_l : res.lr_w;
        if (label == 0)
            continue; /* a tie: zero gradient, counted in the mean */
        for (i = 0; i < 2; i++) {
            float *geps = i ? s->g_eps_l : s->g_eps_w;
            if ((e = dpo_grad_mu_to_out_f32(geps, i ? s->g_mu_l : s->g_mu_w, D, &co)) != DPO_OK ||
                (e = backprop(slot, c, s, i ? s->net_l : s->net_w, geps)) != DPO_OK)
                return e;
        }
    }
    return DPO_OK;
}

/* ---------------------------------------------- the step-wise methods
 * TailorPO, TailorPO-G, RDPO (both), SPO: one trajectory; at a trained step
 * K candidates are drawn from the same x_t (mu_w, the model's mean; mu_ref_w,
 * the reference's), scored by the step-wise reward, a pair is selected,
 * optionally guided, its loss backpropagated through theta's forward at x_t
 * (net_w), and one candidate continues the trajectory.  Each method is one
 * row of stepwise_ops. */
typedef struct tstep {
    int j;          /* step index */
    uint32_t g;     /* global sample */
    int32_t cls;
    int K;          /* candidates scored */
    dpo_step_coef_f32 co;
    double r[DPO_TRAIN_MAX_K + 1]; /* step-wise rewards of the candidates */
    int w, l;       /* the pair's winner and loser candidates */
    int has_pair;   /* 0: no preference at this step (a tie, SPO's threshold): no loss */
} tstep;

typedef struct stepwise_ops {
    int use_k; /* candidates: cfg.k (SPO) or 2 */
    dpo_status (*select)(tstep *t, const ctx *c, const scratch *s, const dpo_train_cfg *cf);
    dpo_status (*guide)(const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf); /* may be NULL */
    dpo_status (*pair_loss)(dpo_pair_result *res, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf);
    dpo_status (*next)(float *x, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf);
} stepwise_ops;

static float *cand_at(const scratch *s, const ctx *c, int q)
{
    return s->cand + (size_t)q * c->m->dim;
}

/* Pair selection.  TailorPO: the higher step-wise reward wins (eq. 12). */
static dpo_status select_by_reward(tstep *t, const ctx *c, const scratch *s, const dpo_train_cfg *cf)
{
    int order[2];
    dpo_status e;
    (void)c, (void)s, (void)cf;
    if ((e = dpo_rank_desc(order, t->r, 2)) != DPO_OK)
        return e;
    t->w = order[0];
    t->l = order[1];
    t->has_pair = t->r[0] != t->r[1];
    return DPO_OK;
}

/* RDPO: the larger gain Delta Q over the reward of x_t's own x0_hat wins. */
static dpo_status select_by_gain(tstep *t, const ctx *c, const scratch *s, const dpo_train_cfg *cf)
{
    double dq[2], r_before;
    int order[2];
    dpo_status e;
    (void)cf;
    if ((e = reward_at(&r_before, 0, c, s->x0, t->cls)) != DPO_OK ||
        (e = dpo_rdpo_delta_q(dq, t->r, r_before, 2, DPO_DQ_GAIN)) != DPO_OK || (e = dpo_rank_desc(order, dq, 2)) != DPO_OK)
        return e;
    t->w = order[0];
    t->l = order[1];
    t->has_pair = dq[0] != dq[1];
    return DPO_OK;
}

/* SPO: best and worst of K, trained only past the threshold. */
static dpo_status select_spo(tstep *t, const ctx *c, const scratch *s, const dpo_train_cfg *cf)
{
    dpo_spo_params sp;
    (void)s;
    sp.thr = cf->spo_thr;
    sp.kappa = cf->kappa;
    return dpo_spo_select(&t->w, &t->l, &t->has_pair, t->r, (size_t)t->K, c->ts[t->j], sp);
}

/* Guidance (TailorPO-G): raise the winner's step-wise reward, in place. */
static dpo_status guide_winner(const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf)
{
    const size_t D = c->m->dim;
    dpo_guide_params gp;
    double rw, alpha, eta_t;
    float *xw = cand_at(s, c, t->w);
    dpo_status e;
    if ((e = stepwise_reward(&rw, s->eps_l, s->g_reward, c, s, s->net_guide, xw, t->j, t->cls, &alpha)) != DPO_OK)
        return e;
    if ((e = dpo_tailorpo_g_eta(&eta_t, (double)c->ts[t->j], (double)(c->sched->num_train_steps - 1),
                                cf->guide_eta_min, cf->guide_eta_max)) != DPO_OK)
        return e;
    gp.eta = eta_t;
    gp.delta = cf->guide_delta;
    gp.alpha = alpha;
    gp.sign = 1;
    gp.jac = cf->guide_jac;
    if (t->j + 1 >= c->T)
        gp.jac = DPO_GUIDE_NO_EPS; /* x0_hat = x: no model in the chain */
    if (gp.jac == DPO_GUIDE_VJP) {
        /* J_eps^T g through the network's input VJP (forward kept in net_guide) */
        memset(s->vjp, 0, D * sizeof(float));
        if ((e = dpo_mlp_backward(s->vjp, 0, 0, s->g_reward, c->m, c->base, c->lora, 1, s->net_guide, s->net_size)) !=
            DPO_OK)
            return e;
    }
    return dpo_tailorpo_g_update_f32(xw, xw, s->g_reward, gp.jac == DPO_GUIDE_VJP ? s->vjp : 0, D, gp);
}

/* Pair losses: each leaves the gradient wrt the mean mu_w of x_t in g_mu_w. */
static dpo_status loss_tailorpo(dpo_pair_result *res, const tstep *t, const ctx *c, scratch *s,
                                const dpo_train_cfg *cf)
{
    dpo_pair_params p;
    p.beta = cf->beta;
    p.sigma = (double)t->co.sigma;
    p.mode = cf->lp_mode;
    return dpo_tailorpo_f32(res, s->g_mu_w, cand_at(s, c, t->w), cand_at(s, c, t->l), s->mu_w, s->mu_ref_w, c->m->dim,
                            p);
}

static dpo_status loss_rdpo(dpo_pair_result *res, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf)
{
    dpo_rdpo_params p;
    memset(&p, 0, sizeof p);
    p.beta = cf->beta;
    p.lambda = cf->lambda;
    p.sigma = (double)t->co.sigma;
    p.mode = cf->lp_mode;
    p.variant = cf->method == DPO_METHOD_RDPO ? DPO_RDPO_PRINTED : DPO_RDPO_INTENDED;
    return dpo_rdpo_f32(res, s->g_mu_w, cand_at(s, c, t->w), cand_at(s, c, t->l), s->mu_w, s->mu_ref_w, c->m->dim, p);
}

/* SPO: D3PO's clipped loss on the two candidates; both share the parent
 * mean, so the two mean gradients add. */
static dpo_status loss_spo(dpo_pair_result *res, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf)
{
    const size_t D = c->m->dim;
    dpo_clip_params p;
    dpo_status e;
    size_t q;
    p.beta = cf->beta;
    p.clip_eps = cf->clip_eps;
    p.sigma = (double)t->co.sigma;
    p.mode = cf->lp_mode;
    e = dpo_d3po_code_f32(res, s->g_mu_w, s->g_mu_l, cand_at(s, c, t->w), s->mu_w, s->mu_ref_w, cand_at(s, c, t->l),
                          s->mu_w, s->mu_ref_w, D, 1, p);
    if (e)
        return e;
    for (q = 0; q < D; q++)
        s->g_mu_w[q] += s->g_mu_l[q];
    return DPO_OK;
}

/* Next state.  TailorPO / RDPO: the (guided) winner, candidate 0 without a pair. */
static dpo_status next_winner(float *x, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf)
{
    (void)cf;
    memcpy(x, cand_at(s, c, t->has_pair ? t->w : 0), c->m->dim * sizeof(float));
    return DPO_OK;
}

/* SPO: the resampler's candidate (none: a fresh one, candidate K). */
static dpo_status next_spo(float *x, const tstep *t, const ctx *c, scratch *s, const dpo_train_cfg *cf)
{
    int next;
    dpo_status e;
    switch (cf->resampler) {
    case DPO_RESAMPLE_WINNER: next = t->w; break;
    case DPO_RESAMPLE_LOSER: next = t->l; break;
    case DPO_RESAMPLE_NONE:
        next = t->K;
        if ((e = sample_step(cand_at(s, c, t->K), c, x, s->eps_w, t->g, t->j, (uint32_t)t->K, &t->co)) != DPO_OK)
            return e;
        break;
    default: {
        uint32_t idx;
        if ((e = dpo_spo_resample_index(&idx, c->seed, t->g, (uint32_t)t->j, (uint32_t)t->K)) != DPO_OK)
            return e;
        next = (int)idx;
    }
    }
    memcpy(x, cand_at(s, c, next), c->m->dim * sizeof(float));
    return DPO_OK;
}

static const stepwise_ops ops_tailorpo = {0, select_by_reward, 0, loss_tailorpo, next_winner};
static const stepwise_ops ops_tailorpo_g = {0, select_by_reward, guide_winner, loss_tailorpo, next_winner};
static const stepwise_ops ops_rdpo = {0, select_by_gain, 0, loss_rdpo, next_winner};
static const stepwise_ops ops_spo = {1, select_spo, 0, loss_spo, next_spo};

/* The model's step from x at step j: coefficients, eps (forward kept in
 * net_w), mean mu_w and x0_hat. */
static dpo_status model_step_mean(tstep *t, const ctx *c, scratch *s, const float *x)
{
    dpo_status e;
    if ((e = coef_at(&t->co, c, t->j)) != DPO_OK ||
        (e = eps_at(s->eps_w, s->net_w, s->net_size, c, c->lora, x, c->ts[t->j], t->cls)) != DPO_OK)
        return e;
    step_mean(s->mu_w, s->x0, x, s->eps_w, c->m->dim, &t->co);
    return DPO_OK;
}

static int trained_step(const dpo_train_cfg *cf, int j)
{
    return j >= cf->train_from && (j - cf->train_from) % cf->train_every == 0;
}

/* The reference's mean at x, then K candidates from x and their step-wise rewards. */
static dpo_status draw_candidates(tstep *t, const ctx *c, scratch *s, const float *x)
{
    int q;
    dpo_status e;
    if ((e = eps_at(s->eps_ref_w, s->net_tmp, s->net_size, c, 0, x, c->ts[t->j], t->cls)) != DPO_OK)
        return e;
    step_mean(s->mu_ref_w, 0, x, s->eps_ref_w, c->m->dim, &t->co);
    for (q = 0; q < t->K; q++)
        if ((e = sample_step(cand_at(s, c, q), c, x, s->eps_w, t->g, t->j, (uint32_t)q, &t->co)) != DPO_OK ||
            (e = stepwise_reward(&t->r[q], s->eps_l, 0, c, s, s->net_tmp, cand_at(s, c, q), t->j, t->cls, 0)) !=
                DPO_OK)
            return e;
    return DPO_OK;
}

/* The pair's loss into the statistics and its gradient into the slot
 * (through theta's forward at x_t). */
static dpo_status pair_backward(float *slot, dpo_train_stats *st, const dpo_pair_result *res, const tstep *t,
                                const ctx *c, scratch *s)
{
    dpo_status e;
    st->loss += res->loss;
    st->terms++;
    st->lr_winner += res->lr_w;
    st->lr_loser += res->lr_l;
    if ((e = dpo_grad_mu_to_out_f32(s->g_eps_w, s->g_mu_w, c->m->dim, &t->co)) != DPO_OK)
        return e;
    return backprop(slot, c, s, s->net_w, s->g_eps_w);
}

static const stepwise_ops *stepwise_ops_of(dpo_method m);

static dpo_status iter_stepwise(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                                dpo_train_stats *st)
{
    const dpo_train_cfg *cf = &tr->cfg;
    const stepwise_ops *ops = stepwise_ops_of(cf->method);
    float *x = s->x;
    tstep t;
    dpo_status e;
    memset(&t, 0, sizeof t);
    t.g = g;
    t.cls = cls;
    t.K = ops->use_k ? cf->k : 2;
    noise(x, c, DPO_STREAM_INIT, g, 0, 0, c->m->dim);
    for (t.j = 0; t.j < c->T; t.j++) {
        dpo_pair_result res;
        if ((e = model_step_mean(&t, c, s, x)) != DPO_OK)
            return e;
        if (!trained_step(cf, t.j)) {
            if ((e = sample_step(x, c, x, s->eps_w, g, t.j, 0, &t.co)) != DPO_OK)
                return e;
            continue;
        }
        if ((e = draw_candidates(&t, c, s, x)) != DPO_OK || (e = ops->select(&t, c, s, cf)) != DPO_OK)
            return e;
        if (t.has_pair) {
            if (ops->guide && (e = ops->guide(&t, c, s, cf)) != DPO_OK)
                return e;
            if ((e = ops->pair_loss(&res, &t, c, s, cf)) != DPO_OK ||
                (e = pair_backward(slot, st, &res, &t, c, s)) != DPO_OK)
                return e;
        }
        if ((e = ops->next(x, &t, c, s, cf)) != DPO_OK)
            return e;
    }
    return reward_at(&st->reward, 0, c, x, cls);
}

/* Diffusion-DPO and DSPO on the offline pairs. */
static dpo_status iter_eps(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls_unused, float *slot,
                           dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    size_t p = (size_t)g % tr->n_pairs, i;
    const float *xw = tr->pairs + p * 2 * D, *xl = xw + D;
    int32_t cls = tr->pair_cls[p];
    uint32_t ctr[4], key[2], wds[4];
    int t;
    float sa, sb, *eps = s->tmp;
    dpo_pair_result res;
    dpo_status e;
    (void)cls_unused; /* the pair's own class */
    dpo_philox_coords(ctr, key, c->seed, DPO_STREAM_TIMESTEP, g, 0, 0, 0);
    dpo_philox4x32_10(wds, ctr, key);
    t = (int)dpo_uniform_index(wds[0], (uint32_t)c->sched->num_train_steps);
    noise(eps, c, DPO_STREAM_TRAIN, g, 0, 0, D);
    sa = DPO_SQRTF(c->sched->ac32[t]);
    sb = DPO_SQRTF(1.0f - c->sched->ac32[t]);
    for (i = 0; i < D; i++) { /* shared t and noise for winner and loser */
        s->x_t_w[i] = sa * xw[i] + sb * eps[i];
        s->x_t_l[i] = sa * xl[i] + sb * eps[i];
    }
    if ((e = eps_at(s->eps_w, s->net_w, s->net_size, c, c->lora, s->x_t_w, t, cls)) != DPO_OK ||
        (e = eps_at(s->eps_l, s->net_l, s->net_size, c, c->lora, s->x_t_l, t, cls)) != DPO_OK ||
        (e = eps_at(s->eps_ref_w, s->net_tmp, s->net_size, c, 0, s->x_t_w, t, cls)) != DPO_OK ||
        (e = eps_at(s->eps_ref_l, s->net_tmp, s->net_size, c, 0, s->x_t_l, t, cls)) != DPO_OK)
        return e;
    if (tr->cfg.method == DPO_METHOD_DIFFDPO) {
        dpo_eps_params pp;
        pp.beta = tr->cfg.beta;
        pp.mode = tr->cfg.lp_mode;
        e = dpo_diffdpo_f32(&res, s->g_eps_w, s->g_eps_l, eps, eps, s->eps_w, s->eps_ref_w, s->eps_l, s->eps_ref_l, D,
                            pp);
    } else {
        dpo_dspo_params pp = dpo_dspo_params_code(tr->cfg.beta, 0);
        e = dpo_dspo_f32(&res, s->g_eps_w, s->g_eps_l, eps, eps, s->eps_w, s->eps_ref_w, s->eps_l, s->eps_ref_l, D, pp);
    }
    if (e)
        return e;
    st->loss = res.loss;
    st->terms = 1;
    st->lr_winner = res.lr_w;
    st->lr_loser = res.lr_l;
    if ((e = backprop(slot, c, s, s->net_w, s->g_eps_w)) != DPO_OK ||
        (e = backprop(slot, c, s, s->net_l, s->g_eps_l)) != DPO_OK)
        return e;
    return DPO_OK;
}

/* DDPO (Black et al.; ddpo-pytorch): two independent rollouts of the
 * prompt (x_T and step noise of candidates 0 and 1, the sampling budget of
 * D3PO), their final rewards normalised over the prompt's samples into
 * advantages (dpo_ddpo_advantages, std_eps 1e-6), then at every trained step
 * the clipped-ratio loss of each sample (dpo_ddpo_f32, advantages clamped to
 * +-5) backpropagated through theta's forward at x_t.  One gradient step per
 * batch of fresh samples: the sampling policy is theta itself, so mu_old =
 * mu and the ratio is 1 (ddpo-pytorch's first inner minibatch); no
 * reference model. */
#define DDPO_ADV_CLIP 5.0
#define DDPO_STD_EPS 1e-6

static dpo_status iter_ddpo(dpo_trainer *tr, const ctx *c, scratch *s, uint32_t g, int32_t cls, float *slot,
                            dpo_train_stats *st)
{
    const size_t D = c->m->dim;
    int j, i;
    double r[2], adv[2];
    uint32_t grp[2] = {0, 0};
    dpo_status e;
    float *tr2[2];
    tr2[0] = s->traj_w;
    tr2[1] = s->traj_l;
    for (i = 0; i < 2; i++)
        noise(tr2[i], c, DPO_STREAM_INIT, g, 0, (uint32_t)i, D);
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK)
            return e;
        for (i = 0; i < 2; i++) {
            const float *x = tr2[i] + (size_t)j * D;
            if ((e = eps_at(s->eps_w, s->net_tmp, s->net_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK ||
                (e = sample_step(tr2[i] + (size_t)(j + 1) * D, c, x, s->eps_w, g, j, (uint32_t)i, &co)) != DPO_OK)
                return e;
        }
    }
    for (i = 0; i < 2; i++)
        if ((e = reward_at(&r[i], 0, c, tr2[i] + (size_t)c->T * D, cls)) != DPO_OK)
            return e;
    st->reward = 0.5 * (r[0] + r[1]);
    if ((e = dpo_ddpo_advantages(adv, r, grp, 2, 0, DDPO_STD_EPS)) != DPO_OK)
        return e;
    for (j = tr->cfg.train_from; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK)
            return e;
        for (i = 0; i < 2; i++) {
            const float *x = tr2[i] + (size_t)j * D;
            void *net = i ? s->net_l : s->net_w;
            dpo_ddpo_params p;
            dpo_ddpo_result res;
            p.clip_eps = tr->cfg.clip_eps;
            p.adv_clip = DDPO_ADV_CLIP;
            p.sigma = (double)co.sigma;
            p.mode = tr->cfg.lp_mode;
            if ((e = eps_at(s->eps_w, net, s->net_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK)
                return e;
            step_mean(s->mu_w, 0, x, s->eps_w, D, &co);
            if ((e = dpo_ddpo_f32(&res, s->g_mu_w, tr2[i] + (size_t)(j + 1) * D, s->mu_w, s->mu_w, D, adv[i], p)) !=
                DPO_OK)
                return e;
            st->loss += res.loss;
            st->terms++;
            if (res.dl_dlr == 0)
                continue; /* equal rewards (advantage 0) or the clipped branch: no gradient */
            if ((e = dpo_grad_mu_to_out_f32(s->g_eps_w, s->g_mu_w, D, &co)) != DPO_OK ||
                (e = backprop(slot, c, s, net, s->g_eps_w)) != DPO_OK)
                return e;
        }
    }
    return DPO_OK;
}

/* ------------------------------------------------------ the method table
 * One row per method: its iteration and, for the step-wise ones, their
 * seams.  A new method is a new row (and its functions above). */
typedef struct method_impl {
    iter_fn iter;
    const stepwise_ops *stepwise;
} method_impl;

static const method_impl method_table[DPO_METHODS] = {
    [DPO_METHOD_D3PO] = {iter_d3po, 0},
    [DPO_METHOD_DIFFDPO] = {iter_eps, 0},
    [DPO_METHOD_TAILORPO] = {iter_stepwise, &ops_tailorpo},
    [DPO_METHOD_TAILORPO_G] = {iter_stepwise, &ops_tailorpo_g},
    [DPO_METHOD_RDPO] = {iter_stepwise, &ops_rdpo},
    [DPO_METHOD_RDPO_FIXED] = {iter_stepwise, &ops_rdpo},
    [DPO_METHOD_SPO] = {iter_stepwise, &ops_spo},
    [DPO_METHOD_DSPO] = {iter_eps, 0},
    [DPO_METHOD_DDPO] = {iter_ddpo, 0},
};

static const stepwise_ops *stepwise_ops_of(dpo_method m)
{
    return method_table[m].stepwise;
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
    if (!dpo_work_ok(work, work_size, dpo_trainer_workspace_size(cfg, mcfg)))
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
    if (!method_table[tr->cfg.method].iter) /* a method without its row in the table */
        return DPO_ERR_UNSUPPORTED;
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
    if ((e = method_table[tr->cfg.method].iter(tr, &c, &s, g, cls, slot, &st)) != DPO_OK)
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
    size_t i, B;
    float *grad;
    if (!tr || !tr->work)
        return DPO_ERR_NULL;
    B = tr->cfg.batch;
    grad = tr->slots; /* summed into slot 0: the splittable tree over prompts b, in double */
    for (i = 0; i < tr->n_lora; i++)
        grad[i] = (float)(dpo_split_sum1_f32(tr->slots + i, tr->n_lora, B) / (double)B);
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
    float *x = s->x;
    int j;
    dpo_status e;
    memcpy(x, x_T, D * sizeof(float));
    for (j = 0; j < c->T; j++) {
        dpo_step_coef_f32 co;
        if ((e = coef_at(&co, c, j)) != DPO_OK ||
            (e = eps_at(s->eps_w, s->net_tmp, s->net_size, c, c->lora, x, c->ts[j], cls)) != DPO_OK ||
            (e = sample_step(x, c, x, s->eps_w, g, j, cand, &co)) != DPO_OK)
            return e;
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
    if (!dpo_work_ok(work, work_size, dpo_make_pairs_workspace_size(mcfg)))
        return DPO_ERR_WORKSPACE;
    D = mcfg->dim;
    scratch_bind(&s, (unsigned char *)work, mcfg, DPO_TRAIN_MAX_STEPS);
    for (i = 0; i < n; i++) {
        int32_t cl = (int32_t)(i % mcfg->n_classes);
        double r0, r1;
        float *p = pairs + i * 2 * D;
        noise(s.x_t_w, &c, DPO_STREAM_INIT, (uint32_t)i, 0, 0, D);
        if ((e = rollout_one(p, &c, &s, (uint32_t)i, 0, cl, s.x_t_w)) != DPO_OK ||
            (e = rollout_one(p + D, &c, &s, (uint32_t)i, 1, cl, s.x_t_w)) != DPO_OK ||
            (e = reward_at(&r0, 0, &c, p, cl)) != DPO_OK || (e = reward_at(&r1, 0, &c, p + D, cl)) != DPO_OK)
            return e;
        if (r1 > r0) { /* winner first; equal rewards keep the order */
            memcpy(s.x0, p, D * sizeof(float));
            memcpy(p, p + D, D * sizeof(float));
            memcpy(p + D, s.x0, D * sizeof(float));
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
    if (!dpo_work_ok(work, work_size, dpo_eval_workspace_size(mcfg)))
        return DPO_ERR_WORKSPACE;
    D = mcfg->dim;
    scratch_bind(&s, (unsigned char *)work, mcfg, DPO_TRAIN_MAX_STEPS);
    for (k = 0; k < mcfg->n_classes; k++)
        for (j = 0; j < n_per_class; j++) {
            uint32_t g = (uint32_t)(k * n_per_class + j);
            int32_t cl = (int32_t)k;
            double r;
            float *img = s.x0;
            noise(s.x_t_w, &c, DPO_STREAM_INIT, g, 0, 0, D);
            if ((e = rollout_one(img, &c, &s, g, 0, cl, s.x_t_w)) != DPO_OK ||
                (e = reward_at(&r, 0, &c, img, cl)) != DPO_OK)
                return e;
            acc += r;
            if (images)
                memcpy(images + (size_t)g * D, img, D * sizeof(float));
        }
    *mean_reward = acc / (double)(n_per_class * mcfg->n_classes);
    return DPO_OK;
}

dpo_status dpo_eval_model_reward(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                           const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                           const dpo_schedule *sched, dpo_reward_kind reward, int num_steps, double eta,
                           void *work, size_t work_size)
{
    return eval_reward(mean_reward, images, seed, n_per_class, mcfg, base, lora, sched, reward, 0, num_steps, eta,
                       work, work_size);
}

dpo_status dpo_eval_model_reward_user(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                                const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                                const dpo_schedule *sched, const dpo_reward_model *reward, int num_steps,
                                double eta, void *work, size_t work_size)
{
    if (!reward)
        return DPO_ERR_NULL;
    return eval_reward(mean_reward, images, seed, n_per_class, mcfg, base, lora, sched, DPO_REWARD_AESTHETIC,
                       reward, num_steps, eta, work, work_size);
}
