/* diffpo end-to-end alignment: built-in data, the built-in epsilon-network
 * with LoRA adapters, the fixed-order matrix product, AdamW, built-in
 * rewards (the built-in model layer, libdiffpo; includes diffpo.h; the
 * trainers are in diffpo_train.h, which includes this header).
 *
 * Everything here follows diffpo.h's conventions: dpo_status, outputs
 * first, caller-provided memory with *_size() queries, no allocation after
 * set-up, pure functions of (seed, coordinates). */
#ifndef DIFFPO_ALIGN_H
#define DIFFPO_ALIGN_H

#include "diffpo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- built-in data
 * Single-channel SIDE x SIDE images with values in [-1, 1], procedurally
 * drawn from DPO_DATA_CLASSES classes that play the role of prompts:
 *   0 horizontal bar, 1 vertical bar, 2 diagonal stroke, 3 centred blob,
 * with random position, thickness, contrast and a little pixel noise.
 * Image `index` of the data set is a pure function of (seed, index)
 * (Philox stream DATA, sample = index, step = 1). */
#define DPO_IMG_SIDE 8
#define DPO_IMG_DIM (DPO_IMG_SIDE * DPO_IMG_SIDE)
#define DPO_DATA_CLASSES 4

/* img: DPO_IMG_DIM floats; cls: receives the class (index % classes when
 * force_class < 0, else force_class). */
dpo_status dpo_data_image(float *img, int32_t *cls, uint64_t seed, uint32_t index, int32_t force_class);

/* -------------------------------------------------- matrix products
 * The one internal matrix product of the built-in network (the CUDA backend
 * replaces it: cuBLASLt "fast" mode, or its own "strict" fixed-order
 * kernel that reproduces this one bit for bit).
 *   C[i][j] (+)= sum_p op(A)[i][p] op(B)[p][j]
 * op(A) is m x k (A stored m x k, or k x m when ta), op(B) k x n (B stored
 * k x n, or n x k when tb); row-major.  Each output element is one double
 * accumulation in ascending p, starting from 0 (or from C[i][j] widened
 * when accumulate), rounded once to float.  C must not overlap A or B. */
void dpo_matmul_f32(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                    int accumulate);

/* A pluggable matrix product for the built-in network (dpo_mlp_cfg.matmul):
 * product(user, C, A, B, m, k, n, ta, tb, accumulate) has dpo_matmul_f32's
 * arguments and contract and returns 0 on success, non-zero on failure
 * (the network's function then returns DPO_ERR_MODEL).  A backend that
 * keeps the contract (ascending-p double accumulation, one rounding; e.g.
 * the strict GPU backend of diffpo_cuda_model.h) gives the network's
 * bits; any other one gives its own.  Called from every thread that runs
 * the network (the trainer's prompts), so it must be thread-safe. */
typedef struct dpo_matmul_backend {
    void *user;
    int (*product)(void *user, float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta,
                   int tb, int accumulate);
} dpo_matmul_backend;

/* ------------------------------------------------ the epsilon-network
 * eps(x, t, c) = W2 s(W1 s(W0 [x, temb(t), cemb(c)] + b0) + b1) + b2,
 * s = SiLU, temb the sinusoidal timestep embedding (half sines, half
 * cosines, frequencies 10000^(-i/(temb/2))), cemb a learned class
 * embedding.  Each linear layer W carries a LoRA adapter:
 *   W_eff = W + (lora_alpha / lora_rank) B A,  A: rank x in, B: out x rank.
 * Base parameters (frozen reference after pretraining) and LoRA parameters
 * (theta = base + LoRA) live in two flat float arrays whose layout is
 * documented in docs/model.md. */
typedef struct dpo_mlp_cfg {
    size_t dim;        /* image elements (DPO_IMG_DIM) */
    size_t hidden;     /* hidden width */
    size_t temb;       /* timestep embedding width (even) */
    size_t n_classes;  /* class-embedding rows */
    size_t cemb;       /* class-embedding width */
    size_t lora_rank;  /* 0: no adapters */
    double lora_alpha;
    int num_train_steps; /* timesteps are in [0, num_train_steps) */
    const dpo_matmul_backend *matmul; /* NULL: dpo_matmul_f32.  Not part of the
                          model: it selects where the products run; the caller
                          keeps it alive while the cfg (or a copy: trainers
                          copy theirs) is in use.  Non-NULL with a NULL
                          product: DPO_ERR_NULL. */
} dpo_mlp_cfg;

/* The default: dim 64, hidden 128, temb 16, 4 classes, cemb 8, rank 4,
 * alpha 4, 1000 train steps, matmul NULL. */
dpo_mlp_cfg dpo_mlp_cfg_default(void);

size_t dpo_mlp_num_base(const dpo_mlp_cfg *cfg);
size_t dpo_mlp_num_lora(const dpo_mlp_cfg *cfg);
/* Activation storage that dpo_mlp_forward keeps for dpo_mlp_backward, for
 * n samples (bytes). */
size_t dpo_mlp_workspace_size(const dpo_mlp_cfg *cfg, size_t n);

/* Deterministic initialisation from seed (Philox stream DATA): base
 * weights scaled 1/sqrt(fan_in), biases 0, class embeddings N(0,1); LoRA
 * A ~ N(0, 1/in), B = 0 (so theta = base at the start). */
dpo_status dpo_mlp_init_base(float *base, const dpo_mlp_cfg *cfg, uint64_t seed);
dpo_status dpo_mlp_init_lora(float *lora, const dpo_mlp_cfg *cfg, uint64_t seed);

/* out = eps(x, t, c) for n samples; t[i], cls[i] per sample.  lora may be
 * NULL (the reference model: base only).  work keeps the activations. */
dpo_status dpo_mlp_forward(float *out, const dpo_mlp_cfg *cfg, const float *base, const float *lora, const float *x,
                           const int32_t *t, const int32_t *cls, size_t n, void *work, size_t work_size);

/* A failing matmul backend gives DPO_ERR_MODEL with out untouched (the
 * work then holds no forward: a backward on it is DPO_ERR_WORKSPACE). */

/* Vector-Jacobian products of the last dpo_mlp_forward on the same work:
 * given g_out = dL/d out (n x dim),
 *   g_x    += (d out/d x)^T g_out          (may be NULL)
 *   g_base += (d out/d base)^T g_out       (may be NULL; summed over samples)
 *   g_lora += (d out/d lora)^T g_out       (may be NULL; summed over samples)
 * Accumulation over samples is in ascending sample order.  A failing
 * matmul backend gives DPO_ERR_MODEL after every input check: g_x is then
 * untouched, but g_base and g_lora may hold part of their sums (they are
 * accumulated in place, layer by layer): discard them. */
dpo_status dpo_mlp_backward(float *g_x, float *g_base, float *g_lora, const float *g_out, const dpo_mlp_cfg *cfg,
                            const float *base, const float *lora, size_t n, void *work, size_t work_size);

/* ------------------------------------------------------------- AdamW
 * Loshchilov & Hutter's decoupled weight decay, one parameter at a time:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr (m / (1 - b1^step) / (sqrt(v / (1 - b2^step)) + eps) + wd p)
 * in float32 arithmetic in this order (b^step by repeated squaring in
 * double, rounded once).  step >= 1. */
typedef struct dpo_adamw {
    double lr, beta1, beta2, eps, weight_decay;
} dpo_adamw;

dpo_adamw dpo_adamw_default(double lr); /* betas (0.9, 0.999), eps 1e-8, wd 0 */
dpo_status dpo_adamw_step(float *param, float *m, float *v, const float *grad, size_t n, const dpo_adamw *h,
                          uint64_t step);

/* ------------------------------------------------------------ rewards
 * Built-in differentiable rewards on images (the dpo_reward_model
 * interface of diffpo_loss.h: value and gradient wrt x0):
 *   AESTHETIC  a fixed quadratic scorer: brightness in the centre and
 *              contrast, r = w.x - (1/2) q sum x^2 (w a centred Gaussian
 *              bump minus a border ring, q = 0.25);
 *   COMPRESS   compressibility proxy: negative smoothed total variation,
 *              r = -sum sqrt(dx^2 + dy^2 + 0.01) / DPO_IMG_SIDE;
 *   CLASSMATCH log p(c | x) under a fixed linear classifier whose weights
 *              are the class templates of the data generator.
 * The step-aware preference function of SPO (and the step-wise reward of
 * TailorPO/RDPO) scores a candidate x_{t-1} by the reward of x0_hat
 * predicted by the current model at the next timestep (src/model/train.c).  A
 * caller's own reward plugs in through dpo_train_cfg.user_reward
 * (diffpo_train.h) as a dpo_reward_model. */
typedef enum dpo_reward_kind {
    DPO_REWARD_AESTHETIC = 0,
    DPO_REWARD_COMPRESS = 1,
    DPO_REWARD_CLASSMATCH = 2
} dpo_reward_kind;

#define DPO_REWARD_KINDS 3

const char *dpo_reward_name(dpo_reward_kind k);
/* r[i] and (g != NULL) g = grad r for n images with classes cls. */
dpo_status dpo_reward_builtin_eval(double *r, float *g, dpo_reward_kind kind, const float *x0, size_t n,
                           const int32_t *cls);
/* Wraps a built-in reward as a dpo_reward_model (user data: the kind). */
dpo_reward_model dpo_reward_builtin(dpo_reward_kind kind);

/* ----------------------------------------------------------- trainers */
typedef enum dpo_method {
    DPO_METHOD_D3PO = 0,         /* trajectory-level step DPO (D3PO) */
    DPO_METHOD_DIFFDPO = 1,      /* Diffusion-DPO, offline pairs */
    DPO_METHOD_TAILORPO = 2,
    DPO_METHOD_TAILORPO_G = 3,
    DPO_METHOD_RDPO = 4,         /* as printed (eq. 9) */
    DPO_METHOD_RDPO_FIXED = 5,   /* the consistent penalty */
    DPO_METHOD_SPO = 6,
    DPO_METHOD_DSPO = 7,
    DPO_METHOD_DDPO = 8          /* policy gradient, clipped ratio (DDPO public code) */
} dpo_method;

#define DPO_METHODS 9

const char *dpo_method_name(dpo_method m);
dpo_status dpo_method_parse(dpo_method *m, const char *name);

typedef enum dpo_resampler {
    DPO_RESAMPLE_RANDOM = 0, /* SPO: a uniformly random candidate continues */
    DPO_RESAMPLE_WINNER = 1,
    DPO_RESAMPLE_LOSER = 2,
    DPO_RESAMPLE_NONE = 3    /* a fresh candidate (not among the scored ones) continues */
} dpo_resampler;

/* ------------------------------------------------------- pretraining
 * (appended with the network; docs/model.md)
 *
 * The rollout's dpo_eps_model around the network: user = ctx, which the
 * caller keeps alive.  forward(x, n, timestep, cond) evaluates the network
 * with t = timestep and class cond[i] for every sample (cond must not be
 * NULL: the network is class-conditional), in chunks of at most 64 samples
 * that fit the caller's work buffer (>= dpo_mlp_workspace_size(cfg, 1)
 * bytes, DPO_WORK_ALIGN aligned).  Per-sample outputs do not depend on the
 * chunking.  lora may be NULL (the reference model). */
typedef struct dpo_mlp_model_ctx {
    const dpo_mlp_cfg *cfg;
    const float *base;
    const float *lora;
    void *work;
    size_t work_size;
} dpo_mlp_model_ctx;

dpo_eps_model dpo_mlp_model(dpo_mlp_model_ctx *ctx);

/* Deterministic DDPM epsilon-MSE pretraining of the base parameters with
 * AdamW, iterations [it_begin, it_end).  Iteration it, batch row b:
 *   x0  = dpo_data_image(seed, index it * batch + b)  (class index % 4)
 *   t   = floor(w * N / 2^32), w word 0 of Philox(seed, stream TIMESTEP,
 *         sample b, step it, candidate 0, block 0)
 *   eps = dpo_normal_f32(seed, stream TRAIN, sample b, step it)
 *   x_t = sa x0 + sb eps in float32, sa = (float)sqrt(a_t),
 *         sb = (float)sqrt(1 - a_t) in double from the float32 ac32[t]
 *   loss = mean over batch x dim of (eps_hat - eps)^2 (canonical sum)
 * then the gradient through dpo_mlp_backward (lora NULL) and one AdamW
 * step numbered it + 1.  The state is (base, adam_m, adam_v); the result
 * is a pure function of (seed, it, state): running [a, b) then [b, c)
 * gives the bits of one run over [a, c).  loss_out[it - it_begin] gets
 * each iteration's loss (may be NULL).  (it_end) * batch <= 2^32;
 * it_end <= 2^32.  cfg->num_train_steps must equal sched->num_train_steps.
 * The products go through cfg->matmul when set.  An error inside the
 * loop (a non-finite loss, a failing backend: DPO_ERR_MODEL) leaves the
 * state of the iterations before it.  No allocation. */
size_t dpo_pretrain_workspace_size(const dpo_mlp_cfg *cfg, size_t batch);
dpo_status dpo_pretrain_run(float *base, float *adam_m, float *adam_v, double *loss_out, const dpo_mlp_cfg *cfg,
                            const dpo_schedule *sched, uint64_t seed, uint64_t it_begin, uint64_t it_end,
                            size_t batch, const dpo_adamw *opt, void *work, size_t work_size);

/* Recommended pretraining budget for dpo_mlp_cfg_default() on the SD-1.5
 * scaled_linear schedule (docs/model.md: measured time, loss, samples). */
#define DPO_PRETRAIN_ITERS 6000
#define DPO_PRETRAIN_BATCH 32
#define DPO_PRETRAIN_LR 2e-3

#ifdef __cplusplus
}
#endif

#endif
