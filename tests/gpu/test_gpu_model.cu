// GPU matrix products and the built-in epsilon-network (diffpo_cuda_model.h)
// against the CPU library:
//   strict products: every (ta, tb, accumulate) on odd and even shapes,
//     bitwise equal to dpo_matmul_f32;
//   fast products (cuBLASLt): run-to-run bitwise, a second plan pinned to
//     the first plan's recorded algorithm gives the same bits, the heuristic
//     repeats its choice, and the result is within the float32 bound of
//     diffpo_cuda_model.h of the CPU's;
//   the network: strict forward and backward (input, base and LoRA
//     gradients, accumulating) bitwise equal to dpo_mlp_forward /
//     dpo_mlp_backward on the built-in config and odd configs (no LoRA, no
//     class embedding, n smaller than the context's); fast mode run-to-run
//     bitwise and within 1e-4 normwise of the CPU;
//   bad arguments: status codes, outputs untouched;
//   pretraining on the device: strict gives dpo_pretrain_run's bits.
// With no CUDA device: "no CUDA device", 0 passed, 1 failed, exit 1.
// DPO_GPU_QUICK=1: small sizes (compute-sanitizer runs).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cuda_runtime.h>
#include <cublasLt.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "diffpo_cuda_model.h"
#include "check.h"

static int quick;

// ------------------------------------------------------------ helpers
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
// Uniform in [-1, 1) times 2^e, e in [-3, 3]: products whose double sums
// round differently from float sums.
static float rng_f(void)
{
    double u = (double)(rng_u64() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
    int e = (int)(rng_u64() % 7u) - 3;
    return (float)ldexp(u, e);
}
static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rng_f();
}

static float *dnew(size_t n)
{
    void *p = NULL;
    if (cudaMalloc(&p, n ? n * sizeof(float) : 4) != cudaSuccess)
        return NULL;
    return (float *)p;
}
static void *dnew_bytes(size_t n)
{
    void *p = NULL;
    if (cudaMalloc(&p, n ? n : 4) != cudaSuccess)
        return NULL;
    return p;
}
static float *dup(const float *h, size_t n)
{
    float *d = dnew(n);
    if (d && n)
        cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}
static int32_t *dup_i(const int32_t *h, size_t n)
{
    void *d = dnew_bytes(n * sizeof(int32_t));
    if (d)
        cudaMemcpy(d, h, n * sizeof(int32_t), cudaMemcpyHostToDevice);
    return (int32_t *)d;
}
static void put(float *d, const float *h, size_t n)
{
    cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
}
static void get(float *h, const float *d, size_t n)
{
    cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
}
static int sync_ok(void)
{
    return cudaDeviceSynchronize() == cudaSuccess;
}
static size_t count_diff(const float *a, const float *b, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)))
            c++;
    return c;
}

typedef struct mshape {
    size_t m, k, n;
} mshape;

static const mshape shapes_all[] = {{1, 1, 1},    {1, 7, 1},     {3, 5, 7},     {16, 16, 16}, {17, 33, 65},
                                    {31, 129, 47}, {64, 92, 128}, {1, 64, 128},  {128, 64, 92},
                                    {200, 300, 130}, {257, 1000, 33}};
static size_t n_shapes(void)
{
    return quick ? 6 : sizeof(shapes_all) / sizeof(shapes_all[0]);
}

// --------------------------------------------------- strict products
static void test_strict_matmul_bitwise(void)
{
    size_t total = 0, bad = 0;
    for (size_t s = 0; s < n_shapes(); s++) {
        const size_t m = shapes_all[s].m, k = shapes_all[s].k, n = shapes_all[s].n;
        float *A = (float *)malloc(m * k * 4), *B = (float *)malloc(k * n * 4), *C0 = (float *)malloc(m * n * 4);
        float *Cc = (float *)malloc(m * n * 4), *Cg = (float *)malloc(m * n * 4);
        fill(A, m * k);
        fill(B, k * n);
        fill(C0, m * n);
        float *dA = dup(A, m * k), *dB = dup(B, k * n), *dC = dnew(m * n);
        for (int v = 0; v < 8; v++) {
            const int ta = v & 1, tb = (v >> 1) & 1, acc = (v >> 2) & 1;
            memcpy(Cc, C0, m * n * 4);
            dpo_matmul_f32(Cc, A, B, m, k, n, ta, tb, acc);
            put(dC, C0, m * n);
            dpo_status st = dpo_cuda_matmul_strict(dC, dA, dB, m, k, n, ta, tb, acc, NULL);
            CHECK(st == DPO_OK, "status %d", (int)st);
            CHECK(sync_ok(), "sync");
            get(Cg, dC, m * n);
            size_t d = count_diff(Cc, Cg, m * n);
            CHECK(d == 0, "m=%zu k=%zu n=%zu ta=%d tb=%d acc=%d: %zu of %zu outputs differ", m, k, n, ta, tb, acc, d,
                  m * n);
            total += m * n;
            bad += d;
        }
        cudaFree(dA);
        cudaFree(dB);
        cudaFree(dC);
        free(A);
        free(B);
        free(C0);
        free(Cc);
        free(Cg);
    }
    printf("  strict: %zu outputs compared, %zu differ from dpo_matmul_f32\n", total, bad);
}

// k = 0: zeros, or C left as it was when accumulating (A, B may be NULL).
static void test_strict_matmul_k0(void)
{
    float C0[6] = {1.5f, -2.0f, 3.25f, 4.0f, -5.5f, 6.0f}, Cg[6];
    float *dC = dup(C0, 6);
    CHECK(dpo_cuda_matmul_strict(dC, NULL, NULL, 2, 0, 3, 0, 0, 1, NULL) == DPO_OK, "k0 acc");
    get(Cg, dC, 6);
    CHECK(!memcmp(Cg, C0, sizeof(C0)), "k=0 accumulate changed C");
    CHECK(dpo_cuda_matmul_strict(dC, NULL, NULL, 2, 0, 3, 1, 1, 0, NULL) == DPO_OK, "k0");
    get(Cg, dC, 6);
    for (int i = 0; i < 6; i++)
        CHECK(Cg[i] == 0.0f && !signbit(Cg[i]), "k=0 output %d = %g", i, (double)Cg[i]);
    cudaFree(dC);
}

// ----------------------------------------------------- fast products
// |fast - cpu| <= (k + 2) 2^-24 sum_p |a_ip b_pj| + 2^-24 |cpu| (+ |C0| term
// when accumulating, included in the sum).
static size_t fast_bound_violations(const float *Cf, const float *Cc, const float *A, const float *B,
                                    const float *C0, size_t m, size_t k, size_t n, int ta, int tb, int acc,
                                    double *worst)
{
    size_t bad = 0;
    const double u = ldexp(1.0, -24);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = acc ? fabs((double)C0[i * n + j]) : 0.0;
            for (size_t p = 0; p < k; p++) {
                double a = ta ? A[p * m + i] : A[i * k + p];
                double b = tb ? B[j * k + p] : B[p * n + j];
                s += fabs(a * b);
            }
            double bound = (double)(k + 2) * u * s + u * fabs((double)Cc[i * n + j]);
            double err = fabs((double)Cf[i * n + j] - (double)Cc[i * n + j]);
            if (bound > 0 && err / bound > *worst)
                *worst = err / bound;
            if (!(err <= bound))
                bad++;
        }
    return bad;
}

static void test_fast_matmul(void)
{
    const size_t ws = DPO_CUDA_MM_WORKSPACE_DEFAULT;
    void *dW = dnew_bytes(ws);
    double worst = 0.0;
    int printed = 0;
    for (size_t s = 0; s < n_shapes(); s++) {
        const size_t m = shapes_all[s].m, k = shapes_all[s].k, n = shapes_all[s].n;
        float *A = (float *)malloc(m * k * 4), *B = (float *)malloc(k * n * 4), *C0 = (float *)malloc(m * n * 4);
        float *Cc = (float *)malloc(m * n * 4), *G1 = (float *)malloc(m * n * 4), *G2 = (float *)malloc(m * n * 4);
        fill(A, m * k);
        fill(B, k * n);
        fill(C0, m * n);
        float *dA = dup(A, m * k), *dB = dup(B, k * n), *dC = dnew(m * n);
        for (int v = 0; v < 8; v++) {
            dpo_cuda_mm_shape sh;
            dpo_cuda_mm_plan *p1 = NULL, *p2 = NULL, *p3 = NULL;
            dpo_cuda_mm_algo a1, a2, a3;
            char desc[256];
            sh.m = m;
            sh.k = k;
            sh.n = n;
            sh.ta = v & 1;
            sh.tb = (v >> 1) & 1;
            sh.accumulate = (v >> 2) & 1;
            dpo_status st = dpo_cuda_mm_plan_create(&p1, &sh, ws, 0u, NULL);
            CHECK(st == DPO_OK && p1, "plan m=%zu k=%zu n=%zu v=%d: %d", m, k, n, v, (int)st);
            if (st)
                continue;
            CHECK(dpo_cuda_mm_plan_algo(&a1, p1) == DPO_OK, "algo");
            CHECK(dpo_cuda_mm_algo_describe(desc, sizeof(desc), &a1) == DPO_OK, "describe");
            CHECK(strstr(desc, "splitk=1 ") || strstr(desc, "splitk=0 "), "pinned algorithm splits K: %s", desc);
            CHECK(strstr(desc, "reduction=0 ") != NULL, "pinned algorithm reduces: %s", desc);
            if (printed < 4 || (s == n_shapes() - 1 && v == 0)) {
                printf("  plan m=%zu k=%zu n=%zu ta=%d tb=%d acc=%d: %s\n", m, k, n, sh.ta, sh.tb, sh.accumulate,
                       desc);
                printed++;
            }
            // run 1, run 2 (same plan), run 3 (plan pinned to the recorded algorithm)
            put(dC, C0, m * n);
            CHECK(dpo_cuda_matmul_fast(p1, dC, dA, dB, dW, ws, NULL) == DPO_OK, "fast 1");
            CHECK(sync_ok(), "sync");
            get(G1, dC, m * n);
            put(dC, C0, m * n);
            CHECK(dpo_cuda_matmul_fast(p1, dC, dA, dB, dW, ws, NULL) == DPO_OK, "fast 2");
            CHECK(sync_ok(), "sync");
            get(G2, dC, m * n);
            CHECK(count_diff(G1, G2, m * n) == 0, "m=%zu k=%zu n=%zu v=%d: run-to-run differs", m, k, n, v);
            st = dpo_cuda_mm_plan_create(&p2, &sh, ws, 0u, &a1);
            CHECK(st == DPO_OK, "pinned plan: %d", (int)st);
            if (!st) {
                CHECK(dpo_cuda_mm_plan_algo(&a2, p2) == DPO_OK && !memcmp(&a1, &a2, sizeof(a1)), "pin not kept");
                put(dC, C0, m * n);
                CHECK(dpo_cuda_matmul_fast(p2, dC, dA, dB, dW, ws, NULL) == DPO_OK, "fast pinned");
                CHECK(sync_ok(), "sync");
                get(G2, dC, m * n);
                CHECK(count_diff(G1, G2, m * n) == 0, "m=%zu k=%zu n=%zu v=%d: pinned plan differs", m, k, n, v);
            }
            st = dpo_cuda_mm_plan_create(&p3, &sh, ws, 0u, NULL);
            CHECK(st == DPO_OK && dpo_cuda_mm_plan_algo(&a3, p3) == DPO_OK, "second heuristic plan");
            CHECK(!st && dpo_cuda_mm_algo_hash(&a3) == dpo_cuda_mm_algo_hash(&a1), "heuristic chose differently");
            // against the CPU
            memcpy(Cc, C0, m * n * 4);
            dpo_matmul_f32(Cc, A, B, m, k, n, sh.ta, sh.tb, sh.accumulate);
            size_t bad = fast_bound_violations(G1, Cc, A, B, C0, m, k, n, sh.ta, sh.tb, sh.accumulate, &worst);
            CHECK(bad == 0, "m=%zu k=%zu n=%zu v=%d: %zu outputs outside the float32 bound", m, k, n, v, bad);
            dpo_cuda_mm_plan_destroy(p1);
            dpo_cuda_mm_plan_destroy(p2);
            dpo_cuda_mm_plan_destroy(p3);
        }
        // TF32: run-to-run only
        {
            dpo_cuda_mm_shape sh;
            dpo_cuda_mm_plan *p = NULL;
            sh.m = m;
            sh.k = k;
            sh.n = n;
            sh.ta = 0;
            sh.tb = 1;
            sh.accumulate = 0;
            if (dpo_cuda_mm_plan_create(&p, &sh, ws, DPO_CUDA_MM_TF32, NULL) == DPO_OK) {
                CHECK(dpo_cuda_matmul_fast(p, dC, dA, dB, dW, ws, NULL) == DPO_OK, "tf32 1");
                CHECK(sync_ok(), "sync");
                get(G1, dC, m * n);
                CHECK(dpo_cuda_matmul_fast(p, dC, dA, dB, dW, ws, NULL) == DPO_OK, "tf32 2");
                CHECK(sync_ok(), "sync");
                get(G2, dC, m * n);
                CHECK(count_diff(G1, G2, m * n) == 0, "tf32 run-to-run differs");
                dpo_cuda_mm_plan_destroy(p);
            } else {
                CHECK(0, "tf32 plan m=%zu k=%zu n=%zu", m, k, n);
            }
        }
        cudaFree(dA);
        cudaFree(dB);
        cudaFree(dC);
        free(A);
        free(B);
        free(C0);
        free(Cc);
        free(G1);
        free(G2);
    }
    cudaFree(dW);
    printf("  fast: worst |fast - cpu| / bound = %.3g\n", worst);
}

// ------------------------------------------------- bad arguments (products)
static void test_matmul_bad_args(void)
{
    const size_t m = 5, k = 6, n = 7, ws = 1 << 20;
    float A[30], B[42], S[35], G[35];
    fill(A, 30);
    fill(B, 42);
    for (int i = 0; i < 35; i++)
        S[i] = 12345.0f + (float)i; // sentinel
    float *dA = dup(A, 30), *dB = dup(B, 42), *dC = dup(S, 35);
    unsigned char *dW = (unsigned char *)dnew_bytes(ws + 512);
    CHECK(dpo_cuda_matmul_strict(NULL, dA, dB, m, k, n, 0, 0, 0, NULL) == DPO_ERR_NULL, "strict C NULL");
    CHECK(dpo_cuda_matmul_strict(dC, NULL, dB, m, k, n, 0, 0, 0, NULL) == DPO_ERR_NULL, "strict A NULL");
    CHECK(dpo_cuda_matmul_strict(dC, dA, dB, 0, k, n, 0, 0, 0, NULL) == DPO_ERR_SIZE, "strict m 0");
    CHECK(dpo_cuda_matmul_strict(dC, dA, dB, m, k, (size_t)1 << 31, 0, 0, 0, NULL) == DPO_ERR_SIZE, "strict n huge");
    CHECK(dpo_cuda_matmul_strict(dC, dC + 1, dB, m, k, n, 0, 0, 0, NULL) == DPO_ERR_ALIAS, "strict alias A");
    CHECK(dpo_cuda_matmul_strict(dC, dA, dC, m, k, n, 0, 0, 0, NULL) == DPO_ERR_ALIAS, "strict alias B");
    CHECK(dpo_cuda_matmul_strict((float *)((char *)dC + 2), dA, dB, m, k, n, 0, 0, 0, NULL) == DPO_ERR_RANGE,
          "strict misaligned");
    CHECK(sync_ok(), "sync");
    get(G, dC, 35);
    CHECK(!memcmp(G, S, sizeof(S)), "strict: output touched on error");

    dpo_cuda_mm_shape sh;
    dpo_cuda_mm_plan *p = NULL, *q = (dpo_cuda_mm_plan *)&sh;
    dpo_cuda_mm_algo al;
    char buf[256];
    sh.m = m;
    sh.k = k;
    sh.n = n;
    sh.ta = 0;
    sh.tb = 0;
    sh.accumulate = 0;
    CHECK(dpo_cuda_mm_plan_create(NULL, &sh, ws, 0, NULL) == DPO_ERR_NULL, "plan NULL");
    CHECK(dpo_cuda_mm_plan_create(&q, NULL, ws, 0, NULL) == DPO_ERR_NULL, "shape NULL");
    sh.k = 0;
    CHECK(dpo_cuda_mm_plan_create(&q, &sh, ws, 0, NULL) == DPO_ERR_SIZE, "k 0");
    sh.k = k;
    CHECK(dpo_cuda_mm_plan_create(&q, &sh, ws, 8u, NULL) == DPO_ERR_RANGE, "bad flags");
    CHECK(q == (dpo_cuda_mm_plan *)&sh, "plan pointer written on error");
    CHECK(dpo_cuda_mm_plan_create(&p, &sh, ws, 0, NULL) == DPO_OK, "plan");
    if (p) {
        size_t wsz = 0;
        dpo_cuda_mm_shape back;
        CHECK(dpo_cuda_mm_plan_shape(&back, &wsz, p) == DPO_OK && back.m == m && back.k == k && back.n == n &&
                  wsz == ws,
              "plan shape");
        CHECK(dpo_cuda_matmul_fast(NULL, dC, dA, dB, dW, ws, NULL) == DPO_ERR_NULL, "fast plan NULL");
        CHECK(dpo_cuda_matmul_fast(p, dC, NULL, dB, dW, ws, NULL) == DPO_ERR_NULL, "fast A NULL");
        CHECK(dpo_cuda_matmul_fast(p, dC, dA, dB, NULL, ws, NULL) == DPO_ERR_WORKSPACE, "fast ws NULL");
        CHECK(dpo_cuda_matmul_fast(p, dC, dA, dB, dW, ws - 1, NULL) == DPO_ERR_WORKSPACE, "fast ws small");
        CHECK(dpo_cuda_matmul_fast(p, dC, dA, dB, dW + 4, ws, NULL) == DPO_ERR_WORKSPACE, "fast ws misaligned");
        CHECK(dpo_cuda_matmul_fast(p, dC, dC + 3, dB, dW, ws, NULL) == DPO_ERR_ALIAS, "fast alias");
        CHECK(dpo_cuda_matmul_fast(p, (float *)dW, dA, dB, dW, ws, NULL) == DPO_ERR_ALIAS, "fast alias ws");
        CHECK(dpo_cuda_matmul_fast(p, (float *)((char *)dC + 1), dA, dB, dW, ws, NULL) == DPO_ERR_RANGE,
              "fast misaligned");
        CHECK(dpo_cuda_mm_plan_algo(&al, p) == DPO_OK, "algo");
        memset(buf, 'x', sizeof(buf));
        CHECK(dpo_cuda_mm_algo_describe(buf, 40, &al) == DPO_ERR_SIZE && buf[0] == 'x', "describe cap");
        CHECK(dpo_cuda_mm_algo_describe(NULL, 256, &al) == DPO_ERR_NULL, "describe NULL");
        dpo_cuda_mm_plan_destroy(p);
    }
    CHECK(sync_ok(), "sync");
    get(G, dC, 35);
    CHECK(!memcmp(G, S, sizeof(S)), "fast: output touched on error");
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
    cudaFree(dW);
}

// ----------------------------------------------------------- the network
typedef struct model_case {
    const char *name;
    dpo_mlp_cfg cfg;
} model_case;

static dpo_mlp_cfg cfg_odd(size_t dim, size_t hidden, size_t temb, size_t classes, size_t cemb, size_t rank,
                           double alpha)
{
    dpo_mlp_cfg c = dpo_mlp_cfg_default();
    c.dim = dim;
    c.hidden = hidden;
    c.temb = temb;
    c.n_classes = classes;
    c.cemb = cemb;
    c.lora_rank = rank;
    c.lora_alpha = alpha;
    return c;
}

// Host copies of one model instance and its inputs.
typedef struct minst {
    dpo_mlp_cfg cfg;
    size_t n, nb, nl, D;
    float *base, *lora, *x, *gout, *gx0, *gb0, *gl0;
    int32_t *t, *cls;
} minst;

static int minst_make(minst *M, const dpo_mlp_cfg *cfg, size_t n, uint64_t seed)
{
    memset(M, 0, sizeof(*M));
    M->cfg = *cfg;
    M->n = n;
    M->D = cfg->dim;
    M->nb = dpo_mlp_num_base(cfg);
    M->nl = dpo_mlp_num_lora(cfg);
    M->base = (float *)malloc(M->nb * 4);
    M->lora = (float *)malloc((M->nl ? M->nl : 1) * 4);
    M->x = (float *)malloc(n * M->D * 4);
    M->gout = (float *)malloc(n * M->D * 4);
    M->gx0 = (float *)malloc(n * M->D * 4);
    M->gb0 = (float *)malloc(M->nb * 4);
    M->gl0 = (float *)malloc((M->nl ? M->nl : 1) * 4);
    M->t = (int32_t *)malloc(n * 4);
    M->cls = (int32_t *)malloc(n * 4);
    if (dpo_mlp_init_base(M->base, cfg, seed) || dpo_mlp_init_lora(M->lora, cfg, seed + 1))
        return 0;
    // every parameter nonzero: biases and LoRA B get small random values
    for (size_t i = 0; i < M->nb; i++)
        M->base[i] += 0.05f * rng_f();
    for (size_t i = 0; i < M->nl; i++)
        M->lora[i] += 0.05f * rng_f();
    fill(M->x, n * M->D);
    fill(M->gout, n * M->D);
    fill(M->gx0, n * M->D);
    fill(M->gb0, M->nb);
    fill(M->gl0, M->nl);
    for (size_t i = 0; i < n; i++) {
        M->t[i] = (int32_t)(rng_u64() % (uint64_t)cfg->num_train_steps);
        M->cls[i] = (int32_t)(rng_u64() % cfg->n_classes);
    }
    return 1;
}

static void minst_free(minst *M)
{
    free(M->base);
    free(M->lora);
    free(M->x);
    free(M->gout);
    free(M->gx0);
    free(M->gb0);
    free(M->gl0);
    free(M->t);
    free(M->cls);
}

// CPU forward + backward of n samples (lora may be NULL): out, gx, gb, gl.
static int cpu_run(const minst *M, size_t n, int use_lora, float *out, float *gx, float *gb, float *gl)
{
    size_t ws = dpo_mlp_workspace_size(&M->cfg, n);
    void *w = malloc(ws);
    const float *lora = use_lora ? M->lora : NULL;
    memcpy(gx, M->gx0, n * M->D * 4);
    memcpy(gb, M->gb0, M->nb * 4);
    memcpy(gl, M->gl0, M->nl * 4);
    int ok = dpo_mlp_forward(out, &M->cfg, M->base, lora, M->x, M->t, M->cls, n, w, ws) == DPO_OK &&
             dpo_mlp_backward(gx, gb, use_lora ? gl : NULL, M->gout, &M->cfg, M->base, lora, n, w, ws) == DPO_OK;
    free(w);
    return ok;
}

// The same on the device through ctx.
typedef struct dinst {
    float *base, *lora, *x, *gout, *out, *gx, *gb, *gl;
    int32_t *t, *cls;
    void *work;
    size_t work_size;
} dinst;

static int dinst_make(dinst *d, const minst *M, const dpo_cuda_mlp *ctx)
{
    d->base = dup(M->base, M->nb);
    d->lora = dup(M->lora, M->nl ? M->nl : 1);
    d->x = dup(M->x, M->n * M->D);
    d->gout = dup(M->gout, M->n * M->D);
    d->out = dnew(M->n * M->D);
    d->gx = dnew(M->n * M->D);
    d->gb = dnew(M->nb);
    d->gl = dnew(M->nl ? M->nl : 1);
    d->t = dup_i(M->t, M->n);
    d->cls = dup_i(M->cls, M->n);
    d->work_size = dpo_cuda_mlp_workspace_size(ctx);
    d->work = dnew_bytes(d->work_size);
    return d->base && d->lora && d->x && d->gout && d->out && d->gx && d->gb && d->gl && d->t && d->cls && d->work;
}

static void dinst_free(dinst *d)
{
    cudaFree(d->base);
    cudaFree(d->lora);
    cudaFree(d->x);
    cudaFree(d->gout);
    cudaFree(d->out);
    cudaFree(d->gx);
    cudaFree(d->gb);
    cudaFree(d->gl);
    cudaFree(d->t);
    cudaFree(d->cls);
    cudaFree(d->work);
}

static int gpu_run(dpo_cuda_mlp *ctx, dinst *d, const minst *M, size_t n, int use_lora, float *out, float *gx,
                   float *gb, float *gl)
{
    const float *lora = use_lora ? d->lora : NULL;
    put(d->gx, M->gx0, n * M->D);
    put(d->gb, M->gb0, M->nb);
    if (M->nl)
        put(d->gl, M->gl0, M->nl);
    dpo_status s1 =
        dpo_cuda_mlp_forward(ctx, d->out, d->work, d->work_size, d->base, lora, d->x, d->t, d->cls, n, NULL);
    dpo_status s2 = s1 ? s1
                       : dpo_cuda_mlp_backward(ctx, d->gx, d->gb, use_lora ? d->gl : NULL, d->gout, d->work,
                                             d->work_size, d->base, lora, n, NULL);
    CHECK(s1 == DPO_OK && s2 == DPO_OK, "device forward %d backward %d", (int)s1, (int)s2);
    if (!sync_ok())
        return 0;
    get(out, d->out, n * M->D);
    get(gx, d->gx, n * M->D);
    get(gb, d->gb, M->nb);
    if (M->nl)
        get(gl, d->gl, M->nl);
    return s1 == DPO_OK && s2 == DPO_OK;
}

static double rel_norm_diff(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static model_case model_cases[5];
static size_t n_model_cases(void)
{
    model_cases[0].name = "built-in";
    model_cases[0].cfg = dpo_mlp_cfg_default();
    model_cases[1].name = "odd";
    model_cases[1].cfg = cfg_odd(5, 7, 4, 3, 3, 2, 3.0);
    model_cases[2].name = "no-lora";
    model_cases[2].cfg = cfg_odd(13, 19, 6, 2, 5, 0, 1.0);
    model_cases[3].name = "no-cemb";
    model_cases[3].cfg = cfg_odd(9, 11, 2, 2, 0, 1, 0.5);
    model_cases[4].name = "temb0-wide";
    model_cases[4].cfg = cfg_odd(3, 150, 0, 5, 2, 7, 2.0);
    return 5;
}

// A pinned algorithm must serve every 4-byte aligned float pointer.  Ask
// cuBLASLt's heuristic with its default preference (no alignment promise:
// it may pick a kernel that needs 16-byte operands) for the layouts a plan
// of shape 64 x 64 x 64 builds; when that algorithm needs more than 4 bytes,
// pinning it must be refused at plan time (cublasLtMatmulAlgoCheck alone
// accepts it, and cublasLtMatmul would fail on an odd float offset).
static void test_fast_pin_alignment(void)
{
    const uint64_t s = 64;
    cublasLtHandle_t h = NULL;
    cublasLtMatmulDesc_t d = NULL;
    cublasLtMatrixLayout_t l = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    cublasOperation_t op = CUBLAS_OP_N;
    uint64_t ws = DPO_CUDA_MM_WORKSPACE_DEFAULT;
    int found = 0;
    memset(&res, 0, sizeof(res));
    CHECK(cublasLtCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasLtCreate");
    CHECK(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS, "desc");
    CHECK(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &op, sizeof(op)) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &op, sizeof(op)) ==
                  CUBLAS_STATUS_SUCCESS,
          "transposes");
    CHECK(cublasLtMatrixLayoutCreate(&l, CUDA_R_32F, s, s, (int64_t)s) == CUBLAS_STATUS_SUCCESS, "layout");
    CHECK(cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                   sizeof(ws)) == CUBLAS_STATUS_SUCCESS,
          "preference");
    if (h && d && l && pref &&
        cublasLtMatmulAlgoGetHeuristic(h, d, l, l, l, l, pref, 1, &res, &found) == CUBLAS_STATUS_SUCCESS &&
        found >= 1) {
        const cublasLtMatmulAlgoCapAttributes_t caps[4] = {
            CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES,
            CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES};
        uint32_t most = 0;
        for (int i = 0; i < 4; i++) {
            uint32_t v = 0;
            size_t wr = 0;
            CHECK(cublasLtMatmulAlgoCapGetAttribute(&res.algo, caps[i], &v, sizeof(v), &wr) ==
                      CUBLAS_STATUS_SUCCESS,
                  "alignment capability %d", i);
            most = v > most ? v : most;
        }
        dpo_cuda_mm_shape sh;
        dpo_cuda_mm_algo pin;
        dpo_cuda_mm_plan *p = NULL;
        sh.m = sh.k = sh.n = (size_t)s;
        sh.ta = sh.tb = sh.accumulate = 0;
        memcpy(pin.data, &res.algo, sizeof(pin.data));
        dpo_status st = dpo_cuda_mm_plan_create(&p, &sh, (size_t)ws, 0, &pin);
        printf("     default-preference algorithm: minimum alignment %u bytes, pinned plan status %d\n", most,
               (int)st);
        if (most > 4)
            CHECK(st == DPO_ERR_UNSUPPORTED && p == NULL, "a 16-byte algorithm pinned (status %d)", (int)st);
        else
            CHECK(st == DPO_OK, "a 4-byte algorithm refused (status %d)", (int)st);
        if (p)
            dpo_cuda_mm_plan_destroy(p);
    } else {
        CHECK(0, "no heuristic answer with the default preference");
    }
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (l)
        cublasLtMatrixLayoutDestroy(l);
    if (d)
        cublasLtMatmulDescDestroy(d);
    if (h)
        cublasLtDestroy(h);
}

static void test_model_strict_bitwise(void)
{
    const size_t ns[3] = {1, 7, 64};
    const size_t nn = quick ? 2 : 3;
    for (size_t c = 0; c < n_model_cases(); c++) {
        const dpo_mlp_cfg *cfg = &model_cases[c].cfg;
        for (size_t q = 0; q < nn; q++) {
            const size_t n = ns[q];
            minst M;
            dinst d;
            dpo_cuda_mlp *ctx = NULL;
            CHECK(minst_make(&M, cfg, n, 11 + c), "init");
            // context for more samples than used: strict accepts any n <= its n
            CHECK(dpo_cuda_mlp_create(&ctx, cfg, n + 3, DPO_CUDA_MM_STRICT, 0) == DPO_OK && ctx, "create");
            if (!ctx) {
                minst_free(&M);
                continue;
            }
            CHECK(dpo_cuda_mlp_num_plans(ctx) == 0, "strict has plans");
            CHECK(dinst_make(&d, &M, ctx), "device alloc");
            size_t D = M.D;
            float *o1 = (float *)malloc(n * D * 4), *x1 = (float *)malloc(n * D * 4), *b1 = (float *)malloc(M.nb * 4);
            float *l1 = (float *)malloc((M.nl ? M.nl : 1) * 4), *o2 = (float *)malloc(n * D * 4);
            float *x2 = (float *)malloc(n * D * 4), *b2 = (float *)malloc(M.nb * 4);
            float *l2 = (float *)malloc((M.nl ? M.nl : 1) * 4);
            for (int use_lora = 0; use_lora < 2; use_lora++) {
                CHECK(cpu_run(&M, n, use_lora, o1, x1, b1, l1), "cpu run");
                if (!gpu_run(ctx, &d, &M, n, use_lora, o2, x2, b2, l2))
                    continue;
                size_t e1 = count_diff(o1, o2, n * D), e2 = count_diff(x1, x2, n * D), e3 = count_diff(b1, b2, M.nb);
                size_t e4 = use_lora ? count_diff(l1, l2, M.nl) : 0;
                CHECK(e1 + e2 + e3 + e4 == 0,
                      "%s n=%zu lora=%d: differing out %zu/%zu, g_x %zu/%zu, g_base %zu/%zu, g_lora %zu/%zu",
                      model_cases[c].name, n, use_lora, e1, n * D, e2, n * D, e3, M.nb, e4, M.nl);
            }
            free(o1);
            free(x1);
            free(b1);
            free(l1);
            free(o2);
            free(x2);
            free(b2);
            free(l2);
            dinst_free(&d);
            dpo_cuda_mlp_destroy(ctx);
            minst_free(&M);
        }
    }
}

static void test_model_fast(void)
{
    const size_t ns[2] = {7, 64};
    double worst = 0.0;
    for (size_t c = 0; c < n_model_cases(); c++) {
        const dpo_mlp_cfg *cfg = &model_cases[c].cfg;
        for (size_t q = 0; q < (quick ? 1u : 2u); q++) {
            const size_t n = ns[q];
            minst M;
            dinst d;
            dpo_cuda_mlp *ctx = NULL, *ctx2 = NULL;
            CHECK(minst_make(&M, cfg, n, 21 + c), "init");
            dpo_status st = dpo_cuda_mlp_create(&ctx, cfg, n, DPO_CUDA_MM_FAST, 0);
            CHECK(st == DPO_OK && ctx, "create fast: %d", (int)st);
            if (!ctx) {
                minst_free(&M);
                continue;
            }
            CHECK(dinst_make(&d, &M, ctx), "device alloc");
            size_t np = dpo_cuda_mlp_num_plans(ctx);
            CHECK(np > 0, "no plans");
            // the recorded algorithms are reproduced by a second context
            CHECK(dpo_cuda_mlp_create(&ctx2, cfg, n, DPO_CUDA_MM_FAST, 0) == DPO_OK, "create fast 2");
            for (size_t i = 0; ctx2 && i < np; i++) {
                dpo_cuda_mm_shape s1, s2;
                dpo_cuda_mm_algo a1, a2;
                char desc[256];
                CHECK(dpo_cuda_mlp_plan_info(&s1, &a1, ctx, i) == DPO_OK, "info");
                CHECK(dpo_cuda_mlp_plan_info(&s2, &a2, ctx2, i) == DPO_OK, "info 2");
                CHECK(!memcmp(&s1, &s2, sizeof(s1)) && !memcmp(&a1, &a2, sizeof(a1)), "plan %zu differs", i);
                if (c == 0 && q == 0 && dpo_cuda_mm_algo_describe(desc, sizeof(desc), &a1) == DPO_OK)
                    printf("  built-in n=%zu plan %zu: m=%zu k=%zu n=%zu ta=%d tb=%d acc=%d %s\n", n, i, s1.m, s1.k,
                           s1.n, s1.ta, s1.tb, s1.accumulate, desc);
            }
            CHECK(dpo_cuda_mlp_plan_info(NULL, NULL, ctx, 0) == DPO_ERR_NULL, "info NULL");
            CHECK(dpo_cuda_mlp_plan_info(NULL, NULL, ctx, 0) == DPO_ERR_NULL, "info NULL");
            {
                dpo_cuda_mm_algo a;
                CHECK(dpo_cuda_mlp_plan_info(NULL, &a, ctx, np) == DPO_ERR_RANGE, "info range");
            }
            dpo_cuda_mlp_destroy(ctx2);
            size_t D = M.D, nl = M.nl ? M.nl : 1;
            float *o1 = (float *)malloc(n * D * 4), *x1 = (float *)malloc(n * D * 4), *b1 = (float *)malloc(M.nb * 4);
            float *l1 = (float *)malloc(nl * 4), *o2 = (float *)malloc(n * D * 4), *x2 = (float *)malloc(n * D * 4);
            float *b2 = (float *)malloc(M.nb * 4), *l2 = (float *)malloc(nl * 4), *o3 = (float *)malloc(n * D * 4);
            float *x3 = (float *)malloc(n * D * 4), *b3 = (float *)malloc(M.nb * 4), *l3 = (float *)malloc(nl * 4);
            for (int use_lora = 0; use_lora < 2; use_lora++) {
                CHECK(cpu_run(&M, n, use_lora, o1, x1, b1, l1), "cpu");
                if (!gpu_run(ctx, &d, &M, n, use_lora, o2, x2, b2, l2) ||
                    !gpu_run(ctx, &d, &M, n, use_lora, o3, x3, b3, l3))
                    continue;
                CHECK(count_diff(o2, o3, n * D) == 0 && count_diff(x2, x3, n * D) == 0 &&
                          count_diff(b2, b3, M.nb) == 0 && (!use_lora || count_diff(l2, l3, M.nl) == 0),
                      "%s n=%zu lora=%d: fast mode not run-to-run identical", model_cases[c].name, n, use_lora);
                double r[4] = {rel_norm_diff(o2, o1, n * D), rel_norm_diff(x2, x1, n * D),
                               rel_norm_diff(b2, b1, M.nb), use_lora ? rel_norm_diff(l2, l1, M.nl) : 0.0};
                for (int k = 0; k < 4; k++) {
                    CHECK(r[k] <= 1e-4, "%s n=%zu lora=%d: output %d relative difference %.3g > 1e-4",
                          model_cases[c].name, n, use_lora, k, r[k]);
                    if (r[k] > worst)
                        worst = r[k];
                }
            }
            free(o1);
            free(x1);
            free(b1);
            free(l1);
            free(o2);
            free(x2);
            free(b2);
            free(l2);
            free(o3);
            free(x3);
            free(b3);
            free(l3);
            dinst_free(&d);
            dpo_cuda_mlp_destroy(ctx);
            minst_free(&M);
        }
    }
    printf("  fast network: worst normwise relative difference from the CPU %.3g\n", worst);
}

static void test_model_bad_args(void)
{
    const dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    const size_t n = 4;
    minst M;
    dinst d;
    dpo_cuda_mlp *ctx = NULL, *fast = NULL, *keep;
    CHECK(minst_make(&M, &cfg, n, 5), "init");
    {
        dpo_mlp_cfg bad = cfg;
        bad.temb = 3;
        keep = (dpo_cuda_mlp *)&M;
        CHECK(dpo_cuda_mlp_create(&keep, &bad, n, DPO_CUDA_MM_STRICT, 0) == DPO_ERR_SIZE, "bad cfg");
        CHECK(dpo_cuda_mlp_create(&keep, &cfg, 0, DPO_CUDA_MM_STRICT, 0) == DPO_ERR_SIZE, "n 0");
        CHECK(dpo_cuda_mlp_create(&keep, &cfg, n, (dpo_cuda_mm_mode)2, 0) == DPO_ERR_RANGE, "bad mode");
        CHECK(dpo_cuda_mlp_create(&keep, &cfg, n, DPO_CUDA_MM_STRICT, DPO_CUDA_MM_TF32) == DPO_ERR_RANGE,
              "tf32 strict");
        CHECK(dpo_cuda_mlp_create(&keep, NULL, n, DPO_CUDA_MM_STRICT, 0) == DPO_ERR_NULL, "cfg NULL");
        CHECK(keep == (dpo_cuda_mlp *)&M, "ctx written on error");
    }
    CHECK(dpo_cuda_mlp_create(&ctx, &cfg, n, DPO_CUDA_MM_STRICT, 0) == DPO_OK, "create");
    CHECK(dpo_cuda_mlp_create(&fast, &cfg, n, DPO_CUDA_MM_FAST, 0) == DPO_OK, "create fast");
    if (!ctx || !fast || !dinst_make(&d, &M, ctx)) {
        CHECK(0, "setup");
        dpo_cuda_mlp_destroy(ctx);
        dpo_cuda_mlp_destroy(fast);
        minst_free(&M);
        return;
    }
    const size_t D = M.D;
    float *sent = (float *)malloc(n * D * 4), *got = (float *)malloc(n * D * 4);
    for (size_t i = 0; i < n * D; i++)
        sent[i] = -777.0f;
    put(d.out, sent, n * D);
    put(d.gx, sent, n * D);
    // the backward before any forward
    CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, d.gout, d.work, d.work_size, d.base, NULL, n, NULL) ==
              DPO_ERR_WORKSPACE,
          "backward before forward");
    CHECK(dpo_cuda_mlp_forward(NULL, d.out, d.work, d.work_size, d.base, NULL, d.x, d.t, d.cls, n, NULL) ==
              DPO_ERR_NULL,
          "ctx NULL");
    CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.x, NULL, d.cls, n, NULL) ==
              DPO_ERR_NULL,
          "t NULL");
    CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.x, d.t, d.cls, n + 1, NULL) ==
              DPO_ERR_SIZE,
          "n > ctx n");
    CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size - 1, d.base, NULL, d.x, d.t, d.cls, n, NULL) ==
              DPO_ERR_WORKSPACE,
          "work small");
    CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.out, d.t, d.cls, n, NULL) ==
              DPO_ERR_ALIAS,
          "out = x");
    CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, (const float *)d.work, d.t, d.cls, n,
                             NULL) == DPO_ERR_ALIAS,
          "x in work");
    {
        // fast mode: exactly the context's n; its work buffer has the cuBLASLt part
        size_t wf = dpo_cuda_mlp_workspace_size(fast);
        void *dwf = dnew_bytes(wf);
        CHECK(wf > d.work_size, "fast work %zu <= strict %zu", wf, d.work_size);
        CHECK(dpo_cuda_mlp_forward(fast, d.out, dwf, wf, d.base, NULL, d.x, d.t, d.cls, n - 1, NULL) == DPO_ERR_SIZE,
              "fast n != ctx n");
        cudaFree(dwf);
    }
    // device-side checks: t out of range, class out of range, NaN in x
    {
        int32_t *bad_t = (int32_t *)malloc(n * 4);
        memcpy(bad_t, M.t, n * 4);
        bad_t[n - 1] = cfg.num_train_steps;
        int32_t *dbt = dup_i(bad_t, n);
        CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.x, dbt, d.cls, n, NULL) ==
                  DPO_ERR_RANGE,
              "t out of range");
        memcpy(bad_t, M.cls, n * 4);
        bad_t[0] = -1;
        cudaMemcpy(dbt, bad_t, n * 4, cudaMemcpyHostToDevice);
        CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.x, d.t, dbt, n, NULL) ==
                  DPO_ERR_RANGE,
              "class out of range");
        cudaFree(dbt);
        free(bad_t);
        float *xb = (float *)malloc(n * D * 4);
        memcpy(xb, M.x, n * D * 4);
        xb[n * D / 2] = NAN;
        float *dxb = dup(xb, n * D);
        CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, dxb, d.t, d.cls, n, NULL) ==
                  DPO_ERR_NONFINITE,
              "NaN x");
        xb[n * D / 2] = INFINITY;
        put(dxb, xb, n * D);
        CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, dxb, d.t, d.cls, n, NULL) ==
                  DPO_ERR_NONFINITE,
              "inf x");
        CHECK(sync_ok(), "sync");
        get(got, d.out, n * D);
        CHECK(!memcmp(got, sent, n * D * 4), "forward: output touched on error");
        // a good forward (no LoRA), then backward errors
        CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, NULL, d.x, d.t, d.cls, n, NULL) == DPO_OK,
              "forward");
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, d.gout, d.work, d.work_size, d.base, d.lora, n, NULL) ==
                  DPO_ERR_RANGE,
              "backward with LoRA after a forward without");
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, d.gl, d.gout, d.work, d.work_size, d.base, NULL, n, NULL) ==
                  DPO_ERR_NULL,
              "g_lora without lora");
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, d.gout, d.work, d.work_size, d.base, NULL, n - 1, NULL) ==
                  DPO_ERR_WORKSPACE,
              "backward n != forward n");
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, d.gx, d.work, d.work_size, d.base, NULL, n, NULL) ==
                  DPO_ERR_ALIAS,
              "g_x = g_out");
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, dxb, d.work, d.work_size, d.base, NULL, n, NULL) ==
                  DPO_ERR_NONFINITE,
              "inf g_out");
        CHECK(sync_ok(), "sync");
        get(got, d.gx, n * D);
        CHECK(!memcmp(got, sent, n * D * 4), "backward: g_x touched on error");
        // and the good backward still works on the same forward
        CHECK(dpo_cuda_mlp_backward(ctx, d.gx, NULL, NULL, d.gout, d.work, d.work_size, d.base, NULL, n, NULL) ==
                  DPO_OK,
              "backward");
        CHECK(sync_ok(), "sync");
        cudaFree(dxb);
        free(xb);
    }
    free(sent);
    free(got);
    dinst_free(&d);
    dpo_cuda_mlp_destroy(ctx);
    dpo_cuda_mlp_destroy(fast);
    minst_free(&M);
}

// A short pretraining run with the network on the device: strict mode gives
// dpo_pretrain_run's state and losses bit for bit (also when split into two
// calls); fast mode repeats its own bits.
static void test_pretrain_device(void)
{
    static dpo_schedule sched;
    const dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    const size_t batch = quick ? 4 : 16;
    const uint64_t iters = quick ? 3 : 12, split = iters / 2, seed = 77;
    const dpo_adamw opt = dpo_adamw_default(2e-3);
    const size_t nb = dpo_mlp_num_base(&cfg);
    CHECK(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) == DPO_OK, "schedule");
    float *base0 = (float *)malloc(nb * 4), *bc = (float *)malloc(nb * 4), *mc = (float *)calloc(nb, 4);
    float *vc = (float *)calloc(nb, 4), *bg = (float *)malloc(nb * 4), *mg = (float *)malloc(nb * 4);
    float *vg = (float *)malloc(nb * 4), *zero = (float *)calloc(nb, 4);
    double *lc = (double *)malloc(iters * 8), *lg = (double *)malloc(iters * 8);
    CHECK(dpo_mlp_init_base(base0, &cfg, seed) == DPO_OK, "init");
    memcpy(bc, base0, nb * 4);
    {
        size_t ws = dpo_pretrain_workspace_size(&cfg, batch);
        void *w = malloc(ws);
        CHECK(dpo_pretrain_run(bc, mc, vc, lc, &cfg, &sched, seed, 0, iters, batch, &opt, w, ws) == DPO_OK, "cpu");
        free(w);
    }
    for (int mode = 0; mode < 2; mode++) {
        float *res[2][3];
        for (int rep = 0; rep < 2; rep++) {
            dpo_cuda_mlp *ctx = NULL;
            dpo_status st = dpo_cuda_mlp_create(&ctx, &cfg, batch, (dpo_cuda_mm_mode)mode, 0);
            CHECK(st == DPO_OK, "create %d", (int)st);
            res[rep][0] = (float *)malloc(nb * 4);
            res[rep][1] = (float *)malloc(nb * 4);
            res[rep][2] = (float *)malloc(nb * 4);
            if (st)
                continue;
            size_t ws = dpo_cuda_pretrain_workspace_size(ctx), hs = dpo_cuda_pretrain_host_size(ctx);
            void *dw = dnew_bytes(ws), *hw = malloc(hs);
            float *db = dup(base0, nb), *dm = dup(zero, nb), *dv = dup(zero, nb);
            memset(lg, 0, iters * 8);
            st = dpo_cuda_pretrain_run(ctx, db, dm, dv, lg, &sched, seed, 0, split, &opt, dw, ws, hw, hs, NULL);
            CHECK(st == DPO_OK, "device run 1: %d", (int)st);
            st = dpo_cuda_pretrain_run(ctx, db, dm, dv, lg + split, &sched, seed, split, iters, &opt, dw, ws, hw, hs,
                                     NULL);
            CHECK(st == DPO_OK, "device run 2: %d", (int)st);
            CHECK(sync_ok(), "sync");
            get(res[rep][0], db, nb);
            get(res[rep][1], dm, nb);
            get(res[rep][2], dv, nb);
            if (mode == 0) {
                size_t e1 = count_diff(res[rep][0], bc, nb), e2 = count_diff(res[rep][1], mc, nb);
                size_t e3 = count_diff(res[rep][2], vc, nb);
                CHECK(e1 + e2 + e3 == 0, "strict pretraining: base %zu, m %zu, v %zu of %zu differ from the CPU", e1,
                      e2, e3, nb);
                CHECK(!memcmp(lg, lc, iters * 8), "strict pretraining: losses differ from the CPU");
                if (rep == 0)
                    printf("  pretrain %llu iterations batch %zu: loss %.6f -> %.6f, CPU and device strict agree: %s\n",
                           (unsigned long long)iters, batch, lc[0], lc[iters - 1],
                           e1 + e2 + e3 == 0 ? "yes" : "no");
            } else if (rep == 0) {
                printf("  pretrain fast: final loss %.6f (CPU %.6f)\n", lg[iters - 1], lc[iters - 1]);
            }
            // bad arguments: state untouched
            if (rep == 0) {
                dpo_schedule other = sched;
                other.num_train_steps = 999;
                CHECK(dpo_cuda_pretrain_run(ctx, db, dm, dv, NULL, &other, seed, 0, 1, &opt, dw, ws, hw, hs, NULL) ==
                          DPO_ERR_RANGE,
                      "schedule mismatch");
                CHECK(dpo_cuda_pretrain_run(ctx, db, dm, dv, NULL, &sched, seed, 0, 1, &opt, dw, ws - 1, hw, hs, NULL) ==
                          DPO_ERR_WORKSPACE,
                      "work small");
                CHECK(dpo_cuda_pretrain_run(ctx, db, db, dv, NULL, &sched, seed, 0, 1, &opt, dw, ws, hw, hs, NULL) ==
                          DPO_ERR_ALIAS,
                      "base = m");
                CHECK(dpo_cuda_pretrain_run(ctx, db, dm, dv, NULL, &sched, seed, 2, 1, &opt, dw, ws, hw, hs, NULL) ==
                          DPO_ERR_RANGE,
                      "it_begin > it_end");
                float *bad = (float *)malloc(nb * 4);
                memcpy(bad, zero, nb * 4);
                bad[nb / 3] = NAN;
                float *dbad = dup(bad, nb);
                CHECK(dpo_cuda_pretrain_run(ctx, db, dbad, dv, NULL, &sched, seed, 0, 1, &opt, dw, ws, hw, hs, NULL) ==
                          DPO_ERR_NONFINITE,
                      "NaN in m");
                get(bad, db, nb);
                CHECK(!memcmp(bad, res[rep][0], nb * 4), "base changed by a refused call");
                cudaFree(dbad);
                free(bad);
            }
            cudaFree(db);
            cudaFree(dm);
            cudaFree(dv);
            cudaFree(dw);
            free(hw);
            dpo_cuda_mlp_destroy(ctx);
        }
        CHECK(count_diff(res[0][0], res[1][0], nb) == 0 && count_diff(res[0][1], res[1][1], nb) == 0 &&
                  count_diff(res[0][2], res[1][2], nb) == 0,
              "%s pretraining not run-to-run identical", mode ? "fast" : "strict");
        for (int rep = 0; rep < 2; rep++)
            for (int k = 0; k < 3; k++)
                free(res[rep][k]);
    }
    free(base0);
    free(bc);
    free(mc);
    free(vc);
    free(bg);
    free(mg);
    free(vg);
    free(zero);
    free(lc);
    free(lg);
}

// Informative timings (not a test): strict vs fast forward+backward of the
// built-in network, n = 256.
static void test_model_timing(void)
{
    const dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    const size_t n = quick ? 16 : 256;
    const int reps = quick ? 2 : 50;
    minst M;
    CHECK(minst_make(&M, &cfg, n, 3), "init");
    for (int mode = 0; mode < 2; mode++) {
        dpo_cuda_mlp *ctx = NULL;
        dinst d;
        cudaEvent_t e0, e1;
        float ms = 0.0f;
        if (dpo_cuda_mlp_create(&ctx, &cfg, n, (dpo_cuda_mm_mode)mode, 0) != DPO_OK || !dinst_make(&d, &M, ctx)) {
            CHECK(0, "setup");
            dpo_cuda_mlp_destroy(ctx);
            continue;
        }
        cudaEventCreate(&e0);
        cudaEventCreate(&e1);
        cudaEventRecord(e0, NULL);
        for (int r = 0; r < reps; r++) {
            CHECK(dpo_cuda_mlp_forward(ctx, d.out, d.work, d.work_size, d.base, d.lora, d.x, d.t, d.cls, n, NULL) ==
                      DPO_OK,
                  "fwd");
            CHECK(dpo_cuda_mlp_backward(ctx, d.gx, d.gb, d.gl, d.gout, d.work, d.work_size, d.base, d.lora, n, NULL) ==
                      DPO_OK,
                  "bwd");
        }
        cudaEventRecord(e1, NULL);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
        printf("  timing: %s forward+backward, built-in network, n=%zu: %.1f us per iteration (%d reps)\n",
               mode ? "fast" : "strict", n, 1000.0 * ms / reps, reps);
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        dinst_free(&d);
        dpo_cuda_mlp_destroy(ctx);
    }
    minst_free(&M);
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
    RUN(test_strict_matmul_bitwise);
    RUN(test_strict_matmul_k0);
    RUN(test_fast_matmul);
    RUN(test_matmul_bad_args);
    RUN(test_fast_pin_alignment);
    RUN(test_model_strict_bitwise);
    RUN(test_model_fast);
    RUN(test_model_bad_args);
    RUN(test_pretrain_device);
    RUN(test_model_timing);
    return chk_summary();
}
