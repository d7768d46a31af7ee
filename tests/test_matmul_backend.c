/* The network's pluggable matrix product (dpo_mlp_cfg.matmul):
 *   - a backend that forwards to dpo_matmul_f32 (and counts its calls)
 *     gives the bits of matmul = NULL for forward, backward, pretraining,
 *     every trainer method and the evaluation rollouts, and is called for
 *     every product (9 per forward with LoRA: 3 layers x base + 2 LoRA);
 *   - a backend that sums in float, in descending p, gives other bits
 *     (so the hook is really used) but stays close;
 *   - a backend failing at its i-th call, for every i a forward or a
 *     backward makes: DPO_ERR_MODEL, out / g_x untouched, a failed forward
 *     leaves no forward for the backward; pretraining, a trainer
 *     iteration (state untouched) and the evaluation give DPO_ERR_MODEL;
 *   - a backend with a NULL product: DPO_ERR_NULL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"

static dpo_schedule sched;

/* ------------------------------------------------------------ backends */
typedef struct counter {
    long calls;
    long fail_at; /* fail at this call (1-based); 0: never */
} counter;

static int be_ref(void *user, float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                  int acc)
{
    counter *c = (counter *)user;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
        return 1;
    dpo_matmul_f32(C, A, B, m, k, n, ta, tb, acc);
    return 0;
}

/* float accumulation, descending p: not the contract */
static int be_float(void *user, float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta,
                    int tb, int acc)
{
    size_t i, j, p;
    (void)user;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            float s = acc ? C[i * n + j] : 0.0f;
            for (p = k; p-- > 0;) {
                float a = ta ? A[p * m + i] : A[i * k + p];
                float b = tb ? B[j * k + p] : B[p * n + j];
                s += a * b;
            }
            C[i * n + j] = s;
        }
    return 0;
}

static void *walloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64))
        return NULL;
    return memset(p, 0, bytes ? bytes : 64);
}

static uint32_t rs = 12345u;
static float rnd(void)
{
    rs = rs * 1664525u + 1013904223u;
    return (float)((double)(rs >> 8) / 8388608.0 - 1.0);
}

/* ----------------------------------------------------- network inputs */
typedef struct inst {
    dpo_mlp_cfg cfg;
    size_t n, nb, nl, D, ws;
    float *base, *lora, *x, *gout;
    int32_t *t, *cls;
    void *work;
} inst;

static void inst_make(inst *I, size_t hidden, size_t n)
{
    size_t i;
    I->cfg = dpo_mlp_cfg_default();
    I->cfg.hidden = hidden;
    I->n = n;
    I->nb = dpo_mlp_num_base(&I->cfg);
    I->nl = dpo_mlp_num_lora(&I->cfg);
    I->D = I->cfg.dim;
    I->ws = dpo_mlp_workspace_size(&I->cfg, n);
    I->base = walloc(I->nb * 4);
    I->lora = walloc(I->nl * 4);
    I->x = walloc(n * I->D * 4);
    I->gout = walloc(n * I->D * 4);
    I->t = walloc(n * 4);
    I->cls = walloc(n * 4);
    I->work = walloc(I->ws);
    dpo_mlp_init_base(I->base, &I->cfg, 21);
    dpo_mlp_init_lora(I->lora, &I->cfg, 22);
    for (i = 0; i < I->nl; i++) /* B != 0: the LoRA path matters */
        I->lora[i] += 0.1f * rnd();
    for (i = 0; i < n * I->D; i++) {
        I->x[i] = rnd();
        I->gout[i] = rnd();
    }
    for (i = 0; i < n; i++) {
        I->t[i] = (int32_t)((i * 397u + 11u) % 1000u);
        I->cls[i] = (int32_t)(i % 4u);
    }
}

static void inst_free(inst *I)
{
    free(I->base);
    free(I->lora);
    free(I->x);
    free(I->gout);
    free(I->t);
    free(I->cls);
    free(I->work);
}

typedef struct grads {
    float *out, *gx, *gb, *gl;
} grads;

static void grads_make(grads *g, const inst *I)
{
    size_t i;
    g->out = walloc(I->n * I->D * 4);
    g->gx = walloc(I->n * I->D * 4);
    g->gb = walloc(I->nb * 4);
    g->gl = walloc(I->nl * 4);
    for (i = 0; i < I->n * I->D; i++) /* accumulating outputs start non-zero */
        g->gx[i] = 0.25f;
    for (i = 0; i < I->nb; i++)
        g->gb[i] = -0.5f;
    for (i = 0; i < I->nl; i++)
        g->gl[i] = 0.125f;
}

static void grads_free(grads *g)
{
    free(g->out);
    free(g->gx);
    free(g->gb);
    free(g->gl);
}

static dpo_status fwd_bwd(grads *g, inst *I, const dpo_matmul_backend *be)
{
    dpo_status e;
    dpo_mlp_cfg c = I->cfg;
    c.matmul = be;
    e = dpo_mlp_forward(g->out, &c, I->base, I->lora, I->x, I->t, I->cls, I->n, I->work, I->ws);
    if (e)
        return e;
    return dpo_mlp_backward(g->gx, g->gb, g->gl, I->gout, &c, I->base, I->lora, I->n, I->work, I->ws);
}

/* -------------------------------------------------------------- tests */
static void test_default_is_null(void)
{
    dpo_mlp_cfg c = dpo_mlp_cfg_default();
    CHECK(c.matmul == NULL, "dpo_mlp_cfg_default must leave matmul NULL");
}

static void test_forward_backward_same_bits(void)
{
    inst I;
    grads a, b;
    counter cnt = {0, 0};
    dpo_matmul_backend be;
    dpo_mlp_cfg c;
    be.user = &cnt;
    be.product = be_ref;
    inst_make(&I, 48, 5);
    grads_make(&a, &I);
    grads_make(&b, &I);
    CHECK(fwd_bwd(&a, &I, NULL) == DPO_OK, "NULL backend");
    CHECK(fwd_bwd(&b, &I, &be) == DPO_OK, "counting backend");
    CHECK(chk_same_bits(a.out, b.out, I.n * I.D * 4), "forward bits differ");
    CHECK(chk_same_bits(a.gx, b.gx, I.n * I.D * 4), "g_x bits differ");
    CHECK(chk_same_bits(a.gb, b.gb, I.nb * 4), "g_base bits differ");
    CHECK(chk_same_bits(a.gl, b.gl, I.nl * 4), "g_lora bits differ");
    /* forward 3 x 3 products; backward per layer: 2 base, 1 gu, 2 LoRA,
     * 2 input-gradient */
    CHECK(cnt.calls == 9 + 21, "backend calls %ld, expected 30", cnt.calls);
    /* the reference model (no LoRA): 3 products forward */
    cnt.calls = 0;
    c = I.cfg;
    c.matmul = &be;
    CHECK(dpo_mlp_forward(b.out, &c, I.base, NULL, I.x, I.t, I.cls, I.n, I.work, I.ws) == DPO_OK, "ref forward");
    CHECK(cnt.calls == 3, "reference forward: %ld calls, expected 3", cnt.calls);
    CHECK(dpo_mlp_forward(a.out, &I.cfg, I.base, NULL, I.x, I.t, I.cls, I.n, I.work, I.ws) == DPO_OK, "ref fwd");
    CHECK(chk_same_bits(a.out, b.out, I.n * I.D * 4), "reference forward bits differ");
    grads_free(&a);
    grads_free(&b);
    inst_free(&I);
}

static void test_float_backend_differs(void)
{
    inst I;
    grads a, b;
    dpo_matmul_backend be;
    size_t i, nd = 0;
    double worst = 0;
    be.user = NULL;
    be.product = be_float;
    inst_make(&I, 128, 8);
    grads_make(&a, &I);
    grads_make(&b, &I);
    CHECK(fwd_bwd(&a, &I, NULL) == DPO_OK, "NULL backend");
    CHECK(fwd_bwd(&b, &I, &be) == DPO_OK, "float backend");
    for (i = 0; i < I.n * I.D; i++) {
        double d = fabs((double)a.out[i] - (double)b.out[i]) / (fabs((double)a.out[i]) + 1e-3);
        nd += a.out[i] != b.out[i];
        worst = d > worst ? d : worst;
    }
    CHECK(nd > 0, "float accumulation gave the same forward bits: backend not used?");
    CHECK(worst < 1e-3, "float accumulation too far: %g", worst);
    CHECK(memcmp(a.gb, b.gb, I.nb * 4) != 0, "float accumulation gave the same g_base bits");
    printf("     float backend: %zu of %zu outputs differ, max rel %.2e\n", nd, I.n * I.D, worst);
    grads_free(&a);
    grads_free(&b);
    inst_free(&I);
}

static void test_failing_backend(void)
{
    inst I;
    grads g;
    counter cnt = {0, 0};
    dpo_matmul_backend be, bad;
    dpo_mlp_cfg c;
    float *sent;
    long i;
    size_t nout;
    be.user = &cnt;
    be.product = be_ref;
    inst_make(&I, 16, 3);
    grads_make(&g, &I);
    nout = I.n * I.D;
    sent = walloc(nout * 4);
    c = I.cfg;
    c.matmul = &be;
    for (i = 1; i <= 9; i++) {
        size_t j;
        dpo_status e;
        for (j = 0; j < nout; j++)
            g.out[j] = sent[j] = 7.0f + (float)j;
        cnt.calls = 0;
        cnt.fail_at = i;
        e = dpo_mlp_forward(g.out, &c, I.base, I.lora, I.x, I.t, I.cls, I.n, I.work, I.ws);
        CHECK(e == DPO_ERR_MODEL, "forward, failure at call %ld: %s", i, dpo_status_str(e));
        CHECK(chk_same_bits(g.out, sent, nout * 4), "forward, failure at call %ld: out written", i);
        cnt.fail_at = 0;
        e = dpo_mlp_backward(g.gx, g.gb, g.gl, I.gout, &c, I.base, I.lora, I.n, I.work, I.ws);
        CHECK(e == DPO_ERR_WORKSPACE, "backward after a failed forward: %s", dpo_status_str(e));
    }
    for (i = 1; i <= 21; i++) {
        size_t j;
        dpo_status e;
        cnt.fail_at = 0;
        CHECK(dpo_mlp_forward(g.out, &c, I.base, I.lora, I.x, I.t, I.cls, I.n, I.work, I.ws) == DPO_OK, "forward");
        for (j = 0; j < nout; j++)
            g.gx[j] = sent[j] = 3.0f - (float)j;
        cnt.calls = 0;
        cnt.fail_at = i;
        e = dpo_mlp_backward(g.gx, g.gb, g.gl, I.gout, &c, I.base, I.lora, I.n, I.work, I.ws);
        CHECK(e == DPO_ERR_MODEL, "backward, failure at call %ld: %s", i, dpo_status_str(e));
        CHECK(chk_same_bits(g.gx, sent, nout * 4), "backward, failure at call %ld: g_x written", i);
    }
    /* a NULL product */
    bad.user = NULL;
    bad.product = NULL;
    c.matmul = &bad;
    CHECK(dpo_mlp_forward(g.out, &c, I.base, I.lora, I.x, I.t, I.cls, I.n, I.work, I.ws) == DPO_ERR_NULL,
          "NULL product (forward)");
    CHECK(dpo_mlp_backward(g.gx, g.gb, g.gl, I.gout, &c, I.base, I.lora, I.n, I.work, I.ws) == DPO_ERR_NULL,
          "NULL product (backward)");
    free(sent);
    grads_free(&g);
    inst_free(&I);
}

/* ------------------------------------------------------- pretraining */
static void test_pretrain(void)
{
    dpo_mlp_cfg c = dpo_mlp_cfg_default();
    counter cnt = {0, 0};
    dpo_matmul_backend be;
    size_t nb, ws, batch = 4;
    float *s[2][3];
    double loss[2][3];
    void *work;
    int r, q;
    dpo_adamw opt = dpo_adamw_default(1e-3);
    dpo_status e;
    be.user = &cnt;
    be.product = be_ref;
    c.hidden = 32;
    nb = dpo_mlp_num_base(&c);
    ws = dpo_pretrain_workspace_size(&c, batch);
    work = walloc(ws);
    for (r = 0; r < 2; r++) {
        dpo_mlp_cfg cr = c;
        cr.matmul = r ? &be : NULL;
        for (q = 0; q < 3; q++)
            s[r][q] = walloc(nb * 4);
        dpo_mlp_init_base(s[r][0], &c, 4);
        e = dpo_pretrain_run(s[r][0], s[r][1], s[r][2], loss[r], &cr, &sched, 8, 0, 3, batch, &opt, work, ws);
        CHECK(e == DPO_OK, "pretrain run %d: %s", r, dpo_status_str(e));
    }
    CHECK(cnt.calls == 3 * (3 + 3 * 3), "pretrain: %ld backend calls, expected 36", cnt.calls);
    for (q = 0; q < 3; q++)
        CHECK(chk_same_bits(s[0][q], s[1][q], nb * 4), "pretrain state %d differs", q);
    CHECK(chk_same_bits(loss[0], loss[1], sizeof loss[0]), "pretrain losses differ");
    /* failure in iteration 2 (its first product is call 12 + 1): the
     * state of iterations 0 and 1, i.e. run 0 stopped after 2 */
    {
        dpo_mlp_cfg cr = c;
        float *t[3];
        double l2[3] = {0, 0, 0};
        cr.matmul = &be;
        for (q = 0; q < 3; q++)
            t[q] = walloc(nb * 4);
        dpo_mlp_init_base(t[0], &c, 4);
        cnt.calls = 0;
        cnt.fail_at = 2 * 12 + 5;
        e = dpo_pretrain_run(t[0], t[1], t[2], l2, &cr, &sched, 8, 0, 3, batch, &opt, work, ws);
        CHECK(e == DPO_ERR_MODEL, "failing pretrain: %s", dpo_status_str(e));
        CHECK(chk_same_bits(l2, loss[0], 2 * sizeof(double)) && l2[2] == 0.0, "losses before the failure");
        dpo_mlp_init_base(s[0][0], &c, 4);
        memset(s[0][1], 0, nb * 4);
        memset(s[0][2], 0, nb * 4);
        e = dpo_pretrain_run(s[0][0], s[0][1], s[0][2], NULL, &c, &sched, 8, 0, 2, batch, &opt, work, ws);
        CHECK(e == DPO_OK, "2-iteration run");
        for (q = 0; q < 3; q++)
            CHECK(chk_same_bits(s[0][q], t[q], nb * 4), "state after the failure: tensor %d", q);
        for (q = 0; q < 3; q++)
            free(t[q]);
    }
    for (r = 0; r < 2; r++)
        for (q = 0; q < 3; q++)
            free(s[r][q]);
    free(work);
}

/* ---------------------------------------------------------- trainers */
typedef struct trun {
    dpo_trainer tr;
    float *lora, *m, *v, *pairs;
    int32_t *pcls;
    void *work;
} trun;

static dpo_train_cfg small_train_cfg(dpo_method meth)
{
    dpo_train_cfg c = dpo_train_cfg_default(meth);
    c.batch = 3;
    c.num_steps = 8;
    c.train_every = 2;
    c.train_from = meth == DPO_METHOD_SPO ? 2 : 0;
    c.kappa = 1000;
    c.spo_thr = 0.0;
    c.seed = 99;
    return c;
}

static int trun_open(trun *r, const dpo_train_cfg *c, const dpo_mlp_cfg *mc, const float *base)
{
    size_t nl = dpo_mlp_num_lora(mc), ws = dpo_trainer_workspace_size(c, mc);
    r->lora = walloc(nl * 4);
    r->m = walloc(nl * 4);
    r->v = walloc(nl * 4);
    r->pairs = NULL;
    r->pcls = NULL;
    r->work = walloc(ws);
    dpo_mlp_init_lora(r->lora, mc, 5);
    if (dpo_trainer_init(&r->tr, c, mc, &sched, base, r->lora, r->m, r->v, r->work, ws))
        return -1;
    if (c->method == DPO_METHOD_DIFFDPO || c->method == DPO_METHOD_DSPO) {
        size_t n = 6, pw = dpo_make_pairs_workspace_size(mc);
        void *w = walloc(pw);
        int bad;
        r->pairs = walloc(n * 2 * mc->dim * 4);
        r->pcls = walloc(n * sizeof(int32_t));
        bad = dpo_make_pairs(r->pairs, r->pcls, n, 7, mc, base, &sched, c->reward, 8, 1.0, w, pw) != DPO_OK ||
              dpo_trainer_set_pairs(&r->tr, r->pairs, r->pcls, n) != DPO_OK;
        free(w);
        if (bad)
            return -1;
    }
    return 0;
}

static void trun_close(trun *r)
{
    free(r->lora);
    free(r->m);
    free(r->v);
    free(r->pairs);
    free(r->pcls);
    free(r->work);
}

static void test_trainers(void)
{
    dpo_mlp_cfg mc = dpo_mlp_cfg_default();
    counter cnt = {0, 0};
    dpo_matmul_backend be;
    float *base;
    size_t nl;
    int meth;
    be.user = &cnt;
    be.product = be_ref;
    mc.hidden = 32;
    nl = dpo_mlp_num_lora(&mc);
    base = walloc(dpo_mlp_num_base(&mc) * 4);
    dpo_mlp_init_base(base, &mc, 3);
    for (meth = 0; meth < DPO_METHODS; meth++) {
        dpo_train_cfg c = small_train_cfg((dpo_method)meth);
        dpo_mlp_cfg mb = mc;
        trun a, b;
        int it;
        const char *name = dpo_method_name((dpo_method)meth);
        mb.matmul = &be;
        cnt.calls = 0;
        if (trun_open(&a, &c, &mc, base) || trun_open(&b, &c, &mb, base)) {
            CHECK(0, "%s: set-up", name);
            continue;
        }
        for (it = 0; it < 2; it++) {
            dpo_status e0 = dpo_trainer_iteration(&a.tr, (uint64_t)it, NULL);
            dpo_status e1 = dpo_trainer_iteration(&b.tr, (uint64_t)it, NULL);
            CHECK(e0 == DPO_OK && e1 == DPO_OK, "%s: iteration %d: %s / %s", name, it, dpo_status_str(e0),
                  dpo_status_str(e1));
        }
        CHECK(cnt.calls > 0, "%s: backend never called", name);
        CHECK(chk_same_bits(a.lora, b.lora, nl * 4) && chk_same_bits(a.m, b.m, nl * 4) &&
                  chk_same_bits(a.v, b.v, nl * 4),
              "%s: trainer state differs with the backend", name);
        /* a failing backend: DPO_ERR_MODEL and the state untouched */
        {
            float *snap = walloc(3 * nl * 4);
            dpo_status e;
            memcpy(snap, b.lora, nl * 4);
            memcpy(snap + nl, b.m, nl * 4);
            memcpy(snap + 2 * nl, b.v, nl * 4);
            cnt.calls = 0;
            cnt.fail_at = 40;
            e = dpo_trainer_iteration(&b.tr, 2, NULL);
            cnt.fail_at = 0;
            CHECK(e == DPO_ERR_MODEL, "%s: failing backend: %s", name, dpo_status_str(e));
            CHECK(chk_same_bits(snap, b.lora, nl * 4) && chk_same_bits(snap + nl, b.m, nl * 4) &&
                      chk_same_bits(snap + 2 * nl, b.v, nl * 4),
                  "%s: state written by a failed iteration", name);
            free(snap);
        }
        trun_close(&a);
        trun_close(&b);
    }
    free(base);
}

static void test_eval(void)
{
    dpo_mlp_cfg mc = dpo_mlp_cfg_default(), mb;
    counter cnt = {0, 0};
    dpo_matmul_backend be;
    float *base, *lora, *img[2];
    size_t ws, D;
    void *work;
    double r[2];
    int q;
    dpo_status e;
    be.user = &cnt;
    be.product = be_ref;
    mc.hidden = 32;
    mb = mc;
    mb.matmul = &be;
    D = mc.dim;
    base = walloc(dpo_mlp_num_base(&mc) * 4);
    lora = walloc(dpo_mlp_num_lora(&mc) * 4);
    dpo_mlp_init_base(base, &mc, 3);
    dpo_mlp_init_lora(lora, &mc, 4);
    ws = dpo_eval_workspace_size(&mc);
    work = walloc(ws);
    for (q = 0; q < 2; q++) {
        img[q] = walloc(2 * mc.n_classes * D * 4);
        e = dpo_eval_model_reward(&r[q], img[q], 31, 2, q ? &mb : &mc, base, lora, &sched, DPO_REWARD_AESTHETIC, 8, 1.0,
                            work, ws);
        CHECK(e == DPO_OK, "eval %d: %s", q, dpo_status_str(e));
    }
    CHECK(cnt.calls == 2 * 4 * 8 * 9, "eval: %ld calls, expected 576", cnt.calls);
    CHECK(chk_same_bits(&r[0], &r[1], sizeof r[0]), "eval reward differs");
    CHECK(chk_same_bits(img[0], img[1], 2 * mc.n_classes * D * 4), "eval images differ");
    cnt.calls = 0;
    cnt.fail_at = 100;
    r[1] = -123.0;
    e = dpo_eval_model_reward(&r[1], NULL, 31, 2, &mb, base, lora, &sched, DPO_REWARD_AESTHETIC, 8, 1.0, work, ws);
    CHECK(e == DPO_ERR_MODEL, "failing eval: %s", dpo_status_str(e));
    CHECK(r[1] == -123.0, "failing eval wrote the mean");
    for (q = 0; q < 2; q++)
        free(img[q]);
    free(base);
    free(lora);
    free(work);
}

int main(void)
{
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0)) {
        fprintf(stderr, "schedule set-up failed\n");
        return 1;
    }
    RUN(test_default_is_null);
    RUN(test_forward_backward_same_bits);
    RUN(test_float_backend_differs);
    RUN(test_failing_backend);
    RUN(test_pretrain);
    RUN(test_trainers);
    RUN(test_eval);
    return chk_summary();
}
