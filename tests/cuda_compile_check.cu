// Compiles the shared element math under nvcc (make cuda-check): every
// function of src/core/ instantiated in a kernel, so host/device qualifiers,
// C++ compatibility and the no-libm rule are checked by the CUDA compiler.
#include "../src/core/dpo_pmath.h"
#include "../src/core/dpo_philox.h"
#include "../src/core/dpo_reduce.h"
#include "../src/core/dpo_ddim.h"
#include "../src/core/dpo_loss.h"
#include "../src/core/dpo_mlp.h"

__global__ void dpo_core_compile_check(double *out, const dpo_step_coef_f32 *c32, const dpo_step_coef_f64 *c64)
{
    double z[4], s, c;
    float a, m;
    double ad, md;
    dpo_sum sum;
    dpo_normal4(z, 1234u, DPO_STREAM_STEP, threadIdx.x, 0u, 0u, blockIdx.x);
    dpo_sincos2pi(z[0], &s, &c);
    dpo_sum_init(&sum);
    dpo_sum_add(&sum, dpo_exp(z[1]) + dpo_log1p(z[2] * z[2]) + dpo_log(1.0 + z[3] * z[3]));
    dpo_sum_add(&sum, dpo_sigmoid(s) + dpo_softplus(c) + dpo_cospi(z[0]));
    dpo_sum_add(&sum, (double)dpo_step_elem_f32(&a, &m, (float)z[0], (float)z[1], (float)z[2], c32));
    dpo_sum_add(&sum, dpo_step_elem_f64(&ad, &md, z[0], z[1], z[2], c64));
    dpo_sum_add(&sum, dpo_lp_term(ad, md));
    out[blockIdx.x * blockDim.x + threadIdx.x] = dpo_sum_result(&sum) + (double)dpo_uniform_index(7u, 3u);
}

// The loss scalars, gradient elements, guidance and AdamW/MLP element math.
__global__ void dpo_core_compile_check_loss(dpo_pair_result *res, double *out, float *f, dpo_pair_params p,
                                            dpo_clip_params q, dpo_rdpo_params rp, dpo_eps_params ep,
                                            dpo_dspo_params dp, dpo_guide_params gp)
{
    dpo_pair_result r;
    double a, b, c, sp, cd, cw, pp, sa, sb, sc;
    dpo_adamw_coef ac;
    float pm = f[0], m = f[1], v = f[2];
    dpo_stepdpo_scalars(&r, &a, &b, out[0], out[1], 100.0, p);
    dpo_d3po_code_scalars(&r, &a, &b, out[0], out[1], 100.0, 1, q);
    dpo_rdpo_scalars(&r, &a, &b, out[0], out[1], out[2], 100.0, rp);
    dpo_diffdpo_scalars(&r, &c, out[0], out[1], 100.0, ep);
    c = dpo_dspo_pre(&r, &sp, out[0], out[1], 100.0, dp);
    a = dpo_dspo_v(&pp, out[3], out[4], out[5], c);
    dpo_dspo_post(&r, &cd, &cw, a * a, a * pp, c, sp, 100.0, dp);
    dpo_guide_scalars(&sa, &sb, &sc, gp);
    out[6] = dpo_grad_diff(cd, out[3], out[4]) + dpo_grad2_elem(out[3], out[4], out[5], cw, -cw) +
             dpo_dspo_gw_elem(out[3], out[4], out[5], c, cd, cw) + dpo_guide_elem(out[3], out[4], out[5], sc, sb, sa) +
             dpo_lr_term(out[3], out[4], out[5]) + dpo_err_diff_term(out[3], out[4], out[5]);
    dpo_adamw_coef_init(&ac, 1e-3, 0.9, 0.999, 1e-8, 0.0, 7u);
    dpo_adamw_elem(&pm, &m, &v, f[3], &ac);
    f[4] = pm + dpo_silu_f32(m) + dpo_silu_vjp_f32(v, m) + dpo_temb_f32(5, 3, 16);
    *res = r;
}
