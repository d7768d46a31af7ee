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

/* XXH3_64bits_withSeed sanity vectors published by the xxHash project
 * (cli/xsum_sanity_check.c, XSUM_XXH3_testdata; docs/errors.md): one length
 * of each of XXH3's code paths, seed 0 and seed PRIME64, over the buffer
 * whose byte i is the top byte of PRIME32 * PRIME64^i (mod 2^64). */
dpo_status dpo_hash64_selftest(void)
{
    static const struct {
        unsigned short len;
        unsigned char seeded;
        uint64_t want;
    } v[] = {
        {0, 0, 0x2D06800538D394C2ULL},    {0, 1, 0xA8A6B918B2F0364AULL},    {1, 0, 0xC44BDFF4074EECDBULL},
        {1, 1, 0x032BE332DD766EF8ULL},    {6, 0, 0x27B56A84CD2D7325ULL},    {6, 1, 0x84589C116AB59AB9ULL},
        {12, 0, 0xA713DAF0DFBB77E7ULL},   {12, 1, 0xE7303E1B2336DE0EULL},   {24, 0, 0xA3FE70BF9D3510EBULL},
        {24, 1, 0x850E80FC35BDD690ULL},   {48, 0, 0x397DA259ECBA1F11ULL},   {48, 1, 0xADC2CBAA44ACC616ULL},
        {80, 0, 0xBCDEFBBB2C47C90AULL},   {80, 1, 0xC6DD0CB699532E73ULL},   {195, 0, 0xCD94217EE362EC3AULL},
        {195, 1, 0xBA68003D370CB3D9ULL},  {403, 0, 0xCDEB804D65C6DEA4ULL},  {403, 1, 0x6259F6ECFD6443FDULL},
        {512, 0, 0x617E49599013CB6BULL},  {512, 1, 0x3CE457DE14C27708ULL},  {2048, 0, 0xDD59E2C3A5F038E0ULL},
        {2048, 1, 0x66F81670669ABABCULL}, {2240, 0, 0x6E73A90539CF2948ULL}, {2240, 1, 0x757BA8487D1B5247ULL},
        {2367, 0, 0xCB37AEB9E5D361EDULL}, {2367, 1, 0xD2DB3415B942B42AULL},
    };
    unsigned char buf[2367];
    const uint64_t prime32 = 2654435761u, prime64 = 11400714785074694797ULL;
    uint64_t g = prime32;
    size_t i;
    for (i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(g >> 56);
        g *= prime64;
    }
    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        if (dpo_hash64(v[i].len ? buf : 0, v[i].len, v[i].seeded ? prime64 : 0) != v[i].want)
            return DPO_ERR_UNSUPPORTED;
    return DPO_OK;
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
