/* AdamW (Loshchilov & Hutter, decoupled weight decay): the driver over a
 * parameter array; the element update is dpo_adamw_elem in
 * src/core/dpo_mlp.h (shared with the CUDA driver). */
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_mlp.h"
#include "../core/dpo_rules_model.h"
#include "../internal.h"
#include "../cpu_simd_model.h"

dpo_adamw dpo_adamw_default(double lr)
{
    dpo_adamw h;
    h.lr = lr;
    h.beta1 = 0.9;
    h.beta2 = 0.999;
    h.eps = 1e-8;
    h.weight_decay = 0.0;
    return h;
}

dpo_status dpo_adamw_step(float *param, float *m, float *v, const float *grad, size_t n, const dpo_adamw *h,
                          uint64_t step)
{
    dpo_adamw_coef c;
    size_t b = n * sizeof(float);
    int level;
    if (!h || (n && (!param || !m || !v || !grad)))
        return DPO_ERR_NULL;
    if (n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    /* the AdamW rule shared with the CUDA drivers (src/core/dpo_rules_model.h),
     * eps's float32 rounding included */
    if (step < 1 || dpo_rule_adamw_status(h) != DPO_OK)
        return DPO_ERR_RANGE;
    if (dpo_overlap(param, b, m, b) || dpo_overlap(param, b, v, b) || dpo_overlap(m, b, v, b) ||
        dpo_overlap(grad, b, param, b) || dpo_overlap(grad, b, m, b) || dpo_overlap(grad, b, v, b))
        return DPO_ERR_ALIAS;
    level = dpo_simd_level();
    if (!dpo__simd_allfinite_f32(grad, n, level))
        return DPO_ERR_NONFINITE;
    dpo_adamw_coef_init(&c, h->lr, h->beta1, h->beta2, h->eps, h->weight_decay, step);
    /* dpo_adamw_elem per element, in the vector form of the CPU's level
     * (same bits at every level, src/cpu_simd_model.h) */
    dpo__simd_adamw_f32(param, m, v, grad, n, &c, level);
    return DPO_OK;
}
