/* Philox4x32-10: Random123's published known-answer vectors, an independent
 * implementation written here from the published algorithm (Salmon et al.,
 * SC'11) in a deliberately different style, and 10^6 random (counter, key)
 * pairs checked between it and the library's dpo_philox4x32_10_block.
 *
 * The algorithm, as published: a round maps counter (c0, c1, c2, c3) under
 * round key (k0, k1) to
 *     (hi(M1 c2) ^ c1 ^ k0,  lo(M1 c2),  hi(M0 c0) ^ c3 ^ k1,  lo(M0 c0))
 * with M0 = 0xD2511F53, M1 = 0xCD9E8D57, hi/lo the halves of the 64-bit
 * product; ten rounds; the key is bumped by the Weyl constants
 * (0x9E3779B9, 0xBB67AE85) between rounds. */
#include <stdio.h>
#include "check.h"
#include "diffpo.h"

/* ---- independent implementation ---- */

/* 32 x 32 -> 64 multiply through 16-bit halves (no 64-bit arithmetic). */
static void mul_halves(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint32_t al = a & 0xffffu, ah = a >> 16;
    uint32_t bl = b & 0xffffu, bh = b >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint32_t mid = (ll >> 16) + (lh & 0xffffu) + (hl & 0xffffu); /* < 3 * 2^16 */
    *lo = (mid << 16) | (ll & 0xffffu);
    *hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16);
}

typedef struct st4 {
    uint32_t a, b, c, d;
} st4;

static st4 one_round(st4 x, uint32_t ka, uint32_t kb)
{
    uint32_t h0, l0, h1, l1;
    st4 y;
    mul_halves(0xD2511F53u, x.a, &h0, &l0);
    mul_halves(0xCD9E8D57u, x.c, &h1, &l1);
    y.a = (h1 ^ ka) ^ x.b;
    y.b = l1;
    y.c = (h0 ^ kb) ^ x.d;
    y.d = l0;
    return y;
}

static void philox_ref(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    uint32_t ks[10][2];
    st4 x;
    int i;
    /* key schedule up front */
    ks[0][0] = key[0];
    ks[0][1] = key[1];
    for (i = 1; i < 10; i++) {
        ks[i][0] = ks[i - 1][0] + 0x9E3779B9u;
        ks[i][1] = ks[i - 1][1] + 0xBB67AE85u;
    }
    x.a = ctr[0];
    x.b = ctr[1];
    x.c = ctr[2];
    x.d = ctr[3];
    /* two rounds per pass, counting down */
    for (i = 5; i > 0; i--) {
        int r = 10 - 2 * i;
        x = one_round(x, ks[r][0], ks[r][1]);
        x = one_round(x, ks[r + 1][0], ks[r + 1][1]);
    }
    out[0] = x.a;
    out[1] = x.b;
    out[2] = x.c;
    out[3] = x.d;
}

/* ---- known answers (Random123 kat_vectors) ---- */
typedef struct kat {
    uint32_t ctr[4], key[2], out[4];
} kat;

static const kat kats[] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
     {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

static int eq4(const uint32_t a[4], const uint32_t b[4])
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static void test_mul_halves(void)
{
    /* against plain 64-bit products on edge and sampled values */
    static const uint32_t v[] = {0u, 1u, 2u, 0xffffu, 0x10000u, 0xffffffffu, 0x80000000u, 0xD2511F53u, 0xCD9E8D57u,
                                 0x12345678u};
    size_t i, j;
    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        for (j = 0; j < sizeof v / sizeof v[0]; j++) {
            uint32_t hi, lo;
            uint64_t p = (uint64_t)v[i] * v[j];
            mul_halves(v[i], v[j], &hi, &lo);
            CHECK(hi == (uint32_t)(p >> 32) && lo == (uint32_t)p, "mul_halves(%08x, %08x)", v[i], v[j]);
        }
}

static void test_kat_reference(void)
{
    size_t i;
    for (i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        uint32_t out[4];
        philox_ref(out, kats[i].ctr, kats[i].key);
        CHECK(eq4(out, kats[i].out), "independent philox, vector %u: %08x %08x %08x %08x", (unsigned)i, out[0], out[1],
              out[2], out[3]);
    }
}

static void test_kat_library(void)
{
    size_t i;
    for (i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        uint32_t out[4], io[4];
        dpo_philox4x32_10_block(out, kats[i].ctr, kats[i].key);
        CHECK(eq4(out, kats[i].out), "library philox, vector %u: %08x %08x %08x %08x", (unsigned)i, out[0], out[1],
              out[2], out[3]);
        /* out may alias ctr */
        io[0] = kats[i].ctr[0];
        io[1] = kats[i].ctr[1];
        io[2] = kats[i].ctr[2];
        io[3] = kats[i].ctr[3];
        dpo_philox4x32_10_block(io, io, kats[i].key);
        CHECK(eq4(io, kats[i].out), "library philox in place, vector %u", (unsigned)i);
    }
}

static uint64_t sm_state = 0x5eed5eed12345678ULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void test_million_pairs(void)
{
    long i, bad = 0;
    uint32_t acc = 0;
    for (i = 0; i < 1000000L; i++) {
        uint32_t ctr[4], key[2], a[4], b[4];
        uint64_t r0 = splitmix64(), r1 = splitmix64(), r2 = splitmix64();
        ctr[0] = (uint32_t)r0;
        ctr[1] = (uint32_t)(r0 >> 32);
        ctr[2] = (uint32_t)r1;
        ctr[3] = (uint32_t)(r1 >> 32);
        key[0] = (uint32_t)r2;
        key[1] = (uint32_t)(r2 >> 32);
        /* every 16th pair: small structured counters like the library uses */
        if ((i & 15) == 0) {
            ctr[0] = (uint32_t)i;
            ctr[1] &= 0xffu;
            ctr[2] &= 0x3fu;
            ctr[3] &= 0x0007ffffu;
        }
        philox_ref(a, ctr, key);
        dpo_philox4x32_10_block(b, ctr, key);
        if (!eq4(a, b)) {
            if (bad < 5)
                CHECK(0, "pair %ld: ctr %08x %08x %08x %08x key %08x %08x: ref %08x.. lib %08x..", i, ctr[0], ctr[1],
                      ctr[2], ctr[3], key[0], key[1], a[0], b[0]);
            bad++;
        }
        acc ^= a[0] ^ a[3];
    }
    CHECK(bad == 0, "%ld of 10^6 pairs differ", bad);
    CHECK(acc != 0, "outputs look degenerate");
}

/* Each output bit depends on every input bit: flipping one counter or key
 * bit changes about half of the 128 output bits (sanity of the mixing, and
 * evidence that no input word is ignored by the library). */
static int popcount32(uint32_t x)
{
    int n = 0;
    while (x) {
        x &= x - 1;
        n++;
    }
    return n;
}

static void test_avalanche(void)
{
    int word, bit, trial;
    for (word = 0; word < 6; word++)
        for (bit = 0; bit < 32; bit++) {
            long tot = 0;
            for (trial = 0; trial < 64; trial++) {
                uint32_t ctr[4], key[2], a[4], b[4];
                uint64_t r0 = splitmix64(), r1 = splitmix64(), r2 = splitmix64();
                int k;
                ctr[0] = (uint32_t)r0;
                ctr[1] = (uint32_t)(r0 >> 32);
                ctr[2] = (uint32_t)r1;
                ctr[3] = (uint32_t)(r1 >> 32);
                key[0] = (uint32_t)r2;
                key[1] = (uint32_t)(r2 >> 32);
                dpo_philox4x32_10_block(a, ctr, key);
                if (word < 4)
                    ctr[word] ^= 1u << bit;
                else
                    key[word - 4] ^= 1u << bit;
                dpo_philox4x32_10_block(b, ctr, key);
                for (k = 0; k < 4; k++)
                    tot += popcount32(a[k] ^ b[k]);
            }
            /* 64 x Binomial(128, 1/2): mean 4096, sd sqrt(2048) = 45.3; allow 6 sd */
            CHECK(tot > 4096 - 272 && tot < 4096 + 272, "input word %d bit %d: %ld flipped bits", word,
                  bit, tot);
        }
}

int main(void)
{
    RUN(test_mul_halves);
    RUN(test_kat_reference);
    RUN(test_kat_library);
    RUN(test_million_pairs);
    RUN(test_avalanche);
    return chk_summary();
}
