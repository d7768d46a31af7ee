/* Shared element math of the preference losses (docs/losses.md).
 *
 * Compiled by the C compiler for the CPU drivers (src/loss_*.c) and by nvcc
 * for kernels: DPO_HD functions, no libm transcendentals (dpo_pmath.h), no
 * contraction.  Every per-element quantity is formed in double from the
 * stored inputs (float32 inputs are widened exactly), summed in the
 * canonical tree (dpo_reduce.h), and only the final per-element outputs are
 * rounded to the storage type.
 *
 * Log-ratios are never formed as the difference of two log-densities:
 *   ||x - m_ref||^2 - ||x - m||^2 = sum_i (m_i - mref_i) ((x_i - m_i) + (x_i - mref_i))
 * so that neither the large common terms (-d log sigma, -(d/2) log 2 pi)
 * nor the two large squared norms are ever subtracted. */
#ifndef DPO_LOSS_CORE_H
#define DPO_LOSS_CORE_H

#include "dpo_pmath.h"
#include "dpo_reduce.h"
#include "../../include/diffpo.h"

/* ---- loads and stores of float32 / float64 tensors (f32 != 0: float) */
DPO_HD double dpo_ld(const void *p, int f32, size_t i)
{
    return f32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

DPO_HD void dpo_st(void *p, int f32, size_t i, double v)
{
    if (f32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

/* ---- Gaussian step policy */

/* One element of ||x - mref||^2 - ||x - m||^2 (= 2 sigma^2 times the
 * element's share of log pi_theta(x) - log pi_ref(x)). */
DPO_HD double dpo_lr_term(double x, double m, double mref)
{
    return (m - mref) * ((x - m) + (x - mref));
}

/* One element of (||x_l - m||^2 - ||x_l - mref||^2) - (||x_w - m||^2 - ...)
 * for a shared parent (m, mref): 2 (m - mref)(x_w - x_l); the factor 2
 * is applied by the caller (dpo_lr_finish with scale 1). */
DPO_HD double dpo_lr_shared_term(double xw, double xl, double m, double mref)
{
    return (m - mref) * (xw - xl);
}

/* From a canonical sum S of dpo_lr_term over d elements to the log-ratio:
 *   sum form:  S / (2 sigma^2)
 *   mean form: (S / (2 sigma^2)) / d
 * two_var = 2 sigma^2 (or sigma^2 for the shared form's sum). */
DPO_HD double dpo_lr_finish(double S, double two_var, double d, int mean)
{
    double r = S / two_var;
    return mean ? r / d : r;
}

/* d log pi(x)/d mu = (x - mu) / sigma^2 (sum) or that / d (mean): the
 * per-element gradient scale is coef = (dL/dlr) / sigma^2 [/ d]. */
DPO_HD double dpo_lr_grad_coef(double dl_dlr, double var, double d, int mean)
{
    double c = dl_dlr / var;
    return mean ? c / d : c;
}

/* ---- sigmoid-loss scalars */

/* -log sigma(z) = softplus(-z); d/dz = -sigma(-z). */
DPO_HD double dpo_nls(double z)
{
    return dpo_softplus(-z);
}

/* d3po-code clamp: log(clamp(exp(lr), 1-eps, 1+eps)) and its derivative
 * (1 inside the closed interval, 0 outside). */
DPO_HD double dpo_clamp_logratio(double lr, double lo_log, double hi_log, double lo, double hi, int *inside)
{
    double r = dpo_exp(lr);
    if (r < lo) {
        *inside = 0;
        return lo_log;
    }
    if (r > hi) {
        *inside = 0;
        return hi_log;
    }
    *inside = 1;
    return lr;
}

/* ---- epsilon-error forms (Diffusion-DPO, DSPO) */

/* One element of (e_th - eps)^2 - (e_ref - eps)^2
 *   = (e_th - e_ref) ((e_th - eps) + (e_ref - eps)). */
DPO_HD double dpo_err_diff_term(double eps, double eth, double eref)
{
    return (eth - eref) * ((eth - eps) + (eref - eps));
}

/* ---- TailorPO-G guidance, one element:
 *   x+ = x - sign * eta * d/dx (r_high - r_t(x))^2,  r_high = r_t(x) + delta held fixed
 *      = x + sign * 2 eta delta * (g - sqrt(1-a) vjp) / sqrt(a),
 * g = grad_x0 r at x0_hat(x), vjp = (d eps/d x)^T g (0: the d eps/dx = 0
 * approximation). */
DPO_HD double dpo_guide_elem(double x, double g, double vjp, double scale, double sqrt_beta, double sqrt_alpha)
{
    return x + scale * ((g - sqrt_beta * vjp) / sqrt_alpha);
}


/* ---- per-element gradient bodies (written once for CPU and GPU) */

/* coef * (a - b): the gradient element of every log-ratio / error form. */
DPO_HD double dpo_grad_diff(double coef, double a, double b)
{
    return coef * (a - b);
}

/* Shared-parent gradient element cw (x_w - mu) + cl (x_l - mu); when
 * cl == -cw (TailorPO, eq. 21) exactly cw (x_w - x_l). */
DPO_HD double dpo_grad2_elem(double xw, double xl, double m, double cw, double cl)
{
    if (cl == -cw)
        return cw * (xw - xl);
    return cw * (xw - m) + cl * (xl - m);
}

/* ---- scalar parts of the losses, from canonical sums (one thread on the
 * GPU, the driver's tail on the CPU).  S* are canonical sums of the
 * element terms named in each function. */

/* loss, z and sigma(-z) of L = -log sigma(z). */
DPO_HD void dpo_pair_sigmoid(dpo_pair_result *r, double z)
{
    r->z = z;
    r->loss = dpo_nls(z);
    r->sig_neg = dpo_sigmoid(-z);
}

/* Step DPO from Sw, Sl = sums of dpo_lr_term over winner and loser;
 * cw, cl: gradient coefficients (g = c (x - mu)). */
DPO_HD void dpo_stepdpo_scalars(dpo_pair_result *r, double *cw, double *cl, double Sw, double Sl, double n,
                                dpo_pair_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN;
    double var = p.sigma * p.sigma;
    r->lr_w = dpo_lr_finish(Sw, 2.0 * (p.sigma * p.sigma), n, mean);
    r->lr_l = dpo_lr_finish(Sl, 2.0 * (p.sigma * p.sigma), n, mean);
    dpo_pair_sigmoid(r, p.beta * (r->lr_w - r->lr_l));
    r->dl_dlr_w = -p.beta * r->sig_neg;
    r->dl_dlr_l = p.beta * r->sig_neg;
    *cw = dpo_lr_grad_coef(r->dl_dlr_w, var, n, mean);
    *cl = dpo_lr_grad_coef(r->dl_dlr_l, var, n, mean);
}

/* d3po public code from S0, S1 = sums of dpo_lr_term of samples 0 and 1. */
DPO_HD void dpo_d3po_code_scalars(dpo_pair_result *r, double *c0, double *c1, double S0, double S1, double n,
                                  int label, dpo_clip_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN, in0, in1;
    double var = p.sigma * p.sigma;
    double lo = 1.0 - p.clip_eps, hi = 1.0 + p.clip_eps;
    double lo_log = dpo_log(lo), hi_log = dpo_log(hi);
    double h0 = (double)label, h1 = -(double)label;
    double l0, l1;
    r->lr_w = dpo_lr_finish(S0, 2.0 * (p.sigma * p.sigma), n, mean);
    r->lr_l = dpo_lr_finish(S1, 2.0 * (p.sigma * p.sigma), n, mean);
    l0 = dpo_clamp_logratio(r->lr_w, lo_log, hi_log, lo, hi, &in0);
    l1 = dpo_clamp_logratio(r->lr_l, lo_log, hi_log, lo, hi, &in1);
    dpo_pair_sigmoid(r, p.beta * (h0 * l0 + h1 * l1));
    /* dL/dlr_k = -sigma(-z) beta h_k [inside_k]; exact zeros for ties */
    r->dl_dlr_w = in0 && label ? -r->sig_neg * p.beta * h0 : 0.0;
    r->dl_dlr_l = in1 && label ? -r->sig_neg * p.beta * h1 : 0.0;
    *c0 = dpo_lr_grad_coef(r->dl_dlr_w, var, n, mean);
    *c1 = dpo_lr_grad_coef(r->dl_dlr_l, var, n, mean);
}

/* RDPO / TailorPO (shared parent) from Sw, Sl = sums of dpo_lr_term of
 * x_w and x_l against (mu, mu_ref) and Sd = sum of dpo_lr_shared_term;
 * gradient element dpo_grad2_elem(.., cw, cl). */
DPO_HD void dpo_rdpo_scalars(dpo_pair_result *r, double *cw, double *cl, double Sw, double Sl, double Sd, double n,
                             dpo_rdpo_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN, active;
    double var = p.sigma * p.sigma, diff, z, dpsi;
    r->lr_w = dpo_lr_finish(Sw, 2.0 * (p.sigma * p.sigma), n, mean);
    r->lr_l = dpo_lr_finish(Sl, 2.0 * (p.sigma * p.sigma), n, mean);
    diff = dpo_lr_finish(Sd, p.sigma * p.sigma, n, mean);
    z = p.beta * diff;
    /* Psi = min(0, -lr_l): active (= -lr_l) only when lr_l > 0 */
    active = p.lambda > 0 && r->lr_l > 0;
    if (active) {
        /* printed: z = delta - lambda Psi = delta + lambda lr_l
         * intended: z = delta + lambda Psi = delta - lambda lr_l */
        z = p.variant == DPO_RDPO_PRINTED ? z + p.lambda * r->lr_l : z - p.lambda * r->lr_l;
    }
    dpo_pair_sigmoid(r, z);
    dpsi = active ? (p.variant == DPO_RDPO_PRINTED ? p.lambda : -p.lambda) : 0.0;
    r->dl_dlr_w = -r->sig_neg * p.beta;
    r->dl_dlr_l = -r->sig_neg * (dpsi - p.beta);
    *cw = dpo_lr_grad_coef(r->dl_dlr_w, var, n, mean);
    *cl = active ? dpo_lr_grad_coef(r->dl_dlr_l, var, n, mean) : -*cw;
}

/* Diffusion-DPO from Sw, Sl = sums of dpo_err_diff_term; c: gradient
 * coefficient, g_w = c (e_th,w - eps_w), g_l = -c (e_th,l - eps_l). */
DPO_HD void dpo_diffdpo_scalars(dpo_pair_result *r, double *c, double Sw, double Sl, double n, dpo_eps_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN;
    double u, k;
    r->lr_w = mean ? Sw / n : Sw;
    r->lr_l = mean ? Sl / n : Sl;
    u = -(0.5 * p.beta) * (r->lr_w - r->lr_l);
    r->z = u;
    r->loss = dpo_nls(u);
    r->sig_neg = dpo_sigmoid(-u);
    r->dl_dlr_w = r->sig_neg * (0.5 * p.beta);
    r->dl_dlr_l = -r->dl_dlr_w;
    /* dD/de_th = 2 (e_th - eps) [/ n]:  coefficient beta sigma(-u) [/ n] */
    k = p.beta * r->sig_neg;
    if (mean)
        k = k / n;
    *c = k;
}

/* DSPO, first part: from Sw, Sl = sums of dpo_err_diff_term, the scalars
 * the second pass needs: c = w sigma(-u) (returned), *sp = sigma(u). */
DPO_HD double dpo_dspo_pre(dpo_pair_result *r, double *sp, double Sw, double Sl, double n, dpo_dspo_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN;
    double u, sn;
    r->lr_w = mean ? Sw / n : Sw;
    r->lr_l = mean ? Sl / n : Sl;
    u = -(0.5 * p.beta_u) * (r->lr_w - r->lr_l);
    sn = dpo_sigmoid(-u); /* 1 - sigma(u) */
    *sp = dpo_sigmoid(u);
    r->z = u;
    r->sig_neg = sn;
    return p.weight * sn;
}

/* DSPO element: v = (e_th - eps) - c (e_th - e_ref); *pp = e_th - e_ref.
 * Terms of the second pass: v v and v pp. */
DPO_HD double dpo_dspo_v(double *pp, double e, double th, double rf, double c)
{
    double q = th - rf;
    *pp = q;
    return (th - e) - c * q;
}

/* DSPO, second part: from Svv = sum v^2 and Svp = sum v pp, the loss,
 * dL/dD and the gradient coefficients: g_w = cd v + cw (e_th,w - eps_w),
 * g_l = -cw (e_th,l - eps_l). */
DPO_HD void dpo_dspo_post(dpo_pair_result *r, double *cd, double *cw, double Svv, double Svp, double c, double sp,
                          double n, dpo_dspo_params p)
{
    int mean = p.mode == DPO_LOGPROB_MEAN;
    double dldD, k2;
    r->loss = mean ? Svv / n : Svv;
    /* dL/dc = -2 N(sum v p); dc/du = -w sigma(u) sigma(-u); du/dD_w = -beta_u/2 */
    if (p.stopgrad)
        dldD = 0.0;
    else {
        double dldc = -2.0 * (mean ? Svp / n : Svp);
        dldD = dldc * (p.weight * (sp * r->sig_neg)) * (0.5 * p.beta_u);
    }
    r->dl_dlr_w = dldD;
    r->dl_dlr_l = -dldD;
    k2 = mean ? 2.0 / n : 2.0; /* dN(.)/d(elem) factor */
    *cd = k2 * (1.0 - c);      /* direct term: 2 v (1 - c) [/ n] */
    *cw = k2 * dldD;           /* through D_w: 2 (e_th - eps) [/ n] */
}

/* DSPO winner gradient element: cd v + cw (e_th - eps). */
DPO_HD double dpo_dspo_gw_elem(double e, double th, double rf, double c, double cd, double cw)
{
    double pp;
    double v = dpo_dspo_v(&pp, e, th, rf, c);
    return cd * v + cw * (th - e);
}

/* TailorPO-G per-call scalars: sqrt(a), sqrt(1 - a), sign 2 eta delta. */
DPO_HD void dpo_guide_scalars(double *sa, double *sb, double *scale, dpo_guide_params p)
{
    *sa = DPO_SQRT(p.alpha);
    *sb = DPO_SQRT(1.0 - p.alpha);
    *scale = (double)p.sign * (2.0 * p.eta * p.delta);
}

/* ---- DDPO (Black et al.; public code ddpo-pytorch), one sample's step:
 *   rho = exp(lr),  A = clamp(adv, -adv_clip, adv_clip) (adv_clip 0: none),
 *   L = max(-A rho, -A clamp(rho, lo, hi)),  lo = 1 - eps, hi = 1 + eps
 * (PPO's clipped objective).  dL/dlr = -A rho where the first term is the
 * larger or rho lies in the closed interval [lo, hi] (the clamp passes the
 * gradient at its bounds, and where both terms are equal they carry the
 * same derivative); 0 where the clipped constant is the larger.
 * Outputs: the loss, rho, the clamped A, dL/dlr and clipped = rho outside
 * [lo, hi] (the public code's clip fraction counts these). */
DPO_HD void dpo_ddpo_scalars(double *loss, double *ratio, double *adv_c, double *dl_dlr, int *clipped, double lr,
                             double adv, double clip_eps, double adv_clip)
{
    double lo = 1.0 - clip_eps, hi = 1.0 + clip_eps;
    double a = adv, rho, rc, u, c;
    int active;
    if (adv_clip > 0) {
        if (a > adv_clip)
            a = adv_clip;
        if (a < -adv_clip)
            a = -adv_clip;
    }
    rho = dpo_exp(lr);
    rc = rho < lo ? lo : (rho > hi ? hi : rho);
    u = -a * rho;
    c = -a * rc;
    active = (rho >= lo && rho <= hi) || (rho > hi && a < 0) || (rho < lo && a > 0);
    *loss = u > c ? u : c;
    *ratio = rho;
    *adv_c = a;
    *dl_dlr = active ? -a * rho : 0.0;
    *clipped = !(rho >= lo && rho <= hi);
}

#endif
