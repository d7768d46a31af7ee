/* The vector evaluator behind `diffpo loss FILE.vec` and `diffpo verify
 * [DIR]` (tools layer; API in diffpo_tools.h).
 *
 * Evaluates the cases of golden-vector files with the library, exactly as
 * docs/vectors.md specifies: records (section 2), the splitmix64 `gen`
 * arrays (section 3), the function identifiers (section 5) and the
 * comparison rules and output formats (section 6).  The lexical layer and
 * the case structure are dpo_vec_parse's (src/tools/vecfile.c); everything
 * about the meaning of the records is checked here.  A malformed file gives
 * one line `file:line: message` on the error stream. */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo_tools.h"

enum { KW_FN, KW_REF, KW_PREC, KW_REDUCE, KW_PARAM, KW_IN, KW_GEN, KW_OUT, KW_ALT, KW_TOL };

typedef struct rec {
    int kw;
    const char *v;
    size_t vl;
    size_t line;
} rec;

#define NAMEMAX 64

typedef struct vctx {
    FILE *out, *errf;  /* results / messages (dpo_vecrun_io) */
    size_t max_gen;    /* elements of one gen array */
    const char *path;
    const char *buf;
    size_t len;
    int print;         /* diffpo loss, second pass: print the file back */
    size_t cp, cpline; /* print: bytes / lines of buf copied so far */
    const char *id;
    size_t idl, cline;
    rec *r;
    size_t nr, rcap;
    int passed, failed;
    int malformed;
    char **ids; /* case ids seen (verify: across files), with their place */
    size_t nids, idcap;
    char err[700];
} vctx;

/* ------------------------------------------------------------ tokens */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Next blank-separated token of [*s, e): returns its length, 0 at the end. */
static size_t tok(const char **s, const char *e, const char **t)
{
    const char *p = *s;
    size_t n = 0;
    while (p < e && is_blank(*p))
        p++;
    *t = p;
    while (p + n < e && !is_blank(p[n]))
        n++;
    *s = p + n;
    return n;
}

static int tok_is(const char *t, size_t n, const char *w)
{
    return n == strlen(w) && !memcmp(t, w, n);
}

/* A real: C99 hex float (optional sign, 0x...), finite, whole token. */
static int parse_real(const char *t, size_t n, double *v)
{
    char b[96];
    char *end;
    size_t o = 0;
    if (n == 0 || n >= sizeof b)
        return -1;
    if (t[0] == '-' || t[0] == '+')
        o = 1;
    if (n < o + 3 || t[o] != '0' || (t[o + 1] != 'x' && t[o + 1] != 'X'))
        return -1;
    memcpy(b, t, n);
    b[n] = '\0';
    errno = 0;
    *v = strtod(b, &end);
    if (*end != '\0' || !(*v - *v == 0))
        return -1;
    return 0;
}

/* A decimal integer, optionally signed, |v| < 2^64; *neg set for '-'. */
static int parse_dec(const char *t, size_t n, unsigned long long *mag, int *neg)
{
    size_t i = 0;
    unsigned long long m = 0;
    *neg = 0;
    if (n && (t[0] == '-' || t[0] == '+')) {
        *neg = t[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    for (; i < n; i++) {
        unsigned d;
        if (t[i] < '0' || t[i] > '9')
            return -1;
        d = (unsigned)(t[i] - '0');
        if (m > (~0ULL - d) / 10)
            return -1;
        m = m * 10 + d;
    }
    *mag = m;
    return 0;
}

static int parse_int(const char *t, size_t n, long long lo, long long hi, long long *v)
{
    unsigned long long m;
    int neg;
    if (parse_dec(t, n, &m, &neg) || m > 0x7fffffffffffffffULL)
        return -1;
    *v = neg ? -(long long)m : (long long)m;
    return *v < lo || *v > hi ? -1 : 0;
}

static int is_name(const char *t, size_t n)
{
    size_t i;
    if (n == 0 || n >= NAMEMAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* --------------------------------------------------------- case model */

typedef struct arr {
    char name[NAMEMAX];
    double *v;
    float *f;
    size_t n, line;
} arr;

typedef struct prm {
    char name[NAMEMAX];
    const char *t;
    size_t tl, line;
} prm;

typedef struct res {
    const char *name;
    double *v;
    size_t n;
    int isint;
} res;

enum { T_DEF, T_ULP, T_REL, T_ABS, T_EXACT };

typedef struct oexp {
    const rec *r;
    char full[2 * NAMEMAX];
    size_t fl;
    char name[NAMEMAX];
    size_t start, stop, step, n;
    double *e;
    int tk;
    double tx;
    size_t tol_line;
} oexp;

#define MAXA 16
#define MAXP 12
#define MAXR 16
#define MAXO 32
#define MAXT 128

struct fnspec;

typedef struct ev {
    vctx *x;
    const struct fnspec *fs;
    int f32;
    int reduce; /* -1 none */
    dpo_logprob_mode mode;
    arr a[MAXA];
    int na;
    size_t d;
    prm p[MAXP];
    int np;
    res o[MAXR];
    int no;
    void *tmp[MAXT];
    int nt;
    int oom;
} ev;

typedef dpo_status (*evalfn)(ev *e);

typedef struct fnspec {
    const char *id;
    int reduce;    /* 0: no reduce record; 1: sum|mean; 2: sum only; 3: mean only */
    int f64only;
    const char *params; /* "name:T ..." T = r real, s real binary32 on f32, i integer */
    const char *inputs; /* names, or "*" for any */
    const char *outputs; /* names, '#' suffix = integer */
    evalfn eval;
    int flag;
} fnspec;

static void *tmp_alloc(ev *e, size_t bytes)
{
    void *p;
    if (e->nt >= MAXT || !(p = calloc(1, bytes ? bytes : 1))) {
        e->oom = 1;
        return NULL;
    }
    e->tmp[e->nt++] = p;
    return p;
}

static const arr *IN(ev *e, const char *name)
{
    int i;
    for (i = 0; i < e->na; i++)
        if (!strcmp(e->a[i].name, name))
            return &e->a[i];
    return NULL;
}

static const double *IND(ev *e, const char *name)
{
    const arr *a = IN(e, name);
    return a ? a->v : NULL;
}

static const float *INF(ev *e, const char *name)
{
    const arr *a = IN(e, name);
    return a ? a->f : NULL;
}

static const prm *PRM(ev *e, const char *name)
{
    int i;
    for (i = 0; i < e->np; i++)
        if (!strcmp(e->p[i].name, name))
            return &e->p[i];
    return NULL;
}

/* Values already validated by load_params. */
static double P(ev *e, const char *name)
{
    const prm *p = PRM(e, name);
    double v = 0;
    if (p)
        (void)parse_real(p->t, p->tl, &v);
    return v;
}

static long long PI(ev *e, const char *name)
{
    const prm *p = PRM(e, name);
    long long v = 0;
    if (p)
        (void)parse_int(p->t, p->tl, -0x7fffffffffffffffLL, 0x7fffffffffffffffLL, &v);
    return v;
}

static double *OUT(ev *e, const char *name, size_t n, int isint)
{
    double *v;
    if (e->no >= MAXR) {
        e->oom = 1;
        return NULL;
    }
    v = (double *)tmp_alloc(e, n * sizeof(double));
    if (!v)
        return NULL;
    e->o[e->no].name = name;
    e->o[e->no].v = v;
    e->o[e->no].n = n;
    e->o[e->no].isint = isint;
    e->no++;
    return v;
}

static void SCAL(ev *e, const char *name, double v)
{
    double *p = OUT(e, name, 1, 0);
    if (p)
        p[0] = v;
}

static void ISCAL(ev *e, const char *name, long long v)
{
    double *p = OUT(e, name, 1, 1);
    if (p)
        p[0] = (double)v;
}

static float *FT(ev *e, size_t n)
{
    return (float *)tmp_alloc(e, n * sizeof(float));
}

static double *DT(ev *e, size_t n)
{
    return (double *)tmp_alloc(e, n * sizeof(double));
}

static void widen(double *d, const float *f, size_t n)
{
    size_t i;
    if (d && f)
        for (i = 0; i < n; i++)
            d[i] = (double)f[i];
}

/* ------------------------------------------------ evaluators (section 5) */

static dpo_status ev_gen(ev *e)
{
    const arr *a = IN(e, "v");
    double *o;
    if (!a)
        return DPO_ERR_NULL;
    o = OUT(e, "v", a->n, 0);
    if (!o)
        return DPO_ERR_SIZE;
    memcpy(o, a->v, a->n * sizeof(double));
    return DPO_OK;
}

static dpo_status ev_gauss(ev *e)
{
    double lp = 0;
    dpo_status st;
    if (e->f32) {
        dpo_step_coef_f32 c;
        memset(&c, 0, sizeof c); /* the log-density reads only c.sigma (diffpo.h) */
        c.sigma = (float)P(e, "sigma");
        st = dpo_step_logprob_f32(&lp, INF(e, "x"), INF(e, "mu"), 1, e->d, &c, e->mode);
    } else {
        dpo_step_coef_f64 c;
        memset(&c, 0, sizeof c);
        c.sigma = P(e, "sigma");
        st = dpo_step_logprob_f64(&lp, IND(e, "x"), IND(e, "mu"), 1, e->d, &c, e->mode);
    }
    if (st == DPO_OK)
        SCAL(e, "lp", lp);
    return st;
}

/* chain outputs (section 5.3) from the gradients wrt mu already stored. */
static dpo_status chain(ev *e, const char *const *gmu, const char *const *geps, const char *const *gv, int k,
                        const void *const *g32)
{
    double ke = 0, kv = 0;
    dpo_status st;
    int i;
    size_t n = e->d;
    if (e->f32) {
        dpo_step_coef_f32 ce, cv;
        float s = (float)P(e, "sigma"), at = (float)P(e, "a_t"), ap = (float)P(e, "a_prev");
        if ((st = dpo_step_coef_f32_ddim(&ce, at, ap, s, DPO_PRED_EPSILON)) ||
            (st = dpo_step_coef_f32_ddim(&cv, at, ap, s, DPO_PRED_V)) || (st = dpo_dmu_dout_f32(&ke, &ce)) ||
            (st = dpo_dmu_dout_f32(&kv, &cv)))
            return st;
        for (i = 0; i < k; i++) {
            float *a = FT(e, n), *b = FT(e, n);
            if (!a || !b)
                return DPO_ERR_SIZE;
            if ((st = dpo_grad_mu_to_out_f32(a, (const float *)g32[i], n, &ce)) ||
                (st = dpo_grad_mu_to_out_f32(b, (const float *)g32[i], n, &cv)))
                return st;
            widen(OUT(e, geps[i], n, 0), a, n);
            widen(OUT(e, gv[i], n, 0), b, n);
        }
    } else {
        dpo_step_coef_f64 ce, cv;
        double s = P(e, "sigma"), at = P(e, "a_t"), ap = P(e, "a_prev");
        if ((st = dpo_step_coef_f64_ddim(&ce, at, ap, s, DPO_PRED_EPSILON)) ||
            (st = dpo_step_coef_f64_ddim(&cv, at, ap, s, DPO_PRED_V)) || (st = dpo_dmu_dout_f64(&ke, &ce)) ||
            (st = dpo_dmu_dout_f64(&kv, &cv)))
            return st;
        for (i = 0; i < k; i++) {
            const double *gm = NULL;
            int j;
            double *a, *b;
            for (j = 0; j < e->no; j++)
                if (!strcmp(e->o[j].name, gmu[i]))
                    gm = e->o[j].v;
            a = OUT(e, geps[i], n, 0);
            b = OUT(e, gv[i], n, 0);
            if (!gm || !a || !b)
                return DPO_ERR_SIZE;
            if ((st = dpo_grad_mu_to_out_f64(a, gm, n, &ce)) || (st = dpo_grad_mu_to_out_f64(b, gm, n, &cv)))
                return st;
        }
    }
    SCAL(e, "k_eps", ke);
    SCAL(e, "k_v", kv);
    return DPO_OK;
}

static dpo_status ev_stepdpo(ev *e)
{
    dpo_pair_params p;
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d;
    double *gw, *gl;
    float *fw = NULL, *fl = NULL;
    p.beta = P(e, "beta");
    p.sigma = e->fs->flag && e->f32 ? (double)(float)P(e, "sigma") : P(e, "sigma");
    p.mode = e->mode;
    gw = OUT(e, "grad_mu_w", n, 0);
    gl = OUT(e, "grad_mu_l", n, 0);
    if (!gw || !gl)
        return DPO_ERR_SIZE;
    if (e->f32) {
        fw = FT(e, n);
        fl = FT(e, n);
        if (!fw || !fl)
            return DPO_ERR_SIZE;
        st = dpo_stepdpo_f32(&r, fw, fl, INF(e, "x_w"), INF(e, "mu_w"), INF(e, "mu_ref_w"), INF(e, "x_l"),
                             INF(e, "mu_l"), INF(e, "mu_ref_l"), n, p);
        widen(gw, fw, n);
        widen(gl, fl, n);
    } else
        st = dpo_stepdpo_f64(&r, gw, gl, IND(e, "x_w"), IND(e, "mu_w"), IND(e, "mu_ref_w"), IND(e, "x_l"),
                             IND(e, "mu_l"), IND(e, "mu_ref_l"), n, p);
    if (st)
        return st;
    SCAL(e, "lr_w", r.lr_w);
    SCAL(e, "lr_l", r.lr_l);
    SCAL(e, "z", r.z);
    SCAL(e, "loss", r.loss);
    if (e->fs->flag) {
        static const char *const gm[] = {"grad_mu_w", "grad_mu_l"}, *ge[] = {"grad_eps_w", "grad_eps_l"},
                                 *gv[] = {"grad_v_w", "grad_v_l"};
        const void *g32[2];
        g32[0] = fw;
        g32[1] = fl;
        return chain(e, gm, ge, gv, 2, g32);
    }
    return DPO_OK;
}

static dpo_status ev_tailorpo(ev *e)
{
    dpo_pair_params p;
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d;
    double *g;
    float *fg = NULL;
    p.beta = P(e, "beta");
    p.sigma = P(e, "sigma");
    p.mode = e->mode;
    if (!(g = OUT(e, "grad_mu", n, 0)))
        return DPO_ERR_SIZE;
    if (e->f32) {
        if (!(fg = FT(e, n)))
            return DPO_ERR_SIZE;
        st = dpo_tailorpo_f32(&r, fg, INF(e, "x_w"), INF(e, "x_l"), INF(e, "mu"), INF(e, "mu_ref"), n, p);
        widen(g, fg, n);
    } else
        st = dpo_tailorpo_f64(&r, g, IND(e, "x_w"), IND(e, "x_l"), IND(e, "mu"), IND(e, "mu_ref"), n, p);
    if (st)
        return st;
    SCAL(e, "lr_w", r.lr_w);
    SCAL(e, "lr_l", r.lr_l);
    SCAL(e, "z", r.z);
    SCAL(e, "loss", r.loss);
    if (e->fs->flag) {
        static const char *const gm[] = {"grad_mu"}, *ge[] = {"grad_eps"}, *gv[] = {"grad_v"};
        const void *g32[1];
        g32[0] = fg;
        return chain(e, gm, ge, gv, 1, g32);
    }
    return DPO_OK;
}

static dpo_status ev_d3po(ev *e)
{
    dpo_clip_params p;
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d;
    double *g0 = OUT(e, "grad_mu_0", n, 0), *g1 = OUT(e, "grad_mu_1", n, 0);
    p.beta = P(e, "beta");
    p.clip_eps = P(e, "clip_eps");
    p.sigma = P(e, "sigma");
    p.mode = e->mode;
    if (!g0 || !g1)
        return DPO_ERR_SIZE;
    if (e->f32) {
        float *a = FT(e, n), *b = FT(e, n);
        if (!a || !b)
            return DPO_ERR_SIZE;
        st = dpo_d3po_code_f32(&r, a, b, INF(e, "x_0"), INF(e, "mu_0"), INF(e, "mu_ref_0"), INF(e, "x_1"),
                               INF(e, "mu_1"), INF(e, "mu_ref_1"), n, (int)PI(e, "label"), p);
        widen(g0, a, n);
        widen(g1, b, n);
    } else
        st = dpo_d3po_code_f64(&r, g0, g1, IND(e, "x_0"), IND(e, "mu_0"), IND(e, "mu_ref_0"), IND(e, "x_1"),
                               IND(e, "mu_1"), IND(e, "mu_ref_1"), n, (int)PI(e, "label"), p);
    if (st)
        return st;
    SCAL(e, "lr_0", r.lr_w);
    SCAL(e, "lr_1", r.lr_l);
    SCAL(e, "z", r.z);
    SCAL(e, "loss", r.loss);
    return DPO_OK;
}

static dpo_status ev_spo_loss(ev *e)
{
    dpo_clip_params p;
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d, i;
    double *g = OUT(e, "grad_mu", n, 0), *g0 = DT(e, n), *g1 = DT(e, n);
    p.beta = P(e, "beta");
    p.clip_eps = P(e, "clip_eps");
    p.sigma = P(e, "sigma");
    p.mode = e->mode;
    if (!g || !g0 || !g1)
        return DPO_ERR_SIZE;
    if (e->f32) {
        float *a = FT(e, n), *b = FT(e, n);
        if (!a || !b)
            return DPO_ERR_SIZE;
        st = dpo_d3po_code_f32(&r, a, b, INF(e, "x_w"), INF(e, "mu"), INF(e, "mu_ref"), INF(e, "x_l"), INF(e, "mu"),
                               INF(e, "mu_ref"), n, 1, p);
        widen(g0, a, n);
        widen(g1, b, n);
    } else
        st = dpo_d3po_code_f64(&r, g0, g1, IND(e, "x_w"), IND(e, "mu"), IND(e, "mu_ref"), IND(e, "x_l"),
                               IND(e, "mu"), IND(e, "mu_ref"), n, 1, p);
    if (st)
        return st;
    for (i = 0; i < n; i++)
        g[i] = g0[i] + g1[i];
    SCAL(e, "lr_w", r.lr_w);
    SCAL(e, "lr_l", r.lr_l);
    SCAL(e, "z", r.z);
    SCAL(e, "loss", r.loss);
    return DPO_OK;
}

static dpo_status ev_rank(ev *e)
{
    size_t k = e->d, i;
    int *ord = (int *)tmp_alloc(e, k * sizeof(int));
    double *o;
    dpo_status st;
    if (!ord)
        return DPO_ERR_SIZE;
    if ((st = dpo_rank_desc(ord, IND(e, "reward"), k)))
        return st;
    if (!(o = OUT(e, "order", k, 1)))
        return DPO_ERR_SIZE;
    for (i = 0; i < k; i++)
        o[i] = ord[i];
    ISCAL(e, "winner", ord[0]);
    ISCAL(e, "loser", ord[k - 1]);
    return DPO_OK;
}

static dpo_status ev_eta(ev *e)
{
    double eta = 0;
    dpo_status st = dpo_tailorpo_g_eta(&eta, P(e, "t"), P(e, "T"), P(e, "eta_min"), P(e, "eta_max"));
    if (st == DPO_OK)
        SCAL(e, "eta", eta);
    return st;
}

static dpo_guide_params guide_params(ev *e, dpo_guide_jac jac)
{
    dpo_guide_params p;
    p.eta = P(e, "eta");
    p.delta = P(e, "delta");
    p.alpha = P(e, "alpha");
    p.sign = (int)PI(e, "sign");
    p.jac = jac;
    return p;
}

static dpo_status ev_update(ev *e)
{
    int vj = e->fs->flag;
    dpo_guide_params p = guide_params(e, vj ? DPO_GUIDE_VJP : DPO_GUIDE_NO_EPS);
    size_t n = e->d;
    double *xp = OUT(e, "x_plus", n, 0);
    dpo_status st;
    if (!xp)
        return DPO_ERR_SIZE;
    if (e->f32) {
        float *f = FT(e, n);
        if (!f)
            return DPO_ERR_SIZE;
        st = dpo_tailorpo_g_update_f32(f, INF(e, "x"), INF(e, "g"), vj ? INF(e, "vjp") : NULL, n, p);
        widen(xp, f, n);
    } else
        st = dpo_tailorpo_g_update_f64(xp, IND(e, "x"), IND(e, "g"), vj ? IND(e, "vjp") : NULL, n, p);
    return st;
}

/* The test reward r(y) = sum_i (q_a,i y_i + q_b,i y_i^2 / 2) of section 5.9. */
static double quad_reward(ev *e, const double *y, size_t n, double *terms)
{
    const double *qa = IND(e, "q_a"), *qb = IND(e, "q_b");
    size_t i;
    for (i = 0; i < n; i++)
        terms[i] = qa[i] * y[i] + 0.5 * qb[i] * y[i] * y[i];
    return dpo_sum_canonical(terms, n);
}

static int guide_reward_grad(void *user, double *r, float *g, const float *x0, size_t n, const int32_t *cond)
{
    ev *e = (ev *)user;
    size_t d = e->d, i;
    double *y = (double *)malloc(2 * d * sizeof(double));
    const double *qa = IND(e, "q_a"), *qb = IND(e, "q_b");
    (void)cond;
    if (!y || n != 1) {
        free(y);
        return 1;
    }
    for (i = 0; i < d; i++) {
        y[i] = (double)x0[i];
        g[i] = (float)(qa[i] + qb[i] * y[i]);
    }
    r[0] = quad_reward(e, y, d, y + d);
    free(y);
    return 0;
}

static int guide_reward_value(void *user, double *r, const float *x0, size_t n, const int32_t *cond)
{
    ev *e = (ev *)user;
    float *g = (float *)malloc(e->d * sizeof(float));
    int rc = g ? guide_reward_grad(user, r, g, x0, n, cond) : 1;
    free(g);
    return rc;
}

static int guide_vjp(void *user, float *out, const float *x, const float *v, size_t n, int timestep,
                     const int32_t *cond)
{
    ev *e = (ev *)user;
    const double *ea = IND(e, "e_a");
    size_t i;
    (void)x, (void)timestep, (void)cond;
    if (n != 1)
        return 1;
    for (i = 0; i < e->d; i++)
        out[i] = (float)(ea[i] * (double)v[i]);
    return 0;
}

static dpo_status ev_guide(ev *e)
{
    dpo_guide_params p = guide_params(e, DPO_GUIDE_VJP);
    size_t n = e->d, i;
    const double *x = IND(e, "x"), *ea = IND(e, "e_a"), *eb = IND(e, "e_b"), *qa = IND(e, "q_a"),
                 *qb = IND(e, "q_b");
    double *xp = OUT(e, "x_plus", n, 0);
    dpo_status st;
    double rb = 0;
    if (!xp)
        return DPO_ERR_SIZE;
    if (!(p.alpha > 0 && p.alpha <= 1))
        return DPO_ERR_RANGE;
    if (e->f32) {
        float *eps = FT(e, n), *f = FT(e, n);
        size_t ws = dpo_tailorpo_g_workspace_size(1, n);
        double *work = DT(e, ws / sizeof(double) + 1);
        dpo_reward_model rm;
        dpo_eps_vjp vm;
        if (!eps || !f || !work)
            return DPO_ERR_SIZE;
        for (i = 0; i < n; i++)
            eps[i] = (float)(ea[i] * x[i] + eb[i]);
        rm.user = e;
        rm.dim = n;
        rm.value = guide_reward_value;
        rm.grad = guide_reward_grad;
        vm.user = e;
        vm.vjp_x = guide_vjp;
        st = dpo_tailorpo_g_guide_f32(f, &rb, INF(e, "x"), eps, 1, n, 0, NULL, &rm, &vm, p, work,
                                      (ws / sizeof(double) + 1) * sizeof(double));
        widen(xp, f, n);
    } else {
        double *x0 = DT(e, n), *g = DT(e, n), *v = DT(e, n), *t = DT(e, n);
        double sa = sqrt(p.alpha), sb = sqrt(1.0 - p.alpha);
        if (!x0 || !g || !v || !t)
            return DPO_ERR_SIZE;
        for (i = 0; i < n; i++) {
            double eps = ea[i] * x[i] + eb[i];
            x0[i] = (x[i] - sb * eps) / sa;
            g[i] = qa[i] + qb[i] * x0[i];
            v[i] = ea[i] * g[i];
        }
        rb = quad_reward(e, x0, n, t);
        st = dpo_tailorpo_g_update_f64(xp, x, g, v, n, p);
    }
    if (st)
        return st;
    SCAL(e, "r_before", rb);
    return DPO_OK;
}

static dpo_status ev_rdpo(ev *e)
{
    dpo_rdpo_params p;
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d;
    double *g = OUT(e, "grad_mu", n, 0);
    p.beta = P(e, "beta");
    p.lambda = P(e, "lambda");
    p.sigma = P(e, "sigma");
    p.mode = e->mode;
    p.variant = e->fs->flag ? DPO_RDPO_INTENDED : DPO_RDPO_PRINTED;
    if (!g)
        return DPO_ERR_SIZE;
    if (e->f32) {
        float *f = FT(e, n);
        if (!f)
            return DPO_ERR_SIZE;
        st = dpo_rdpo_f32(&r, f, INF(e, "x_w"), INF(e, "x_l"), INF(e, "mu"), INF(e, "mu_ref"), n, p);
        widen(g, f, n);
    } else
        st = dpo_rdpo_f64(&r, g, IND(e, "x_w"), IND(e, "x_l"), IND(e, "mu"), IND(e, "mu_ref"), n, p);
    if (st)
        return st;
    SCAL(e, "lr_w", r.lr_w);
    SCAL(e, "lr_l", r.lr_l);
    /* Psi = min(0, -lr_l) of the library's lr_l (not returned by the API) */
    SCAL(e, "psi", r.lr_l > 0 ? -r.lr_l : 0.0);
    SCAL(e, "z", r.z);
    SCAL(e, "loss", r.loss);
    return DPO_OK;
}

static dpo_status ev_dq(ev *e)
{
    size_t k = e->d, i;
    double *dq = OUT(e, "dq", k, 0), *o;
    int *ord = (int *)tmp_alloc(e, k * sizeof(int));
    dpo_status st;
    if (!dq || !ord)
        return DPO_ERR_SIZE;
    if ((st = dpo_rdpo_delta_q(dq, IND(e, "r_after"), P(e, "r_before"), k,
                               e->fs->flag ? DPO_DQ_GAIN : DPO_DQ_PRINTED)))
        return st;
    if ((st = dpo_rank_desc(ord, dq, k)))
        return st;
    if (!(o = OUT(e, "order", k, 1)))
        return DPO_ERR_SIZE;
    for (i = 0; i < k; i++)
        o[i] = ord[i];
    ISCAL(e, "winner", ord[0]);
    ISCAL(e, "loser", ord[k - 1]);
    return DPO_OK;
}

static dpo_status ev_spo_select(ev *e)
{
    dpo_spo_params p;
    int b = -1, w = -1, v = -1;
    dpo_status st;
    p.thr = P(e, "thr");
    p.kappa = (int)PI(e, "kappa");
    st = dpo_spo_select(&b, &w, &v, IND(e, "score"), e->d, (int)PI(e, "t"), p);
    if (st)
        return st;
    ISCAL(e, "best", b);
    ISCAL(e, "worst", w);
    ISCAL(e, "valid", v);
    return DPO_OK;
}

/* flag: 0 diffusion_dpo, 1 dspo.paper, 2 dspo.paper_sg, 3 dspo.code, 4 dspo.code_sg */
static dpo_status ev_eps(ev *e)
{
    dpo_pair_result r;
    dpo_status st;
    size_t n = e->d;
    int fl = e->fs->flag;
    double *gw = OUT(e, "grad_eth_w", n, 0), *gl = OUT(e, "grad_eth_l", n, 0);
    dpo_eps_params ep;
    dpo_dspo_params dp;
    if (!gw || !gl)
        return DPO_ERR_SIZE;
    ep.beta = 0;
    ep.mode = e->mode;
    if (fl == 0)
        ep.beta = P(e, "beta");
    else if (fl <= 2)
        dp = dpo_dspo_params_paper(P(e, "lambda"), P(e, "c_t"), fl == 2);
    else
        dp = dpo_dspo_params_code(P(e, "beta"), fl == 4);
    if (e->f32) {
        float *a = FT(e, n), *b = FT(e, n);
        const float *eps = INF(e, "eps");
        if (!a || !b)
            return DPO_ERR_SIZE;
        st = fl ? dpo_dspo_f32(&r, a, b, eps, eps, INF(e, "eth_w"), INF(e, "eref_w"), INF(e, "eth_l"),
                               INF(e, "eref_l"), n, dp)
                : dpo_diffdpo_f32(&r, a, b, eps, eps, INF(e, "eth_w"), INF(e, "eref_w"), INF(e, "eth_l"),
                                  INF(e, "eref_l"), n, ep);
        widen(gw, a, n);
        widen(gl, b, n);
    } else {
        const double *eps = IND(e, "eps");
        st = fl ? dpo_dspo_f64(&r, gw, gl, eps, eps, IND(e, "eth_w"), IND(e, "eref_w"), IND(e, "eth_l"),
                               IND(e, "eref_l"), n, dp)
                : dpo_diffdpo_f64(&r, gw, gl, eps, eps, IND(e, "eth_w"), IND(e, "eref_w"), IND(e, "eth_l"),
                                  IND(e, "eref_l"), n, ep);
    }
    if (st)
        return st;
    SCAL(e, "d_w", r.lr_w);
    SCAL(e, "d_l", r.lr_l);
    SCAL(e, "u", r.z);
    SCAL(e, "loss", r.loss);
    return DPO_OK;
}

/* DDPO record handlers (docs/vectors.md 5.16, 5.17): self-contained, one
 * dispatch line each in FNS. */
static dpo_status ev_ddpo(ev *e)
{
    dpo_ddpo_params p;
    dpo_ddpo_result r;
    dpo_status st;
    size_t n = e->d;
    double *g = OUT(e, "grad_mu", n, 0);
    p.clip_eps = P(e, "clip_eps");
    p.adv_clip = P(e, "adv_clip");
    p.sigma = P(e, "sigma");
    p.mode = e->mode;
    if (!g)
        return DPO_ERR_SIZE;
    if (e->f32) {
        float *a = FT(e, n);
        if (!a)
            return DPO_ERR_SIZE;
        st = dpo_ddpo_f32(&r, a, INF(e, "x"), INF(e, "mu"), INF(e, "mu_old"), n, P(e, "adv"), p);
        widen(g, a, n);
    } else
        st = dpo_ddpo_f64(&r, g, IND(e, "x"), IND(e, "mu"), IND(e, "mu_old"), n, P(e, "adv"), p);
    if (st)
        return st;
    SCAL(e, "lr", r.lr);
    SCAL(e, "ratio", r.ratio);
    SCAL(e, "adv", r.adv);
    SCAL(e, "loss", r.loss);
    SCAL(e, "dl_dlr", r.dl_dlr);
    ISCAL(e, "clipped", r.clipped);
    return DPO_OK;
}

static dpo_status ev_ddpo_adv(ev *e)
{
    size_t n = e->d, i;
    const double *gv = IND(e, "group");
    uint32_t *grp = (uint32_t *)tmp_alloc(e, n * sizeof(uint32_t));
    double *a = OUT(e, "adv", n, 0);
    if (!grp || !a || !gv)
        return DPO_ERR_SIZE;
    for (i = 0; i < n; i++) {
        if (!(gv[i] >= 0 && gv[i] <= 4294967295.0 && gv[i] == (double)(uint32_t)gv[i]))
            return DPO_ERR_RANGE;
        grp[i] = (uint32_t)gv[i];
    }
    if (PI(e, "min_count") < 0)
        return DPO_ERR_RANGE;
    return dpo_ddpo_advantages(a, IND(e, "reward"), grp, n, (size_t)PI(e, "min_count"), P(e, "std_eps"));
}

#define STEP_IN "x_w mu_w mu_ref_w x_l mu_l mu_ref_l"
#define STEP_OUT "lr_w lr_l z loss grad_mu_w grad_mu_l"
#define SHARED_IN "x_w x_l mu mu_ref"
#define EPS_IN "eps eth_w eref_w eth_l eref_l"
#define EPS_OUT "d_w d_l u loss grad_eth_w grad_eth_l"

static const fnspec FNS[] = {
    {"gen.check", 0, 0, "", "*", "v", ev_gen, 0},
    {"gauss.logprob", 1, 0, "sigma:s", "x mu", "lp", ev_gauss, 0},
    {"stepdpo", 1, 0, "beta:r sigma:r", STEP_IN, STEP_OUT, ev_stepdpo, 0},
    {"stepdpo.chain", 1, 0, "beta:r sigma:s a_t:s a_prev:s", STEP_IN,
     STEP_OUT " k_eps k_v grad_eps_w grad_eps_l grad_v_w grad_v_l", ev_stepdpo, 1},
    {"d3po_code", 1, 0, "beta:r clip_eps:r sigma:r label:i", "x_0 mu_0 mu_ref_0 x_1 mu_1 mu_ref_1",
     "lr_0 lr_1 z loss grad_mu_0 grad_mu_1", ev_d3po, 0},
    {"tailorpo", 1, 0, "beta:r sigma:r", SHARED_IN, "lr_w lr_l z loss grad_mu", ev_tailorpo, 0},
    {"tailorpo.chain", 1, 0, "beta:r sigma:s a_t:s a_prev:s", SHARED_IN,
     "lr_w lr_l z loss grad_mu k_eps k_v grad_eps grad_v", ev_tailorpo, 1},
    {"tailorpo.rank", 0, 1, "", "reward", "order# winner# loser#", ev_rank, 0},
    {"tailorpo_g.eta", 0, 1, "t:r T:r eta_min:r eta_max:r", "", "eta", ev_eta, 0},
    {"tailorpo_g.update", 0, 0, "eta:r delta:r alpha:r sign:i", "x g vjp", "x_plus", ev_update, 1},
    {"tailorpo_g.update_noeps", 0, 0, "eta:r delta:r alpha:r sign:i", "x g", "x_plus", ev_update, 0},
    {"tailorpo_g.guide", 0, 0, "eta:r delta:r alpha:r sign:i", "x e_a e_b q_a q_b", "r_before x_plus", ev_guide,
     0},
    {"rdpo.printed", 1, 0, "beta:r lambda:r sigma:r", SHARED_IN, "lr_w lr_l psi z loss grad_mu", ev_rdpo, 0},
    {"rdpo.intended", 1, 0, "beta:r lambda:r sigma:r", SHARED_IN, "lr_w lr_l psi z loss grad_mu", ev_rdpo, 1},
    {"rdpo.delta_q_printed", 0, 1, "r_before:r", "r_after", "dq order# winner# loser#", ev_dq, 0},
    {"rdpo.delta_q_gain", 0, 1, "r_before:r", "r_after", "dq order# winner# loser#", ev_dq, 1},
    {"spo.select", 0, 1, "t:i kappa:i thr:r", "score", "best# worst# valid#", ev_spo_select, 0},
    {"spo.loss", 1, 0, "beta:r clip_eps:r sigma:r", SHARED_IN, "lr_w lr_l z loss grad_mu", ev_spo_loss, 0},
    {"diffusion_dpo", 1, 0, "beta:r", EPS_IN, EPS_OUT, ev_eps, 0},
    {"dspo.paper", 2, 0, "lambda:r c_t:r", EPS_IN, EPS_OUT, ev_eps, 1},
    {"dspo.paper_sg", 2, 0, "lambda:r c_t:r", EPS_IN, EPS_OUT, ev_eps, 2},
    {"dspo.code", 3, 0, "beta:r", EPS_IN, EPS_OUT, ev_eps, 3},
    {"dspo.code_sg", 3, 0, "beta:r", EPS_IN, EPS_OUT, ev_eps, 4},
    {"ddpo", 1, 0, "clip_eps:r adv_clip:r sigma:r adv:r", "x mu mu_old", "lr ratio adv loss dl_dlr clipped# grad_mu",
     ev_ddpo, 0},
    {"ddpo.advantages", 0, 1, "min_count:i std_eps:r", "reward group", "adv", ev_ddpo_adv, 0},
};

/* Is `name` (length n) a word of the blank-separated list?  *isint set
 * when the word carries a '#' suffix. */
static int in_list(const char *list, const char *name, size_t n, int *isint, char *type)
{
    const char *s = list, *e = list + strlen(list), *t;
    size_t l;
    while ((l = tok(&s, e, &t)) != 0) {
        size_t w = l;
        int ii = 0;
        char ty = 0;
        if (t[w - 1] == '#')
            ii = 1, w--;
        if (w > 2 && t[w - 2] == ':')
            ty = t[w - 1], w -= 2;
        if (w == n && !memcmp(t, name, n)) {
            if (isint)
                *isint = ii;
            if (type)
                *type = ty;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------- case checking
 * A case is checked in passes over its records, in file order; the
 * registry RECS maps each record keyword to its handler and its pass, and
 * CLOSE[p] checks what pass p must have established (every parameter,
 * every input).  Then the id is checked, the function evaluated and its
 * outputs compared (or printed back, `diffpo loss`).  Every handler returns
 * 0, or -1 with x->err set (a malformed file). */

typedef struct cc {
    vctx *x;
    ev *e;
    const fnspec *fs;
    const rec *rfn, *rprec, *rred;
    int nref;
    oexp *oe;
    int noe;
} cc;

static int bad(vctx *x, size_t line, const char *fmt, ...)
{
    va_list ap;
    int o = snprintf(x->err, sizeof x->err, "%s:%zu: ", x->path, line);
    if (o > 0 && (size_t)o < sizeof x->err) {
        va_start(ap, fmt);
        vsnprintf(x->err + o, sizeof x->err - (size_t)o, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define BAD(line, ...) return bad(x, (size_t)(line), __VA_ARGS__)

/* fn <id> */
static int rec_fn(cc *c, const rec *r)
{
    vctx *x = c->x;
    const char *s = r->v, *end = r->v + r->vl, *t;
    size_t l, i;
    if (c->rfn)
        BAD(r->line, "a second 'fn' record in case %.*s", (int)x->idl, x->id);
    c->rfn = r;
    l = tok(&s, end, &t);
    for (i = 0; i < sizeof FNS / sizeof FNS[0]; i++)
        if (tok_is(t, l, FNS[i].id))
            c->fs = &FNS[i];
    if (!c->fs || s != end)
        BAD(r->line, "unknown function identifier '%.*s'", (int)r->vl, r->v);
    return 0;
}

/* ref <paper and equation> */
static int rec_ref(cc *c, const rec *r)
{
    vctx *x = c->x;
    if (r->vl == 0)
        BAD(r->line, "'ref' needs the paper and equation");
    c->nref++;
    return 0;
}

/* prec f64|f32 */
static int rec_prec(cc *c, const rec *r)
{
    vctx *x = c->x;
    if (c->rprec)
        BAD(r->line, "a second 'prec' record");
    c->rprec = r;
    if (tok_is(r->v, r->vl, "f32"))
        c->e->f32 = 1;
    else if (!tok_is(r->v, r->vl, "f64"))
        BAD(r->line, "prec must be f64 or f32");
    return 0;
}

/* reduce sum|mean */
static int rec_reduce(cc *c, const rec *r)
{
    vctx *x = c->x;
    if (c->rred)
        BAD(r->line, "a second 'reduce' record");
    c->rred = r;
    if (tok_is(r->v, r->vl, "sum"))
        c->e->reduce = 0;
    else if (tok_is(r->v, r->vl, "mean"))
        c->e->reduce = 1;
    else
        BAD(r->line, "reduce must be sum or mean");
    return 0;
}

/* After fn, ref, prec, reduce: all present and fitting the function. */
static int close_header(cc *c)
{
    vctx *x = c->x;
    ev *e = c->e;
    const fnspec *fs = c->fs;
    if (!c->rfn)
        BAD(x->cline, "case %.*s has no 'fn' record", (int)x->idl, x->id);
    if (!c->rprec)
        BAD(x->cline, "case %.*s has no 'prec' record", (int)x->idl, x->id);
    if (c->nref == 0)
        BAD(x->cline, "case %.*s has no 'ref' record", (int)x->idl, x->id);
    e->fs = fs;
    if (fs->f64only && e->f32)
        BAD(c->rprec->line, "%s is defined for prec f64 only", fs->id);
    if (fs->reduce == 0 && c->rred)
        BAD(c->rred->line, "%s takes no 'reduce' record", fs->id);
    if (fs->reduce && !c->rred)
        BAD(x->cline, "case %.*s (%s) needs a 'reduce' record", (int)x->idl, x->id, fs->id);
    if ((fs->reduce == 2 && e->reduce != 0) || (fs->reduce == 3 && e->reduce != 1))
        BAD(c->rred->line, "%s is defined with reduce %s only", fs->id, fs->reduce == 2 ? "sum" : "mean");
    e->mode = e->reduce == 1 ? DPO_LOGPROB_MEAN : DPO_LOGPROB_SUM;
    return 0;
}

/* param <name> <value> */
static int rec_param(cc *c, const rec *r)
{
    vctx *x = c->x;
    ev *e = c->e;
    const char *s = r->v, *end = r->v + r->vl, *t, *vt;
    size_t l, vl;
    char ty = 0;
    int i;
    l = tok(&s, end, &t);
    vl = tok(&s, end, &vt);
    if (!is_name(t, l) || vl == 0 || s != end)
        BAD(r->line, "expected 'param <name> <value>'");
    if (!in_list(c->fs->params, t, l, NULL, &ty))
        BAD(r->line, "'%.*s' is not a parameter of %s", (int)l, t, c->fs->id);
    for (i = 0; i < e->np; i++)
        if (tok_is(t, l, e->p[i].name))
            BAD(r->line, "parameter '%.*s' given twice", (int)l, t);
    if (ty == 'i') {
        long long v;
        if (parse_int(vt, vl, -2147483647LL, 2147483647LL, &v))
            BAD(r->line, "parameter '%.*s' must be a decimal integer", (int)l, t);
    } else {
        double v;
        if (parse_real(vt, vl, &v))
            BAD(r->line, "parameter '%.*s' must be a finite hex float", (int)l, t);
        if (ty == 's' && e->f32 && (double)(float)v != v)
            BAD(r->line, "parameter '%.*s' must be a binary32 value in a prec f32 case", (int)l, t);
    }
    memcpy(e->p[e->np].name, t, l);
    e->p[e->np].t = vt;
    e->p[e->np].tl = vl;
    e->p[e->np].line = r->line;
    e->np++;
    return 0;
}

/* After the params: every parameter of the function given. */
static int close_params(cc *c)
{
    vctx *x = c->x;
    const char *s = c->fs->params, *end = s + strlen(s), *t;
    size_t l;
    while ((l = tok(&s, end, &t)) != 0) {
        char nm[NAMEMAX];
        memcpy(nm, t, l - 2);
        nm[l - 2] = '\0';
        if (!PRM(c->e, nm))
            BAD(x->cline, "case %.*s (%s) lacks 'param %s'", (int)x->idl, x->id, c->fs->id, nm);
    }
    return 0;
}

/* The values of `in <name> <n> v...` after the count. */
static int read_in_values(cc *c, const rec *r, arr *a, const char *s, const char *end)
{
    vctx *x = c->x;
    const char *t;
    size_t l, m, nl = strlen(a->name);
    for (m = 0; m < a->n; m++) {
        l = tok(&s, end, &t);
        if (l == 0)
            BAD(r->line, "'%.*s' holds %zu values, its count says %zu", (int)nl, a->name, m, a->n);
        if (parse_real(t, l, &a->v[m]))
            BAD(r->line, "value %zu of '%.*s' is not a finite hex float", m, (int)nl, a->name);
    }
    if (tok(&s, end, &t))
        BAD(r->line, "'%.*s' holds more values than its count %zu", (int)nl, a->name, a->n);
    return 0;
}

/* The values of `gen <name> <n> splitmix64 seed lo hi [base]` after the
 * count (docs/vectors.md section 3). */
static int read_gen_values(cc *c, const rec *r, arr *a, const char *s, const char *end)
{
    vctx *x = c->x;
    ev *e = c->e;
    const char *t;
    size_t l, m, nl = strlen(a->name);
    unsigned long long seed;
    int neg, i;
    double lo, hi;
    const double *base = NULL;
    l = tok(&s, end, &t);
    if (!tok_is(t, l, "splitmix64"))
        BAD(r->line, "unknown generator '%.*s' (splitmix64 expected)", (int)l, t);
    l = tok(&s, end, &t);
    if (parse_dec(t, l, &seed, &neg) || neg)
        BAD(r->line, "the seed must be an unsigned 64-bit decimal integer");
    l = tok(&s, end, &t);
    if (parse_real(t, l, &lo))
        BAD(r->line, "gen lo must be a finite hex float");
    l = tok(&s, end, &t);
    if (parse_real(t, l, &hi))
        BAD(r->line, "gen hi must be a finite hex float");
    l = tok(&s, end, &t);
    if (l) {
        const arr *ba = NULL;
        for (i = 0; i < e->na; i++)
            if (tok_is(t, l, e->a[i].name))
                ba = &e->a[i];
        if (!ba)
            BAD(r->line, "gen base '%.*s' is not an input defined earlier in the case", (int)l, t);
        if (ba->n != a->n)
            BAD(r->line, "gen base '%.*s' has %zu elements, not %zu", (int)l, t, ba->n, a->n);
        base = ba->v;
        if (tok(&s, end, &t))
            BAD(r->line, "text after the gen base");
    }
    dpo_vec_splitmix64(a->v, a->n, (uint64_t)seed, lo, hi, base, e->f32);
    for (m = 0; m < a->n; m++)
        if (!(a->v[m] - a->v[m] == 0))
            BAD(r->line, "gen '%.*s' produced a non-finite value", (int)nl, a->name);
    return 0;
}

/* in <name> <n> v... / gen <name> <n> splitmix64 ...: one input array, in
 * file order (a gen base must come first). */
static int rec_array(cc *c, const rec *r)
{
    vctx *x = c->x;
    ev *e = c->e;
    const fnspec *fs = c->fs;
    const char *s = r->v, *end = r->v + r->vl, *t, *nt;
    size_t l, nl, n, m;
    long long cnt;
    arr *a;
    int i;
    nl = tok(&s, end, &nt);
    if (!is_name(nt, nl))
        BAD(r->line, "expected '%s <name> <n> ...'", r->kw == KW_IN ? "in" : "gen");
    if (strcmp(fs->inputs, "*") && !in_list(fs->inputs, nt, nl, NULL, NULL))
        BAD(r->line, "'%.*s' is not an input of %s", (int)nl, nt, fs->id);
    for (i = 0; i < e->na; i++)
        if (tok_is(nt, nl, e->a[i].name))
            BAD(r->line, "input '%.*s' given twice", (int)nl, nt);
    if (e->na >= MAXA)
        BAD(r->line, "too many inputs");
    l = tok(&s, end, &t);
    if (parse_int(t, l, 1, 1 << 30, &cnt))
        BAD(r->line, "the element count of '%.*s' must be a decimal integer >= 1", (int)nl, nt);
    n = (size_t)cnt;
    /* bound the allocation by what the line can hold before allocating */
    if (r->kw == KW_IN && n > (size_t)(end - s + 1) / 2)
        BAD(r->line, "'%.*s' holds fewer values than its count %zu", (int)nl, nt, n);
    if (r->kw == KW_GEN && n > x->max_gen)
        BAD(r->line, "gen arrays are limited to %zu elements", x->max_gen);
    a = &e->a[e->na];
    memcpy(a->name, nt, nl);
    a->n = n;
    a->line = r->line;
    a->v = (double *)tmp_alloc(e, n * sizeof(double));
    a->f = e->f32 ? (float *)tmp_alloc(e, n * sizeof(float)) : NULL;
    if (!a->v || (e->f32 && !a->f))
        BAD(r->line, "out of memory");
    if ((r->kw == KW_IN ? read_in_values : read_gen_values)(c, r, a, s, end))
        return -1;
    if (e->f32)
        for (m = 0; m < n; m++) {
            a->f[m] = (float)a->v[m];
            if ((double)a->f[m] != a->v[m])
                BAD(r->line, "value %zu of '%.*s' is not a binary32 value (prec f32)", m, (int)nl, nt);
        }
    if (e->na == 0)
        e->d = n;
    else if (n != e->d && strcmp(fs->inputs, "*"))
        BAD(r->line, "'%.*s' has %zu elements, the other inputs %zu", (int)nl, nt, n, e->d);
    e->na++;
    return 0;
}

/* After the inputs: every input of the function given; k >= 2 candidates
 * where the function ranks them. */
static int close_inputs(cc *c)
{
    vctx *x = c->x;
    ev *e = c->e;
    const fnspec *fs = c->fs;
    if (strcmp(fs->inputs, "*")) {
        const char *s = fs->inputs, *end = s + strlen(s), *t;
        size_t l;
        while ((l = tok(&s, end, &t)) != 0) {
            char nm[NAMEMAX];
            memcpy(nm, t, l);
            nm[l] = '\0';
            if (!IN(e, nm))
                BAD(x->cline, "case %.*s (%s) lacks input '%s'", (int)x->idl, x->id, fs->id, nm);
        }
    } else if (!IN(e, "v"))
        BAD(x->cline, "case %.*s (%s) lacks input 'v'", (int)x->idl, x->id, fs->id);
    if ((!strcmp(fs->id, "tailorpo.rank") || !strcmp(fs->id, "spo.select") || !strncmp(fs->id, "rdpo.delta", 10)) &&
        e->d < 2)
        BAD(x->cline, "%s needs k >= 2 candidates", fs->id);
    return 0;
}

/* The optional slice suffix [start:stop:step] of an out/alt name, bl = the
 * name's length before it. */
static int read_slice(cc *c, const rec *r, oexp *o, const char *nt, size_t bl, size_t nl)
{
    vctx *x = c->x;
    unsigned long long v3[3];
    const char *p = nt + bl + 1, *pe = nt + nl - 1;
    int q;
    if (*pe != ']')
        BAD(r->line, "bad slice suffix (expected [start:stop:step])");
    for (q = 0; q < 3; q++) {
        const char *b0 = p;
        int neg;
        while (p < pe && *p != ':')
            p++;
        if (parse_dec(b0, (size_t)(p - b0), &v3[q], &neg) || neg || (q < 2 && p == pe) || (q == 2 && p != pe) ||
            v3[q] > (1ULL << 40))
            BAD(r->line, "bad slice suffix (expected [start:stop:step])");
        p++;
    }
    if (v3[2] < 1 || v3[0] >= v3[1])
        BAD(r->line, "bad slice: need start < stop and step >= 1");
    o->start = (size_t)v3[0];
    o->stop = (size_t)v3[1];
    o->step = (size_t)v3[2];
    return 0;
}

/* out <name>[slice] <n> v... / alt ...: an expected output (alt: checked
 * for form, never compared). */
static int rec_out(cc *c, const rec *r)
{
    vctx *x = c->x;
    ev *e = c->e;
    const fnspec *fs = c->fs;
    const char *s = r->v, *end = r->v + r->vl, *t, *nt;
    size_t l, nl, m, bl;
    long long cnt;
    int isint = 0, i;
    oexp *o;
    if (c->noe >= MAXO)
        BAD(r->line, "too many outputs");
    o = &c->oe[c->noe];
    nl = tok(&s, end, &nt);
    for (bl = 0; bl < nl && nt[bl] != '['; bl++)
        ;
    if (!is_name(nt, bl) || nl >= sizeof o->full)
        BAD(r->line, "expected '%s <name> <n> <values>'", r->kw == KW_OUT ? "out" : "alt");
    if (!in_list(fs->outputs, nt, bl, &isint, NULL))
        BAD(r->line, "'%.*s' is not an output of %s", (int)bl, nt, fs->id);
    memcpy(o->full, nt, nl);
    o->fl = nl;
    memcpy(o->name, nt, bl);
    o->r = r;
    o->step = 1;
    o->start = 0;
    o->stop = (size_t)-1;
    if (bl < nl && read_slice(c, r, o, nt, bl, nl))
        return -1;
    l = tok(&s, end, &t);
    if (parse_int(t, l, 1, 1 << 30, &cnt))
        BAD(r->line, "the element count of '%.*s' must be a decimal integer >= 1", (int)nl, nt);
    o->n = (size_t)cnt;
    if (o->n > (size_t)(end - s + 1) / 2)
        BAD(r->line, "'%.*s' holds fewer values than its count %zu", (int)nl, nt, o->n);
    if (bl < nl && o->n != (o->stop - o->start + o->step - 1) / o->step)
        BAD(r->line, "the slice of '%.*s' has %zu elements, the count says %zu", (int)nl, nt,
            (o->stop - o->start + o->step - 1) / o->step, o->n);
    if (bl == nl)
        o->stop = o->n;
    o->e = (double *)tmp_alloc(e, o->n * sizeof(double));
    if (!o->e)
        BAD(r->line, "out of memory");
    for (m = 0; m < o->n; m++) {
        l = tok(&s, end, &t);
        if (l == 0)
            BAD(r->line, "'%.*s' holds %zu values, its count says %zu", (int)nl, nt, m, o->n);
        if (isint) {
            long long v;
            if (parse_int(t, l, -2147483647LL, 2147483647LL, &v))
                BAD(r->line, "value %zu of '%.*s' must be a decimal integer", m, (int)nl, nt);
            o->e[m] = (double)v;
        } else if (parse_real(t, l, &o->e[m]))
            BAD(r->line, "value %zu of '%.*s' is not a finite hex float", m, (int)nl, nt);
        else if (e->f32 && r->kw == KW_OUT && (double)(float)o->e[m] != o->e[m])
            BAD(r->line, "expected value %zu of '%.*s' is not a binary32 value (prec f32)", m, (int)nl, nt);
    }
    if (tok(&s, end, &t))
        BAD(r->line, "'%.*s' holds more values than its count %zu", (int)nl, nt, o->n);
    if (r->kw == KW_ALT)
        return 0; /* alt: checked for form, never compared */
    for (i = 0; i < c->noe; i++)
        if (c->oe[i].r->kw == KW_OUT && c->oe[i].fl == o->fl && !memcmp(c->oe[i].full, o->full, o->fl))
            BAD(r->line, "output '%.*s' given twice", (int)nl, nt);
    o->tk = T_DEF;
    c->noe++;
    return 0;
}

/* tol <name> exact | ulp k | rel x | abs x */
static int rec_tol(cc *c, const rec *r)
{
    vctx *x = c->x;
    const char *s = r->v, *end = r->v + r->vl, *t, *nt;
    size_t l, nl;
    oexp *o = NULL;
    int i;
    nl = tok(&s, end, &nt);
    for (i = 0; i < c->noe; i++)
        if (c->oe[i].fl == nl && !memcmp(c->oe[i].full, nt, nl))
            o = &c->oe[i];
    if (!o)
        BAD(r->line, "'tol %.*s' has no 'out %.*s' record", (int)nl, nt, (int)nl, nt);
    if (o->tk != T_DEF)
        BAD(r->line, "a second 'tol' for '%.*s'", (int)nl, nt);
    l = tok(&s, end, &t);
    if (tok_is(t, l, "exact"))
        o->tk = T_EXACT;
    else if (tok_is(t, l, "ulp")) {
        long long kk;
        l = tok(&s, end, &t);
        if (parse_int(t, l, 0, 1LL << 52, &kk))
            BAD(r->line, "tol ulp needs a decimal integer k >= 0");
        o->tk = T_ULP;
        o->tx = (double)kk;
    } else if (tok_is(t, l, "rel") || tok_is(t, l, "abs")) {
        o->tk = tok_is(t, l, "rel") ? T_REL : T_ABS;
        l = tok(&s, end, &t);
        if (parse_real(t, l, &o->tx) || !(o->tx >= 0))
            BAD(r->line, "tol rel/abs needs a finite hex float >= 0");
    } else
        BAD(r->line, "tol kind must be ulp, rel, abs or exact");
    if (tok(&s, end, &t))
        BAD(r->line, "text after the tolerance");
    o->tol_line = r->line;
    return 0;
}

/* The record registry, indexed by KW_*: keyword, pass, handler. */
typedef int (*rec_handler)(cc *c, const rec *r);
static const struct rkind {
    const char *kw;
    int pass;
    rec_handler h;
} RECS[] = {
    {"fn", 0, rec_fn},       {"ref", 0, rec_ref},   {"prec", 0, rec_prec},  {"reduce", 0, rec_reduce},
    {"param", 1, rec_param}, {"in", 2, rec_array},  {"gen", 2, rec_array},  {"out", 3, rec_out},
    {"alt", 3, rec_out},     {"tol", 4, rec_tol},
};
#define NREC ((int)(sizeof RECS / sizeof RECS[0]))
static int (*const CLOSE[])(cc *c) = {close_header, close_params, close_inputs, NULL, NULL};
#define NPASS ((int)(sizeof CLOSE / sizeof CLOSE[0]))

/* The id: <group>-<prec>-<NNNN> with the case's prec, unique (across the
 * files of one verify run). */
static int case_id(cc *c)
{
    vctx *x = c->x;
    int f32 = c->e->f32;
    const char *id = x->id;
    size_t l = x->idl, q;
    int good = l >= 10 && id[l - 10] != '-' && id[l - 9] == '-' && id[l - 5] == '-' &&
               !memcmp(id + l - 8, f32 ? "f32" : "f64", 3);
    char *rec_;
    for (q = l - 4; good && q < l; q++)
        good = id[q] >= '0' && id[q] <= '9';
    if (!good)
        BAD(x->cline, "case id '%.*s' is not <group>-%s-<NNNN> (prec %s)", (int)l, id, f32 ? "f32" : "f64",
            f32 ? "f32" : "f64");
    if (x->print)
        return 0;
    for (q = 0; q < x->nids; q++)
        if (strlen(x->ids[q]) > l && x->ids[q][l] == ' ' && !memcmp(x->ids[q], id, l))
            BAD(x->cline, "case id '%.*s' already used (%s)", (int)l, id, x->ids[q] + l + 1);
    if (x->nids == x->idcap) {
        size_t nc = x->idcap ? 2 * x->idcap : 256;
        char **ni = (char **)realloc(x->ids, nc * sizeof(char *));
        if (!ni)
            BAD(x->cline, "out of memory");
        x->ids = ni;
        x->idcap = nc;
    }
    rec_ = (char *)malloc(l + strlen(x->path) + 32);
    if (!rec_)
        BAD(x->cline, "out of memory");
    sprintf(rec_, "%.*s %s:%zu", (int)l, id, x->path, x->cline);
    x->ids[x->nids++] = rec_;
    return 0;
}

static const res *result_of(const ev *e, const char *name)
{
    const res *rs = NULL;
    int j;
    for (j = 0; j < e->no; j++)
        if (!strcmp(e->o[j].name, name))
            rs = &e->o[j];
    return rs;
}

/* Runs the function; *st = its status.  On success every expected output
 * must exist and have room for its slice. */
static int case_eval(cc *c, dpo_status *st)
{
    vctx *x = c->x;
    ev *e = c->e;
    int i;
    *st = c->fs->eval(e);
    if (e->oom)
        BAD(x->cline, "out of memory");
    if (*st != DPO_OK)
        return 0;
    for (i = 0; i < c->noe; i++) {
        const oexp *o = &c->oe[i];
        const res *rs = result_of(e, o->name);
        if (!rs)
            BAD(o->r->line, "internal: %s did not produce '%s'", c->fs->id, o->name);
        if (o->stop > rs->n || (o->stop - o->start + o->step - 1) / o->step != o->n)
            BAD(o->r->line, "'%.*s' addresses %zu elements of an output of %zu", (int)o->fl, o->full, o->stop,
                rs->n);
    }
    return 0;
}

static double ulp_p(double m, int f32)
{
    int ex;
    if (f32) {
        if (m < FLT_MIN)
            return 0x1p-149;
        (void)frexp(m, &ex);
        return ldexp(1.0, ex - 24);
    }
    if (m < DBL_MIN)
        return 0x1p-1074;
    (void)frexp(m, &ex);
    return ldexp(1.0, ex - 53);
}

static void print_vals(vctx *x, const char *kw, const oexp *o, const res *rs)
{
    size_t j;
    fprintf(x->out, "%s %.*s %zu", kw, (int)o->fl, o->full, o->n);
    for (j = 0; j < o->n; j++) {
        double v = rs->v[o->start + j * o->step];
        if (rs->isint)
            fprintf(x->out, " %lld", (long long)v);
        else
            fprintf(x->out, " %a", v);
    }
    fprintf(x->out, "\n# %s %.*s =", kw, (int)o->fl, o->full);
    for (j = 0; j < o->n && j < 8; j++)
        fprintf(x->out, " %.17g", rs->v[o->start + j * o->step]);
    if (o->n > 8)
        fprintf(x->out, " ...");
    fprintf(x->out, "\n");
}

/* Copies the next line of buf (print mode). */
static void copy_line(vctx *x)
{
    size_t a = x->cp;
    while (x->cp < x->len && x->buf[x->cp] != '\n')
        x->cp++;
    fwrite(x->buf + a, 1, x->cp - a, x->out);
    fputc('\n', x->out);
    if (x->cp < x->len)
        x->cp++;
    x->cpline++;
}

/* `diffpo loss`: the case's lines through end_line, a got (or error) line
 * after each out line. */
static void case_print(cc *c, dpo_status st, size_t end_line)
{
    vctx *x = c->x;
    int i;
    while (x->cpline < end_line) {
        size_t ln = x->cpline + 1;
        copy_line(x);
        for (i = 0; i < c->noe; i++)
            if (c->oe[i].r->line == ln) {
                const res *rs = result_of(c->e, c->oe[i].name);
                if (st)
                    fprintf(x->out, "error %s\n", dpo_status_str(st));
                else if (rs)
                    print_vals(x, "got", &c->oe[i], rs);
            }
    }
}

/* One expected output against the library's (docs/vectors.md section 6);
 * 1 when it passes, else 0 after a FAIL line naming the worst element. */
static int compare_out(cc *c, oexp *o)
{
    vctx *x = c->x;
    int f32 = c->e->f32;
    const res *rs = result_of(c->e, o->name);
    double M = 0, bound = 0, worst = -1, u, g;
    size_t m, wi = 0;
    int tk = o->tk, pass = 1;
    if (tk == T_DEF) {
        tk = rs->isint ? T_EXACT : T_ULP;
        o->tx = f32 ? 2 : 4;
    }
    for (m = 0; m < o->n; m++)
        if (fabs(o->e[m]) > M)
            M = fabs(o->e[m]);
    u = ulp_p(M, f32);
    if (tk == T_ULP)
        bound = o->tx * u;
    else if (tk == T_REL)
        bound = o->tx * M;
    else if (tk == T_ABS)
        bound = o->tx;
    for (m = 0; m < o->n; m++) {
        double gm = rs->v[o->start + m * o->step], d = fabs(gm - o->e[m]);
        int good = tk == T_EXACT ? gm == o->e[m] : d <= bound;
        if (!good && (pass || !(d <= worst))) {
            if (pass || d > worst || d != d)
                worst = d, wi = m;
            pass = 0;
        }
    }
    if (pass)
        return 1;
    g = rs->v[o->start + wi * o->step];
    if (tk == T_EXACT)
        fprintf(x->errf, "FAIL %s:%zu: case %.*s %.*s: element %zu: got %.17g (%a), expected %.17g (%a), tol exact\n",
                x->path, o->r->line, (int)x->idl, x->id, (int)o->fl, o->full, o->start + wi * o->step, g, g, o->e[wi],
                o->e[wi]);
    else
        fprintf(x->errf,
                "FAIL %s:%zu: case %.*s %.*s: element %zu: got %a, expected %a: error %.3g ulp(M) > "
                "bound %.3g ulp(M) (%s)\n",
                x->path, o->r->line, (int)x->idl, x->id, (int)o->fl, o->full, o->start + wi * o->step, g, o->e[wi],
                worst / u, bound / u, tk == T_ULP ? "ulp" : tk == T_REL ? "rel" : "abs");
    return 0;
}

/* One case, its records in x->r, its "end" on end_line: counted as passed
 * or failed, or printed back (x->print).  0, or -1 when malformed. */
static int check_case(vctx *x, size_t end_line)
{
    cc c;
    dpo_status st = DPO_OK;
    int pass, i, ok = 1, rc = -1;
    size_t k;
    memset(&c, 0, sizeof c);
    c.x = x;
    c.e = (ev *)calloc(1, sizeof *c.e);
    c.oe = (oexp *)calloc(MAXO, sizeof *c.oe);
    if (!c.e || !c.oe) {
        bad(x, x->cline, "out of memory");
        free(c.e);
        free(c.oe);
        return -1;
    }
    c.e->x = x;
    c.e->reduce = -1;
    for (pass = 0; pass < NPASS; pass++) {
        for (k = 0; k < x->nr; k++)
            if (RECS[x->r[k].kw].pass == pass && RECS[x->r[k].kw].h(&c, &x->r[k]))
                goto done;
        if (CLOSE[pass] && CLOSE[pass](&c))
            goto done;
    }
    if (case_id(&c) || case_eval(&c, &st))
        goto done;
    if (x->print)
        case_print(&c, st, end_line);
    else if (st) {
        fprintf(x->errf, "FAIL %s:%zu: case %.*s: the library returned %s\n", x->path, x->cline, (int)x->idl, x->id,
                dpo_status_str(st));
        ok = 0;
    } else
        for (i = 0; i < c.noe; i++)
            if (!compare_out(&c, &c.oe[i]))
                ok = 0;
    if (ok)
        x->passed++;
    else
        x->failed++;
    rc = 0;
done:
    for (i = 0; i < c.e->nt; i++)
        free(c.e->tmp[i]);
    free(c.e);
    free(c.oe);
    return rc;
}

/* ------------------------------------------------------------ files */

static void free_ids(vctx *x)
{
    size_t i;
    for (i = 0; i < x->nids; i++)
        free(x->ids[i]);
    free(x->ids);
    x->ids = NULL;
    x->nids = x->idcap = 0;
}

static int on_event(void *user, dpo_vec_event ev_, const dpo_vec_field *f)
{
    vctx *x = (vctx *)user;
    int i;
    if (ev_ == DPO_VEC_BEGIN) {
        x->id = f->value;
        x->idl = f->value_len;
        x->cline = f->line;
        x->nr = 0;
        return 0;
    }
    if (ev_ == DPO_VEC_FIELD) {
        if (x->nr == x->rcap) {
            size_t nc = x->rcap ? 2 * x->rcap : 64;
            rec *nr = (rec *)realloc(x->r, nc * sizeof(rec));
            if (!nr) {
                snprintf(x->err, sizeof x->err, "%s:%zu: out of memory", x->path, f->line);
                return 1;
            }
            x->r = nr;
            x->rcap = nc;
        }
        for (i = 0; i < NREC; i++)
            if (f->key_len == strlen(RECS[i].kw) && !memcmp(f->key, RECS[i].kw, f->key_len))
                break;
        if (i == NREC) {
            snprintf(x->err, sizeof x->err, "%s:%zu: unknown record keyword", x->path, f->line);
            return 1;
        }
        x->r[x->nr].kw = i;
        x->r[x->nr].v = f->value;
        x->r[x->nr].vl = f->value_len;
        x->r[x->nr].line = f->line;
        x->nr++;
        return 0;
    }
    return check_case(x, f->line) ? 1 : 0;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    if (!fp) {
        snprintf(err, errlen, "%s:0: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
        fclose(fp);
        snprintf(err, errlen, "%s:0: cannot read the file", path);
        return NULL;
    }
    buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        snprintf(err, errlen, "%s:0: read error", path);
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Runs buf[0..len) as file x->path (counts in x); returns 0, or -1 after
 * printing one line `file:line: message` on x->errf. */
static int run_buf(vctx *x, const char *buf, size_t len)
{
    size_t line = 0;
    const char *msg = NULL;
    dpo_status st;
    x->buf = buf;
    x->len = len;
    x->cp = 0;
    x->cpline = 0;
    x->err[0] = '\0';
    st = dpo_vec_parse(buf, len, on_event, x, &line, &msg);
    if (st == DPO_OK && x->print)
        while (x->cp < x->len)
            copy_line(x);
    x->buf = NULL;
    if (st == DPO_ERR_MODEL) {
        fprintf(x->errf, "%s\n", x->err);
        return -1;
    }
    if (st) {
        fprintf(x->errf, "%s:%zu: %s\n", x->path, line, msg ? msg : dpo_status_str(st));
        return -1;
    }
    return 0;
}

static int run_file(vctx *x)
{
    size_t len;
    int rc;
    char *buf = slurp(x->path, &len, x->err, sizeof x->err);
    if (!buf) {
        fprintf(x->errf, "%s\n", x->err);
        return -1;
    }
    rc = run_buf(x, buf, len);
    free(buf);
    return rc;
}

static vctx *vctx_new(const dpo_vecrun_io *io, const char *path)
{
    vctx *x = (vctx *)calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->out = io && io->out ? io->out : stdout;
    x->errf = io && io->err ? io->err : stderr;
    x->max_gen = io && io->max_gen ? io->max_gen : DPO_VECRUN_MAX_GEN;
    x->path = path;
    return x;
}

static void vctx_free(vctx *x)
{
    free(x->r);
    free_ids(x);
    free(x);
}

/* ------------------------------------------------------- the tools API */

dpo_status dpo_vecrun_loss_buf(const dpo_vecrun_io *io, const char *name, const char *buf, size_t len)
{
    vctx *x;
    int rc;
    if (!name || (!buf && len))
        return DPO_ERR_NULL;
    if (!(x = vctx_new(io, name)))
        return DPO_ERR_WORKSPACE;
    /* pass 1 checks the whole file, so that a malformed file prints nothing */
    rc = run_buf(x, buf ? buf : "", len);
    if (rc == 0) {
        x->print = 1;
        rc = run_buf(x, buf ? buf : "", len);
        fflush(x->out);
    }
    vctx_free(x);
    return rc ? DPO_ERR_FORMAT : DPO_OK;
}

dpo_status dpo_vecrun_loss(const dpo_vecrun_io *io, const char *path)
{
    vctx *x;
    int rc;
    if (!path)
        return DPO_ERR_NULL;
    if (!(x = vctx_new(io, path)))
        return DPO_ERR_WORKSPACE;
    rc = run_file(x);
    if (rc == 0) {
        x->print = 1;
        rc = run_file(x);
        fflush(x->out);
    }
    vctx_free(x);
    return rc ? DPO_ERR_FORMAT : DPO_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dpo_status dpo_vecrun_verify(const dpo_vecrun_io *io, const char *dir, int *passed, int *failed)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, cap = 0, i;
    int bad_ = 0;
    vctx *x;
    if (!dir)
        return DPO_ERR_NULL;
    d = opendir(dir);
    if (!d)
        return DPO_ERR_IO;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".vec")) {
            if (nn == cap) {
                char **nw = (char **)realloc(names, (cap ? 2 * cap : 32) * sizeof(char *));
                if (!nw)
                    break;
                names = nw;
                cap = cap ? 2 * cap : 32;
            }
            names[nn] = (char *)malloc(strlen(dir) + l + 2);
            if (!names[nn])
                break;
            sprintf(names[nn], "%s/%s", dir, de->d_name);
            nn++;
        }
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof names[0], cmp_str);
    x = vctx_new(io, NULL);
    if (!x) {
        for (i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        return DPO_ERR_WORKSPACE;
    }
    if (nn == 0) {
        fprintf(x->errf, "FAIL no vector files (*.vec) in %s\n", dir);
        bad_ = 1;
    }
    for (i = 0; i < nn; i++) {
        int before = x->failed;
        x->path = names[i];
        if (run_file(x)) {
            x->failed++; /* the malformed case (the rest of the file is not read) */
            x->malformed++;
        }
        fprintf(x->out, "%s %s\n", x->failed == before ? "ok  " : "FAIL", names[i]);
        fflush(x->out);
        free(names[i]);
    }
    free(names);
    fprintf(x->out, "%d passed, %d failed\n", x->passed, x->failed + bad_);
    if (passed)
        *passed = x->passed;
    if (failed)
        *failed = x->failed + bad_;
    vctx_free(x);
    return DPO_OK;
}
