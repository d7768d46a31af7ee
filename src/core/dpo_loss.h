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

#endif
