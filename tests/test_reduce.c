/* The canonical reduction tree (src/core/dpo_reduce.h).  The header defines
 * the sum level by level; the CPU evaluates it with a binary-counter stack.
 * This test writes the level-by-level definition out literally and demands
 * BITWISE equality for every block count 1..3000 (and a few large ones), on
 * inputs spread over 80 binades so that different association orders give
 * different bits (checked: a left-to-right sum and a wrong tree differ from
 * the reference for almost every count).  dpo_sum_* and dpo_sum_canonical
 * are checked against the full definition (blocks of DPO_REDUCE_BLOCK terms
 * summed left to right from their first term, then the tree). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "core/dpo_reduce.h"

static uint64_t sm_state = 0xfeedfacecafebeefULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* (1 + u) 2^k, k in [-40, 40], random sign: association matters */
static double wild(void)
{
    uint64_t r = splitmix64();
    double m = 1.0 + (double)(r >> 11) * (1.0 / 9007199254740992.0);
    int k = (int)(splitmix64() % 81) - 40;
    return ((r >> 10) & 1 ? -1.0 : 1.0) * ldexp(m, k);
}

static int same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The definition, level by level: pairs (0,1), (2,3), ...; an odd one at the
 * end is carried unchanged; repeat until one remains. */
static double ref_tree(const double *p, size_t m, double *work)
{
    size_t i;
    if (m == 0)
        return 0.0;
    memcpy(work, p, m * sizeof *p);
    while (m > 1) {
        size_t half = m / 2;
        for (i = 0; i < half; i++)
            work[i] = work[2 * i] + work[2 * i + 1];
        if (m & 1)
            work[half] = work[m - 1];
        m = half + (m & 1);
    }
    return work[0];
}

/* A plausible but WRONG tree: the odd element is paired at the front. */
static double wrong_tree(const double *p, size_t m, double *work)
{
    size_t i;
    if (m == 0)
        return 0.0;
    memcpy(work, p, m * sizeof *p);
    while (m > 1) {
        size_t half = m / 2, odd = m & 1;
        /* work[0] stays as it is when the count is odd */
        for (i = 0; i < half; i++)
            work[odd + i] = work[odd + 2 * i] + work[odd + 2 * i + 1];
        m = half + odd;
    }
    return work[0];
}

static double ref_sum(const double *x, size_t n, double *partials, double *work)
{
    size_t b, nb = (n + DPO_REDUCE_BLOCK - 1) / DPO_REDUCE_BLOCK, i;
    for (b = 0; b < nb; b++) {
        size_t lo = b * DPO_REDUCE_BLOCK, hi = lo + DPO_REDUCE_BLOCK < n ? lo + DPO_REDUCE_BLOCK : n;
        double s = x[lo];
        for (i = lo + 1; i < hi; i++)
            s = s + x[i];
        partials[b] = s;
    }
    return ref_tree(partials, nb, work);
}

#define MAXB 3000

static void test_tree_every_count(void)
{
    static double p[MAXB], work[MAXB];
    size_t m, i;
    int bad = 0, ltr_differs = 0, wrong_differs = 0;
    for (i = 0; i < MAXB; i++)
        p[i] = wild();
    for (m = 1; m <= MAXB; m++) {
        dpo_tree t;
        double got, want, ltr;
        dpo_tree_init(&t);
        for (i = 0; i < m; i++)
            dpo_tree_push(&t, p[i]);
        got = dpo_tree_result(&t);
        want = ref_tree(p, m, work);
        if (!same(got, want)) {
            if (bad++ < 5)
                CHECK(0, "%u blocks: stack %a, level by level %a", (unsigned)m, got, want);
        }
        ltr = p[0];
        for (i = 1; i < m; i++)
            ltr = ltr + p[i];
        ltr_differs += !same(ltr, want);
        wrong_differs += !same(wrong_tree(p, m, work), want);
    }
    CHECK(bad == 0, "%d of %d block counts differ", bad, MAXB);
    printf("  inputs discriminate: left-to-right differs for %d, a front-carry tree for %d of %d counts\n",
           ltr_differs, wrong_differs, MAXB);
    /* the test would see a wrong order: for m >= 3 the left-to-right sum is a
     * different association, and so is the front-carry tree for odd counts */
    CHECK(ltr_differs > MAXB * 3 / 4, "inputs too tame: left-to-right differs only %d times", ltr_differs);
    CHECK(wrong_differs > MAXB / 3, "inputs too tame: wrong tree differs only %d times", wrong_differs);
}

static void test_tree_large_counts(void)
{
    static const size_t ms[] = {65535, 65536, 65537, 100000, 131071, 131073, 262143};
    const size_t MX = 262143;
    double *p = malloc(MX * sizeof *p), *work = malloc(MX * sizeof *work);
    size_t k, i;
    if (!p || !work) {
        CHECK(0, "out of memory");
        free(p);
        free(work);
        return;
    }
    for (i = 0; i < MX; i++)
        p[i] = wild();
    for (k = 0; k < sizeof ms / sizeof ms[0]; k++) {
        dpo_tree t;
        double got, want;
        dpo_tree_init(&t);
        for (i = 0; i < ms[k]; i++)
            dpo_tree_push(&t, p[i]);
        got = dpo_tree_result(&t);
        want = ref_tree(p, ms[k], work);
        CHECK(same(got, want), "%u blocks: %a vs %a", (unsigned)ms[k], got, want);
        CHECK(t.top <= DPO_TREE_DEPTH, "stack depth");
    }
    free(p);
    free(work);
}

static void test_tree_empty(void)
{
    dpo_tree t;
    dpo_sum s;
    dpo_tree_init(&t);
    CHECK(same(dpo_tree_result(&t), 0.0), "empty tree = +0");
    dpo_sum_init(&s);
    CHECK(same(dpo_sum_result(&s), 0.0), "empty sum = +0");
    CHECK(same(dpo_sum_canonical(NULL, 0), 0.0), "dpo_sum_canonical(NULL, 0) = +0");
}

/* dpo_sum_* and dpo_sum_canonical against the full definition: every n in
 * 0..40 blocks, and for every block count up to 3000 one n with a partial
 * last block. */
static void test_sum_canonical(void)
{
    const size_t NX = (size_t)MAXB * DPO_REDUCE_BLOCK;
    double *x = malloc(NX * sizeof *x), *partials = malloc(MAXB * sizeof *partials),
           *work = malloc(MAXB * sizeof *work);
    size_t n, i, m;
    int bad = 0, bad2 = 0;
    if (!x || !partials || !work) {
        CHECK(0, "out of memory");
        goto done;
    }
    for (i = 0; i < NX; i++)
        x[i] = wild();
    for (n = 0; n <= 40 * DPO_REDUCE_BLOCK; n++) {
        double want = ref_sum(x, n, partials, work);
        if (!same(dpo_sum_canonical(x, n), want) && bad++ < 5)
            CHECK(0, "n = %u: canonical %a, definition %a", (unsigned)n, dpo_sum_canonical(x, n), want);
    }
    for (m = 1; m <= MAXB; m++) {
        size_t cut = (size_t)(splitmix64() % DPO_REDUCE_BLOCK);
        double want, got;
        dpo_sum s;
        n = m * DPO_REDUCE_BLOCK - cut;
        want = ref_sum(x, n, partials, work);
        dpo_sum_init(&s);
        for (i = 0; i < n; i++)
            dpo_sum_add(&s, x[i]);
        got = dpo_sum_result(&s);
        if ((!same(got, want) || !same(dpo_sum_canonical(x, n), want)) && bad2++ < 5)
            CHECK(0, "%u blocks, n = %u: dpo_sum %a, canonical %a, definition %a", (unsigned)m, (unsigned)n, got,
                  dpo_sum_canonical(x, n), want);
    }
    CHECK(bad == 0 && bad2 == 0, "%d + %d sums differ from the definition", bad, bad2);
    /* a block starts from its first term: the sum of one -0 is -0 */
    {
        double mz = -0.0;
        CHECK(same(dpo_sum_canonical(&mz, 1), -0.0), "sum of {-0} is -0");
    }
    /* the result is a function of the terms only: summing twice, or after
     * an unrelated sum, gives the same bits */
    CHECK(same(dpo_sum_canonical(x, 12345), dpo_sum_canonical(x, 12345)), "repeatable");
done:
    free(x);
    free(partials);
    free(work);
}

int main(void)
{
    RUN(test_tree_every_count);
    RUN(test_tree_large_counts);
    RUN(test_tree_empty);
    RUN(test_sum_canonical);
    return chk_summary();
}
