/* Library-internal helpers (not part of the public API). */
#ifndef DPO_INTERNAL_H
#define DPO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Largest element count of one tensor the library accepts (2^34, the Philox
 * element-block range times 4); also keeps size arithmetic far from
 * overflow. */
#define DPO_MAX_ELEMS ((size_t)1 << 34)

/* Do [a, a+na) and [b, b+nb) overlap? (byte ranges) */
static inline int dpo_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    if (!a || !b || !na || !nb)
        return 0;
    return pa < pb + nb && pb < pa + na;
}

/* The one check of a caller's work area (diffpo.h, DPO_WORK_ALIGN): present,
 * at least `need` bytes, aligned.  1 when it is usable. */
static inline int dpo_work_ok(const void *work, size_t work_size, size_t need)
{
    return work && work_size >= need && (uintptr_t)work % DPO_WORK_ALIGN == 0;
}
/* The aliasing rule of the step's outputs (src/step.c, src/threads.c):
 * each output (NULL: absent) either exactly one of the inputs, element by
 * element in place, or overlapping none of them, and the outputs disjoint;
 * every array `bytes` long.  DPO_ERR_ALIAS otherwise. */
static inline dpo_status dpo_step_alias_status(const void *const *outs, int nout, const void *const *ins, int nin,
                                               size_t bytes)
{
    int i, j;
    for (i = 0; i < nout; i++) {
        if (!outs[i])
            continue;
        for (j = 0; j < nin; j++)
            if (ins[j] && outs[i] != ins[j] && dpo_overlap(outs[i], bytes, ins[j], bytes))
                return DPO_ERR_ALIAS;
        for (j = i + 1; j < nout; j++)
            if (outs[j] && dpo_overlap(outs[i], bytes, outs[j], bytes))
                return DPO_ERR_ALIAS;
    }
    return DPO_OK;
}

/* The splittable tree sum (dpo_split_*, docs/reproducibility.md) of one
 * element of n float32 rows: x[b * stride], b in [0, n) (src/split_reduce.c). */
double dpo_split_sum1_f32(const float *x, size_t stride, uint64_t n);

/* The argument rules of the step with Philox noise and of the fused step
 * (src/step.c), all but the inputs' finiteness, in the functions' order:
 * one copy, which src/threads.c also applies to a whole call before it
 * splits the call into pieces. */
dpo_status dpo__step_philox_args_f32(const float *x_prev, const float *x0, const float *mu, const float *x,
                                     const float *model_out, dpo_noise_coord nc, size_t n,
                                     const dpo_step_coef_f32 *c);
dpo_status dpo__step_philox_args_f64(const double *x_prev, const double *x0, const double *mu, const double *x,
                                     const double *model_out, dpo_noise_coord nc, size_t n,
                                     const dpo_step_coef_f64 *c);
dpo_status dpo__step_fused_args_f32(const float *x_prev, const float *x0, const float *mu, const double *logprob,
                                    const float *x, const float *model_out, const float *noise,
                                    const dpo_noise_coord *nc, size_t batch, size_t dim,
                                    const dpo_step_coef_f32 *c, dpo_logprob_mode mode);

#endif
