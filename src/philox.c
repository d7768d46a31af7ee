/* CPU driver for Philox normals. */
#include "diffpo.h"
#include "core/dpo_philox.h"
#include "core/dpo_rules.h"
#include "cpu_simd.h"

void dpo_philox4x32_10_block(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    dpo_philox4x32_10(out, ctr, key);
}


/* Element e of the tensor is lane e % 4 of Philox block e / 4.  The whole
 * blocks in the middle go to the vector form of the dispatch level
 * (src/cpu_simd.h, the same bits); the partial blocks at either end and
 * what the vector form leaves go through dpo_normal4, the definition. */
#define DPO_NORMAL_BODY(T, SIMD)                                                        \
    uint64_t e = e0, end = e0 + (uint64_t)n;                                            \
    size_t i = 0;                                                                       \
    dpo_status st;                                                                      \
    if (n == 0)                                                                         \
        return DPO_ERR_SIZE; /* one rule for empty inputs (docs/errors.md) */           \
    if (!out)                                                                           \
        return DPO_ERR_NULL;                                                            \
    st = dpo_rule_coord_status(c, e0, n);                                                         \
    if (st)                                                                             \
        return st;                                                                      \
    while (e < end) {                                                                   \
        double z[4];                                                                    \
        uint32_t lane = (uint32_t)(e & 3u);                                             \
        if (lane == 0 && end - e >= 64) {                                               \
            uint32_t ctr[4], key[2];                                                    \
            size_t done;                                                                \
            dpo_philox_coords(ctr, key, c.seed, c.stream, c.sample, c.step, c.candidate, \
                              (uint32_t)(e >> 2));                                      \
            done = SIMD(out + i, ctr, key, (uint32_t)(e >> 2), (size_t)((end - e) >> 2),  \
                        dpo_simd_level());                                              \
            e += 4 * (uint64_t)done;                                                    \
            i += 4 * done;                                                              \
            if (e >= end)                                                               \
                break;                                                                  \
        }                                                                               \
        dpo_normal4(z, c.seed, c.stream, c.sample, c.step, c.candidate, (uint32_t)(e >> 2)); \
        for (; lane < 4 && e < end; lane++, e++, i++)                                   \
            out[i] = (T)z[lane];                                                        \
    }                                                                                   \
    return DPO_OK;

dpo_status dpo_normal_f32(float *out, dpo_noise_coord c, uint64_t e0, size_t n)
{
    DPO_NORMAL_BODY(float, dpo__simd_normal_f32)
}

dpo_status dpo_normal_f64(double *out, dpo_noise_coord c, uint64_t e0, size_t n)
{
    DPO_NORMAL_BODY(double, dpo__simd_normal_f64)
}
