/* CPU drivers of the epsilon-error losses: Diffusion-DPO (DSPO eq. 7,
 * Wallace et al.) and DSPO (eq. 11, 13, 14, appendix B; public code form).
 * Element math: src/core/dpo_loss.h. */
#include "diffpo.h"
#include "core/dpo_loss.h"
#include "core/dpo_rules.h"
#include "internal.h"
#include "cpu_simd_model.h"

static int finite_arr(const void *p, int f32, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinite(dpo_ld(p, f32, i)))
            return 0;
    return 1;
}

/* 6 inputs (eps_w, eps_l, eth_w, eref_w, eth_l, eref_l), 2 optional outputs. */
static dpo_status check6(const void *const *in, void *gw, void *gl, size_t n, int f32)
{
    int i;
    size_t bytes = n * (f32 ? sizeof(float) : sizeof(double));
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    for (i = 0; i < 6; i++)
        if (!in[i])
            return DPO_ERR_NULL;
    for (i = 0; i < 6; i++)
        if (dpo_overlap(gw, bytes, in[i], bytes) || dpo_overlap(gl, bytes, in[i], bytes))
            return DPO_ERR_ALIAS;
    if (dpo_overlap(gw, bytes, gl, bytes))
        return DPO_ERR_ALIAS;
    for (i = 0; i < 6; i++)
        if (!finite_arr(in[i], f32, n))
            return DPO_ERR_NONFINITE;
    return DPO_OK;
}

/* sum_i (eth - eref)((eth - eps) + (eref - eps)), canonical */
/* (the dpo_sum_add loop's bits, terms and leaves in the CPU level's vector
 * form: src/cpu_simd_model.h) */
static double err_sum(const void *eps, const void *eth, const void *eref, size_t n, int f32)
{
    return dpo__simd_err_sum(eps, eth, eref, n, f32, dpo_simd_level());
}

/* g[i] = coef * (eth[i] - eps[i]) */
static void grad_err(void *g, const void *eth, const void *eps, size_t n, double coef, int f32)
{
    if (g) /* the element loop in the CPU level's vector form (src/cpu_simd_model.h) */
        dpo__simd_grad_diff(g, eth, eps, n, coef, f32, dpo_simd_level());
}

/* ---------------------------------------------------------- Diffusion-DPO */

static dpo_status diffdpo(dpo_pair_result *res, void *gw, void *gl, const void *const *in, size_t n,
                          dpo_eps_params p, int f32)
{
    dpo_status st;
    dpo_pair_result r;
    double c;
    if (!res)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_eps_params_status(p)) != DPO_OK)
        return st;
    if ((st = check6(in, gw, gl, n, f32)) != DPO_OK)
        return st;
    dpo_diffdpo_scalars(&r, &c, err_sum(in[0], in[2], in[3], n, f32), err_sum(in[1], in[4], in[5], n, f32),
                        (double)n, p);
    grad_err(gw, in[2], in[0], n, c, f32);
    grad_err(gl, in[4], in[1], n, -c, f32);
    *res = r;
    return DPO_OK;
}

dpo_status dpo_diffdpo_f32(dpo_pair_result *res, float *g_w, float *g_l, const float *eps_w, const float *eps_l,
                           const float *eth_w, const float *eref_w, const float *eth_l, const float *eref_l,
                           size_t n, dpo_eps_params p)
{
    const void *in[6];
    in[0] = eps_w, in[1] = eps_l, in[2] = eth_w, in[3] = eref_w, in[4] = eth_l, in[5] = eref_l;
    return diffdpo(res, g_w, g_l, in, n, p, 1);
}

dpo_status dpo_diffdpo_f64(dpo_pair_result *res, double *g_w, double *g_l, const double *eps_w,
                           const double *eps_l, const double *eth_w, const double *eref_w, const double *eth_l,
                           const double *eref_l, size_t n, dpo_eps_params p)
{
    const void *in[6];
    in[0] = eps_w, in[1] = eps_l, in[2] = eth_w, in[3] = eref_w, in[4] = eth_l, in[5] = eref_l;
    return diffdpo(res, g_w, g_l, in, n, p, 0);
}

/* ------------------------------------------------------------------- DSPO */

dpo_dspo_params dpo_dspo_params_paper(double lambda, double c_t, int stopgrad)
{
    dpo_dspo_params p;
    p.weight = lambda;
    p.beta_u = lambda * c_t;
    p.mode = DPO_LOGPROB_SUM;
    p.stopgrad = stopgrad;
    return p;
}

dpo_dspo_params dpo_dspo_params_code(double beta, int stopgrad)
{
    dpo_dspo_params p;
    p.weight = beta;
    p.beta_u = beta;
    p.mode = DPO_LOGPROB_MEAN;
    p.stopgrad = stopgrad;
    return p;
}

static dpo_status dspo(dpo_pair_result *res, void *gw, void *gl, const void *const *in, size_t n,
                       dpo_dspo_params p, int f32)
{
    dpo_status st;
    dpo_pair_result r;
    double sp, c, cd, cw;
    dpo_sum s1, s2;
    size_t i;
    if (!res)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_dspo_params_status(p)) != DPO_OK)
        return st;
    if ((st = check6(in, gw, gl, n, f32)) != DPO_OK)
        return st;
    c = dpo_dspo_pre(&r, &sp, err_sum(in[0], in[2], in[3], n, f32), err_sum(in[1], in[4], in[5], n, f32),
                     (double)n, p);
    /* v_i = (e_th - eps) - c (e_th - e_ref);  L = N(sum v^2) */
    dpo_sum_init(&s1);
    dpo_sum_init(&s2);
    for (i = 0; i < n; i++) {
        double pp;
        double v = dpo_dspo_v(&pp, dpo_ld(in[0], f32, i), dpo_ld(in[2], f32, i), dpo_ld(in[3], f32, i), c);
        dpo_sum_add(&s1, v * v);
        dpo_sum_add(&s2, v * pp);
    }
    dpo_dspo_post(&r, &cd, &cw, dpo_sum_result(&s1), dpo_sum_result(&s2), c, sp, (double)n, p);
    if (gw)
        for (i = 0; i < n; i++)
            dpo_st(gw, f32, i, dpo_dspo_gw_elem(dpo_ld(in[0], f32, i), dpo_ld(in[2], f32, i),
                                                dpo_ld(in[3], f32, i), c, cd, cw));
    grad_err(gl, in[4], in[1], n, -cw, f32);
    *res = r;
    return DPO_OK;
}

dpo_status dpo_dspo_f32(dpo_pair_result *res, float *g_w, float *g_l, const float *eps_w, const float *eps_l,
                        const float *eth_w, const float *eref_w, const float *eth_l, const float *eref_l, size_t n,
                        dpo_dspo_params p)
{
    const void *in[6];
    in[0] = eps_w, in[1] = eps_l, in[2] = eth_w, in[3] = eref_w, in[4] = eth_l, in[5] = eref_l;
    return dspo(res, g_w, g_l, in, n, p, 1);
}

dpo_status dpo_dspo_f64(dpo_pair_result *res, double *g_w, double *g_l, const double *eps_w, const double *eps_l,
                        const double *eth_w, const double *eref_w, const double *eth_l, const double *eref_l,
                        size_t n, dpo_dspo_params p)
{
    const void *in[6];
    in[0] = eps_w, in[1] = eps_l, in[2] = eth_w, in[3] = eref_w, in[4] = eth_l, in[5] = eref_l;
    return dspo(res, g_w, g_l, in, n, p, 0);
}
