// The host-side rules shared by the CPU and the CUDA drivers
// (src/core/dpo_rules.h and dpo_rules_model.h), each run through both paths: for every rule a
// table of arguments (bad ones and a good one) goes to the CPU function and
// to its CUDA counterpart on the same valid tensors, and the two statuses
// must be equal -- and, where the rule documents it, equal to the
// documented status.  Rules covered: the log-probability mode, sigma, the
// loss and TailorPO-G parameters, the Philox noise coordinates (tensor and
// rows), AdamW's hyper-parameters (dpo_adamw_step and pretraining, with
// the eps-rounds-to-0 case that once drifted) and the pretraining
// iteration range.  The network layout and the pretraining batch are the
// other shared rules; test_gpu_model's bitwise forward/backward and
// pretraining comparisons exercise them.
// Ends with "N passed, M failed"; with no CUDA device it reports one failure.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_cuda.h"
#include "diffpo_cuda_model.h"

// ----------------------------------------------------------------- helpers
static void *dalloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc failed\n");
        exit(2);
    }
    return p;
}

static float *dcopy(const float *h, size_t n)
{
    float *d = (float *)dalloc(n * sizeof(float));
    if (cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        exit(2);
    return d;
}

// n small values from a fixed sequence (the statuses, not the values, matter)
static void fill(float *h, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        h[i] = s * (float)((int)(i * 37u % 19u) - 9) / 9.0f;
}

#define N 96

// The same inputs on both sides.
typedef struct sides {
    float h[6][N], hg[2][N];
    float *d[6], *dg[2];
    dpo_pair_result *dres;
    void *work;
    size_t ws;
} sides;

static void sides_make(sides *S)
{
    for (int i = 0; i < 6; i++) {
        fill(S->h[i], N, 0.5f + 0.25f * (float)i);
        S->d[i] = dcopy(S->h[i], N);
    }
    for (int i = 0; i < 2; i++)
        S->dg[i] = (float *)dalloc(N * sizeof(float));
    S->dres = (dpo_pair_result *)dalloc(sizeof(dpo_pair_result));
    S->ws = dpo_cuda_loss_workspace_size(N);
    S->work = dalloc(S->ws);
}

static void sides_free(sides *S)
{
    for (int i = 0; i < 6; i++)
        cudaFree(S->d[i]);
    cudaFree(S->dg[0]), cudaFree(S->dg[1]), cudaFree(S->dres), cudaFree(S->work);
}

static const char *st_name(dpo_status s)
{
    return dpo_status_str(s);
}

#define SAME(cpu, gpu, what, ...)                                                                                     \
    do {                                                                                                              \
        dpo_status c_ = (cpu), g_ = (gpu);                                                                            \
        CHECK(c_ == g_, what ": CPU %s, GPU %s", __VA_ARGS__, st_name(c_), st_name(g_));                              \
    } while (0)

// Both sides and the documented status.
#define SAME_AS(expect, cpu, gpu, what, ...)                                                                          \
    do {                                                                                                              \
        dpo_status c_ = (cpu), g_ = (gpu);                                                                            \
        CHECK(c_ == (expect) && g_ == (expect), what ": CPU %s, GPU %s, expected %s", __VA_ARGS__, st_name(c_),      \
              st_name(g_), st_name(expect));                                                                          \
    } while (0)

// ---------------------------------------------------- loss parameters
static const double sigmas[] = {0.5, 0.0, -0.5, NAN, INFINITY, 1e-160, 1e200, 1e-300};
static const dpo_status sigma_expect[] = {DPO_OK,        DPO_ERR_SIGMA_ZERO, DPO_ERR_RANGE, DPO_ERR_RANGE,
                                          DPO_ERR_RANGE, DPO_ERR_RANGE,      DPO_ERR_RANGE, DPO_ERR_RANGE};
static const double betas[] = {1.0, 0.0, -1.0, NAN, INFINITY};
static const int modes[] = {DPO_LOGPROB_SUM, DPO_LOGPROB_MEAN, 2, -1};

static void test_dpo_params(void)
{
    sides S;
    dpo_pair_result r;
    float *const *d = NULL;
    sides_make(&S);
    d = S.d;
    for (size_t a = 0; a < sizeof(sigmas) / sizeof(sigmas[0]); a++)
        for (size_t b = 0; b < sizeof(betas) / sizeof(betas[0]); b++)
            for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
                dpo_pair_params p;
                p.beta = betas[b], p.sigma = sigmas[a], p.mode = (dpo_logprob_mode)modes[m];
                dpo_status e = m >= 2 || b > 0 ? DPO_ERR_RANGE : sigma_expect[a];
                SAME_AS(e,
                        dpo_stepdpo_f32(&r, S.hg[0], S.hg[1], S.h[0], S.h[1], S.h[2], S.h[3], S.h[4], S.h[5], N, p),
                        dpo_cuda_stepdpo_f32(S.dres, S.dg[0], S.dg[1], d[0], d[1], d[2], d[3], d[4], d[5], N, p, S.work,
                                             S.ws, NULL),
                        "stepdpo sigma %g beta %g mode %d", sigmas[a], betas[b], modes[m]);
                SAME_AS(e, dpo_tailorpo_f32(&r, S.hg[0], S.h[0], S.h[1], S.h[2], S.h[3], N, p),
                        dpo_cuda_tailorpo_f32(S.dres, S.dg[0], d[0], d[1], d[2], d[3], N, p, S.work, S.ws, NULL),
                        "tailorpo sigma %g beta %g mode %d", sigmas[a], betas[b], modes[m]);
            }
    sides_free(&S);
}

static void test_clip_rdpo_params(void)
{
    static const double clips[] = {0.2, 0.0, 1.0, -0.1, NAN};
    static const int labels[] = {1, 0, -1, 2, -2};
    static const double lambdas[] = {1.5, 0.0, -1.0, NAN, INFINITY};
    static const int variants[] = {DPO_RDPO_PRINTED, DPO_RDPO_INTENDED, 7};
    sides S;
    dpo_pair_result r;
    sides_make(&S);
    float *const *d = S.d;
    for (size_t a = 0; a < sizeof(sigmas) / sizeof(sigmas[0]); a++) {
        for (size_t c = 0; c < sizeof(clips) / sizeof(clips[0]); c++)
            for (size_t l = 0; l < sizeof(labels) / sizeof(labels[0]); l++)
                for (size_t m = 0; m < 3; m++) {
                    dpo_clip_params q;
                    q.beta = 2.0, q.clip_eps = clips[c], q.sigma = sigmas[a], q.mode = (dpo_logprob_mode)modes[m];
                    SAME(dpo_d3po_code_f32(&r, S.hg[0], S.hg[1], S.h[0], S.h[1], S.h[2], S.h[3], S.h[4], S.h[5], N,
                                           labels[l], q),
                         dpo_cuda_d3po_code_f32(S.dres, S.dg[0], S.dg[1], d[0], d[1], d[2], d[3], d[4], d[5], N,
                                                labels[l], q, S.work, S.ws, NULL),
                         "d3po sigma %g clip %g label %d mode %d", sigmas[a], clips[c], labels[l], modes[m]);
                }
        for (size_t l = 0; l < sizeof(lambdas) / sizeof(lambdas[0]); l++)
            for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
                dpo_rdpo_params p;
                p.beta = 2.0, p.lambda = lambdas[l], p.sigma = sigmas[a], p.mode = DPO_LOGPROB_MEAN;
                p.variant = (dpo_rdpo_variant)variants[v];
                dpo_status e = l >= 2 || v >= 2 ? DPO_ERR_RANGE : sigma_expect[a];
                SAME_AS(e, dpo_rdpo_f32(&r, S.hg[0], S.h[0], S.h[1], S.h[2], S.h[3], N, p),
                        dpo_cuda_rdpo_f32(S.dres, S.dg[0], d[0], d[1], d[2], d[3], N, p, S.work, S.ws, NULL),
                        "rdpo sigma %g lambda %g variant %d", sigmas[a], lambdas[l], variants[v]);
            }
    }
    sides_free(&S);
}

static void test_eps_params(void)
{
    static const double weights[] = {1.0, 0.0, -1.0, NAN};
    static const int stopgrads[] = {0, 1, 2};
    sides S;
    dpo_pair_result r;
    sides_make(&S);
    float *const *d = S.d;
    for (size_t b = 0; b < sizeof(betas) / sizeof(betas[0]); b++)
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            dpo_eps_params p;
            p.beta = betas[b], p.mode = (dpo_logprob_mode)modes[m];
            SAME_AS(b == 0 && m < 2 ? DPO_OK : DPO_ERR_RANGE,
                    dpo_diffdpo_f32(&r, S.hg[0], S.hg[1], S.h[0], S.h[1], S.h[2], S.h[3], S.h[4], S.h[5], N, p),
                    dpo_cuda_diffdpo_f32(S.dres, S.dg[0], S.dg[1], d[0], d[1], d[2], d[3], d[4], d[5], N, p, S.work,
                                         S.ws, NULL),
                    "diffdpo beta %g mode %d", betas[b], modes[m]);
            for (size_t w = 0; w < sizeof(weights) / sizeof(weights[0]); w++)
                for (size_t s = 0; s < sizeof(stopgrads) / sizeof(stopgrads[0]); s++) {
                    dpo_dspo_params q;
                    q.beta_u = betas[b], q.weight = weights[w], q.mode = (dpo_logprob_mode)modes[m];
                    q.stopgrad = stopgrads[s];
                    SAME_AS(b == 0 && m < 2 && w < 2 && s < 2 ? DPO_OK : DPO_ERR_RANGE,
                            dpo_dspo_f32(&r, S.hg[0], S.hg[1], S.h[0], S.h[1], S.h[2], S.h[3], S.h[4], S.h[5], N, q),
                            dpo_cuda_dspo_f32(S.dres, S.dg[0], S.dg[1], d[0], d[1], d[2], d[3], d[4], d[5], N, q,
                                              S.work, S.ws, NULL),
                            "dspo beta %g weight %g stopgrad %d mode %d", betas[b], weights[w], stopgrads[s],
                            modes[m]);
                }
        }
    sides_free(&S);
}

static void test_guide_params(void)
{
    static const double etas[] = {0.1, 0.0, -0.1, NAN};
    static const double deltas[] = {0.5, INFINITY};
    static const double alphas[] = {0.5, 1.0, 0.0, 1.5, NAN};
    static const int signs[] = {1, -1, 0};
    static const int jacs[] = {DPO_GUIDE_VJP, DPO_GUIDE_NO_EPS, 9};
    float hx[N], hg[N], hv[N], hp[N];
    fill(hx, N, 1.0f), fill(hg, N, 0.5f), fill(hv, N, 0.25f);
    float *dx = dcopy(hx, N), *dg = dcopy(hg, N), *dv = dcopy(hv, N), *dp = (float *)dalloc(N * 4);
    for (size_t e = 0; e < 4; e++)
        for (size_t t = 0; t < 2; t++)
            for (size_t a = 0; a < 5; a++)
                for (size_t s = 0; s < 3; s++)
                    for (size_t j = 0; j < 3; j++) {
                        dpo_guide_params p;
                        p.eta = etas[e], p.delta = deltas[t], p.alpha = alphas[a], p.sign = signs[s];
                        p.jac = (dpo_guide_jac)jacs[j];
                        SAME_AS(e == 0 && t == 0 && a < 2 && s < 2 && j < 2 ? DPO_OK : DPO_ERR_RANGE,
                                dpo_tailorpo_g_update_f32(hp, hx, hg, hv, N, p),
                                dpo_cuda_tailorpo_g_update_f32(dp, dx, dg, dv, N, p, NULL),
                                "guide eta %g delta %g alpha %g sign %d jac %d", etas[e], deltas[t], alphas[a],
                                signs[s], jacs[j]);
                    }
    cudaFree(dx), cudaFree(dg), cudaFree(dv), cudaFree(dp);
}

// ------------------------------------------------------ noise coordinates
static void test_noise_coords(void)
{
    static const uint32_t streams[] = {DPO_STREAM_USER, 0xffffu, 0x10000u};
    static const uint32_t cands[] = {0, 0xffffu, 0x10000u};
    static const uint64_t e0s[] = {0, 5, ((uint64_t)1 << 34) - 8, ((uint64_t)1 << 34), ((uint64_t)1 << 34) + 1};
    static const uint32_t samples[] = {0, 0xfffffffeu, 0xffffffffu};
    float *dout = (float *)dalloc(64 * 4), hout[64], hx[32];
    static dpo_schedule sched;
    dpo_step_coef_f32 coef;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_noise_coord c;
    fill(hx, 32, 1.0f);
    float *dx = dcopy(hx, 32);
    CHECK(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) == DPO_OK &&
              dpo_step_coef_f32_init(&coef, &sched, 481, 50, &o) == DPO_OK,
          "coefficients");
    c.seed = 11, c.step = 3;
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < 3; k++) {
            c.stream = streams[s], c.candidate = cands[k], c.sample = 1;
            for (size_t e = 0; e < sizeof(e0s) / sizeof(e0s[0]); e++) {
                dpo_status exp = s == 2 || k == 2 ? DPO_ERR_RANGE : e >= 3 ? DPO_ERR_SIZE : DPO_OK;
                SAME_AS(exp, dpo_normal_f32(hout, c, e0s[e], e == 2 ? 8 : 16),
                        dpo_cuda_normal_f32(dout, c, e0s[e], e == 2 ? 8 : 16, NULL),
                        "normal stream %u candidate %u e0 %llu", c.stream, c.candidate, (unsigned long long)e0s[e]);
            }
            // rows: sample + batch - 1 must fit in 32 bits; the same rule in
            // the batched normals and in the step with in-kernel noise (the
            // CPU has no batched entry point: its callers draw row r at
            // sample + r themselves, so the rule has no CPU path here)
            for (size_t q = 0; q < 3; q++) {
                c.sample = samples[q];
                dpo_status exp = s == 2 || k == 2 || q == 2 ? DPO_ERR_RANGE : DPO_OK;
                dpo_status g1 = dpo_cuda_normal_batch_f32(dout, c, 2, 16, NULL);
                dpo_status g2 = dpo_cuda_step_philox_f32(dout + 32, NULL, NULL, NULL, dx, dx, c, 2, 16, &coef,
                                                         DPO_LOGPROB_SUM, NULL, 0, NULL);
                CHECK(g1 == exp && g2 == exp, "rows stream %u candidate %u sample %u: normals %s, step %s, expected %s",
                      c.stream, c.candidate, c.sample, st_name(g1), st_name(g2), st_name(exp));
            }
        }
    cudaFree(dx);
    cudaFree(dout);
}

// ------------------------------------------------------------------- AdamW
static void test_adamw_rule(void)
{
    // lr, beta1, beta2, eps, weight decay
    static const double bad[][5] = {
        {-1e-3, 0.9, 0.999, 1e-8, 0.0}, {NAN, 0.9, 0.999, 1e-8, 0.0},  {INFINITY, 0.9, 0.999, 1e-8, 0.0},
        {1e-3, 1.0, 0.999, 1e-8, 0.0},  {1e-3, -0.1, 0.999, 1e-8, 0.0}, {1e-3, 0.9, 1.0, 1e-8, 0.0},
        {1e-3, 0.9, NAN, 1e-8, 0.0},    {1e-3, 0.9, 0.999, 0.0, 0.0},  {1e-3, 0.9, 0.999, -1e-8, 0.0},
        {1e-3, 0.9, 0.999, NAN, 0.0},   {1e-3, 0.9, 0.999, 1e-50, 0.0}, {1e-3, 0.9, 0.999, 1e-46, 0.0},
        {1e-3, 0.9, 0.999, 1e-8, -1.0}, {1e-3, 0.9, 0.999, 1e-8, NAN},
    };
    static const double good[][5] = {{1e-3, 0.9, 0.999, 1e-8, 0.0}, {0.0, 0.0, 0.0, 1e-44, 0.01}};
    float hp[N], hm[N], hv[N], hg[N];
    fill(hp, N, 1.0f), fill(hg, N, 0.1f);
    memset(hm, 0, sizeof hm), memset(hv, 0, sizeof hv);
    float *dp = dcopy(hp, N), *dm = dcopy(hm, N), *dv = dcopy(hv, N), *dg = dcopy(hg, N);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 2; i++) {
        const double *q = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : good[i - sizeof(bad) / sizeof(bad[0])];
        const int ok = i >= sizeof(bad) / sizeof(bad[0]);
        dpo_adamw h;
        h.lr = q[0], h.beta1 = q[1], h.beta2 = q[2], h.eps = q[3], h.weight_decay = q[4];
        SAME_AS(ok ? DPO_OK : DPO_ERR_RANGE, dpo_adamw_step(hp, hm, hv, hg, N, &h, 1),
                dpo_cuda_adamw_step(dp, dm, dv, dg, N, &h, 1, NULL), "adamw lr %g b1 %g b2 %g eps %g wd %g", q[0],
                q[1], q[2], q[3], q[4]);
    }
    cudaFree(dp), cudaFree(dm), cudaFree(dv), cudaFree(dg);
}

// Pretraining applies the AdamW rule and its own iteration-range rule before
// anything runs -- also for an empty range, where the CPU once accepted an
// eps that rounds to 0 in float32 and the GPU refused it.
static void test_pretrain_rules(void)
{
    static dpo_schedule sched, other;
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    const size_t batch = 2, nb = dpo_mlp_num_base(&cfg);
    const uint64_t big = (uint64_t)1 << 32;
    // it_begin, it_end, schedule steps (0: the config's), expected
    static const struct {
        uint64_t b, e;
        int other;
        dpo_status expect;
    } ranges[] = {
        {0, 0, 0, DPO_OK},         {3, 2, 0, DPO_ERR_RANGE}, {0, 0, 1, DPO_ERR_RANGE},
        {big + 1, big + 1, 0, DPO_ERR_RANGE}, {big / 2, big / 2, 0, DPO_OK}, {big / 2 + 1, big / 2 + 1, 0, DPO_ERR_RANGE},
    };
    cfg.hidden = 16;
    CHECK(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, cfg.num_train_steps, 0) == DPO_OK &&
              dpo_schedule_init(&other, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, cfg.num_train_steps + 1, 0) == DPO_OK,
          "schedules");
    float *base = (float *)calloc(nb, 4), *m = (float *)calloc(nb, 4), *v = (float *)calloc(nb, 4);
    size_t cws = dpo_pretrain_workspace_size(&cfg, batch);
    void *cw = malloc(cws);
    dpo_cuda_mlp *ctx = NULL;
    CHECK(dpo_mlp_init_base(base, &cfg, 5) == DPO_OK, "init");
    CHECK(dpo_cuda_mlp_create(&ctx, &cfg, batch, DPO_CUDA_MM_STRICT, 0) == DPO_OK, "create");
    if (!ctx || !cw) {
        free(base), free(m), free(v), free(cw);
        return;
    }
    size_t ws = dpo_cuda_pretrain_workspace_size(ctx), hs = dpo_cuda_pretrain_host_size(ctx);
    void *dw = dalloc(ws), *hw = malloc(hs);
    float *db = dcopy(base, nb), *dm = dcopy(m, nb), *dv = dcopy(v, nb);
    static const double epss[] = {1e-8, 1e-50, 0.0, NAN, 1e-44};
    for (size_t e = 0; e < sizeof(epss) / sizeof(epss[0]); e++) {
        dpo_adamw opt = dpo_adamw_default(1e-3);
        opt.eps = epss[e];
        dpo_status exp = e == 0 || e == 4 ? DPO_OK : DPO_ERR_RANGE;
        SAME_AS(exp, dpo_pretrain_run(base, m, v, NULL, &cfg, &sched, 9, 0, 0, batch, &opt, cw, cws),
                dpo_cuda_pretrain_run(ctx, db, dm, dv, NULL, &sched, 9, 0, 0, &opt, dw, ws, hw, hs, NULL),
                "pretrain eps %g, empty range", epss[e]);
    }
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        dpo_adamw opt = dpo_adamw_default(1e-3);
        const dpo_schedule *s = ranges[r].other ? &other : &sched;
        SAME_AS(ranges[r].expect,
                dpo_pretrain_run(base, m, v, NULL, &cfg, s, 9, ranges[r].b, ranges[r].e, batch, &opt, cw, cws),
                dpo_cuda_pretrain_run(ctx, db, dm, dv, NULL, s, 9, ranges[r].b, ranges[r].e, &opt, dw, ws, hw, hs,
                                      NULL),
                "pretrain range [%llu, %llu) schedule %d", (unsigned long long)ranges[r].b,
                (unsigned long long)ranges[r].e, ranges[r].other);
    }
    dpo_cuda_mlp_destroy(ctx);
    cudaFree(dw), cudaFree(db), cudaFree(dm), cudaFree(dv);
    free(hw), free(base), free(m), free(v), free(cw);
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("no CUDA device\n0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_dpo_params);
    RUN(test_clip_rdpo_params);
    RUN(test_eps_params);
    RUN(test_guide_params);
    RUN(test_noise_coords);
    RUN(test_adamw_rule);
    RUN(test_pretrain_rules);
    return chk_summary();
}
