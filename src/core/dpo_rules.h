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

/* ---------------------------------------------------------------- AdamW */
/* The hyper-parameters of one AdamW update: lr and weight decay finite and
 * >= 0, beta1 and beta2 in [0, 1), eps finite and > 0 -- and eps still > 0
 * once rounded to float32, the precision the update runs in
 * (dpo_adamw_coef): an eps that rounds to 0 would divide by zero where the
 * second moment is 0.  DPO_OK or DPO_ERR_RANGE.  Every AdamW entry point
 * (dpo_adamw_step, dpo_pretrain_run and their CUDA counterparts) applies
 * this rule before it writes anything. */
DPO_HD dpo_status dpo_rule_adamw_status(const dpo_adamw *h)
{
    if (!dpo_rule_nonneg_finite(h->lr) || !dpo_rule_nonneg_finite(h->weight_decay) ||
        !(h->beta1 >= 0.0 && h->beta1 < 1.0) || !(h->beta2 >= 0.0 && h->beta2 < 1.0) ||
        !dpo_rule_pos_finite(h->eps) || !((float)h->eps > 0.0f))
        return DPO_ERR_RANGE;
    return DPO_OK;
}

/* ---------------------------------------------- the network's layout */
/* Offsets of the built-in network's parameters (docs/model.md): per layer
 * l = 0, 1, 2 (in0 -> H, H -> H, H -> D) the weight (out x in) then the
 * bias (out) in base, and the LoRA A (rank x in) then B (out x rank) in
 * lora; the class-embedding table (K x E) last in base. */
typedef struct dpo_mlp_layer_layout {
    size_t in, out;
    size_t w, b;   /* offsets in base */
    size_t la, lb; /* offsets in lora: A (rank x in), B (out x rank) */
} dpo_mlp_layer_layout;

typedef struct dpo_mlp_layout {
    size_t D, H, T, K, E, R, in0; /* dim, hidden, temb, classes, cemb, rank, D + T + E */
    dpo_mlp_layer_layout L[3];
    size_t cemb;           /* offset of the class table (K x E) in base */
    size_t n_base, n_lora; /* floats */
    double scale_d;        /* lora_alpha / rank (0 without LoRA) */
} dpo_mlp_layout;

/* The layout of cfg, which the caller has validated (dpo_mlp_num_base(cfg)
 * is non-zero). */
DPO_HD void dpo_mlp_layout_make(dpo_mlp_layout *N, const dpo_mlp_cfg *c)
{
    size_t o = 0, q = 0;
    int l;
    N->D = c->dim;
    N->H = c->hidden;
    N->T = c->temb;
    N->K = c->n_classes;
    N->E = c->cemb;
    N->R = c->lora_rank;
    N->in0 = N->D + N->T + N->E;
    N->L[0].in = N->in0;
    N->L[0].out = N->H;
    N->L[1].in = N->H;
    N->L[1].out = N->H;
    N->L[2].in = N->H;
    N->L[2].out = N->D;
    for (l = 0; l < 3; l++) {
        N->L[l].w = o;
        o += N->L[l].out * N->L[l].in;
        N->L[l].b = o;
        o += N->L[l].out;
        N->L[l].la = q;
        q += N->R * N->L[l].in;
        N->L[l].lb = q;
        q += N->L[l].out * N->R;
    }
    N->cemb = o;
    o += N->K * N->E;
    N->n_base = o;
    N->n_lora = q;
    N->scale_d = N->R ? c->lora_alpha / (double)N->R : 0.0;
}

/* ---------------------------------------------------------- pretraining */
/* The iteration range of a pretraining run of `batch` samples per
 * iteration: the network and the schedule agree on the number of training
 * steps, it_begin <= it_end <= 2^32, and every data index it * batch + b
 * fits in 32 bits.  DPO_OK or DPO_ERR_RANGE. */
DPO_HD dpo_status dpo_rule_pretrain_range_status(int cfg_steps, int sched_steps, uint64_t it_begin, uint64_t it_end,
                                                 size_t batch)
{
    if (cfg_steps != sched_steps || it_begin > it_end || it_end > ((uint64_t)1 << 32) ||
        (it_end && (uint64_t)batch > ((uint64_t)1 << 32) / it_end))
        return DPO_ERR_RANGE;
    return DPO_OK;
}

/* Sample b of pretraining iteration it (host only): the data image
 * it * batch + b (random class) into x (dim floats) and its class into
 * *cls; the timestep *t uniform in [0, steps) from Philox stream TIMESTEP at
 * (sample b, step it); the noise eps (dim floats) from stream TRAIN at
 * (sample b, step it); then x becomes x_t = sa x0 + sb eps in float32, with
 * sa = sqrt(ac32[t]) and sb = sqrt(1 - ac32[t]) computed in double from the
 * float32 alphas_cumprod and rounded once.  dim <= 2^34; the caller has
 * checked the range with dpo_rule_pretrain_range_status. */
static inline dpo_status dpo_pretrain_sample(float *x, float *eps, int32_t *t, int32_t *cls, const dpo_schedule *sched,
                                             int steps, uint64_t seed, uint64_t it, size_t batch, size_t b, size_t dim)
{
    uint32_t ctr[4], key[2], wd[4];
    dpo_noise_coord nc;
    dpo_status st;
    float sa, sb;
    size_t j;
    st = dpo_data_image(x, cls, seed, (uint32_t)(it * batch + b), -1);
    if (st != DPO_OK)
        return st;
    dpo_philox_coords(ctr, key, seed, DPO_STREAM_TIMESTEP, (uint32_t)b, (uint32_t)it, 0u, 0u);
    dpo_philox4x32_10(wd, ctr, key);
    *t = (int32_t)dpo_uniform_index(wd[0], (uint32_t)steps);
    nc.seed = seed;
    nc.stream = DPO_STREAM_TRAIN;
    nc.sample = (uint32_t)b;
    nc.step = (uint32_t)it;
    nc.candidate = 0;
    st = dpo_normal_f32(eps, nc, 0, dim);
    if (st != DPO_OK)
        return st;
    sa = (float)DPO_SQRT((double)sched->ac32[*t]);
    sb = (float)DPO_SQRT(1.0 - (double)sched->ac32[*t]);
    for (j = 0; j < dim; j++)
        x[j] = sa * x[j] + sb * eps[j];
    return DPO_OK;
}

#endif
