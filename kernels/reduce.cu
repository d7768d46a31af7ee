// CUDA driver of the canonical-tree reductions: the pairwise level combine,
// the one-thread-per-row tree finish, and the public sum-of-squares / dot
// product entry points.  Element math: src/core/dpo_reduce.h.
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"

// One level of the canonical tree: adjacent pairs (0,1), (2,3), ... added,
// an odd last partial carried unchanged.
static __global__ void dpo_k_level(double *out, const double *in, size_t nrows, size_t m)
{
    size_t m2 = (m + 1) / 2, total = nrows * m2;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    for (; idx < total; idx += stride) {
        size_t r = idx / m2, i = idx % m2;
        const double *p = in + r * m;
        out[idx] = 2 * i + 1 < m ? p[2 * i] + p[2 * i + 1] : p[2 * i];
    }
}

// The remaining levels of the tree (m <= DPO_CU_TREE_MAX partials a row):
// one CTA per row (grid-stride over rows), the row staged in shared memory,
// then level by level thread i forms pair i of the level -- the additions of
// dpo_k_level, so the bits of the CPU's dpo_tree_push / dpo_tree_result
// (tests/test_reduce.c shows the stack form equals the level form).  Each
// thread does at most one addition per level (at most 10 levels), with no
// per-thread stack: the CPU's 64-entry dpo_tree in a thread would need a
// 1 KB local-memory frame and up to 1,024 serial pushes.  blockDim.x must be
// at least ceil(m / 2).
static __global__ void dpo_k_tree(double *out, const double *in, size_t nrows, size_t m)
{
    __shared__ double sh[DPO_CU_TREE_MAX];
    const unsigned i = threadIdx.x;
    for (size_t r = blockIdx.x; r < nrows; r += gridDim.x) {
        for (size_t j = i; j < m; j += blockDim.x)
            sh[j] = in[r * m + j];
        __syncthreads();
        for (size_t len = m; len > 1; len = (len + 1) / 2) {
            const size_t half = (len + 1) / 2;
            double v = 0.0;
            if (i < half)
                v = 2 * i + 1 < len ? sh[2 * i] + sh[2 * i + 1] : sh[2 * i];
            __syncthreads(); // every pair read before any is overwritten
            if (i < half)
                sh[i] = v;
            __syncthreads();
        }
        if (i == 0)
            out[r] = sh[0];
        __syncthreads(); // sh[0] read before the next row is staged
    }
}

dpo_status dpo_cu_combine(double *out, double *parts, double *tmp, size_t nrows, size_t npart, cudaStream_t st)
{
    double *cur = parts, *other = tmp;
    size_t m = npart;
    while (m > DPO_CU_TREE_MAX) {
        size_t total = nrows * ((m + 1) / 2);
        double *sw;
        DPO_CU_LAUNCH(dpo_k_level, (dpo_cu_blocks(total, DPO_CU_THREADS), DPO_CU_THREADS, 0, st), other, cur, nrows, m);
        DPO_CU_LAUNCHED();
        sw = cur;
        cur = other;
        other = sw;
        m = (m + 1) / 2;
    }
    {
        // ceil(m / 2) threads rounded up to whole warps; rows on grid.x
        unsigned nt = (unsigned)(((m + 1) / 2 + 31) / 32 * 32);
        unsigned nb = nrows < 65535u * 16u ? (unsigned)nrows : 65535u * 16u;
        DPO_CU_LAUNCH(dpo_k_tree, (nb, nt, 0, st), out, cur, nrows, m);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}

namespace {
struct SumsqOp {
    const float *x;
    size_t dim;
    __device__ void quad(double t[][4], size_t row, size_t e, int cnt) const
    {
        const float *p = x + row * dim + e;
        for (int l = 0; l < 4; l++)
            if (l < cnt) {
                double v = (double)p[l];
                t[0][l] = v * v;
            }
    }
};

struct DotOp {
    const float *a, *b;
    size_t dim;
    __device__ void quad(double t[][4], size_t row, size_t e, int cnt) const
    {
        size_t o = row * dim + e;
        for (int l = 0; l < 4; l++)
            if (l < cnt)
                t[0][l] = (double)a[o + l] * (double)b[o + l];
    }
};
} // namespace

static int dpo_cu_shape_ok(size_t batch, size_t dim)
{
    return batch && dim && dim <= DPO_MAX_ELEMS && batch <= DPO_MAX_ELEMS / dim;
}

extern "C" size_t dpo_cuda_reduce_workspace_size(size_t batch, size_t dim)
{
    size_t nblk;
    if (!dpo_cu_shape_ok(batch, dim))
        return 0;
    nblk = dpo_cu_nblk(dim);
    return (batch * nblk + dpo_cu_combine_tmp(batch, nblk) + batch) * sizeof(double);
}

// Common checks of the reductions: shapes, workspace, output disjoint from
// inputs and workspace.
static dpo_status dpo_cu_reduce_check(const double *out, const void *const *in, int nin, size_t batch, size_t dim,
                                      const void *work, size_t work_size)
{
    int i;
    size_t need, ob, ib;
    if (!out || !work)
        return !out ? DPO_ERR_NULL : DPO_ERR_WORKSPACE;
    for (i = 0; i < nin; i++)
        if (!in[i])
            return DPO_ERR_NULL;
    if (!dpo_cu_shape_ok(batch, dim))
        return DPO_ERR_SIZE;
    need = dpo_cuda_reduce_workspace_size(batch, dim);
    if (work_size < need || ((uintptr_t)work % sizeof(double)))
        return DPO_ERR_WORKSPACE;
    ob = batch * sizeof(double);
    ib = batch * dim * sizeof(float);
    for (i = 0; i < nin; i++)
        if (dpo_cu_overlap(out, ob, in[i], ib) || dpo_cu_overlap(work, need, in[i], ib))
            return DPO_ERR_ALIAS;
    if (dpo_cu_overlap(out, ob, work, need))
        return DPO_ERR_ALIAS;
    DPO_CU_ENTRY();
    return DPO_OK;
}

template <class Op>
static dpo_status dpo_cu_rowsum(double *out, size_t batch, size_t dim, const Op &op, void *work, cudaStream_t st)
{
    size_t nblk = dpo_cu_nblk(dim);
    double *parts = (double *)work, *tmp = parts + batch * nblk;
    dpo_status s = dpo_cu_partials<1>(parts, batch, dim, op, st);
    if (s)
        return s;
    return dpo_cu_combine(out, parts, tmp, batch, nblk, st);
}

extern "C" dpo_status dpo_cuda_sumsq_f32(double *d_out, const float *d_x, size_t batch, size_t dim, void *d_work,
                                         size_t work_size, void *stream)
{
    const void *in[1];
    SumsqOp op;
    dpo_status s;
    in[0] = d_x;
    if ((s = dpo_cu_reduce_check(d_out, in, 1, batch, dim, d_work, work_size)) != DPO_OK)
        return s;
    op.x = d_x;
    op.dim = dim;
    return dpo_cu_rowsum(d_out, batch, dim, op, d_work, (cudaStream_t)stream);
}

extern "C" dpo_status dpo_cuda_dot_f32(double *d_out, const float *d_a, const float *d_b, size_t batch, size_t dim,
                                       void *d_work, size_t work_size, void *stream)
{
    const void *in[2];
    DotOp op;
    dpo_status s;
    in[0] = d_a;
    in[1] = d_b;
    if ((s = dpo_cu_reduce_check(d_out, in, 2, batch, dim, d_work, work_size)) != DPO_OK)
        return s;
    op.a = d_a;
    op.b = d_b;
    op.dim = dim;
    return dpo_cu_rowsum(d_out, batch, dim, op, d_work, (cudaStream_t)stream);
}
