// CUDA drivers of the preference losses (include/diffpo_loss.h, float32):
// element terms in a grid (stage 1 of the canonical tree), the partials
// combined in the canonical order, the scalar part in one device thread,
// then the element-wise gradient in a grid.  Element and scalar math:
// src/core/dpo_loss.h, the functions src/loss_dpo.c and src/loss_eps.c call.
#include <string.h>
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"
#include "../src/core/dpo_loss.h"
#include "../src/core/dpo_rules.h"

// Workspace: a header of DPO_CU_HDR doubles (sums at [0, 4), scalars at
// [4, 16)), then up to 3 rows of partials, then the combine scratch.
#define DPO_CU_HDR 16
#define DPO_CU_NSUM_MAX 3

namespace {
// Step DPO / d3po-code: dpo_lr_term of (x, mu, mu_ref) for samples w and l.
struct LrPairOp {
    const float *xw, *mw, *rw, *xl, *ml, *rl;
    __device__ void quad(double t[][4], size_t, size_t e, int cnt) const
    {
        for (int l = 0; l < 4; l++)
            if (l < cnt) {
                size_t i = e + l;
                t[0][l] = dpo_lr_term((double)xw[i], (double)mw[i], (double)rw[i]);
                t[1][l] = dpo_lr_term((double)xl[i], (double)ml[i], (double)rl[i]);
            }
    }
};

// RDPO / TailorPO: lr terms of x_w and x_l against a shared (mu, mu_ref)
// and the shared-form difference term.
struct SharedOp {
    const float *xw, *xl, *mu, *mr;
    __device__ void quad(double t[][4], size_t, size_t e, int cnt) const
    {
        for (int l = 0; l < 4; l++)
            if (l < cnt) {
                size_t i = e + l;
                double a = (double)xw[i], b = (double)xl[i], m = (double)mu[i], r = (double)mr[i];
                t[0][l] = dpo_lr_term(a, m, r);
                t[1][l] = dpo_lr_term(b, m, r);
                t[2][l] = dpo_lr_shared_term(a, b, m, r);
            }
    }
};

// Diffusion-DPO / DSPO first pass: dpo_err_diff_term of winner and loser.
struct ErrOp {
    const float *ew, *el, *tw, *rw, *tl, *rl;
    __device__ void quad(double t[][4], size_t, size_t e, int cnt) const
    {
        for (int l = 0; l < 4; l++)
            if (l < cnt) {
                size_t i = e + l;
                t[0][l] = dpo_err_diff_term((double)ew[i], (double)tw[i], (double)rw[i]);
                t[1][l] = dpo_err_diff_term((double)el[i], (double)tl[i], (double)rl[i]);
            }
    }
};

// DSPO second pass: v v and v (e_th - e_ref), c read from the header.
struct DspoOp {
    const float *ew, *tw, *rw;
    const double *hdr;
    __device__ void quad(double t[][4], size_t, size_t e, int cnt) const
    {
        double c = hdr[4];
        for (int l = 0; l < 4; l++)
            if (l < cnt) {
                size_t i = e + l;
                double pp;
                double v = dpo_dspo_v(&pp, (double)ew[i], (double)tw[i], (double)rw[i], c);
                t[0][l] = v * v;
                t[1][l] = v * pp;
            }
    }
};
} // namespace

// ------------------------------------------------------ scalar kernels
static __global__ void dpo_k_stepdpo_fin(dpo_pair_result *res, double *hdr, double n, dpo_pair_params p)
{
    dpo_pair_result r;
    dpo_stepdpo_scalars(&r, &hdr[4], &hdr[5], hdr[0], hdr[1], n, p);
    *res = r;
}

static __global__ void dpo_k_d3po_fin(dpo_pair_result *res, double *hdr, double n, int label, dpo_clip_params p)
{
    dpo_pair_result r;
    dpo_d3po_code_scalars(&r, &hdr[4], &hdr[5], hdr[0], hdr[1], n, label, p);
    *res = r;
}

static __global__ void dpo_k_rdpo_fin(dpo_pair_result *res, double *hdr, double n, dpo_rdpo_params p)
{
    dpo_pair_result r;
    dpo_rdpo_scalars(&r, &hdr[4], &hdr[5], hdr[0], hdr[1], hdr[2], n, p);
    *res = r;
}

static __global__ void dpo_k_diffdpo_fin(dpo_pair_result *res, double *hdr, double n, dpo_eps_params p)
{
    dpo_pair_result r;
    dpo_diffdpo_scalars(&r, &hdr[4], hdr[0], hdr[1], n, p);
    hdr[5] = -hdr[4];
    *res = r;
}

// DSPO: pre writes c (hdr[4]), sigma(u) (hdr[6]) and the partial result
// (hdr[8..15) as dpo_pair_result is 7 doubles); post completes it.
static __global__ void dpo_k_dspo_pre(double *hdr, double n, dpo_dspo_params p)
{
    dpo_pair_result r;
    memset(&r, 0, sizeof r);
    hdr[4] = dpo_dspo_pre(&r, &hdr[6], hdr[0], hdr[1], n, p);
    memcpy(&hdr[8], &r, sizeof r);
}

static __global__ void dpo_k_dspo_post(dpo_pair_result *res, double *hdr, double n, dpo_dspo_params p)
{
    dpo_pair_result r;
    memcpy(&r, &hdr[8], sizeof r);
    dpo_dspo_post(&r, &hdr[5], &hdr[7], hdr[0], hdr[1], hdr[4], hdr[6], n, p);
    hdr[3] = -hdr[7];
    *res = r;
}

// ---------------------------------------------------- gradient kernels
// g[i] = coef (a[i] - b[i]), coef = hdr[k].
static __global__ void dpo_k_grad_diff(float *g, const float *a, const float *b, size_t n, const double *hdr, int k)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    double c = hdr[k];
    for (; i < n; i += stride)
        g[i] = (float)dpo_grad_diff(c, (double)a[i], (double)b[i]);
}

static __global__ void dpo_k_grad2(float *g, const float *xw, const float *xl, const float *mu, size_t n,
                                   const double *hdr)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    double cw = hdr[4], cl = hdr[5];
    for (; i < n; i += stride)
        g[i] = (float)dpo_grad2_elem((double)xw[i], (double)xl[i], (double)mu[i], cw, cl);
}

static __global__ void dpo_k_dspo_gw(float *g, const float *ew, const float *tw, const float *rw, size_t n,
                                     const double *hdr)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    double c = hdr[4], cd = hdr[5], cw = hdr[7];
    for (; i < n; i += stride)
        g[i] = (float)dpo_dspo_gw_elem((double)ew[i], (double)tw[i], (double)rw[i], c, cd, cw);
}

// ------------------------------------------------------------ host side
extern "C" size_t dpo_cuda_loss_workspace_size(size_t n)
{
    size_t nblk;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return 0;
    nblk = dpo_cu_nblk(n);
    return (DPO_CU_HDR + DPO_CU_NSUM_MAX * nblk + dpo_cu_combine_tmp(DPO_CU_NSUM_MAX, nblk)) * sizeof(double);
}

// Inputs non-NULL, outputs (may be NULL) disjoint from inputs, each other,
// the result and the workspace; workspace present and large enough.
static dpo_status dpo_cu_loss_tensors(const void *const *ins, int nin, void *const *outs, int nout, size_t n,
                                      const void *res, const void *work, size_t work_size)
{
    int i, j;
    size_t bytes = n * sizeof(float), need;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    for (i = 0; i < nin; i++)
        if (!ins[i])
            return DPO_ERR_NULL;
    need = dpo_cuda_loss_workspace_size(n);
    if (!work || work_size < need || ((uintptr_t)work % sizeof(double)))
        return DPO_ERR_WORKSPACE;
    for (i = 0; i < nout; i++) {
        if (!outs[i])
            continue;
        for (j = 0; j < nin; j++)
            if (dpo_cu_overlap(outs[i], bytes, ins[j], bytes))
                return DPO_ERR_ALIAS;
        for (j = 0; j < i; j++)
            if (dpo_cu_overlap(outs[i], bytes, outs[j], bytes))
                return DPO_ERR_ALIAS;
        if (dpo_cu_overlap(outs[i], bytes, res, sizeof(dpo_pair_result)) ||
            dpo_cu_overlap(outs[i], bytes, work, need))
            return DPO_ERR_ALIAS;
    }
    for (j = 0; j < nin; j++)
        if (dpo_cu_overlap(ins[j], bytes, work, need) || dpo_cu_overlap(ins[j], bytes, res, sizeof(dpo_pair_result)))
            return DPO_ERR_ALIAS;
    if (dpo_cu_overlap(res, sizeof(dpo_pair_result), work, need))
        return DPO_ERR_ALIAS;
    DPO_CU_ENTRY(); // every loss checks its tensors last, just before launching
    return DPO_OK;
}

// Stage 1 + combine of NS sums over n elements into hdr[0, NS).
template <int NS, class Op>
static dpo_status dpo_cu_loss_sums(void *work, size_t n, const Op &op, cudaStream_t st)
{
    double *hdr = (double *)work, *parts = hdr + DPO_CU_HDR;
    size_t nblk = dpo_cu_nblk(n);
    double *tmp = parts + DPO_CU_NSUM_MAX * nblk;
    dpo_status s = dpo_cu_partials<NS>(parts, 1, n, op, st);
    if (s)
        return s;
    return dpo_cu_combine(hdr, parts, tmp, NS, nblk, st);
}

#define DPO_CU_GRID(n) dpo_cu_blocks((n), DPO_CU_THREADS), DPO_CU_THREADS, 0, st

static dpo_status dpo_cu_lr_pair(int is_d3po, dpo_pair_result *res, float *gw, float *gl, const float *xw,
                                 const float *mw, const float *rw, const float *xl, const float *ml, const float *rl,
                                 size_t n, dpo_pair_params p, int label, dpo_clip_params q, void *work,
                                 size_t work_size, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    const void *ins[6];
    void *outs[2];
    dpo_status s;
    LrPairOp op;
    double *hdr = (double *)work;
    ins[0] = xw, ins[1] = mw, ins[2] = rw, ins[3] = xl, ins[4] = ml, ins[5] = rl;
    outs[0] = gw, outs[1] = gl;
    if (!res)
        return DPO_ERR_NULL;
    // the parameter rules of src/core/dpo_rules.h, as the CPU losses
    if ((s = is_d3po ? dpo_rule_clip_params_status(q, label) : dpo_rule_dpo_params_status(p)) != DPO_OK)
        return s;
    if ((s = dpo_cu_loss_tensors(ins, 6, outs, 2, n, res, work, work_size)) != DPO_OK)
        return s;
    op.xw = xw, op.mw = mw, op.rw = rw, op.xl = xl, op.ml = ml, op.rl = rl;
    if ((s = dpo_cu_loss_sums<2>(work, n, op, st)) != DPO_OK)
        return s;
    if (is_d3po)
        DPO_CU_LAUNCH(dpo_k_d3po_fin, (1, 1, 0, st), res, hdr, (double)n, label, q);
    else
        DPO_CU_LAUNCH(dpo_k_stepdpo_fin, (1, 1, 0, st), res, hdr, (double)n, p);
    DPO_CU_LAUNCHED();
    if (gw) {
        DPO_CU_LAUNCH(dpo_k_grad_diff, (DPO_CU_GRID(n)), gw, xw, mw, n, hdr, 4);
        DPO_CU_LAUNCHED();
    }
    if (gl) {
        DPO_CU_LAUNCH(dpo_k_grad_diff, (DPO_CU_GRID(n)), gl, xl, ml, n, hdr, 5);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}

extern "C" dpo_status dpo_cuda_stepdpo_f32(dpo_pair_result *d_res, float *d_g_mu_w, float *d_g_mu_l,
                                           const float *d_x_w, const float *d_mu_w, const float *d_mu_ref_w,
                                           const float *d_x_l, const float *d_mu_l, const float *d_mu_ref_l,
                                           size_t n, dpo_pair_params p, void *d_work, size_t work_size, void *stream)
{
    dpo_clip_params q;
    memset(&q, 0, sizeof q);
    return dpo_cu_lr_pair(0, d_res, d_g_mu_w, d_g_mu_l, d_x_w, d_mu_w, d_mu_ref_w, d_x_l, d_mu_l, d_mu_ref_l, n, p,
                          0, q, d_work, work_size, stream);
}

extern "C" dpo_status dpo_cuda_d3po_code_f32(dpo_pair_result *d_res, float *d_g_mu_0, float *d_g_mu_1,
                                             const float *d_x_0, const float *d_mu_0, const float *d_mu_ref_0,
                                             const float *d_x_1, const float *d_mu_1, const float *d_mu_ref_1,
                                             size_t n, int label, dpo_clip_params p, void *d_work, size_t work_size,
                                             void *stream)
{
    dpo_pair_params q;
    memset(&q, 0, sizeof q);
    return dpo_cu_lr_pair(1, d_res, d_g_mu_0, d_g_mu_1, d_x_0, d_mu_0, d_mu_ref_0, d_x_1, d_mu_1, d_mu_ref_1, n, q,
                          label, p, d_work, work_size, stream);
}

extern "C" dpo_status dpo_cuda_rdpo_f32(dpo_pair_result *d_res, float *d_g_mu, const float *d_x_w,
                                        const float *d_x_l, const float *d_mu, const float *d_mu_ref, size_t n,
                                        dpo_rdpo_params p, void *d_work, size_t work_size, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    const void *ins[4];
    void *outs[1];
    dpo_status s;
    SharedOp op;
    double *hdr = (double *)d_work;
    ins[0] = d_x_w, ins[1] = d_x_l, ins[2] = d_mu, ins[3] = d_mu_ref;
    outs[0] = d_g_mu;
    if (!d_res)
        return DPO_ERR_NULL;
    if ((s = dpo_rule_rdpo_params_status(p)) != DPO_OK)
        return s;
    if ((s = dpo_cu_loss_tensors(ins, 4, outs, 1, n, d_res, d_work, work_size)) != DPO_OK)
        return s;
    op.xw = d_x_w, op.xl = d_x_l, op.mu = d_mu, op.mr = d_mu_ref;
    if ((s = dpo_cu_loss_sums<3>(d_work, n, op, st)) != DPO_OK)
        return s;
    DPO_CU_LAUNCH(dpo_k_rdpo_fin, (1, 1, 0, st), d_res, hdr, (double)n, p);
    DPO_CU_LAUNCHED();
    if (d_g_mu) {
        DPO_CU_LAUNCH(dpo_k_grad2, (DPO_CU_GRID(n)), d_g_mu, d_x_w, d_x_l, d_mu, n, hdr);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}

// TailorPO is RDPO with lambda = 0, as on the CPU.
extern "C" dpo_status dpo_cuda_tailorpo_f32(dpo_pair_result *d_res, float *d_g_mu, const float *d_x_w,
                                            const float *d_x_l, const float *d_mu, const float *d_mu_ref, size_t n,
                                            dpo_pair_params p, void *d_work, size_t work_size, void *stream)
{
    dpo_rdpo_params q;
    if (!dpo_rule_mode_ok(p.mode) || !dpo_rule_pos_finite(p.beta))
        return DPO_ERR_RANGE;
    q.beta = p.beta;
    q.lambda = 0.0;
    q.sigma = p.sigma;
    q.mode = p.mode;
    q.variant = DPO_RDPO_PRINTED;
    return dpo_cuda_rdpo_f32(d_res, d_g_mu, d_x_w, d_x_l, d_mu, d_mu_ref, n, q, d_work, work_size, stream);
}

static dpo_status dpo_cu_eps_check(const float *const *in, float *gw, float *gl, size_t n, const void *res,
                                   const void *work, size_t work_size)
{
    const void *ins[6];
    void *outs[2];
    int i;
    for (i = 0; i < 6; i++)
        ins[i] = in[i];
    outs[0] = gw, outs[1] = gl;
    return dpo_cu_loss_tensors(ins, 6, outs, 2, n, res, work, work_size);
}

extern "C" dpo_status dpo_cuda_diffdpo_f32(dpo_pair_result *d_res, float *d_g_w, float *d_g_l, const float *d_eps_w,
                                           const float *d_eps_l, const float *d_eth_w, const float *d_eref_w,
                                           const float *d_eth_l, const float *d_eref_l, size_t n, dpo_eps_params p,
                                           void *d_work, size_t work_size, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    const float *in[6];
    dpo_status s;
    ErrOp op;
    double *hdr = (double *)d_work;
    in[0] = d_eps_w, in[1] = d_eps_l, in[2] = d_eth_w, in[3] = d_eref_w, in[4] = d_eth_l, in[5] = d_eref_l;
    if (!d_res)
        return DPO_ERR_NULL;
    if ((s = dpo_rule_eps_params_status(p)) != DPO_OK)
        return s;
    if ((s = dpo_cu_eps_check(in, d_g_w, d_g_l, n, d_res, d_work, work_size)) != DPO_OK)
        return s;
    op.ew = d_eps_w, op.el = d_eps_l, op.tw = d_eth_w, op.rw = d_eref_w, op.tl = d_eth_l, op.rl = d_eref_l;
    if ((s = dpo_cu_loss_sums<2>(d_work, n, op, st)) != DPO_OK)
        return s;
    DPO_CU_LAUNCH(dpo_k_diffdpo_fin, (1, 1, 0, st), d_res, hdr, (double)n, p);
    DPO_CU_LAUNCHED();
    if (d_g_w) {
        DPO_CU_LAUNCH(dpo_k_grad_diff, (DPO_CU_GRID(n)), d_g_w, d_eth_w, d_eps_w, n, hdr, 4);
        DPO_CU_LAUNCHED();
    }
    if (d_g_l) {
        DPO_CU_LAUNCH(dpo_k_grad_diff, (DPO_CU_GRID(n)), d_g_l, d_eth_l, d_eps_l, n, hdr, 5);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}

extern "C" dpo_status dpo_cuda_dspo_f32(dpo_pair_result *d_res, float *d_g_w, float *d_g_l, const float *d_eps_w,
                                        const float *d_eps_l, const float *d_eth_w, const float *d_eref_w,
                                        const float *d_eth_l, const float *d_eref_l, size_t n, dpo_dspo_params p,
                                        void *d_work, size_t work_size, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    const float *in[6];
    dpo_status s;
    ErrOp op;
    DspoOp op2;
    double *hdr = (double *)d_work;
    in[0] = d_eps_w, in[1] = d_eps_l, in[2] = d_eth_w, in[3] = d_eref_w, in[4] = d_eth_l, in[5] = d_eref_l;
    if (!d_res)
        return DPO_ERR_NULL;
    if ((s = dpo_rule_dspo_params_status(p)) != DPO_OK)
        return s;
    if ((s = dpo_cu_eps_check(in, d_g_w, d_g_l, n, d_res, d_work, work_size)) != DPO_OK)
        return s;
    op.ew = d_eps_w, op.el = d_eps_l, op.tw = d_eth_w, op.rw = d_eref_w, op.tl = d_eth_l, op.rl = d_eref_l;
    if ((s = dpo_cu_loss_sums<2>(d_work, n, op, st)) != DPO_OK)
        return s;
    DPO_CU_LAUNCH(dpo_k_dspo_pre, (1, 1, 0, st), hdr, (double)n, p);
    DPO_CU_LAUNCHED();
    op2.ew = d_eps_w, op2.tw = d_eth_w, op2.rw = d_eref_w, op2.hdr = hdr;
    if ((s = dpo_cu_loss_sums<2>(d_work, n, op2, st)) != DPO_OK)
        return s;
    DPO_CU_LAUNCH(dpo_k_dspo_post, (1, 1, 0, st), d_res, hdr, (double)n, p);
    DPO_CU_LAUNCHED();
    if (d_g_w) {
        DPO_CU_LAUNCH(dpo_k_dspo_gw, (DPO_CU_GRID(n)), d_g_w, d_eps_w, d_eth_w, d_eref_w, n, hdr);
        DPO_CU_LAUNCHED();
    }
    if (d_g_l) {
        DPO_CU_LAUNCH(dpo_k_grad_diff, (DPO_CU_GRID(n)), d_g_l, d_eth_l, d_eps_l, n, hdr, 3);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}
