/* Every vector level of the CPU element math against the scalar definition,
 * bit for bit (src/cpu_simd.h).  Each level this CPU supports is forced in
 * turn through DPO_SIMD; the reference is computed here straight from the
 * scalar element math of src/core (dpo_normal4, dpo_box_muller), not through
 * the dispatching driver.  Shapes include 0, 1, 3, 7, 8, 9, 31, 33 elements
 * on their own and as tails after whole vector batches, starts inside a
 * block, outputs misaligned against every vector width, extreme coordinates,
 * and the words at the edges of the log and sin/cos reductions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "core/dpo_philox.h"
#include "cpu_simd.h"

#define MAXN 5000
#define PAD 16

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int level_now;

static void force(int level)
{
    setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
    level_now = level;
}

/* Reference: element e of the tensor from dpo_normal4 directly. */
static void ref_normals(double *out, dpo_noise_coord c, uint64_t e0, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t e = e0 + i;
        double z[4];
        dpo_normal4(z, c.seed, c.stream, c.sample, c.step, c.candidate, (uint32_t)(e >> 2));
        out[i] = z[e & 3u];
    }
}

static double ref[MAXN];
static float buf32[MAXN + 2 * PAD];
static double buf64[MAXN + 2 * PAD];

/* One case at the current level: f32 and f64, output at offset off. */
static void one_case(dpo_noise_coord c, uint64_t e0, size_t n, size_t off)
{
    size_t i, bad32 = 0, bad64 = 0, guard = 0;
    ref_normals(ref, c, e0, n);
    for (i = 0; i < MAXN + 2 * PAD; i++) {
        buf32[i] = -7.0f;
        buf64[i] = -7.0;
    }
    CHECK(dpo_normal_f32(buf32 + off, c, e0, n) == DPO_OK, "f32 status");
    CHECK(dpo_normal_f64(buf64 + off, c, e0, n) == DPO_OK, "f64 status");
    for (i = 0; i < n; i++) {
        float r32 = (float)ref[i];
        if (memcmp(&buf32[off + i], &r32, sizeof r32) != 0)
            bad32++;
        if (memcmp(&buf64[off + i], &ref[i], sizeof ref[i]) != 0)
            bad64++;
    }
    for (i = 0; i < MAXN + 2 * PAD; i++)
        if ((i < off || i >= off + n) && (buf32[i] != -7.0f || buf64[i] != -7.0))
            guard++;
    CHECK(bad32 == 0 && bad64 == 0 && guard == 0,
          "level %s seed %llu stream %u sample %u step %u cand %u e0 %llu n %zu off %zu: "
          "%zu f32 and %zu f64 elements differ, %zu guard elements written",
          dpo_simd_level_name(level_now), (unsigned long long)c.seed, c.stream, c.sample, c.step,
          c.candidate, (unsigned long long)e0, n, off, bad32, bad64, guard);
}

static const size_t small_n[] = {0, 1, 3, 7, 8, 9, 31, 33};

static void test_shapes(void)
{
    int level;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        size_t k, t;
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (k = 0; k < sizeof small_n / sizeof small_n[0]; k++) {
            /* alone, and as the tail after 1, 2, 3 and 37 batches of 64 elements */
            size_t bases[] = {0, 64, 128, 192, 64 * 37};
            for (t = 0; t < sizeof bases / sizeof bases[0]; t++) {
                dpo_noise_coord c;
                uint64_t e0 = (uint64_t)(next() % 4) + (next() & 1 ? 0 : 4 * (next() % 1000));
                c.seed = next();
                c.stream = (uint32_t)(next() & 0xffffu);
                c.sample = (uint32_t)next();
                c.step = (uint32_t)next();
                c.candidate = (uint32_t)(next() & 0xffffu);
                one_case(c, e0, bases[t] + small_n[k], (size_t)(next() % PAD));
            }
        }
    }
}

static void test_random_and_extremes(void)
{
    int level, r;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (r = 0; r < 60; r++) {
            dpo_noise_coord c;
            size_t n = (size_t)(next() % MAXN);
            uint64_t e0 = next() % 100000;
            c.seed = next();
            c.stream = (uint32_t)(next() % 7);
            c.sample = (uint32_t)(next() % 1000);
            c.step = (uint32_t)(next() % 1000);
            c.candidate = (uint32_t)(next() % 4);
            one_case(c, e0, n, (size_t)(next() % PAD));
        }
        {
            /* extreme coordinates: top of the element range (block counter
             * near 2^32), all-ones seed, stream and candidate */
            dpo_noise_coord c;
            c.seed = ~(uint64_t)0;
            c.stream = 0xffffu;
            c.sample = 0xffffffffu;
            c.step = 0xffffffffu;
            c.candidate = 0xffffu;
            one_case(c, ((uint64_t)1 << 34) - 4099, 4099, 3);
            c.seed = 0;
            c.stream = 0;
            c.sample = 0;
            c.step = 0;
            c.candidate = 0;
            one_case(c, 0, 4096, 0);
        }
    }
}

/* Box-Muller on chosen words: the edges of dpo_log's reduction (u1 around
 * 1/2 and sqrt(2)/2, the smallest and largest u), of the sin/cos quadrants
 * (u2 around k/8) and random words. */
#define NW 16384
static void test_edge_words(void)
{
    static uint32_t w[4 * NW];
    static double got[4 * NW], want[4 * NW];
    const uint32_t edges[] = {0u, 1u, 2u, 0xffffffffu, 0xfffffffeu, 0x7fffffffu, 0x80000000u,
                              0x80000001u, 3037000498u, 3037000499u, 3037000500u,
                              3037000501u, 0x1fffffffu, 0x20000000u, 0x5fffffffu,
                              0x60000000u, 0x9fffffffu, 0xa0000000u, 0xdfffffffu,
                              0xe0000000u, 0x40000000u, 0xc0000000u, 0x3fffffffu};
    const size_t ne = sizeof edges / sizeof edges[0];
    size_t i, j;
    int level;
    for (i = 0; i < 4 * NW; i++) {
        if (i < 2 * ne * ne) {
            /* every pair of edge words as (u1, u2) */
            size_t p = i / 2;
            w[i] = (i & 1) ? edges[p % ne] : edges[p / ne];
        } else {
            w[i] = (uint32_t)next();
        }
    }
    for (i = 0; i < NW; i++) {
        dpo_box_muller(&want[4 * i], &want[4 * i + 1], w[4 * i], w[4 * i + 1]);
        dpo_box_muller(&want[4 * i + 2], &want[4 * i + 3], w[4 * i + 2], w[4 * i + 3]);
    }
    for (level = 1; level < DPO_SIMD_NLEVELS; level++) {
        size_t done, bad = 0, first = 0;
        if (!dpo_simd_supported(level))
            continue;
        memset(got, 0, sizeof got);
        done = dpo__simd_words_f64(got, w, NW, level);
        CHECK(done == NW, "level %s did %zu of %d blocks", dpo_simd_level_name(level), done, NW);
        for (j = 0; j < 4 * NW; j++)
            if (memcmp(&got[j], &want[j], sizeof got[j]) != 0 && !bad++)
                first = j;
        CHECK(bad == 0, "level %s: %zu normals differ, first at %zu (word %08x %08x)",
              dpo_simd_level_name(level), bad, first, w[first & ~(size_t)1],
              w[first | 1]);
    }
}

/* The environment variable: names force their level (lowered to what the
 * CPU has), anything else means the best level. */
static void test_level_choice(void)
{
    int best = 0, l;
    for (l = 0; l <= DPO_SIMD_AVX2; l++)
        if (dpo_simd_supported(l))
            best = l;
    setenv("DPO_SIMD", "scalar", 1);
    CHECK(dpo_simd_level() == 0, "scalar forced");
    setenv("DPO_SIMD", "auto", 1);
    CHECK(dpo_simd_level() == best, "auto gives the best level %d", best);
    unsetenv("DPO_SIMD");
    CHECK(dpo_simd_level() == best, "unset gives the best level %d", best);
    setenv("DPO_SIMD", "avx512", 1);
    CHECK(dpo_simd_level() == (dpo_simd_supported(DPO_SIMD_AVX512) ? DPO_SIMD_AVX512 : best),
          "avx512 where the CPU has it, else lowered to %d", best);
    setenv("DPO_SIMD", "no-such-level", 1);
    CHECK(dpo_simd_level() == best, "an unknown name gives the default level %d", best);
    for (l = 0; l < DPO_SIMD_NLEVELS; l++) {
        if (!dpo_simd_supported(l))
            continue;
        setenv("DPO_SIMD", dpo_simd_level_name(l), 1);
        CHECK(dpo_simd_level() == l, "level %d forced", l);
    }
#if defined(__x86_64__)
    CHECK(dpo_simd_supported(DPO_SIMD_SSE2), "SSE2 is the x86-64 baseline");
#endif
    CHECK(dpo_simd_level_name(-1) == NULL && dpo_simd_level_name(DPO_SIMD_NLEVELS) == NULL,
          "names out of range");
    unsetenv("DPO_SIMD");
}

int main(void)
{
    int l;
    printf("simd levels on this CPU:");
    for (l = 0; l < DPO_SIMD_NLEVELS; l++)
        if (dpo_simd_supported(l))
            printf(" %s", dpo_simd_level_name(l));
    printf("\n");
    RUN(test_level_choice);
    RUN(test_edge_words);
    RUN(test_shapes);
    RUN(test_random_and_extremes);
    unsetenv("DPO_SIMD");
    return chk_summary();
}
