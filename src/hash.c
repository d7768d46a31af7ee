/* Fingerprints: XXH3-64 from the system xxHash, over little-endian bytes. */
#include <xxhash.h>
#include "diffpo.h"
#include "core/dpo_reduce.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fingerprints are defined over little-endian bytes; big-endian hosts need a byte swap here"
#endif

uint64_t dpo_hash64(const void *data, size_t len, uint64_t seed)
{
    return (uint64_t)XXH3_64bits_withSeed(data, len, (XXH64_hash_t)seed);
}

double dpo_sum_canonical(const double *x, size_t n)
{
    dpo_sum s;
    size_t i;
    dpo_sum_init(&s);
    for (i = 0; i < n; i++)
        dpo_sum_add(&s, x[i]);
    return dpo_sum_result(&s);
}

uint64_t dpo_rollout_fingerprint(uint64_t *step_hash, const float *traj, const double *logp, int num_steps,
                                 size_t batch, size_t dim)
{
    uint64_t h;
    size_t row = batch * dim;
    int k;
    h = dpo_hash64(traj, row * sizeof(float), 0);
    if (step_hash)
        step_hash[0] = h;
    for (k = 1; k <= num_steps; k++) {
        h = dpo_hash64(traj + (size_t)k * row, row * sizeof(float), h);
        if (logp)
            h = dpo_hash64(logp + (size_t)(k - 1) * batch, batch * sizeof(double), h);
        if (step_hash)
            step_hash[k] = h;
    }
    return h;
}
