/* diffpo loss FILE.vec  /  diffpo verify [DIR]
 *
 * Evaluates the cases of golden-vector files (grammar: dpo_vec_parse) with
 * the library.  A case names its function with "fn FAMILY[.OUTPUT]", its
 * storage type with "dtype f32|f64", its inputs and parameters as fields,
 * and its expected outputs as "expect.NAME" fields (docs/losses.md lists the
 * names per family).  `loss` prints every case back with the expect.*
 * fields replaced by the library's values; `verify` compares them. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define MAXF 96
#define MAXO 8

typedef struct vcase {
    const char *name;
    size_t name_len, line;
    dpo_vec_field f[MAXF];
    int nf;
} vcase;

typedef struct vout {
    const char *name;
    double *v;
    size_t n;
} vout;

typedef struct vctx {
    const char *path;
    int print; /* loss: print the cases back */
    vcase c;
    int passed, failed, errors;
    char err[512];
} vctx;

static const dpo_vec_field *getf(const vcase *c, const char *key)
{
    int i;
    size_t k = strlen(key);
    for (i = 0; i < c->nf; i++)
        if (c->f[i].key_len == k && !memcmp(c->f[i].key, key, k))
            return &c->f[i];
    return NULL;
}

static int value_is(const dpo_vec_field *f, const char *w)
{
    return f && f->value_len == strlen(w) && !memcmp(f->value, w, f->value_len);
}

/* Array of a field (malloc'd, caller frees). */
static double *arr(vctx *x, const char *key, size_t *n)
{
    const dpo_vec_field *f = getf(&x->c, key);
    double *v;
    size_t cnt;
    if (!f) {
        snprintf(x->err, sizeof x->err, "%s:%zu: case '%.*s' lacks field '%s'", x->path, x->c.line,
                 (int)x->c.name_len, x->c.name, key);
        return NULL;
    }
    if (dpo_vec_numbers(NULL, 0, &cnt, f->value, f->value_len) != DPO_ERR_SIZE &&
        dpo_vec_numbers(NULL, 0, &cnt, f->value, f->value_len) != DPO_OK) {
        snprintf(x->err, sizeof x->err, "%s:%zu: bad number in '%s'", x->path, f->line, key);
        return NULL;
    }
    v = (double *)malloc((f->value_len / 2 + 1) * sizeof(double));
    if (!v || dpo_vec_numbers(v, f->value_len / 2 + 1, &cnt, f->value, f->value_len) != DPO_OK) {
        free(v);
        snprintf(x->err, sizeof x->err, "%s:%zu: bad number in '%s'", x->path, f->line, key);
        return NULL;
    }
    *n = cnt;
    return v;
}

static int scalar(vctx *x, const char *key, double *out)
{
    size_t n;
    double *v = arr(x, key, &n);
    if (!v)
        return -1;
    if (n != 1) {
        free(v);
        snprintf(x->err, sizeof x->err, "%s:%zu: field '%s' must hold one number", x->path, x->c.line, key);
        return -1;
    }
    *out = v[0];
    free(v);
    return 0;
}

/* Loads the named arrays, all of the same length n, as double, plus float
 * copies when f32. */
#define MAXIN 8
typedef struct inset {
    double *d[MAXIN];
    float *f[MAXIN];
    int k;
    size_t n;
} inset;

static void inset_free(inset *s)
{
    int i;
    for (i = 0; i < s->k; i++)
        free(s->d[i]), free(s->f[i]);
    s->k = 0;
}

static int load_inputs(vctx *x, inset *s, const char *const *names, int k, int f32)
{
    int i;
    size_t j;
    s->k = 0;
    for (i = 0; i < k; i++) {
        size_t n;
        double *v = arr(x, names[i], &n);
        if (!v) {
            inset_free(s);
            return -1;
        }
        s->d[i] = v;
        s->f[i] = NULL;
        s->k = i + 1;
        if (i == 0)
            s->n = n;
        if (n != s->n || n == 0) {
            snprintf(x->err, sizeof x->err, "%s:%zu: '%s' has %zu values, expected %zu", x->path, x->c.line,
                     names[i], n, s->n);
            inset_free(s);
            return -1;
        }
        if (f32) {
            s->f[i] = (float *)malloc(n * sizeof(float));
            if (!s->f[i]) {
                inset_free(s);
                return -1;
            }
            for (j = 0; j < n; j++) {
                s->f[i][j] = (float)v[j];
                if ((double)s->f[i][j] != v[j] && v[j] == v[j]) {
                    snprintf(x->err, sizeof x->err, "%s:%zu: '%s' value %zu is not a float32", x->path,
                             x->c.line, names[i], j);
                    inset_free(s);
                    return -1;
                }
            }
        }
    }
    return 0;
}

static int get_mode(vctx *x, dpo_logprob_mode *m)
{
    const dpo_vec_field *f = getf(&x->c, "mode");
    if (!f || value_is(f, "sum"))
        *m = DPO_LOGPROB_SUM;
    else if (value_is(f, "mean"))
        *m = DPO_LOGPROB_MEAN;
    else {
        snprintf(x->err, sizeof x->err, "%s:%zu: mode must be sum or mean", x->path, f->line);
        return -1;
    }
    return 0;
}

static void widen(double *d, const float *f, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        d[i] = f[i];
}

/* ----------------------------------------------------------- evaluation */

/* Output storage: scalars and gradient arrays. */
typedef struct outs {
    vout o[MAXO];
    int k;
    double s[MAXO];
    double *g[MAXO];
} outs;

static void out_scalar(outs *o, const char *name, double v)
{
    o->s[o->k] = v;
    o->o[o->k].name = name;
    o->o[o->k].v = &o->s[o->k];
    o->o[o->k].n = 1;
    o->g[o->k] = NULL;
    o->k++;
}

static double *out_array(outs *o, const char *name, size_t n)
{
    double *v = (double *)calloc(n, sizeof(double));
    o->o[o->k].name = name;
    o->o[o->k].v = v;
    o->o[o->k].n = n;
    o->g[o->k] = v;
    o->k++;
    return v;
}

static void outs_free(outs *o)
{
    int i;
    for (i = 0; i < o->k; i++)
        free(o->g[i]);
    o->k = 0;
}

static void out_pair(outs *o, const dpo_pair_result *r, const char *lw, const char *ll)
{
    out_scalar(o, "loss", r->loss);
    out_scalar(o, "z", r->z);
    out_scalar(o, lw, r->lr_w);
    out_scalar(o, ll, r->lr_l);
}

static int fam_is(const char *fam, size_t n, const char *w)
{
    return strlen(w) == n && !memcmp(fam, w, n);
}

/* Evaluates the case; fills o.  Returns 0, or -1 with x->err set. */
static int evaluate(vctx *x, outs *o)
{
    const dpo_vec_field *ff = getf(&x->c, "fn"), *dt = getf(&x->c, "dtype");
    const char *fam;
    size_t fl;
    int f32;
    dpo_status st = DPO_OK;
    inset in;
    dpo_logprob_mode mode;
    o->k = 0;
    in.k = 0;
    if (!ff || ff->value_len == 0) {
        snprintf(x->err, sizeof x->err, "%s:%zu: case without 'fn'", x->path, x->c.line);
        return -1;
    }
    fam = ff->value;
    for (fl = 0; fl < ff->value_len && fam[fl] != '.'; fl++)
        ;
    if (dt && !value_is(dt, "f32") && !value_is(dt, "f64")) {
        snprintf(x->err, sizeof x->err, "%s:%zu: dtype must be f32 or f64", x->path, dt->line);
        return -1;
    }
    f32 = value_is(dt, "f32");
    if (get_mode(x, &mode))
        return -1;
#define LOAD(...)                                                                       \
    do {                                                                                \
        static const char *const nm_[] = {__VA_ARGS__};                                 \
        if (load_inputs(x, &in, nm_, (int)(sizeof nm_ / sizeof nm_[0]), f32))           \
            return -1;                                                                  \
    } while (0)
#define SC(name, var)                                                                   \
    do {                                                                                \
        if (scalar(x, name, &(var))) {                                                  \
            inset_free(&in);                                                            \
            return -1;                                                                  \
        }                                                                               \
    } while (0)
    if (fam_is(fam, fl, "stepdpo")) {
        dpo_dpo_params p;
        dpo_pair_result r;
        double *gw, *gl;
        LOAD("x_w", "mu_w", "mu_ref_w", "x_l", "mu_l", "mu_ref_l");
        SC("beta", p.beta);
        SC("sigma", p.sigma);
        p.mode = mode;
        if (f32) {
            float *a = (float *)malloc(in.n * sizeof(float)), *b = (float *)malloc(in.n * sizeof(float));
            st = dpo_stepdpo_f32(&r, a, b, in.f[0], in.f[1], in.f[2], in.f[3], in.f[4], in.f[5], in.n, p);
            if (!st) {
                out_pair(o, &r, "lr_w", "lr_l");
                widen(out_array(o, "grad_mu_w", in.n), a, in.n);
                widen(out_array(o, "grad_mu_l", in.n), b, in.n);
            }
            free(a), free(b);
        } else {
            dpo_pair_result rr;
            gw = (double *)malloc(in.n * sizeof(double));
            gl = (double *)malloc(in.n * sizeof(double));
            st = dpo_stepdpo_f64(&rr, gw, gl, in.d[0], in.d[1], in.d[2], in.d[3], in.d[4], in.d[5], in.n, p);
            if (!st) {
                out_pair(o, &rr, "lr_w", "lr_l");
                memcpy(out_array(o, "grad_mu_w", in.n), gw, in.n * sizeof(double));
                memcpy(out_array(o, "grad_mu_l", in.n), gl, in.n * sizeof(double));
            }
            free(gw), free(gl);
        }
    } else if (fam_is(fam, fl, "d3po_code")) {
        dpo_clip_params p;
        dpo_pair_result r;
        double lab;
        LOAD("x_0", "mu_0", "mu_ref_0", "x_1", "mu_1", "mu_ref_1");
        SC("beta", p.beta);
        SC("clip_eps", p.clip_eps);
        SC("sigma", p.sigma);
        SC("label", lab);
        p.mode = getf(&x->c, "mode") ? mode : DPO_LOGPROB_MEAN;
        {
            double *a = out_array(o, "grad_mu_0", in.n), *b = out_array(o, "grad_mu_1", in.n);
            if (f32) {
                float *fa = (float *)malloc(in.n * sizeof(float)), *fb = (float *)malloc(in.n * sizeof(float));
                st = dpo_d3po_code_f32(&r, fa, fb, in.f[0], in.f[1], in.f[2], in.f[3], in.f[4], in.f[5], in.n,
                                       (int)lab, p);
                if (!st)
                    widen(a, fa, in.n), widen(b, fb, in.n);
                free(fa), free(fb);
            } else
                st = dpo_d3po_code_f64(&r, a, b, in.d[0], in.d[1], in.d[2], in.d[3], in.d[4], in.d[5], in.n,
                                       (int)lab, p);
            if (!st)
                out_pair(o, &r, "lr_0", "lr_1");
        }
    } else if (fam_is(fam, fl, "tailorpo") || fam_is(fam, fl, "rdpo_printed") || fam_is(fam, fl, "rdpo_intended")) {
        dpo_rdpo_params p;
        dpo_pair_result r;
        LOAD("x_w", "x_l", "mu", "mu_ref");
        SC("beta", p.beta);
        SC("sigma", p.sigma);
        p.lambda = 0;
        if (!fam_is(fam, fl, "tailorpo"))
            SC("lambda", p.lambda);
        p.mode = mode;
        p.variant = fam_is(fam, fl, "rdpo_intended") ? DPO_RDPO_INTENDED : DPO_RDPO_PRINTED;
        {
            double *g = out_array(o, "grad_mu", in.n);
            if (f32) {
                float *fg = (float *)malloc(in.n * sizeof(float));
                st = dpo_rdpo_f32(&r, fg, in.f[0], in.f[1], in.f[2], in.f[3], in.n, p);
                if (!st)
                    widen(g, fg, in.n);
                free(fg);
            } else
                st = dpo_rdpo_f64(&r, g, in.d[0], in.d[1], in.d[2], in.d[3], in.n, p);
            if (!st)
                out_pair(o, &r, "lr_w", "lr_l");
        }
    } else if (fam_is(fam, fl, "diffdpo") || fam_is(fam, fl, "dspo_paper") || fam_is(fam, fl, "dspo_code") ||
               fam_is(fam, fl, "dspo_paper_sg") || fam_is(fam, fl, "dspo_code_sg")) {
        dpo_pair_result r;
        int dspo = !fam_is(fam, fl, "diffdpo"), sg = fl > 3 && !memcmp(fam + fl - 3, "_sg", 3);
        dpo_eps_params ep;
        dpo_dspo_params dp;
        LOAD("eps_w", "eps_l", "eth_w", "eref_w", "eth_l", "eref_l");
        if (!dspo) {
            SC("beta", ep.beta);
            ep.mode = getf(&x->c, "mode") ? mode : DPO_LOGPROB_MEAN;
        } else if (!memcmp(fam, "dspo_paper", 10)) {
            double lam, ct;
            SC("lambda", lam);
            SC("c_t", ct);
            dp = dpo_dspo_params_paper(lam, ct, sg);
        } else {
            double b;
            SC("beta", b);
            dp = dpo_dspo_params_code(b, sg);
        }
        {
            double *a = out_array(o, "grad_w", in.n), *b = out_array(o, "grad_l", in.n);
            if (f32) {
                float *fa = (float *)malloc(in.n * sizeof(float)), *fb = (float *)malloc(in.n * sizeof(float));
                st = dspo ? dpo_dspo_f32(&r, fa, fb, in.f[0], in.f[1], in.f[2], in.f[3], in.f[4], in.f[5], in.n, dp)
                          : dpo_diffdpo_f32(&r, fa, fb, in.f[0], in.f[1], in.f[2], in.f[3], in.f[4], in.f[5], in.n,
                                            ep);
                if (!st)
                    widen(a, fa, in.n), widen(b, fb, in.n);
                free(fa), free(fb);
            } else
                st = dspo ? dpo_dspo_f64(&r, a, b, in.d[0], in.d[1], in.d[2], in.d[3], in.d[4], in.d[5], in.n, dp)
                          : dpo_diffdpo_f64(&r, a, b, in.d[0], in.d[1], in.d[2], in.d[3], in.d[4], in.d[5], in.n,
                                            ep);
            if (!st)
                out_pair(o, &r, "d_w", "d_l");
        }
    } else if (fam_is(fam, fl, "tailorpo_g_eta")) {
        double i, T, lo, hi, eta = 0;
        SC("i", i);
        SC("T", T);
        SC("eta_min", lo);
        SC("eta_max", hi);
        st = dpo_tailorpo_g_eta(&eta, i, T, lo, hi);
        if (!st)
            out_scalar(o, "eta", eta);
    } else if (fam_is(fam, fl, "tailorpo_g_vjp") || fam_is(fam, fl, "tailorpo_g_noeps")) {
        dpo_guide_params p;
        double sg;
        int vj = fam_is(fam, fl, "tailorpo_g_vjp");
        if (vj)
            LOAD("x", "g", "vjp");
        else
            LOAD("x", "g");
        SC("eta", p.eta);
        SC("delta", p.delta);
        SC("alpha", p.alpha);
        SC("sign", sg);
        p.sign = (int)sg;
        p.jac = vj ? DPO_GUIDE_VJP : DPO_GUIDE_NO_EPS;
        {
            double *xp = out_array(o, "x_plus", in.n);
            if (f32) {
                float *fx = (float *)malloc(in.n * sizeof(float));
                st = dpo_tailorpo_g_update_f32(fx, in.f[0], in.f[1], vj ? in.f[2] : NULL, in.n, p);
                if (!st)
                    widen(xp, fx, in.n);
                free(fx);
            } else
                st = dpo_tailorpo_g_update_f64(xp, in.d[0], in.d[1], vj ? in.d[2] : NULL, in.n, p);
        }
    } else if (fam_is(fam, fl, "spo_select")) {
        dpo_spo_params p;
        double t, kap;
        int b, w, v;
        LOAD("score");
        SC("t", t);
        SC("thr", p.thr);
        SC("kappa", kap);
        p.kappa = (int)kap;
        st = dpo_spo_select(&b, &w, &v, in.d[0], in.n, (int)t, p);
        if (!st) {
            out_scalar(o, "best", b);
            out_scalar(o, "worst", w);
            out_scalar(o, "valid", v);
        }
    } else if (fam_is(fam, fl, "spo_resample")) {
        double seed, sample, step, k;
        uint32_t idx;
        SC("seed", seed);
        SC("sample", sample);
        SC("step", step);
        SC("k", k);
        st = dpo_spo_resample_index(&idx, (uint64_t)seed, (uint32_t)sample, (uint32_t)step, (uint32_t)k);
        if (!st)
            out_scalar(o, "index", idx);
    } else if (fam_is(fam, fl, "rank")) {
        int *ord;
        size_t j;
        LOAD("reward");
        ord = (int *)malloc(in.n * sizeof(int));
        st = dpo_rank_desc(ord, in.d[0], in.n);
        if (!st) {
            double *v = out_array(o, "order", in.n);
            for (j = 0; j < in.n; j++)
                v[j] = ord[j];
        }
        free(ord);
    } else {
        snprintf(x->err, sizeof x->err, "%s:%zu: unknown fn '%.*s'", x->path, ff->line, (int)ff->value_len,
                 ff->value);
        return -1;
    }
#undef LOAD
#undef SC
    inset_free(&in);
    if (st) {
        outs_free(o);
        snprintf(x->err, sizeof x->err, "%s:%zu: case '%.*s': %s", x->path, x->c.line, (int)x->c.name_len,
                 x->c.name, dpo_status_str(st));
        return -1;
    }
    return 0;
}

/* ulp of |v| in double or float */
static double ulp_of(double v, int f32)
{
    int e;
    double a = fabs(v);
    if (f32) {
        if (a < 1.1754943508222875e-38)
            return 1.4012984643248171e-45;
        frexp(a, &e);
        return ldexp(1.0, e - 24);
    }
    if (a < 2.2250738585072014e-308)
        return 4.9406564584124654e-324;
    frexp(a, &e);
    return ldexp(1.0, e - 53);
}

/* Compares one output: every element within tol ulps of the largest
 * magnitude of the expected array (normwise), tol from "tol.NAME" or
 * "tol" or the default (4 for f64, 2 for f32). */
static int compare(vctx *x, const vout *o, const double *e, size_t ne, int f32, double *worst)
{
    size_t i;
    double emax = 0, tol = f32 ? 2.0 : 4.0, u;
    char key[64];
    const dpo_vec_field *tf;
    snprintf(key, sizeof key, "tol.%s", o->name);
    tf = getf(&x->c, key);
    if (!tf)
        tf = getf(&x->c, "tol");
    if (tf) {
        size_t c;
        if (dpo_vec_numbers(&tol, 1, &c, tf->value, tf->value_len) || c != 1)
            return -1;
    }
    if (ne != o->n)
        return 0;
    for (i = 0; i < ne; i++)
        if (fabs(e[i]) > emax)
            emax = fabs(e[i]);
    u = ulp_of(emax, f32);
    *worst = 0;
    for (i = 0; i < ne; i++) {
        double d = fabs(o->v[i] - e[i]) / u;
        if (!(d <= *worst))
            *worst = d;
    }
    return *worst <= tol;
}

static void print_values(const double *v, size_t n, int f32)
{
    size_t i;
    for (i = 0; i < n; i++)
        printf("%s%a", i ? " " : "", f32 ? (double)(float)v[i] : v[i]);
    printf("  # ");
    for (i = 0; i < n && i < 8; i++)
        printf("%s%.17g", i ? " " : "", v[i]);
    if (n > 8)
        printf(" ...");
    printf("\n");
}

static int on_event(void *user, dpo_vec_event ev, const dpo_vec_field *f)
{
    vctx *x = (vctx *)user;
    if (ev == DPO_VEC_BEGIN) {
        x->c.name = f->value;
        x->c.name_len = f->value_len;
        x->c.line = f->line;
        x->c.nf = 0;
        return 0;
    }
    if (ev == DPO_VEC_FIELD) {
        if (x->c.nf >= MAXF) {
            snprintf(x->err, sizeof x->err, "%s:%zu: too many fields in a case", x->path, f->line);
            return 1;
        }
        x->c.f[x->c.nf++] = *f;
        return 0;
    }
    {
        outs o;
        int i, ok = 1, f32 = value_is(getf(&x->c, "dtype"), "f32");
        x->err[0] = '\0';
        if (evaluate(x, &o)) {
            if (x->print)
                return 1;
            fprintf(stderr, "FAIL %s\n", x->err);
            x->failed++;
            x->errors++;
            return 0;
        }
        if (x->print)
            printf("case %.*s\n", (int)x->c.name_len, x->c.name);
        for (i = 0; i < x->c.nf; i++) {
            const dpo_vec_field *g = &x->c.f[i];
            if (g->key_len > 7 && !memcmp(g->key, "expect.", 7)) {
                int j;
                for (j = 0; j < o.k; j++)
                    if (strlen(o.o[j].name) == g->key_len - 7 && !memcmp(o.o[j].name, g->key + 7, g->key_len - 7))
                        break;
                if (j == o.k) {
                    if (!x->print)
                        fprintf(stderr, "FAIL %s:%zu: '%.*s' is not an output of this fn\n", x->path, g->line,
                                (int)g->key_len, g->key);
                    ok = 0;
                    if (x->print)
                        printf("%.*s %.*s\n", (int)g->key_len, g->key, (int)g->value_len, g->value);
                    continue;
                }
                if (x->print) {
                    printf("%.*s ", (int)g->key_len, g->key);
                    print_values(o.o[j].v, o.o[j].n, f32);
                } else {
                    size_t ne = 0;
                    double *e = (double *)malloc((g->value_len / 2 + 1) * sizeof(double)), worst = 0;
                    int r = e ? dpo_vec_numbers(e, g->value_len / 2 + 1, &ne, g->value, g->value_len) : -1;
                    int c = r == 0 ? compare(x, &o.o[j], e, ne, f32, &worst) : -1;
                    if (c != 1) {
                        fprintf(stderr, "FAIL %s:%zu: case '%.*s' %.*s: %s (worst %.3g ulp)\n", x->path, g->line,
                                (int)x->c.name_len, x->c.name, (int)g->key_len, g->key,
                                c < 0 ? "malformed value or tolerance" : "mismatch", worst);
                        ok = 0;
                    }
                    free(e);
                }
            } else if (x->print)
                printf("%.*s %.*s\n", (int)g->key_len, g->key, (int)g->value_len, g->value);
        }
        if (x->print)
            printf("end\n\n");
        else if (ok)
            x->passed++;
        else
            x->failed++;
        outs_free(&o);
    }
    return 0;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
        fclose(fp);
        snprintf(err, errlen, "%s: cannot size the file", path);
        return NULL;
    }
    buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Runs one file; returns 0, or -1 after printing a one-line error. */
static int run_file(vctx *x, const char *cmd)
{
    size_t len, line = 0;
    const char *msg = NULL;
    char err[512];
    char *buf = slurp(x->path, &len, err, sizeof err);
    dpo_status st;
    if (!buf) {
        cli_fail(cmd, "%s", err);
        return -1;
    }
    st = dpo_vec_parse(buf, len, on_event, x, &line, &msg);
    free(buf);
    if (st == DPO_ERR_MODEL) {
        cli_fail(cmd, "%s", x->err);
        return -1;
    }
    if (st) {
        cli_fail(cmd, "%s:%zu: %s", x->path, line, msg ? msg : dpo_status_str(st));
        return -1;
    }
    return 0;
}

int cmd_loss(int argc, char **argv)
{
    vctx *x;
    int rc;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: diffpo loss FILE.vec\n  prints every case with the library's outputs in the expect.* fields\n");
        return 0;
    }
    if (argc != 2)
        return cli_fail("loss", "usage: diffpo loss FILE.vec");
    x = (vctx *)calloc(1, sizeof *x);
    if (!x)
        return cli_fail("loss", "out of memory");
    x->path = argv[1];
    x->print = 1;
    rc = run_file(x, "loss") ? 2 : 0;
    free(x);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_verify(int argc, char **argv)
{
    const char *dir = "vectors";
    DIR *d;
    struct dirent *de;
    char *names[4096];
    int nn = 0, i, bad = 0;
    vctx *x;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: diffpo verify [DIR]   (default vectors/): checks every DIR/*.vec\n");
        return 0;
    }
    if (argc > 2)
        return cli_fail("verify", "usage: diffpo verify [DIR]");
    if (argc == 2)
        dir = argv[1];
    d = opendir(dir);
    if (!d)
        return cli_fail("verify", "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL && nn < 4096) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".vec")) {
            names[nn] = (char *)malloc(strlen(dir) + l + 2);
            if (!names[nn])
                break;
            sprintf(names[nn], "%s/%s", dir, de->d_name);
            nn++;
        }
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof names[0], cmp_str);
    x = (vctx *)calloc(1, sizeof *x);
    if (!x)
        return cli_fail("verify", "out of memory");
    if (nn == 0) {
        fprintf(stderr, "FAIL no vector files (*.vec) in %s\n", dir);
        bad = 1;
    }
    for (i = 0; i < nn; i++) {
        int before = x->failed;
        x->path = names[i];
        if (run_file(x, "verify"))
            bad = 1;
        printf("%s %s\n", x->failed == before ? "ok  " : "FAIL", names[i]);
        free(names[i]);
    }
    printf("%d passed, %d failed\n", x->passed, x->failed + bad);
    i = x->failed || bad;
    free(x);
    return i ? 1 : 0;
}
