// Compiles the shared element math under nvcc (make cuda-check): every
// function of src/core/ instantiated in a kernel, so host/device qualifiers,
// C++ compatibility and the no-libm rule are checked by the CUDA compiler.
#include "../src/core/dpo_pmath.h"
#include "../src/core/dpo_philox.h"
#include "../src/core/dpo_reduce.h"
#include "../src/core/dpo_ddim.h"

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
