// dpo_cuda_device_describe: which device the drivers would run on.
#include <stdio.h>
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"

extern "C" dpo_status dpo_cuda_device_describe(char *buf, size_t size)
{
    int n = 0, dev = 0;
    cudaDeviceProp p;
    if (!buf)
        return DPO_ERR_NULL;
    if (size == 0)
        return DPO_ERR_SIZE;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        (void)cudaGetLastError(); // leave no error behind for the caller's next call
        return DPO_ERR_CUDA;
    }
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return DPO_ERR_CUDA;
    }
    snprintf(buf, size, "%s (sm_%d%d, %d SMs)", p.name, p.major, p.minor, p.multiProcessorCount);
    return DPO_OK;
}
