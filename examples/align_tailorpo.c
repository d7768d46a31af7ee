/* The library's alignment API end to end: pretrain the built-in
 * epsilon-network, align it with TailorPO, evaluate before and after.
 * The same steps and numbers as
 *   diffpo align --method tailorpo --pretrain-iters 300 --iters 10 --batch 4 --eval-per-class 2
 * (tests/cli_examples.sh checks that both print the same bits).
 *
 *   make && cc -std=c99 -Iinclude examples/align_tailorpo.c build/libdiffpo.a -lxxhash -lpthread -lm
 *   ./a.out
 *
 * Every buffer is the caller's: the library asks for workspace sizes and
 * allocates nothing itself. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <diffpo_train.h> /* the built-in model and trainers; includes diffpo.h */

#define PRETRAIN_ITERS 300
#define ITERS 10
#define EVAL_PER_CLASS 2

static void *xalloc(size_t bytes) /* 64-byte aligned, zeroed */
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    memset(p, 0, bytes);
    return p;
}

static int check(dpo_status st, const char *what)
{
    if (st != DPO_OK)
        fprintf(stderr, "%s: %s\n", what, dpo_status_str(st));
    return st != DPO_OK;
}

int main(void)
{
    static dpo_schedule sched; /* large: keep it static */
    const dpo_mlp_cfg mc = dpo_mlp_cfg_default();
    const size_t nb = dpo_mlp_num_base(&mc), nl = dpo_mlp_num_lora(&mc);
    const uint64_t seed = 1, eval_seed = seed ^ 0x5eed0f5eedULL; /* diffpo align's held-out seed */
    const dpo_adamw pre_opt = dpo_adamw_default(DPO_PRETRAIN_LR);
    dpo_train_cfg cfg = dpo_train_cfg_default(DPO_METHOD_TAILORPO);
    size_t pw = dpo_pretrain_workspace_size(&mc, DPO_PRETRAIN_BATCH), ew = dpo_eval_workspace_size(&mc), tw;
    float *base = xalloc(nb * 4), *pm = xalloc(nb * 4), *pv = xalloc(nb * 4);
    float *lora = xalloc(nl * 4), *m = xalloc(nl * 4), *v = xalloc(nl * 4);
    void *pwork = xalloc(pw), *ework = xalloc(ew), *twork;
    double before, after;
    dpo_trainer tr;
    uint64_t it;

    if (!base || !pm || !pv || !lora || !m || !v || !pwork || !ework)
        return 1;
    /* 1. the base model: the reference policy after deterministic DDPM pretraining */
    if (check(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0), "schedule") ||
        check(dpo_mlp_init_base(base, &mc, 0), "init") ||
        check(dpo_pretrain_run(base, pm, pv, NULL, &mc, &sched, 0, 0, PRETRAIN_ITERS, DPO_PRETRAIN_BATCH, &pre_opt,
                               pwork, pw),
              "pretraining"))
        return 1;

    /* 2. its mean reward on held-out seeds (T = 20 DDIM steps, eta = 1) */
    cfg.seed = seed;
    cfg.batch = 4;
    if (check(dpo_eval_model_reward(&before, NULL, eval_seed, EVAL_PER_CLASS, &mc, base, NULL, &sched, cfg.reward,
                              cfg.num_steps, cfg.eta, ework, ew),
              "evaluation"))
        return 1;

    /* 3. TailorPO: theta = base + LoRA, the base stays the frozen reference */
    tw = dpo_trainer_workspace_size(&cfg, &mc);
    twork = xalloc(tw);
    if (!twork || check(dpo_mlp_init_lora(lora, &mc, cfg.seed), "LoRA init") ||
        check(dpo_trainer_init(&tr, &cfg, &mc, &sched, base, lora, m, v, twork, tw), "trainer"))
        return 1;
    for (it = 0; it < ITERS; it++) /* prompts may also run on threads: dpo_trainer_sample + _apply */
        if (check(dpo_trainer_iteration(&tr, it, NULL), "iteration"))
            return 1;

    /* 4. after */
    if (check(dpo_eval_model_reward(&after, NULL, eval_seed, EVAL_PER_CLASS, &mc, base, lora, &sched, cfg.reward,
                              cfg.num_steps, cfg.eta, ework, ew),
              "evaluation"))
        return 1;
    printf("tailorpo reward before %.4f after %.4f change %+.4f lora_fingerprint %016llx\n", before, after,
           after - before, (unsigned long long)dpo_hash64(lora, nl * sizeof(float), 0));
    free(base), free(pm), free(pv), free(lora), free(m), free(v), free(pwork), free(ework), free(twork);
    return 0;
}
