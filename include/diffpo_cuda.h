/* diffpo CUDA drivers of the shared element math (docs/cuda.md).
 *
 * C99-includable; no CUDA types.  Available when the library is built with
 * `make CUDA=1` (the .cu files of kernels/).  Conventions, besides those of diffpo.h:
 *   - every pointer named d_* is device memory owned by the caller;
 *   - `stream` is a cudaStream_t; NULL is the default stream;
 *   - entry points validate their host-side arguments (NULL pointers, sizes,
 *     parameter ranges, sigma, workspace size, overlapping address ranges)
 *     before anything is launched; on error nothing is launched and the
 *     outputs are untouched;
 *   - device data is NOT scanned for NaN / infinity (that would need a
 *     synchronisation): non-finite inputs propagate instead of giving
 *     DPO_ERR_NONFINITE as the CPU functions do;
 *   - work is enqueued on `stream` and the call returns without waiting;
 *     a failed CUDA call or launch returns DPO_ERR_CUDA;
 *   - an error the caller left pending (not yet read with
 *     cudaGetLastError) makes a call return DPO_ERR_CUDA before it launches
 *     anything; the error stays pending for the caller;
 *   - no cudaMalloc, no host-device copies, no synchronisation inside:
 *     scratch memory is the caller's d_work of *_workspace_size() bytes
 *     (aligned for double: any cudaMalloc pointer is);
 *   - no floating-point atomics: every sum follows the canonical tree of
 *     src/core/dpo_reduce.h (64-element blocks summed in order in double,
 *     block partials combined pairwise level by level) with the same
 *     element terms as the CPU, so results equal the CPU functions' bits.
 *   - scalar results of the losses (dpo_pair_result) are written to device
 *     memory (d_res) by one device thread. */
#ifndef DIFFPO_CUDA_H
#define DIFFPO_CUDA_H

#include "diffpo.h"
#include "diffpo_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------- device */
/* The current CUDA device as "NAME (sm_XY, N SMs)" into buf (size bytes,
 * truncated, always terminated).  DPO_ERR_CUDA, buf untouched, when the
 * runtime finds no usable device; DPO_ERR_NULL / DPO_ERR_SIZE for buf NULL
 * or size 0.  Host-only: launches nothing. */
dpo_status dpo_cuda_device_describe(char *buf, size_t size);

/* ------------------------------------------------------------- normals */
/* Same values as dpo_normal_f32 / _f64 (elements [e0, e0 + n) of one
 * (seed, stream, sample, step, candidate) tensor). */
dpo_status dpo_cuda_normal_f32(float *d_out, dpo_noise_coord c, uint64_t e0, size_t n, void *stream);
dpo_status dpo_cuda_normal_f64(double *d_out, dpo_noise_coord c, uint64_t e0, size_t n, void *stream);

/* `batch` rows of `dim` elements: row r is elements [0, dim) of the tensor
 * at sample c.sample + r (the other coordinates as given), i.e. what a
 * rollout draws for samples c.sample .. c.sample + batch - 1. */
dpo_status dpo_cuda_normal_batch_f32(float *d_out, dpo_noise_coord c, size_t batch, size_t dim, void *stream);

/* ---------------------------------------------------------- reductions */
/* Scratch bytes of the reductions below for `batch` rows of `dim`. */
size_t dpo_cuda_reduce_workspace_size(size_t batch, size_t dim);

/* d_out[b] = canonical sum over row b of x^2 / of a b (terms in double,
 * as dpo_sum_canonical of the widened products). */
dpo_status dpo_cuda_sumsq_f32(double *d_out, const float *d_x, size_t batch, size_t dim, void *d_work,
                              size_t work_size, void *stream);
dpo_status dpo_cuda_dot_f32(double *d_out, const float *d_a, const float *d_b, size_t batch, size_t dim,
                            void *d_work, size_t work_size, void *stream);

/* Same as dpo_step_logprob_f32. */
dpo_status dpo_cuda_step_logprob_f32(double *d_out, const float *d_x_prev, const float *d_mu, size_t batch,
                                     size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode, void *d_work,
                                     size_t work_size, void *stream);

/* ---------------------------------------------------------------- step */
/* Scratch bytes of the fused step (0 is enough when d_logp is NULL). */
size_t dpo_cuda_step_workspace_size(size_t batch, size_t dim);

/* Fused step over `batch` rows of `dim` elements, one pass over x_t, the
 * model output and the noise: x_prev, x0, mu (each may be NULL) as
 * dpo_step_f32, and when d_logp is non-NULL d_logp[b] = the log-density of
 * row b as dpo_step_logprob_f32(x_prev, mu) would return it (sigma must be
 * > 0 then).  d_noise may be NULL only when sigma = 0.  Outputs may equal an
 * input (in place) or must not overlap it. */
dpo_status dpo_cuda_step_f32(float *d_x_prev, float *d_x0, float *d_mu, double *d_logp, const float *d_x,
                             const float *d_model_out, const float *d_noise, size_t batch, size_t dim,
                             const dpo_step_coef_f32 *c, dpo_logprob_mode mode, void *d_work, size_t work_size,
                             void *stream);

/* The same step with the noise generated in the kernel: row r's noise is
 * elements [0, dim) of the tensor at (nc.seed, nc.stream, nc.sample + r,
 * nc.step, nc.candidate) -- with nc.stream = DPO_STREAM_STEP, candidate 0
 * and step = the step index this is exactly dpo_rollout_f32's step. */
dpo_status dpo_cuda_step_philox_f32(float *d_x_prev, float *d_x0, float *d_mu, double *d_logp, const float *d_x,
                                    const float *d_model_out, dpo_noise_coord nc, size_t batch, size_t dim,
                                    const dpo_step_coef_f32 *c, dpo_logprob_mode mode, void *d_work,
                                    size_t work_size, void *stream);

/* -------------------------------------------------------------- losses */
/* Scratch bytes of every loss below for n elements. */
size_t dpo_cuda_loss_workspace_size(size_t n);

/* Same bits as the CPU _f32 functions of diffpo_loss.h; *d_res in device
 * memory; gradient outputs may be NULL. */
dpo_status dpo_cuda_stepdpo_f32(dpo_pair_result *d_res, float *d_g_mu_w, float *d_g_mu_l, const float *d_x_w,
                                const float *d_mu_w, const float *d_mu_ref_w, const float *d_x_l,
                                const float *d_mu_l, const float *d_mu_ref_l, size_t n, dpo_pair_params p,
                                void *d_work, size_t work_size, void *stream);
dpo_status dpo_cuda_d3po_code_f32(dpo_pair_result *d_res, float *d_g_mu_0, float *d_g_mu_1, const float *d_x_0,
                                  const float *d_mu_0, const float *d_mu_ref_0, const float *d_x_1,
                                  const float *d_mu_1, const float *d_mu_ref_1, size_t n, int label,
                                  dpo_clip_params p, void *d_work, size_t work_size, void *stream);
dpo_status dpo_cuda_tailorpo_f32(dpo_pair_result *d_res, float *d_g_mu, const float *d_x_w, const float *d_x_l,
                                 const float *d_mu, const float *d_mu_ref, size_t n, dpo_pair_params p, void *d_work,
                                 size_t work_size, void *stream);
dpo_status dpo_cuda_rdpo_f32(dpo_pair_result *d_res, float *d_g_mu, const float *d_x_w, const float *d_x_l,
                             const float *d_mu, const float *d_mu_ref, size_t n, dpo_rdpo_params p, void *d_work,
                             size_t work_size, void *stream);
dpo_status dpo_cuda_diffdpo_f32(dpo_pair_result *d_res, float *d_g_w, float *d_g_l, const float *d_eps_w,
                                const float *d_eps_l, const float *d_eth_w, const float *d_eref_w,
                                const float *d_eth_l, const float *d_eref_l, size_t n, dpo_eps_params p,
                                void *d_work, size_t work_size, void *stream);
dpo_status dpo_cuda_dspo_f32(dpo_pair_result *d_res, float *d_g_w, float *d_g_l, const float *d_eps_w,
                             const float *d_eps_l, const float *d_eth_w, const float *d_eref_w, const float *d_eth_l,
                             const float *d_eref_l, size_t n, dpo_dspo_params p, void *d_work, size_t work_size,
                             void *stream);

/* ------------------------------------------------------------- updates */
/* Same as dpo_tailorpo_g_update_f32 (d_x_plus may equal d_x). */
dpo_status dpo_cuda_tailorpo_g_update_f32(float *d_x_plus, const float *d_x, const float *d_g, const float *d_vjp,
                                          size_t n, dpo_guide_params p, void *stream);

/* Same as dpo_adamw_step (the element update of src/core/dpo_mlp.h). */
dpo_status dpo_cuda_adamw_step(float *d_param, float *d_m, float *d_v, const float *d_grad, size_t n,
                               const dpo_adamw *h, uint64_t step, void *stream);

#ifdef __cplusplus
}
#endif

#endif
