/* CPU driver of the DDIM / DDPM step and its log-probability. */
#include <string.h>
#include "diffpo.h"
#include "core/dpo_ddim.h"
#include "core/dpo_philox.h"
#include "core/dpo_reduce.h"
#include "core/dpo_rules.h"
#include "internal.h"
#include "cpu_simd.h"
#include "cpu_simd_model.h"

dpo_step_opts dpo_step_opts_default(void)
{
    dpo_step_opts o;
    o.kind = DPO_STEP_DDIM;
    o.pred = DPO_PRED_EPSILON;
    o.eta = 1.0;
    o.clip = 0;
    o.clip_range = 1.0;
    o.use_clipped_output = 0;
    o.prev_rule = DPO_PREV_DIFFUSERS;
    return o;
}

/* Shared validation; finds t's predecessor index (-1: final alpha). */
static dpo_status coef_common(int *prev_idx, int *prev_t, const dpo_schedule *s, int t, int S,
                              const dpo_step_opts *o)
{
    int N, prev;
    if (!s || !o || !prev_idx || !prev_t)
        return DPO_ERR_NULL;
    N = s->num_train_steps;
    if (N < 2 || N > DPO_MAX_TRAIN_STEPS)
        return DPO_ERR_SIZE;
    if (S < 1 || S > N || t < 0 || t >= N)
        return DPO_ERR_RANGE;
    if ((int)o->kind != DPO_STEP_DDIM && (int)o->kind != DPO_STEP_DDPM)
        return DPO_ERR_RANGE;
    if ((int)o->pred != DPO_PRED_EPSILON && (int)o->pred != DPO_PRED_V && (int)o->pred != DPO_PRED_SAMPLE)
        return DPO_ERR_RANGE;
    if ((int)o->prev_rule != DPO_PREV_DIFFUSERS && (int)o->prev_rule != DPO_PREV_CLAMPED)
        return DPO_ERR_RANGE;
    if (!dpo_pm_isfinite(o->eta) || o->eta < 0)
        return DPO_ERR_RANGE;
    if (o->clip && (!dpo_pm_isfinite(o->clip_range) || !(o->clip_range > 0)))
        return DPO_ERR_RANGE;
    prev = t - N / S;
    if (o->prev_rule == DPO_PREV_CLAMPED) {
        if (prev < 0)
            prev = 0;
        if (prev > N - 1)
            prev = N - 1;
    }
    *prev_t = prev;
    *prev_idx = prev;
    return DPO_OK;
}

/* The step scalars, written once for both precisions: T is float or double,
 * SQRT its correctly rounded square root, and every constant is a literal of
 * T's own type (ONE, ZERO, TINY), so that each precision performs exactly the
 * operations it always did.  The float32 scalars follow diffusers'
 * DDIMScheduler.step / DDPMScheduler.step order of operations, all in float32
 * as 0-d float32 tensors are; the float64 ones the same formulas in double. */

/* DDIM scalars from alpha_t, alpha_prev and sigma given directly; the DDIM
 * branch of dpo_step_coef_*_init calls this too. */
#define DPO_STEP_COEF_DDIM_BODY(T, SQRT, ONE, ZERO)                                                  \
    T d;                                                                                             \
    if (!c)                                                                                          \
        return DPO_ERR_NULL;                                                                         \
    if ((int)pred != DPO_PRED_EPSILON && (int)pred != DPO_PRED_V && (int)pred != DPO_PRED_SAMPLE)    \
        return DPO_ERR_RANGE;                                                                        \
    /* alpha_t = 0 (zero terminal SNR): defined for v and sample prediction only */                  \
    if (!((alpha_t > ZERO || (alpha_t == ZERO && pred != DPO_PRED_EPSILON)) && alpha_t < ONE &&      \
          alpha_prev > ZERO && alpha_prev <= ONE))                                                   \
        return DPO_ERR_RANGE;                                                                        \
    if (!(sigma >= ZERO && sigma - sigma == ZERO))                                                   \
        return DPO_ERR_RANGE;                                                                        \
    d = ONE - alpha_prev - sigma * sigma;                                                            \
    if (!(d >= ZERO))                                                                                \
        return DPO_ERR_RANGE;                                                                        \
    memset(&r, 0, sizeof r);                                                                         \
    r.kind = DPO_STEP_DDIM;                                                                          \
    r.pred = (int)pred;                                                                              \
    r.alpha_t = alpha_t;                                                                             \
    r.alpha_prev = alpha_prev;                                                                       \
    r.beta_t = ONE - alpha_t;                                                                        \
    r.beta_prev = ONE - alpha_prev;                                                                  \
    r.sqrt_alpha_t = SQRT(alpha_t);                                                                  \
    r.sqrt_beta_t = SQRT(r.beta_t);                                                                  \
    r.sqrt_alpha_prev = SQRT(alpha_prev);                                                            \
    r.sigma = sigma;                                                                                 \
    r.dir_coef = SQRT(d);                                                                            \
    *c = r;                                                                                          \
    return DPO_OK

/* The full scalars of step t of S from the schedule's table AC (ac32 or
 * ac64) and final alpha FINAL; DDIM goes through DDIM_FN. */
#define DPO_STEP_COEF_INIT_BODY(T, SQRT, ONE, ZERO, TINY, AC, FINAL, DDIM_FN)                         \
    int prev, prev_t;                                                                                \
    T at, ap, bt, bp;                                                                                \
    dpo_status st;                                                                                   \
    if (!c)                                                                                          \
        return DPO_ERR_NULL;                                                                         \
    st = coef_common(&prev, &prev_t, s, t, S, o);                                                    \
    if (st)                                                                                          \
        return st;                                                                                   \
    at = s->AC[t];                                                                                   \
    if (o->kind == DPO_STEP_DDPM)                                                                    \
        ap = prev >= 0 ? s->AC[prev] : ONE; /* DDPMScheduler always uses one */                      \
    else                                                                                             \
        ap = prev >= 0 ? s->AC[prev] : s->FINAL;                                                     \
    /* at = 0 (zero terminal SNR): defined for v and sample prediction only */                       \
    if (!((at > ZERO || (at == ZERO && o->pred != DPO_PRED_EPSILON)) && at < ONE && ap > ZERO &&     \
          ap <= ONE))                                                                                \
        return DPO_ERR_RANGE;                                                                        \
    bt = ONE - at;                                                                                   \
    bp = ONE - ap;                                                                                   \
    r.kind = (int)o->kind;                                                                           \
    r.pred = (int)o->pred;                                                                           \
    r.clip = o->clip ? 1 : 0;                                                                        \
    r.use_clipped_output = o->use_clipped_output ? 1 : 0;                                            \
    r.clip_range = (T)o->clip_range;                                                                 \
    r.t = t;                                                                                         \
    r.prev_t = prev_t;                                                                               \
    r.alpha_t = at;                                                                                  \
    r.alpha_prev = ap;                                                                               \
    r.beta_t = bt;                                                                                   \
    r.beta_prev = bp;                                                                                \
    r.sqrt_alpha_t = SQRT(at);                                                                       \
    r.sqrt_beta_t = SQRT(bt);                                                                        \
    r.sqrt_alpha_prev = SQRT(ap);                                                                    \
    if (o->kind == DPO_STEP_DDIM) {                                                                  \
        T variance = (bp / bt) * (ONE - at / ap);                                                    \
        if (!(variance >= ZERO)) /* alphas_cumprod must not increase */                              \
            return DPO_ERR_RANGE;                                                                    \
        /* the DDIM scalars, formed in one place (DDIM_FN) */                                        \
        st = DDIM_FN(&r, at, ap, (T)o->eta * SQRT(variance), o->pred);                               \
        if (st)                                                                                      \
            return st; /* eta too large for this step */                                             \
        r.clip = o->clip ? 1 : 0;                                                                    \
        r.use_clipped_output = o->use_clipped_output ? 1 : 0;                                        \
        r.clip_range = (T)o->clip_range;                                                             \
        r.t = t;                                                                                     \
        r.prev_t = prev_t;                                                                           \
    } else {                                                                                         \
        T cur_alpha = at / ap;                                                                       \
        T cur_beta = ONE - cur_alpha;                                                                \
        T variance = bp / bt * cur_beta;                                                             \
        if (!(cur_alpha > ZERO && cur_alpha <= ONE))                                                 \
            return DPO_ERR_RANGE;                                                                    \
        r.mean_x0 = (SQRT(ap) * cur_beta) / bt;                                                      \
        r.mean_xt = SQRT(cur_alpha) * bp / bt;                                                       \
        if (variance < TINY)                                                                         \
            variance = TINY;                                                                         \
        r.sigma = t > 0 ? SQRT(variance) : ZERO; /* no noise is added at t = 0 */                    \
        r.dir_coef = ZERO;                                                                           \
    }                                                                                                \
    *c = r;                                                                                          \
    return DPO_OK

dpo_status dpo_step_coef_f32_ddim(dpo_step_coef_f32 *c, float alpha_t, float alpha_prev, float sigma,
                                  dpo_pred_type pred)
{
    dpo_step_coef_f32 r;
    DPO_STEP_COEF_DDIM_BODY(float, DPO_SQRTF, 1.0f, 0.0f);
}

dpo_status dpo_step_coef_f32_init(dpo_step_coef_f32 *c, const dpo_schedule *s, int t, int S,
                                  const dpo_step_opts *o)
{
    dpo_step_coef_f32 r;
    DPO_STEP_COEF_INIT_BODY(float, DPO_SQRTF, 1.0f, 0.0f, 1e-20f, ac32, final_ac32, dpo_step_coef_f32_ddim);
}

dpo_status dpo_step_coef_f64_ddim(dpo_step_coef_f64 *c, double alpha_t, double alpha_prev, double sigma,
                                  dpo_pred_type pred)
{
    dpo_step_coef_f64 r;
    DPO_STEP_COEF_DDIM_BODY(double, DPO_SQRT, 1.0, 0.0);
}

dpo_status dpo_step_coef_f64_init(dpo_step_coef_f64 *c, const dpo_schedule *s, int t, int S,
                                  const dpo_step_opts *o)
{
    dpo_step_coef_f64 r;
    DPO_STEP_COEF_INIT_BODY(double, DPO_SQRT, 1.0, 0.0, 1e-20, ac64, final_ac64, dpo_step_coef_f64_ddim);
}

/* Each output must either be exactly one of the inputs (element-wise
 * in-place use is safe) or overlap none of them; outputs must not overlap
 * each other (the rule in src/internal.h, shared with src/threads.c). */
static dpo_status check_step_alias(const void *const *outs, int nout, const void *const *ins, int nin, size_t bytes)
{
    return dpo_step_alias_status(outs, nout, ins, nin, bytes);
}

#define DPO_STEP_BODY(T, SUFFIX, FIN)                                                           \
    const void *outs[3];                                                                        \
    const void *ins[3];                                                                         \
    size_t i;                                                                                   \
    dpo_status st;                                                                              \
    if (!x || !model_out || !c)                                                                 \
        return DPO_ERR_NULL;                                                                    \
    if (n == 0 || n > DPO_MAX_ELEMS)                                                            \
        return DPO_ERR_SIZE;                                                                    \
    if (!DPO_RULE_STEP_COEF_OK(c, FIN))                                                                   \
        return DPO_ERR_RANGE;                                                                   \
    if (!noise && c->sigma != 0)                                                                \
        return DPO_ERR_NULL;                                                                    \
    outs[0] = x_prev; outs[1] = x0; outs[2] = mu;                                               \
    ins[0] = x; ins[1] = model_out; ins[2] = noise;                                             \
    st = check_step_alias(outs, 3, ins, 3, n * sizeof(T));                                      \
    if (st)                                                                                     \
        return st;                                                                              \
    for (i = 0; i < n; i++)                                                                     \
        if (!FIN(x[i]) || !FIN(model_out[i]) || (noise && !FIN(noise[i])))                      \
            return DPO_ERR_NONFINITE;                                                           \
    for (i = 0; i < n; i++) {                                                                   \
        T a, m, p;                                                                              \
        p = dpo_step_elem_##SUFFIX(&a, &m, x[i], model_out[i], noise ? noise[i] : (T)0, c);     \
        if (x0) x0[i] = a;                                                                      \
        if (mu) mu[i] = m;                                                                      \
        if (x_prev) x_prev[i] = p;                                                              \
    }                                                                                           \
    return DPO_OK;

dpo_status dpo_step_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                        const float *noise, size_t n, const dpo_step_coef_f32 *c)
{
    DPO_STEP_BODY(float, f32, dpo_pm_isfinitef)
}

dpo_status dpo_step_f64(double *x_prev, double *x0, double *mu, const double *x, const double *model_out,
                        const double *noise, size_t n, const dpo_step_coef_f64 *c)
{
    DPO_STEP_BODY(double, f64, dpo_pm_isfinite)
}

/* The step with its noise drawn inside: element i's z is lane i % 4 of
 * Philox block i / 4 of tensor nc (dpo_normal_*), rounded to T exactly as
 * dpo_normal_* rounds it, so the bits equal dpo_normal_* into a buffer
 * followed by dpo_step_*.  Everything is checked before any output is
 * written.  The noise comes DPO_PHILOX_CHUNK elements at a time from
 * dpo_normal_* (its vector forms, src/cpu_simd.h) through a stack buffer. */
#define DPO_PHILOX_CHUNK 512
/* Every argument rule of dpo_step_philox_* except the inputs' finiteness,
 * in its order: also the check src/threads.c applies to a whole call
 * before splitting it (src/internal.h). */
#define DPO_STEP_PHILOX_ARGS(T, SUFFIX, FIN)                                                    \
    dpo_status dpo__step_philox_args_##SUFFIX(const T *x_prev, const T *x0, const T *mu,       \
                                              const T *x, const T *model_out, dpo_noise_coord nc, \
                                              size_t n, const dpo_step_coef_##SUFFIX *c)        \
    {                                                                                           \
        const void *outs[3];                                                                    \
        const void *ins[2];                                                                     \
        dpo_status st;                                                                          \
        if (!x || !model_out || !c)                                                             \
            return DPO_ERR_NULL;                                                                \
        if (n == 0 || n > DPO_MAX_ELEMS)                                                        \
            return DPO_ERR_SIZE;                                                                \
        st = dpo_rule_coord_status(nc, 0, n); /* the rule shared with the CUDA step */         \
        if (st)                                                                                 \
            return st;                                                                          \
        if (!DPO_RULE_STEP_COEF_OK(c, FIN))                                                     \
            return DPO_ERR_RANGE;                                                               \
        outs[0] = x_prev; outs[1] = x0; outs[2] = mu;                                           \
        ins[0] = x; ins[1] = model_out;                                                         \
        return check_step_alias(outs, 3, ins, 2, n * sizeof(T));                                \
    }
DPO_STEP_PHILOX_ARGS(float, f32, dpo_pm_isfinitef)
DPO_STEP_PHILOX_ARGS(double, f64, dpo_pm_isfinite)

#define DPO_STEP_PHILOX_BODY(T, SUFFIX, FIN)                                                    \
    size_t i;                                                                                   \
    dpo_status st = dpo__step_philox_args_##SUFFIX(x_prev, x0, mu, x, model_out, nc, n, c);    \
    if (st)                                                                                     \
        return st;                                                                              \
    for (i = 0; i < n; i++)                                                                     \
        if (!FIN(x[i]) || !FIN(model_out[i]))                                                   \
            return DPO_ERR_NONFINITE;                                                           \
    for (i = 0; i < n; i += DPO_PHILOX_CHUNK) {                                                 \
        T z[DPO_PHILOX_CHUNK];                                                                  \
        size_t l, len = n - i < DPO_PHILOX_CHUNK ? n - i : DPO_PHILOX_CHUNK;                    \
        dpo_normal_##SUFFIX(z, nc, (uint64_t)i, len); /* cannot fail: checked above */          \
        for (l = 0; l < len; l++) {                                                             \
            T a, m, p;                                                                          \
            p = dpo_step_elem_##SUFFIX(&a, &m, x[i + l], model_out[i + l], z[l], c);            \
            if (x0) x0[i + l] = a;                                                              \
            if (mu) mu[i + l] = m;                                                              \
            if (x_prev) x_prev[i + l] = p;                                                      \
        }                                                                                       \
    }                                                                                           \
    return DPO_OK;

dpo_status dpo_step_philox_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                               dpo_noise_coord nc, size_t n, const dpo_step_coef_f32 *c)
{
    DPO_STEP_PHILOX_BODY(float, f32, dpo_pm_isfinitef)
}

dpo_status dpo_step_philox_f64(double *x_prev, double *x0, double *mu, const double *x, const double *model_out,
                               dpo_noise_coord nc, size_t n, const dpo_step_coef_f64 *c)
{
    DPO_STEP_PHILOX_BODY(double, f64, dpo_pm_isfinite)
}

#define DPO_LOGPROB_BODY(T, FIN)                                                                \
    size_t b, j;                                                                                \
    double sigma, log_sigma;                                                                    \
    if (!out || !x_prev || !mu || !c)                                                           \
        return DPO_ERR_NULL;                                                                    \
    if (batch == 0 || dim == 0 || dim > DPO_MAX_ELEMS || batch > DPO_MAX_ELEMS / dim)           \
        return DPO_ERR_SIZE;                                                                    \
    if ((int)mode != DPO_LOGPROB_SUM && (int)mode != DPO_LOGPROB_MEAN)                          \
        return DPO_ERR_RANGE;                                                                   \
    if (!FIN(c->sigma) || c->sigma < 0) /* the only coefficient read here */                    \
        return DPO_ERR_RANGE;                                                                   \
    if (dpo_overlap(out, batch * sizeof(double), x_prev, batch * dim * sizeof(T)) ||            \
        dpo_overlap(out, batch * sizeof(double), mu, batch * dim * sizeof(T)))                  \
        return DPO_ERR_ALIAS;                                                                   \
    sigma = (double)c->sigma;                                                                   \
    if (!(sigma > 0))                                                                           \
        return DPO_ERR_SIGMA_ZERO;                                                              \
    for (j = 0; j < batch * dim; j++)                                                           \
        if (!FIN(x_prev[j]) || !FIN(mu[j]))                                                     \
            return DPO_ERR_NONFINITE;                                                           \
    log_sigma = dpo_log(sigma);                                                                 \
    /* per row the canonical sum of dpo_lp_term, terms and leaves in the                       \
     * CPU level's vector form (src/cpu_simd_model.h; the same bits) */                         \
    for (b = 0; b < batch; b++)                                                                 \
        out[b] = dpo_lp_finish(dpo__simd_lp_sum(x_prev + b * dim, mu + b * dim, dim,            \
                                                sizeof(T) == sizeof(float), dpo_simd_level()),  \
                               (double)dim, sigma, log_sigma, (int)mode);                       \
    return DPO_OK;

dpo_status dpo_step_logprob_f32(double *out, const float *x_prev, const float *mu, size_t batch, size_t dim,
                                const dpo_step_coef_f32 *c, dpo_logprob_mode mode)
{
    DPO_LOGPROB_BODY(float, dpo_pm_isfinitef)
}

dpo_status dpo_step_logprob_f64(double *out, const double *x_prev, const double *mu, size_t batch, size_t dim,
                                const dpo_step_coef_f64 *c, dpo_logprob_mode mode)
{
    DPO_LOGPROB_BODY(double, dpo_pm_isfinite)
}

/* ---- fused step with log-probability (float32) ---- */

#define DPO_FUSED_CHUNK 1024 /* elements per pass through the buffers below */

/* Leaf sums of the canonical tree (dpo_reduce.h) over n terms starting at a
 * block boundary, pushed in order; four blocks at a time as four
 * independent left-to-right chains. */
static void fused_leaves(dpo_tree *tree, int *nonfinite, const double *t, size_t n)
{
    size_t k = 0, i;
    const size_t B = DPO_REDUCE_BLOCK;
    for (; k + 4 * B <= n; k += 4 * B) {
        double s0 = t[k], s1 = t[k + B], s2 = t[k + 2 * B], s3 = t[k + 3 * B];
        for (i = 1; i < B; i++) {
            s0 = s0 + t[k + i];
            s1 = s1 + t[k + B + i];
            s2 = s2 + t[k + 2 * B + i];
            s3 = s3 + t[k + 3 * B + i];
        }
        if (!dpo_pm_isfinite(s0) || !dpo_pm_isfinite(s1) || !dpo_pm_isfinite(s2) ||
            !dpo_pm_isfinite(s3))
            *nonfinite = 1;
        dpo_tree_push(tree, s0);
        dpo_tree_push(tree, s1);
        dpo_tree_push(tree, s2);
        dpo_tree_push(tree, s3);
    }
    for (; k < n; k += B) {
        size_t len = n - k < B ? n - k : B;
        double s = t[k];
        for (i = 1; i < len; i++)
            s = s + t[k + i];
        *nonfinite |= !dpo_pm_isfinite(s);
        dpo_tree_push(tree, s);
    }
}

/* Every argument rule of dpo_step_fused_x0_f32 except the inputs'
 * finiteness, in its order: also the check src/threads.c applies to a
 * whole call before splitting it (src/internal.h). */
dpo_status dpo__step_fused_args_f32(const float *x_prev, const float *x0, const float *mu, const double *logprob,
                                    const float *x, const float *model_out, const float *noise,
                                    const dpo_noise_coord *nc, size_t batch, size_t dim,
                                    const dpo_step_coef_f32 *c, dpo_logprob_mode mode)
{
    const void *outs[3];
    const void *ins[3];
    size_t n;
    dpo_status st;
    if (!x_prev || !x || !model_out || !c)
        return DPO_ERR_NULL;
    if (batch == 0 || dim == 0 || dim > DPO_MAX_ELEMS || batch > DPO_MAX_ELEMS / dim)
        return DPO_ERR_SIZE;
    n = batch * dim;
    /* a caller-filled struct obeys the same rule as in dpo_step_f32 */
    if (!DPO_RULE_STEP_COEF_OK(c, dpo_pm_isfinitef))
        return DPO_ERR_RANGE;
    if (noise && nc)
        return DPO_ERR_RANGE;
    if (!noise && !nc && c->sigma != 0)
        return DPO_ERR_NULL;
    /* the rules shared with dpo_cuda_step_philox_f32 (src/core/dpo_rules.h) */
    if (nc && (st = dpo_rule_coord_rows_status(*nc, batch, dim)) != DPO_OK)
        return st;
    if (logprob) {
        if (!dpo_rule_mode_ok(mode))
            return DPO_ERR_RANGE;
        if (!((double)c->sigma > 0))
            return DPO_ERR_SIGMA_ZERO;
    }
    outs[0] = x_prev;
    outs[1] = x0;
    outs[2] = mu;
    ins[0] = x;
    ins[1] = model_out;
    ins[2] = noise;
    if ((st = check_step_alias(outs, 3, ins, 3, n * sizeof(float))) != DPO_OK)
        return st;
    if (logprob && (dpo_overlap(logprob, batch * sizeof(double), x_prev, n * sizeof(float)) ||
                    dpo_overlap(logprob, batch * sizeof(double), x0, n * sizeof(float)) ||
                    dpo_overlap(logprob, batch * sizeof(double), mu, n * sizeof(float)) ||
                    dpo_overlap(logprob, batch * sizeof(double), x, n * sizeof(float)) ||
                    dpo_overlap(logprob, batch * sizeof(double), model_out, n * sizeof(float)) ||
                    dpo_overlap(logprob, batch * sizeof(double), noise, n * sizeof(float))))
        return DPO_ERR_ALIAS;
    return DPO_OK;
}

dpo_status dpo_step_fused_x0_f32(float *x_prev, float *x0, float *mu, double *logprob, const float *x,
                                 const float *model_out, const float *noise,
                                 const dpo_noise_coord *nc, size_t batch, size_t dim,
                                 const dpo_step_coef_f32 *c, dpo_logprob_mode mode)
{
    size_t n, b, j;
    double sigma = 0, log_sigma = 0;
    int level, nonfinite = 0;
    dpo_status st = dpo__step_fused_args_f32(x_prev, x0, mu, logprob, x, model_out, noise, nc, batch, dim, c,
                                             mode);
    if (st)
        return st;
    n = batch * dim;
    if (logprob)
        sigma = (double)c->sigma;
    level = dpo_simd_level();
    if (!dpo__simd_allfinite_f32(x, n, level) || !dpo__simd_allfinite_f32(model_out, n, level) ||
        (noise && !dpo__simd_allfinite_f32(noise, n, level)))
        return DPO_ERR_NONFINITE;
    if (logprob)
        log_sigma = dpo_log(sigma);
    for (b = 0; b < batch; b++) {
        double term[DPO_FUSED_CHUNK];
        float zbuf[DPO_FUSED_CHUNK], mbuf[DPO_FUSED_CHUNK];
        dpo_noise_coord rc;
        dpo_tree tree;
        dpo_tree_init(&tree);
        if (nc) {
            rc = *nc;
            rc.sample = nc->sample + (uint32_t)b;
        }
        for (j = 0; j < dim; j += DPO_FUSED_CHUNK) {
            size_t len = dim - j < DPO_FUSED_CHUNK ? dim - j : DPO_FUSED_CHUNK;
            size_t at = b * dim + j;
            const float *z = noise ? noise + at : NULL;
            if (nc) {
                st = dpo_normal_f32(zbuf, rc, (uint64_t)j, len);
                if (st)
                    return st;
                z = zbuf;
            }
            dpo__simd_step_f32(x_prev + at, x0 ? x0 + at : NULL, mu ? mu + at : mbuf, term, x + at,
                               model_out + at, z, len, c, level);
            if (logprob)
                fused_leaves(&tree, &nonfinite, term, len);
        }
        if (logprob)
            logprob[b] = dpo_lp_finish(dpo_tree_result(&tree), (double)dim, sigma, log_sigma,
                                       (int)mode);
    }
    if (nonfinite) {
        /* an x_prev or mu overflowed: no log-probability is valid */
        for (b = 0; b < batch; b++)
            logprob[b] = dpo_pm_from_bits(0x7ff8000000000000ULL);
        return DPO_ERR_NONFINITE;
    }
    return DPO_OK;
}

dpo_status dpo_step_fused_f32(float *x_prev, float *mu, double *logprob, const float *x,
                              const float *model_out, const float *noise,
                              const dpo_noise_coord *nc, size_t batch, size_t dim,
                              const dpo_step_coef_f32 *c, dpo_logprob_mode mode)
{
    return dpo_step_fused_x0_f32(x_prev, NULL, mu, logprob, x, model_out, noise, nc, batch, dim, c, mode);
}
