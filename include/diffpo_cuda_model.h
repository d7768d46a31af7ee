/* diffpo on the GPU: matrix products and the built-in epsilon-network.
 * Built into the library with `make CUDA=1` (kernels/matmul.cu,
 * kernels/blaslt.cu, kernels/mlp.cu); C99-includable, no CUDA types:
 *   void *stream   a cudaStream_t (NULL: the default stream);
 *   d_*            caller-owned device pointers (cudaMalloc'd, or any
 *                  address the device can read/write);
 * every argument is validated on the host before any launch, every CUDA
 * and cuBLASLt call is checked and mapped to a dpo_status (DPO_ERR_CUDA),
 * and on error the outputs are left untouched.  Calls are stream-ordered:
 * a DPO_OK return means "queued"; an asynchronous device fault surfaces at
 * the caller's next synchronising call.  docs/model.md ("On the GPU") and
 * docs/reproducibility.md ("GPU: matrix-product modes"). */
#ifndef DIFFPO_CUDA_MODEL_H
#define DIFFPO_CUDA_MODEL_H

#include "diffpo.h"
#include "diffpo_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ strict products
 * d_C[i][j] (+)= sum_p op(A)[i][p] op(B)[p][j] with the layout and the
 * contract of dpo_matmul_f32 (diffpo_align.h): each output one double
 * accumulation of the exact products in ascending p from 0 (or from C
 * widened when accumulate), rounded once, so the device gives the CPU's
 * bits for every (ta, tb, accumulate).  m, n >= 1; k = 0 gives zeros (or
 * leaves C when accumulate) and then A, B may be NULL.  m, k, n < 2^31,
 * each matrix < 2^34 elements.  C must not overlap A or B.  No workspace,
 * no allocation. */
dpo_status dpo_cuda_matmul_strict(float *d_C, const float *d_A, const float *d_B, size_t m, size_t k, size_t n,
                                int ta, int tb, int accumulate, void *stream);

/* -------------------------------------------------------- fast products
 * cuBLASLt, through a plan made once for one shape:
 *   - the algorithm is the first answer of cublasLtMatmulAlgoGetHeuristic
 *     under the plan's preference (workspace <= the plan's size,
 *     reduction-scheme mask NONE: no split-K, no atomics; 4-byte minimum
 *     alignment of A, B, C, so any float pointer is served by the same
 *     algorithm), or the caller's pinned one (checked with
 *     cublasLtMatmulAlgoCheck); it is stored in the plan and never chosen
 *     again;
 *   - compute type CUBLAS_COMPUTE_32F (full float32, no TF32) unless
 *     flags has DPO_CUDA_MM_TF32 (CUBLAS_COMPUTE_32F_FAST_TF32);
 *   - alpha = 1, beta = accumulate ? 1 : 0, host pointer mode.
 * Same plan, same inputs, same GPU model and library version: the same
 * bits on every run.  Against dpo_matmul_f32 the result differs by float32
 * rounding of the partial sums (test bound: |fast - cpu| <= (k + 2) 2^-24
 * sum_p |op(A)[i][p] op(B)[p][j]| + 2^-24 |cpu|, without TF32).
 *
 * dpo_cuda_mm_plan_create and _destroy allocate (a cuBLASLt handle and
 * descriptors on the host); they are set-up, not the hot path.
 * dpo_cuda_matmul_fast allocates nothing: its workspace is the caller's
 * device buffer of at least the plan's workspace size, 256-byte aligned. */
typedef struct dpo_cuda_mm_shape {
    size_t m, k, n;       /* C is m x n, the inner dimension k (k >= 1) */
    int ta, tb;           /* A stored k x m / B stored n x k when set */
    int accumulate;       /* C += instead of C = */
} dpo_cuda_mm_shape;

/* A cublasLtMatmulAlgo_t, byte for byte (it is 8 uint64 words): record it,
 * print it, pass it back to pin the same algorithm. */
typedef struct dpo_cuda_mm_algo {
    uint64_t data[8];
} dpo_cuda_mm_algo;

typedef struct dpo_cuda_mm_plan dpo_cuda_mm_plan;

#define DPO_CUDA_MM_TF32 1u
/* Default cuBLASLt workspace of the built-in network's plans (bytes). */
#define DPO_CUDA_MM_WORKSPACE_DEFAULT ((size_t)4 << 20)

/* pin: NULL asks the heuristic; else that algorithm is used.
 * DPO_ERR_UNSUPPORTED when cuBLASLt rejects the pinned algorithm for this
 * shape, when the algorithm (pinned or found) splits K, uses a reduction
 * scheme or needs more than 4-byte alignment of A, B, C or D
 * (CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_*: every float pointer must be served),
 * and when the heuristic has no answer.  The plan records the device
 * current at create and dpo_cuda_matmul_fast runs on it.  *plan is written
 * only on DPO_OK. */
dpo_status dpo_cuda_mm_plan_create(dpo_cuda_mm_plan **plan, const dpo_cuda_mm_shape *shape, size_t workspace_size,
                                 unsigned flags, const dpo_cuda_mm_algo *pin);
void dpo_cuda_mm_plan_destroy(dpo_cuda_mm_plan *plan);
/* The pinned algorithm and the plan's shape and workspace size. */
dpo_status dpo_cuda_mm_plan_algo(dpo_cuda_mm_algo *algo, const dpo_cuda_mm_plan *plan);
dpo_status dpo_cuda_mm_plan_shape(dpo_cuda_mm_shape *shape, size_t *workspace_size, const dpo_cuda_mm_plan *plan);
/* XXH3-64 of the algorithm's 64 bytes. */
uint64_t dpo_cuda_mm_algo_hash(const dpo_cuda_mm_algo *algo);
/* One line: "id=I tile=T stages=S splitk=K reduction=R swizzle=W custom=C
 * inner=N cluster=L hash=XXXXXXXXXXXXXXXX" (the algorithm's configuration
 * attributes; at most 191 characters, so cap = 192 always suffices).
 * DPO_ERR_SIZE when the line does not fit in cap bytes (buf untouched). */
dpo_status dpo_cuda_mm_algo_describe(char *buf, size_t cap, const dpo_cuda_mm_algo *algo);

/* d_C (+)= op(A) op(B) with the plan's shape.  d_C must not overlap d_A,
 * d_B or d_work; pointers 4-byte aligned; d_work >= the plan's workspace
 * size (NULL allowed when that is 0). */
dpo_status dpo_cuda_matmul_fast(const dpo_cuda_mm_plan *plan, float *d_C, const float *d_A, const float *d_B,
                              void *d_work, size_t work_size, void *stream);

/* ------------------------------------------- the epsilon-network on the GPU
 * The network of diffpo_align.h (same cfg, same flat base / LoRA layouts,
 * docs/model.md) evaluated on the device.  The element-wise parts (input
 * row with the timestep embedding, bias, SiLU and its derivative, LoRA
 * scaling, class-embedding gradient) are kernels calling the functions of
 * src/core/dpo_mlp.h that src/model/mlp.c calls; the products go through
 *   DPO_CUDA_MM_STRICT: dpo_cuda_matmul_strict -> the bits of dpo_mlp_forward /
 *                     dpo_mlp_backward for any n <= the context's n;
 *   DPO_CUDA_MM_FAST:   one cuBLASLt plan per product shape, made at create
 *                     for exactly n samples (forward/backward then need
 *                     that n); run-to-run deterministic.
 * A context is made once (host allocation, and cuBLASLt plans in fast mode)
 * and used by one stream at a time.  The device work buffer
 * (dpo_cuda_mlp_workspace_size bytes, 256-byte aligned) holds the forward's
 * activations for the backward, a status word and, in fast mode, the
 * cuBLASLt workspace.
 *
 * Input checks that need the device's data (t in range, cls in range, x or
 * g_out finite) run as one kernel whose verdict is copied back: forward and
 * backward synchronise `stream` once, before any output is written, and
 * return DPO_ERR_RANGE / DPO_ERR_NONFINITE like the CPU. */
typedef enum dpo_cuda_mm_mode {
    DPO_CUDA_MM_STRICT = 0,
    DPO_CUDA_MM_FAST = 1
} dpo_cuda_mm_mode;

typedef struct dpo_cuda_mlp dpo_cuda_mlp;

/* flags: DPO_CUDA_MM_TF32 (fast mode only).  *ctx is written only on DPO_OK. */
dpo_status dpo_cuda_mlp_create(dpo_cuda_mlp **ctx, const dpo_mlp_cfg *cfg, size_t n, dpo_cuda_mm_mode mode,
                             unsigned flags);
void dpo_cuda_mlp_destroy(dpo_cuda_mlp *ctx);
/* Device bytes of the work buffer for the context's n (0 for NULL). */
size_t dpo_cuda_mlp_workspace_size(const dpo_cuda_mlp *ctx);
/* Fast mode: the number of distinct product shapes (= plans) and plan i's
 * shape and pinned algorithm, to record them.  Strict mode: 0 plans. */
size_t dpo_cuda_mlp_num_plans(const dpo_cuda_mlp *ctx);
dpo_status dpo_cuda_mlp_plan_info(dpo_cuda_mm_shape *shape, dpo_cuda_mm_algo *algo, const dpo_cuda_mlp *ctx, size_t i);

/* As dpo_mlp_forward, on the device: d_out = eps(x, t, c) for n samples;
 * d_lora may be NULL (the reference model). */
dpo_status dpo_cuda_mlp_forward(dpo_cuda_mlp *ctx, float *d_out, void *d_work, size_t work_size, const float *d_base,
                              const float *d_lora, const float *d_x, const int32_t *d_t, const int32_t *d_cls,
                              size_t n, void *stream);

/* As dpo_mlp_backward, on the device, after dpo_cuda_mlp_forward of the same
 * context on the same d_work with the same n and the same presence of
 * d_lora (else DPO_ERR_WORKSPACE / DPO_ERR_RANGE, like the CPU):
 *   d_gx += (d out/d x)^T g_out; d_gbase += ...; d_glora += ... (each may
 *   be NULL; d_glora needs d_lora).  Same order of accumulation as the CPU. */
dpo_status dpo_cuda_mlp_backward(dpo_cuda_mlp *ctx, float *d_gx, float *d_gbase, float *d_glora, const float *d_gout,
                               void *d_work, size_t work_size, const float *d_base, const float *d_lora, size_t n,
                               void *stream);

/* ----------------------------------------------------- pretraining
 * dpo_pretrain_run (diffpo_align.h) with the network on the device:
 * batch = the context's n, the same batches (data images, timesteps,
 * noise drawn on the host exactly as the CPU does, staged in host_work and
 * copied to the device), the network's forward and backward through ctx,
 * the MSE gradient and AdamW (dpo_adamw_elem) as kernels, the loss summed
 * on the host in the canonical tree.  State (d_base, d_adam_m, d_adam_v)
 * on the device.  In strict mode the state after [it_begin, it_end) has
 * the bits of dpo_pretrain_run's and loss_out its losses; in fast mode the
 * run repeats its own bits.  Same argument rules and statuses as
 * dpo_pretrain_run (cfg->dim must be DPO_IMG_DIM, n_classes >= 4,
 * cfg->num_train_steps == sched->num_train_steps).  The stream is
 * synchronised a few times per iteration (input checks, the loss).
 * d_work: dpo_cuda_pretrain_workspace_size bytes, 256-byte aligned (the
 * network's work first); host_work: dpo_cuda_pretrain_host_size bytes,
 * 8-byte aligned (page-locked memory makes the copies asynchronous). */
size_t dpo_cuda_pretrain_workspace_size(const dpo_cuda_mlp *ctx);
size_t dpo_cuda_pretrain_host_size(const dpo_cuda_mlp *ctx);
dpo_status dpo_cuda_pretrain_run(dpo_cuda_mlp *ctx, float *d_base, float *d_adam_m, float *d_adam_v, double *loss_out,
                               const dpo_schedule *sched, uint64_t seed, uint64_t it_begin, uint64_t it_end,
                               const dpo_adamw *opt, void *d_work, size_t work_size, void *host_work,
                               size_t host_size, void *stream);

/* ------------------------------------- host products on the device
 * A dpo_matmul_backend (diffpo_align.h) that runs the CPU network's
 * products on the GPU: set dpo_mlp_cfg.matmul to the backend and every
 * dpo_mlp_forward / dpo_mlp_backward -- and so pretraining, rollouts,
 * evaluations and the trainers of every method -- multiplies on the
 * device with host-side inputs and outputs.  Each product copies A and B
 * (and C when accumulating) to the object's device buffers, runs
 *   DPO_CUDA_MM_STRICT: dpo_cuda_matmul_strict -> dpo_matmul_f32's bits, so
 *                     every result built on the network keeps the CPU's
 *                     bits;
 *   DPO_CUDA_MM_FAST:   dpo_cuda_matmul_fast through a plan for that shape
 *                     (made on the shape's first use and kept in the
 *                     object: the one allocation after create, once per
 *                     new shape; run-to-run deterministic, within
 *                     diffpo_cuda_model.h's float32 bound of the CPU);
 * copies C back and synchronises the object's own stream.  m = 0 or
 * n = 0 does nothing; k = 0 (or A or B NULL) zeroes C, or leaves it when
 * accumulating, on the host, as dpo_matmul_f32.  The object's mutex
 * serialises products from concurrent threads (the trainer's prompts).
 * A product is served when m k <= max_m max_k, k n <= max_k max_n and
 * m n <= max_m max_n (the buffers' capacity in floats); a larger one, and
 * any CUDA or cuBLASLt failure, returns non-zero (a dpo_status), which the
 * network reports as DPO_ERR_MODEL.  For the built-in network with up to
 * n samples per call, max_m = max_k = max_n = max(n, dim + temb + cemb,
 * hidden) serves every product (dpo_cuda_host_mm_dim gives it).
 *
 * create allocates the device buffers (and in fast mode a cuBLASLt
 * workspace of DPO_CUDA_MM_WORKSPACE_DEFAULT bytes) and a stream on the
 * device current at create, which every product (from any thread) and
 * destroy make current for the call, restoring the caller's: set-up, not
 * the hot path.  *h is written only on DPO_OK.  The backend's user is
 * h: keep h alive while any cfg refers to the backend. */
typedef struct dpo_cuda_host_mm dpo_cuda_host_mm;

dpo_status dpo_cuda_host_mm_create(dpo_cuda_host_mm **h, dpo_cuda_mm_mode mode, size_t max_m, size_t max_k,
                                   size_t max_n);
void dpo_cuda_host_mm_destroy(dpo_cuda_host_mm *h);
dpo_matmul_backend dpo_cuda_host_mm_backend(const dpo_cuda_host_mm *h);
/* max(n, dim + temb + cemb, hidden) for cfg (0 when cfg is NULL). */
size_t dpo_cuda_host_mm_dim(const dpo_mlp_cfg *cfg, size_t n);
/* Products served, device plans made (fast mode; 0 in strict mode). */
uint64_t dpo_cuda_host_mm_calls(const dpo_cuda_host_mm *h);
size_t dpo_cuda_host_mm_num_plans(const dpo_cuda_host_mm *h);

#ifdef __cplusplus
}
#endif

#endif
