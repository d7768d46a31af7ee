/* Pretraining: a short run lowers the epsilon-MSE; the first iteration's
 * loss equals one recomputed here from the documented recipe (data
 * image, Philox timestep, Philox noise, x_t, network forward); resuming
 * from a checkpoint gives the bits of one uninterrupted run; no
 * allocation inside dpo_pretrain_run (malloc counted by interposition,
 * as tests/test_alloc.c does); the rollout wrapper runs on the result;
 * validation. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"

#include "alloc_count.h"

static dpo_schedule sched;

typedef struct state {
    float *base, *m, *v;
    size_t nb;
} state;

static void st_init(state *s, const dpo_mlp_cfg *cfg, uint64_t seed)
{
    s->nb = dpo_mlp_num_base(cfg);
    s->base = calloc(s->nb, sizeof(float));
    s->m = calloc(s->nb, sizeof(float));
    s->v = calloc(s->nb, sizeof(float));
    dpo_mlp_init_base(s->base, cfg, seed);
}

static void st_free(state *s)
{
    free(s->base);
    free(s->m);
    free(s->v);
}

static void *walloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64))
        return NULL;
    return p;
}

#define BATCH 8
#define ITERS 300

static void test_loss_decreases_and_first_loss(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    dpo_adamw opt = dpo_adamw_default(2e-3);
    size_t wsz = dpo_pretrain_workspace_size(&cfg, BATCH);
    void *work = walloc(wsz);
    double loss[ITERS], first = 0, last = 0;
    state s;
    int i;
    st_init(&s, &cfg, 1);
    /* iteration 0's loss, recomputed from the recipe with the public API */
    {
        float xt[BATCH * 64], eps[BATCH * 64], out[BATCH * 64];
        int32_t t[BATCH], c[BATCH];
        size_t mw = dpo_mlp_workspace_size(&cfg, BATCH), b, j;
        void *mwork = walloc(mw);
        double sum = 0;
        for (b = 0; b < BATCH; b++) {
            uint32_t ctr[4] = {0, (uint32_t)b, 0, DPO_STREAM_TIMESTEP << 16}, key[2] = {5, 0}, w[4];
            dpo_noise_coord nc;
            double a;
            dpo_data_image(xt + b * 64, &c[b], 5, (uint32_t)b, -1);
            dpo_philox4x32_10_block(w, ctr, key);
            t[b] = (int32_t)(((uint64_t)w[0] * 1000u) >> 32);
            nc.seed = 5;
            nc.stream = DPO_STREAM_TRAIN;
            nc.sample = (uint32_t)b;
            nc.step = 0;
            nc.candidate = 0;
            dpo_normal_f32(eps + b * 64, nc, 0, 64);
            a = sched.ac32[t[b]];
            for (j = 0; j < 64; j++)
                xt[b * 64 + j] = (float)sqrt(a) * xt[b * 64 + j] + (float)sqrt(1.0 - a) * eps[b * 64 + j];
        }
        CHECK(dpo_mlp_forward(out, &cfg, s.base, NULL, xt, t, c, BATCH, mwork, mw) == DPO_OK, "forward");
        for (j = 0; j < BATCH * 64; j++)
            sum += ((double)out[j] - eps[j]) * ((double)out[j] - eps[j]);
        sum /= BATCH * 64;
        CHECK(dpo_pretrain_run(s.base, s.m, s.v, loss, &cfg, &sched, 5, 0, ITERS, BATCH, &opt, work, wsz) == DPO_OK,
              "run");
        CHECK(fabs(loss[0] - sum) <= 1e-12 * sum, "iteration 0 loss %.15g vs recomputed %.15g", loss[0], sum);
        free(mwork);
    }
    for (i = 0; i < 10; i++) {
        first += loss[i] / 10;
        last += loss[ITERS - 10 + i] / 10;
    }
    printf("     loss: first 10 iterations %.4f, last 10 %.4f\n", first, last);
    CHECK(first > 0.5 && last < 0.5 * first, "loss decreases: %.4f -> %.4f", first, last);
    st_free(&s);
    free(work);
}

static void test_resume_bit_identity(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    dpo_adamw opt = dpo_adamw_default(1e-3);
    size_t wsz = dpo_pretrain_workspace_size(&cfg, 4);
    void *work = walloc(wsz);
    double l1[30], l2[30];
    state a, b;
    opt.weight_decay = 1e-4;
    st_init(&a, &cfg, 2);
    st_init(&b, &cfg, 2);
    CHECK(dpo_pretrain_run(a.base, a.m, a.v, l1, &cfg, &sched, 9, 100, 130, 4, &opt, work, wsz) == DPO_OK, "one run");
    CHECK(dpo_pretrain_run(b.base, b.m, b.v, l2, &cfg, &sched, 9, 100, 111, 4, &opt, work, wsz) == DPO_OK, "part 1");
    memset(work, 0x5a, wsz); /* the workspace carries no state */
    CHECK(dpo_pretrain_run(b.base, b.m, b.v, l2 + 11, &cfg, &sched, 9, 111, 111, 4, &opt, work, wsz) == DPO_OK,
          "empty range");
    CHECK(dpo_pretrain_run(b.base, b.m, b.v, l2 + 11, &cfg, &sched, 9, 111, 130, 4, &opt, work, wsz) == DPO_OK,
          "part 2");
    CHECK(chk_same_bits(a.base, b.base, a.nb * 4), "base bits equal after resume");
    CHECK(chk_same_bits(a.m, b.m, a.nb * 4) && chk_same_bits(a.v, b.v, a.nb * 4), "moments equal after resume");
    CHECK(chk_same_bits(l1, l2, sizeof l1), "losses equal after resume");
    /* a different seed gives a different model */
    CHECK(dpo_pretrain_run(b.base, b.m, b.v, NULL, &cfg, &sched, 10, 130, 131, 4, &opt, work, wsz) == DPO_OK, "seed");
    CHECK(dpo_pretrain_run(a.base, a.m, a.v, NULL, &cfg, &sched, 9, 130, 131, 4, &opt, work, wsz) == DPO_OK, "seed");
    CHECK(!chk_same_bits(a.base, b.base, a.nb * 4), "seed matters");
    st_free(&a);
    st_free(&b);
    free(work);
}

static void test_no_allocation(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    dpo_adamw opt = dpo_adamw_default(1e-3);
    size_t wsz = dpo_pretrain_workspace_size(&cfg, 4);
    void *work = walloc(wsz);
    double l[5];
    long before;
    state s;
    if (!COUNTING || getenv("DPO_UNDER_VALGRIND")) {
        printf("     (allocation counting unavailable in this build: skipped)\n");
        free(work);
        return;
    }
    st_init(&s, &cfg, 3);
    before = n_alloc;
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 0, 5, 4, &opt, work, wsz) == DPO_OK, "run");
    CHECK(n_alloc == before, "%ld allocations inside dpo_pretrain_run", n_alloc - before);
    {
        static void *volatile sink; /* escapes: the compiler may not elide the call */
        long probe = n_alloc;
        sink = malloc(8);
        CHECK(n_alloc == probe + 1, "the counter counts");
        free(sink);
    }
    st_free(&s);
    free(work);
}

/* the trained model runs in a rollout through the wrapper; same bits for
 * any split of the batch */
static void test_rollout_wrapper(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t mw = dpo_mlp_workspace_size(&cfg, 8), rw = dpo_rollout_workspace_size(8, 64), i;
    void *mwork = walloc(mw), *rwork = walloc(rw);
    float *t1 = malloc(21 * 8 * 64 * 4), *t2 = malloc(21 * 8 * 64 * 4);
    int32_t ts[20], cond[8];
    dpo_mlp_model_ctx ctx;
    dpo_eps_model em;
    dpo_rollout_cfg rc;
    state s;
    st_init(&s, &cfg, 4);
    for (i = 0; i < 8; i++)
        cond[i] = (int32_t)(i % 4);
    CHECK(dpo_timesteps(ts, 20, 1000, DPO_SPACING_LEADING, 1) == DPO_OK, "timesteps");
    ctx.cfg = &cfg;
    ctx.base = s.base;
    ctx.lora = NULL;
    ctx.work = mwork;
    ctx.work_size = mw;
    em = dpo_mlp_model(&ctx);
    memset(&rc, 0, sizeof rc);
    rc.seed = 3;
    rc.batch = 8;
    rc.dim = 64;
    rc.num_steps = 20;
    rc.timesteps = ts;
    rc.sched = &sched;
    rc.opts = dpo_step_opts_default();
    rc.cond = cond;
    CHECK(dpo_rollout_f32(t1, NULL, &rc, &em, 0, 8, rwork, rw) == DPO_OK, "rollout");
    CHECK(dpo_rollout_f32(t2, NULL, &rc, &em, 0, 3, rwork, rw) == DPO_OK, "rollout [0,3)");
    CHECK(dpo_rollout_f32(t2, NULL, &rc, &em, 3, 8, rwork, rw) == DPO_OK, "rollout [3,8)");
    for (i = 0; i <= 20; i++)
        CHECK(chk_same_bits(t1 + i * 8 * 64, t2 + i * 8 * 64, 8 * 64 * 4), "row %zu equal across splits", i);
    rc.cond = NULL;
    CHECK(dpo_rollout_f32(t2, NULL, &rc, &em, 0, 8, rwork, rw) == DPO_ERR_MODEL, "no classes: model error");
    st_free(&s);
    free(mwork);
    free(rwork);
    free(t1);
    free(t2);
}

static void test_validation(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default(), bad = cfg;
    dpo_adamw opt = dpo_adamw_default(1e-3), bo = opt;
    size_t wsz = dpo_pretrain_workspace_size(&cfg, 2);
    void *work = walloc(wsz);
    double l[4] = {7, 7, 7, 7};
    state s, keep;
    st_init(&s, &cfg, 5);
    st_init(&keep, &cfg, 5);
    CHECK(wsz > 0 && dpo_pretrain_workspace_size(&cfg, 0) == 0, "workspace sizes");
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 0, 2, 2, &opt, work, wsz - 1) == DPO_ERR_WORKSPACE,
          "small work");
    bad.num_train_steps = 500;
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &bad, &sched, 1, 0, 2, 2, &opt, work, wsz) == DPO_ERR_RANGE,
          "cfg steps != schedule steps");
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 3, 2, 2, &opt, work, wsz) == DPO_ERR_RANGE,
          "it_begin > it_end");
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 0, ((uint64_t)1 << 31) + 1, 2, &opt, work, wsz) ==
              DPO_ERR_RANGE,
          "image index overflows 32 bits");
    bo.beta1 = 1.5;
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 0, 2, 2, &bo, work, wsz) == DPO_ERR_RANGE,
          "bad optimizer");
    CHECK(dpo_pretrain_run(s.base, s.base, s.v, l, &cfg, &sched, 1, 0, 2, 2, &opt, work, wsz) == DPO_ERR_ALIAS,
          "m = base");
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, NULL, 1, 0, 2, 2, &opt, work, wsz) == DPO_ERR_NULL, "sched");
    s.m[10] = NAN;
    CHECK(dpo_pretrain_run(s.base, s.m, s.v, l, &cfg, &sched, 1, 0, 2, 2, &opt, work, wsz) == DPO_ERR_NONFINITE,
          "NaN state");
    s.m[10] = 0;
    CHECK(chk_same_bits(s.base, keep.base, s.nb * 4) && chk_same_bits(s.m, keep.m, s.nb * 4) &&
              chk_same_bits(s.v, keep.v, s.nb * 4) && l[0] == 7 && l[1] == 7,
          "failed runs left the state and losses untouched");
    st_free(&s);
    st_free(&keep);
    free(work);
}

int main(void)
{
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) != DPO_OK) {
        printf("schedule failed\n0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_loss_decreases_and_first_loss);
    RUN(test_resume_bit_identity);
    RUN(test_no_allocation);
    RUN(test_rollout_wrapper);
    RUN(test_validation);
    return chk_summary();
}
