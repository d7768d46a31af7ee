/* diffpo experiments: the papers' claims measured on the built-in model,
 * written to docs/results.md (Markdown) with the command that regenerates
 * it.  Sections (docs/cli.md describes each measurement):
 *   1  TailorPO Fig. 2: how often the order of step-wise rewards
 *      r(x0_hat(x_t)) of a pair disagrees with the order of its final
 *      images, per step, in the D3PO setting (two trajectories) and in the
 *      TailorPO setting (two candidates from one x_t, each continued);
 *   2  TailorPO eq. 9 vs eq. 11: the mu-space direction of the D3PO
 *      gradient against x^w - x^l, and the same for TailorPO's pairs;
 *   3  RDPO Fig. 1 / 3b: the loser's log-ratio over training;
 *   4  SPO Table 3: the resampler strategies;
 *   5  the main align table.
 * Everything in the results file is a pure function of (code, seed,
 * --quick): byte-identical for any --threads.  Progress goes to stderr. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

/* The methods of docs/results.md section 5: every dpo_method (the NumPy
 * cross-check, tests/py_experiments_xcheck.py, covers sections 1-2). */
#define XP_METHODS DPO_METHODS

#define XT 20                  /* DDIM steps (TailorPO: T = 20) */
#define XK DPO_REWARD_KINDS    /* rewards measured in section 1 */
#define XSTREAM_BRANCH (DPO_STREAM_USER + 1u) /* TailorPO-setting branch noise */

/* Section 1's table has one column per built-in reward, in this order. */
typedef char xp_three_rewards[XK == 3 && DPO_REWARD_AESTHETIC == 0 && DPO_REWARD_COMPRESS == 1 &&
                                      DPO_REWARD_CLASSMATCH == 2
                                  ? 1
                                  : -1];

typedef struct xp_opts {
    const char *out_dir, *results;
    int quick, threads;
    uint64_t seed;
} xp_opts;

typedef struct xp_budget {
    int pretrain_iters;
    size_t pairs_d3po, pairs_tailor, pairs_param;
    int iters, batch, eval_pc, n_offline, every;
} xp_budget;

/* The base model and the sampler every measurement of sections 1-2 uses. */
typedef struct xp_env {
    dpo_mlp_cfg mc;
    const dpo_schedule *sched;
    const float *base;
    int32_t ts[XT];
    dpo_step_coef_f32 co[XT];
    uint64_t seed;
} xp_env;

/* -------------------------------------------------------------- options */
static int xp_usage(void)
{
    printf("usage: diffpo experiments [--out-dir DIR] [--results FILE] [--quick] [--seed N] [--threads T]\n"
           "Measures the papers' claims on the pretrained built-in model and writes them as Markdown to\n"
           "FILE (default docs/results.md): TailorPO Fig. 2 (step-wise vs final preference order),\n"
           "TailorPO eq. 9 vs eq. 11 (gradient directions), RDPO Fig. 1/3b (the loser's log-ratio over\n"
           "training), SPO Table 3 (resamplers) and the main table of every method.  DIR (default\n"
           "diffpo-out) holds the cached base model and DIR/rdpo_loser_ratio.svg.  --quick: small budgets\n"
           "(for tests).  Defaults: seed 1, 2 threads.  The results file is byte-identical for any --threads.\n");
    return 0;
}

static int xp_parse(xp_opts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof *o);
    o->out_dir = "diffpo-out";
    o->results = "docs/results.md";
    o->threads = 2;
    o->seed = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!strcmp(a, "--quick")) {
            o->quick = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return cli_fail("experiments", "unexpected argument '%s'", a);
        if (strcmp(a, "--out-dir") && strcmp(a, "--results") && strcmp(a, "--seed") && strcmp(a, "--threads"))
            return cli_fail("experiments", "unknown option '%s'", a);
        if (!v)
            return cli_fail("experiments", "option '%s' needs a value", a);
        i++;
        if (!strcmp(a, "--seed")) {
            if (cli_parse_u64(v, &o->seed))
                return cli_fail("experiments", "--seed: not an unsigned 64-bit integer: '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(v, 1, 64, &o->threads))
                return cli_fail("experiments", "--threads: need an integer in [1, 64], got '%s'", v);
        } else if (!strcmp(a, "--out-dir")) {
            if (!*v)
                return cli_fail("experiments", "--out-dir: empty path");
            o->out_dir = v;
        } else {
            if (!*v)
                return cli_fail("experiments", "--results: empty path");
            o->results = v;
        }
    }
    return 0;
}


/* ------------------------------------------------------------ primitives */
static dpo_noise_coord xp_coord(const xp_env *e, uint32_t stream, uint32_t g, uint32_t step, uint32_t cand)
{
    dpo_noise_coord nc;
    nc.seed = e->seed;
    nc.stream = stream;
    nc.sample = g;
    nc.step = step;
    nc.candidate = cand;
    return nc;
}

/* x_T of pair g (Philox INIT, sample g). */
static void xp_x_T(float *x, const xp_env *e, uint32_t g)
{
    dpo_normal_f32(x, xp_coord(e, DPO_STREAM_INIT, g, 0, 0), 0, e->mc.dim);
}

/* Step j of the base model from x: x_prev (= mu + sigma z, z the noise of
 * tensor nc, drawn by the core's step), x0_hat, mu. */
static dpo_status xp_step(float *x_prev, float *x0, float *mu, const xp_env *e, const float *x, int j, int32_t cls,
                          dpo_noise_coord nc, float *eps, void *work, size_t wsz)
{
    int32_t t = e->ts[j], c = cls;
    dpo_status st = dpo_mlp_forward(eps, &e->mc, e->base, 0, x, &t, &c, 1, work, wsz);
    if (st)
        return st;
    return dpo_step_philox_f32(x_prev, x0, mu, x, eps, nc, e->mc.dim, &e->co[j]);
}

static dpo_status xp_rewards(double r[XK], const float *x0, int32_t cls)
{
    int k;
    dpo_status st;
    for (k = 0; k < XK; k++)
        if ((st = dpo_reward_builtin_eval(&r[k], 0, (dpo_reward_kind)k, x0, 1, &cls)) != DPO_OK)
            return st;
    return DPO_OK;
}

static void xp_cos(double *cos_ab, double *nb_over_na, const float *a, const float *b, size_t n)
{
    double aa = 0, bb = 0, ab = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
        ab += (double)a[i] * b[i];
    }
    *cos_ab = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
    if (nb_over_na)
        *nb_over_na = aa > 0 ? sqrt(bb / aa) : 0.0;
}

/* ------------------------------------------------ section 1-2: D3PO pairs
 * Pair g: two trajectories of the base model from one x_T (Philox INIT,
 * sample g) with independent step noise (STEP, sample g, step j, candidate
 * 0 and 1), class g mod 4.  Recorded: r_k(x0_hat) of both states after
 * each step k = 1..T (x0_hat of the state after k steps comes from the
 * model's eps at the next timestep; after the last step the image itself),
 * and at every step j >= 1 (x_t^0 != x_t^1) the eq. 9 direction
 *   g = (x^0_{t-1} - mu(x^0_t)) - (x^1_{t-1} - mu(x^1_t))
 * against a = x^0_{t-1} - x^1_{t-1} and u = mu(x^1_t) - mu(x^0_t).  The
 * three cosines do not change when the roles of 0 and 1 swap (all three
 * vectors change sign), so they need no label. */
typedef struct d3po_rec {
    double r[2][XT + 1][XK];   /* [traj][k][reward], k = 1..T */
    double cos_ga[XT], cos_gu[XT], norm_ua[XT];
    double cos_p9[XT], cos_pa[XT]; /* LoRA-parameter space (first n_param pairs) */
} d3po_rec;

typedef struct d3po_ctx {
    const xp_env *e;
    d3po_rec *rec;
    const float *lora;  /* dpo_mlp_init_lora(seed): theta = base, nonzero LoRA gradients */
    size_t n_param;     /* pairs with the parameter-space measurement */
} d3po_ctx;

#define XALIGN64(n) (((n) + 63) & ~(size_t)63)

/* Worker scratch of d3po_pair: three network workspaces and four LoRA gradients. */
static size_t d3po_work_size(const dpo_mlp_cfg *mc)
{
    return 3 * XALIGN64(dpo_mlp_workspace_size(mc, 1)) + 4 * XALIGN64(dpo_mlp_num_lora(mc) * sizeof(float));
}

/* The LoRA-parameter gradients of step j of pair (x_t^0 -> x_{t-1}^0, x_t^1 -> x_{t-1}^1).
 * dmu/deps is one scalar per step, the same for both, so it cancels in the cosines:
 *   true  = J0^T d0 - J1^T d1   (eq. 8, d_q = x^q_{t-1} - mu(x^q_t), J_q = d eps/d theta at x_t^q)
 *   eq9   = J0^T (d0 - d1)      (eq. 9: J1 replaced by J0)
 *   eq11  = J0^T (x^0_{t-1} - x^1_{t-1}). */
static dpo_status d3po_param(double *c9, double *ca, const xp_env *e, const float *lora, const float *x0t,
                             const float *x1t, const float *d0, const float *d1, const float *a, int j, int32_t cls,
                             unsigned char *work)
{
    const size_t D = e->mc.dim, nl = dpo_mlp_num_lora(&e->mc), wsz = XALIGN64(dpo_mlp_workspace_size(&e->mc, 1));
    void *w0 = work + wsz, *w1 = work + 2 * wsz;
    float *gt = (float *)(work + 3 * wsz), *g1 = gt + XALIGN64(nl * sizeof(float)) / sizeof(float),
          *g9 = g1 + XALIGN64(nl * sizeof(float)) / sizeof(float), *ga = g9 + XALIGN64(nl * sizeof(float)) / sizeof(float);
    float out[DPO_IMG_DIM], dd[DPO_IMG_DIM];
    int32_t t = e->ts[j], c = cls;
    size_t q;
    dpo_status st;
    if ((st = dpo_mlp_forward(out, &e->mc, e->base, lora, x0t, &t, &c, 1, w0, wsz)) != DPO_OK ||
        (st = dpo_mlp_forward(out, &e->mc, e->base, lora, x1t, &t, &c, 1, w1, wsz)) != DPO_OK)
        return st;
    for (q = 0; q < D; q++)
        dd[q] = d0[q] - d1[q];
    memset(gt, 0, nl * sizeof(float));
    memset(g1, 0, nl * sizeof(float));
    memset(g9, 0, nl * sizeof(float));
    memset(ga, 0, nl * sizeof(float));
    if ((st = dpo_mlp_backward(0, 0, gt, d0, &e->mc, e->base, lora, 1, w0, wsz)) != DPO_OK ||
        (st = dpo_mlp_backward(0, 0, g1, d1, &e->mc, e->base, lora, 1, w1, wsz)) != DPO_OK ||
        (st = dpo_mlp_backward(0, 0, g9, dd, &e->mc, e->base, lora, 1, w0, wsz)) != DPO_OK ||
        (st = dpo_mlp_backward(0, 0, ga, a, &e->mc, e->base, lora, 1, w0, wsz)) != DPO_OK)
        return st;
    for (q = 0; q < nl; q++)
        gt[q] -= g1[q];
    xp_cos(c9, 0, gt, g9, nl);
    xp_cos(ca, 0, gt, ga, nl);
    return DPO_OK;
}

static dpo_status d3po_pair(void *vctx, size_t i, void *work, size_t wsz)
{
    d3po_ctx *c = (d3po_ctx *)vctx;
    const xp_env *e = c->e;
    const size_t D = e->mc.dim;
    d3po_rec *rec = c->rec + i;
    uint32_t g = (uint32_t)i;
    int32_t cls = (int32_t)(g % (uint32_t)e->mc.n_classes);
    float x[2][DPO_IMG_DIM], xn[2][DPO_IMG_DIM], mu[2][DPO_IMG_DIM], x0[DPO_IMG_DIM], eps[DPO_IMG_DIM], gv[DPO_IMG_DIM], av[DPO_IMG_DIM], uv[DPO_IMG_DIM];
    int j, q;
    size_t d;
    dpo_status st;
    xp_x_T(x[0], e, g);
    memcpy(x[1], x[0], sizeof x[0]);
    for (j = 0; j < XT; j++) {
        for (q = 0; q < 2; q++) {
            if ((st = xp_step(xn[q], x0, mu[q], e, x[q], j, cls,
                              xp_coord(e, DPO_STREAM_STEP, g, (uint32_t)j, (uint32_t)q), eps, work, wsz)) != DPO_OK)
                return st;
            if (j >= 1 && (st = xp_rewards(rec->r[q][j], x0, cls)) != DPO_OK) /* state after j steps */
                return st;
        }
        if (j >= 1) {
            for (d = 0; d < D; d++) {
                float dw = xn[0][d] - mu[0][d], dl = xn[1][d] - mu[1][d];
                gv[d] = dw - dl;
                av[d] = xn[0][d] - xn[1][d];
                uv[d] = mu[1][d] - mu[0][d];
            }
            if (i < c->n_param) {
                float d0[DPO_IMG_DIM], d1[DPO_IMG_DIM];
                for (d = 0; d < D; d++) {
                    d0[d] = xn[0][d] - mu[0][d];
                    d1[d] = xn[1][d] - mu[1][d];
                }
                if ((st = d3po_param(&rec->cos_p9[j], &rec->cos_pa[j], e, c->lora, x[0], x[1], d0, d1, av, j, cls,
                                     (unsigned char *)work)) != DPO_OK)
                    return st;
            }
            {
                double cau;
                xp_cos(&rec->cos_ga[j], 0, av, gv, D);
                xp_cos(&rec->cos_gu[j], 0, uv, gv, D);
                xp_cos(&cau, &rec->norm_ua[j], av, uv, D); /* |u| / |a| */
            }
        }
        memcpy(x, xn, sizeof x);
    }
    for (q = 0; q < 2; q++)
        if ((st = xp_rewards(rec->r[q][XT], x[q], cls)) != DPO_OK)
            return st;
    return DPO_OK;
}

/* ---------------------------------------------- section 1-2: TailorPO pairs
 * Pair g: a trunk trajectory of the base model (noise as trajectory 0
 * above).  At every step j the trunk's x_t branches: candidates q = 0, 1
 * are drawn from the same mu(x_t) with noise (stream USER+1, sample g,
 * step j, candidate 2j + q) and each is continued to an image with the
 * same stream at steps j' > j.  Recorded: r_k(x0_hat(candidate)) (eps at
 * the next timestep; the image itself when j = T - 1), the candidates'
 * final rewards, and cos((x^0 - mu) - (x^1 - mu), x^0 - x^1) in float
 * arithmetic (exactly eq. 11's direction when the arithmetic is exact). */
typedef struct tailor_rec {
    double rs[XT][2][XK];      /* step-wise reward of the candidates of branch j */
    double rf[XT][2][XK];      /* final reward of the continued candidates */
    double cos_min, cos_max;
} tailor_rec;

typedef struct tailor_ctx {
    const xp_env *e;
    tailor_rec *rec;
} tailor_ctx;

static dpo_status tailor_pair(void *vctx, size_t i, void *work, size_t wsz)
{
    tailor_ctx *c = (tailor_ctx *)vctx;
    const xp_env *e = c->e;
    const size_t D = e->mc.dim;
    tailor_rec *rec = c->rec + i;
    uint32_t g = (uint32_t)i;
    int32_t cls = (int32_t)(g % (uint32_t)e->mc.n_classes);
    float x[DPO_IMG_DIM], xn[DPO_IMG_DIM], mu[DPO_IMG_DIM], mu2[DPO_IMG_DIM], x0[DPO_IMG_DIM],
        eps[DPO_IMG_DIM], eps_t[DPO_IMG_DIM], cand[2][DPO_IMG_DIM], y[DPO_IMG_DIM], yn[DPO_IMG_DIM], gv[DPO_IMG_DIM], av[DPO_IMG_DIM];
    int j, jj, q;
    size_t d;
    dpo_status st;
    rec->cos_min = 2;
    rec->cos_max = -2;
    xp_x_T(x, e, g);
    for (j = 0; j < XT; j++) {
        double cs;
        if ((st = xp_step(xn, x0, mu, e, x, j, cls, xp_coord(e, DPO_STREAM_STEP, g, (uint32_t)j, 0), eps_t, work,
                          wsz)) != DPO_OK)
            return st;
        for (q = 0; q < 2; q++) {
            uint32_t cand_id = (uint32_t)(2 * j + q);
            /* same x_t and eps: the same mu, bit for bit */
            if ((st = dpo_step_philox_f32(cand[q], 0, mu2, x, eps_t, xp_coord(e, XSTREAM_BRANCH, g, (uint32_t)j, cand_id),
                                          D, &e->co[j])) != DPO_OK)
                return st;
            memcpy(y, cand[q], sizeof y);
            for (jj = j + 1; jj < XT; jj++) {
                if ((st = xp_step(yn, x0, mu2, e, y, jj, cls, xp_coord(e, XSTREAM_BRANCH, g, (uint32_t)jj, cand_id), eps,
                                  work, wsz)) != DPO_OK)
                    return st;
                if (jj == j + 1 && (st = xp_rewards(rec->rs[j][q], x0, cls)) != DPO_OK)
                    return st;
                memcpy(y, yn, sizeof y);
            }
            if ((st = xp_rewards(rec->rf[j][q], y, cls)) != DPO_OK)
                return st;
            if (j == XT - 1)
                memcpy(rec->rs[j][q], rec->rf[j][q], sizeof rec->rs[j][q]);
        }
        for (d = 0; d < D; d++) {
            float dw = cand[0][d] - mu[d], dl = cand[1][d] - mu[d];
            gv[d] = dw - dl;
            av[d] = cand[0][d] - cand[1][d];
        }
        xp_cos(&cs, 0, av, gv, D);
        if (cs < rec->cos_min)
            rec->cos_min = cs;
        if (cs > rec->cos_max)
            rec->cos_max = cs;
        memcpy(x, xn, sizeof x);
    }
    return DPO_OK;
}

/* sign(a - b) as -1, 0, 1 */
static int sgn(double a, double b)
{
    return a > b ? 1 : a < b ? -1 : 0;
}

/* ------------------------------------------------------- training runs */
typedef struct run_res {
    const char *label;
    double after, se, se_diff;
    uint64_t fingerprint;
    double *lr_loser, *reward;
    double *r_img; /* per-sample held-out rewards */
} run_res;

/* Mean and standard error of the paired differences a - b over n samples. */
static void paired_diff(double *mean, double *se, const double *a, const double *b, size_t n)
{
    size_t i;
    double d = 0, d2 = 0, m;
    for (i = 0; i < n; i++) {
        d += a[i] - b[i];
        d2 += (a[i] - b[i]) * (a[i] - b[i]);
    }
    m = d / (double)n;
    *mean = m;
    *se = n > 1 ? sqrt(fmax(0.0, (d2 - (double)n * m * m) / (double)(n - 1)) / (double)n) : 0.0;
}

/* Standard error of the mean reward over the evaluation images, and (base_r
 * given) the standard error of the mean paired difference from the base
 * model's rewards on the same seeds; r_out (may be NULL) gets the rewards. */
static dpo_status eval_se(double *se, double *se_diff, double *r_out, const double *base_r, const float *imgs,
                          size_t n_classes, size_t epc, dpo_reward_kind kind)
{
    size_t n = n_classes * epc, i;
    double s = 0, s2 = 0, d = 0, d2 = 0, mean, md;
    dpo_status st;
    for (i = 0; i < n; i++) {
        double r;
        int32_t cl = (int32_t)(i / epc);
        if ((st = dpo_reward_builtin_eval(&r, 0, kind, imgs + i * DPO_IMG_DIM, 1, &cl)) != DPO_OK)
            return st;
        if (r_out)
            r_out[i] = r;
        s += r;
        s2 += r * r;
        if (base_r) {
            d += r - base_r[i];
            d2 += (r - base_r[i]) * (r - base_r[i]);
        }
    }
    mean = s / (double)n;
    md = d / (double)n;
    *se = n > 1 ? sqrt(fmax(0.0, (s2 - (double)n * mean * mean) / (double)(n - 1)) / (double)n) : 0.0;
    if (se_diff)
        *se_diff = n > 1 && base_r ? sqrt(fmax(0.0, (d2 - (double)n * md * md) / (double)(n - 1)) / (double)n) : 0.0;
    return DPO_OK;
}

typedef struct xp_state {
    xp_opts o;
    xp_budget bu;
    dpo_mlp_cfg mc;
    const dpo_schedule *sched;
    const float *base;
    const float *pairs;
    const int32_t *pcls;
    float *imgs;
    double *base_r;
    uint64_t eval_seed;
} xp_state;

static int xp_train(run_res *rr, const xp_state *S, dpo_train_cfg cfg, const char *label)
{
    cli_train_spec sp;
    cli_train_out out;
    int rc;
    memset(&sp, 0, sizeof sp);
    memset(&out, 0, sizeof out);
    cfg.seed = S->o.seed;
    cfg.batch = (size_t)S->bu.batch;
    sp.cmd = "experiments";
    sp.label = label;
    sp.cfg = cfg;
    sp.mc = &S->mc;
    sp.sched = S->sched;
    sp.base = S->base;
    sp.pairs = S->pairs;
    sp.pair_cls = S->pcls;
    sp.n_pairs = (size_t)S->bu.n_offline;
    sp.iters = S->bu.iters;
    sp.threads = S->o.threads;
    sp.eval_seed = S->eval_seed;
    sp.eval_per_class = (size_t)S->bu.eval_pc;
    rr->label = label;
    rr->lr_loser = (double *)calloc((size_t)S->bu.iters, sizeof(double));
    rr->reward = (double *)calloc((size_t)S->bu.iters, sizeof(double));
    rr->r_img = (double *)calloc(S->mc.n_classes * (size_t)S->bu.eval_pc, sizeof(double));
    if (!rr->lr_loser || !rr->reward || !rr->r_img)
        return cli_fail("experiments", "out of memory");
    out.lr_loser_curve = rr->lr_loser;
    out.reward_curve = rr->reward;
    out.images = S->imgs;
    if ((rc = cli_train_run(&out, &sp)) != 0)
        return rc;
    rr->after = out.after;
    rr->fingerprint = out.fingerprint;
    if (eval_se(&rr->se, &rr->se_diff, rr->r_img, S->base_r, S->imgs, S->mc.n_classes, (size_t)S->bu.eval_pc, cfg.reward) !=
        DPO_OK)
        return cli_fail("experiments", "%s: evaluation failed", label);
    return 0;
}

static double window_mean(const double *v, int end, int w)
{
    int a = end - w + 1 < 0 ? 0 : end - w + 1, i;
    double s = 0;
    for (i = a; i <= end; i++)
        s += v[i];
    return s / (double)(end - a + 1);
}

static int write_lr_plot(const xp_state *S, run_res *const *runs, const double *scale, int n)
{
    char path[4096];
    dpo_plot_series s[8];
    dpo_plot_chart ch;
    double *xs, *ys;
    int i, it, iters = S->bu.iters, rc = 0;
    cli_out po;
    xs = (double *)malloc(sizeof(double) * (size_t)iters);
    ys = (double *)malloc(sizeof(double) * (size_t)iters * (size_t)n);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return -1;
    }
    for (it = 0; it < iters; it++)
        xs[it] = (double)(it + 1);
    for (i = 0; i < n; i++) {
        for (it = 0; it < iters; it++)
            ys[(size_t)i * (size_t)iters + (size_t)it] = scale[i] * window_mean(runs[i]->lr_loser, it, 10);
        s[i].name = runs[i]->label;
        s[i].x = xs;
        s[i].y = ys + (size_t)i * (size_t)iters;
        s[i].n = (size_t)iters;
    }
    ch.title = "loser log-ratio log pi_theta/pi_ref per trained step (sum over 64 elements), moving average of 10";
    ch.xlabel = "iteration";
    ch.ylabel = "log pi_theta/pi_ref of the loser";
    ch.width = 900;
    ch.height = 540;
    snprintf(path, sizeof path, "%s/rdpo_loser_ratio.svg", S->o.out_dir);
    if (cli_out_open(&po, path, 0, 0))
        rc = -1;
    else if (dpo_plot_svg(po.f, &ch, s, (size_t)n) != DPO_OK)
        cli_out_abort(&po, 1), rc = -1;
    else if (cli_out_commit(&po, 1, 0, 0))
        rc = -1;
    free(xs);
    free(ys);
    return rc;
}

/* ---------------------------------------------------------------- main */
static dpo_schedule xp_sched;
static const dpo_resampler rs_kind[4] = {DPO_RESAMPLE_NONE, DPO_RESAMPLE_WINNER, DPO_RESAMPLE_LOSER,
                                         DPO_RESAMPLE_RANDOM};
static const char *const rs_name[4] = {"none (a fresh candidate)", "winner", "loser", "random"};
static const char *const rs_label[4] = {"spo-none", "spo-winner", "spo-loser", "spo-random"};
static const double paper_aes[4] = {5.438, 3.963, 5.338, 5.887}; /* SPO Table 3, Aesthetics column */

/* Everything one run of the experiments computes, section by section. */
typedef struct xp_ctx {
    xp_opts o;
    xp_budget bu;
    xp_state S;
    xp_env E;
    char tmp[4096]; /* messages about the results file */
    float *base, *pairs, *imgs, *plora;
    int32_t *pcls;
    void *ework;
    d3po_rec *drec;
    tailor_rec *trec;
    /* sections 1-2, aggregated in pair order */
    double dis_d[XT + 1][XK], dis_t[XT + 1][XK], tl_cos_min, tl_cos_max;
    double m_ga[XT], m_gu[XT], m_ua[XT], min_ga[XT], max_ga[XT], m_p9[XT], m_pa[XT];
    size_t n_d[XK], n_t[XT + 1][XK];
    /* sections 3-5 */
    double base_reward, base_se;
    run_res main_r[DPO_METHODS], rdpo0, spo_r[3];
    run_res *spo_all[4];
} xp_ctx;

/* The budget of a run: --quick (for tests) or the default. */
static xp_budget xp_budget_of(int quick)
{
    xp_budget bu;
    if (quick) {
        bu.pretrain_iters = 1000;
        bu.pairs_d3po = 48;
        bu.pairs_tailor = 16;
        bu.pairs_param = 16;
        bu.iters = 6;
        bu.batch = 4;
        bu.eval_pc = 2;
        bu.n_offline = 16;
        bu.every = 2;
    } else {
        bu.pretrain_iters = DPO_PRETRAIN_ITERS;
        bu.pairs_d3po = 1024;
        bu.pairs_tailor = 256;
        bu.pairs_param = 256;
        bu.iters = 120;
        bu.batch = 8;
        bu.eval_pc = 32;
        bu.n_offline = 256;
        bu.every = 10;
    }
    return bu;
}

/* The output folder exists and the results file can be written (it is written at the end). */
static int xp_check_outputs(xp_ctx *X)
{
    if (mkdir(X->o.out_dir, 0777) != 0 && errno != EEXIST)
        return cli_fail("experiments", "cannot create output folder '%s': %s", X->o.out_dir, strerror(errno));
    /* the results file is written at the end; check now that it can be
     * (src/cli/outfile.c; X->tmp holds the message) */
    if (cli_out_check(X->o.results, X->tmp, sizeof X->tmp))
        return cli_fail("experiments", "--results %s", X->tmp);
    return 0;
}

/* The schedule, every buffer, the cached (or pretrained) base model and the trainers' initial LoRA. */
static int xp_load_base_model(xp_ctx *X)
{
    int rc;
    dpo_status st;
    if ((st = dpo_schedule_init(&xp_sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0)) != DPO_OK)
        return cli_fail("experiments", "schedule: %s", dpo_status_str(st));
    memset(&X->S, 0, sizeof X->S);
    memset(&X->E, 0, sizeof X->E);
    X->S.o = X->o;
    X->S.bu = X->bu;
    X->S.mc = dpo_mlp_cfg_default();
    X->S.sched = &xp_sched;
    X->S.eval_seed = X->o.seed ^ 0x5eed0f5eedULL; /* the held-out seed of diffpo align */
    X->base = (float *)cli_xaligned(dpo_mlp_num_base(&X->S.mc) * sizeof(float));
    X->imgs = (float *)cli_xaligned(X->S.mc.n_classes * (size_t)X->bu.eval_pc * DPO_IMG_DIM * sizeof(float));
    X->ework = cli_xaligned(dpo_eval_workspace_size(&X->S.mc));
    X->drec = (d3po_rec *)calloc(X->bu.pairs_d3po, sizeof *X->drec);
    X->trec = (tailor_rec *)calloc(X->bu.pairs_tailor, sizeof *X->trec);
    X->pairs = (float *)cli_xaligned((size_t)X->bu.n_offline * 2 * DPO_IMG_DIM * sizeof(float));
    X->pcls = (int32_t *)calloc((size_t)X->bu.n_offline, sizeof(int32_t));
    X->S.base_r = (double *)calloc(X->S.mc.n_classes * (size_t)X->bu.eval_pc, sizeof(double));
    X->plora = (float *)cli_xaligned(dpo_mlp_num_lora(&X->S.mc) * sizeof(float));
    if (!X->plora || !X->S.base_r || !X->base || !X->imgs || !X->ework || !X->drec || !X->trec || !X->pairs || !X->pcls) {
        return cli_fail("experiments", "out of memory");
    }
    if (X->S.mc.dim != DPO_IMG_DIM) {
        return cli_fail("experiments", "the built-in model's dimension is not %d", DPO_IMG_DIM);
    }
    if ((rc = cli_base_model(X->base, &X->S.mc, &xp_sched, X->bu.pretrain_iters, X->o.out_dir, "experiments", 0)) != 0)
        return rc;
    X->S.base = X->base;
    X->S.imgs = X->imgs;
    dpo_mlp_init_lora(X->plora, &X->S.mc, X->o.seed); /* the trainers' initial LoRA: theta = base */
    return 0;
}

/* Sections 1-2: the base model's sampler (timesteps and step coefficients). */
static int xp_sampler(xp_ctx *X)
{
    int j;
    dpo_status st;
    dpo_step_opts so = dpo_step_opts_default();
    X->E.mc = X->S.mc;
    X->E.sched = &xp_sched;
    X->E.base = X->base;
    X->E.seed = X->o.seed ^ 0xf162f162ULL;
    so.eta = 1.0;
    if ((st = dpo_timesteps(X->E.ts, XT, xp_sched.num_train_steps, DPO_SPACING_LEADING, 1)) != DPO_OK) {
        return cli_fail("experiments", "timesteps: %s", dpo_status_str(st));
    }
    for (j = 0; j < XT; j++)
        if ((st = dpo_step_coef_f32_init(&X->E.co[j], &xp_sched, X->E.ts[j], XT, &so)) != DPO_OK) {
            return cli_fail("experiments", "step coefficients: %s", dpo_status_str(st));
        }
    return 0;
}

/* Sections 1-2: every D3PO-setting and TailorPO-setting pair, in parallel. */
static int xp_measure_pairs(xp_ctx *X)
{
    dpo_status st;
    double t0;
    t0 = cli_wall_now();
    {
        d3po_ctx dc;
        tailor_ctx tc;
        dc.e = &X->E;
        dc.rec = X->drec;
        dc.lora = X->plora;
        dc.n_param = X->bu.pairs_param;
        tc.e = &X->E;
        tc.rec = X->trec;
        fprintf(stderr, "experiments: %zu D3PO-setting pairs ...", X->bu.pairs_d3po);
        if ((st = cli_parallel_for(d3po_pair, &dc, X->bu.pairs_d3po, X->o.threads, d3po_work_size(&X->S.mc))) !=
            DPO_OK) {
            return cli_fail("experiments", "D3PO pairs: %s", dpo_status_str(st));
        }
        fprintf(stderr, " %.1f s; %zu TailorPO-setting pairs (%d branches each) ...", cli_wall_now() - t0,
                X->bu.pairs_tailor, XT);
        if ((st = cli_parallel_for(tailor_pair, &tc, X->bu.pairs_tailor, X->o.threads, dpo_mlp_workspace_size(&X->S.mc, 1))) !=
            DPO_OK) {
            return cli_fail("experiments", "TailorPO pairs: %s", dpo_status_str(st));
        }
        fprintf(stderr, " %.1f s\n", cli_wall_now() - t0);
    }
    return 0;
}

/* Section 1: disagreement of step-wise and final order, aggregated in pair order. */
static void xp_aggregate_order(xp_ctx *X)
{
    size_t i;
    int j, k;
    memset(X->dis_d, 0, sizeof X->dis_d);
    memset(X->dis_t, 0, sizeof X->dis_t);
    memset(X->n_d, 0, sizeof X->n_d);
    memset(X->n_t, 0, sizeof X->n_t);
    for (k = 0; k < XK; k++)
        for (i = 0; i < X->bu.pairs_d3po; i++) {
            int fin = sgn(X->drec[i].r[0][XT][k], X->drec[i].r[1][XT][k]);
            if (!fin)
                continue; /* equal final rewards: no order to disagree with */
            X->n_d[k]++;
            for (j = 1; j <= XT; j++)
                if (sgn(X->drec[i].r[0][j][k], X->drec[i].r[1][j][k]) != fin)
                    X->dis_d[j][k] += 1;
        }
    for (k = 0; k < XK; k++)
        for (j = 1; j <= XT; j++)
            X->dis_d[j][k] = X->n_d[k] ? X->dis_d[j][k] / (double)X->n_d[k] : 0.0;
    /* TailorPO setting: branch j ranks states after j + 1 steps */
    for (k = 0; k < XK; k++)
        for (j = 0; j < XT; j++) {
            double cnt = 0;
            size_t nn = 0;
            for (i = 0; i < X->bu.pairs_tailor; i++) {
                int fin = sgn(X->trec[i].rf[j][0][k], X->trec[i].rf[j][1][k]);
                if (!fin)
                    continue;
                nn++;
                if (sgn(X->trec[i].rs[j][0][k], X->trec[i].rs[j][1][k]) != fin)
                    cnt += 1;
            }
            X->n_t[j + 1][k] = nn;
            X->dis_t[j + 1][k] = nn ? cnt / (double)nn : 0.0;
        }
}

/* Section 2: the direction cosines, aggregated in pair order. */
static void xp_aggregate_directions(xp_ctx *X)
{
    size_t i;
    int j;
    for (j = 1; j < XT; j++) {
        double a = 0, b = 0, c = 0;
        X->min_ga[j] = 2;
        X->max_ga[j] = -2;
        for (i = 0; i < X->bu.pairs_d3po; i++) {
            a += X->drec[i].cos_ga[j];
            b += X->drec[i].cos_gu[j];
            c += X->drec[i].norm_ua[j];
            if (X->drec[i].cos_ga[j] < X->min_ga[j])
                X->min_ga[j] = X->drec[i].cos_ga[j];
            if (X->drec[i].cos_ga[j] > X->max_ga[j])
                X->max_ga[j] = X->drec[i].cos_ga[j];
        }
        {
            double p9 = 0, pa = 0;
            size_t np = X->bu.pairs_param < X->bu.pairs_d3po ? X->bu.pairs_param : X->bu.pairs_d3po;
            for (i = 0; i < np; i++) {
                p9 += X->drec[i].cos_p9[j];
                pa += X->drec[i].cos_pa[j];
            }
            X->m_p9[j] = np ? p9 / (double)np : 0.0;
            X->m_pa[j] = np ? pa / (double)np : 0.0;
        }
        X->m_ga[j] = a / (double)X->bu.pairs_d3po;
        X->m_gu[j] = b / (double)X->bu.pairs_d3po;
        X->m_ua[j] = c / (double)X->bu.pairs_d3po;
    }
    for (i = 0; i < X->bu.pairs_tailor; i++) {
        if (X->trec[i].cos_min < X->tl_cos_min)
            X->tl_cos_min = X->trec[i].cos_min;
        if (X->trec[i].cos_max > X->tl_cos_max)
            X->tl_cos_max = X->trec[i].cos_max;
    }
}

/* The base model's held-out reward and the offline pairs of Diffusion-DPO and DSPO. */
static int xp_base_eval_and_pairs(xp_ctx *X)
{
    dpo_status st;
    st = dpo_eval_model_reward(&X->base_reward, X->imgs, X->S.eval_seed, (size_t)X->bu.eval_pc, &X->S.mc, X->base, 0,
                               &xp_sched,
                         DPO_REWARD_AESTHETIC, XT, 1.0, X->ework, dpo_eval_workspace_size(&X->S.mc));
    if (st || (st = eval_se(&X->base_se, 0, X->S.base_r, 0, X->imgs, X->S.mc.n_classes, (size_t)X->bu.eval_pc,
                                      DPO_REWARD_AESTHETIC)) != DPO_OK) {
        return cli_fail("experiments", "evaluation: %s", dpo_status_str(st));
    }
    {
        size_t pw = dpo_make_pairs_workspace_size(&X->S.mc);
        void *pwk = cli_xaligned(pw);
        if (!pwk) {
            return cli_fail("experiments", "out of memory");
        }
        st = dpo_make_pairs(X->pairs, X->pcls, (size_t)X->bu.n_offline, X->o.seed ^ 0xba5eba11ULL, &X->S.mc, X->base, &xp_sched,
                            DPO_REWARD_AESTHETIC, XT, 1.0, pwk, pw);
        free(pwk);
        if (st) {
            return cli_fail("experiments", "offline pairs: %s", dpo_status_str(st));
        }
    }
    X->S.pairs = X->pairs;
    X->S.pcls = X->pcls;
    return 0;
}

/* Sections 3-5: every method at its defaults, RDPO without Psi, the SPO resamplers; the plot. */
static int xp_train_runs(xp_ctx *X)
{
    int rc;
    int q, mi;
    for (mi = 0; mi < XP_METHODS; mi++)
        if ((rc = xp_train(&X->main_r[mi], &X->S, dpo_train_cfg_default((dpo_method)mi), dpo_method_name((dpo_method)mi))) !=
            0)
            return rc;
    /* ---- section 3: RDPO without Psi */
    {
        dpo_train_cfg c0 = dpo_train_cfg_default(DPO_METHOD_RDPO);
        c0.lambda = 0;
        if ((rc = xp_train(&X->rdpo0, &X->S, c0, "rdpo-lambda0")) != 0)
            return rc;
    }
    /* ---- section 4: SPO resamplers (random is the main run) */
    for (q = 0; q < 3; q++) {
        dpo_train_cfg cs = dpo_train_cfg_default(DPO_METHOD_SPO);
        cs.resampler = rs_kind[q];
        if ((rc = xp_train(&X->spo_r[q], &X->S, cs, rs_label[q])) != 0)
            return rc;
        X->spo_all[q] = &X->spo_r[q];
    }
    X->spo_all[3] = &X->main_r[DPO_METHOD_SPO];
    {
        run_res *pl[5];
        double sc[5] = {64.0, 1, 1, 1, 1};
        pl[0] = &X->main_r[DPO_METHOD_D3PO];
        pl[1] = &X->main_r[DPO_METHOD_TAILORPO];
        pl[2] = &X->main_r[DPO_METHOD_RDPO];
        pl[3] = &X->main_r[DPO_METHOD_RDPO_FIXED];
        pl[4] = &X->rdpo0;
        if (write_lr_plot(&X->S, pl, sc, 5) != 0)
            fprintf(stderr, "experiments: warning: could not write %s/rdpo_loser_ratio.svg\n", X->o.out_dir);
    }
    return 0;
}

/* The title, the regenerating command and the setup. */
static void xp_write_setup(FILE *f, const xp_ctx *X, const char *cmdline)
{
    fprintf(f, "# Results: the papers' claims measured on the built-in model\n\n");
    fprintf(f, "Generated by `%s` (`make` first). Every number in this file is a pure\n"
               "function of the code, the seed and the budget: the file is byte-identical for any\n"
               "`--threads`"
               " (tests/cli_experiments.sh checks it), so rerunning the command reproduces it\n"
               "exactly.\n"
               "Plot of section 3: `rdpo_loser_ratio.svg` in the `--out-dir` folder (default `diffpo-out/`).\n\n",
            cmdline);
    fprintf(f, "## Setup\n\n");
    fprintf(f, "- Model: the built-in ε-network (docs/model.md), pretrained %d iterations of batch %d (seed %u),\n"
               "  frozen as the reference; LoRA rank %zu on every linear layer is trained.\n",
            X->bu.pretrain_iters, DPO_PRETRAIN_BATCH, CLI_PRETRAIN_SEED, X->S.mc.lora_rank);
    fprintf(f, "- Sampler: SD-1.5 schedule (scaled_linear 0.00085–0.012, 1000 steps), T = %d DDIM steps\n"
               "  (timesteps %d, %d, …, %d), η = 1, float32, Philox noise (docs/reproducibility.md).\n",
            XT, (int)X->E.ts[0], (int)X->E.ts[1], (int)X->E.ts[XT - 1]);
    fprintf(f, "- Training (sections 3–5): %d iterations of %d prompts, aesthetic reward, each method's\n"
               "  defaults (`dpo_train_cfg_default`, docs/trainers.md), seed %llu. Evaluation: mean aesthetic\n"
               "  reward of %d held-out samples (%d per class, the held-out seed of `diffpo align`) ± its\n"
               "  standard error; every model is evaluated on the same seeds, so each change from the base\n"
               "  model is given ± the standard error of the paired per-sample differences.\n\n",
            X->bu.iters, X->bu.batch, (unsigned long long)X->o.seed, (int)X->S.mc.n_classes * X->bu.eval_pc, X->bu.eval_pc);
}

/* Section 1: TailorPO Fig. 2. */
static void xp_write_section1(FILE *f, const xp_ctx *X)
{
    double d_mid = 0, t_mid = 0;
    int nmid = 0;
    int j, k;
    /* section 1 */
    fprintf(f, "## 1. TailorPO Fig. 2: step-wise reward order vs final image order\n\n");
    fprintf(f, "TailorPO (Fig. 2, eq. 12) ranks intermediate samples by the step-wise reward\n"
               "r(x̂0(x_t)) and reports that this order is not always the order of the final images.\n"
               "Measured here: the fraction of pairs whose step-wise order disagrees with the order of\n"
               "their final images' rewards (a tie in the step-wise reward counts as a disagreement;\n"
               "pairs with equal final rewards are left out), for each of the three built-in rewards.\n\n"
               "- **D3PO setting** (%zu pairs): two trajectories of the base model from one x_T with\n"
               "  independent step noise. Row k compares the two states after k steps; x̂0 uses the\n"
               "  model's ε at the next timestep (the row label t), and row k = %d is the images\n"
               "  themselves, so its disagreement is 0 by definition (a check).\n"
               "- **TailorPO setting** (%zu pairs): one base trajectory; at step k − 1 two candidates are\n"
               "  drawn from the same x_t, ranked by r(x̂0(candidate)) after that step, and each is\n"
               "  continued to its own image with fresh noise. Row k compares those two candidates.\n\n",
            X->bu.pairs_d3po, XT, X->bu.pairs_tailor);
    fprintf(f, "| k | t | D3PO: aesthetic | compress | classmatch | TailorPO: aesthetic | compress | classmatch |\n");
    fprintf(f, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (j = 1; j <= XT; j++) {
        fprintf(f, "| %d | ", j);
        if (j < XT)
            fprintf(f, "%d |", (int)X->E.ts[j]);
        else
            fprintf(f, "image |");
        for (k = 0; k < XK; k++)
            fprintf(f, " %.3f |", X->dis_d[j][k]);
        for (k = 0; k < XK; k++)
            fprintf(f, " %.3f |", X->dis_t[j][k]);
        fprintf(f, "\n");
    }
    fprintf(f, "\nPairs counted (final rewards not equal): D3PO setting %zu / %zu / %zu (aesthetic / compress /\n"
               "classmatch); TailorPO setting, row 1: %zu / %zu / %zu.\n\n",
            X->n_d[0], X->n_d[1], X->n_d[2], X->n_t[1][0], X->n_t[1][1], X->n_t[1][2]);
    for (j = 1; j < XT; j++)
        if (X->E.ts[j] >= 300 && X->E.ts[j] <= 700) {
            d_mid += X->dis_d[j][0];
            t_mid += X->dis_t[j][0];
            nmid++;
        }
    if (nmid) {
        d_mid /= nmid;
        t_mid /= nmid;
    }
    fprintf(f, "What the small model shows: with the aesthetic reward the step-wise order disagrees with\n"
               "the final order in %.1f%% of D3PO-setting pairs after the first step (t = %d), %.1f%% on\n"
               "average over 300 ≤ t ≤ 700, and %.1f%% at t = %d, one step before the image; in the\n"
               "TailorPO setting the figures are %.1f%%, %.1f%% and %.1f%%. TailorPO's claim that the\n"
               "orders disagree at intermediate steps %s here; the disagreement %s as t falls.\n",
            100 * X->dis_d[1][0], (int)X->E.ts[1], 100 * d_mid, 100 * X->dis_d[XT - 1][0], (int)X->E.ts[XT - 1],
            100 * X->dis_t[1][0], 100 * t_mid, 100 * X->dis_t[XT - 1][0],
            X->dis_d[1][0] > 0 ? "holds" : "does not hold",
            X->dis_d[XT - 1][0] < X->dis_d[1][0] ? "shrinks" : "does not shrink");
    fprintf(f, "In the TailorPO setting the disagreement is %s than in the D3PO setting (%.1f%% vs %.1f%%\n"
               "over 300 ≤ t ≤ 700; %.1f%% vs %.1f%% at t = %d). Two candidates from one x_t differ only by\n"
               "one step's noise, while the rest of each continuation adds independent noise, so the order\n"
               "of their two images is itself a noisy label: these columns measure how well one continuation's\n"
               "image orders TailorPO's pairs, not an error of r(x̂0) against E[r(x0) | x_t] (eq. 12),\n"
               "which would need many continuations per candidate.\n\n",
            t_mid > d_mid ? "higher" : "not higher", 100 * t_mid, 100 * d_mid, 100 * X->dis_t[XT - 1][0],
            100 * X->dis_d[XT - 1][0], (int)X->E.ts[XT - 1]);

}

/* Section 2: TailorPO eq. 9 vs eq. 11. */
static void xp_write_section2(FILE *f, const xp_ctx *X)
{
    double worst_ga = 2, best_gu = 0;
    int j;
    /* section 2 */
    fprintf(f, "## 2. TailorPO eq. 9 vs eq. 11: the direction of the gradient in μ-space\n\n");
    fprintf(f, "Eq. 8 gives the D3PO gradient as −(f/σ²)[(x^w_{t−1} − μ(x^w_t))ᵀ∇μ(x^w_t) − (x^l_{t−1} − μ(x^l_t))ᵀ∇μ(x^l_t)];\n"
               "eq. 9 assumes ∇μ(x^w_t) ≈ ∇μ(x^l_t) and so reads the μ-space direction\n"
               "g = (x^w_{t−1} − μ(x^w_t)) − (x^l_{t−1} − μ(x^l_t)) = (x^w_{t−1} − x^l_{t−1}) + (μ(x^l_t) − μ(x^w_t)).\n"
               "Eq. 11 (TailorPO, same x_t) has the direction x^w_{t−1} − x^l_{t−1}. Measured on the\n"
               "D3PO-setting pairs of section 1 at every step from distinct x_t (steps 1–%d; at step 0\n"
               "both share x_T), with the base model's μ (= μθ before training): cos(g, x^w − x^l),\n"
               "and the fraction of g's norm along u = μ(x^l) − μ(x^w), i.e. (g·u)/(‖g‖‖u‖) = cos(g, u);\n"
               "and ‖u‖/‖x^w − x^l‖. All three are unchanged when winner and loser swap (g, u and\n"
               "x^w − x^l all change sign), so they hold for any ranking. Means over %zu pairs.\n"
               "Note that x_{t−1} − μ(x_t) = σ_t z exactly in real arithmetic, so g = σ_t(z^w − z^l): the\n"
               "D3PO direction is the difference of the two step noises.\n\n",
            XT - 1, X->bu.pairs_d3po);
    fprintf(f, "| step | t | σ_t | mean cos(g, x^w − x^l) | min | max | mean cos(g, μ^l − μ^w) | mean ‖μ^l − μ^w‖/‖x^w − x^l‖ | LoRA: cos(eq. 8, eq. 9) | LoRA: cos(eq. 8, J_wᵀ(x^w − x^l)) |\n");
    fprintf(f, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (j = 1; j < XT; j++) {
        fprintf(f, "| %d | %d | %.4f | %.4f | %.4f | %.4f | %+.4f | %.4f | %.4f | %.4f |\n", j, (int)X->E.ts[j],
                (double)X->E.co[j].sigma, X->m_ga[j], X->min_ga[j], X->max_ga[j], X->m_gu[j], X->m_ua[j], X->m_p9[j], X->m_pa[j]);
        if (X->m_ga[j] < worst_ga)
            worst_ga = X->m_ga[j];
        if (fabs(X->m_gu[j]) > fabs(best_gu))
            best_gu = X->m_gu[j];
    }
    {
        double p9lo = 2, p9hi = -2, palo = 2, pahi = -2;
        for (j = 1; j < XT; j++) {
            p9lo = fmin(p9lo, X->m_p9[j]);
            p9hi = fmax(p9hi, X->m_p9[j]);
            palo = fmin(palo, X->m_pa[j]);
            pahi = fmax(pahi, X->m_pa[j]);
        }
        fprintf(f, "\nThe last two columns repeat the comparison in LoRA-parameter space, on the first %zu pairs,\n"
                   "through the network's vector-Jacobian product at θ = base with the trainers' initial LoRA\n"
                   "(B = 0, so only B's gradient is non-zero): eq. 8's direction J_wᵀ(x^w − μ(x^w)) −\n"
                   "J_lᵀ(x^l − μ(x^l)) (J = ∂ε/∂θ at each x_t; ∂μ/∂ε is one scalar per step and cancels)\n"
                   "against eq. 9's approximation J_wᵀ g (step means %.4f to %.4f) and against\n"
                   "J_wᵀ(x^w − x^l) (%.4f to %.4f).\n",
                X->bu.pairs_param < X->bu.pairs_d3po ? X->bu.pairs_param : X->bu.pairs_d3po, p9lo, p9hi, palo, pahi);
    }
    fprintf(f, "\nTailorPO pairs (the %zu × %d branches of section 1, same x_t): the same direction computed\n"
               "in float32 as (x^w − μ) − (x^l − μ) against x^w − x^l: cos in [%.9f, %.9f]\n"
               "(1 up to rounding: the check of eq. 11).\n\n",
            X->bu.pairs_tailor, XT, X->tl_cos_min, X->tl_cos_max);
    {
        double gu_lo = 1, gu_hi = -1, ua_lo = 1e300, ua_hi = 0;
        for (j = 1; j < XT; j++) {
            gu_lo = X->m_gu[j] < gu_lo ? X->m_gu[j] : gu_lo;
            gu_hi = X->m_gu[j] > gu_hi ? X->m_gu[j] : gu_hi;
            ua_lo = X->m_ua[j] < ua_lo ? X->m_ua[j] : ua_lo;
            ua_hi = X->m_ua[j] > ua_hi ? X->m_ua[j] : ua_hi;
        }
        fprintf(f, "What the small model shows: relative to eq. 11's direction x^w − x^l, the D3PO direction is\n"
                   "shifted by exactly u = μ(x^l) − μ(x^w) (g = (x^w − x^l) + u), and the shift is large: ‖u‖\n"
                   "is %.2f to %.2f of ‖x^w − x^l‖ (step means; %.2f at the first step, %.2f at the last).\n"
                   "So g is far from x^w − x^l:\n"
                   "its mean cosine with it is %.3f after the first step and falls to %.3f (lowest step mean).\n"
                   "This agrees with eq. 9's point that the separate inputs disturb the direction. It does not\n"
                   "agree with the reading that g then points towards the loser's mean: the step means of\n"
                   "cos(g, u) lie in [%+.4f, %+.4f]. Since g = σ_t(z^w − z^l) is the step noise, independent of\n"
                   "x_t^w and x_t^l, the added u only cancels the −u contained in x^w − x^l = −u + g.\n\n",
                ua_lo, ua_hi, X->m_ua[1], X->m_ua[XT - 1], X->m_ga[1], worst_ga, gu_lo, gu_hi);
        (void)best_gu;
    }

}

/* Section 3: RDPO Fig. 1 / 3b, the window table and the runs. */
static void xp_write_section3_table(FILE *f, const xp_ctx *X, const dpo_train_cfg *dr)
{
    int it;
    int q;
    /* section 3 */
    fprintf(f, "## 3. RDPO Fig. 1 / 3b: the loser's log-ratio over training\n\n");
    fprintf(f, "RDPO (Fig. 1) reports that under D3PO the loser's log πθ/πref keeps rising, and (Fig. 3b)\n"
               "that its penalty Ψ = min(0, log πref(x^l)/πθ(x^l)) (eq. 9) stops the rise. Measured: the\n"
               "mean over each iteration's prompts and trained steps of the loser's log πθ/πref of the\n"
               "sampled step (summed over the 64 elements; D3PO's mean-per-element value × 64), averaged\n"
               "over the last %d iterations. Runs: `d3po`; `tailorpo`; `rdpo` (eq. 9 as printed, λ = %g,\n"
               "β = %g); `rdpo-fixed` (the penalty with the sign the text describes, docs/derivations.md\n"
               "E4); `rdpo-lambda0` (rdpo with λ = 0: no Ψ, ranked by ΔQ).\n\n",
            X->bu.every, dr->lambda, dr->beta);
    fprintf(f, "| iterations | d3po | tailorpo | rdpo (printed) | rdpo-fixed | rdpo-lambda0 |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (it = X->bu.every - 1; it < X->bu.iters; it += X->bu.every) {
        fprintf(f, "| %d–%d | %+.4f | %+.4f | %+.4f | %+.4f | %+.4f |\n", it - X->bu.every + 2, it + 1,
                64.0 * window_mean(X->main_r[DPO_METHOD_D3PO].lr_loser, it, X->bu.every),
                window_mean(X->main_r[DPO_METHOD_TAILORPO].lr_loser, it, X->bu.every),
                window_mean(X->main_r[DPO_METHOD_RDPO].lr_loser, it, X->bu.every),
                window_mean(X->main_r[DPO_METHOD_RDPO_FIXED].lr_loser, it, X->bu.every),
                window_mean(X->rdpo0.lr_loser, it, X->bu.every));
    }
    fprintf(f, "\n| run | reward after | change vs base | LoRA fingerprint |\n| --- | ---: | ---: | --- |\n");
    {
        const run_res *rr[5];
        rr[0] = &X->main_r[DPO_METHOD_D3PO];
        rr[1] = &X->main_r[DPO_METHOD_TAILORPO];
        rr[2] = &X->main_r[DPO_METHOD_RDPO];
        rr[3] = &X->main_r[DPO_METHOD_RDPO_FIXED];
        rr[4] = &X->rdpo0;
        for (q = 0; q < 5; q++)
            fprintf(f, "| %s | %.4f ± %.4f | %+.4f ± %.4f | `%016llx` |\n", rr[q]->label, rr[q]->after,
                    rr[q]->se, rr[q]->after - X->base_reward, rr[q]->se_diff, (unsigned long long)rr[q]->fingerprint);
    }
}

/* Section 3: what the runs show about Psi. */
static void xp_write_section3_findings(FILE *f, const xp_ctx *X, const dpo_train_cfg *dr)
{
    int it, up_print, up_fixed;
    {
        int last = X->bu.iters - 1, w = X->bu.every;
        double lp = window_mean(X->main_r[DPO_METHOD_RDPO].lr_loser, last, w),
               lf = window_mean(X->main_r[DPO_METHOD_RDPO_FIXED].lr_loser, last, w),
               l0 = window_mean(X->rdpo0.lr_loser, last, w),
               ld = 64.0 * window_mean(X->main_r[DPO_METHOD_D3PO].lr_loser, last, w),
               ld0 = 64.0 * window_mean(X->main_r[DPO_METHOD_D3PO].lr_loser, w - 1, w);
        up_print = lp > l0;
        up_fixed = lf < l0;
        fprintf(f, "\nWhat the small model shows: over the last %d iterations the loser's log-ratio is\n"
                   "%+.4f with Ψ as printed, %+.4f with the consistent sign and %+.4f without Ψ. The printed\n"
                   "penalty %s the loser's log-ratio relative to no penalty, and the consistent one %s\n"
                   "it%s.\n"
                   "D3PO's loser log-ratio goes from %+.4f (first %d iterations) to %+.4f (last %d): RDPO\n"
                   "Fig. 1's rise under D3PO %s on this model at this budget.\n",
                w, lp, lf, l0, up_print ? "raises" : "does not raise", up_fixed ? "lowers" : "does not lower",
                up_print && up_fixed ? " (the sign erratum E4 of\ndocs/derivations.md, measured in training)" : "",
                ld0, w, ld, w, ld > ld0 ? "is reproduced" : "is not reproduced");
        {
            double mp = -1e300, mf = -1e300, m0 = -1e300, dp_m, dp_s, df_m, df_s;
            size_t ne = X->S.mc.n_classes * (size_t)X->bu.eval_pc;
            paired_diff(&dp_m, &dp_s, X->main_r[DPO_METHOD_RDPO].r_img, X->rdpo0.r_img, ne);
            paired_diff(&df_m, &df_s, X->main_r[DPO_METHOD_RDPO_FIXED].r_img, X->rdpo0.r_img, ne);
            int ip = 0, ifx = 0, i0 = 0;
            for (it = w - 1; it < X->bu.iters; it += w) {
                double a1 = window_mean(X->main_r[DPO_METHOD_RDPO].lr_loser, it, w),
                       a2 = window_mean(X->main_r[DPO_METHOD_RDPO_FIXED].lr_loser, it, w),
                       a3 = window_mean(X->rdpo0.lr_loser, it, w);
                if (a1 > mp) { mp = a1; ip = it + 1; }
                if (a2 > mf) { mf = a2; ifx = it + 1; }
                if (a3 > m0) { m0 = a3; i0 = it + 1; }
            }
            {
                int nw = 0, nb = 0, na = 0;
                double lf0 = window_mean(X->main_r[DPO_METHOD_RDPO_FIXED].lr_loser, w - 1, w);
                for (it = w - 1; it < X->bu.iters; it += w) {
                    double a1 = window_mean(X->main_r[DPO_METHOD_RDPO].lr_loser, it, w),
                           a2 = window_mean(X->main_r[DPO_METHOD_RDPO_FIXED].lr_loser, it, w),
                           a3 = window_mean(X->rdpo0.lr_loser, it, w);
                    nw++;
                    na += a1 > a3;
                    nb += a2 < a3;
                }
                fprintf(f, "Window by window, the printed Ψ is above no Ψ in %d of %d windows and the consistent Ψ\n"
                           "below it in %d of %d. Under the consistent Ψ the loser's log-ratio goes from %+.4f\n"
                           "(first window) to %+.4f (last): RDPO Fig. 3b's claim that Ψ stops the rise %s on this\n"
                           "model at λ = %g.\n",
                        na, nw, nb, nw, lf0, lf, lf > lf0 ? "does not hold" : "holds", dr->lambda);
            }
            fprintf(f, "The largest window means are %+.4f (printed, iterations ending %d), %+.4f (consistent,\n"
                       "ending %d) and %+.4f (no Ψ, ending %d). Reward after: printed %.4f, consistent %.4f,\n"
                       "no Ψ %.4f; paired differences from no Ψ: printed %+.4f ± %.4f, consistent %+.4f ± %.4f.\n"
                       "RDPO's claim that Ψ improves the reward (its Table 3) %s for the printed sign and %s\n"
                       "for the consistent sign here.\n",
                    mp, ip, mf, ifx, m0, i0, X->main_r[DPO_METHOD_RDPO].after, X->main_r[DPO_METHOD_RDPO_FIXED].after,
                    X->rdpo0.after, dp_m, dp_s, df_m, df_s,
                    X->main_r[DPO_METHOD_RDPO].after > X->rdpo0.after ? "holds" : "does not hold",
                    X->main_r[DPO_METHOD_RDPO_FIXED].after > X->rdpo0.after ? "holds" : "does not hold");
        }
        if (X->rdpo0.fingerprint == X->main_r[DPO_METHOD_TAILORPO].fingerprint)
            fprintf(f, "`rdpo-lambda0` ends with the same LoRA bits as `tailorpo` (fingerprints above): with a\n"
                       "shared x_t, ranking by ΔQ is ranking by r(x̂0(x_{t−1})) (docs/derivations.md E3), and\n"
                       "without Ψ the losses are the same.\n\n");
        else
            fprintf(f, "`rdpo-lambda0` and `tailorpo` end with different LoRA bits: %s.\n\n",
                    "ΔQ ranked a pair differently from r(x̂0(x_{t−1})) (a floating-point tie, docs/derivations.md "
                    "E3) or the losses differ in rounding");
    }

}

/* Section 4: SPO Table 3. */
static void xp_write_section4(FILE *f, const xp_ctx *X)
{
    const dpo_train_cfg ds = dpo_train_cfg_default(DPO_METHOD_SPO);
    int q;
    /* section 4 */
    fprintf(f, "## 4. SPO Table 3: step-wise resampler strategies\n\n");
    fprintf(f, "SPO (β = %g, k = %d, lr %g, trained from step %d) with each choice of the candidate that\n"
               "continues the trajectory. \"none\" continues with a fresh sample from the same x_t that was\n"
               "not among the scored candidates (the trajectory does not depend on the ranking). Reward on\n"
               "the held-out seeds; the paper's column is SPO Table 3's Aesthetics on SD-1.5 (its \"×\" row\n"
               "is no resampling: k independent trajectories).\n\n",
            ds.beta, ds.k, ds.opt.lr, ds.train_from);
    fprintf(f, "| resampler | reward after | change vs base | paper (Aesthetics) | LoRA fingerprint |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | --- |\n");
    for (q = 0; q < 4; q++)
        fprintf(f, "| %s | %.4f ± %.4f | %+.4f ± %.4f | %.3f | `%016llx` |\n", rs_name[q], X->spo_all[q]->after,
                X->spo_all[q]->se, X->spo_all[q]->after - X->base_reward, X->spo_all[q]->se_diff, paper_aes[q],
                (unsigned long long)X->spo_all[q]->fingerprint);
    {
        int order[4], a, b;
        double sd[3][2];
        for (a = 0; a < 3; a++)
            paired_diff(&sd[a][0], &sd[a][1], X->spo_all[3]->r_img, X->spo_all[a]->r_img,
                        X->S.mc.n_classes * (size_t)X->bu.eval_pc);
        for (a = 0; a < 4; a++)
            order[a] = a;
        for (a = 0; a < 4; a++)
            for (b = a + 1; b < 4; b++)
                if (X->spo_all[order[b]]->after > X->spo_all[order[a]]->after) {
                    int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        fprintf(f, "\nWhat the small model shows: ranked by reward after, %s > %s > %s > %s;\nthe paper "
                   "ranks random > none > loser > winner. The paper's best (random) %s the best here, and its\n"
                   "worst (winner) %s the worst here. Paired differences on the held-out samples:\n"
                   "random − none %+.4f ± %.4f, random − loser %+.4f ± %.4f, random − winner %+.4f ± %.4f.\n",
                rs_label[order[0]], rs_label[order[1]], rs_label[order[2]], rs_label[order[3]],
                order[0] == 3 ? "is also" : "is not", order[3] == 1 ? "is also" : "is not", sd[0][0], sd[0][1],
                sd[2][0], sd[2][1], sd[1][0], sd[1][1]);
        fprintf(f, "The order here %s the paper's. random − none is %s than twice its standard error, so\n"
                   "this evaluation %s those two. (The paper's column is in its own aesthetic\n"
                   "predictor's units; only the order is comparable.)\n\n",
                order[0] == 3 && order[1] == 0 && order[2] == 2 && order[3] == 1 ? "is exactly" : "is not",
                fabs(sd[0][0]) > 2 * sd[0][1] ? "larger" : "smaller",
                fabs(sd[0][0]) > 2 * sd[0][1] ? "separates them" : "does not separate");
    }

}

/* Section 5: every method (the main align table). */
static void xp_write_section5(FILE *f, const xp_ctx *X)
{
    double wsum;
    int mi;
    /* section 5 */
    fprintf(f, "## 5. Every method, default budget (the main align table)\n\n");
    fprintf(f, "The same runs as `build/diffpo align --eval-per-class %d%s` (which also prints wall\n"
               "times and writes the plots). Base model: %.4f ± %.4f.\n\n",
            X->bu.eval_pc, X->o.quick ? " --iters 6 --batch 4 --pairs 16 --pretrain-iters 1000" : "", X->base_reward,
            X->base_se);
    fprintf(f, "| method | reward before | reward after | change | LoRA fingerprint |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | --- |\n");
    wsum = 0;
    for (mi = 0; mi < XP_METHODS; mi++) {
        fprintf(f, "| %s | %.4f | %.4f ± %.4f | %+.4f ± %.4f | `%016llx` |\n", X->main_r[mi].label, X->base_reward,
                X->main_r[mi].after, X->main_r[mi].se, X->main_r[mi].after - X->base_reward, X->main_r[mi].se_diff,
                (unsigned long long)X->main_r[mi].fingerprint);
        wsum += X->main_r[mi].after > X->base_reward ? 1 : 0;
    }
    fprintf(f, "\nWhat the small model shows: %d of %d methods end above the base model's held-out reward.\n",
            (int)wsum, XP_METHODS);
    for (mi = 0; mi < XP_METHODS; mi++)
        if (X->main_r[mi].after <= X->base_reward)
            fprintf(f, "- `%s` does not raise the reward (%+.4f ± %.4f) at its defaults and this budget.\n",
                    X->main_r[mi].label, X->main_r[mi].after - X->base_reward, X->main_r[mi].se_diff);
    fprintf(f, "\n");
}

/* The results file, through a temporary file renamed at the end. */
static int xp_write_results(xp_ctx *X)
{
    const dpo_train_cfg dr = dpo_train_cfg_default(DPO_METHOD_RDPO);
    char cmdline[256];
    FILE *f;
    cli_out ro;
    snprintf(cmdline, sizeof cmdline, "build/diffpo experiments%s", X->o.quick ? " --quick" : "");
    if (X->o.seed != 1)
        snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), " --seed %llu",
                 (unsigned long long)X->o.seed);
    if (cli_out_open(&ro, X->o.results, X->tmp, sizeof X->tmp))
        return cli_fail("experiments", "--results %s", X->tmp);
    f = ro.f;
    xp_write_setup(f, X, cmdline);
    xp_write_section1(f, X);
    xp_write_section2(f, X);
    xp_write_section3_table(f, X, &dr);
    xp_write_section3_findings(f, X, &dr);
    xp_write_section4(f, X);
    xp_write_section5(f, X);
    if (cli_out_commit(&ro, 1, X->tmp, sizeof X->tmp))
        return cli_fail("experiments", "--results %s", X->tmp);
    fprintf(stderr, "experiments: wrote %s and %s/rdpo_loser_ratio.svg\n", X->o.results, X->o.out_dir);
    return 0;
}

static void run_res_free(run_res *r)
{
    free(r->lr_loser);
    free(r->reward);
    free(r->r_img);
}

static void xp_free(xp_ctx *X)
{
    int i;
    for (i = 0; i < XP_METHODS; i++)
        run_res_free(&X->main_r[i]);
    run_res_free(&X->rdpo0);
    for (i = 0; i < 3; i++)
        run_res_free(&X->spo_r[i]);
    free(X->base);
    free(X->imgs);
    free(X->ework);
    free(X->drec);
    free(X->trec);
    free(X->pairs);
    free(X->pcls);
    free(X->S.base_r);
    free(X->plora);
}

int cmd_experiments(int argc, char **argv)
{
    static xp_ctx X;
    int rc;
    memset(&X, 0, sizeof X);
    X.tl_cos_min = 2;
    X.tl_cos_max = -2;
    rc = xp_parse(&X.o, argc, argv);
    if (rc == 1)
        return xp_usage();
    if (rc)
        return rc;
    X.bu = xp_budget_of(X.o.quick);
    if ((rc = xp_check_outputs(&X)) == 0 && (rc = xp_load_base_model(&X)) == 0 && (rc = xp_sampler(&X)) == 0 &&
        (rc = xp_measure_pairs(&X)) == 0) {
        xp_aggregate_order(&X);
        xp_aggregate_directions(&X);
        if ((rc = xp_base_eval_and_pairs(&X)) == 0 && (rc = xp_train_runs(&X)) == 0)
            rc = xp_write_results(&X);
    }
    xp_free(&X);
    return rc;
}
