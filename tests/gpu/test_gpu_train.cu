// Short alignment runs with the CPU network's matrix products on the
// device (dpo_cuda_host_mm, diffpo_cuda_model.h) against the CPU library:
//   strict: a short run of every method (hidden 32, T 8, batch 3, 3
//     iterations; Diffusion-DPO / DSPO with offline pairs made on the
//     device too) gives the CPU run's LoRA / AdamW m / v bits; so do the
//     prompts on three threads (the backend's lock), a short
//     dpo_pretrain_run (state and losses), and dpo_eval_model_reward (reward and
//     final images);
//   fast (cuBLASLt): the same runs repeat their own bits, the evaluation
//     reward is within 1e-4 (1 + |r|) of the CPU's and the pretraining
//     losses within 1e-4 relative; the trained LoRA parameters are within
//     2 lr per iteration of the CPU's (the AdamW step bound) and the
//     maximum difference is printed;
//   bad arguments: create's checks; a product beyond the buffers fails
//     and the network reports DPO_ERR_MODEL with out untouched.
// XXH3-64 fingerprints of the final states are printed.
// With no CUDA device: "no CUDA device", 0 passed, 1 failed, exit 1.
// DPO_GPU_QUICK=1: smaller (hidden 16, T 4, batch 2, 2 iterations).
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "diffpo_cuda_model.h"
#include "check.h"

static int quick;
static dpo_schedule sched;
static dpo_mlp_cfg mcfg; // matmul NULL: the CPU
static float *base;
static size_t nb, nl;
static int T_STEPS, ITERS;
static size_t BATCH;

static void *walloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64))
        return NULL;
    return memset(p, 0, bytes ? bytes : 64);
}

static dpo_train_cfg small_cfg(dpo_method meth)
{
    dpo_train_cfg c = dpo_train_cfg_default(meth);
    c.batch = BATCH;
    c.num_steps = T_STEPS;
    c.train_every = 2;
    c.train_from = meth == DPO_METHOD_SPO ? 2 : 0;
    c.kappa = 1000; // every SPO pair counts in this short schedule
    c.spo_thr = 0.0;
    c.seed = 99;
    return c;
}

// One trainer run: state, workspace, offline pairs.
typedef struct trun {
    dpo_trainer tr;
    float *lora, *m, *v, *pairs;
    int32_t *pcls;
    void *work;
    size_t n_pairs;
} trun;

static void trun_close(trun *r)
{
    free(r->lora);
    free(r->m);
    free(r->v);
    free(r->pairs);
    free(r->pcls);
    free(r->work);
    memset(r, 0, sizeof *r);
}

static dpo_status trun_open(trun *r, const dpo_train_cfg *c, const dpo_mlp_cfg *mc)
{
    size_t ws = dpo_trainer_workspace_size(c, mc);
    dpo_status e;
    memset(r, 0, sizeof *r);
    r->lora = (float *)walloc(nl * 4);
    r->m = (float *)walloc(nl * 4);
    r->v = (float *)walloc(nl * 4);
    r->work = walloc(ws);
    if (!ws || !r->lora || !r->m || !r->v || !r->work)
        return DPO_ERR_SIZE;
    dpo_mlp_init_lora(r->lora, mc, 5);
    if ((e = dpo_trainer_init(&r->tr, c, mc, &sched, base, r->lora, r->m, r->v, r->work, ws)) != DPO_OK)
        return e;
    if (c->method == DPO_METHOD_DIFFDPO || c->method == DPO_METHOD_DSPO) {
        size_t pw = dpo_make_pairs_workspace_size(mc);
        void *w = walloc(pw);
        r->n_pairs = 2 * BATCH;
        r->pairs = (float *)walloc(r->n_pairs * 2 * mc->dim * 4);
        r->pcls = (int32_t *)walloc(r->n_pairs * sizeof(int32_t));
        e = dpo_make_pairs(r->pairs, r->pcls, r->n_pairs, 7, mc, base, &sched, c->reward, T_STEPS, 1.0, w, pw);
        free(w);
        if (e == DPO_OK)
            e = dpo_trainer_set_pairs(&r->tr, r->pairs, r->pcls, r->n_pairs);
        if (e != DPO_OK)
            return e;
    }
    return DPO_OK;
}

typedef struct thr_arg {
    dpo_trainer *tr;
    uint64_t it;
    size_t b;
    dpo_status st;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = (thr_arg *)p;
    a->st = dpo_trainer_sample(a->tr, a->it, a->b, NULL);
    return NULL;
}

// ITERS iterations; threads != 0: the prompts of each iteration on one
// thread each.
static dpo_status trun_iterate(trun *r, int threads)
{
    for (int it = 0; it < ITERS; it++) {
        dpo_status e;
        if (!threads) {
            if ((e = dpo_trainer_iteration(&r->tr, (uint64_t)it, NULL)) != DPO_OK)
                return e;
            continue;
        }
        pthread_t th[8];
        thr_arg a[8];
        for (size_t b = 0; b < BATCH; b++) {
            a[b].tr = &r->tr;
            a[b].it = (uint64_t)it;
            a[b].b = b;
            a[b].st = DPO_ERR_MODEL;
            if (pthread_create(&th[b], NULL, thr_main, &a[b]) != 0)
                return DPO_ERR_UNSUPPORTED;
        }
        e = DPO_OK;
        for (size_t b = 0; b < BATCH; b++) {
            pthread_join(th[b], NULL);
            if (a[b].st != DPO_OK)
                e = a[b].st;
        }
        if (e != DPO_OK || (e = dpo_trainer_apply(&r->tr, (uint64_t)it)) != DPO_OK)
            return e;
    }
    return DPO_OK;
}

static uint64_t fp_state(const trun *r)
{
    uint64_t h = dpo_hash64(r->lora, nl * 4, 0);
    h = dpo_hash64(r->m, nl * 4, h);
    return dpo_hash64(r->v, nl * 4, h);
}

static int same_state(const trun *a, const trun *b)
{
    return chk_same_bits(a->lora, b->lora, nl * 4) && chk_same_bits(a->m, b->m, nl * 4) &&
           chk_same_bits(a->v, b->v, nl * 4);
}

// A backend over a fresh dpo_cuda_host_mm; NULL on failure.
typedef struct dev {
    dpo_cuda_host_mm *h;
    dpo_matmul_backend be;
    dpo_mlp_cfg mc;
} dev;

static int dev_open(dev *d, dpo_cuda_mm_mode mode, size_t n)
{
    size_t dim = dpo_cuda_host_mm_dim(&mcfg, n);
    d->h = NULL;
    if (dpo_cuda_host_mm_create(&d->h, mode, dim, dim, dim) != DPO_OK)
        return -1;
    d->be = dpo_cuda_host_mm_backend(d->h);
    d->mc = mcfg;
    d->mc.matmul = &d->be;
    return 0;
}

static void dev_close(dev *d)
{
    dpo_cuda_host_mm_destroy(d->h);
    d->h = NULL;
}

// ------------------------------------------------------------ strict mode
static void test_train_strict(void)
{
    dev d;
    if (dev_open(&d, DPO_CUDA_MM_STRICT, 1)) {
        CHECK(0, "strict backend: create");
        return;
    }
    for (int meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        const char *name = dpo_method_name((dpo_method)meth);
        trun a, b;
        uint64_t calls0 = dpo_cuda_host_mm_calls(d.h);
        dpo_status e0 = trun_open(&a, &c, &mcfg), e1 = trun_open(&b, &c, &d.mc);
        CHECK(e0 == DPO_OK && e1 == DPO_OK, "%s: set-up: %s / %s", name, dpo_status_str(e0), dpo_status_str(e1));
        if (e0 == DPO_OK && e1 == DPO_OK) {
            if (a.pairs)
                CHECK(chk_same_bits(a.pairs, b.pairs, a.n_pairs * 2 * mcfg.dim * 4),
                      "%s: offline pairs made on the device differ", name);
            e0 = trun_iterate(&a, 0);
            e1 = trun_iterate(&b, 0);
            CHECK(e0 == DPO_OK && e1 == DPO_OK, "%s: run: %s / %s", name, dpo_status_str(e0), dpo_status_str(e1));
            CHECK(same_state(&a, &b), "%s: strict device state differs from the CPU's", name);
            CHECK(dpo_cuda_host_mm_calls(d.h) > calls0, "%s: the device backend was not called", name);
            printf("     %-13s cpu %016llx  gpu-strict %016llx  (%llu device products)\n", name,
                   (unsigned long long)fp_state(&a), (unsigned long long)fp_state(&b),
                   (unsigned long long)(dpo_cuda_host_mm_calls(d.h) - calls0));
        }
        trun_close(&a);
        trun_close(&b);
    }
    CHECK(dpo_cuda_host_mm_num_plans(d.h) == 0, "strict mode made cuBLASLt plans");
    dev_close(&d);
}

static void test_train_strict_threads(void)
{
    dev d;
    if (dev_open(&d, DPO_CUDA_MM_STRICT, 1)) {
        CHECK(0, "strict backend: create");
        return;
    }
    const dpo_method ms[2] = {DPO_METHOD_SPO, DPO_METHOD_TAILORPO_G};
    for (int i = 0; i < 2; i++) {
        dpo_train_cfg c = small_cfg(ms[i]);
        trun a, b;
        dpo_status e0 = trun_open(&a, &c, &mcfg), e1 = trun_open(&b, &c, &d.mc);
        if (e0 == DPO_OK && e1 == DPO_OK) {
            e0 = trun_iterate(&a, 0);
            e1 = trun_iterate(&b, 1);
        }
        CHECK(e0 == DPO_OK && e1 == DPO_OK, "%s: %s / %s", dpo_method_name(ms[i]), dpo_status_str(e0),
              dpo_status_str(e1));
        CHECK(same_state(&a, &b), "%s: threaded device run differs from the CPU's", dpo_method_name(ms[i]));
        trun_close(&a);
        trun_close(&b);
    }
    dev_close(&d);
}

// Pretraining, ITERS iterations of a batch of 4: state and losses.
typedef struct pre {
    float *b, *m, *v;
    double loss[4];
} pre;

static dpo_status pre_run(pre *p, const dpo_mlp_cfg *mc)
{
    const size_t batch = 4, ws = dpo_pretrain_workspace_size(mc, batch);
    dpo_adamw opt = dpo_adamw_default(1e-3);
    void *w = walloc(ws);
    p->b = (float *)walloc(nb * 4);
    p->m = (float *)walloc(nb * 4);
    p->v = (float *)walloc(nb * 4);
    memset(p->loss, 0, sizeof p->loss);
    dpo_mlp_init_base(p->b, mc, 4);
    dpo_status e = dpo_pretrain_run(p->b, p->m, p->v, p->loss, mc, &sched, 8, 0, (uint64_t)ITERS, batch, &opt, w, ws);
    free(w);
    return e;
}

static void pre_free(pre *p)
{
    free(p->b);
    free(p->m);
    free(p->v);
}

static void test_pretrain_strict(void)
{
    dev d;
    pre a, b;
    if (dev_open(&d, DPO_CUDA_MM_STRICT, 4)) {
        CHECK(0, "strict backend: create");
        return;
    }
    dpo_status e0 = pre_run(&a, &mcfg), e1 = pre_run(&b, &d.mc);
    CHECK(e0 == DPO_OK && e1 == DPO_OK, "pretrain: %s / %s", dpo_status_str(e0), dpo_status_str(e1));
    CHECK(chk_same_bits(a.b, b.b, nb * 4) && chk_same_bits(a.m, b.m, nb * 4) && chk_same_bits(a.v, b.v, nb * 4),
          "pretraining state differs");
    CHECK(chk_same_bits(a.loss, b.loss, sizeof a.loss), "pretraining losses differ");
    printf("     pretrain      cpu %016llx  gpu-strict %016llx\n", (unsigned long long)dpo_hash64(a.b, nb * 4, 0),
           (unsigned long long)dpo_hash64(b.b, nb * 4, 0));
    pre_free(&a);
    pre_free(&b);
    dev_close(&d);
}

// Evaluation rollouts: mean reward and the final images.
static dpo_status eval_run(double *r, float *img, const dpo_mlp_cfg *mc, const float *lora)
{
    size_t ws = dpo_eval_workspace_size(mc);
    void *w = walloc(ws);
    dpo_status e = dpo_eval_model_reward(r, img, 31, 2, mc, base, lora, &sched, DPO_REWARD_AESTHETIC, T_STEPS, 1.0, w,
                                         ws);
    free(w);
    return e;
}

static float *lora_perturbed(void)
{
    float *l = (float *)walloc(nl * 4);
    uint32_t s = 77u;
    dpo_mlp_init_lora(l, &mcfg, 6);
    for (size_t i = 0; i < nl; i++) { // B != 0: the adapters change the model
        s = s * 1664525u + 1013904223u;
        l[i] += (float)(((double)(s >> 8) / 8388608.0 - 1.0) * 0.05);
    }
    return l;
}

static void test_eval_strict(void)
{
    dev d;
    const size_t ni = 2 * mcfg.n_classes * mcfg.dim;
    float *lora = lora_perturbed(), *ia = (float *)walloc(ni * 4), *ib = (float *)walloc(ni * 4);
    double ra = 0, rb = 0;
    if (dev_open(&d, DPO_CUDA_MM_STRICT, 1)) {
        CHECK(0, "strict backend: create");
    } else {
        dpo_status e0 = eval_run(&ra, ia, &mcfg, lora), e1 = eval_run(&rb, ib, &d.mc, lora);
        CHECK(e0 == DPO_OK && e1 == DPO_OK, "eval: %s / %s", dpo_status_str(e0), dpo_status_str(e1));
        CHECK(chk_same_bits(&ra, &rb, sizeof ra), "eval reward: cpu %.17g, gpu-strict %.17g", ra, rb);
        CHECK(chk_same_bits(ia, ib, ni * 4), "eval images differ");
        printf("     eval reward   cpu %.17g  gpu-strict %.17g\n", ra, rb);
        dev_close(&d);
    }
    free(lora);
    free(ia);
    free(ib);
}

// -------------------------------------------------------------- fast mode
static void test_fast(void)
{
    dev d;
    if (dev_open(&d, DPO_CUDA_MM_FAST, 4)) {
        CHECK(0, "fast backend: create");
        return;
    }
    // evaluation
    {
        const size_t ni = 2 * mcfg.n_classes * mcfg.dim;
        float *lora = lora_perturbed(), *i0 = (float *)walloc(ni * 4), *i1 = (float *)walloc(ni * 4);
        double rc = 0, r0 = 0, r1 = 0;
        dpo_status e = eval_run(&rc, NULL, &mcfg, lora);
        dpo_status e0 = eval_run(&r0, i0, &d.mc, lora), e1 = eval_run(&r1, i1, &d.mc, lora);
        CHECK(e == DPO_OK && e0 == DPO_OK && e1 == DPO_OK, "fast eval: %s %s %s", dpo_status_str(e),
              dpo_status_str(e0), dpo_status_str(e1));
        CHECK(chk_same_bits(&r0, &r1, sizeof r0) && chk_same_bits(i0, i1, ni * 4), "fast eval not run-to-run");
        CHECK(fabs(r0 - rc) <= 1e-4 * (1 + fabs(rc)), "fast eval reward %.9g vs cpu %.9g", r0, rc);
        printf("     eval reward   cpu %.17g  gpu-fast %.17g  (|diff| %.2e)\n", rc, r0, fabs(r0 - rc));
        free(lora);
        free(i0);
        free(i1);
    }
    // pretraining
    {
        pre c, a, b;
        dpo_status e = pre_run(&c, &mcfg), e0 = pre_run(&a, &d.mc), e1 = pre_run(&b, &d.mc);
        double worst = 0;
        CHECK(e == DPO_OK && e0 == DPO_OK && e1 == DPO_OK, "fast pretrain: %s %s %s", dpo_status_str(e),
              dpo_status_str(e0), dpo_status_str(e1));
        CHECK(chk_same_bits(a.b, b.b, nb * 4) && chk_same_bits(a.loss, b.loss, sizeof a.loss),
              "fast pretraining not run-to-run");
        for (int i = 0; i < ITERS; i++) {
            double rel = fabs(a.loss[i] - c.loss[i]) / c.loss[i];
            worst = rel > worst ? rel : worst;
        }
        CHECK(worst <= 1e-4, "fast pretraining loss rel diff %.3g", worst);
        printf("     pretrain      loss rel diff fast vs cpu %.2e\n", worst);
        pre_free(&c);
        pre_free(&a);
        pre_free(&b);
    }
    // trainers
    for (int meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_cfg((dpo_method)meth);
        const char *name = dpo_method_name((dpo_method)meth);
        trun r[3];
        dpo_status e[3];
        e[0] = trun_open(&r[0], &c, &mcfg);
        e[1] = trun_open(&r[1], &c, &d.mc);
        e[2] = trun_open(&r[2], &c, &d.mc);
        for (int q = 0; q < 3; q++)
            if (e[q] == DPO_OK)
                e[q] = trun_iterate(&r[q], 0);
        CHECK(e[0] == DPO_OK && e[1] == DPO_OK && e[2] == DPO_OK, "%s fast: %s %s %s", name, dpo_status_str(e[0]),
              dpo_status_str(e[1]), dpo_status_str(e[2]));
        CHECK(same_state(&r[1], &r[2]), "%s: fast runs differ from each other", name);
        double worst = 0, bound = 2.0 * c.opt.lr * ITERS;
        for (size_t i = 0; i < nl; i++) {
            double dd = fabs((double)r[1].lora[i] - (double)r[0].lora[i]);
            worst = dd > worst ? dd : worst;
        }
        CHECK(worst <= bound, "%s: fast LoRA max |diff| %.3g > %.3g", name, worst, bound);
        printf("     %-13s gpu-fast %016llx  max |lora - cpu| %.2e (lr %.1e)\n", name,
               (unsigned long long)fp_state(&r[1]), worst, c.opt.lr);
        for (int q = 0; q < 3; q++)
            trun_close(&r[q]);
    }
    printf("     fast plans made: %zu\n", dpo_cuda_host_mm_num_plans(d.h));
    CHECK(dpo_cuda_host_mm_num_plans(d.h) > 0, "fast mode made no plans");
    dev_close(&d);
}

// ----------------------------------------------------------- bad arguments
static void test_bad_args(void)
{
    dpo_cuda_host_mm *h = (dpo_cuda_host_mm *)0x1;
    CHECK(dpo_cuda_host_mm_create(NULL, DPO_CUDA_MM_STRICT, 4, 4, 4) == DPO_ERR_NULL, "NULL out");
    CHECK(dpo_cuda_host_mm_create(&h, DPO_CUDA_MM_STRICT, 0, 4, 4) == DPO_ERR_SIZE, "max_m 0");
    CHECK(dpo_cuda_host_mm_create(&h, (dpo_cuda_mm_mode)7, 4, 4, 4) == DPO_ERR_RANGE, "bad mode");
    CHECK(dpo_cuda_host_mm_create(&h, DPO_CUDA_MM_STRICT, (size_t)1 << 40, (size_t)1 << 40, 1) == DPO_ERR_SIZE,
          "too large");
    CHECK(h == (dpo_cuda_host_mm *)0x1, "out written on error");
    {
        dpo_matmul_backend b = dpo_cuda_host_mm_backend(NULL);
        CHECK(b.product == NULL, "backend of NULL has a product");
    }
    // buffers too small for the network: DPO_ERR_MODEL, out untouched
    if (dpo_cuda_host_mm_create(&h, DPO_CUDA_MM_STRICT, 8, 8, 8) != DPO_OK) {
        CHECK(0, "create 8 x 8 x 8");
        return;
    }
    {
        dpo_matmul_backend be = dpo_cuda_host_mm_backend(h);
        dpo_mlp_cfg c = mcfg;
        size_t ws = dpo_mlp_workspace_size(&c, 1);
        void *w = walloc(ws);
        float x[DPO_IMG_DIM], out[DPO_IMG_DIM], sent[DPO_IMG_DIM];
        int32_t t = 5, cls = 1;
        for (int i = 0; i < DPO_IMG_DIM; i++) {
            x[i] = 0.01f * (float)i;
            out[i] = sent[i] = -9.0f;
        }
        c.matmul = &be;
        dpo_status e = dpo_mlp_forward(out, &c, base, NULL, x, &t, &cls, 1, w, ws);
        CHECK(e == DPO_ERR_MODEL, "oversized product: %s", dpo_status_str(e));
        CHECK(chk_same_bits(out, sent, sizeof out), "out written by a failed forward");
        // a product that fits is served and exact
        float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {0.5f, -1, 2, 0.25f, 3, -2}, C[4], Cc[4];
        int rc = be.product(be.user, C, A, B, 2, 3, 2, 0, 0, 0);
        dpo_matmul_f32(Cc, A, B, 2, 3, 2, 0, 0, 0);
        CHECK(rc == 0 && chk_same_bits(C, Cc, sizeof C), "2 x 3 x 2 product");
        // by hand: row 0 of A times B = [0.5 + 4 + 9, -1 + 0.5 - 6]
        CHECK(C[0] == 13.5f && C[1] == -6.5f, "hand-checked product: %g %g", C[0], C[1]);
        free(w);
    }
    dpo_cuda_host_mm_destroy(h);
    dpo_cuda_host_mm_destroy(NULL);
}

int main(void)
{
    int count = 0;
    const char *q = getenv("DPO_GPU_QUICK");
    quick = q && q[0] == '1';
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no CUDA device\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            printf("device: %s (sm_%d%d, %d SMs)%s\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
                   quick ? ", quick sizes" : "");
    }
    mcfg = dpo_mlp_cfg_default();
    mcfg.hidden = quick ? 16 : 32;
    T_STEPS = quick ? 4 : 8;
    BATCH = quick ? 2 : 3;
    ITERS = quick ? 2 : 3;
    nb = dpo_mlp_num_base(&mcfg);
    nl = dpo_mlp_num_lora(&mcfg);
    base = (float *)walloc(nb * 4);
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) ||
        dpo_mlp_init_base(base, &mcfg, 3)) {
        printf("set-up failed\n0 passed, 1 failed\n");
        return 1;
    }
    printf("hidden %zu, T %d, batch %zu, %d iterations\n", mcfg.hidden, T_STEPS, BATCH, ITERS);
    RUN(test_bad_args);
    RUN(test_train_strict);
    RUN(test_train_strict_threads);
    RUN(test_pretrain_strict);
    RUN(test_eval_strict);
    RUN(test_fast);
    free(base);
    return chk_summary();
}
