/* Element math of the built-in epsilon-network and of AdamW, shared by the
 * CPU drivers (src/model/mlp.c, src/model/adamw.c, src/model/pretrain.c) and the CUDA
 * drivers.  C99 and nvcc-compatible; no libm transcendentals (the portable
 * dpo_exp / dpo_sigmoid / dpo_sincos2pi of dpo_pmath.h).  docs/model.md. */
#ifndef DPO_MLP_CORE_H
#define DPO_MLP_CORE_H

#include "dpo_hd.h"
#include "dpo_pmath.h"

/* ln(10000) */
#define DPO_MLP_LN_10000 9.21034037197618236
/* 1 / (2 pi) */
#define DPO_MLP_INV_2PI 0.159154943091895336

/* SiLU s(z) = z sigmoid(z), in double, rounded once to float. */
DPO_HD float dpo_silu_f32(float z)
{
    double zd = (double)z;
    return (float)(zd * dpo_sigmoid(zd));
}

/* g * s'(z), s'(z) = sig(z) (1 + z (1 - sig(z))), in double, rounded once. */
DPO_HD float dpo_silu_vjp_f32(float g, float z)
{
    double zd = (double)z;
    double sg = dpo_sigmoid(zd);
    double d = sg * (1.0 + zd * (1.0 - sg));
    return (float)((double)g * d);
}

/* Element i of the sinusoidal embedding of timestep t, width w (even):
 * half = w / 2, f_k = 10000^(-k / half) = exp(-ln(10000) k / half);
 * e[k] = sin(t f_k), e[half + k] = cos(t f_k), k < half.  The angle is
 * carried as a fraction of a turn, u = t f_k / (2 pi), so that
 * dpo_sincos2pi's exact reduction applies. */
DPO_HD float dpo_temb_f32(int t, size_t i, size_t w)
{
    size_t half = w / 2;
    size_t k = i < half ? i : i - half;
    double f = dpo_exp(-DPO_MLP_LN_10000 * (double)k / (double)half);
    double u = (double)t * f * DPO_MLP_INV_2PI;
    double s, c;
    dpo_sincos2pi(u, &s, &c);
    return (float)(i < half ? s : c);
}

/* Element j of the network's input row [x, temb(t), cemb(c)]: x (dim
 * floats) and ce (the class-embedding row) are the sample's rows. */
DPO_HD float dpo_mlp_input_f32(const float *x, int t, const float *ce, size_t j, size_t dim, size_t temb)
{
    if (j < dim)
        return x[j];
    if (j < dim + temb)
        return dpo_temb_f32(t, j - dim, temb);
    return ce[j - dim - temb];
}

/* The LoRA projection's scaling u = (lora_alpha / rank) u, in double,
 * rounded once (forward: s (X A^T); backward: s (gY B)). */
DPO_HD float dpo_lora_scale_f32(float u, double scale)
{
    return (float)(scale * (double)u);
}

/* Gradient of class-embedding element j of class k: g (the accumulator)
 * widened, plus gin[i * stride] (the input gradient at that element of
 * sample i) for every sample i < n with cls[i] == k, in ascending i, in
 * double; rounded once. */
DPO_HD float dpo_cemb_grad_f32(float g, const float *gin, size_t stride, const int32_t *cls, size_t n, size_t k)
{
    double s = (double)g;
    size_t i;
    for (i = 0; i < n; i++)
        if ((size_t)cls[i] == k)
            s += (double)gin[i * stride];
    return (float)s;
}

/* Per-step AdamW scalars, each computed in double and rounded once. */
typedef struct dpo_adamw_coef {
    float b1, omb1, b2, omb2; /* beta1, 1 - beta1, beta2, 1 - beta2 */
    float bc1, bc2;           /* 1 - beta1^step, 1 - beta2^step */
    float lr, eps, wd;
} dpo_adamw_coef;

/* b^n by repeated squaring in double (right-to-left binary method:
 * result *= square whenever the current bit of n is set, ascending bits). */
DPO_HD double dpo_pow_u64(double b, uint64_t n)
{
    double r = 1.0, sq = b;
    while (n) {
        if (n & 1u)
            r = r * sq;
        n >>= 1;
        if (n)
            sq = sq * sq;
    }
    return r;
}

DPO_HD void dpo_adamw_coef_init(dpo_adamw_coef *c, double lr, double beta1, double beta2, double eps, double wd,
                                uint64_t step)
{
    c->b1 = (float)beta1;
    c->omb1 = (float)(1.0 - beta1);
    c->b2 = (float)beta2;
    c->omb2 = (float)(1.0 - beta2);
    c->bc1 = (float)(1.0 - dpo_pow_u64(beta1, step));
    c->bc2 = (float)(1.0 - dpo_pow_u64(beta2, step));
    c->lr = (float)lr;
    c->eps = (float)eps;
    c->wd = (float)wd;
}

/* One AdamW element update in float32, in this order:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) (g g);
 *   p = p - lr ((m / bc1) / (sqrt(v / bc2) + eps) + wd p). */
DPO_HD void dpo_adamw_elem(float *p, float *m, float *v, float g, const dpo_adamw_coef *c)
{
    float mm = c->b1 * *m + c->omb1 * g;
    float vv = c->b2 * *v + c->omb2 * (g * g);
    float mhat = mm / c->bc1;
    float vhat = vv / c->bc2;
    float den = DPO_SQRTF(vhat) + c->eps;
    float upd = mhat / den + c->wd * *p;
    *m = mm;
    *v = vv;
    *p = *p - c->lr * upd;
}

#endif
