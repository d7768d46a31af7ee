/* Host-side rules shared by the CPU drivers (src/) and the CUDA drivers
 * (kernels/): argument checks, the built-in network's parameter layout and
 * the pretraining batch.  Each rule is written once, here, and both sides
 * call it, so the CPU and the GPU accept the same arguments and return the
 * same statuses (tests/gpu/test_gpu_rules.cu runs every rule through both
 * paths).  Compiled by the C compiler and by nvcc like the element math
 * (dpo_hd.h); the checks are DPO_HD, the pretraining sample is host-only
 * (it calls the library's data set and Philox normals). */
#ifndef DPO_RULES_H
#define DPO_RULES_H

#include "dpo_hd.h"
#include "dpo_pmath.h"
#include "dpo_philox.h"
#include "../../include/diffpo.h"

/* ------------------------------------------------------------ scalars */
/* A log-probability reduction the library knows (sum or mean). */
DPO_HD int dpo_rule_mode_ok(dpo_logprob_mode m)
{
    return (int)m == DPO_LOGPROB_SUM || (int)m == DPO_LOGPROB_MEAN;
}

/* Finite and > 0 (beta and the like). */
DPO_HD int dpo_rule_pos_finite(double v)
{
    return dpo_pm_isfinite(v) && v > 0;
}

/* Finite and >= 0 (learning rate, weight decay). */
DPO_HD int dpo_rule_nonneg_finite(double v)
{
    return dpo_pm_isfinite(v) && v >= 0;
}

/* A Gaussian step's sigma usable in a log-density: sigma^2 a positive
 * normal double and 2 sigma^2 finite. */
DPO_HD int dpo_rule_sigma_ok(double s)
{
    double v;
    if (!dpo_rule_pos_finite(s))
        return 0;
    v = s * s;
    return v >= 2.2250738585072014e-308 && dpo_pm_isfinite(2.0 * v);
}

/* The losses' sigma status: DPO_OK, DPO_ERR_SIGMA_ZERO for 0 (eta = 0 makes
 * the step deterministic: no log-density), else DPO_ERR_RANGE. */
DPO_HD dpo_status dpo_rule_sigma_status(double s)
{
    if (dpo_rule_sigma_ok(s))
        return DPO_OK;
    return s == 0 ? DPO_ERR_SIGMA_ZERO : DPO_ERR_RANGE;
}

/* --------------------------------------------------- loss parameters
 * The parameter checks of the losses and of the TailorPO-G update, in the
 * order the CPU functions apply them: DPO_ERR_RANGE for a bad mode or
 * coefficient, then the sigma status where the loss has a sigma. */
/* Step DPO, TailorPO: mode, beta > 0, sigma. */
DPO_HD dpo_status dpo_rule_dpo_params_status(dpo_pair_params p)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta))
        return DPO_ERR_RANGE;
    return dpo_rule_sigma_status(p.sigma);
}

/* The d3po public-code variant: mode, beta > 0, clip_eps in (0, 1), label
 * in {-1, 0, 1}, sigma. */
DPO_HD dpo_status dpo_rule_clip_params_status(dpo_clip_params p, int label)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta) || !dpo_pm_isfinite(p.clip_eps) ||
        !(p.clip_eps > 0) || !(p.clip_eps < 1) || label < -1 || label > 1)
        return DPO_ERR_RANGE;
    return dpo_rule_sigma_status(p.sigma);
}

/* RDPO: mode, beta > 0, lambda finite >= 0, a known variant, sigma. */
DPO_HD dpo_status dpo_rule_rdpo_params_status(dpo_rdpo_params p)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta) || !dpo_rule_nonneg_finite(p.lambda) ||
        ((int)p.variant != DPO_RDPO_PRINTED && (int)p.variant != DPO_RDPO_INTENDED))
        return DPO_ERR_RANGE;
    return dpo_rule_sigma_status(p.sigma);
}

/* Diffusion-DPO: mode, beta > 0. */
DPO_HD dpo_status dpo_rule_eps_params_status(dpo_eps_params p)
{
    return dpo_rule_mode_ok(p.mode) && dpo_rule_pos_finite(p.beta) ? DPO_OK : DPO_ERR_RANGE;
}

/* DSPO: mode, beta_u > 0, weight finite >= 0, stopgrad 0 or 1. */
DPO_HD dpo_status dpo_rule_dspo_params_status(dpo_dspo_params p)
{
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta_u) || !dpo_rule_nonneg_finite(p.weight) ||
        (p.stopgrad != 0 && p.stopgrad != 1))
        return DPO_ERR_RANGE;
    return DPO_OK;
}

/* TailorPO-G: eta > 0, delta finite, alpha in (0, 1], sign +-1, a known
 * Jacobian mode. */
DPO_HD dpo_status dpo_rule_guide_params_status(dpo_guide_params p)
{
    if (!dpo_rule_pos_finite(p.eta) || !dpo_pm_isfinite(p.delta) || !dpo_pm_isfinite(p.alpha) || !(p.alpha > 0) ||
        !(p.alpha <= 1) || (p.sign != 1 && p.sign != -1) ||
        ((int)p.jac != DPO_GUIDE_VJP && (int)p.jac != DPO_GUIDE_NO_EPS))
        return DPO_ERR_RANGE;
    return DPO_OK;
}

/* ------------------------------------------------ step coefficient structs */
/* A coefficient struct as dpo_step_coef_*_init makes it: a known kind and
 * prediction type, finite scalars, sigma >= 0 (a struct filled by hand with
 * an unknown kind or a NaN sigma is DPO_ERR_RANGE, not a silent step).  A
 * macro because the float32 and float64 structs differ in type; FIN is the
 * finiteness test of the struct's precision.  The CPU step (src/step.c) and
 * the CUDA step (kernels/step.cu) both use it. */
#define DPO_RULE_STEP_COEF_OK(c, FIN)                                                           \
    (((c)->kind == DPO_STEP_DDIM || (c)->kind == DPO_STEP_DDPM) &&                              \
     ((c)->pred == DPO_PRED_EPSILON || (c)->pred == DPO_PRED_V || (c)->pred == DPO_PRED_SAMPLE) && \
     FIN((c)->sigma) && (c)->sigma >= 0 && FIN((c)->alpha_t) && FIN((c)->alpha_prev) &&         \
     FIN((c)->beta_t) && FIN((c)->beta_prev) && FIN((c)->sqrt_alpha_t) && FIN((c)->sqrt_beta_t) && \
     FIN((c)->sqrt_alpha_prev) && FIN((c)->dir_coef) && FIN((c)->mean_x0) && FIN((c)->mean_xt) && \
     (!(c)->clip || (FIN((c)->clip_range) && (c)->clip_range > 0)))

/* The sigma a log-probability reads: NaN, infinite or negative is
 * DPO_ERR_RANGE, 0 is DPO_ERR_SIGMA_ZERO (the density is undefined). */
DPO_HD dpo_status dpo_rule_logprob_sigma_status(double sigma)
{
    if (!dpo_pm_isfinite(sigma) || sigma < 0)
        return DPO_ERR_RANGE;
    return sigma > 0 ? DPO_OK : DPO_ERR_SIGMA_ZERO;
}

/* ---------------------------------------------------- noise coordinates */
/* Elements [e0, e0 + n) of one Philox tensor: stream and candidate fit in
 * 16 bits (DPO_ERR_RANGE), the range ends at or below 2^34 (DPO_ERR_SIZE). */
DPO_HD dpo_status dpo_rule_coord_status(dpo_noise_coord c, uint64_t e0, size_t n)
{
    if (c.stream > 0xffffu || c.candidate > 0xffffu)
        return DPO_ERR_RANGE;
    if (e0 > ((uint64_t)1 << 34) || (uint64_t)n > ((uint64_t)1 << 34) - e0)
        return DPO_ERR_SIZE;
    return DPO_OK;
}

/* `batch` rows of elements [0, dim), row r at sample c.sample + r: the
 * tensor rule for each row, and the last sample within 32 bits
 * (DPO_ERR_RANGE).  batch >= 1. */
DPO_HD dpo_status dpo_rule_coord_rows_status(dpo_noise_coord c, size_t batch, size_t dim)
{
    dpo_status st = dpo_rule_coord_status(c, 0, dim);
    if (st != DPO_OK)
        return st;
    if (batch == 0 || (uint64_t)c.sample + (uint64_t)(batch - 1) > 0xffffffffu)
        return DPO_ERR_RANGE;
    return DPO_OK;
}

#endif
