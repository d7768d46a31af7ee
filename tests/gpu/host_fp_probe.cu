// Host floating-point contraction probe of the CUDA build (issue 17 item 1).
//
// nvcc hands the host half of every .cu file to the host C++ compiler, and
// -fmad=false reaches only the device half.  GCC contracts a * b + c into a
// fused multiply-add in C++ by default (-ffp-contract=fast outside ISO C), so
// without -Xcompiler -ffp-contract=off the host arithmetic of kernels/ (the
// pretraining batch, the inlined src/core code) and the host references in
// tests/gpu/ would round differently from the CPU library on any host with
// FMA (aarch64, or x86-64 with -march=haswell / native).
//
// The Makefile compiles this file with the CUDA build's NVFLAGS plus a target
// that has FMA instructions (x86-64: -march=haswell; aarch64 has them by
// default) and fails the build when the object's host code holds any fused
// multiply-add (tests/gpu/host_fp_probe.sh).  Each function below is a pattern
// that GCC fuses when contraction is on.
#include "../../src/core/dpo_mlp.h"
#include "../../src/core/dpo_ddim.h"

extern "C" {
double dpo_probe_fma_f64(double a, double b, double c)
{
    return a * b + c;
}

float dpo_probe_fma_f32(float a, float b, float c)
{
    return a * b - c;
}

// The shared element math as host code sees it (inlined from src/core).
void dpo_probe_adamw(float *p, float *m, float *v, const float *g, int n, const dpo_adamw_coef *c)
{
    for (int i = 0; i < n; i++)
        dpo_adamw_elem(p + i, m + i, v + i, g[i], c);
}

float dpo_probe_batch_row(float *x, const float *e, int n, float sa, float sb)
{
    // the pretraining batch's x_t = sa x0 + sb eps, as kernels/mlp.cu forms it
    for (int i = 0; i < n; i++)
        x[i] = sa * x[i] + sb * e[i];
    return x[0];
}
}
