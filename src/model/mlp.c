/* The built-in epsilon-network: a time- and class-conditioned MLP with LoRA
 * adapters, its forward pass and vector-Jacobian products.  Every matrix
 * product goes through mm(): dpo_matmul_f32, or the cfg's matmul backend;
 * everything else is element math from src/core/dpo_mlp.h in a fixed
 * order.  Layouts: docs/model.md. */
#include <string.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_mlp.h"
#include "../core/dpo_philox.h"
#include "../core/dpo_rules_model.h"
#include "../internal.h"
#include "../cpu_simd_model.h"

#define MLP_MAX_WIDTH ((size_t)1 << 16)
#define MLP_MAX_N ((size_t)1 << 24)
#define MLP_MAGIC 0x4d4c5031u /* "MLP1" */
#define A64(x) (((x) + 63u) & ~(size_t)63u)

dpo_mlp_cfg dpo_mlp_cfg_default(void)
{
    dpo_mlp_cfg c;
    c.dim = DPO_IMG_DIM;
    c.hidden = 128;
    c.temb = 16;
    c.n_classes = DPO_DATA_CLASSES;
    c.cemb = 8;
    c.lora_rank = 4;
    c.lora_alpha = 4.0;
    c.num_train_steps = 1000;
    c.matmul = 0;
    return c;
}

static int cfg_ok(const dpo_mlp_cfg *c)
{
    if (!c)
        return 0;
    if (c->dim == 0 || c->dim > MLP_MAX_WIDTH || c->hidden == 0 || c->hidden > MLP_MAX_WIDTH)
        return 0;
    if ((c->temb & 1u) || c->temb > MLP_MAX_WIDTH || c->n_classes == 0 || c->n_classes > MLP_MAX_WIDTH ||
        c->cemb > MLP_MAX_WIDTH || c->lora_rank > MLP_MAX_WIDTH)
        return 0;
    if (!dpo_pm_isfinite(c->lora_alpha) || c->num_train_steps < 1)
        return 0;
    return 1;
}

/* ------------------------------------------------------------ layouts */
/* The parameter layout is the rule shared with the CUDA driver
 * (dpo_mlp_layout_make, src/core/dpo_rules_model.h). */
typedef dpo_mlp_layer_layout layer;
typedef dpo_mlp_layout net;

size_t dpo_mlp_num_base(const dpo_mlp_cfg *cfg)
{
    net N;
    if (!cfg_ok(cfg))
        return 0;
    dpo_mlp_layout_make(&N, cfg);
    return N.n_base;
}

size_t dpo_mlp_num_lora(const dpo_mlp_cfg *cfg)
{
    net N;
    if (!cfg_ok(cfg))
        return 0;
    dpo_mlp_layout_make(&N, cfg);
    return N.n_lora;
}

/* Workspace: a header, then (each region 64-byte aligned)
 *   cls (n int32), ones (n), x0 (n x in0), z0, a0, z1, a1 (n x H each),
 *   u0, u1, u2 (n x R: the scaled LoRA projections s x A^T),
 *   gp, gq (n x max(in0, H)), gu (n x R). */
typedef struct hdr {
    uint32_t magic, has_lora;
    uint64_t n;
    uint64_t D, H, T, E, R, K;
} hdr;

typedef struct wsl {
    size_t cls, ones, x0, z0, a0, z1, a1, u[3], gp, gq, gu, total;
} wsl;

static void ws_layout(wsl *W, const net *N, size_t n)
{
    size_t o = A64(sizeof(hdr)), f = sizeof(float), wide = N->in0 > N->H ? N->in0 : N->H;
    int l;
    W->cls = o;
    o += A64(n * sizeof(int32_t));
    W->ones = o;
    o += A64(n * f);
    W->x0 = o;
    o += A64(n * N->in0 * f);
    W->z0 = o;
    o += A64(n * N->H * f);
    W->a0 = o;
    o += A64(n * N->H * f);
    W->z1 = o;
    o += A64(n * N->H * f);
    W->a1 = o;
    o += A64(n * N->H * f);
    for (l = 0; l < 3; l++) {
        W->u[l] = o;
        o += A64(n * N->R * f);
    }
    W->gp = o;
    o += A64(n * wide * f);
    W->gq = o;
    o += A64(n * wide * f);
    W->gu = o;
    o += A64(n * N->R * f);
    W->total = o;
}

size_t dpo_mlp_workspace_size(const dpo_mlp_cfg *cfg, size_t n)
{
    net N;
    wsl W;
    if (!cfg_ok(cfg) || n == 0 || n > MLP_MAX_N)
        return 0;
    dpo_mlp_layout_make(&N, cfg);
    ws_layout(&W, &N, n);
    return W.total;
}

/* --------------------------------------------------------------- init */
/* Tensor `id` of the parameters: element e = (float)(z_e * scale), z the
 * normals of Philox (seed, stream DATA, sample id, step `step`). */
static void fill_normal(float *p, size_t count, double scale, uint64_t seed, uint32_t id, uint32_t step)
{
    size_t e;
    for (e = 0; e < count; e += 4) {
        double z[4];
        size_t l;
        dpo_normal4(z, seed, DPO_STREAM_DATA, id, step, 0u, (uint32_t)(e / 4));
        for (l = 0; l < 4 && e + l < count; l++)
            p[e + l] = (float)(z[l] * scale);
    }
}

#define INIT_STEP_BASE 2u
#define INIT_STEP_LORA 3u

dpo_status dpo_mlp_init_base(float *base, const dpo_mlp_cfg *cfg, uint64_t seed)
{
    net N;
    int l;
    size_t i;
    if (!base || !cfg)
        return DPO_ERR_NULL;
    if (!cfg_ok(cfg))
        return DPO_ERR_SIZE;
    dpo_mlp_layout_make(&N, cfg);
    for (l = 0; l < 3; l++) {
        fill_normal(base + N.L[l].w, N.L[l].out * N.L[l].in, 1.0 / DPO_SQRT((double)N.L[l].in), seed, (uint32_t)l,
                    INIT_STEP_BASE);
        for (i = 0; i < N.L[l].out; i++)
            base[N.L[l].b + i] = 0.0f;
    }
    fill_normal(base + N.cemb, N.K * N.E, 1.0, seed, 3u, INIT_STEP_BASE);
    return DPO_OK;
}

dpo_status dpo_mlp_init_lora(float *lora, const dpo_mlp_cfg *cfg, uint64_t seed)
{
    net N;
    int l;
    size_t i;
    if (!lora || !cfg)
        return DPO_ERR_NULL;
    if (!cfg_ok(cfg))
        return DPO_ERR_SIZE;
    dpo_mlp_layout_make(&N, cfg);
    for (l = 0; l < 3; l++) {
        fill_normal(lora + N.L[l].la, N.R * N.L[l].in, 1.0 / DPO_SQRT((double)N.L[l].in), seed, (uint32_t)l,
                    INIT_STEP_LORA);
        for (i = 0; i < N.L[l].out * N.R; i++)
            lora[N.L[l].lb + i] = 0.0f;
    }
    return DPO_OK;
}

/* ----------------------------------------------------------- products */
/* One matrix product: the backend's when the cfg names one (non-zero
 * return: failure), else dpo_matmul_f32.  Returns 0 on success. */
static int mm(const dpo_matmul_backend *be, float *C, const float *A, const float *B, size_t m, size_t k, size_t n,
              int ta, int tb, int acc)
{
    if (!be) {
        dpo_matmul_f32(C, A, B, m, k, n, ta, tb, acc);
        return 0;
    }
    return be->product(be->user, C, A, B, m, k, n, ta, tb, acc) != 0;
}

/* ------------------------------------------------------------ forward */
/* Y (n x out) = b + X W^T [+ us B^T, us = s (X A^T)].  0 on success. */
static int layer_fwd(float *Y, float *us, const float *X, size_t n, const layer *L, const net *N, const float *base,
                     const float *lora, const dpo_matmul_backend *be)
{
    size_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < L->out; j++)
            Y[i * L->out + j] = base[L->b + j];
    if (mm(be, Y, X, base + L->w, n, L->in, L->out, 0, 1, 1))
        return 1;
    if (lora && N->R) {
        if (mm(be, us, X, lora + L->la, n, L->in, N->R, 0, 1, 0))
            return 1;
        for (i = 0; i < n * N->R; i++)
            us[i] = dpo_lora_scale_f32(us[i], N->scale_d);
        if (mm(be, Y, us, lora + L->lb, n, N->R, L->out, 0, 1, 1))
            return 1;
    }
    return 0;
}

static int overlaps(const void *a, size_t na, const void *b, size_t nb)
{
    return dpo_overlap(a, na, b, nb);
}

dpo_status dpo_mlp_forward(float *out, const dpo_mlp_cfg *cfg, const float *base, const float *lora, const float *x,
                           const int32_t *t, const int32_t *cls, size_t n, void *work, size_t work_size)
{
    net N;
    wsl W;
    unsigned char *w = (unsigned char *)work;
    hdr *h;
    float *x0, *z0, *a0, *z1, *a1, *ones;
    int32_t *wc;
    size_t i, j, f = sizeof(float);
    if (!out || !cfg || !base || !x || !t || !cls || (cfg->matmul && !cfg->matmul->product))
        return DPO_ERR_NULL;
    if (!cfg_ok(cfg) || n == 0 || n > MLP_MAX_N)
        return DPO_ERR_SIZE;
    dpo_mlp_layout_make(&N, cfg);
    ws_layout(&W, &N, n);
    if (!dpo_work_ok(work, work_size, W.total))
        return DPO_ERR_WORKSPACE;
    for (i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= cfg->num_train_steps || cls[i] < 0 || (size_t)cls[i] >= N.K)
            return DPO_ERR_RANGE;
    for (i = 0; i < n * N.D; i++)
        if (!dpo_pm_isfinitef(x[i]))
            return DPO_ERR_NONFINITE;
    if (overlaps(out, n * N.D * f, work, W.total) || overlaps(out, n * N.D * f, x, n * N.D * f) ||
        overlaps(out, n * N.D * f, base, N.n_base * f) || (lora && overlaps(out, n * N.D * f, lora, N.n_lora * f)) ||
        overlaps(work, W.total, x, n * N.D * f) || overlaps(work, W.total, base, N.n_base * f) ||
        (lora && overlaps(work, W.total, lora, N.n_lora * f)) || overlaps(out, n * N.D * f, t, n * 4) ||
        overlaps(out, n * N.D * f, cls, n * 4) || overlaps(work, W.total, t, n * 4) ||
        overlaps(work, W.total, cls, n * 4))
        return DPO_ERR_ALIAS;

    h = (hdr *)w;
    wc = (int32_t *)(w + W.cls);
    ones = (float *)(w + W.ones);
    x0 = (float *)(w + W.x0);
    z0 = (float *)(w + W.z0);
    a0 = (float *)(w + W.a0);
    z1 = (float *)(w + W.z1);
    a1 = (float *)(w + W.a1);

    /* the work holds no forward until this one completes */
    h->magic = 0u;
    for (i = 0; i < n; i++) {
        float *r = x0 + i * N.in0;
        const float *ce = base + N.cemb + (size_t)cls[i] * N.E;
        wc[i] = cls[i];
        ones[i] = 1.0f;
        for (j = 0; j < N.in0; j++)
            r[j] = dpo_mlp_input_f32(x + i * N.D, t[i], ce, j, N.D, N.T);
    }
    /* The last layer goes to gp (backward scratch, n x max(in0, H) >= n x
     * D floats) and is copied to out once every product has succeeded, so
     * a failing backend leaves out untouched. */
    if (layer_fwd(z0, (float *)(w + W.u[0]), x0, n, &N.L[0], &N, base, lora, cfg->matmul))
        return DPO_ERR_MODEL;
    dpo__simd_silu_f32(a0, z0, n * N.H, dpo_simd_level()); /* dpo_silu_f32 per element */
    if (layer_fwd(z1, (float *)(w + W.u[1]), a0, n, &N.L[1], &N, base, lora, cfg->matmul))
        return DPO_ERR_MODEL;
    dpo__simd_silu_f32(a1, z1, n * N.H, dpo_simd_level());
    if (layer_fwd((float *)(w + W.gp), (float *)(w + W.u[2]), a1, n, &N.L[2], &N, base, lora, cfg->matmul))
        return DPO_ERR_MODEL;
    memcpy(out, w + W.gp, n * N.D * f);

    h->magic = MLP_MAGIC;
    h->has_lora = lora && N.R ? 1u : 0u;
    h->n = n;
    h->D = N.D;
    h->H = N.H;
    h->T = N.T;
    h->E = N.E;
    h->R = N.R;
    h->K = N.K;
    return DPO_OK;
}

/* ----------------------------------------------------------- backward */
/* Given gY (n x out) of one layer whose forward input was X and scaled
 * LoRA projection us: parameter gradients (accumulated, ascending sample
 * order) and, when gX != NULL, gX = gY W_eff (overwritten).  0 on
 * success; the first failing product stops it. */
static int layer_bwd(float *gX, float *gbase, float *glora, float *gu, const float *gY, const float *X,
                     const float *us, const float *ones, size_t n, const layer *L, const net *N, const float *base,
                     const float *lora, int has_lora, const dpo_matmul_backend *be)
{
    size_t i;
    if (gbase) {
        if (mm(be, gbase + L->w, gY, X, L->out, n, L->in, 1, 0, 1) ||
            mm(be, gbase + L->b, ones, gY, 1, n, L->out, 0, 0, 1))
            return 1;
    }
    if (has_lora) {
        if (mm(be, gu, gY, lora + L->lb, n, L->out, N->R, 0, 0, 0))
            return 1;
        for (i = 0; i < n * N->R; i++)
            gu[i] = dpo_lora_scale_f32(gu[i], N->scale_d);
        if (glora) {
            if (mm(be, glora + L->lb, gY, us, L->out, n, N->R, 1, 0, 1) ||
                mm(be, glora + L->la, gu, X, N->R, n, L->in, 1, 0, 1))
                return 1;
        }
    }
    if (gX) {
        if (mm(be, gX, gY, base + L->w, n, L->out, L->in, 0, 0, 0))
            return 1;
        if (has_lora && mm(be, gX, gu, lora + L->la, n, N->R, L->in, 0, 0, 1))
            return 1;
    }
    return 0;
}

dpo_status dpo_mlp_backward(float *g_x, float *g_base, float *g_lora, const float *g_out, const dpo_mlp_cfg *cfg,
                            const float *base, const float *lora, size_t n, void *work, size_t work_size)
{
    net N;
    wsl W;
    unsigned char *w = (unsigned char *)work;
    const hdr *h;
    float *gp, *gq, *gu, *z0, *z1;
    const int32_t *wc;
    size_t i, j, k, f = sizeof(float);
    int has_lora;
    if (!g_out || !work || !cfg || !base || (cfg->matmul && !cfg->matmul->product))
        return DPO_ERR_NULL;
    if (g_lora && !lora)
        return DPO_ERR_NULL;
    if (!cfg_ok(cfg) || n == 0 || n > MLP_MAX_N)
        return DPO_ERR_SIZE;
    dpo_mlp_layout_make(&N, cfg);
    ws_layout(&W, &N, n);
    if (!dpo_work_ok(work, work_size, W.total))
        return DPO_ERR_WORKSPACE;
    h = (const hdr *)w;
    if (h->magic != MLP_MAGIC || h->n != n || h->D != N.D || h->H != N.H || h->T != N.T || h->E != N.E ||
        h->R != N.R || h->K != N.K)
        return DPO_ERR_WORKSPACE;
    has_lora = lora && N.R ? 1 : 0;
    if ((uint32_t)has_lora != h->has_lora)
        return DPO_ERR_RANGE; /* backward must see the forward's model */
    for (i = 0; i < n * N.D; i++)
        if (!dpo_pm_isfinitef(g_out[i]))
            return DPO_ERR_NONFINITE;
    {
        const void *outs[3];
        size_t sz[3];
        int a, b;
        outs[0] = g_x;
        sz[0] = n * N.D * f;
        outs[1] = g_base;
        sz[1] = N.n_base * f;
        outs[2] = g_lora;
        sz[2] = N.n_lora * f;
        for (a = 0; a < 3; a++) {
            if (!outs[a])
                continue;
            for (b = a + 1; b < 3; b++)
                if (outs[b] && overlaps(outs[a], sz[a], outs[b], sz[b]))
                    return DPO_ERR_ALIAS;
            if (overlaps(outs[a], sz[a], work, W.total) || overlaps(outs[a], sz[a], g_out, n * N.D * f) ||
                overlaps(outs[a], sz[a], base, N.n_base * f) || (lora && overlaps(outs[a], sz[a], lora, N.n_lora * f)))
                return DPO_ERR_ALIAS;
        }
        if (overlaps(work, W.total, g_out, n * N.D * f) || overlaps(work, W.total, base, N.n_base * f) ||
            (lora && overlaps(work, W.total, lora, N.n_lora * f)))
            return DPO_ERR_ALIAS;
    }

    wc = (const int32_t *)(w + W.cls);
    gp = (float *)(w + W.gp);
    gq = (float *)(w + W.gq);
    gu = (float *)(w + W.gu);
    z0 = (float *)(w + W.z0);
    z1 = (float *)(w + W.z1);
    {
        const float *ones = (const float *)(w + W.ones);
        const float *x0 = (const float *)(w + W.x0), *a0 = (const float *)(w + W.a0);
        const float *a1 = (const float *)(w + W.a1);
        int need_g0 = g_x || (g_base && N.E);
        const dpo_matmul_backend *be = cfg->matmul;
        if (layer_bwd(gp, g_base, g_lora, gu, g_out, a1, (const float *)(w + W.u[2]), ones, n, &N.L[2], &N, base,
                      lora, has_lora, be))
            return DPO_ERR_MODEL;
        dpo__simd_silu_vjp_f32(gp, z1, n * N.H, dpo_simd_level()); /* dpo_silu_vjp_f32 per element */
        if (layer_bwd(gq, g_base, g_lora, gu, gp, a0, (const float *)(w + W.u[1]), ones, n, &N.L[1], &N, base, lora,
                      has_lora, be))
            return DPO_ERR_MODEL;
        dpo__simd_silu_vjp_f32(gq, z0, n * N.H, dpo_simd_level());
        if (layer_bwd(need_g0 ? gp : 0, g_base, g_lora, gu, gq, x0, (const float *)(w + W.u[0]), ones, n, &N.L[0],
                      &N, base, lora, has_lora, be))
            return DPO_ERR_MODEL;
        if (g_x)
            for (i = 0; i < n; i++)
                for (j = 0; j < N.D; j++)
                    g_x[i * N.D + j] = g_x[i * N.D + j] + gp[i * N.in0 + j];
        if (g_base && N.E) {
            for (k = 0; k < N.K; k++)
                for (j = 0; j < N.E; j++) {
                    float *g = g_base + N.cemb + k * N.E + j;
                    *g = dpo_cemb_grad_f32(*g, gp + N.D + N.T + j, N.in0, wc, n, k);
                }
        }
    }
    return DPO_OK;
}

/* ------------------------------------------------- rollout model wrapper */
#define MODEL_CHUNK 64

static int mlp_model_forward(void *user, float *out, const float *x, size_t n, int timestep, const int32_t *cond)
{
    const dpo_mlp_model_ctx *c = (const dpo_mlp_model_ctx *)user;
    int32_t tt[MODEL_CHUNK];
    size_t cap = MODEL_CHUNK, s0, i, dim;
    if (!c || !c->cfg || !cond || !out || !x)
        return DPO_ERR_NULL;
    if (!cfg_ok(c->cfg))
        return DPO_ERR_SIZE;
    dim = c->cfg->dim;
    while (cap > 0 && dpo_mlp_workspace_size(c->cfg, cap) > c->work_size)
        cap--;
    if (cap == 0)
        return DPO_ERR_WORKSPACE;
    for (i = 0; i < cap; i++)
        tt[i] = timestep;
    for (s0 = 0; s0 < n; s0 += cap) {
        size_t m = n - s0 < cap ? n - s0 : cap;
        dpo_status st = dpo_mlp_forward(out + s0 * dim, c->cfg, c->base, c->lora, x + s0 * dim, tt,
                                        cond + s0, m, c->work, c->work_size);
        if (st)
            return st;
    }
    return DPO_OK;
}

dpo_eps_model dpo_mlp_model(dpo_mlp_model_ctx *ctx)
{
    dpo_eps_model m;
    m.user = ctx;
    m.dim = ctx && ctx->cfg ? ctx->cfg->dim : 0;
    m.forward = mlp_model_forward;
    return m;
}
