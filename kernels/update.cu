// CUDA drivers of the element-wise updates: TailorPO-G guidance (element
// and scalars: dpo_guide_elem / dpo_guide_scalars, src/core/dpo_loss.h) and
// AdamW (dpo_adamw_elem / dpo_adamw_coef_init, src/core/dpo_mlp.h) -- the
// functions src/loss_select.c and src/model/adamw.c call.
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"
#include "../src/core/dpo_loss.h"
#include "../src/core/dpo_mlp.h"
#include "../src/core/dpo_rules_model.h"

static __global__ void dpo_k_guide(float *xp, const float *x, const float *g, const float *vjp, size_t n,
                                   dpo_guide_params p)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    double sa, sb, scale;
    dpo_guide_scalars(&sa, &sb, &scale, p);
    for (; i < n; i += stride)
        xp[i] = (float)dpo_guide_elem((double)x[i], (double)g[i], vjp ? (double)vjp[i] : 0.0, scale, sb, sa);
}

extern "C" dpo_status dpo_cuda_tailorpo_g_update_f32(float *d_x_plus, const float *d_x, const float *d_g,
                                                     const float *d_vjp, size_t n, dpo_guide_params p, void *stream)
{
    size_t bytes = n * sizeof(float);
    int use_vjp;
    if (!d_x_plus || !d_x || !d_g)
        return DPO_ERR_NULL;
    if (dpo_rule_guide_params_status(p) != DPO_OK)
        return DPO_ERR_RANGE;
    use_vjp = p.jac == DPO_GUIDE_VJP;
    if (use_vjp && !d_vjp)
        return DPO_ERR_NULL;
    if (n == 0 || n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if ((d_x_plus != d_x && dpo_cu_overlap(d_x_plus, bytes, d_x, bytes)) || dpo_cu_overlap(d_x_plus, bytes, d_g, bytes) ||
        (use_vjp && dpo_cu_overlap(d_x_plus, bytes, d_vjp, bytes)))
        return DPO_ERR_ALIAS;
    DPO_CU_ENTRY();
    DPO_CU_LAUNCH(dpo_k_guide, (dpo_cu_blocks(n, DPO_CU_THREADS), DPO_CU_THREADS, 0, (cudaStream_t)stream), d_x_plus,
                  d_x, d_g, use_vjp ? d_vjp : NULL, n, p);
    DPO_CU_LAUNCHED();
    return DPO_OK;
}

// Each thread forms the step's coefficients itself (device arithmetic,
// no contraction: -fmad=false), then updates its elements.
static __global__ void dpo_k_adamw(float *p, float *m, float *v, const float *g, size_t n, dpo_adamw h, uint64_t step)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    dpo_adamw_coef c;
    dpo_adamw_coef_init(&c, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, step);
    for (; i < n; i += stride)
        dpo_adamw_elem(p + i, m + i, v + i, g[i], &c);
}


extern "C" dpo_status dpo_cuda_adamw_step(float *d_param, float *d_m, float *d_v, const float *d_grad, size_t n,
                                          const dpo_adamw *h, uint64_t step, void *stream)
{
    size_t b = n * sizeof(float);
    if (!h || (n && (!d_param || !d_m || !d_v || !d_grad)))
        return DPO_ERR_NULL;
    if (n > DPO_MAX_ELEMS)
        return DPO_ERR_SIZE;
    if (step < 1 || dpo_rule_adamw_status(h) != DPO_OK)
        return DPO_ERR_RANGE;
    if (dpo_cu_overlap(d_param, b, d_m, b) || dpo_cu_overlap(d_param, b, d_v, b) || dpo_cu_overlap(d_m, b, d_v, b) ||
        dpo_cu_overlap(d_grad, b, d_param, b) || dpo_cu_overlap(d_grad, b, d_m, b) ||
        dpo_cu_overlap(d_grad, b, d_v, b))
        return DPO_ERR_ALIAS;
    if (n == 0)
        return DPO_OK;
    DPO_CU_ENTRY();
    DPO_CU_LAUNCH(dpo_k_adamw, (dpo_cu_blocks(n, DPO_CU_THREADS), DPO_CU_THREADS, 0, (cudaStream_t)stream), d_param,
                  d_m, d_v, d_grad, n, *h, step);
    DPO_CU_LAUNCHED();
    return DPO_OK;
}
