/* CPU driver for Philox normals. */
#include "diffpo.h"
#include "core/dpo_philox.h"

void dpo_philox4x32_10_block(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    dpo_philox4x32_10(out, ctr, key);
}

static dpo_status check_coord(dpo_noise_coord c, uint64_t e0, size_t n)
{
    if (c.stream > 0xffffu || c.candidate > 0xffffu)
        return DPO_ERR_RANGE;
    if (e0 > ((uint64_t)1 << 34) || (uint64_t)n > ((uint64_t)1 << 34) - e0)
        return DPO_ERR_SIZE;
    return DPO_OK;
}

/* Element e of the tensor is lane e % 4 of Philox block e / 4. */
#define DPO_NORMAL_BODY(T)                                                              \
    uint64_t e = e0, end = e0 + (uint64_t)n;                                            \
    size_t i = 0;                                                                       \
    dpo_status st;                                                                      \
    if (n == 0)                                                                         \
        return DPO_ERR_SIZE; /* one rule for empty inputs (docs/errors.md) */           \
    if (!out)                                                                           \
        return DPO_ERR_NULL;                                                            \
    st = check_coord(c, e0, n);                                                         \
    if (st)                                                                             \
        return st;                                                                      \
    while (e < end) {                                                                   \
        double z[4];                                                                    \
        uint32_t lane = (uint32_t)(e & 3u);                                             \
        dpo_normal4(z, c.seed, c.stream, c.sample, c.step, c.candidate, (uint32_t)(e >> 2)); \
        for (; lane < 4 && e < end; lane++, e++, i++)                                   \
            out[i] = (T)z[lane];                                                        \
    }                                                                                   \
    return DPO_OK;

dpo_status dpo_normal_f32(float *out, dpo_noise_coord c, uint64_t e0, size_t n)
{
    DPO_NORMAL_BODY(float)
}

dpo_status dpo_normal_f64(double *out, dpo_noise_coord c, uint64_t e0, size_t n)
{
    DPO_NORMAL_BODY(double)
}
