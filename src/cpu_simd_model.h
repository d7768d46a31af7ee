/* CPU vector forms of the training element loops (library-internal): AdamW,
 * the network's SiLU and its vector-Jacobian product, the leaves of the
 * canonical reduction tree and the log-ratio sum of the losses.
 *
 * Same levels, same dispatch and same contract as src/cpu_simd.h: every
 * level performs, per element, exactly the IEEE operations of the scalar
 * element math in src/core in the same order (no contraction, no
 * reassociation, correctly rounded division and square root), so every
 * level gives the same bits.  tests/test_simd_model.c checks each level
 * this CPU supports against the scalar form bit for bit. */
#ifndef DPO_CPU_SIMD_MODEL_H
#define DPO_CPU_SIMD_MODEL_H

#include <stddef.h>
#include "cpu_simd.h"

struct dpo_adamw_coef;

/* dpo_adamw_elem on elements 0 .. n-1 (p, m, v updated in place). */
void dpo__simd_adamw_f32(float *p, float *m, float *v, const float *g, size_t n,
                         const struct dpo_adamw_coef *c, int level);

/* a[i] = dpo_silu_f32(z[i]); a may equal z. */
void dpo__simd_silu_f32(float *a, const float *z, size_t n, int level);

/* g[i] = dpo_silu_vjp_f32(g[i], z[i]) in place. */
void dpo__simd_silu_vjp_f32(float *g, const float *z, size_t n, int level);

/* out[i] = dpo_sigmoid(x[i]) (the double kernel under the two above, for
 * the tests). */
void dpo__simd_sigmoid_f64(double *out, const double *x, size_t n, int level);

/* Leaf sums of the canonical tree (src/core/dpo_reduce.h) over n terms:
 * part[k] = t[64 k] + t[64 k + 1] + ... left to right in double, for every
 * block k < ceil(n / 64) (the last one may be shorter).  The tree above the
 * leaves is unchanged: push the partials in order (dpo_tree_push). */
void dpo__simd_leaves_f64(double *part, const double *t, size_t n, int level);

/* The canonical sum of dpo_lr_term(x[i], mu[i], mr[i]) over n elements of
 * float32 (f32 != 0) or float64 tensors: the value of the streaming
 * dpo_sum_add loop, bit for bit. */
double dpo__simd_lr_sum(const void *x, const void *mu, const void *mr, size_t n, int f32, int level);

/* The same for dpo_err_diff_term(eps[i], eth[i], eref[i]) (Diffusion-DPO,
 * DSPO). */
double dpo__simd_err_sum(const void *eps, const void *eth, const void *eref, size_t n, int f32, int level);

/* The same for dpo_lp_term(x_prev[i], mu[i]) (the step's log-probability). */
double dpo__simd_lp_sum(const void *x_prev, const void *mu, size_t n, int f32, int level);

/* g[i] = dpo_grad_diff(coef, a[i], b[i]) stored with dpo_st: the losses'
 * per-element gradient writes. */
void dpo__simd_grad_diff(void *g, const void *a, const void *b, size_t n, double coef, int f32, int level);

#endif
