// Strict matrix product on the device: the bits of dpo_matmul_f32
// (src/model/matmul.c).  Each output element is owned by one thread, which
// accumulates the exact float x float products op(A)[i][p] op(B)[p][j] in
// double in ascending p (from 0, or from C widened), then rounds once to
// float.  Tiles of op(A) and op(B) are staged in shared memory only to
// share loads; they never split or reorder a chain.  The product of two
// floats is exact in double, so -fmad=false or not, every partial sum is
// the CPU's.
//
// Loads: consecutive threads (tx) read consecutive addresses of the stored
// matrix whatever the transposes (a transposed operand is read along its
// stored rows and written to the tile transposed), so a half-warp touches
// one or two 32-byte sectors instead of sixteen.  The tiles hold doubles,
// each float widened once when it is staged, so the inner loop is one
// double multiply-add pair per step with no conversions; the operands and
// the order of the additions are unchanged, and so are the bits.
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda_model.h"
#include "../src/internal.h"

#define MMS_TILE 16

__global__ void dpo_k_matmul_strict(float *C, const float *A, const float *B, unsigned m, unsigned k, unsigned n,
                                    int ta, int tb, int acc)
{
    __shared__ double as[MMS_TILE][MMS_TILE + 1];
    __shared__ double bs[MMS_TILE][MMS_TILE + 1];
    const unsigned tx = threadIdx.x, ty = threadIdx.y;
    const unsigned mt = (m + MMS_TILE - 1) / MMS_TILE, nt = (n + MMS_TILE - 1) / MMS_TILE;
    for (unsigned by = blockIdx.y; by < mt; by += gridDim.y) {
        for (unsigned bx = blockIdx.x; bx < nt; bx += gridDim.x) {
            const unsigned i = by * MMS_TILE + ty, j = bx * MMS_TILE + tx;
            const bool own = i < m && j < n;
            double s = (acc && own) ? (double)C[(size_t)i * n + j] : 0.0;
            for (unsigned p0 = 0; p0 < k; p0 += MMS_TILE) {
                // as[r][q] = op(A)[by*T + r][p0 + q]; bs[q][c] = op(B)[p0 + q][bx*T + c],
                // each thread loading the element at column tx of row ty of
                // the stored block (contiguous in tx).
                {
                    if (!ta) { // A stored m x k: row by*T + ty, column p0 + tx
                        const unsigned ai = by * MMS_TILE + ty, ap = p0 + tx;
                        as[ty][tx] = ai < m && ap < k ? (double)A[(size_t)ai * k + ap] : 0.0;
                    } else { // A stored k x m: row p0 + ty, column by*T + tx
                        const unsigned ap = p0 + ty, ai = by * MMS_TILE + tx;
                        as[tx][ty] = ai < m && ap < k ? (double)A[(size_t)ap * m + ai] : 0.0;
                    }
                    if (!tb) { // B stored k x n: row p0 + ty, column bx*T + tx
                        const unsigned bp = p0 + ty, bj = bx * MMS_TILE + tx;
                        bs[ty][tx] = bp < k && bj < n ? (double)B[(size_t)bp * n + bj] : 0.0;
                    } else { // B stored n x k: row bx*T + ty, column p0 + tx
                        const unsigned bj = bx * MMS_TILE + ty, bp = p0 + tx;
                        bs[tx][ty] = bp < k && bj < n ? (double)B[(size_t)bj * k + bp] : 0.0;
                    }
                }
                __syncthreads();
                const unsigned pe = k - p0 < MMS_TILE ? k - p0 : MMS_TILE;
                for (unsigned q = 0; q < pe; q++)
                    s += as[ty][q] * bs[q][tx];
                __syncthreads();
            }
            if (own)
                C[(size_t)i * n + j] = (float)s;
        }
    }
}

// The one launch of this file (a host-emulation build may predefine it).
#ifndef MMS_LAUNCH
#define MMS_LAUNCH(grid, block, st, ...)                                                                              \
    do {                                                                                                              \
        DPO_CU_LAUNCH(dpo_k_matmul_strict, ((grid), (block), 0, (st)), __VA_ARGS__);                                  \
        DPO_CU_LAUNCHED();                                                                                            \
    } while (0)
#endif

extern "C" dpo_status dpo_cuda_matmul_strict(float *d_C, const float *d_A, const float *d_B, size_t m, size_t k,
                                           size_t n, int ta, int tb, int accumulate, void *stream)
{
    const size_t lim = (size_t)1 << 31, f = sizeof(float);
    if (!d_C)
        return DPO_ERR_NULL;
    if (k && (!d_A || !d_B))
        return DPO_ERR_NULL;
    if (m == 0 || n == 0 || m >= lim || n >= lim || k >= lim)
        return DPO_ERR_SIZE;
    if (m * n > DPO_MAX_ELEMS || m * k > DPO_MAX_ELEMS || k * n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if (((uintptr_t)d_C | (uintptr_t)d_A | (uintptr_t)d_B) % f)
        return DPO_ERR_RANGE;
    if (k && (dpo_overlap(d_C, m * n * f, d_A, m * k * f) || dpo_overlap(d_C, m * n * f, d_B, k * n * f)))
        return DPO_ERR_ALIAS;
    if (k == 0 && accumulate)
        return DPO_OK; // C unchanged, as on the CPU
    DPO_CU_ENTRY();
    cudaStream_t st = (cudaStream_t)stream;
    if (k == 0) {
        DPO_CU(cudaMemsetAsync(d_C, 0, m * n * f, st));
        return DPO_OK;
    }
    size_t mt = (m + MMS_TILE - 1) / MMS_TILE, nt = (n + MMS_TILE - 1) / MMS_TILE;
    dim3 block(MMS_TILE, MMS_TILE);
    dim3 grid((unsigned)(nt < 65535u * 32u ? nt : 65535u * 32u), (unsigned)(mt < 65535u ? mt : 65535u));
    MMS_LAUNCH(grid, block, st, d_C, d_A, d_B, (unsigned)m, (unsigned)k, (unsigned)n, ta ? 1 : 0, tb ? 1 : 0,
               accumulate ? 1 : 0);
    return DPO_OK;
}
