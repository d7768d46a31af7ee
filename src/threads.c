/* Multi-threaded forms of the noise generator and the step (diffpo.h,
 * "threads"; docs/api.md "Threads").
 *
 * Each call is checked whole, on the calling thread, exactly as the
 * single-threaded call checks it (same checks, same order, same status),
 * then cut into pieces that the single-threaded entry points compute:
 *   - normals: whole Philox blocks of the tensor, so every thread computes
 *     exactly the elements (and through the same vector or scalar forms)
 *     that one call would, and dpo_normal_* promises that generating in
 *     pieces gives the values of one call;
 *   - the Philox step: whole Philox blocks of elements; a piece draws its
 *     noise with dpo_normal_* and steps with dpo_step_*, which is bit for
 *     bit dpo_step_philox_* (its documented definition);
 *   - the fused step: ranges of whole rows; a row's log-probability is one
 *     canonical tree summed on one thread, the same as in one call.
 * The finiteness of the inputs is checked first, in parallel over the same
 * pieces, and only when every piece passes does any output get written.
 * The threads are created per call and joined before it returns: there is
 * no pool, no global state and nothing allocated on the heap. */
#include <pthread.h>
#include <string.h>
#include "diffpo.h"
#include "core/dpo_pmath.h"
#include "core/dpo_rules.h"
#include "internal.h"
#include "cpu_simd.h"

/* ------------------------------------------------------------ the runner */

typedef struct mt_task mt_task;
typedef dpo_status (*mt_fn)(const mt_task *t, size_t lo, size_t hi);

/* Everything a piece needs; which fields are used depends on fn. */
struct mt_task {
    mt_fn fn;
    int f64;                          /* double tensors */
    dpo_noise_coord nc;
    const dpo_noise_coord *ncp;       /* fused step: coordinates or NULL */
    uint64_t e0;                      /* normals: first element */
    size_t n, dim, batch;
    void *out, *x_prev, *x0, *mu;
    double *logprob;
    const void *x, *model_out, *noise;
    const void *c;                    /* dpo_step_coef_f32 or _f64 */
    dpo_logprob_mode mode;
    const void *chk[3];               /* arrays whose finiteness is checked */
    size_t chk_unit;                  /* elements per unit of [lo, hi) in the check */
    int level;                        /* dispatch level for the check */
};

typedef struct mt_job {
    const mt_task *task;
    size_t lo, hi;
    dpo_status st;
} mt_job;

static void *mt_main(void *p)
{
    mt_job *j = (mt_job *)p;
    j->st = j->task->fn(j->task, j->lo, j->hi);
    return NULL;
}

/* Units per piece for `count` units on at most `threads` pieces: the
 * ceiling, rounded up to a multiple of `round` once it exceeds it (keeps
 * piece boundaries on whole vector batches for large inputs; the bits do
 * not depend on it). */
static size_t mt_per(size_t count, int threads, size_t round)
{
    size_t per = (count + (size_t)threads - 1) / (size_t)threads;
    if (per > round)
        per = (per + round - 1) / round * round;
    return per;
}

/* Runs t->fn over units [0, count) cut into pieces of `per` units: the
 * first piece on this thread, the others on new threads (or here, where
 * one cannot be created).  Returns the first piece's non-OK status, in
 * piece order, else DPO_OK. */
static dpo_status mt_run(const mt_task *t, size_t count, size_t per)
{
    pthread_t tid[DPO_MAX_THREADS];
    int made[DPO_MAX_THREADS];
    mt_job job[DPO_MAX_THREADS];
    size_t np = (count + per - 1) / per, k;
    for (k = 0; k < np; k++) {
        job[k].task = t;
        job[k].lo = k * per;
        job[k].hi = k + 1 == np ? count : (k + 1) * per;
        job[k].st = DPO_OK;
        made[k] = 0;
    }
    for (k = 1; k < np; k++)
        made[k] = pthread_create(&tid[k], NULL, mt_main, &job[k]) == 0;
    mt_main(&job[0]);
    for (k = 1; k < np; k++) {
        if (made[k])
            pthread_join(tid[k], NULL);
        else
            mt_main(&job[k]);
    }
    for (k = 0; k < np; k++)
        if (job[k].st != DPO_OK)
            return job[k].st;
    return DPO_OK;
}

static int mt_threads_ok(int threads)
{
    return threads >= 0 && threads <= DPO_MAX_THREADS;
}

/* ------------------------------------------------- the finiteness check */

/* Units [lo, hi) of t->chk_unit elements (the last one clipped to t->n). */
static dpo_status piece_finite(const mt_task *t, size_t lo, size_t hi)
{
    size_t a = lo * t->chk_unit, b = hi * t->chk_unit, i;
    int k;
    if (b > t->n)
        b = t->n;
    for (k = 0; k < 3; k++) {
        if (!t->chk[k])
            continue;
        if (t->f64) {
            const double *p = (const double *)t->chk[k];
            for (i = a; i < b; i++)
                if (!dpo_pm_isfinite(p[i]))
                    return DPO_ERR_NONFINITE;
        } else if (!dpo__simd_allfinite_f32((const float *)t->chk[k] + a, b - a, t->level)) {
            return DPO_ERR_NONFINITE;
        }
    }
    return DPO_OK;
}

/* Every element of t->chk[0..2] (n each) finite, checked on `threads`
 * pieces; DPO_ERR_NONFINITE otherwise. */
static dpo_status mt_check_finite(mt_task *t, int threads)
{
    mt_fn fn = t->fn;
    size_t units;
    dpo_status st;
    t->chk_unit = 64;
    units = (t->n + t->chk_unit - 1) / t->chk_unit;
    t->level = dpo_simd_level();
    t->fn = piece_finite;
    st = mt_run(t, units, mt_per(units, threads, 16));
    t->fn = fn;
    return st;
}

/* ------------------------------------------------------------- normals */

/* Philox blocks [lo, hi) counted from the block holding element e0. */
static dpo_status piece_normal(const mt_task *t, size_t lo, size_t hi)
{
    uint64_t fb = t->e0 >> 2, end = t->e0 + (uint64_t)t->n;
    uint64_t a = (fb + lo) << 2, b = (fb + hi) << 2;
    if (a < t->e0)
        a = t->e0;
    if (b > end)
        b = end;
    if (t->f64)
        return dpo_normal_f64((double *)t->out + (a - t->e0), t->nc, a, (size_t)(b - a));
    return dpo_normal_f32((float *)t->out + (a - t->e0), t->nc, a, (size_t)(b - a));
}

static dpo_status normal_mt(void *out, int f64, dpo_noise_coord c, uint64_t e0, size_t n, int threads)
{
    mt_task t;
    size_t blocks;
    dpo_status st;
    if (!mt_threads_ok(threads))
        return DPO_ERR_RANGE;
    /* the checks of dpo_normal_*, in its order (src/philox.c) */
    if (threads <= 1 || n == 0 || !out || (st = dpo_rule_coord_status(c, e0, n)) != DPO_OK)
        return f64 ? dpo_normal_f64((double *)out, c, e0, n) : dpo_normal_f32((float *)out, c, e0, n);
    blocks = (size_t)(((e0 + n - 1) >> 2) - (e0 >> 2) + 1);
    memset(&t, 0, sizeof t);
    t.fn = piece_normal;
    t.f64 = f64;
    t.out = out;
    t.nc = c;
    t.e0 = e0;
    t.n = n;
    return mt_run(&t, blocks, mt_per(blocks, threads, 16));
}

dpo_status dpo_normal_f32_mt(float *out, dpo_noise_coord c, uint64_t e0, size_t n, int threads)
{
    return normal_mt(out, 0, c, e0, n, threads);
}

dpo_status dpo_normal_f64_mt(double *out, dpo_noise_coord c, uint64_t e0, size_t n, int threads)
{
    return normal_mt(out, 1, c, e0, n, threads);
}

/* ------------------------------------------------------ the Philox step */

#define MT_STEP_CHUNK 512 /* noise elements per dpo_normal_* call (on the stack) */

/* Philox blocks [lo, hi) of the step's elements: the noise of each chunk
 * from dpo_normal_*, then dpo_step_* on the chunk with it. */
static dpo_status piece_step_philox(const mt_task *t, size_t lo, size_t hi)
{
    size_t a = lo * 4, b = hi * 4 < t->n ? hi * 4 : t->n, i;
    dpo_status st = DPO_OK;
    for (i = a; i < b && st == DPO_OK; i += MT_STEP_CHUNK) {
        size_t len = b - i < MT_STEP_CHUNK ? b - i : MT_STEP_CHUNK;
        if (t->f64) {
            double z[MT_STEP_CHUNK];
            double *xp = (double *)t->x_prev, *x0 = (double *)t->x0, *mu = (double *)t->mu;
            if ((st = dpo_normal_f64(z, t->nc, (uint64_t)i, len)) == DPO_OK)
                st = dpo_step_f64(xp ? xp + i : NULL, x0 ? x0 + i : NULL, mu ? mu + i : NULL,
                                  (const double *)t->x + i, (const double *)t->model_out + i, z, len,
                                  (const dpo_step_coef_f64 *)t->c);
        } else {
            float z[MT_STEP_CHUNK];
            float *xp = (float *)t->x_prev, *x0 = (float *)t->x0, *mu = (float *)t->mu;
            if ((st = dpo_normal_f32(z, t->nc, (uint64_t)i, len)) == DPO_OK)
                st = dpo_step_f32(xp ? xp + i : NULL, x0 ? x0 + i : NULL, mu ? mu + i : NULL,
                                  (const float *)t->x + i, (const float *)t->model_out + i, z, len,
                                  (const dpo_step_coef_f32 *)t->c);
        }
    }
    return st;
}

static dpo_status step_philox_mt(mt_task *t, int threads)
{
    size_t blocks = (t->n + 3) / 4;
    dpo_status st;
    t->chk[0] = t->x;
    t->chk[1] = t->model_out;
    t->fn = piece_step_philox;
    if ((st = mt_check_finite(t, threads)) != DPO_OK)
        return st;
    return mt_run(t, blocks, mt_per(blocks, threads, 16));
}

dpo_status dpo_step_philox_f32_mt(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                                  dpo_noise_coord nc, size_t n, const dpo_step_coef_f32 *c, int threads)
{
    mt_task t;
    if (!mt_threads_ok(threads))
        return DPO_ERR_RANGE;
    if (threads <= 1 || n <= 4 ||
        dpo__step_philox_args_f32(x_prev, x0, mu, x, model_out, nc, n, c) != DPO_OK)
        return dpo_step_philox_f32(x_prev, x0, mu, x, model_out, nc, n, c);
    memset(&t, 0, sizeof t);
    t.x_prev = x_prev, t.x0 = x0, t.mu = mu, t.x = x, t.model_out = model_out;
    t.nc = nc, t.n = n, t.c = c, t.f64 = 0;
    return step_philox_mt(&t, threads);
}

dpo_status dpo_step_philox_f64_mt(double *x_prev, double *x0, double *mu, const double *x,
                                  const double *model_out, dpo_noise_coord nc, size_t n,
                                  const dpo_step_coef_f64 *c, int threads)
{
    mt_task t;
    if (!mt_threads_ok(threads))
        return DPO_ERR_RANGE;
    if (threads <= 1 || n <= 4 ||
        dpo__step_philox_args_f64(x_prev, x0, mu, x, model_out, nc, n, c) != DPO_OK)
        return dpo_step_philox_f64(x_prev, x0, mu, x, model_out, nc, n, c);
    memset(&t, 0, sizeof t);
    t.x_prev = x_prev, t.x0 = x0, t.mu = mu, t.x = x, t.model_out = model_out;
    t.nc = nc, t.n = n, t.c = c, t.f64 = 1;
    return step_philox_mt(&t, threads);
}

/* ------------------------------------------------------- the fused step */

/* Rows [lo, hi): dpo_step_fused_x0_f32 on them (x0 NULL: dpo_step_fused_f32),
 * row r's noise coordinates at sample nc->sample + r as in one call. */
static dpo_status piece_fused(const mt_task *t, size_t lo, size_t hi)
{
    size_t at = lo * t->dim;
    dpo_noise_coord rc;
    if (t->ncp) {
        rc = *t->ncp;
        rc.sample = t->ncp->sample + (uint32_t)lo;
    }
    return dpo_step_fused_x0_f32((float *)t->x_prev + at, t->x0 ? (float *)t->x0 + at : NULL,
                                 t->mu ? (float *)t->mu + at : NULL, t->logprob ? t->logprob + lo : NULL,
                                 (const float *)t->x + at, (const float *)t->model_out + at,
                                 t->noise ? (const float *)t->noise + at : NULL, t->ncp ? &rc : NULL, hi - lo,
                                 t->dim, (const dpo_step_coef_f32 *)t->c, t->mode);
}

dpo_status dpo_step_fused_f32_mt(float *x_prev, float *mu, double *logprob, const float *x,
                                 const float *model_out, const float *noise, const dpo_noise_coord *nc,
                                 size_t batch, size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode,
                                 int threads)
{
    return dpo_step_fused_x0_f32_mt(x_prev, NULL, mu, logprob, x, model_out, noise, nc, batch, dim, c, mode,
                                    threads);
}

dpo_status dpo_step_fused_x0_f32_mt(float *x_prev, float *x0, float *mu, double *logprob, const float *x,
                                    const float *model_out, const float *noise, const dpo_noise_coord *nc,
                                    size_t batch, size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode,
                                    int threads)
{
    mt_task t;
    dpo_status st;
    size_t b;
    if (!mt_threads_ok(threads))
        return DPO_ERR_RANGE;
    if (threads <= 1 || batch < 2 ||
        dpo__step_fused_args_f32(x_prev, x0, mu, logprob, x, model_out, noise, nc, batch, dim, c, mode) != DPO_OK)
        return dpo_step_fused_x0_f32(x_prev, x0, mu, logprob, x, model_out, noise, nc, batch, dim, c, mode);
    memset(&t, 0, sizeof t);
    t.x_prev = x_prev, t.x0 = x0, t.mu = mu, t.logprob = logprob, t.x = x, t.model_out = model_out;
    t.noise = noise;
    t.ncp = nc, t.batch = batch, t.dim = dim, t.n = batch * dim, t.c = c, t.mode = mode;
    t.chk[0] = x;
    t.chk[1] = model_out;
    t.chk[2] = noise;
    t.fn = piece_fused;
    if ((st = mt_check_finite(&t, threads)) != DPO_OK)
        return st;
    st = mt_run(&t, batch, mt_per(batch, threads, 1));
    if (st == DPO_ERR_NONFINITE && logprob) {
        /* an x_prev or mu overflowed in some row: as in one call, no
         * log-probability is valid */
        for (b = 0; b < batch; b++)
            logprob[b] = dpo_pm_from_bits(0x7ff8000000000000ULL);
    }
    return st;
}
