/* Noise schedules (alphas_cumprod) and inference timesteps.
 *
 * docs/schedules.md states every formula below and how each is tested.
 *
 * float32 table (ac32), linear and scaled_linear: the exact arithmetic of
 * diffusers' DDIMScheduler under PyTorch 2.x on an x86-64 CPU with AVX2:
 *   betas  = linspace_f32(start, end, N)      (fused multiply-add per element;
 *                                              scaled_linear: squared in f32)
 *   alphas = 1 - betas                        (f32)
 *   ac32   = cumprod(alphas)                  (running product in double,
 *                                              each output rounded to f32)
 * float64 table (ac64): the same steps in double throughout (what the same
 * code would give with dtype=float64). */
#include "diffpo.h"
#include "core/dpo_pmath.h"

/* ------------------------------------------------------------ linspace */

/* PyTorch 2.x's CPU linspace in float32 as its AVX2 / AVX-512 kernels
 * compute it (the capability PyTorch picks on any x86-64 machine that has
 * AVX2): step = (end - start) / (n - 1) in float32; element i is
 * fma(step, i, start) for i < n/2 and fma(-step, n-1-i, end) otherwise,
 * each rounded once.  (PyTorch's non-SIMD "DEFAULT" kernel rounds the
 * product and the sum separately; docs/schedules.md.) */
static float linspace_f32(float start, float end, int n, int i)
{
    float step = (end - start) / (float)(n - 1);
    if (i < n / 2)
        return dpo_pm_fmaf(step, (float)i, start);
    return dpo_pm_fmaf(-step, (float)(n - 1 - i), end);
}

/* The same rule in double. */
static double linspace_f64(double start, double end, int n, int i)
{
    double step = (end - start) / (double)(n - 1);
    if (i < n / 2)
        return start + step * (double)i;
    return end - step * (double)(n - 1 - i);
}

/* ---------------------------------------------------- squaredcos_cap_v2 */

/* alpha_bar(i / n) = cos^2(((i/n + 0.008) / 1.008) * pi/2), with
 * cos(pi x / 2) = dpo_cospi(x / 2) (portable, never libm). */
static double cos_alpha_bar(int i, int n)
{
    double t = (double)i / (double)n;
    double c = dpo_cospi(((t + 0.008) / 1.008) * 0.5);
    return c * c;
}

/* beta_i = min(1 - alpha_bar((i+1)/n) / alpha_bar(i/n), 0.999), double. */
static double cos_beta(int i, int n)
{
    double b = 1.0 - cos_alpha_bar(i + 1, n) / cos_alpha_bar(i, n);
    return b < 0.999 ? b : 0.999;
}

/* ------------------------------------------------------------ betas */

typedef struct beta_gen {
    dpo_beta_schedule kind;
    int n;
    float s32, e32;  /* float32 linspace end points */
    double s64, e64; /* float64 linspace end points */
} beta_gen;

/* beta_i as float32 (diffusers' tensor) and as double. */
static void beta_at(const beta_gen *g, int i, float *b32, double *b64)
{
    if (g->kind == DPO_BETA_LINEAR) {
        *b32 = linspace_f32(g->s32, g->e32, g->n, i);
        *b64 = linspace_f64(g->s64, g->e64, g->n, i);
    } else if (g->kind == DPO_BETA_SCALED_LINEAR) {
        float r = linspace_f32(g->s32, g->e32, g->n, i);
        double r64 = linspace_f64(g->s64, g->e64, g->n, i);
        *b32 = r * r;
        *b64 = r64 * r64;
    } else { /* squaredcos_cap_v2: betas in double, stored as float32 */
        double b = cos_beta(i, g->n);
        *b64 = b;
        *b32 = (float)b;
    }
}

dpo_status dpo_schedule_init(dpo_schedule *s, dpo_beta_schedule kind, double beta_start, double beta_end, int n,
                             int set_alpha_to_one)
{
    beta_gen g;
    double cum32, cum64;
    int i;
    if (!s)
        return DPO_ERR_NULL;
    if (kind != DPO_BETA_LINEAR && kind != DPO_BETA_SCALED_LINEAR && kind != DPO_BETA_SQUAREDCOS_CAP_V2)
        return DPO_ERR_RANGE; /* DPO_BETA_TABLE goes through dpo_schedule_from_table */
    if (n < 2 || n > DPO_MAX_TRAIN_STEPS)
        return DPO_ERR_SIZE;
    if (set_alpha_to_one != 0 && set_alpha_to_one != 1)
        return DPO_ERR_RANGE;
    g.kind = kind;
    g.n = n;
    g.s32 = g.e32 = 0.0f;
    g.s64 = g.e64 = 0.0;
    if (kind != DPO_BETA_SQUAREDCOS_CAP_V2) {
        if (!dpo_pm_isfinite(beta_start) || !dpo_pm_isfinite(beta_end))
            return DPO_ERR_NONFINITE;
        if (!(beta_start > 0.0) || !(beta_start <= beta_end) || !(beta_end < 1.0))
            return DPO_ERR_RANGE;
        if (kind == DPO_BETA_LINEAR) {
            g.s64 = beta_start;
            g.e64 = beta_end;
        } else {
            /* Python's beta ** 0.5 in double, then (below) rounded to f32 */
            g.s64 = DPO_SQRT(beta_start);
            g.e64 = DPO_SQRT(beta_end);
        }
        g.s32 = (float)g.s64;
        g.e32 = (float)g.e64;
        /* a start that rounds to 0 in float32 (beta_start < ~1e-45) */
        if (!(g.s32 > 0.0f))
            return DPO_ERR_RANGE;
    }
    /* Dry run: the products only decrease, so the table is valid iff its
     * last entry is positive in both precisions. */
    cum32 = 1.0;
    cum64 = 1.0;
    for (i = 0; i < n; i++) {
        float b32;
        double b64;
        beta_at(&g, i, &b32, &b64);
        cum32 *= (double)(1.0f - b32);
        cum64 *= 1.0 - b64;
    }
    if (!((float)cum32 > 0.0f) || !(cum64 > 0.0) || !((float)cum64 > 0.0f))
        return DPO_ERR_RANGE; /* alphas_cumprod underflows to zero */

    s->num_train_steps = n;
    s->set_alpha_to_one = set_alpha_to_one;
    s->kind = kind;
    cum32 = 1.0;
    cum64 = 1.0;
    for (i = 0; i < n; i++) {
        float b32;
        double b64;
        beta_at(&g, i, &b32, &b64);
        cum32 *= (double)(1.0f - b32);
        cum64 *= 1.0 - b64;
        s->ac32[i] = (float)cum32;
        s->ac64[i] = cum64;
    }
    for (; i < DPO_MAX_TRAIN_STEPS; i++) {
        s->ac32[i] = 0.0f;
        s->ac64[i] = 0.0;
    }
    s->final_ac32 = set_alpha_to_one ? 1.0f : s->ac32[0];
    s->final_ac64 = set_alpha_to_one ? 1.0 : s->ac64[0];
    return DPO_OK;
}

dpo_status dpo_schedule_from_table(dpo_schedule *s, const float *table32, const double *table64, int n,
                                   int set_alpha_to_one)
{
    int i;
    if (!s || (!table32 && !table64))
        return DPO_ERR_NULL;
    if (n < 2 || n > DPO_MAX_TRAIN_STEPS)
        return DPO_ERR_SIZE;
    if (set_alpha_to_one != 0 && set_alpha_to_one != 1)
        return DPO_ERR_RANGE;
    for (i = 0; i < n; i++) {
        int zero_ok = i == n - 1; /* a zero-terminal-SNR table ends with exactly 0 */
        if (table32) {
            float v = table32[i];
            if (!dpo_pm_isfinitef(v))
                return DPO_ERR_NONFINITE;
            if (!((v > 0.0f || (zero_ok && v == 0.0f)) && v <= 1.0f))
                return DPO_ERR_RANGE;
        }
        if (table64) {
            double v = table64[i];
            if (!dpo_pm_isfinite(v))
                return DPO_ERR_NONFINITE;
            /* its float32 rounding must stay positive too */
            if (!(zero_ok && v == 0.0) && (!(v > 0.0 && v <= 1.0) || !((float)v > 0.0f)))
                return DPO_ERR_RANGE;
        }
    }
    s->num_train_steps = n;
    s->set_alpha_to_one = set_alpha_to_one;
    s->kind = DPO_BETA_TABLE;
    for (i = 0; i < n; i++) {
        s->ac32[i] = table32 ? table32[i] : (float)table64[i];
        s->ac64[i] = table64 ? table64[i] : (double)table32[i];
    }
    for (; i < DPO_MAX_TRAIN_STEPS; i++) {
        s->ac32[i] = 0.0f;
        s->ac64[i] = 0.0;
    }
    s->final_ac32 = set_alpha_to_one ? 1.0f : s->ac32[0];
    s->final_ac64 = set_alpha_to_one ? 1.0 : s->ac64[0];
    return DPO_OK;
}

/* ------------------------------------------------ zero terminal SNR */

dpo_status dpo_schedule_rescale_zero_snr(dpo_schedule *s)
{
    float r32[DPO_MAX_TRAIN_STEPS], f0, fT, k32;
    double r64[DPO_MAX_TRAIN_STEPS], d0, dT, k64, cum32 = 1.0, cum64 = 1.0;
    int n, i;
    if (!s)
        return DPO_ERR_NULL;
    n = s->num_train_steps;
    if (n < 2 || n > DPO_MAX_TRAIN_STEPS)
        return DPO_ERR_SIZE;
    for (i = 0; i < n; i++) {
        r32[i] = DPO_SQRTF(s->ac32[i]);
        r64[i] = DPO_SQRT(s->ac64[i]);
    }
    f0 = r32[0];
    fT = r32[n - 1];
    d0 = r64[0];
    dT = r64[n - 1];
    if (!(f0 - fT > 0.0f) || !(d0 - dT > 0.0))
        return DPO_ERR_RANGE;
    k32 = f0 / (f0 - fT);
    k64 = d0 / (d0 - dT);
    for (i = 0; i < n; i++) {
        float a = (r32[i] - fT) * k32;
        double b = (r64[i] - dT) * k64;
        r32[i] = a * a; /* alphas_bar */
        r64[i] = b * b;
    }
    for (i = 0; i < n; i++) {
        float al = i ? r32[i] / r32[i - 1] : r32[0];
        double bl = i ? r64[i] / r64[i - 1] : r64[0];
        float beta32 = 1.0f - al;
        double beta64 = 1.0 - bl;
        cum32 *= (double)(1.0f - beta32);
        cum64 *= 1.0 - beta64;
        s->ac32[i] = (float)cum32;
        s->ac64[i] = cum64;
    }
    s->final_ac32 = s->set_alpha_to_one ? 1.0f : s->ac32[0];
    s->final_ac64 = s->set_alpha_to_one ? 1.0 : s->ac64[0];
    return DPO_OK;
}

/* ---------------------------------------------------------- timesteps */

/* Round half to even (numpy's np.round / rint) for |x| < 2^52. */
static double round_half_even(double x)
{
    double f = dpo_pm_floor(x);
    double d = x - f; /* exact */
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return (dpo_pm_floor(f * 0.5) * 2.0 == f) ? f : f + 1.0;
}

/* ceil for |x| < 2^52 */
static double ceil_d(double x)
{
    double f = dpo_pm_floor(x);
    return f == x ? f : f + 1.0;
}

dpo_status dpo_timesteps(int32_t *out, int num_inference_steps, int num_train_steps, dpo_spacing spacing,
                         int steps_offset)
{
    int32_t tmp[DPO_MAX_TRAIN_STEPS];
    int S = num_inference_steps, N = num_train_steps, k;
    if (!out)
        return DPO_ERR_NULL;
    if (N < 2 || N > DPO_MAX_TRAIN_STEPS || S < 1 || S > N)
        return DPO_ERR_SIZE;
    if (steps_offset < 0)
        return DPO_ERR_RANGE;
    if (spacing == DPO_SPACING_LEADING) {
        /* (arange(S) * (N // S))[::-1] + steps_offset */
        int r = N / S;
        if (steps_offset >= N)
            return DPO_ERR_RANGE; /* (also keeps the sum below from overflowing) */
        for (k = 0; k < S; k++)
            tmp[k] = (int32_t)((S - 1 - k) * r + steps_offset);
    } else if (spacing == DPO_SPACING_TRAILING) {
        /* round(np.arange(N, 0, -N/S)) - 1, numpy's arange: length
         * ceil((0 - N) / -q), x0 = N, x1 = N + (-q), delta = x1 - x0,
         * x_i = x0 + i * delta (i >= 2). */
        double q = (double)N / (double)S;
        double x0 = (double)N, x1 = x0 + (-q), delta = x1 - x0;
        double len = ceil_d((0.0 - x0) / (-q));
        if (len != (double)S)
            return DPO_ERR_RANGE; /* numpy would give S + 1 values, the last -1 */
        for (k = 0; k < S; k++) {
            double x = k == 0 ? x0 : k == 1 ? x1 : x0 + (double)k * delta;
            tmp[k] = (int32_t)round_half_even(x) - 1;
        }
    } else if (spacing == DPO_SPACING_LINSPACE) {
        /* round(np.linspace(0, N - 1, S))[::-1]; numpy's linspace:
         * y_i = i * ((N - 1) / (S - 1)) + 0, last = N - 1 exactly. */
        if (S == 1) {
            tmp[0] = 0;
        } else {
            double step = (double)(N - 1) / (double)(S - 1);
            for (k = 0; k < S; k++) {
                int i = S - 1 - k;
                double y = i == S - 1 ? (double)(N - 1) : (double)i * step + 0.0;
                tmp[k] = (int32_t)round_half_even(y);
            }
        }
    } else {
        return DPO_ERR_RANGE;
    }
    for (k = 0; k < S; k++)
        if (tmp[k] < 0 || tmp[k] >= N)
            return DPO_ERR_RANGE;
    for (k = 0; k < S; k++)
        out[k] = tmp[k];
    return DPO_OK;
}
