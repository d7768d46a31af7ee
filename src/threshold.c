/* diffusers' dynamic thresholding of x0 (Saharia et al., Imagen; the
 * `thresholding` option of DDIMScheduler / DDPMScheduler) and the DDIM /
 * DDPM step that uses it.  Float32, in diffusers' order of operations:
 *   per sample b (all its d elements):
 *     s = quantile(|x0_b|, ratio)   torch.quantile's linear rule as PyTorch
 *         2.x computes it on an AVX2 CPU (measured against torch.quantile):
 *         rank = float32(ratio) * (d - 1) exactly (in double), lo =
 *         floor(rank), w = float32(rank - lo), and over the sorted |x0_b|
 *         s = lerp(v[lo], v[ceil(rank)], w) with PyTorch's lerp and its
 *         multiply-add fused: w < 0.5 ? fma(w, b - a, a) : fma(w - 1, b - a, b)
 *     s = min(max(s, 1), float(max_value))          (torch.clamp)
 *     x0 = min(max(x0, -s), s) / s
 *   then, as the step does after its clip: eps re-derived from the
 *   thresholded x0 when use_clipped_output is set, mu and x_prev.
 * Element math: src/core/dpo_ddim.h. */
#include <stdlib.h>
#include "diffpo.h"
#include "core/dpo_ddim.h"
#include "internal.h"

static int thr_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* The per-sample threshold s of n values |x0| (sorted into v). */
static float thr_scale(float *v, size_t n, float q, float maxv)
{
    double rank;
    float w, a, b, s;
    size_t lo, hi;
    qsort(v, n, sizeof *v, thr_cmp);
    rank = (double)q * (double)(n - 1); /* exact: 24 + 24 bits (n <= 2^24) */
    lo = (size_t)rank;
    w = (float)(rank - (double)lo);
    hi = rank > (double)lo ? lo + 1 : lo;
    if (hi > n - 1)
        hi = n - 1;
    a = v[lo];
    b = v[hi];
    s = w < 0.5f ? dpo_pm_fmaf(w, b - a, a) : dpo_pm_fmaf(w - 1.0f, b - a, b);
    if (s < 1.0f)
        s = 1.0f;
    if (s > maxv)
        s = maxv;
    return s;
}

size_t dpo_step_threshold_workspace_size(size_t d)
{
    return 2 * d * sizeof(float);
}

dpo_status dpo_step_threshold_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                                  const float *noise, size_t batch, size_t d, const dpo_step_coef_f32 *c,
                                  double ratio, double max_value, void *work, size_t work_size)
{
    dpo_step_coef_f32 raw;
    size_t b, i, n, bytes;
    float q, maxv, *v, *t;
    if (!x || !model_out || !c || !work)
        return DPO_ERR_NULL;
    /* d <= 2^24: torch.quantile's own limit, and keeps the rank exact */
    if (batch == 0 || d == 0 || d > ((size_t)1 << 24) || batch > DPO_MAX_ELEMS / d)
        return DPO_ERR_SIZE;
    if (!dpo_work_ok(work, work_size, dpo_step_threshold_workspace_size(d)))
        return DPO_ERR_WORKSPACE;
    if (!dpo_pm_isfinite(ratio) || !(ratio >= 0 && ratio <= 1) || !dpo_pm_isfinite(max_value) || !(max_value > 0))
        return DPO_ERR_RANGE;
    if (c->sigma != 0.0f && !noise)
        return DPO_ERR_NULL;
    n = batch * d;
    bytes = n * sizeof(float);
    {
        const void *ins[3];
        void *outs[4];
        int k, j;
        ins[0] = x;
        ins[1] = model_out;
        ins[2] = noise;
        outs[0] = x_prev;
        outs[1] = x0;
        outs[2] = mu;
        outs[3] = work;
        for (k = 0; k < 4; k++) {
            size_t ob = k == 3 ? work_size : bytes;
            if (!outs[k])
                continue;
            for (j = 0; j < 3; j++)
                if (ins[j] && dpo_overlap(outs[k], ob, ins[j], bytes))
                    return DPO_ERR_ALIAS;
            for (j = 0; j < k; j++)
                if (outs[j] && dpo_overlap(outs[k], ob, outs[j], bytes))
                    return DPO_ERR_ALIAS;
        }
    }
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinitef(x[i]) || !dpo_pm_isfinitef(model_out[i]) || (noise && !dpo_pm_isfinitef(noise[i])))
            return DPO_ERR_NONFINITE;
    raw = *c;
    raw.clip = 0; /* thresholding replaces the clip (diffusers: if thresholding ... elif clip) */
    raw.use_clipped_output = 0;
    q = (float)ratio;
    maxv = (float)max_value;
    v = (float *)work;
    t = v + d;
    for (b = 0; b < batch; b++) {
        const float *xb = x + b * d, *ob = model_out + b * d;
        float s;
        for (i = 0; i < d; i++) {
            float a, e;
            dpo_ddim_x0_eps_f32(&a, &e, xb[i], ob[i], &raw);
            t[i] = a;
            v[i] = a < 0 ? -a : a;
        }
        s = thr_scale(v, d, q, maxv);
        for (i = 0; i < d; i++) {
            float a = t[i], e, m, unused;
            if (a < -s)
                a = -s;
            if (a > s)
                a = s;
            a = a / s;
            dpo_ddim_x0_eps_f32(&unused, &e, xb[i], ob[i], &raw);
            if (c->use_clipped_output)
                e = (xb[i] - c->sqrt_alpha_t * a) / c->sqrt_beta_t;
            m = dpo_step_mean_f32(xb[i], a, e, c);
            if (x0)
                x0[b * d + i] = a;
            if (mu)
                mu[b * d + i] = m;
            if (x_prev)
                x_prev[b * d + i] = m + c->sigma * (noise ? noise[b * d + i] : 0.0f);
        }
    }
    return DPO_OK;
}
