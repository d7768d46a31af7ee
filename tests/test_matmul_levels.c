/* dpo_matmul_f32 (the built-in network's fixed-order product) at every
 * dispatch level this CPU supports (DPO_SIMD forces each in turn), bit for
 * bit against its contract typed out here: every C[i][j] one double
 * accumulation of the exact float x float products in ascending p, from 0
 * or from C[i][j] widened, rounded once to float.
 *
 *   - every m, k, n in {0, 1, 3, 7, 8, 9, 31, 33, 88, 128} (the network's
 *     shapes 8x88x128, 8x128x128 and 128x8x128 among them), each with all
 *     four transposition flags, with and without accumulation into C;
 *   - operands and C at misaligned addresses (offsets of 1 to 3 floats);
 *   - nothing written outside C (guards on both sides);
 *   - values over a wide range of exponents, so that any change of order
 *     or of rounding shows;
 *   - a long product (k = 600, past the vector forms' panel) and the
 *     network's shapes with n = 4 and 12 (partial column blocks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_align.h"
#include "cpu_simd.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill(float *v, size_t n, int spread)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0 - 0.5;
        v[i] = (float)(u * (double)(1u << (next() % (unsigned)spread)));
    }
}

/* The contract typed out. */
static void mm_ref(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                   int acc)
{
    size_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = acc ? (double)C[i * n + j] : 0.0;
            for (p = 0; p < k; p++)
                s += (double)(ta ? A[p * m + i] : A[i * k + p]) * (double)(tb ? B[j * k + p] : B[p * n + j]);
            C[i * n + j] = (float)s;
        }
}

#define GUARD 8
#define CAP (700 * 130 + 2 * GUARD + 4)
static float A[CAP], B[CAP], C0[CAP], C1[CAP], Cin[CAP];

/* One shape at every supported level; returns the number of mismatches. */
static long one(size_t m, size_t k, size_t n, int ta, int tb, int acc, size_t off)
{
    float *a = A + off, *b = B + 3 - off, *c1 = C1 + GUARD + off;
    long bad = 0;
    size_t i, mn = m * n;
    int level;
    if (mn > CAP - 2 * GUARD - 4 || m * k > CAP - 4 || k * n > CAP - 4) {
        CHECK(0, "shape %zu x %zu x %zu too large for the test's buffers", m, k, n);
        return 1;
    }
    fill(a, m * k, 20);
    fill(b, k * n, 12);
    fill(Cin, mn, 16);
    memcpy(C0, Cin, mn * sizeof(float));
    mm_ref(C0, a, b, m, k, n, ta, tb, acc);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
        for (i = 0; i < mn + 2 * GUARD + 4; i++)
            C1[i] = -7.0f;
        memcpy(c1, Cin, mn * sizeof(float));
        dpo_matmul_f32(c1, a, b, m, k, n, ta, tb, acc);
        for (i = 0; i < mn; i++)
            if (memcmp(&c1[i], &C0[i], sizeof(float)) != 0)
                bad++;
        for (i = 0; i < GUARD + off; i++)
            if (C1[i] != -7.0f)
                bad++;
        for (i = 0; i < GUARD; i++)
            if (c1[mn + i] != -7.0f)
                bad++;
        if (bad) {
            CHECK(0, "level %s m %zu k %zu n %zu ta %d tb %d acc %d offset %zu: %ld differ",
                  dpo_simd_level_name(level), m, k, n, ta, tb, acc, off, bad);
            break;
        }
    }
    unsetenv("DPO_SIMD");
    return bad;
}

static void test_grid(void)
{
    static const size_t sz[] = {0, 1, 3, 7, 8, 9, 31, 33, 88, 128};
    const size_t ns = sizeof sz / sizeof sz[0];
    size_t a, b, c, runs = 0;
    long bad = 0;
    int v;
    for (a = 0; a < ns; a++)
        for (b = 0; b < ns; b++)
            for (c = 0; c < ns; c++)
                for (v = 0; v < 8; v++) {
                    bad += one(sz[a], sz[b], sz[c], v & 1, (v >> 1) & 1, v >> 2, (a + b + c + (size_t)v) % 4);
                    runs++;
                }
    CHECK(bad == 0, "%ld mismatches in %zu runs", bad, runs);
    CHECK(runs == 8000, "runs %zu", runs);
}

static void test_network_and_edges(void)
{
    static const size_t sh[][3] = {{8, 88, 128}, {8, 128, 128}, {128, 8, 128}, {8, 128, 88}, {8, 128, 4},
                                   {8, 128, 12}, {5, 600, 9},   {130, 600, 20}, {12, 512, 16}, {12, 513, 16}};
    size_t s;
    int v;
    for (s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (v = 0; v < 8; v++)
            one(sh[s][0], sh[s][1], sh[s][2], v & 1, (v >> 1) & 1, v >> 2, (size_t)v % 4);
}

/* The levels this suite compares: on x86-64 at least SSE2 besides the
 * scalar one, so that a vector form is really checked. */
static void test_levels_present(void)
{
    int level, n = 0;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++)
        if (dpo_simd_supported(level)) {
            printf("     level %s compared\n", dpo_simd_level_name(level));
            n++;
        }
#if defined(__x86_64__)
    CHECK(n >= 2, "only %d levels", n);
#else
    CHECK(n >= 1, "no level");
#endif
}

int main(void)
{
    RUN(test_levels_present);
    RUN(test_network_and_edges);
    RUN(test_grid);
    return chk_summary();
}
