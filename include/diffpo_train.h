/* diffpo trainers: one preference-alignment iteration of every method on
 * the built-in network, as a pure function of (seed, iteration, state).
 * The built-in model layer; includes diffpo_align.h (and so diffpo.h).
 *
 * An iteration draws `batch` prompts (sample id g = it * batch + b, class
 * g mod n_classes), computes each prompt's LoRA gradient into its own slot
 * (dpo_trainer_sample: independent per b, so callers may run prompts on
 * any number of threads), then sums the slots in ascending b and takes one
 * AdamW step (dpo_trainer_apply).  Random numbers come from Philox with the
 * trainer's seed at coordinates (sample g, step j, candidate c).  The
 * trainer state is (lora, adam m, adam v) plus the iteration number, so a
 * run resumed from a checkpoint gives the same bits as an uninterrupted
 * one.  docs/trainers.md describes every method's iteration. */
#ifndef DIFFPO_TRAIN_H
#define DIFFPO_TRAIN_H

#include "diffpo_align.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DPO_TRAIN_MAX_STEPS 64
#define DPO_TRAIN_MAX_K 8

typedef struct dpo_train_cfg {
    dpo_method method;
    uint64_t seed;
    size_t batch;            /* prompts per iteration */
    int num_steps;           /* DDIM steps T (paper 20) */
    double eta;              /* DDIM eta (paper 1) */
    dpo_reward_kind reward;  /* built-in reward (used when user_reward is NULL) */
    const dpo_reward_model *user_reward; /* NULL, or the caller's reward: value (and grad for
                                TailorPO-G); dim must equal the network's; called concurrently
                                from every thread that runs prompts; nonzero return ->
                                DPO_ERR_MODEL.  The SPO step-aware preference, TailorPO/RDPO
                                step-wise rewards and D3PO labels all go through it. */
    dpo_logprob_mode lp_mode;/* reduction of the step log-probabilities */
    double beta;             /* DPO temperature of the method */
    double lambda;           /* RDPO penalty weight; DSPO weight */
    double clip_eps;         /* D3PO/SPO ratio clamp epsilon (0.1) */
    int train_from;          /* first trained step index */
    int train_every;         /* TailorPO/RDPO: train every n-th step (4: t = 20,16,12,8,4 of 20) */
    int k;                   /* SPO candidates per step (4); TailorPO uses 2 */
    double spo_thr;          /* SPO validity threshold on the softmax gap (0.3) */
    int kappa;               /* SPO: pairs with t > kappa are ties (750) */
    dpo_resampler resampler; /* SPO: which candidate continues */
    double guide_eta_min, guide_eta_max, guide_delta; /* TailorPO-G (0.1, 0.2, 0.5) */
    dpo_guide_jac guide_jac; /* TailorPO-G: model VJP or the d eps/dx = 0 approximation */
    dpo_adamw opt;
} dpo_train_cfg;

/* The method's defaults (docs/trainers.md lists them with their sources). */
dpo_train_cfg dpo_train_cfg_default(dpo_method m);

/* Per-prompt statistics of one iteration. */
typedef struct dpo_train_stats {
    double loss;        /* mean loss over the prompt's trained terms */
    int terms;          /* trained (non-tie) terms */
    double reward;      /* reward of the prompt's final image (rollout methods) */
    double lr_loser;    /* mean log pi_theta/pi_ref of the losers (RDPO experiment) */
    double lr_winner;
} dpo_train_stats;

typedef struct dpo_trainer {
    dpo_train_cfg cfg;
    dpo_mlp_cfg mcfg;
    const dpo_schedule *sched;
    const float *base;
    float *lora, *m, *v;
    size_t n_lora;
    int32_t timesteps[DPO_TRAIN_MAX_STEPS];
    const float *pairs;      /* offline pairs (Diffusion-DPO, DSPO): n x 2 x dim, winner first */
    const int32_t *pair_cls;
    size_t n_pairs;
    unsigned char *work;
    size_t per_sample;       /* bytes of one prompt's scratch */
    float *slots;            /* batch x n_lora gradients */
} dpo_trainer;

/* Scratch for a trainer (bytes). */
size_t dpo_trainer_workspace_size(const dpo_train_cfg *cfg, const dpo_mlp_cfg *mcfg);

/* Binds the state: base (frozen reference), lora, m, v (n_lora each; the
 * caller initialises lora with dpo_mlp_init_lora and m, v with zeros). */
dpo_status dpo_trainer_init(dpo_trainer *tr, const dpo_train_cfg *cfg, const dpo_mlp_cfg *mcfg,
                            const dpo_schedule *sched, const float *base, float *lora, float *m, float *v,
                            void *work, size_t work_size);
/* Offline pairs for Diffusion-DPO and DSPO (required before their
 * iterations): pairs n x 2 x dim (winner, loser), classes n. */
dpo_status dpo_trainer_set_pairs(dpo_trainer *tr, const float *pairs, const int32_t *cls, size_t n);

/* Prompt b of iteration it: its LoRA gradient into slot b. */
dpo_status dpo_trainer_sample(dpo_trainer *tr, uint64_t it, size_t b, dpo_train_stats *stats);
/* Sums the slots (ascending b, in double, rounded once) and takes AdamW
 * step it + 1 on lora. */
dpo_status dpo_trainer_apply(dpo_trainer *tr, uint64_t it);
/* Both, single-threaded; stats (batch entries) may be NULL. */
dpo_status dpo_trainer_iteration(dpo_trainer *tr, uint64_t it, dpo_train_stats *stats);

/* Offline pair generation (the base model and a reward, done once): prompt
 * i (class i mod n_classes) gets two DDIM rollouts of the base model from
 * one x_T with independent step noise (Philox seed, sample i, candidates
 * 0 and 1), ranked by the reward of the final images: pairs[i] = (winner,
 * loser), each dim floats; equal rewards keep candidate 0 first.
 * Arguments are checked before any work (outputs untouched then); a
 * failure during the rollouts (the network's matmul backend, or a user
 * reward returning non-zero -> DPO_ERR_MODEL, or a non-finite value ->
 * DPO_ERR_NONFINITE) leaves the pairs before i written. */
size_t dpo_make_pairs_workspace_size(const dpo_mlp_cfg *mcfg);
dpo_status dpo_make_pairs(float *pairs, int32_t *cls, size_t n, uint64_t seed, const dpo_mlp_cfg *mcfg,
                          const float *base, const dpo_schedule *sched, dpo_reward_kind reward, int num_steps,
                          double eta, void *work, size_t work_size);
/* The same, ranked by the caller's reward (value callback, one image at a
 * time; dim must equal mcfg->dim).  With dpo_reward_builtin(kind) it gives
 * dpo_make_pairs(kind)'s bits. */
dpo_status dpo_make_pairs_user(float *pairs, int32_t *cls, size_t n, uint64_t seed, const dpo_mlp_cfg *mcfg,
                               const float *base, const dpo_schedule *sched, const dpo_reward_model *reward,
                               int num_steps, double eta, void *work, size_t work_size);

/* Evaluation: mean reward of the final images of n_per_class rollouts per
 * class of the model base + lora (lora NULL: the base model), from held-out
 * seed `seed` (samples i = class * n_per_class + j).  images (may be NULL)
 * receives the final images, classes x n_per_class x dim. */
size_t dpo_eval_workspace_size(const dpo_mlp_cfg *mcfg);
dpo_status dpo_eval_model_reward(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                           const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                           const dpo_schedule *sched, dpo_reward_kind reward, int num_steps, double eta,
                           void *work, size_t work_size);
/* The same with the caller's reward (as dpo_make_pairs_user).  Arguments
 * are checked before any work; *mean_reward is written only on DPO_OK
 * (images, like the pairs above, up to a failure during the rollouts). */
dpo_status dpo_eval_model_reward_user(double *mean_reward, float *images, uint64_t seed, size_t n_per_class,
                                const dpo_mlp_cfg *mcfg, const float *base, const float *lora,
                                const dpo_schedule *sched, const dpo_reward_model *reward, int num_steps,
                                double eta, void *work, size_t work_size);

#ifdef __cplusplus
}
#endif

#endif
