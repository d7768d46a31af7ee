// CUDA driver of the fused DDIM / DDPM step with log-probability: one pass
// over x_t, the model output and the noise (given, or generated in the
// kernel from Philox coordinates) writes x_prev, x0, mu and the squared
// deviations' 64-element block partials; the canonical tree then combines
// them per row and one thread per row finishes the log-density.  Element
// math: dpo_step_elem_f32, dpo_lp_term, dpo_lp_finish (src/core/dpo_ddim.h),
// dpo_normal4 (src/core/dpo_philox.h) -- the functions src/step.c,
// src/philox.c and src/rollout.c call.
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"
#include "../src/core/dpo_ddim.h"
#include "../src/core/dpo_philox.h"
#include "../src/core/dpo_rules.h"

namespace {
struct StepOp {
    float *xp, *x0, *mu;
    const float *x, *eo, *noise;
    dpo_step_coef_f32 c;
    dpo_noise_coord nc;
    size_t dim;
    int philox, vec;

    // Elements e .. e + cnt - 1 of row `row` (e a multiple of 4); t[0][l]
    // receives the log-density term (x_prev - mu)^2 in double.
    __device__ void quad(double t[][4], size_t row, size_t e, int cnt) const
    {
        size_t o = row * dim + e;
        float xi[4], ei[4], zi[4], po[4], ao[4], mo[4];
        int l;
        if (vec && cnt == 4) {
            float4 a = *(const float4 *)(x + o), b = *(const float4 *)(eo + o);
            xi[0] = a.x, xi[1] = a.y, xi[2] = a.z, xi[3] = a.w;
            ei[0] = b.x, ei[1] = b.y, ei[2] = b.z, ei[3] = b.w;
        } else {
            for (l = 0; l < 4; l++) {
                xi[l] = l < cnt ? x[o + l] : 0.0f;
                ei[l] = l < cnt ? eo[o + l] : 0.0f;
            }
        }
        if (philox) {
            double z[4];
            dpo_normal4(z, nc.seed, nc.stream, nc.sample + (uint32_t)row, nc.step, nc.candidate, (uint32_t)(e >> 2));
            for (l = 0; l < 4; l++)
                zi[l] = (float)z[l];
        } else if (noise) {
            if (vec && cnt == 4) {
                float4 z = *(const float4 *)(noise + o);
                zi[0] = z.x, zi[1] = z.y, zi[2] = z.z, zi[3] = z.w;
            } else
                for (l = 0; l < 4; l++)
                    zi[l] = l < cnt ? noise[o + l] : 0.0f;
        } else
            for (l = 0; l < 4; l++)
                zi[l] = 0.0f;
        for (l = 0; l < 4; l++) {
            po[l] = dpo_step_elem_f32(&ao[l], &mo[l], xi[l], ei[l], zi[l], &c);
            t[0][l] = dpo_lp_term((double)po[l], (double)mo[l]);
        }
        if (vec && cnt == 4) {
            if (xp)
                *(float4 *)(xp + o) = make_float4(po[0], po[1], po[2], po[3]);
            if (x0)
                *(float4 *)(x0 + o) = make_float4(ao[0], ao[1], ao[2], ao[3]);
            if (mu)
                *(float4 *)(mu + o) = make_float4(mo[0], mo[1], mo[2], mo[3]);
        } else {
            for (l = 0; l < cnt; l++) {
                if (xp)
                    xp[o + l] = po[l];
                if (x0)
                    x0[o + l] = ao[l];
                if (mu)
                    mu[o + l] = mo[l];
            }
        }
    }
};

struct LpOp {
    const float *xp, *mu;
    size_t dim;
    __device__ void quad(double t[][4], size_t row, size_t e, int cnt) const
    {
        size_t o = row * dim + e;
        for (int l = 0; l < 4; l++)
            if (l < cnt)
                t[0][l] = dpo_lp_term((double)xp[o + l], (double)mu[o + l]);
    }
};
} // namespace

// The step without a log-density: one thread per quad.
static __global__ void dpo_k_step_map(StepOp op, size_t batch)
{
    size_t q = (op.dim + 3) / 4, total = batch * q;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    double t[1][4];
    for (; idx < total; idx += stride) {
        size_t r = idx / q, e = 4 * (idx % q);
        int cnt = op.dim - e < 4 ? (int)(op.dim - e) : 4;
        op.quad(t, r, e, cnt);
    }
}

// log-density of each row from its canonical sum (one thread per row).
static __global__ void dpo_k_lp_finish(double *out, const double *sums, size_t batch, size_t dim, float sigma, int mode)
{
    size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r < batch) {
        double s = (double)sigma;
        out[r] = dpo_lp_finish(sums[r], (double)dim, s, dpo_log(s), mode);
    }
}

static int dpo_cu_shape_ok(size_t batch, size_t dim)
{
    return batch && dim && dim <= DPO_MAX_ELEMS && batch <= DPO_MAX_ELEMS / dim;
}

extern "C" size_t dpo_cuda_step_workspace_size(size_t batch, size_t dim)
{
    size_t nblk;
    if (!dpo_cu_shape_ok(batch, dim))
        return 0;
    nblk = dpo_cu_nblk(dim);
    return (batch * nblk + dpo_cu_combine_tmp(batch, nblk) + batch) * sizeof(double);
}

// Canonical sums of rows' partials, then the log-density.
static dpo_status dpo_cu_lp_tail(double *logp, double *parts, size_t batch, size_t dim, float sigma, int mode,
                                 cudaStream_t st)
{
    size_t nblk = dpo_cu_nblk(dim);
    double *tmp = parts + batch * nblk;
    double *sums = tmp + dpo_cu_combine_tmp(batch, nblk);
    dpo_status s = dpo_cu_combine(sums, parts, tmp, batch, nblk, st);
    if (s)
        return s;
    DPO_CU_LAUNCH(dpo_k_lp_finish, ((unsigned)((batch + 127) / 128), 128, 0, st), logp, sums, batch, dim, sigma, mode);
    DPO_CU_LAUNCHED();
    return DPO_OK;
}

// Outputs: each either identical to an input (in place) or disjoint from
// all; outputs, the log-densities and the workspace pairwise disjoint.
static dpo_status dpo_cu_step_alias(const void *const *outs, const void *const *ins, size_t bytes, const void *logp,
                                    size_t lpb, const void *work, size_t wb)
{
    int i, j;
    for (i = 0; i < 3; i++) {
        if (!outs[i])
            continue;
        for (j = 0; j < 3; j++)
            if (ins[j] && outs[i] != ins[j] && dpo_cu_overlap(outs[i], bytes, ins[j], bytes))
                return DPO_ERR_ALIAS;
        for (j = i + 1; j < 3; j++)
            if (outs[j] && dpo_cu_overlap(outs[i], bytes, outs[j], bytes))
                return DPO_ERR_ALIAS;
        if (dpo_cu_overlap(outs[i], bytes, logp, lpb) || dpo_cu_overlap(outs[i], bytes, work, wb))
            return DPO_ERR_ALIAS;
    }
    for (j = 0; j < 3; j++)
        if (ins[j] && (dpo_cu_overlap(ins[j], bytes, logp, lpb) || dpo_cu_overlap(ins[j], bytes, work, wb)))
            return DPO_ERR_ALIAS;
    if (dpo_cu_overlap(logp, lpb, work, wb))
        return DPO_ERR_ALIAS;
    return DPO_OK;
}

static dpo_status dpo_cu_step(float *xp, float *x0, float *mu, double *logp, const float *x, const float *eo,
                              const float *noise, int philox, dpo_noise_coord nc, size_t batch, size_t dim,
                              const dpo_step_coef_f32 *c, dpo_logprob_mode mode, void *work, size_t work_size,
                              void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    const void *outs[3], *ins[3];
    size_t need = 0, bytes;
    StepOp op;
    dpo_status s;
    if (!x || !eo || !c)
        return DPO_ERR_NULL;
    if (!dpo_cu_shape_ok(batch, dim))
        return DPO_ERR_SIZE;
    if (!philox && !noise && c->sigma != 0)
        return DPO_ERR_NULL;
    /* a coefficient struct as the CPU step accepts it (docs/errors.md) */
    if (!DPO_RULE_STEP_COEF_OK(c, dpo_pm_isfinite))
        return DPO_ERR_RANGE;
    if (philox && (s = dpo_rule_coord_rows_status(nc, batch, dim)) != DPO_OK)
        return s;
    if (logp) {
        if (!dpo_rule_mode_ok(mode))
            return DPO_ERR_RANGE;
        if (!((double)c->sigma > 0))
            return DPO_ERR_SIGMA_ZERO;
        need = dpo_cuda_step_workspace_size(batch, dim);
        if (!work || work_size < need || ((uintptr_t)work % sizeof(double)))
            return DPO_ERR_WORKSPACE;
    }
    bytes = batch * dim * sizeof(float);
    outs[0] = xp, outs[1] = x0, outs[2] = mu;
    ins[0] = x, ins[1] = eo, ins[2] = philox ? NULL : noise;
    if ((s = dpo_cu_step_alias(outs, ins, bytes, logp, logp ? batch * sizeof(double) : 0, logp ? work : NULL,
                               need)) != DPO_OK)
        return s;
    DPO_CU_ENTRY();
    op.xp = xp, op.x0 = x0, op.mu = mu;
    op.x = x, op.eo = eo, op.noise = philox ? NULL : noise;
    op.c = *c;
    op.nc = nc;
    op.dim = dim;
    op.philox = philox;
    op.vec = dim % 4 == 0;
    for (int i = 0; i < 3; i++) {
        if (outs[i] && (uintptr_t)outs[i] % 16)
            op.vec = 0;
        if (ins[i] && (uintptr_t)ins[i] % 16)
            op.vec = 0;
    }
    if (!logp) {
        DPO_CU_LAUNCH(dpo_k_step_map, (dpo_cu_blocks(batch * ((dim + 3) / 4), DPO_CU_THREADS), DPO_CU_THREADS, 0, st),
                      op, batch);
        DPO_CU_LAUNCHED();
        return DPO_OK;
    }
    if ((s = dpo_cu_partials<1>((double *)work, batch, dim, op, st)) != DPO_OK)
        return s;
    return dpo_cu_lp_tail(logp, (double *)work, batch, dim, c->sigma, (int)mode, st);
}

extern "C" dpo_status dpo_cuda_step_f32(float *d_x_prev, float *d_x0, float *d_mu, double *d_logp, const float *d_x,
                                        const float *d_model_out, const float *d_noise, size_t batch, size_t dim,
                                        const dpo_step_coef_f32 *c, dpo_logprob_mode mode, void *d_work,
                                        size_t work_size, void *stream)
{
    dpo_noise_coord nc;
    memset(&nc, 0, sizeof nc);
    return dpo_cu_step(d_x_prev, d_x0, d_mu, d_logp, d_x, d_model_out, d_noise, 0, nc, batch, dim, c, mode, d_work,
                       work_size, stream);
}

extern "C" dpo_status dpo_cuda_step_philox_f32(float *d_x_prev, float *d_x0, float *d_mu, double *d_logp,
                                               const float *d_x, const float *d_model_out, dpo_noise_coord nc,
                                               size_t batch, size_t dim, const dpo_step_coef_f32 *c,
                                               dpo_logprob_mode mode, void *d_work, size_t work_size, void *stream)
{
    return dpo_cu_step(d_x_prev, d_x0, d_mu, d_logp, d_x, d_model_out, NULL, 1, nc, batch, dim, c, mode, d_work,
                       work_size, stream);
}

extern "C" dpo_status dpo_cuda_step_logprob_f32(double *d_out, const float *d_x_prev, const float *d_mu, size_t batch,
                                                size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode,
                                                void *d_work, size_t work_size, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t need, ib;
    LpOp op;
    dpo_status s;
    if (!d_out || !d_x_prev || !d_mu || !c)
        return DPO_ERR_NULL;
    if (!dpo_cu_shape_ok(batch, dim))
        return DPO_ERR_SIZE;
    if (!dpo_rule_mode_ok(mode))
        return DPO_ERR_RANGE;
    if ((s = dpo_rule_logprob_sigma_status((double)c->sigma)) != DPO_OK)
        return s;
    need = dpo_cuda_reduce_workspace_size(batch, dim);
    if (!d_work || work_size < need || ((uintptr_t)d_work % sizeof(double)))
        return DPO_ERR_WORKSPACE;
    ib = batch * dim * sizeof(float);
    if (dpo_cu_overlap(d_out, batch * sizeof(double), d_x_prev, ib) ||
        dpo_cu_overlap(d_out, batch * sizeof(double), d_mu, ib) ||
        dpo_cu_overlap(d_out, batch * sizeof(double), d_work, need) || dpo_cu_overlap(d_work, need, d_x_prev, ib) ||
        dpo_cu_overlap(d_work, need, d_mu, ib))
        return DPO_ERR_ALIAS;
    DPO_CU_ENTRY();
    op.xp = d_x_prev;
    op.mu = d_mu;
    op.dim = dim;
    if ((s = dpo_cu_partials<1>((double *)d_work, batch, dim, op, st)) != DPO_OK)
        return s;
    return dpo_cu_lp_tail(d_out, (double *)d_work, batch, dim, c->sigma, (int)mode, st);
}
