/* Shared element-math conventions: everything under src/core/ is compiled
 * both by the C compiler (for the CPU drivers in src/) and by nvcc (for the
 * CUDA drivers in kernels/).  Keep it C99 and C++-compatible: no designated
 * initialisers, no compound literals, no VLAs, no libm transcendentals. */
#ifndef DPO_HD_H
#define DPO_HD_H

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define DPO_HD __host__ __device__ __forceinline__
#define DPO_HD_CONST __host__ __device__
#else
#define DPO_HD static inline
#define DPO_HD_CONST
#endif

#if defined(__FAST_MATH__)
#error "diffpo must not be built with fast-math: it breaks the bit-reproducibility contract"
#endif

/* Square root is correctly rounded by IEEE 754 on every supported target
 * (SSE2 sqrtsd/sqrtss on the CPU, nvcc -prec-sqrt=true on the GPU), so it is
 * the one libm-level function the element math may use. */
#if defined(__CUDACC__)
#define DPO_SQRT(x) sqrt(x)
#define DPO_SQRTF(x) sqrtf(x)
#else
#define DPO_SQRT(x) __builtin_sqrt(x)
#define DPO_SQRTF(x) __builtin_sqrtf(x)
#endif

#endif
