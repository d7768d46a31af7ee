/* Built-in differentiable rewards on DPO_IMG_SIDE x DPO_IMG_SIDE images
 * (include/diffpo_align.h, "rewards"; definitions in docs/rewards.md).
 *
 * Pixel (i, j) is row i, column j, element k = i * S + j, S = DPO_IMG_SIDE.
 * Values are computed in double; every sum over pixels is the canonical sum
 * of src/core/dpo_reduce.h; gradients are computed in double in closed form
 * and rounded once to float.  No allocation: the constant tables (the
 * aesthetic weights, the class templates) are rebuilt on the stack per call
 * from their definitions (a few hundred operations). */
#include <string.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_pmath.h"
#include "../core/dpo_reduce.h"
#include "../internal.h"

#define S DPO_IMG_SIDE
#define D DPO_IMG_DIM
#define NC DPO_DATA_CLASSES

/* AESTHETIC constants */
#define AES_SIGMA_PER_SIDE 0.1875 /* Gaussian width sigma = 0.1875 S (1.5 px at S = 8) */
#define AES_RING 0.5              /* subtracted on the outermost ring of pixels */
#define AES_Q 0.25                /* quadratic penalty q */
/* COMPRESS constants */
#define TV_EPS 0.01 /* smoothing inside the square root */
/* CLASSMATCH constants */
#define CM_SCALE 0.5 /* logit scale s; biases b_c = 0 */
#define CM_BAR_HALF 0.125        /* bar / stroke half-width, in units of S */
#define CM_BLOB_RADIUS 0.32      /* blob radius, in units of S */

const char *dpo_reward_name(dpo_reward_kind k)
{
    switch (k) {
    case DPO_REWARD_AESTHETIC:
        return "aesthetic";
    case DPO_REWARD_COMPRESS:
        return "compress";
    case DPO_REWARD_CLASSMATCH:
        return "classmatch";
    }
    return "unknown";
}

/* ---------------------------------------------------------- AESTHETIC */

static void aesthetic_weights(double w[D])
{
    const double c = 0.5 * (double)(S - 1);
    const double sg = AES_SIGMA_PER_SIDE * (double)S;
    const double inv2s2 = 1.0 / (2.0 * sg * sg);
    int i, j;
    for (i = 0; i < S; i++)
        for (j = 0; j < S; j++) {
            double di = (double)i - c, dj = (double)j - c;
            double v = dpo_exp(-(di * di + dj * dj) * inv2s2);
            if (i == 0 || j == 0 || i == S - 1 || j == S - 1)
                v = v - AES_RING;
            w[i * S + j] = v;
        }
}

static double aesthetic_one(float *g, const double w[D], const float *x)
{
    dpo_sum s;
    int k;
    dpo_sum_init(&s);
    for (k = 0; k < D; k++) {
        double xk = (double)x[k];
        dpo_sum_add(&s, w[k] * xk - (0.5 * AES_Q) * (xk * xk));
    }
    if (g)
        for (k = 0; k < D; k++)
            g[k] = (float)(w[k] - AES_Q * (double)x[k]);
    return dpo_sum_result(&s);
}

/* ----------------------------------------------------------- COMPRESS */

/* Forward differences with a replicated (Neumann) boundary: the difference
 * that would leave the image is 0. */
static void tv_diffs(double *dx, double *dy, const float *x, int i, int j)
{
    double v = (double)x[i * S + j];
    *dx = j + 1 < S ? (double)x[i * S + j + 1] - v : 0.0;
    *dy = i + 1 < S ? (double)x[(i + 1) * S + j] - v : 0.0;
}

static double compress_one(float *g, const float *x)
{
    double a[D], ex[D], ey[D]; /* a = sqrt(dx^2+dy^2+eps); ex = dx/a; ey = dy/a */
    dpo_sum s;
    int i, j;
    dpo_sum_init(&s);
    for (i = 0; i < S; i++)
        for (j = 0; j < S; j++) {
            double dx, dy;
            int k = i * S + j;
            tv_diffs(&dx, &dy, x, i, j);
            a[k] = DPO_SQRT(dx * dx + dy * dy + TV_EPS);
            ex[k] = dx / a[k];
            ey[k] = dy / a[k];
            dpo_sum_add(&s, a[k]);
        }
    if (g)
        for (i = 0; i < S; i++)
            for (j = 0; j < S; j++) {
                int k = i * S + j;
                /* d/dx_k of sum a: -(ex+ey) at k, +ex from the left
                 * neighbour, +ey from the one above */
                double t = -(ex[k] + ey[k]);
                if (j > 0)
                    t = t + ex[k - 1];
                if (i > 0)
                    t = t + ey[k - S];
                g[k] = (float)(-t / (double)S);
            }
    return -dpo_sum_result(&s) / (double)S;
}

/* --------------------------------------------------------- CLASSMATCH */

/* Binary idealised class image: 1 on the stroke, 0 off it. */
static int template_on(int c, int i, int j)
{
    const double ctr = 0.5 * (double)(S - 1);
    const double hw = CM_BAR_HALF * (double)S;
    const double rr = CM_BLOB_RADIUS * (double)S;
    double di = (double)i - ctr, dj = (double)j - ctr;
    switch (c) {
    case 0: /* horizontal bar through the centre */
        return (di < 0 ? -di : di) <= hw;
    case 1: /* vertical bar through the centre */
        return (dj < 0 ? -dj : dj) <= hw;
    case 2: /* diagonal stroke, top-left to bottom-right */
        return (i - j < 0 ? j - i : i - j) <= hw;
    default: /* 3: centred blob */
        return di * di + dj * dj <= rr * rr;
    }
}

/* T_c = (B_c - mean B_c) / ||B_c - mean B_c||, B_c = +1 on, -1 off. */
static void class_templates(double t[NC][D])
{
    int c, k;
    for (c = 0; c < NC; c++) {
        dpo_sum s;
        double mean, nrm;
        dpo_sum_init(&s);
        for (k = 0; k < D; k++) {
            t[c][k] = template_on(c, k / S, k % S) ? 1.0 : -1.0;
            dpo_sum_add(&s, t[c][k]);
        }
        mean = dpo_sum_result(&s) / (double)D;
        dpo_sum_init(&s);
        for (k = 0; k < D; k++) {
            t[c][k] = t[c][k] - mean;
            dpo_sum_add(&s, t[c][k] * t[c][k]);
        }
        nrm = DPO_SQRT(dpo_sum_result(&s));
        for (k = 0; k < D; k++)
            t[c][k] = t[c][k] / nrm;
    }
}

static double classmatch_one(float *g, const double t[NC][D], const float *x, int cls)
{
    double l[NC], p[NC], m, z, lse;
    dpo_sum s;
    int c, k;
    for (c = 0; c < NC; c++) {
        dpo_sum_init(&s);
        for (k = 0; k < D; k++)
            dpo_sum_add(&s, t[c][k] * (double)x[k]);
        l[c] = CM_SCALE * dpo_sum_result(&s); /* + b_c, b_c = 0 */
    }
    m = l[0];
    for (c = 1; c < NC; c++)
        if (l[c] > m)
            m = l[c];
    dpo_sum_init(&s);
    for (c = 0; c < NC; c++) {
        p[c] = dpo_exp(l[c] - m);
        dpo_sum_add(&s, p[c]);
    }
    z = dpo_sum_result(&s);
    lse = m + dpo_log(z);
    if (g) {
        for (c = 0; c < NC; c++)
            p[c] = p[c] / z;
        for (k = 0; k < D; k++) {
            double e = 0.0;
            for (c = 0; c < NC; c++)
                e = e + p[c] * t[c][k];
            g[k] = (float)(CM_SCALE * (t[cls][k] - e));
        }
    }
    return l[cls] - lse;
}

/* ------------------------------------------------------------- driver */

dpo_status dpo_reward_builtin_eval(double *r, float *g, dpo_reward_kind kind, const float *x0, size_t n,
                           const int32_t *cls)
{
    double w[D];
    double t[NC][D];
    size_t i, k, m;
    if (!r || !x0)
        return DPO_ERR_NULL;
    if ((int)kind < 0 || (int)kind >= DPO_REWARD_KINDS)
        return DPO_ERR_RANGE;
    if (kind == DPO_REWARD_CLASSMATCH && !cls)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS / D)
        return DPO_ERR_SIZE;
    m = n * D;
    if (dpo_overlap(r, n * sizeof(double), x0, m * sizeof(float)) ||
        (g && (dpo_overlap(g, m * sizeof(float), x0, m * sizeof(float)) ||
               dpo_overlap(g, m * sizeof(float), r, n * sizeof(double)))) ||
        (cls && kind == DPO_REWARD_CLASSMATCH &&
         (dpo_overlap(r, n * sizeof(double), cls, n * sizeof(int32_t)) ||
          (g && dpo_overlap(g, m * sizeof(float), cls, n * sizeof(int32_t))))))
        return DPO_ERR_ALIAS;
    if (kind == DPO_REWARD_CLASSMATCH)
        for (i = 0; i < n; i++)
            if (cls[i] < 0 || cls[i] >= NC)
                return DPO_ERR_RANGE;
    for (k = 0; k < m; k++)
        if (!dpo_pm_isfinitef(x0[k]))
            return DPO_ERR_NONFINITE;

    switch (kind) {
    case DPO_REWARD_AESTHETIC:
        aesthetic_weights(w);
        for (i = 0; i < n; i++)
            r[i] = aesthetic_one(g ? g + i * D : NULL, w, x0 + i * D);
        break;
    case DPO_REWARD_COMPRESS:
        for (i = 0; i < n; i++)
            r[i] = compress_one(g ? g + i * D : NULL, x0 + i * D);
        break;
    case DPO_REWARD_CLASSMATCH:
        class_templates(t);
        for (i = 0; i < n; i++)
            r[i] = classmatch_one(g ? g + i * D : NULL, (const double(*)[D])t, x0 + i * D, (int)cls[i]);
        break;
    }
    return DPO_OK;
}

/* ------------------------------------------------ the reward interface */

static const dpo_reward_kind builtin_kinds[DPO_REWARD_KINDS] = {DPO_REWARD_AESTHETIC, DPO_REWARD_COMPRESS,
                                                                 DPO_REWARD_CLASSMATCH};

static int builtin_value(void *user, double *r, const float *x0, size_t n, const int32_t *cond)
{
    if (!user)
        return (int)DPO_ERR_NULL;
    return (int)dpo_reward_builtin_eval(r, NULL, *(const dpo_reward_kind *)user, x0, n, cond);
}

static int builtin_grad(void *user, double *r, float *g, const float *x0, size_t n, const int32_t *cond)
{
    if (!user || !g)
        return (int)DPO_ERR_NULL;
    return (int)dpo_reward_builtin_eval(r, g, *(const dpo_reward_kind *)user, x0, n, cond);
}

dpo_reward_model dpo_reward_builtin(dpo_reward_kind kind)
{
    dpo_reward_model m;
    memset(&m, 0, sizeof m);
    if ((int)kind < 0 || (int)kind >= DPO_REWARD_KINDS)
        return m; /* no callbacks: every use fails */
    m.user = (void *)&builtin_kinds[kind];
    m.dim = D;
    m.value = builtin_value;
    m.grad = builtin_grad;
    return m;
}
