// The built-in epsilon-network on the device (diffpo_cuda_model.h).
//
// The same sequence of operations as src/model/mlp.c, step for step: element-wise
// kernels call the functions of src/core/dpo_mlp.h that the CPU loops call,
// and every matrix product is a dpo_matmul_f32 call of src/model/mlp.c with the
// same operands, shape and flags, sent to dpo_cuda_matmul_strict (the CPU's
// bits) or to a pinned cuBLASLt plan (fast mode).  Layouts of the base and
// LoRA arrays: docs/model.md; the offsets are dpo_mlp_layout_make's
// (src/core/dpo_rules_model.h), the function src/model/mlp.c uses.
#include <stdlib.h>
#include <string.h>
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda_model.h"
#include "../src/internal.h"
#include "../src/core/dpo_mlp.h"
#include "../src/core/dpo_philox.h"
#include "../src/core/dpo_reduce.h"
#include "../src/core/dpo_rules_model.h"

#define CM_MAX_N ((size_t)1 << 24)
#define CM_MAX_PLANS 32
#define CM_THREADS 256u
#define A256(x) (((x) + 255u) & ~(size_t)255u)

// Verdict bits of the device-side input check.
#define CM_BAD_RANGE 1u
#define CM_BAD_NONFINITE 2u

typedef dpo_mlp_layer_layout cm_layer;

struct dpo_cuda_mlp {
    dpo_mlp_cfg cfg;
    size_t n;
    dpo_cuda_mm_mode mode;
    unsigned flags;
    dpo_mlp_layout N; // the parameter layout, src/core/dpo_rules_model.h (src/model/mlp.c's)
    size_t wide;
    // device work layout (byte offsets)
    size_t o_flag, o_cls, o_ones, o_x0, o_z0, o_a0, o_z1, o_a1, o_u[3], o_gp, o_gq, o_gu, o_blas, blas_size, total;
    size_t nplans;
    dpo_cuda_mm_shape shp[CM_MAX_PLANS];
    dpo_cuda_mm_plan *plan[CM_MAX_PLANS];
    // the last successful forward, for the backward's checks
    const void *fwd_work;
    size_t fwd_n;
    int fwd_lora;
};

// ------------------------------------------------------------- kernels
__global__ void cm_k_check(unsigned *flag, const float *v, size_t nv, const int32_t *t, const int32_t *cls, size_t n,
                           int steps, size_t K)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    unsigned bad = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += stride) {
        if (!dpo_pm_isfinitef(v[i]))
            bad |= CM_BAD_NONFINITE;
        if (t && i < n && (t[i] < 0 || t[i] >= steps || cls[i] < 0 || (size_t)cls[i] >= K))
            bad |= CM_BAD_RANGE;
    }
    if (bad)
        atomicOr(flag, bad); // integer OR: order-independent
}

__global__ void cm_k_input(float *x0, float *ones, int32_t *wcls, const float *x, const int32_t *t,
                           const int32_t *cls, const float *cemb, size_t n, size_t D, size_t T, size_t E)
{
    const size_t in0 = D + T + E, total = n * in0, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t i = e / in0, j = e % in0;
        x0[e] = dpo_mlp_input_f32(x + i * D, t[i], cemb + (size_t)cls[i] * E, j, D, T);
        if (j == 0) {
            ones[i] = 1.0f;
            wcls[i] = cls[i];
        }
    }
}

__global__ void cm_k_bias(float *Y, const float *b, size_t n, size_t out)
{
    const size_t total = n * out, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride)
        Y[e] = b[e % out];
}

__global__ void cm_k_scale(float *u, size_t count, double scale)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += stride)
        u[e] = dpo_lora_scale_f32(u[e], scale);
}

__global__ void cm_k_silu(float *a, const float *z, size_t count)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += stride)
        a[e] = dpo_silu_f32(z[e]);
}

__global__ void cm_k_silu_vjp(float *g, const float *z, size_t count)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += stride)
        g[e] = dpo_silu_vjp_f32(g[e], z[e]);
}

// g_x[i][j] = g_x[i][j] + gp[i][j], gp of row stride in0.
__global__ void cm_k_addx(float *gx, const float *gp, size_t n, size_t D, size_t in0)
{
    const size_t total = n * D, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride)
        gx[e] = gx[e] + gp[(e / D) * in0 + e % D];
}

// One thread per class-embedding element (k, j): the CPU's ascending-sample sum.
__global__ void cm_k_cemb_grad(float *gcemb, const float *gin, size_t in0, const int32_t *cls, size_t n, size_t K,
                               size_t E)
{
    const size_t total = K * E, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride)
        gcemb[e] = dpo_cemb_grad_f32(gcemb[e], gin + e % E, in0, cls, n, e / E);
}

// ------------------------------------------------------------ layout
static void cm_make(dpo_cuda_mlp *c, const dpo_mlp_cfg *cfg, size_t n)
{
    size_t o = 0, f = sizeof(float);
    dpo_mlp_layout_make(&c->N, cfg);
    c->wide = c->N.in0 > c->N.H ? c->N.in0 : c->N.H;
    c->o_flag = o;
    o += 256;
    c->o_cls = o;
    o += A256(n * sizeof(int32_t));
    c->o_ones = o;
    o += A256(n * f);
    c->o_x0 = o;
    o += A256(n * c->N.in0 * f);
    c->o_z0 = o;
    o += A256(n * c->N.H * f);
    c->o_a0 = o;
    o += A256(n * c->N.H * f);
    c->o_z1 = o;
    o += A256(n * c->N.H * f);
    c->o_a1 = o;
    o += A256(n * c->N.H * f);
    for (int l = 0; l < 3; l++) {
        c->o_u[l] = o;
        o += A256(n * c->N.R * f);
    }
    c->o_gp = o;
    o += A256(n * c->wide * f);
    c->o_gq = o;
    o += A256(n * c->wide * f);
    c->o_gu = o;
    o += A256(n * c->N.R * f);
    c->o_blas = o;
    c->blas_size = c->mode == DPO_CUDA_MM_FAST ? DPO_CUDA_MM_WORKSPACE_DEFAULT : 0;
    o += c->blas_size;
    c->total = o;
}

static void cm_add_shape(dpo_cuda_mlp *c, size_t m, size_t k, size_t n, int ta, int tb, int acc)
{
    dpo_cuda_mm_shape s;
    s.m = m;
    s.k = k;
    s.n = n;
    s.ta = ta;
    s.tb = tb;
    s.accumulate = acc;
    for (size_t i = 0; i < c->nplans; i++)
        if (!memcmp(&c->shp[i], &s, sizeof(s)))
            return;
    if (c->nplans < CM_MAX_PLANS)
        c->shp[c->nplans++] = s;
}

// Every product shape of the forward and backward below, for n samples.
static void cm_shapes(dpo_cuda_mlp *c, size_t n)
{
    const size_t R = c->N.R;
    c->nplans = 0;
    for (int l = 0; l < 3; l++) {
        const size_t in = c->N.L[l].in, out = c->N.L[l].out;
        cm_add_shape(c, n, in, out, 0, 1, 1); // Y += X W^T
        cm_add_shape(c, out, n, in, 1, 0, 1); // gW += gY^T X
        cm_add_shape(c, 1, n, out, 0, 0, 1);  // gb += 1^T gY
        cm_add_shape(c, n, out, in, 0, 0, 0); // gX = gY W
        if (R) {
            cm_add_shape(c, n, in, R, 0, 1, 0);  // u = X A^T
            cm_add_shape(c, n, R, out, 0, 1, 1); // Y += us B^T
            cm_add_shape(c, n, out, R, 0, 0, 0); // gu = gY B
            cm_add_shape(c, out, n, R, 1, 0, 1); // gB += gY^T us
            cm_add_shape(c, R, n, in, 1, 0, 1);  // gA += gu^T X
            cm_add_shape(c, n, R, in, 0, 0, 1);  // gX += gu A
        }
    }
}

static void cm_free(dpo_cuda_mlp *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CM_MAX_PLANS; i++)
        if (c->plan[i])
            dpo_cuda_mm_plan_destroy(c->plan[i]);
    free(c);
}

extern "C" dpo_status dpo_cuda_mlp_create(dpo_cuda_mlp **ctx, const dpo_mlp_cfg *cfg, size_t n, dpo_cuda_mm_mode mode,
                                        unsigned flags)
{
    dpo_cuda_mlp *c;
    if (!ctx || !cfg)
        return DPO_ERR_NULL;
    if (mode != DPO_CUDA_MM_STRICT && mode != DPO_CUDA_MM_FAST)
        return DPO_ERR_RANGE;
    if ((flags & ~DPO_CUDA_MM_TF32) || (mode == DPO_CUDA_MM_STRICT && flags))
        return DPO_ERR_RANGE;
    if (n == 0 || n > CM_MAX_N || dpo_mlp_num_base(cfg) == 0)
        return DPO_ERR_SIZE;
    c = (dpo_cuda_mlp *)calloc(1, sizeof(*c));
    if (!c)
        return DPO_ERR_WORKSPACE;
    c->cfg = *cfg;
    c->n = n;
    c->mode = mode;
    c->flags = flags;
    cm_make(c, cfg, n);
    if (mode == DPO_CUDA_MM_FAST) {
        cm_shapes(c, n);
        for (size_t i = 0; i < c->nplans; i++) {
            dpo_status st = dpo_cuda_mm_plan_create(&c->plan[i], &c->shp[i], c->blas_size, flags, NULL);
            if (st) {
                cm_free(c);
                return st;
            }
        }
    }
    *ctx = c;
    return DPO_OK;
}

extern "C" void dpo_cuda_mlp_destroy(dpo_cuda_mlp *ctx)
{
    cm_free(ctx);
}

extern "C" size_t dpo_cuda_mlp_workspace_size(const dpo_cuda_mlp *ctx)
{
    return ctx ? ctx->total : 0;
}

extern "C" size_t dpo_cuda_mlp_num_plans(const dpo_cuda_mlp *ctx)
{
    return ctx && ctx->mode == DPO_CUDA_MM_FAST ? ctx->nplans : 0;
}

extern "C" dpo_status dpo_cuda_mlp_plan_info(dpo_cuda_mm_shape *shape, dpo_cuda_mm_algo *algo, const dpo_cuda_mlp *ctx,
                                           size_t i)
{
    if (!ctx || (!shape && !algo))
        return DPO_ERR_NULL;
    if (i >= dpo_cuda_mlp_num_plans(ctx))
        return DPO_ERR_RANGE;
    if (algo) {
        dpo_status st = dpo_cuda_mm_plan_algo(algo, ctx->plan[i]);
        if (st)
            return st;
    }
    if (shape)
        *shape = ctx->shp[i];
    return DPO_OK;
}

// --------------------------------------------------------- products
typedef struct cm_run {
    const dpo_cuda_mlp *c;
    unsigned char *w;
    cudaStream_t st;
} cm_run;

static dpo_status cm_mm(const cm_run *r, float *C, const float *A, const float *B, size_t m, size_t k, size_t n,
                        int ta, int tb, int acc)
{
    const dpo_cuda_mlp *c = r->c;
    if (c->mode == DPO_CUDA_MM_STRICT)
        return dpo_cuda_matmul_strict(C, A, B, m, k, n, ta, tb, acc, (void *)r->st);
    for (size_t i = 0; i < c->nplans; i++) {
        const dpo_cuda_mm_shape *s = &c->shp[i];
        if (s->m == m && s->k == k && s->n == n && s->ta == ta && s->tb == tb && s->accumulate == acc)
            return dpo_cuda_matmul_fast(c->plan[i], C, A, B, r->w + c->o_blas, c->blas_size, (void *)r->st);
    }
    return DPO_ERR_UNSUPPORTED; // a shape not planned at create (cannot happen for n == ctx->n)
}

#define CM_TRY(x)                                                                                                     \
    do {                                                                                                              \
        dpo_status cm_st_ = (x);                                                                                      \
        if (cm_st_)                                                                                                   \
            return cm_st_;                                                                                            \
    } while (0)

// Every launch of this file goes through CM_LAUNCH (a host-emulation build
// of the driver logic may predefine it).
#ifndef CM_LAUNCH
#define CM_LAUNCH(kern, count, st, ...)                                                                               \
    do {                                                                                                              \
        DPO_CU_LAUNCH(kern, (dpo_cu_blocks((count), CM_THREADS), CM_THREADS, 0, (st)), __VA_ARGS__);                  \
        DPO_CU_LAUNCHED();                                                                                            \
    } while (0)
#endif

// src/model/mlp.c layer_fwd.
static dpo_status cm_layer_fwd(const cm_run *r, float *Y, float *us, const float *X, size_t n, const cm_layer *L,
                               const float *base, const float *lora)
{
    const dpo_cuda_mlp *c = r->c;
    CM_LAUNCH(cm_k_bias, n * L->out, r->st, Y, base + L->b, n, L->out);
    CM_TRY(cm_mm(r, Y, X, base + L->w, n, L->in, L->out, 0, 1, 1));
    if (lora && c->N.R) {
        CM_TRY(cm_mm(r, us, X, lora + L->la, n, L->in, c->N.R, 0, 1, 0));
        CM_LAUNCH(cm_k_scale, n * c->N.R, r->st, us, n * c->N.R, c->N.scale_d);
        CM_TRY(cm_mm(r, Y, us, lora + L->lb, n, c->N.R, L->out, 0, 1, 1));
    }
    return DPO_OK;
}

// src/model/mlp.c layer_bwd.
static dpo_status cm_layer_bwd(const cm_run *r, float *gX, float *gbase, float *glora, float *gu, const float *gY,
                               const float *X, const float *us, const float *ones, size_t n, const cm_layer *L,
                               const float *base, const float *lora, int has_lora)
{
    const dpo_cuda_mlp *c = r->c;
    if (gbase) {
        CM_TRY(cm_mm(r, gbase + L->w, gY, X, L->out, n, L->in, 1, 0, 1));
        CM_TRY(cm_mm(r, gbase + L->b, ones, gY, 1, n, L->out, 0, 0, 1));
    }
    if (has_lora) {
        CM_TRY(cm_mm(r, gu, gY, lora + L->lb, n, L->out, c->N.R, 0, 0, 0));
        CM_LAUNCH(cm_k_scale, n * c->N.R, r->st, gu, n * c->N.R, c->N.scale_d);
        if (glora) {
            CM_TRY(cm_mm(r, glora + L->lb, gY, us, L->out, n, c->N.R, 1, 0, 1));
            CM_TRY(cm_mm(r, glora + L->la, gu, X, c->N.R, n, L->in, 1, 0, 1));
        }
    }
    if (gX) {
        CM_TRY(cm_mm(r, gX, gY, base + L->w, n, L->out, L->in, 0, 0, 0));
        if (has_lora)
            CM_TRY(cm_mm(r, gX, gu, lora + L->la, n, c->N.R, L->in, 0, 0, 1));
    }
    return DPO_OK;
}

// Device-side input check: returns the CPU's status for the verdict.
static dpo_status cm_check(const cm_run *r, const float *v, size_t nv, const int32_t *t, const int32_t *cls,
                           size_t n)
{
    const dpo_cuda_mlp *c = r->c;
    unsigned *d_flag = (unsigned *)(r->w + c->o_flag);
    unsigned h = 0;
    DPO_CU(cudaMemsetAsync(d_flag, 0, sizeof(unsigned), r->st));
    CM_LAUNCH(cm_k_check, nv, r->st, d_flag, v, nv, t, cls, n, c->cfg.num_train_steps, c->N.K);
    DPO_CU(cudaMemcpyAsync(&h, d_flag, sizeof(h), cudaMemcpyDeviceToHost, r->st));
    DPO_CU(cudaStreamSynchronize(r->st));
    if (h & CM_BAD_RANGE)
        return DPO_ERR_RANGE;
    if (h & CM_BAD_NONFINITE)
        return DPO_ERR_NONFINITE;
    return DPO_OK;
}

static int cm_n_ok(const dpo_cuda_mlp *c, size_t n)
{
    if (n == 0 || n > c->n)
        return 0;
    return c->mode == DPO_CUDA_MM_STRICT || n == c->n;
}

extern "C" dpo_status dpo_cuda_mlp_forward(dpo_cuda_mlp *ctx, float *d_out, void *d_work, size_t work_size,
                                         const float *d_base, const float *d_lora, const float *d_x,
                                         const int32_t *d_t, const int32_t *d_cls, size_t n, void *stream)
{
    const size_t f = sizeof(float);
    if (!ctx || !d_out || !d_base || !d_x || !d_t || !d_cls)
        return DPO_ERR_NULL;
    if (!cm_n_ok(ctx, n))
        return DPO_ERR_SIZE;
    if (!d_work || work_size < ctx->total || ((uintptr_t)d_work % 256u))
        return DPO_ERR_WORKSPACE;
    if (((uintptr_t)d_out | (uintptr_t)d_base | (uintptr_t)d_lora | (uintptr_t)d_x | (uintptr_t)d_t |
         (uintptr_t)d_cls) %
        4u)
        return DPO_ERR_RANGE;
    {
        const size_t no = n * ctx->N.D * f, nw = ctx->total, nb = ctx->N.n_base * f, nl = ctx->N.n_lora * f, ni = n * 4;
        if (dpo_overlap(d_out, no, d_work, nw) || dpo_overlap(d_out, no, d_x, no) || dpo_overlap(d_out, no, d_base, nb) ||
            (d_lora && dpo_overlap(d_out, no, d_lora, nl)) || dpo_overlap(d_work, nw, d_x, no) ||
            dpo_overlap(d_work, nw, d_base, nb) || (d_lora && dpo_overlap(d_work, nw, d_lora, nl)) ||
            dpo_overlap(d_out, no, d_t, ni) || dpo_overlap(d_out, no, d_cls, ni) || dpo_overlap(d_work, nw, d_t, ni) ||
            dpo_overlap(d_work, nw, d_cls, ni))
            return DPO_ERR_ALIAS;
    }
    DPO_CU_ENTRY();
    cm_run r;
    r.c = ctx;
    r.w = (unsigned char *)d_work;
    r.st = (cudaStream_t)stream;
    CM_TRY(cm_check(&r, d_x, n * ctx->N.D, d_t, d_cls, n));
    ctx->fwd_work = NULL; // the work buffer is being rewritten
    {
        unsigned char *w = r.w;
        float *x0 = (float *)(w + ctx->o_x0), *z0 = (float *)(w + ctx->o_z0), *a0 = (float *)(w + ctx->o_a0);
        float *z1 = (float *)(w + ctx->o_z1), *a1 = (float *)(w + ctx->o_a1);
        CM_LAUNCH(cm_k_input, n * ctx->N.in0, r.st, x0, (float *)(w + ctx->o_ones), (int32_t *)(w + ctx->o_cls), d_x,
                  d_t, d_cls, d_base + ctx->N.cemb, n, ctx->N.D, ctx->N.T, ctx->N.E);
        CM_TRY(cm_layer_fwd(&r, z0, (float *)(w + ctx->o_u[0]), x0, n, &ctx->N.L[0], d_base, d_lora));
        CM_LAUNCH(cm_k_silu, n * ctx->N.H, r.st, a0, z0, n * ctx->N.H);
        CM_TRY(cm_layer_fwd(&r, z1, (float *)(w + ctx->o_u[1]), a0, n, &ctx->N.L[1], d_base, d_lora));
        CM_LAUNCH(cm_k_silu, n * ctx->N.H, r.st, a1, z1, n * ctx->N.H);
        CM_TRY(cm_layer_fwd(&r, d_out, (float *)(w + ctx->o_u[2]), a1, n, &ctx->N.L[2], d_base, d_lora));
    }
    ctx->fwd_work = d_work;
    ctx->fwd_n = n;
    ctx->fwd_lora = d_lora && ctx->N.R ? 1 : 0;
    return DPO_OK;
}

extern "C" dpo_status dpo_cuda_mlp_backward(dpo_cuda_mlp *ctx, float *d_gx, float *d_gbase, float *d_glora,
                                          const float *d_gout, void *d_work, size_t work_size, const float *d_base,
                                          const float *d_lora, size_t n, void *stream)
{
    const size_t f = sizeof(float);
    if (!ctx || !d_gout || !d_work || !d_base)
        return DPO_ERR_NULL;
    if (d_glora && !d_lora)
        return DPO_ERR_NULL;
    if (!cm_n_ok(ctx, n))
        return DPO_ERR_SIZE;
    if (work_size < ctx->total || ((uintptr_t)d_work % 256u))
        return DPO_ERR_WORKSPACE;
    if (ctx->fwd_work != d_work || ctx->fwd_n != n)
        return DPO_ERR_WORKSPACE; // no forward of this context on this buffer with this n
    const int has_lora = d_lora && ctx->N.R ? 1 : 0;
    if (has_lora != ctx->fwd_lora)
        return DPO_ERR_RANGE; // backward must see the forward's model
    if (((uintptr_t)d_gx | (uintptr_t)d_gbase | (uintptr_t)d_glora | (uintptr_t)d_gout | (uintptr_t)d_base |
         (uintptr_t)d_lora) %
        4u)
        return DPO_ERR_RANGE;
    {
        const void *outs[3] = {d_gx, d_gbase, d_glora};
        const size_t sz[3] = {n * ctx->N.D * f, ctx->N.n_base * f, ctx->N.n_lora * f};
        const size_t nw = ctx->total, ng = n * ctx->N.D * f, nb = ctx->N.n_base * f, nl = ctx->N.n_lora * f;
        for (int a = 0; a < 3; a++) {
            if (!outs[a])
                continue;
            for (int b = a + 1; b < 3; b++)
                if (outs[b] && dpo_overlap(outs[a], sz[a], outs[b], sz[b]))
                    return DPO_ERR_ALIAS;
            if (dpo_overlap(outs[a], sz[a], d_work, nw) || dpo_overlap(outs[a], sz[a], d_gout, ng) ||
                dpo_overlap(outs[a], sz[a], d_base, nb) || (d_lora && dpo_overlap(outs[a], sz[a], d_lora, nl)))
                return DPO_ERR_ALIAS;
        }
        if (dpo_overlap(d_work, nw, d_gout, ng) || dpo_overlap(d_work, nw, d_base, nb) ||
            (d_lora && dpo_overlap(d_work, nw, d_lora, nl)))
            return DPO_ERR_ALIAS;
    }
    DPO_CU_ENTRY();
    cm_run r;
    r.c = ctx;
    r.w = (unsigned char *)d_work;
    r.st = (cudaStream_t)stream;
    CM_TRY(cm_check(&r, d_gout, n * ctx->N.D, NULL, NULL, n));
    {
        unsigned char *w = r.w;
        float *gp = (float *)(w + ctx->o_gp), *gq = (float *)(w + ctx->o_gq), *gu = (float *)(w + ctx->o_gu);
        const float *z0 = (const float *)(w + ctx->o_z0), *z1 = (const float *)(w + ctx->o_z1);
        const float *ones = (const float *)(w + ctx->o_ones), *x0 = (const float *)(w + ctx->o_x0);
        const float *a0 = (const float *)(w + ctx->o_a0), *a1 = (const float *)(w + ctx->o_a1);
        const int32_t *wc = (const int32_t *)(w + ctx->o_cls);
        const int need_g0 = d_gx || (d_gbase && ctx->N.E);
        CM_TRY(cm_layer_bwd(&r, gp, d_gbase, d_glora, gu, d_gout, a1, (const float *)(w + ctx->o_u[2]), ones, n,
                            &ctx->N.L[2], d_base, d_lora, has_lora));
        CM_LAUNCH(cm_k_silu_vjp, n * ctx->N.H, r.st, gp, z1, n * ctx->N.H);
        CM_TRY(cm_layer_bwd(&r, gq, d_gbase, d_glora, gu, gp, a0, (const float *)(w + ctx->o_u[1]), ones, n,
                            &ctx->N.L[1], d_base, d_lora, has_lora));
        CM_LAUNCH(cm_k_silu_vjp, n * ctx->N.H, r.st, gq, z0, n * ctx->N.H);
        CM_TRY(cm_layer_bwd(&r, need_g0 ? gp : NULL, d_gbase, d_glora, gu, gq, x0, (const float *)(w + ctx->o_u[0]),
                            ones, n, &ctx->N.L[0], d_base, d_lora, has_lora));
        if (d_gx)
            CM_LAUNCH(cm_k_addx, n * ctx->N.D, r.st, d_gx, gp, n, ctx->N.D, ctx->N.in0);
        if (d_gbase && ctx->N.E)
            CM_LAUNCH(cm_k_cemb_grad, ctx->N.K * ctx->N.E, r.st, d_gbase + ctx->N.cemb, gp + ctx->N.D + ctx->N.T, ctx->N.in0, wc,
                      n, ctx->N.K, ctx->N.E);
    }
    return DPO_OK;
}

// ------------------------------------------------------------ pretraining
// dpo_pretrain_run with the network on the device (diffpo_cuda_model.h).
__global__ void cm_k_mse_grad(float *gout, const float *out, const float *eps, size_t d, double gscale)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < d; i += stride)
        gout[i] = (float)(gscale * ((double)out[i] - (double)eps[i]));
}

__global__ void cm_k_adamw(float *p, float *m, float *v, const float *g, size_t n, dpo_adamw_coef c)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dpo_adamw_elem(p + i, m + i, v + i, g[i], &c);
}

typedef struct cm_pl {
    size_t xt, eps, out, gout, gbase, t, cls, total; // device, after the network's work
    size_t h_xt, h_eps, h_out, h_t, h_cls, h_total;  // host staging
} cm_pl;

static int cm_pl_make(cm_pl *L, const dpo_cuda_mlp *c)
{
    const size_t B = c->n, d = B * c->N.D, f = sizeof(float);
    size_t o = A256(c->total);
    if (c->N.D != DPO_IMG_DIM || c->N.K < DPO_DATA_CLASSES || B > 0xffffffffu)
        return 0;
    L->xt = o;
    o += A256(d * f);
    L->eps = o;
    o += A256(d * f);
    L->out = o;
    o += A256(d * f);
    L->gout = o;
    o += A256(d * f);
    L->gbase = o;
    o += A256(c->N.n_base * f);
    L->t = o;
    o += A256(B * 4);
    L->cls = o;
    o += A256(B * 4);
    L->total = o;
    o = 0;
    L->h_xt = o;
    o += A256(d * f);
    L->h_eps = o;
    o += A256(d * f);
    L->h_out = o;
    o += A256(d * f);
    L->h_t = o;
    o += A256(B * 4);
    L->h_cls = o;
    o += A256(B * 4);
    L->h_total = o;
    return 1;
}

extern "C" size_t dpo_cuda_pretrain_workspace_size(const dpo_cuda_mlp *ctx)
{
    cm_pl L;
    return ctx && cm_pl_make(&L, ctx) ? L.total : 0;
}

extern "C" size_t dpo_cuda_pretrain_host_size(const dpo_cuda_mlp *ctx)
{
    cm_pl L;
    return ctx && cm_pl_make(&L, ctx) ? L.h_total : 0;
}

// Finite check of one device array (stream synchronised once).
static dpo_status cm_check_finite(const cm_run *r, const float *v, size_t n)
{
    return cm_check(r, v, n, NULL, NULL, 0);
}

extern "C" dpo_status dpo_cuda_pretrain_run(dpo_cuda_mlp *ctx, float *d_base, float *d_adam_m, float *d_adam_v,
                                          double *loss_out, const dpo_schedule *sched, uint64_t seed,
                                          uint64_t it_begin, uint64_t it_end, const dpo_adamw *opt, void *d_work,
                                          size_t work_size, void *host_work, size_t host_size, void *stream)
{
    cm_pl L;
    const size_t f = sizeof(float);
    if (!ctx || !d_base || !d_adam_m || !d_adam_v || !sched || !opt || !d_work || !host_work)
        return DPO_ERR_NULL;
    if (!cm_pl_make(&L, ctx))
        return DPO_ERR_SIZE;
    const size_t B = ctx->n, D = ctx->N.D, d = B * D, nb = ctx->N.n_base;
    // the rules of src/core/dpo_rules_model.h, as dpo_pretrain_run
    if (dpo_rule_pretrain_range_status(ctx->cfg.num_train_steps, sched->num_train_steps, it_begin, it_end, B) ||
        dpo_rule_adamw_status(opt))
        return DPO_ERR_RANGE;
    if (work_size < L.total || ((uintptr_t)d_work % 256u) || host_size < L.h_total || ((uintptr_t)host_work % 8u))
        return DPO_ERR_WORKSPACE;
    if (((uintptr_t)d_base | (uintptr_t)d_adam_m | (uintptr_t)d_adam_v) % 4u)
        return DPO_ERR_RANGE;
    {
        const size_t bb = nb * f, nl = (size_t)(it_end - it_begin) * sizeof(double);
        if (dpo_overlap(d_base, bb, d_adam_m, bb) || dpo_overlap(d_base, bb, d_adam_v, bb) ||
            dpo_overlap(d_adam_m, bb, d_adam_v, bb) || dpo_overlap(d_work, L.total, d_base, bb) ||
            dpo_overlap(d_work, L.total, d_adam_m, bb) || dpo_overlap(d_work, L.total, d_adam_v, bb) ||
            dpo_overlap(host_work, L.h_total, loss_out, nl) || dpo_overlap(host_work, L.h_total, sched, sizeof(*sched)) ||
            dpo_overlap(host_work, L.h_total, opt, sizeof(*opt)))
            return DPO_ERR_ALIAS;
    }
    DPO_CU_ENTRY();
    cm_run r;
    r.c = ctx;
    r.w = (unsigned char *)d_work;
    r.st = (cudaStream_t)stream;
    CM_TRY(cm_check_finite(&r, d_base, nb));
    CM_TRY(cm_check_finite(&r, d_adam_m, nb));
    CM_TRY(cm_check_finite(&r, d_adam_v, nb));

    unsigned char *w = r.w, *h = (unsigned char *)host_work;
    float *xt = (float *)(w + L.xt), *eps = (float *)(w + L.eps), *out = (float *)(w + L.out);
    float *gout = (float *)(w + L.gout), *gbase = (float *)(w + L.gbase);
    int32_t *tt = (int32_t *)(w + L.t), *cc = (int32_t *)(w + L.cls);
    float *hx = (float *)(h + L.h_xt), *he = (float *)(h + L.h_eps), *ho = (float *)(h + L.h_out);
    int32_t *ht = (int32_t *)(h + L.h_t), *hc = (int32_t *)(h + L.h_cls);
    for (uint64_t it = it_begin; it < it_end; it++) {
        const double gscale = 2.0 / (double)d;
        // the batch, on the host, by src/model/pretrain.c's own function (src/core/dpo_rules_model.h)
        for (size_t b = 0; b < B; b++)
            CM_TRY(dpo_pretrain_sample(hx + b * D, he + b * D, &ht[b], &hc[b], sched, ctx->cfg.num_train_steps, seed,
                                       it, B, b, D));
        DPO_CU(cudaMemcpyAsync(xt, hx, d * f, cudaMemcpyHostToDevice, r.st));
        DPO_CU(cudaMemcpyAsync(eps, he, d * f, cudaMemcpyHostToDevice, r.st));
        DPO_CU(cudaMemcpyAsync(tt, ht, B * 4, cudaMemcpyHostToDevice, r.st));
        DPO_CU(cudaMemcpyAsync(cc, hc, B * 4, cudaMemcpyHostToDevice, r.st));
        CM_TRY(dpo_cuda_mlp_forward(ctx, out, d_work, ctx->total, d_base, NULL, xt, tt, cc, B, stream));
        // the loss on the host (canonical sum over the CPU's terms), the gradient on the device
        DPO_CU(cudaMemcpyAsync(ho, out, d * f, cudaMemcpyDeviceToHost, r.st));
        CM_LAUNCH(cm_k_mse_grad, d, r.st, gout, out, eps, d, gscale);
        DPO_CU(cudaStreamSynchronize(r.st));
        double loss;
        {
            dpo_sum s;
            dpo_sum_init(&s);
            for (size_t i = 0; i < d; i++) {
                const double e = (double)ho[i] - (double)he[i];
                dpo_sum_add(&s, e * e);
            }
            loss = dpo_sum_result(&s) / (double)d;
        }
        if (!dpo_pm_isfinite(loss))
            return DPO_ERR_NONFINITE;
        DPO_CU(cudaMemsetAsync(gbase, 0, nb * f, r.st));
        CM_TRY(dpo_cuda_mlp_backward(ctx, NULL, gbase, NULL, gout, d_work, ctx->total, d_base, NULL, B, stream));
        CM_TRY(cm_check_finite(&r, gbase, nb)); // dpo_adamw_step refuses a non-finite gradient
        {
            dpo_adamw_coef c;
            dpo_adamw_coef_init(&c, opt->lr, opt->beta1, opt->beta2, opt->eps, opt->weight_decay, it + 1);
            CM_LAUNCH(cm_k_adamw, nb, r.st, d_base, d_adam_m, d_adam_v, gbase, nb, c);
        }
        if (loss_out)
            loss_out[it - it_begin] = loss;
    }
    return DPO_OK;
}
