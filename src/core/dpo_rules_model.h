/* Host-side rules of the built-in model shared by src/model/ and kernels/:
 * the AdamW hyper-parameter check, the network's parameter layout and the
 * pretraining batch.  The model layer's half of dpo_rules.h (which holds the
 * core's rules and never includes a model header), written once and called
 * by both drivers; tests/gpu/test_gpu_rules.cu runs them through both. */
#ifndef DPO_RULES_MODEL_H
#define DPO_RULES_MODEL_H

#include "dpo_rules.h"
#include "dpo_reduce.h"
#include "../../include/diffpo_align.h"

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
