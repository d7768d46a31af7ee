// CUDA driver of the Philox normals: one thread per Philox block (four
// elements).  Element math: src/core/dpo_philox.h (dpo_normal4), the same
// function the CPU driver src/philox.c calls.
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda.h"
#include "../src/core/dpo_philox.h"
#include "../src/core/dpo_rules.h"

// Elements [e0, e0 + n): thread g handles Philox block (e0 >> 2) + g.
// vec: float output, e0 % 4 == 0 and out 16-byte aligned, so a whole quad
// is one float4 store.
template <class T>
static __global__ void dpo_k_normal(T *out, dpo_noise_coord c, uint64_t e0, uint64_t n, uint64_t nblocks, int vec)
{
    uint64_t g = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (uint64_t)gridDim.x * blockDim.x;
    uint64_t end = e0 + n;
    for (; g < nblocks; g += stride) {
        uint64_t b = (e0 >> 2) + g, e = b << 2;
        double z[4];
        int l;
        dpo_normal4(z, c.seed, c.stream, c.sample, c.step, c.candidate, (uint32_t)b);
        if constexpr (sizeof(T) == sizeof(float)) {
            if (vec && e + 4 <= end) {
                *(float4 *)(out + (e - e0)) = make_float4((float)z[0], (float)z[1], (float)z[2], (float)z[3]);
                continue;
            }
        }
        for (l = 0; l < 4; l++, e++)
            if (e >= e0 && e < end)
                out[e - e0] = (T)z[l];
    }
}

// Rows of dim elements, row r at sample c.sample + r; one thread per quad,
// a float4 store when the row is a whole number of aligned quads.
static __global__ void dpo_k_normal_rows(float *out, dpo_noise_coord c, size_t batch, size_t dim, int vec)
{
    size_t q = (dim + 3) / 4, total = batch * q;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    for (; idx < total; idx += stride) {
        size_t r = idx / q, b = idx % q, e = 4 * b;
        double z[4];
        float *o = out + r * dim + e;
        dpo_normal4(z, c.seed, c.stream, c.sample + (uint32_t)r, c.step, c.candidate, (uint32_t)b);
        if (vec) {
            float4 v;
            v.x = (float)z[0];
            v.y = (float)z[1];
            v.z = (float)z[2];
            v.w = (float)z[3];
            *(float4 *)o = v;
        } else {
            for (int l = 0; l < 4; l++)
                if (e + (size_t)l < dim)
                    o[l] = (float)z[l];
        }
    }
}

// The coordinate rule of src/core/dpo_rules.h, as src/philox.c.
template <class T>
static dpo_status dpo_cu_normal(T *out, dpo_noise_coord c, uint64_t e0, size_t n, void *stream)
{
    dpo_status st;
    uint64_t nb;
    if (!out && n)
        return DPO_ERR_NULL;
    if ((st = dpo_rule_coord_status(c, e0, n)) != DPO_OK)
        return st;
    if (n == 0)
        return DPO_ERR_SIZE; /* one rule for empty inputs, as dpo_normal_* (docs/errors.md) */
    DPO_CU_ENTRY();
    nb = ((e0 + n - 1) >> 2) - (e0 >> 2) + 1;
    DPO_CU_LAUNCH(dpo_k_normal<T>, (dpo_cu_blocks((size_t)nb, DPO_CU_THREADS), DPO_CU_THREADS, 0, (cudaStream_t)stream),
                  out, c, e0, (uint64_t)n, nb, sizeof(T) == sizeof(float) && e0 % 4 == 0 && (uintptr_t)out % 16 == 0);
    DPO_CU_LAUNCHED();
    return DPO_OK;
}

extern "C" dpo_status dpo_cuda_normal_f32(float *d_out, dpo_noise_coord c, uint64_t e0, size_t n, void *stream)
{
    return dpo_cu_normal(d_out, c, e0, n, stream);
}

extern "C" dpo_status dpo_cuda_normal_f64(double *d_out, dpo_noise_coord c, uint64_t e0, size_t n, void *stream)
{
    return dpo_cu_normal(d_out, c, e0, n, stream);
}

extern "C" dpo_status dpo_cuda_normal_batch_f32(float *d_out, dpo_noise_coord c, size_t batch, size_t dim,
                                                void *stream)
{
    dpo_status st;
    int vec;
    if (!d_out)
        return DPO_ERR_NULL;
    if (batch == 0 || dim == 0 || dim > DPO_MAX_ELEMS || batch > DPO_MAX_ELEMS / dim)
        return DPO_ERR_SIZE;
    if ((st = dpo_rule_coord_rows_status(c, batch, dim)) != DPO_OK)
        return st;
    DPO_CU_ENTRY();
    vec = (dim % 4 == 0) && ((uintptr_t)d_out % 16 == 0);
    DPO_CU_LAUNCH(dpo_k_normal_rows,
                  (dpo_cu_blocks(batch * ((dim + 3) / 4), DPO_CU_THREADS), DPO_CU_THREADS, 0, (cudaStream_t)stream),
                  d_out, c, batch, dim, vec);
    DPO_CU_LAUNCHED();
    return DPO_OK;
}
