/* DDIM / DDPM step element math, float32 and float64.
 *
 * The per-step scalars (dpo_step_coef_f32 / _f64, defined in the public
 * header) are computed once on the host by dpo_ddim_coef_* / dpo_ddpm_coef_*;
 * these functions apply them to one element.  The float32 order of
 * operations follows diffusers' DDIMScheduler.step so that a user's PyTorch
 * float32 step can be compared element by element. */
#ifndef DPO_DDIM_H
#define DPO_DDIM_H

#include "dpo_pmath.h"
#include "../../include/diffpo.h"

/* x0 and eps from the model output, for each prediction type.  Float32. */
DPO_HD void dpo_ddim_x0_eps_f32(float *x0, float *eps, float x, float out, const dpo_step_coef_f32 *c)
{
    float a, e;
    if (c->pred == DPO_PRED_EPSILON) {
        e = out;
        a = (x - c->sqrt_beta_t * out) / c->sqrt_alpha_t;
    } else if (c->pred == DPO_PRED_SAMPLE) {
        a = out;
        e = (x - c->sqrt_alpha_t * out) / c->sqrt_beta_t;
    } else { /* v prediction */
        a = c->sqrt_alpha_t * x - c->sqrt_beta_t * out;
        e = c->sqrt_alpha_t * out + c->sqrt_beta_t * x;
    }
    if (c->clip) {
        if (a > c->clip_range)
            a = c->clip_range;
        if (a < -c->clip_range)
            a = -c->clip_range;
    }
    /* diffusers re-derives eps from x0 whenever use_clipped_model_output is
     * set, clipped or not (the round trip changes bits) */
    if (c->use_clipped_output)
        e = (x - c->sqrt_alpha_t * a) / c->sqrt_beta_t;
    *x0 = a;
    *eps = e;
}

DPO_HD void dpo_ddim_x0_eps_f64(double *x0, double *eps, double x, double out, const dpo_step_coef_f64 *c)
{
    double a, e;
    if (c->pred == DPO_PRED_EPSILON) {
        e = out;
        a = (x - c->sqrt_beta_t * out) / c->sqrt_alpha_t;
    } else if (c->pred == DPO_PRED_SAMPLE) {
        a = out;
        e = (x - c->sqrt_alpha_t * out) / c->sqrt_beta_t;
    } else {
        a = c->sqrt_alpha_t * x - c->sqrt_beta_t * out;
        e = c->sqrt_alpha_t * out + c->sqrt_beta_t * x;
    }
    if (c->clip) {
        if (a > c->clip_range)
            a = c->clip_range;
        if (a < -c->clip_range)
            a = -c->clip_range;
    }
    /* diffusers re-derives eps from x0 whenever use_clipped_model_output is
     * set, clipped or not (the round trip changes bits) */
    if (c->use_clipped_output)
        e = (x - c->sqrt_alpha_t * a) / c->sqrt_beta_t;
    *x0 = a;
    *eps = e;
}

/* The step mean.  DDIM: mu = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps.
 * DDPM: mu = c0 x0 + c1 x (c->mean_x0, c->mean_xt). */
DPO_HD float dpo_step_mean_f32(float x, float x0, float eps, const dpo_step_coef_f32 *c)
{
    if (c->kind == DPO_STEP_DDPM)
        return c->mean_x0 * x0 + c->mean_xt * x;
    return c->sqrt_alpha_prev * x0 + c->dir_coef * eps;
}

DPO_HD double dpo_step_mean_f64(double x, double x0, double eps, const dpo_step_coef_f64 *c)
{
    if (c->kind == DPO_STEP_DDPM)
        return c->mean_x0 * x0 + c->mean_xt * x;
    return c->sqrt_alpha_prev * x0 + c->dir_coef * eps;
}

/* One element of a step: x0, mu and x_prev = mu + sigma z. */
DPO_HD float dpo_step_elem_f32(float *x0_out, float *mu_out, float x, float out, float z, const dpo_step_coef_f32 *c)
{
    float x0, eps, mu;
    dpo_ddim_x0_eps_f32(&x0, &eps, x, out, c);
    mu = dpo_step_mean_f32(x, x0, eps, c);
    *x0_out = x0;
    *mu_out = mu;
    return mu + c->sigma * z;
}

DPO_HD double dpo_step_elem_f64(double *x0_out, double *mu_out, double x, double out, double z, const dpo_step_coef_f64 *c)
{
    double x0, eps, mu;
    dpo_ddim_x0_eps_f64(&x0, &eps, x, out, c);
    mu = dpo_step_mean_f64(x, x0, eps, c);
    *x0_out = x0;
    *mu_out = mu;
    return mu + c->sigma * z;
}

/* Squared deviation of one element, in double: the log-density's term. */
DPO_HD double dpo_lp_term(double xprev, double mu)
{
    double d = xprev - mu;
    return d * d;
}

/* Log-density from the canonical sum S of squared deviations over d elements:
 *   sum form:  -S/(2 s^2) - d log s - (d/2) log(2 pi)
 *   mean form: -S/(2 s^2 d) - log s - log sqrt(2 pi)   (DDPO's reduction) */
DPO_HD double dpo_lp_finish(double S, double d, double sigma, double log_sigma, int mode)
{
    double two_var = 2.0 * sigma * sigma;
    if (mode == DPO_LOGPROB_MEAN)
        return -(S / two_var) / d - log_sigma - DPO_PM_LOG_SQRT_2PI;
    return -(S / two_var) - d * log_sigma - d * DPO_PM_LOG_SQRT_2PI;
}

#endif
