/* Shared by every kernels/*.cu: maps CUDA failures to dpo_status and checks
 * launches.  Host-side only; kernels themselves call src/core functions. */
#ifndef DPO_CUDA_INTERNAL_CUH
#define DPO_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>
#include "diffpo.h"

/* Evaluates a CUDA runtime call; on failure returns DPO_ERR_CUDA from the
 * enclosing function (which must return dpo_status). */
#define DPO_CU(call)                                                                                                  \
    do {                                                                                                              \
        cudaError_t dpo_cu_err_ = (call);                                                                             \
        if (dpo_cu_err_ != cudaSuccess)                                                                               \
            return DPO_ERR_CUDA;                                                                                      \
    } while (0)

/* After a <<<...>>> launch: a launch-configuration error becomes DPO_ERR_CUDA.
 * (Asynchronous execution errors surface at the caller's next synchronising
 * call, as in any stream-ordered API.) */
#define DPO_CU_LAUNCHED() DPO_CU(cudaGetLastError())

/* Blocks of `threads` covering n items (grid-stride loops cover the rest). */
static inline unsigned dpo_cu_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    if (b > 65535u * 16u)
        b = 65535u * 16u;
    return (unsigned)b;
}

#endif
