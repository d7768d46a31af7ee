/* Trainers: every method runs on a tiny network; an iteration is a pure
 * function of (seed, iteration, state): resuming from a checkpoint and
 * running prompts on several threads give the same bits; the training loop
 * allocates nothing after set-up; a D3PO tie gives no update. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include "alloc_count.h"
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"

static dpo_schedule sched;
static dpo_mlp_cfg mcfg;
static float *base;
static size_t nb, nl;

static void setup(void)
{
    mcfg = dpo_mlp_cfg_default();
    mcfg.hidden = 32;
    nb = dpo_mlp_num_base(&mcfg);
    nl = dpo_mlp_num_lora(&mcfg);
    base = malloc(nb * sizeof(float));
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) ||
        dpo_mlp_init_base(base, &mcfg, 3)) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
}

typedef struct run {
    dpo_trainer tr;
    float *lora, *m, *v, *pairs;
    int32_t *pcls;
    void *work;
} run;

static dpo_train_cfg small_cfg(dpo_method meth)
{
    dpo_train_cfg c = dpo_train_cfg_default(meth);
    c.batch = 3;
    c.num_steps = 8;
    c.train_every = 2;
    c.train_from = meth == DPO_METHOD_SPO ? 2 : 0;
    c.kappa = 1000; /* every SPO pair counts in this short schedule */
    c.spo_thr = 0.0;
    c.seed = 99;
    return c;
}

static int run_open(run *r, const dpo_train_cfg *c)
{
    size_t ws = dpo_trainer_workspace_size(c, &mcfg);
    r->lora = malloc(nl * 4);
    r->m = calloc(nl, 4);
    r->v = calloc(nl, 4);
    r->pairs = 0;
    r->pcls = 0;
    if (posix_memalign(&r->work, 64, ws))
        return -1;
    dpo_mlp_init_lora(r->lora, &mcfg, 5);
    if (dpo_trainer_init(&r->tr, c, &mcfg, &sched, base, r->lora, r->m, r->v, r->work, ws))
        return -1;
    if (c->method == DPO_METHOD_DIFFDPO || c->method == DPO_METHOD_DSPO) {
        size_t n = 6, pw = dpo_make_pairs_workspace_size(&mcfg);
        void *w;
        r->pairs = malloc(n * 2 * mcfg.dim * 4);
        r->pcls = malloc(n * sizeof(int32_t));
        if (posix_memalign(&w, 64, pw))
            return -1;
        if (dpo_make_pairs(r->pairs, r->pcls, n, 7, &mcfg, base, &sched, c->reward, 8, 1.0, w, pw) ||
            dpo_trainer_set_pairs(&r->tr, r->pairs, r->pcls, n))
            return -1;
        free(w);
    }
    return 0;
}

static void run_close(run *r)
{
    free(r->lora);
    free(r->m);
    free(r->v);
    free(r->pairs);
    free(r->pcls);
    free(r->work);
}

static void test_every_method_runs_and_moves(void)
{
    int meth;
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        run r;
        dpo_train_stats st[3];
        float *before = malloc(nl * 4);
        int it, moved = 0;
        size_t i;
        CHECK(run_open(&r, &c) == 0, "%s: set-up", dpo_method_name((dpo_method)meth));
        memcpy(before, r.lora, nl * 4);
        for (it = 0; it < 2; it++) {
            dpo_status e = dpo_trainer_iteration(&r.tr, (uint64_t)it, st);
            CHECK(e == DPO_OK, "%s: iteration %d: %s", dpo_method_name((dpo_method)meth), it, dpo_status_str(e));
            for (i = 0; i < 3; i++)
                CHECK(isfinite(st[i].loss) && isfinite(st[i].reward), "%s: finite stats", dpo_method_name((dpo_method)meth));
        }
        for (i = 0; i < nl; i++)
            moved |= before[i] != r.lora[i];
        CHECK(moved, "%s: LoRA parameters did not move", dpo_method_name((dpo_method)meth));
        free(before);
        run_close(&r);
    }
}

/* After set-up (buffers, workspace, trainer init, offline pairs) the
 * training loop -- per-prompt samples, the AdamW apply, whole iterations --
 * and the evaluation allocate nothing. */
static void test_no_allocation_in_loop(void)
{
    int meth;
    if (!COUNTING) {
        printf("  (allocation counting unavailable in this build: skipped)\n");
        return;
    }
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        run r;
        dpo_train_stats st[3];
        size_t ew = dpo_eval_workspace_size(&mcfg);
        void *ework = 0;
        double rew = 0;
        long before;
        int it, ok = 1;
        size_t b;
        CHECK(run_open(&r, &c) == 0, "%s: set-up", dpo_method_name((dpo_method)meth));
        CHECK(posix_memalign(&ework, 64, ew) == 0, "eval workspace");
        before = n_alloc;
        for (it = 0; it < 3; it++) {
            if (it == 1) { /* the threaded form: samples, then apply */
                for (b = 0; b < c.batch; b++)
                    ok &= dpo_trainer_sample(&r.tr, (uint64_t)it, b, &st[b]) == DPO_OK;
                ok &= dpo_trainer_apply(&r.tr, (uint64_t)it) == DPO_OK;
            } else {
                ok &= dpo_trainer_iteration(&r.tr, (uint64_t)it, st) == DPO_OK;
            }
        }
        ok &= dpo_eval_model_reward(&rew, 0, 7, 1, &mcfg, base, r.lora, &sched, c.reward, c.num_steps, c.eta, ework,
                                    ew) ==
              DPO_OK;
        CHECK(ok, "%s: iterations ran", dpo_method_name((dpo_method)meth));
        CHECK(n_alloc == before, "%s: %ld allocations inside the training loop", dpo_method_name((dpo_method)meth),
              (long)(n_alloc - before));
        free(ework);
        run_close(&r);
    }
}

/* 4 iterations straight vs 2, checkpoint (lora, m, v), a fresh trainer, 2 more. */
static void test_resume_is_bit_identical(void)
{
    int meth;
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        run a, b;
        float *ck = malloc(3 * nl * 4);
        int it;
        run_open(&a, &c);
        for (it = 0; it < 4; it++)
            dpo_trainer_iteration(&a.tr, (uint64_t)it, 0);
        run_open(&b, &c);
        for (it = 0; it < 2; it++)
            dpo_trainer_iteration(&b.tr, (uint64_t)it, 0);
        memcpy(ck, b.lora, nl * 4);
        memcpy(ck + nl, b.m, nl * 4);
        memcpy(ck + 2 * nl, b.v, nl * 4);
        run_close(&b);
        run_open(&b, &c);
        memcpy(b.lora, ck, nl * 4);
        memcpy(b.m, ck + nl, nl * 4);
        memcpy(b.v, ck + 2 * nl, nl * 4);
        for (it = 2; it < 4; it++)
            dpo_trainer_iteration(&b.tr, (uint64_t)it, 0);
        CHECK(chk_same_bits(a.lora, b.lora, nl * 4), "%s: resumed run differs", dpo_method_name((dpo_method)meth));
        CHECK(chk_same_bits(a.v, b.v, nl * 4), "%s: resumed optimizer state differs", dpo_method_name((dpo_method)meth));
        run_close(&a);
        run_close(&b);
        free(ck);
    }
}

/* A user reward: the built-in aesthetic reward scaled by `scale` (its
 * value and gradient), optionally failing. */
typedef struct ureward {
    double scale;
    int fail;
    long calls;
} ureward;

static int ur_value(void *u, double *r, const float *x0, size_t n, const int32_t *cond)
{
    ureward *w = (ureward *)u;
    size_t i;
    w->calls++;
    if (w->fail || dpo_reward_builtin_eval(r, 0, DPO_REWARD_AESTHETIC, x0, n, cond) != DPO_OK)
        return -1;
    for (i = 0; i < n; i++)
        r[i] *= w->scale;
    return 0;
}

static int ur_grad(void *u, double *r, float *g, const float *x0, size_t n, const int32_t *cond)
{
    ureward *w = (ureward *)u;
    size_t i;
    w->calls++;
    if (w->fail || dpo_reward_builtin_eval(r, g, DPO_REWARD_AESTHETIC, x0, n, cond) != DPO_OK)
        return -1;
    for (i = 0; i < n; i++)
        r[i] *= w->scale;
    for (i = 0; i < n * mcfg.dim; i++)
        g[i] = (float)(w->scale * (double)g[i]);
    return 0;
}

/* cfg.user_reward: a user reward equal to the built-in one (scale 1) gives
 * the built-in run's bits and is actually called; the negated reward flips
 * the preferences and gives other bits; validation and failure mapping. */
static void test_user_reward(void)
{
    int meth;
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_method me = (dpo_method)meth;
        dpo_train_cfg c = small_cfg(me), cu, cn;
        dpo_reward_model um = {0, 0, ur_value, ur_grad};
        ureward w1 = {1.0, 0, 0}, wn = {-1.0, 0, 0};
        run a, b, n;
        int it;
        dpo_status e = DPO_OK;
        um.dim = mcfg.dim;
        cu = c;
        cn = c;
        um.user = &w1;
        cu.user_reward = &um;
        run_open(&a, &c);
        CHECK(run_open(&b, &cu) == 0, "%s: set-up with a user reward", dpo_method_name(me));
        for (it = 0; it < 2; it++) {
            dpo_trainer_iteration(&a.tr, (uint64_t)it, 0);
            e = dpo_trainer_iteration(&b.tr, (uint64_t)it, 0);
        }
        CHECK(e == DPO_OK, "%s: user-reward iteration: %s", dpo_method_name(me), dpo_status_str(e));
        CHECK(chk_same_bits(a.lora, b.lora, nl * 4), "%s: user reward equal to the built-in one changes bits",
              dpo_method_name(me));
        if (me != DPO_METHOD_DIFFDPO && me != DPO_METHOD_DSPO) { /* offline pairs are ranked once, outside */
            dpo_reward_model nm = um;
            CHECK(w1.calls > 0, "%s: the user reward was not called", dpo_method_name(me));
            nm.user = &wn;
            cn.user_reward = &nm;
            run_open(&n, &cn);
            for (it = 0; it < 2; it++)
                dpo_trainer_iteration(&n.tr, (uint64_t)it, 0);
            CHECK(!chk_same_bits(a.lora, n.lora, nl * 4), "%s: the negated user reward gave the same bits",
                  dpo_method_name(me));
            /* failure of the callback -> DPO_ERR_MODEL */
            wn.fail = 1;
            memcpy(b.lora, n.lora, nl * 4); /* b is done: keep a copy of n's state */
            e = dpo_trainer_iteration(&n.tr, 2, 0);
            CHECK(e == DPO_ERR_MODEL, "%s: failing user reward gives %s", dpo_method_name(me), dpo_status_str(e));
            CHECK(chk_same_bits(b.lora, n.lora, nl * 4), "%s: a failed iteration changed the LoRA parameters",
                  dpo_method_name(me));
            run_close(&n);
        }
        run_close(&a);
        run_close(&b);
    }
    { /* validation at init */
        dpo_train_cfg c = small_cfg(DPO_METHOD_TAILORPO_G);
        dpo_reward_model um = {0, 0, ur_value, 0};
        dpo_trainer tr;
        float *lora = calloc(nl, 4), *m = calloc(nl, 4), *v = calloc(nl, 4);
        size_t ws = dpo_trainer_workspace_size(&c, &mcfg);
        void *work = 0;
        CHECK(posix_memalign(&work, 64, ws) == 0, "workspace");
        um.dim = mcfg.dim;
        c.user_reward = &um;
        CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, lora, m, v, work, ws) == DPO_ERR_UNSUPPORTED,
              "tailorpo-g needs the user reward's gradient");
        c.method = DPO_METHOD_TAILORPO;
        um.dim = mcfg.dim + 1;
        CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, lora, m, v, work, ws) == DPO_ERR_SIZE,
              "user reward dim must match the network");
        um.dim = mcfg.dim;
        um.value = 0;
        CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, lora, m, v, work, ws) == DPO_ERR_NULL,
              "user reward without value");
        free(lora);
        free(m);
        free(v);
        free(work);
    }
}

typedef struct tjob {
    dpo_trainer *tr;
    uint64_t it;
    size_t b0, b1;
    dpo_status st;
} tjob;

static void *tjob_fn(void *p)
{
    tjob *j = (tjob *)p;
    size_t b;
    j->st = DPO_OK;
    for (b = j->b0; b < j->b1 && !j->st; b++)
        j->st = dpo_trainer_sample(j->tr, j->it, b, 0);
    return 0;
}

static void test_threads_do_not_change_bits(void)
{
    int meth;
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        run a, b;
        int it;
        run_open(&a, &c);
        run_open(&b, &c);
        for (it = 0; it < 2; it++) {
            pthread_t t[2];
            tjob j[2];
            int w;
            dpo_trainer_iteration(&a.tr, (uint64_t)it, 0);
            for (w = 0; w < 2; w++) {
                j[w].tr = &b.tr;
                j[w].it = (uint64_t)it;
                j[w].b0 = w == 0 ? 0 : 1;
                j[w].b1 = w == 0 ? 1 : 3;
                pthread_create(&t[w], 0, tjob_fn, &j[w]);
            }
            for (w = 0; w < 2; w++) {
                pthread_join(t[w], 0);
                CHECK(j[w].st == DPO_OK, "thread status");
            }
            dpo_trainer_apply(&b.tr, (uint64_t)it);
        }
        CHECK(chk_same_bits(a.lora, b.lora, nl * 4), "%s: two threads differ from one", dpo_method_name((dpo_method)meth));
        run_close(&a);
        run_close(&b);
    }
}

static void test_validation(void)
{
    dpo_train_cfg c = small_cfg(DPO_METHOD_TAILORPO);
    dpo_trainer tr;
    float l[4], m[4], v[4];
    unsigned char w[64];
    memset(&tr, 0x33, sizeof tr);
    c.beta = 0;
    CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, l, m, v, w, 64) == DPO_ERR_RANGE, "beta 0");
    c = small_cfg(DPO_METHOD_TAILORPO);
    CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, l, m, v, w, 64) == DPO_ERR_WORKSPACE, "small work");
    {
        /* the one work alignment, DPO_WORK_ALIGN: 16 bytes suffice, 8 do not */
        size_t ws = dpo_trainer_workspace_size(&c, &mcfg), nl = dpo_mlp_num_lora(&mcfg);
        float *bl = (float *)calloc(3 * nl + 1, sizeof(float));
        void *p = NULL;
        CHECK(posix_memalign(&p, 64, ws + 64) == 0 && bl, "workspace");
        if (p && bl) {
            unsigned char *big = (unsigned char *)p;
            CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, bl, bl + nl, bl + 2 * nl, big + 8, ws) ==
                      DPO_ERR_WORKSPACE,
                  "work 8 bytes off DPO_WORK_ALIGN accepted");
            CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, bl, bl + nl, bl + 2 * nl, big + DPO_WORK_ALIGN, ws) ==
                      DPO_OK,
                  "a DPO_WORK_ALIGN-aligned work area refused");
        }
        free(p);
        free(bl);
    }
    c.k = 9;
    CHECK(dpo_trainer_init(&tr, &c, &mcfg, &sched, base, l, m, v, w, 64) == DPO_ERR_RANGE, "k too large");
    {
        dpo_method mm;
        CHECK(dpo_method_parse(&mm, "tailorpo-g") == DPO_OK && mm == DPO_METHOD_TAILORPO_G, "parse");
        CHECK(dpo_method_parse(&mm, "nonsense") == DPO_ERR_RANGE, "parse error");
    }
    {
        /* Diffusion-DPO without pairs is refused */
        run r;
        dpo_train_cfg cd = small_cfg(DPO_METHOD_TAILORPO);
        run_open(&r, &cd);
        r.tr.cfg.method = DPO_METHOD_DIFFDPO;
        CHECK(dpo_trainer_sample(&r.tr, 0, 0, 0) == DPO_ERR_NULL, "pairs required");
        run_close(&r);
    }
}

/* dpo_make_pairs_user / dpo_eval_model_reward_user: the built-in reward as a
 * model gives the kind-based functions' bits; the caller's reward is
 * really used (a negated one swaps every untied pair and negates the mean
 * exactly); bad arguments are refused before any work, a failing or
 * non-finite reward maps to DPO_ERR_MODEL / DPO_ERR_NONFINITE. */
static int nan_value(void *u, double *r, const float *x0, size_t n, const int32_t *cond)
{
    size_t i;
    (void)u, (void)x0, (void)cond;
    for (i = 0; i < n; i++)
        r[i] = NAN;
    return 0;
}

static void test_user_reward_offline(void)
{
    const size_t n = 8, D = mcfg.dim, npc = 2, ws = dpo_make_pairs_workspace_size(&mcfg);
    const size_t nimg = npc * mcfg.n_classes * D;
    float *p0 = malloc(n * 2 * D * 4), *p1 = malloc(n * 2 * D * 4), *pn = malloc(n * 2 * D * 4);
    float *i0 = malloc(nimg * 4), *i1 = malloc(nimg * 4), *ipat = malloc(nimg * 4);
    int32_t c0[8], c1[8], cn[8];
    dpo_reward_model bm = dpo_reward_builtin(DPO_REWARD_AESTHETIC), um = {0, 0, ur_value, 0}, bad;
    ureward wn = {-1.0, 0, 0}, wf = {1.0, 1, 0};
    double m0 = 0, m1 = 1, mn = 2, keep;
    size_t i, swapped = 0, ties = 0;
    void *w = 0;
    dpo_status e;
    CHECK(posix_memalign(&w, 64, ws) == 0, "workspace");
    um.dim = D;
    um.user = &wn;
    /* built-in kind = the built-in reward as a model, bit for bit */
    CHECK(dpo_make_pairs(p0, c0, n, 11, &mcfg, base, &sched, DPO_REWARD_AESTHETIC, 8, 1.0, w, ws) == DPO_OK, "pairs");
    CHECK(dpo_make_pairs_user(p1, c1, n, 11, &mcfg, base, &sched, &bm, 8, 1.0, w, ws) == DPO_OK, "pairs (model)");
    CHECK(chk_same_bits(p0, p1, n * 2 * D * 4) && !memcmp(c0, c1, sizeof c0), "pairs: model != kind");
    CHECK(dpo_eval_model_reward(&m0, i0, 12, npc, &mcfg, base, 0, &sched, DPO_REWARD_AESTHETIC, 8, 1.0, w,
                                ws) == DPO_OK,
          "eval");
    CHECK(dpo_eval_model_reward_user(&m1, i1, 12, npc, &mcfg, base, 0, &sched, &bm, 8, 1.0, w, ws) == DPO_OK,
          "eval (model)");
    CHECK(chk_same_bits(&m0, &m1, sizeof m0) && chk_same_bits(i0, i1, nimg * 4), "eval: model != kind");
    /* the negated user reward: every untied pair swapped, the mean negated */
    CHECK(dpo_make_pairs_user(pn, cn, n, 11, &mcfg, base, &sched, &um, 8, 1.0, w, ws) == DPO_OK, "pairs (negated)");
    for (i = 0; i < n; i++) {
        const float *a = p0 + i * 2 * D, *b = pn + i * 2 * D;
        if (!memcmp(a, a + D, D * 4)) {
            ties++;
            continue;
        }
        swapped += !memcmp(a, b + D, D * 4) && !memcmp(a + D, b, D * 4);
    }
    CHECK(swapped == n && ties == 0, "negated reward: %zu of %zu pairs swapped (%zu identical)", swapped, n, ties);
    CHECK(wn.calls == (long)(2 * n), "the user reward was called %ld times, expected %zu", wn.calls, 2 * n);
    CHECK(dpo_eval_model_reward_user(&mn, i1, 12, npc, &mcfg, base, 0, &sched, &um, 8, 1.0, w, ws) == DPO_OK,
          "eval (negated)");
    CHECK(mn == -m0, "negated mean %.17g, built-in %.17g", mn, m0);
    /* refusals before any work: outputs keep their pattern */
    for (i = 0; i < nimg; i++)
        ipat[i] = (float)i + 0.5f;
    memcpy(i1, ipat, nimg * 4);
    memcpy(p1, p0, n * 2 * D * 4);
    keep = mn = 123.0;
    bad = um;
    bad.dim = D + 1;
    CHECK(dpo_make_pairs_user(p1, c1, n, 3, &mcfg, base, &sched, &bad, 8, 1.0, w, ws) == DPO_ERR_SIZE, "dim");
    CHECK(dpo_eval_model_reward_user(&mn, i1, 3, npc, &mcfg, base, 0, &sched, &bad, 8, 1.0, w, ws) == DPO_ERR_SIZE,
                                     "dim");
    bad = um;
    bad.value = 0;
    CHECK(dpo_make_pairs_user(p1, c1, n, 3, &mcfg, base, &sched, &bad, 8, 1.0, w, ws) == DPO_ERR_NULL, "no value");
    CHECK(dpo_eval_model_reward_user(&mn, i1, 3, npc, &mcfg, base, 0, &sched, &bad, 8, 1.0, w, ws) == DPO_ERR_NULL,
          "no value");
    CHECK(dpo_make_pairs_user(p1, c1, n, 3, &mcfg, base, &sched, 0, 8, 1.0, w, ws) == DPO_ERR_NULL, "NULL model");
    CHECK(dpo_eval_model_reward_user(&mn, i1, 3, npc, &mcfg, base, 0, &sched, 0, 8, 1.0, w, ws) == DPO_ERR_NULL,
          "NULL model");
    CHECK(chk_same_bits(p1, p0, n * 2 * D * 4) && chk_same_bits(i1, ipat, nimg * 4) && mn == keep,
          "a refused call wrote its outputs");
    /* failures during the rollouts */
    um.user = &wf;
    e = dpo_eval_model_reward_user(&mn, 0, 3, npc, &mcfg, base, 0, &sched, &um, 8, 1.0, w, ws);
    CHECK(e == DPO_ERR_MODEL && mn == keep, "failing reward: %s, mean %g", dpo_status_str(e), mn);
    e = dpo_make_pairs_user(p1, c1, n, 3, &mcfg, base, &sched, &um, 8, 1.0, w, ws);
    CHECK(e == DPO_ERR_MODEL, "failing reward (pairs): %s", dpo_status_str(e));
    um.value = nan_value;
    e = dpo_eval_model_reward_user(&mn, 0, 3, npc, &mcfg, base, 0, &sched, &um, 8, 1.0, w, ws);
    CHECK(e == DPO_ERR_NONFINITE && mn == keep, "NaN reward: %s", dpo_status_str(e));
    free(p0), free(p1), free(pn), free(i0), free(i1), free(ipat), free(w);
}

int main(void)
{
    setup();
    RUN(test_every_method_runs_and_moves);
    RUN(test_resume_is_bit_identical);
    RUN(test_threads_do_not_change_bits);
    RUN(test_validation);
    RUN(test_no_allocation_in_loop);
    RUN(test_user_reward);
    RUN(test_user_reward_offline);
    free(base);
    return chk_summary();
}
