// GPU tests of the CUDA drivers (include/diffpo_cuda.h): every case runs on
// the device and is compared BITWISE with the CPU library (the reference),
// on random inputs from Philox, sizes that are not multiples of 64 and
// d = 16384, batch 1..64; a device rollout driven by host-provided eps
// reproduces the CPU rollout's XXH3 fingerprint; bad arguments return the
// error and leave device outputs untouched.  DPO_GPU_QUICK=1 (the
// compute-sanitizer runs) keeps only small sizes.  Ends with
// "N passed, M failed"; with no CUDA device it reports one failure.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"
#include "diffpo_cuda.h"
#include "diffpo_cuda_model.h"

static int quick;

// ----------------------------------------------------------------- helpers
#define CU_OK(call)                                                                                      \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) {                                                                         \
            fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);     \
            exit(2);                                                                                     \
        }                                                                                                \
    } while (0)

static void *dalloc(size_t bytes)
{
    void *p = NULL;
    CU_OK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
}

static void dfree(void *p)
{
    CU_OK(cudaFree(p));
}

static void *halloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of host memory\n");
        exit(2);
    }
    return p;
}

static void up(void *d, const void *h, size_t bytes)
{
    CU_OK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
}

static void down(void *h, const void *d, size_t bytes)
{
    CU_OK(cudaDeviceSynchronize());
    CU_OK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
}

// n standard normals scaled by s, from Philox (stream USER, tag = sample).
static void fill(float *h, size_t n, uint32_t tag, float s)
{
    dpo_noise_coord c;
    size_t i;
    c.seed = 20240611u;
    c.stream = DPO_STREAM_USER;
    c.sample = tag;
    c.step = 0;
    c.candidate = 0;
    dpo_normal_f32(h, c, 0, n);
    for (i = 0; i < n; i++)
        h[i] *= s;
}

// A device copy of a host array.
static float *dcopy(const float *h, size_t n)
{
    float *d = (float *)dalloc(n * sizeof(float));
    up(d, h, n * sizeof(float));
    return d;
}

// Bitwise comparison of a device array with a host array.
static int same_dev(const void *d, const void *h, size_t bytes)
{
    void *t = halloc(bytes);
    int r;
    down(t, d, bytes);
    r = memcmp(t, h, bytes) == 0;
    free(t);
    return r;
}

static size_t sizes_full[] = {1, 3, 4, 5, 63, 64, 65, 127, 1000, 1023, 1024, 1025, 4097, 16384, 70001};
static size_t sizes_quick[] = {1, 5, 63, 64, 65, 1025};

static size_t *sizes(size_t *count)
{
    if (quick) {
        *count = sizeof sizes_quick / sizeof sizes_quick[0];
        return sizes_quick;
    }
    *count = sizeof sizes_full / sizeof sizes_full[0];
    return sizes_full;
}

// ----------------------------------------------------------------- normals
static void test_normals(void)
{
    size_t ns, k, j;
    size_t *sz = sizes(&ns);
    uint64_t e0s[] = {0, 1, 2, 3, 7, (uint64_t)1 << 33};
    for (k = 0; k < ns; k++)
        for (j = 0; j < sizeof e0s / sizeof e0s[0]; j++) {
            size_t n = sz[k];
            dpo_noise_coord c;
            float *h = (float *)halloc(n * sizeof(float)), *d = (float *)dalloc(n * sizeof(float));
            double *h64 = (double *)halloc(n * sizeof(double)), *d64 = (double *)dalloc(n * sizeof(double));
            c.seed = 0x123456789abcdefull + k;
            c.stream = DPO_STREAM_STEP;
            c.sample = (uint32_t)(7 * k + j);
            c.step = 3;
            c.candidate = (uint32_t)j;
            CHECK(dpo_normal_f32(h, c, e0s[j], n) == DPO_OK, "cpu normal");
            CHECK(dpo_cuda_normal_f32(d, c, e0s[j], n, NULL) == DPO_OK, "gpu normal");
            CHECK(same_dev(d, h, n * sizeof(float)), "normal_f32 n=%zu e0=%llu differs", n,
                  (unsigned long long)e0s[j]);
            CHECK(dpo_normal_f64(h64, c, e0s[j], n) == DPO_OK, "cpu normal f64");
            CHECK(dpo_cuda_normal_f64(d64, c, e0s[j], n, NULL) == DPO_OK, "gpu normal f64");
            CHECK(same_dev(d64, h64, n * sizeof(double)), "normal_f64 n=%zu e0=%llu differs", n,
                  (unsigned long long)e0s[j]);
            free(h);
            free(h64);
            dfree(d);
            dfree(d64);
        }
}

static void test_normals_batch(void)
{
    size_t dims[] = {1, 6, 64, 65, 16384};
    size_t batches[] = {1, 3, 64};
    size_t a, b, r;
    for (a = 0; a < sizeof dims / sizeof dims[0]; a++)
        for (b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            size_t dim = dims[a], B = batches[b];
            dpo_noise_coord c;
            float *h, *d;
            if (quick && dim * B > 70000)
                continue;
            h = (float *)halloc(B * dim * sizeof(float));
            d = (float *)dalloc(B * dim * sizeof(float));
            c.seed = 99;
            c.stream = DPO_STREAM_INIT;
            c.sample = 5;
            c.step = 0;
            c.candidate = 0;
            for (r = 0; r < B; r++) {
                dpo_noise_coord cr = c;
                cr.sample = c.sample + (uint32_t)r;
                dpo_normal_f32(h + r * dim, cr, 0, dim);
            }
            CHECK(dpo_cuda_normal_batch_f32(d, c, B, dim, NULL) == DPO_OK, "batch normal");
            CHECK(same_dev(d, h, B * dim * sizeof(float)), "normal_batch dim=%zu batch=%zu differs", dim, B);
            free(h);
            dfree(d);
        }
}

// -------------------------------------------------------------------- step
static dpo_schedule sched;

static void make_coef(dpo_step_coef_f32 *c, int kind, int pred, int clip, double eta, int t)
{
    dpo_step_opts o = dpo_step_opts_default();
    o.kind = (dpo_step_kind)kind;
    o.pred = (dpo_pred_type)pred;
    o.eta = eta;
    o.clip = clip;
    o.clip_range = 1.0;
    o.use_clipped_output = clip;
    if (dpo_step_coef_f32_init(c, &sched, t, 50, &o) != DPO_OK) {
        fprintf(stderr, "coef init failed\n");
        exit(2);
    }
}

// One step case: given noise and in-kernel Philox noise against the CPU's
// dpo_step_f32 + dpo_step_logprob_f32 (sum and mean).
static void step_case(size_t B, size_t dim, const dpo_step_coef_f32 *c, uint32_t tag)
{
    size_t n = B * dim, ws = dpo_cuda_step_workspace_size(B, dim), r;
    float *x = (float *)halloc(n * 4), *e = (float *)halloc(n * 4), *z = (float *)halloc(n * 4);
    float *xp = (float *)halloc(n * 4), *x0 = (float *)halloc(n * 4), *mu = (float *)halloc(n * 4);
    double lp[2][64];
    float *dx, *de, *dz, *dxp = (float *)dalloc(n * 4), *dx0 = (float *)dalloc(n * 4), *dmu = (float *)dalloc(n * 4);
    double *dlp = (double *)dalloc(B * sizeof(double));
    void *work = dalloc(ws);
    dpo_noise_coord nc;
    int mode;
    fill(x, n, tag, 1.0f);
    fill(e, n, tag + 1, 1.0f);
    fill(z, n, tag + 2, 1.0f);
    dx = dcopy(x, n), de = dcopy(e, n), dz = dcopy(z, n);
    CHECK(dpo_step_f32(xp, x0, mu, x, e, z, n, c) == DPO_OK, "cpu step");
    for (mode = 0; mode < 2; mode++)
        CHECK(dpo_step_logprob_f32(lp[mode], xp, mu, B, dim, c, (dpo_logprob_mode)mode) == DPO_OK, "cpu logprob");
    for (mode = 0; mode < 2; mode++) {
        CHECK(dpo_cuda_step_f32(dxp, dx0, dmu, dlp, dx, de, dz, B, dim, c, (dpo_logprob_mode)mode, work, ws, NULL) ==
                  DPO_OK,
              "gpu step");
        CHECK(same_dev(dxp, xp, n * 4) && same_dev(dx0, x0, n * 4) && same_dev(dmu, mu, n * 4),
              "step outputs differ B=%zu dim=%zu kind=%d pred=%d", B, dim, c->kind, c->pred);
        CHECK(same_dev(dlp, lp[mode], B * sizeof(double)), "step logp differs B=%zu dim=%zu mode=%d", B, dim, mode);
    }
    // only x_prev, no log-prob (the map kernel)
    CU_OK(cudaMemset(dxp, 0, n * 4));
    CHECK(dpo_cuda_step_f32(dxp, NULL, NULL, NULL, dx, de, dz, B, dim, c, DPO_LOGPROB_SUM, NULL, 0, NULL) == DPO_OK,
          "gpu step no lp");
    CHECK(same_dev(dxp, xp, n * 4), "step x_prev (no logp) differs B=%zu dim=%zu", B, dim);
    // in place: x_prev over x
    CHECK(dpo_cuda_step_f32(dx, NULL, NULL, dlp, dx, de, dz, B, dim, c, DPO_LOGPROB_SUM, work, ws, NULL) == DPO_OK,
          "gpu step in place");
    CHECK(same_dev(dx, xp, n * 4) && same_dev(dlp, lp[0], B * sizeof(double)), "in-place step differs");
    up(dx, x, n * 4);
    // Philox noise in the kernel: rows at samples 11 .. 11 + B - 1
    nc.seed = 4242;
    nc.stream = DPO_STREAM_STEP;
    nc.sample = 11;
    nc.step = 7;
    nc.candidate = 2;
    for (r = 0; r < B; r++) {
        dpo_noise_coord cr = nc;
        cr.sample = nc.sample + (uint32_t)r;
        dpo_normal_f32(z + r * dim, cr, 0, dim);
    }
    CHECK(dpo_step_f32(xp, x0, mu, x, e, z, n, c) == DPO_OK, "cpu step (philox noise)");
    CHECK(dpo_step_logprob_f32(lp[1], xp, mu, B, dim, c, DPO_LOGPROB_MEAN) == DPO_OK, "cpu logprob");
    CHECK(dpo_cuda_step_philox_f32(dxp, dx0, dmu, dlp, dx, de, nc, B, dim, c, DPO_LOGPROB_MEAN, work, ws, NULL) ==
              DPO_OK,
          "gpu philox step");
    CHECK(same_dev(dxp, xp, n * 4) && same_dev(dx0, x0, n * 4) && same_dev(dmu, mu, n * 4),
          "philox step outputs differ B=%zu dim=%zu", B, dim);
    CHECK(same_dev(dlp, lp[1], B * sizeof(double)), "philox step logp differs B=%zu dim=%zu", B, dim);
    // log-prob of given tensors
    CHECK(dpo_cuda_step_logprob_f32(dlp, dxp, dmu, B, dim, c, DPO_LOGPROB_MEAN, work, ws, NULL) == DPO_OK,
          "gpu logprob");
    CHECK(same_dev(dlp, lp[1], B * sizeof(double)), "step_logprob differs B=%zu dim=%zu", B, dim);
    free(x), free(e), free(z), free(xp), free(x0), free(mu);
    dfree(dx), dfree(de), dfree(dz), dfree(dxp), dfree(dx0);
    dfree(dmu), dfree(dlp), dfree(work);
}

static void test_step(void)
{
    size_t dims[] = {1, 5, 63, 64, 65, 1000, 16384};
    size_t batches[] = {1, 3, 64};
    size_t a, b;
    int kind, pred, clip;
    uint32_t tag = 100;
    for (kind = 0; kind < 2; kind++)
        for (pred = 0; pred < 3; pred++)
            for (clip = 0; clip < 2; clip++) {
                dpo_step_coef_f32 c;
                make_coef(&c, kind, pred, clip, 1.0, 481);
                for (a = 0; a < sizeof dims / sizeof dims[0]; a++)
                    for (b = 0; b < sizeof batches / sizeof batches[0]; b++) {
                        size_t n = dims[a] * batches[b];
                        if ((quick && n > 5000) || (!(kind == 0 && pred == 0 && clip == 0) && n > 70000))
                            continue;
                        step_case(batches[b], dims[a], &c, tag);
                        tag += 3;
                    }
            }
}

// -------------------------------------------------------------- reductions
static void test_reduce(void)
{
    size_t dims[] = {1, 63, 64, 65, 200, 1000, 16384, 64 * 1024 + 3, 64 * 3000 + 17};
    size_t batches[] = {1, 2, 64};
    size_t a, b, r, i;
    for (a = 0; a < sizeof dims / sizeof dims[0]; a++)
        for (b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            size_t dim = dims[a], B = batches[b], n = dim * B, ws;
            float *x, *y;
            double *t, *ss, *dt, *dout;
            float *dx, *dy;
            void *work;
            if ((quick && n > 5000) || n > 4000000)
                continue;
            x = (float *)halloc(n * 4), y = (float *)halloc(n * 4);
            t = (double *)halloc(dim * 8), ss = (double *)halloc(B * 8), dt = (double *)halloc(B * 8);
            fill(x, n, (uint32_t)(500 + a * 10 + b), 3.0f);
            fill(y, n, (uint32_t)(700 + a * 10 + b), 0.5f);
            dx = dcopy(x, n), dy = dcopy(y, n);
            dout = (double *)dalloc(B * 8);
            ws = dpo_cuda_reduce_workspace_size(B, dim);
            work = dalloc(ws);
            for (r = 0; r < B; r++) {
                for (i = 0; i < dim; i++)
                    t[i] = (double)x[r * dim + i] * (double)x[r * dim + i];
                ss[r] = dpo_sum_canonical(t, dim);
                for (i = 0; i < dim; i++)
                    t[i] = (double)x[r * dim + i] * (double)y[r * dim + i];
                dt[r] = dpo_sum_canonical(t, dim);
            }
            CHECK(dpo_cuda_sumsq_f32(dout, dx, B, dim, work, ws, NULL) == DPO_OK, "sumsq");
            CHECK(same_dev(dout, ss, B * 8), "sumsq differs B=%zu dim=%zu", B, dim);
            CHECK(dpo_cuda_dot_f32(dout, dx, dy, B, dim, work, ws, NULL) == DPO_OK, "dot");
            CHECK(same_dev(dout, dt, B * 8), "dot differs B=%zu dim=%zu", B, dim);
            free(x), free(y), free(t), free(ss), free(dt);
            dfree(dx), dfree(dy), dfree(dout), dfree(work);
        }
}

// ------------------------------------------------------------------ losses
// Six input tensors: x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l (or for the
// epsilon forms eps_w, eps_l, eth_w, eref_w, eth_l, eref_l): the model
// outputs are near their references / the noise, as in training.
typedef struct loss_in {
    size_t n;
    float *h[6];
    float *d[6];
} loss_in;

static void loss_in_make(loss_in *L, size_t n, uint32_t tag)
{
    size_t i;
    int k;
    L->n = n;
    for (k = 0; k < 6; k++) {
        L->h[k] = (float *)halloc(n * 4);
        fill(L->h[k], n, tag + (uint32_t)k, k == 2 || k == 5 ? 0.05f : 1.0f);
    }
    for (i = 0; i < n; i++) {
        L->h[2][i] += L->h[1][i];
        L->h[5][i] += L->h[4][i];
    }
    for (k = 0; k < 6; k++)
        L->d[k] = dcopy(L->h[k], n);
}

static void loss_in_free(loss_in *L)
{
    int k;
    for (k = 0; k < 6; k++) {
        free(L->h[k]);
        dfree(L->d[k]);
    }
}

// Compares a device result and two device gradients with the CPU's.
static void cmp_loss(const char *what, const dpo_pair_result *hr, const dpo_pair_result *dres, const float *hg0,
                     const float *dg0, const float *hg1, const float *dg1, size_t n)
{
    CHECK(same_dev(dres, hr, sizeof *hr), "%s: result differs (n=%zu)", what, n);
    if (hg0)
        CHECK(same_dev(dg0, hg0, n * 4), "%s: gradient 0 differs (n=%zu)", what, n);
    if (hg1)
        CHECK(same_dev(dg1, hg1, n * 4), "%s: gradient 1 differs (n=%zu)", what, n);
}

static void loss_case(size_t n, uint32_t tag)
{
    loss_in L;
    size_t ws = dpo_cuda_loss_workspace_size(n);
    void *work = dalloc(ws);
    float *g0 = (float *)halloc(n * 4), *g1 = (float *)halloc(n * 4);
    float *dg0 = (float *)dalloc(n * 4), *dg1 = (float *)dalloc(n * 4);
    dpo_pair_result hr, *dres = (dpo_pair_result *)dalloc(sizeof hr);
    int mode, bi, lab, v, li, sg;
    const float *const *h, *const *d;
    loss_in_make(&L, n, tag);
    h = L.h, d = L.d;
    for (mode = 0; mode < 2; mode++)
        for (bi = 0; bi < 3; bi++) {
            double beta = bi == 0 ? 0.1 : (bi == 1 ? 5.0 : 5000.0);
            dpo_pair_params p;
            dpo_clip_params q;
            dpo_eps_params ep;
            p.beta = beta, p.sigma = 0.37, p.mode = (dpo_logprob_mode)mode;
            CHECK(dpo_stepdpo_f32(&hr, g0, g1, h[0], h[1], h[2], h[3], h[4], h[5], n, p) == DPO_OK, "cpu stepdpo");
            CHECK(dpo_cuda_stepdpo_f32(dres, dg0, dg1, d[0], d[1], d[2], d[3], d[4], d[5], n, p, work, ws, NULL) ==
                      DPO_OK,
                  "gpu stepdpo");
            cmp_loss("stepdpo", &hr, dres, g0, dg0, g1, dg1, n);
            CHECK(dpo_cuda_stepdpo_f32(dres, NULL, NULL, d[0], d[1], d[2], d[3], d[4], d[5], n, p, work, ws, NULL) ==
                      DPO_OK,
                  "gpu stepdpo without gradients");
            cmp_loss("stepdpo (no grad)", &hr, dres, NULL, NULL, NULL, NULL, n);
            for (lab = -1; lab <= 1; lab++) {
                q.beta = beta, q.clip_eps = 0.1, q.sigma = 0.37, q.mode = (dpo_logprob_mode)mode;
                CHECK(dpo_d3po_code_f32(&hr, g0, g1, h[0], h[1], h[2], h[3], h[4], h[5], n, lab, q) == DPO_OK,
                      "cpu d3po");
                CHECK(dpo_cuda_d3po_code_f32(dres, dg0, dg1, d[0], d[1], d[2], d[3], d[4], d[5], n, lab, q, work, ws,
                                             NULL) == DPO_OK,
                      "gpu d3po");
                cmp_loss("d3po-code", &hr, dres, g0, dg0, g1, dg1, n);
            }
            CHECK(dpo_tailorpo_f32(&hr, g0, h[0], h[3], h[1], h[2], n, p) == DPO_OK, "cpu tailorpo");
            CHECK(dpo_cuda_tailorpo_f32(dres, dg0, d[0], d[3], d[1], d[2], n, p, work, ws, NULL) == DPO_OK,
                  "gpu tailorpo");
            cmp_loss("tailorpo", &hr, dres, g0, dg0, NULL, NULL, n);
            for (v = 0; v < 2; v++)
                for (li = 0; li < 2; li++) {
                    dpo_rdpo_params rp;
                    int sw;
                    rp.beta = beta, rp.lambda = li ? 1.5 : 0.0, rp.sigma = 0.37, rp.mode = (dpo_logprob_mode)mode;
                    rp.variant = (dpo_rdpo_variant)v;
                    for (sw = 0; sw < 2; sw++) { // both signs of lr_l (penalty active or not)
                        const float *hw = sw ? h[3] : h[0], *hl = sw ? h[0] : h[3];
                        const float *dw = sw ? d[3] : d[0], *dl = sw ? d[0] : d[3];
                        CHECK(dpo_rdpo_f32(&hr, g0, hw, hl, h[1], h[2], n, rp) == DPO_OK, "cpu rdpo");
                        CHECK(dpo_cuda_rdpo_f32(dres, dg0, dw, dl, d[1], d[2], n, rp, work, ws, NULL) == DPO_OK,
                              "gpu rdpo");
                        cmp_loss("rdpo", &hr, dres, g0, dg0, NULL, NULL, n);
                    }
                }
            ep.beta = beta, ep.mode = (dpo_logprob_mode)mode;
            // eps forms: eps_w = h0, eps_l = h3, eth_w = h1 + ..., eref_w = h2, eth_l = h4, eref_l = h5
            CHECK(dpo_diffdpo_f32(&hr, g0, g1, h[0], h[3], h[1], h[2], h[4], h[5], n, ep) == DPO_OK, "cpu diffdpo");
            CHECK(dpo_cuda_diffdpo_f32(dres, dg0, dg1, d[0], d[3], d[1], d[2], d[4], d[5], n, ep, work, ws, NULL) ==
                      DPO_OK,
                  "gpu diffdpo");
            cmp_loss("diffdpo", &hr, dres, g0, dg0, g1, dg1, n);
            for (sg = 0; sg < 2; sg++) {
                dpo_dspo_params dp = mode ? dpo_dspo_params_code(beta * 1e-3, sg) : dpo_dspo_params_paper(beta, 0.3, sg);
                CHECK(dpo_dspo_f32(&hr, g0, g1, h[0], h[3], h[1], h[2], h[4], h[5], n, dp) == DPO_OK, "cpu dspo");
                CHECK(dpo_cuda_dspo_f32(dres, dg0, dg1, d[0], d[3], d[1], d[2], d[4], d[5], n, dp, work, ws, NULL) ==
                          DPO_OK,
                      "gpu dspo");
                cmp_loss("dspo", &hr, dres, g0, dg0, g1, dg1, n);
            }
        }
    loss_in_free(&L);
    free(g0), free(g1);
    dfree(dg0), dfree(dg1), dfree(dres), dfree(work);
}

static void test_losses(void)
{
    size_t ns, k;
    size_t *sz = sizes(&ns);
    for (k = 0; k < ns; k++)
        loss_case(sz[k], (uint32_t)(1000 + 10 * k));
    if (!quick)
        loss_case(64 * 1500 + 9, 3000); // > 1024 partials: the pairwise level passes
}

// --------------------------------------------------------- element updates
static void test_guide(void)
{
    size_t ns, k;
    size_t *sz = sizes(&ns);
    for (k = 0; k < ns; k++) {
        size_t n = sz[k];
        float *x = (float *)halloc(n * 4), *g = (float *)halloc(n * 4), *v = (float *)halloc(n * 4);
        float *o = (float *)halloc(n * 4);
        float *dx, *dg, *dv, *dout = (float *)dalloc(n * 4);
        int sign, jac;
        fill(x, n, (uint32_t)(2000 + k), 1.0f);
        fill(g, n, (uint32_t)(2100 + k), 0.3f);
        fill(v, n, (uint32_t)(2200 + k), 0.2f);
        dx = dcopy(x, n), dg = dcopy(g, n), dv = dcopy(v, n);
        for (sign = -1; sign <= 1; sign += 2)
            for (jac = 0; jac < 2; jac++) {
                dpo_guide_params p;
                p.eta = 0.17, p.delta = 0.5, p.alpha = 0.31, p.sign = sign, p.jac = (dpo_guide_jac)jac;
                CHECK(dpo_tailorpo_g_update_f32(o, x, g, v, n, p) == DPO_OK, "cpu guide");
                CHECK(dpo_cuda_tailorpo_g_update_f32(dout, dx, dg, dv, n, p, NULL) == DPO_OK, "gpu guide");
                CHECK(same_dev(dout, o, n * 4), "guide differs n=%zu sign=%d jac=%d", n, sign, jac);
            }
        free(x), free(g), free(v), free(o);
        dfree(dx), dfree(dg), dfree(dv), dfree(dout);
    }
}

static void test_adamw(void)
{
    size_t ns, k;
    size_t *sz = sizes(&ns);
    for (k = 0; k < ns; k++) {
        size_t n = sz[k];
        float *p = (float *)halloc(n * 4), *m = (float *)halloc(n * 4), *v = (float *)halloc(n * 4);
        float *g = (float *)halloc(n * 4);
        float *dp, *dm, *dv, *dg;
        dpo_adamw h = dpo_adamw_default(1e-3);
        uint64_t step;
        h.weight_decay = 0.01;
        fill(p, n, (uint32_t)(3000 + k), 0.5f);
        memset(m, 0, n * 4);
        memset(v, 0, n * 4);
        dp = dcopy(p, n), dm = dcopy(m, n), dv = dcopy(v, n);
        dg = (float *)dalloc(n * 4);
        for (step = 1; step <= 5; step++) {
            fill(g, n, (uint32_t)(3100 + 7 * k + step), 0.1f);
            up(dg, g, n * 4);
            CHECK(dpo_adamw_step(p, m, v, g, n, &h, step) == DPO_OK, "cpu adamw");
            CHECK(dpo_cuda_adamw_step(dp, dm, dv, dg, n, &h, step, NULL) == DPO_OK, "gpu adamw");
        }
        CHECK(same_dev(dp, p, n * 4) && same_dev(dm, m, n * 4) && same_dev(dv, v, n * 4),
              "adamw differs after 5 steps n=%zu", n);
        // a late step (large bias-correction exponent)
        CHECK(dpo_adamw_step(p, m, v, g, n, &h, 1000003) == DPO_OK, "cpu adamw late");
        CHECK(dpo_cuda_adamw_step(dp, dm, dv, dg, n, &h, 1000003, NULL) == DPO_OK, "gpu adamw late");
        CHECK(same_dev(dp, p, n * 4), "adamw differs at step 1000003 n=%zu", n);
        free(p), free(m), free(v), free(g);
        dfree(dp), dfree(dm), dfree(dv), dfree(dg);
    }
}

// ----------------------------------------------------------------- rollout
// The CPU rollout with the built-in Gaussian-mixture model, and the same
// rollout on the device: x_T from dpo_cuda_normal_batch_f32, each step's
// eps computed on the host from the device's current x (host-provided eps),
// the fused step with in-kernel Philox noise and log-prob.  Fingerprints
// must be equal.
static void rollout_case(size_t B, size_t dim, int S, dpo_logprob_mode mode)
{
    static double means[4 * 256];
    static int32_t ts[1000];
    dpo_gmm gmm;
    dpo_eps_model model;
    dpo_rollout_cfg cfg;
    size_t row = B * dim, ws, k;
    float *traj, *gtraj, *eps, *dtraj, *deps;
    double *lp, *glp, *dlp;
    void *work, *dwork;
    dpo_noise_coord nc;
    uint64_t hc, hg;
    if (dpo_timesteps(ts, S, 1000, DPO_SPACING_LEADING, 1) || dpo_gmm_init_default(&gmm, means, dim, 7, &sched)) {
        CHECK(0, "rollout setup");
        return;
    }
    model = dpo_gmm_model(&gmm);
    memset(&cfg, 0, sizeof cfg);
    cfg.seed = 31337;
    cfg.batch = B;
    cfg.dim = dim;
    cfg.num_steps = S;
    cfg.timesteps = ts;
    cfg.sched = &sched;
    cfg.opts = dpo_step_opts_default();
    cfg.lp_mode = mode;
    traj = (float *)halloc((size_t)(S + 1) * row * 4);
    gtraj = (float *)halloc((size_t)(S + 1) * row * 4);
    lp = (double *)halloc((size_t)S * B * 8);
    glp = (double *)halloc((size_t)S * B * 8);
    eps = (float *)halloc(row * 4);
    ws = dpo_rollout_workspace_size(B, dim);
    work = halloc(ws);
    CHECK(dpo_rollout_f32(traj, lp, &cfg, &model, 0, B, work, ws) == DPO_OK, "cpu rollout");
    hc = dpo_rollout_fingerprint(NULL, traj, lp, S, B, dim);

    dtraj = (float *)dalloc((size_t)(S + 1) * row * 4);
    dlp = (double *)dalloc((size_t)S * B * 8);
    deps = (float *)dalloc(row * 4);
    ws = dpo_cuda_step_workspace_size(B, dim);
    dwork = dalloc(ws);
    nc.seed = cfg.seed;
    nc.stream = DPO_STREAM_INIT;
    nc.sample = 0;
    nc.step = 0;
    nc.candidate = 0;
    CHECK(dpo_cuda_normal_batch_f32(dtraj, nc, B, dim, NULL) == DPO_OK, "x_T");
    for (k = 0; k < (size_t)S; k++) {
        dpo_step_coef_f32 c;
        float *x = dtraj + k * row;
        CHECK(dpo_step_coef_f32_init(&c, &sched, ts[k], S, &cfg.opts) == DPO_OK, "coef");
        down(gtraj, x, row * 4); // the device's x_t ...
        CHECK(dpo_gmm_eps(&gmm, eps, gtraj, B, ts[k]) == DPO_OK, "host eps"); // ... eps on the host
        up(deps, eps, row * 4);
        nc.stream = DPO_STREAM_STEP;
        nc.step = (uint32_t)k;
        CHECK(dpo_cuda_step_philox_f32(x + row, NULL, NULL, dlp + k * B, x, deps, nc, B, dim, &c, mode, dwork, ws,
                                       NULL) == DPO_OK,
              "device step %zu", k);
    }
    down(gtraj, dtraj, (size_t)(S + 1) * row * 4);
    down(glp, dlp, (size_t)S * B * 8);
    hg = dpo_rollout_fingerprint(NULL, gtraj, glp, S, B, dim);
    CHECK(hc == hg, "rollout fingerprint: cpu %016llx gpu %016llx (B=%zu dim=%zu S=%d)", (unsigned long long)hc,
          (unsigned long long)hg, B, dim, S);
    CHECK(memcmp(traj, gtraj, (size_t)(S + 1) * row * 4) == 0, "trajectory bytes differ");
    CHECK(memcmp(lp, glp, (size_t)S * B * 8) == 0, "log-prob bytes differ");
    free(traj), free(gtraj), free(lp), free(glp), free(eps), free(work);
    dfree(dtraj), dfree(dlp), dfree(deps), dfree(dwork);
}

static void test_rollout(void)
{
    rollout_case(4, 16, 10, DPO_LOGPROB_SUM);
    rollout_case(3, 65, 20, DPO_LOGPROB_MEAN);
    rollout_case(2, 200, 5, DPO_LOGPROB_SUM); // 4 blocks: a real tree
    if (!quick)
        rollout_case(64, 256, 20, DPO_LOGPROB_SUM);
}

// ----------------------------------------------------------- bad arguments
// Every rejected call must leave the device outputs as they were: fill them
// with a pattern, call, and compare.
static void test_bad_args(void)
{
    size_t n = 100, B = 2, dim = 50;
    float *h = (float *)halloc(n * 4), *pat = (float *)halloc(n * 4);
    float *dx = (float *)dalloc(n * 4), *de = (float *)dalloc(n * 4), *dz = (float *)dalloc(n * 4);
    float *dout = (float *)dalloc(n * 4), *dout2 = (float *)dalloc(n * 4);
    double *dlp = (double *)dalloc(B * 8), lpat[2] = {12345.0, -6789.0};
    dpo_pair_result rpat, *dres = (dpo_pair_result *)dalloc(sizeof rpat);
    size_t ws = dpo_cuda_loss_workspace_size(n), sws = dpo_cuda_step_workspace_size(B, dim);
    void *work = dalloc(ws > sws ? ws : sws);
    dpo_step_coef_f32 c, c0;
    dpo_pair_params p;
    dpo_noise_coord nc;
    size_t i;
    fill(h, n, 4000, 1.0f);
    up(dx, h, n * 4), up(de, h, n * 4), up(dz, h, n * 4);
    for (i = 0; i < n; i++)
        pat[i] = (float)i + 0.25f;
    memset(&rpat, 0x5a, sizeof rpat);
    up(dout, pat, n * 4), up(dout2, pat, n * 4), up(dlp, lpat, sizeof lpat), up(dres, &rpat, sizeof rpat);
    make_coef(&c, 0, 0, 0, 1.0, 481);
    make_coef(&c0, 0, 0, 0, 0.0, 481); // eta 0: sigma 0
    memset(&nc, 0, sizeof nc);
    p.beta = 1.0, p.sigma = 0.5, p.mode = DPO_LOGPROB_SUM;

    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, NULL, de, dz, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_NULL,
          "step: NULL x");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, NULL, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_NULL,
          "step: NULL noise with sigma > 0");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, 0, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_SIZE,
          "step: batch 0");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, B, 0, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_SIZE,
          "step: dim 0");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, B, dim, &c0, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_SIGMA_ZERO,
          "step: sigma 0 with log-prob");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, B, dim, &c, (dpo_logprob_mode)7, work, sws, NULL) ==
              DPO_ERR_RANGE,
          "step: bad mode");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, B, dim, &c, DPO_LOGPROB_SUM, work, sws - 8, NULL) ==
              DPO_ERR_WORKSPACE,
          "step: small workspace");
    CHECK(dpo_cuda_step_f32(dout, NULL, NULL, dlp, dx, de, dz, B, dim, &c, DPO_LOGPROB_SUM, NULL, sws, NULL) ==
              DPO_ERR_WORKSPACE,
          "step: no workspace");
    CHECK(dpo_cuda_step_f32(dx + 1, NULL, NULL, dlp, dx, de, dz, B, dim - 1, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_ALIAS,
          "step: shifted in-place output");
    CHECK(dpo_cuda_step_f32(dout, dout, NULL, dlp, dx, de, dz, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_ALIAS,
          "step: two outputs in one buffer");
    nc.stream = 70000;
    CHECK(dpo_cuda_step_philox_f32(dout, NULL, NULL, dlp, dx, de, nc, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_RANGE,
          "philox step: stream out of range");
    nc.stream = 0;
    nc.sample = 0xffffffffu;
    CHECK(dpo_cuda_step_philox_f32(dout, NULL, NULL, dlp, dx, de, nc, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL) ==
              DPO_ERR_RANGE,
          "philox step: sample range wraps");
    CHECK(dpo_cuda_normal_f32(NULL, nc, 0, n, NULL) == DPO_ERR_NULL, "normal: NULL");
    CHECK(dpo_cuda_normal_f32(dout, nc, (uint64_t)1 << 34, 1, NULL) == DPO_ERR_SIZE, "normal: beyond 2^34");
    CHECK(dpo_cuda_normal_batch_f32(dout, nc, 2, 10, NULL) == DPO_ERR_RANGE, "normal batch: sample wraps");
    CHECK(dpo_cuda_sumsq_f32((double *)dlp, dx, B, 0, work, sws, NULL) == DPO_ERR_SIZE, "sumsq: dim 0");
    CHECK(dpo_cuda_sumsq_f32((double *)dlp, NULL, B, dim, work, sws, NULL) == DPO_ERR_NULL, "sumsq: NULL");
    CHECK(dpo_cuda_step_logprob_f32(dlp, dx, de, B, dim, &c0, DPO_LOGPROB_SUM, work, sws, NULL) == DPO_ERR_SIGMA_ZERO,
          "logprob: sigma 0");
    // losses
    CHECK(dpo_cuda_stepdpo_f32(NULL, dout, dout2, dx, de, dz, dx, de, dz, n, p, work, ws, NULL) == DPO_ERR_NULL,
          "stepdpo: NULL result");
    CHECK(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, NULL, dz, dx, de, dz, n, p, work, ws, NULL) == DPO_ERR_NULL,
          "stepdpo: NULL input");
    CHECK(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, 0, p, work, ws, NULL) == DPO_ERR_SIZE,
          "stepdpo: n 0");
    p.sigma = 0.0;
    CHECK(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, n, p, work, ws, NULL) == DPO_ERR_SIGMA_ZERO,
          "stepdpo: sigma 0");
    CHECK(dpo_cuda_tailorpo_f32(dres, dout, dx, de, dz, dx, n, p, work, ws, NULL) == DPO_ERR_SIGMA_ZERO,
          "tailorpo: sigma 0");
    p.sigma = 0.5;
    p.beta = -1.0;
    CHECK(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, n, p, work, ws, NULL) == DPO_ERR_RANGE,
          "stepdpo: beta < 0");
    p.beta = 1.0;
    CHECK(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, n, p, work, ws - 8, NULL) ==
              DPO_ERR_WORKSPACE,
          "stepdpo: small workspace");
    CHECK(dpo_cuda_stepdpo_f32(dres, dx, dout2, dx, de, dz, dx, de, dz, n, p, work, ws, NULL) == DPO_ERR_ALIAS,
          "stepdpo: gradient over an input");
    {
        dpo_eps_params ep;
        dpo_dspo_params dp = dpo_dspo_params_code(0.001, 2);
        ep.beta = 0.0, ep.mode = DPO_LOGPROB_MEAN;
        CHECK(dpo_cuda_diffdpo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, n, ep, work, ws, NULL) == DPO_ERR_RANGE,
              "diffdpo: beta 0");
        CHECK(dpo_cuda_dspo_f32(dres, dout, dout2, dx, de, dz, dx, de, dz, n, dp, work, ws, NULL) == DPO_ERR_RANGE,
              "dspo: stopgrad 2");
    }
    {
        dpo_guide_params gp;
        dpo_adamw ah = dpo_adamw_default(1e-3);
        gp.eta = 0.1, gp.delta = 0.5, gp.alpha = 0.0, gp.sign = 1, gp.jac = DPO_GUIDE_NO_EPS;
        CHECK(dpo_cuda_tailorpo_g_update_f32(dout, dx, de, NULL, n, gp, NULL) == DPO_ERR_RANGE, "guide: alpha 0");
        gp.alpha = 0.5, gp.jac = DPO_GUIDE_VJP;
        CHECK(dpo_cuda_tailorpo_g_update_f32(dout, dx, de, NULL, n, gp, NULL) == DPO_ERR_NULL, "guide: no vjp");
        CHECK(dpo_cuda_tailorpo_g_update_f32(dout, dx, de, dz, 0, gp, NULL) == DPO_ERR_SIZE, "guide: n 0");
        CHECK(dpo_cuda_adamw_step(dout, dout2, dout, dx, n, &ah, 1, NULL) == DPO_ERR_ALIAS, "adamw: m = param");
        CHECK(dpo_cuda_adamw_step(dout, dout2, dz, dx, n, &ah, 0, NULL) == DPO_ERR_RANGE, "adamw: step 0");
        CHECK(dpo_cuda_adamw_step(dout, NULL, dz, dx, n, &ah, 1, NULL) == DPO_ERR_NULL, "adamw: NULL m");
    }
    CHECK(same_dev(dout, pat, n * 4) && same_dev(dout2, pat, n * 4), "rejected calls wrote a device output");
    CHECK(same_dev(dlp, lpat, sizeof lpat), "rejected calls wrote log-probs");
    CHECK(same_dev(dres, &rpat, sizeof rpat), "rejected calls wrote a loss result");
    CHECK(cudaGetLastError() == cudaSuccess, "a rejected call left a CUDA error");
    free(h), free(pat);
    dfree(dx), dfree(de), dfree(dz), dfree(dout), dfree(dout2);
    dfree(dlp), dfree(dres), dfree(work);
}

// dpo_cuda_device_describe: the runtime's device, argument checks.
// An error the caller left pending (here an invalid device ordinal, which
// the runtime records as the last error) must not be eaten by a valid call:
// the call returns DPO_ERR_CUDA before launching anything, its outputs keep
// their pattern, and the caller's cudaGetLastError still returns the error.
static int pending_error(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess)
        return 0;
    return cudaSetDevice(ndev) != cudaSuccess && cudaPeekAtLastError() != cudaSuccess;
}

#define PENDING(call, what)                                                                                           \
    do {                                                                                                              \
        CHECK(pending_error(), "%s: could not leave an error pending", what);                                        \
        dpo_status s_ = (call);                                                                                       \
        cudaError_t e_ = cudaGetLastError();                                                                          \
        CHECK(s_ == DPO_ERR_CUDA, "%s: status %d with an error pending", what, (int)s_);                             \
        CHECK(e_ == cudaErrorInvalidDevice, "%s: the caller's error was consumed (now %d)", what, (int)e_);          \
        CHECK(same_dev(dout, pat, n * 4) && same_dev(dout2, pat, n * 4), "%s: an output was written", what);        \
        CHECK(same_dev(dlp, lpat, sizeof lpat) && same_dev(dres, &rpat, sizeof rpat), "%s: a result was written",    \
              what);                                                                                                  \
    } while (0)

static void test_pending_error(void)
{
    const size_t n = 100, B = 2, dim = 50;
    float *h = (float *)halloc(n * 4), *pat = (float *)halloc(n * 4);
    float *dx = (float *)dalloc(n * 4), *dout = (float *)dalloc(n * 4), *dout2 = (float *)dalloc(n * 4);
    float *dm = (float *)dalloc(n * 4), *dv = (float *)dalloc(n * 4);
    double *dlp = (double *)dalloc(B * 8), lpat[2] = {12345.0, -6789.0};
    dpo_pair_result rpat, *dres = (dpo_pair_result *)dalloc(sizeof rpat);
    size_t ws = dpo_cuda_loss_workspace_size(n), sws = dpo_cuda_step_workspace_size(B, dim);
    size_t rws = dpo_cuda_reduce_workspace_size(B, dim), big = ws > sws ? ws : sws;
    void *work = dalloc(big > rws ? big : rws);
    dpo_step_coef_f32 c;
    dpo_pair_params p;
    dpo_clip_params q;
    dpo_rdpo_params rp;
    dpo_eps_params ep;
    dpo_dspo_params sp;
    dpo_guide_params gp;
    dpo_adamw aw = dpo_adamw_default(1e-3);
    dpo_noise_coord nc;
    size_t i;
    fill(h, n, 4100, 1.0f);
    up(dx, h, n * 4);
    for (i = 0; i < n; i++)
        pat[i] = (float)i + 0.25f;
    memset(&rpat, 0x5a, sizeof rpat);
    up(dout, pat, n * 4), up(dout2, pat, n * 4), up(dlp, lpat, sizeof lpat), up(dres, &rpat, sizeof rpat);
    up(dm, pat, n * 4), up(dv, pat, n * 4);
    make_coef(&c, 0, 0, 0, 1.0, 481);
    memset(&nc, 0, sizeof nc);
    p.beta = 1.0, p.sigma = 0.5, p.mode = DPO_LOGPROB_SUM;
    q.beta = 1.0, q.sigma = 0.5, q.clip_eps = 0.2, q.mode = DPO_LOGPROB_SUM;
    rp.beta = 1.0, rp.lambda = 1.0, rp.sigma = 0.5, rp.mode = DPO_LOGPROB_SUM, rp.variant = DPO_RDPO_PRINTED;
    ep.beta = 1.0, ep.mode = DPO_LOGPROB_SUM;
    memset(&sp, 0, sizeof sp);
    sp.beta_u = 1.0, sp.weight = 1.0, sp.mode = DPO_LOGPROB_SUM, sp.stopgrad = 0;
    memset(&gp, 0, sizeof gp);
    gp.eta = 0.1, gp.delta = 0.5, gp.alpha = 0.5, gp.sign = 1, gp.jac = DPO_GUIDE_NO_EPS;

    PENDING(dpo_cuda_normal_f32(dout, nc, 0, n, NULL), "normal_f32");
    PENDING(dpo_cuda_normal_batch_f32(dout, nc, B, dim, NULL), "normal_batch_f32");
    PENDING(dpo_cuda_step_f32(dout, NULL, dout2, dlp, dx, dx, dx, B, dim, &c, DPO_LOGPROB_SUM, work, sws, NULL),
            "step_f32");
    PENDING(dpo_cuda_step_f32(dout, NULL, NULL, NULL, dx, dx, dx, B, dim, &c, DPO_LOGPROB_SUM, NULL, 0, NULL),
            "step_f32 without log-prob");
    PENDING(dpo_cuda_step_philox_f32(dout, NULL, NULL, dlp, dx, dx, nc, B, dim, &c, DPO_LOGPROB_MEAN, work, sws,
                                     NULL),
            "step_philox_f32");
    PENDING(dpo_cuda_step_logprob_f32(dlp, dx, dx, B, dim, &c, DPO_LOGPROB_SUM, work, rws, NULL), "step_logprob_f32");
    PENDING(dpo_cuda_sumsq_f32(dlp, dx, B, dim, work, rws, NULL), "sumsq_f32");
    PENDING(dpo_cuda_dot_f32(dlp, dx, dx, B, dim, work, rws, NULL), "dot_f32");
    PENDING(dpo_cuda_stepdpo_f32(dres, dout, dout2, dx, dx, dx, dx, dx, dx, n, p, work, ws, NULL), "stepdpo_f32");
    PENDING(dpo_cuda_d3po_code_f32(dres, dout, dout2, dx, dx, dx, dx, dx, dx, n, 1, q, work, ws, NULL),
            "d3po_code_f32");
    PENDING(dpo_cuda_tailorpo_f32(dres, dout, dx, dx, dx, dx, n, p, work, ws, NULL), "tailorpo_f32");
    PENDING(dpo_cuda_rdpo_f32(dres, dout, dx, dx, dx, dx, n, rp, work, ws, NULL), "rdpo_f32");
    PENDING(dpo_cuda_diffdpo_f32(dres, dout, dout2, dx, dx, dx, dx, dx, dx, n, ep, work, ws, NULL), "diffdpo_f32");
    PENDING(dpo_cuda_dspo_f32(dres, dout, dout2, dx, dx, dx, dx, dx, dx, n, sp, work, ws, NULL), "dspo_f32");
    PENDING(dpo_cuda_tailorpo_g_update_f32(dout, dx, dx, NULL, n, gp, NULL), "tailorpo_g_update_f32");
    PENDING(dpo_cuda_adamw_step(dout, dm, dv, dx, n, &aw, 1, NULL), "adamw_step");
    CHECK(same_dev(dm, pat, n * 4) && same_dev(dv, pat, n * 4), "adamw_step: a moment was written");
    PENDING(dpo_cuda_matmul_strict(dout, dx, dx, 10, 5, 10, 0, 0, 0, NULL), "matmul_strict");
    // nothing pending: the same call runs
    CHECK(cudaPeekAtLastError() == cudaSuccess, "an error still pending");
    CHECK(dpo_cuda_normal_f32(dout, nc, 0, n, NULL) == DPO_OK && !same_dev(dout, pat, n * 4),
          "normal_f32 with no error pending");
    free(h), free(pat);
    dfree(dx), dfree(dout), dfree(dout2), dfree(dm), dfree(dv), dfree(dlp), dfree(dres), dfree(work);
}

static void test_device_describe(void)
{
    char buf[256], tiny[8];
    cudaDeviceProp p;
    memset(buf, 'x', sizeof buf);
    CHECK(dpo_cuda_device_describe(buf, sizeof buf) == DPO_OK, "describe: DPO_OK with a device");
    CHECK(cudaGetDeviceProperties(&p, 0) == cudaSuccess, "properties");
    CHECK(strncmp(buf, p.name, strlen(p.name)) == 0 && strstr(buf, "sm_") != NULL, "describe: '%s'", buf);
    printf("     device: %s\n", buf);
    memset(tiny, 'x', sizeof tiny);
    CHECK(dpo_cuda_device_describe(tiny, sizeof tiny) == DPO_OK && tiny[7] == 0 && strlen(tiny) == 7,
          "describe: truncated and terminated");
    CHECK(dpo_cuda_device_describe(NULL, 8) == DPO_ERR_NULL, "describe: NULL buffer");
    memset(tiny, 'x', sizeof tiny);
    CHECK(dpo_cuda_device_describe(tiny, 0) == DPO_ERR_SIZE && tiny[0] == 'x', "describe: size 0, untouched");
}

int main(void)
{
    int ndev = 0;
    const char *q = getenv("DPO_GPU_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("no CUDA device\n0 passed, 1 failed\n");
        return 1;
    }
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) != DPO_OK) {
        printf("schedule init failed\n0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_normals);
    RUN(test_normals_batch);
    RUN(test_step);
    RUN(test_reduce);
    RUN(test_losses);
    RUN(test_guide);
    RUN(test_adamw);
    RUN(test_rollout);
    RUN(test_bad_args);
    RUN(test_pending_error);
    RUN(test_device_describe);
    return chk_summary();
}
