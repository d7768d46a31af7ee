/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as
 * easy as 1, 2, 3", SC'11) as a pure function of (counter, key), and the
 * coordinate -> counter mapping and Box-Muller transform of diffpo.
 * docs/reproducibility.md documents the mapping. */
#ifndef DPO_PHILOX_H
#define DPO_PHILOX_H

#include "dpo_pmath.h"
#include "../../include/diffpo.h"

#define DPO_PHILOX_M0 0xD2511F53u
#define DPO_PHILOX_M1 0xCD9E8D57u
#define DPO_PHILOX_W0 0x9E3779B9u
#define DPO_PHILOX_W1 0xBB67AE85u

DPO_HD void dpo_philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)DPO_PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)DPO_PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

/* out = Philox4x32-10(ctr, key).  out may alias ctr. */
DPO_HD void dpo_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    uint32_t c[4], k[2];
    int r;
    c[0] = ctr[0];
    c[1] = ctr[1];
    c[2] = ctr[2];
    c[3] = ctr[3];
    k[0] = key[0];
    k[1] = key[1];
    for (r = 0; r < 10; r++) {
        if (r > 0) {
            k[0] += DPO_PHILOX_W0;
            k[1] += DPO_PHILOX_W1;
        }
        dpo_philox_round(c, k);
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

/* Streams (DPO_STREAM_*) are declared in the public header. */

/* Coordinates -> Philox input.
 *   key = (seed mod 2^32, seed div 2^32)
 *   ctr = (element block, sample, step, stream << 16 | candidate)
 * One block gives four 32-bit words, i.e. four normals (two Box-Muller pairs)
 * for elements 4b .. 4b+3. */
DPO_HD void dpo_philox_coords(uint32_t ctr[4], uint32_t key[2], uint64_t seed, uint32_t stream,
                              uint32_t sample, uint32_t step, uint32_t candidate, uint32_t block)
{
    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32);
    ctr[0] = block;
    ctr[1] = sample;
    ctr[2] = step;
    ctr[3] = (stream << 16) | (candidate & 0xffffu);
}

/* A 32-bit word -> uniform double in (0, 1): (w + 1/2) 2^-32, exact. */
DPO_HD double dpo_u01_open(uint32_t w)
{
    return ((double)w + 0.5) * 2.3283064365386962890625e-10;
}

/* Box-Muller on two words: z0 = r cos(2 pi u2), z1 = r sin(2 pi u2),
 * r = sqrt(-2 log u1).  All in double with the portable log and sincos. */
DPO_HD void dpo_box_muller(double *z0, double *z1, uint32_t w1, uint32_t w2)
{
    double u1 = dpo_u01_open(w1);
    double u2 = dpo_u01_open(w2);
    double r = DPO_SQRT(-2.0 * dpo_log(u1));
    double s, c;
    dpo_sincos2pi(u2, &s, &c);
    *z0 = r * c;
    *z1 = r * s;
}

/* The four standard normals of one Philox block, in double. */
DPO_HD void dpo_normal4(double z[4], uint64_t seed, uint32_t stream, uint32_t sample, uint32_t step,
                        uint32_t candidate, uint32_t block)
{
    uint32_t ctr[4], key[2], w[4];
    dpo_philox_coords(ctr, key, seed, stream, sample, step, candidate, block);
    dpo_philox4x32_10(w, ctr, key);
    dpo_box_muller(&z[0], &z[1], w[0], w[1]);
    dpo_box_muller(&z[2], &z[3], w[2], w[3]);
}

/* Uniform integer in [0, n) from one word, by the multiply-shift map
 * floor(w * n / 2^32) (bias below n / 2^32, documented). */
DPO_HD uint32_t dpo_uniform_index(uint32_t w, uint32_t n)
{
    return (uint32_t)(((uint64_t)w * (uint64_t)n) >> 32);
}

#endif
