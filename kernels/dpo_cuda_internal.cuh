/* Shared by every kernels/*.cu: maps CUDA failures to dpo_status and checks
 * launches.  Host-side only; kernels themselves call src/core functions. */
#ifndef DPO_CUDA_INTERNAL_CUH
#define DPO_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>
#include "diffpo.h"

/* Evaluates a CUDA runtime call; on failure returns DPO_ERR_CUDA from the
 * enclosing function (which must return dpo_status). */
#define DPO_CU(call)                                                                                                  \
    do {                                                                                                              \
        cudaError_t dpo_cu_err_ = (call);                                                                             \
        if (dpo_cu_err_ != cudaSuccess)                                                                               \
            return DPO_ERR_CUDA;                                                                                      \
    } while (0)

/* Last check of every public entry point, after its host-side argument
 * checks and before its first launch or CUDA call: an error already pending
 * from the caller's earlier CUDA work returns DPO_ERR_CUDA with nothing
 * launched.  cudaPeekAtLastError leaves that error pending, so the caller's
 * own cudaGetLastError still sees it (docs/cuda.md, conventions). */
#define DPO_CU_ENTRY() DPO_CU(cudaPeekAtLastError())

/* After a <<<...>>> launch: a launch-configuration error becomes DPO_ERR_CUDA.
 * DPO_CU_ENTRY() ran first, so the error read (and cleared) here is this
 * call's own.  (Asynchronous execution errors surface at the caller's next
 * synchronising call, as in any stream-ordered API.) */
#define DPO_CU_LAUNCHED() DPO_CU(cudaGetLastError())

/* Launch hook: every kernel launch in kernels/ is
 *   DPO_CU_LAUNCH(kernel, (grid, block, shared_bytes, stream), args...);
 * (a template kernel with a comma goes in parentheses).  Under nvcc it is
 * exactly kernel<<<grid, block, shared_bytes, stream>>>(args...); the CPU
 * emulation (tests/gpu/emu, make test-emu) predefines it. */
#ifndef DPO_CU_LAUNCH
#define DPO_CU_LAUNCH_CFG(...) __VA_ARGS__
#define DPO_CU_LAUNCH(kern, cfg, ...) kern<<<DPO_CU_LAUNCH_CFG cfg>>>(__VA_ARGS__)
#endif

/* Blocks of `threads` covering n items (grid-stride loops cover the rest). */
static inline unsigned dpo_cu_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    if (b > 65535u * 16u)
        b = 65535u * 16u;
    return (unsigned)b;
}


/* ------------------------------------------------------------------------
 * Canonical-tree reductions on the device (no floating-point atomics).
 *
 * Stage 1 (dpo_k_partials): one CTA of DPO_CU_THREADS threads per tile of
 * DPO_CU_TILE elements of one row (16 reduction blocks of 64); each thread
 * handles one quad of 4 consecutive elements (coalesced), computes their
 * NS terms in double through Op::quad and stores them in shared memory;
 * then NS * 16 threads each sum one 64-element block left to right,
 * starting from its first term (exactly dpo_sum_add's block sum), and write
 * the block partial.  Partial layout: parts[(s * rows + row) * nblk + blk].
 * Stage 2 (dpo_cu_combine, kernels/reduce.cu): the partials of each row
 * combined pairwise level by level (ping-pong in scratch) while a row has
 * more than DPO_CU_TREE_MAX partials, then one CTA per row performs the
 * remaining levels in shared memory -- the additions of the CPU's
 * dpo_tree_push / dpo_tree_result (docs/cuda.md). */
#include "../src/core/dpo_reduce.h"
#include "../src/internal.h"

#define DPO_CU_THREADS 256
#define DPO_CU_TILE_BLOCKS 16
#define DPO_CU_TILE (DPO_CU_TILE_BLOCKS * DPO_REDUCE_BLOCK) /* 1024 = 4 * DPO_CU_THREADS */
#define DPO_CU_PAD (DPO_REDUCE_BLOCK + 1)
#define DPO_CU_TREE_MAX 1024
#define DPO_CU_MAX_ROWS_PER_LAUNCH 65535u

static inline size_t dpo_cu_nblk(size_t dim)
{
    return (dim + DPO_REDUCE_BLOCK - 1) / DPO_REDUCE_BLOCK;
}

static inline size_t dpo_cu_ntiles(size_t dim)
{
    return (dim + DPO_CU_TILE - 1) / DPO_CU_TILE;
}

/* Doubles of scratch the combine needs for `rows` rows of npart partials
 * (beyond the partials themselves). */
static inline size_t dpo_cu_combine_tmp(size_t rows, size_t npart)
{
    return npart > DPO_CU_TREE_MAX ? rows * ((npart + 1) / 2) : 0;
}

template <int NS, class Op>
__global__ void __launch_bounds__(DPO_CU_THREADS)
    dpo_k_partials(double *parts, size_t rows, size_t row0, size_t dim, size_t nblk, Op op)
{
    __shared__ double sh[NS][DPO_CU_TILE_BLOCKS * DPO_CU_PAD];
    size_t row = row0 + blockIdx.y;
    size_t tile0 = (size_t)blockIdx.x * DPO_CU_TILE;
    size_t loc = 4u * threadIdx.x;
    size_t e = tile0 + loc;
    double t[NS][4];
    int cnt = 0, s, l;
    if (e < dim) {
        cnt = dim - e < 4 ? (int)(dim - e) : 4;
        op.quad(t, row, e, cnt);
    }
    for (l = 0; l < cnt; l++) {
        size_t q = loc + (size_t)l;
        for (s = 0; s < NS; s++)
            sh[s][(q / DPO_REDUCE_BLOCK) * DPO_CU_PAD + q % DPO_REDUCE_BLOCK] = t[s][l];
    }
    __syncthreads();
    if (threadIdx.x < NS * DPO_CU_TILE_BLOCKS) {
        int sid = (int)threadIdx.x / DPO_CU_TILE_BLOCKS, b = (int)threadIdx.x % DPO_CU_TILE_BLOCKS;
        size_t blk = (size_t)blockIdx.x * DPO_CU_TILE_BLOCKS + (size_t)b;
        if (blk < nblk) {
            size_t first = blk * DPO_REDUCE_BLOCK;
            int len = dim - first < DPO_REDUCE_BLOCK ? (int)(dim - first) : DPO_REDUCE_BLOCK;
            const double *p = &sh[sid][b * DPO_CU_PAD];
            double acc = p[0];
            int j;
            for (j = 1; j < len; j++)
                acc = acc + p[j];
            parts[((size_t)sid * rows + row) * nblk + blk] = acc;
        }
    }
}

/* Launches stage 1 over all rows (chunks of 65535 rows on grid.y). */
template <int NS, class Op>
static dpo_status dpo_cu_partials(double *parts, size_t rows, size_t dim, const Op &op, cudaStream_t st)
{
    size_t nblk = dpo_cu_nblk(dim), r0;
    for (r0 = 0; r0 < rows; r0 += DPO_CU_MAX_ROWS_PER_LAUNCH) {
        size_t nr = rows - r0 < DPO_CU_MAX_ROWS_PER_LAUNCH ? rows - r0 : DPO_CU_MAX_ROWS_PER_LAUNCH;
        dim3 grid((unsigned)dpo_cu_ntiles(dim), (unsigned)nr);
        DPO_CU_LAUNCH((dpo_k_partials<NS, Op>), (grid, DPO_CU_THREADS, 0, st), parts, rows, r0, dim, nblk, op);
        DPO_CU_LAUNCHED();
    }
    return DPO_OK;
}

/* Stage 2: out[r] = canonical combination of parts[r * npart .. + npart),
 * r < nrows.  parts is overwritten; tmp holds dpo_cu_combine_tmp(nrows,
 * npart) doubles (kernels/reduce.cu). */
dpo_status dpo_cu_combine(double *out, double *parts, double *tmp, size_t nrows, size_t npart, cudaStream_t st);

/* Byte ranges [a, a + na) and [b, b + nb) overlap (device addresses). */
static inline int dpo_cu_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    return dpo_overlap(a, na, b, nb);
}

#endif
