/* The splittable sum over samples (dpo_split_*): for every contiguous split
 * of the samples into ranges, reducing each range to its tree nodes and
 * combining all nodes in index order must give BITWISE the sum one process
 * computes (the root of [0, n)), which must equal this file's own literal
 * recursive reading of the definition in include/diffpo.h.  Inputs span 80
 * binades so that another association order gives other bits (checked: a
 * left-to-right sum differs for most n). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "internal.h"

static uint64_t sm_state = 0x1234abcd5678ef01ULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double wild(void)
{
    uint64_t r = splitmix64();
    double m = 1.0 + (double)(r >> 11) * (1.0 / 9007199254740992.0);
    int k = (int)(splitmix64() % 81) - 40;
    return ((r >> 10) & 1 ? -1.0 : 1.0) * ldexp(m, k);
}

#define DIM 3
#define MAXN 5000

static double X[MAXN * DIM];

/* the definition, read literally: node (lo, level) of n samples */
static double ref_node(uint64_t lo, int level, uint64_t n, size_t e)
{
    uint64_t half;
    if (level == 0)
        return X[lo * DIM + e];
    half = (uint64_t)1 << (level - 1);
    if (lo + half >= n)
        return ref_node(lo, level - 1, n, e);
    return ref_node(lo, level - 1, n, e) + ref_node(lo + half, level - 1, n, e);
}

static void ref_sum(double *out, uint64_t n)
{
    int L = 0;
    size_t e;
    while (((uint64_t)1 << L) < n)
        L++;
    for (e = 0; e < DIM; e++)
        out[e] = ref_node(0, L, n, e);
}

static double ws[70 * DIM];
static double vals[MAXN * DIM];
static dpo_split_node nodes[MAXN];

/* Reduce ranges [cut[r], cut[r+1]) separately, combine; 0 on any error. */
static int split_sum(double *out, uint64_t n, const uint64_t *cut, int ranks)
{
    size_t total = 0, k;
    int r;
    for (r = 0; r < ranks; r++) {
        size_t cnt = MAXN - total;
        if (dpo_split_nodes(nodes + total, &cnt, n, cut[r], cut[r + 1]) != DPO_OK)
            return 0;
        if (dpo_split_reduce_range_f64(vals + total * DIM, ws, sizeof ws, X + cut[r] * DIM, DIM, n, cut[r],
                                       cut[r + 1]) != DPO_OK)
            return 0;
        for (k = 0; k < cnt; k++) /* every node is a maximal dyadic piece */
            if (nodes[total + k].hi <= nodes[total + k].lo)
                return 0;
        total += cnt;
    }
    return dpo_split_combine(out, ws, sizeof ws, vals, nodes, total, DIM, n) == DPO_OK;
}

static int same3(const double *a, const double *b)
{
    return memcmp(a, b, DIM * sizeof(double)) == 0;
}

static void fill(size_t n)
{
    size_t i;
    for (i = 0; i < n * DIM; i++)
        X[i] = wild();
}

/* every split of n <= 12 samples (all 2^(n-1) compositions) */
static void test_every_composition(void)
{
    uint64_t n;
    for (n = 1; n <= 12; n++) {
        double want[DIM], got[DIM];
        uint32_t mask;
        fill(n);
        ref_sum(want, n);
        for (mask = 0; mask < (1u << (n - 1)); mask++) {
            uint64_t cut[16];
            int ranks = 0;
            uint64_t i;
            cut[0] = 0;
            for (i = 1; i < n; i++)
                if (mask >> (i - 1) & 1)
                    cut[++ranks] = i;
            cut[++ranks] = n;
            CHECK(split_sum(got, n, cut, ranks) && same3(got, want), "n=%llu mask=%x", (unsigned long long)n, mask);
        }
    }
}

/* n = 1..33: every split into 1, 2 and 3 ranges, and 200 random splits into up to 9 */
static void test_splits_to_33(void)
{
    uint64_t n, a, b;
    int differs = 0;
    for (n = 1; n <= 33; n++) {
        double want[DIM], got[DIM], seq[DIM] = {0, 0, 0};
        int t;
        fill(n);
        ref_sum(want, n);
        for (a = 0; a < n; a++)
            for (t = 0; t < DIM; t++)
                seq[t] = a == 0 ? X[t] : seq[t] + X[a * DIM + t];
        differs += !same3(seq, want);
        for (a = 0; a <= n; a++)
            for (b = a; b <= n; b++) {
                uint64_t cut[4];
                int ranks = 0;
                cut[0] = 0;
                if (a > 0 && a < n)
                    cut[++ranks] = a;
                if (b > a && b > 0 && b < n)
                    cut[++ranks] = b;
                cut[++ranks] = n;
                CHECK(split_sum(got, n, cut, ranks) && same3(got, want), "n=%llu a=%llu b=%llu",
                      (unsigned long long)n, (unsigned long long)a, (unsigned long long)b);
            }
        for (t = 0; t < 200; t++) {
            uint64_t cut[10];
            int ranks = 0, i;
            cut[0] = 0;
            for (i = 0; i < 8 && cut[ranks] < n - 1; i++)
                cut[ranks + 1] = cut[ranks] + 1 + splitmix64() % (n - 1 - cut[ranks]), ranks++;
            cut[++ranks] = n;
            CHECK(split_sum(got, n, cut, ranks) && same3(got, want), "n=%llu random split %d", (unsigned long long)n, t);
        }
    }
    CHECK(differs > 20, "a left-to-right sum matched the tree for too many n (%d): inputs too tame", 33 - differs);
}

/* large n: even splits over 1..8 ranks and random ones */
static void test_large(void)
{
    static const uint64_t ns[] = {64, 100, 1000, 1023, 1024, 1025, 4097, MAXN};
    size_t j;
    for (j = 0; j < sizeof ns / sizeof ns[0]; j++) {
        uint64_t n = ns[j];
        double want[DIM], got[DIM];
        int N, t;
        fill(n);
        ref_sum(want, n);
        for (N = 1; N <= 8; N++) {
            uint64_t cut[9];
            int r;
            for (r = 0; r <= N; r++)
                cut[r] = n * (uint64_t)r / (uint64_t)N;
            CHECK(split_sum(got, n, cut, N) && same3(got, want), "n=%llu N=%d", (unsigned long long)n, N);
        }
        for (t = 0; t < 20; t++) {
            uint64_t cut[9];
            int r;
            cut[0] = 0;
            for (r = 1; r < 8; r++)
                cut[r] = cut[r - 1] + 1 + splitmix64() % (n / 8);
            cut[8] = n;
            CHECK(split_sum(got, n, cut, 8) && same3(got, want), "n=%llu random %d", (unsigned long long)n, t);
        }
    }
}

/* the f32 form widens exactly: same bits as the f64 form on widened input */
static void test_f32(void)
{
    static float xf[40 * DIM];
    double a[80 * DIM], b[80 * DIM];
    size_t i, cnt = 0;
    for (i = 0; i < 40 * DIM; i++) {
        xf[i] = (float)wild();
        X[i] = (double)xf[i];
    }
    CHECK(dpo_split_nodes(NULL, &cnt, 40, 3, 37) == DPO_OK && cnt == 6, "count %zu", cnt);
    CHECK(dpo_split_reduce_range_f32(a, ws, sizeof ws, xf + 3 * DIM, DIM, 40, 3, 37) == DPO_OK, "f32");
    CHECK(dpo_split_reduce_range_f64(b, ws, sizeof ws, X + 3 * DIM, DIM, 40, 3, 37) == DPO_OK, "f64");
    CHECK(memcmp(a, b, cnt * DIM * sizeof(double)) == 0, "f32 != f64 on widened input");
}

/* node lists: known decompositions, the count bound */
static void test_nodes(void)
{
    dpo_split_node nd[8];
    size_t cnt = 8;
    CHECK(dpo_split_nodes(nd, &cnt, 12, 5, 12) == DPO_OK && cnt == 3, "[5,12) count %zu", cnt);
    CHECK(nd[0].lo == 5 && nd[0].hi == 6 && nd[0].level == 0, "[5,6)");
    CHECK(nd[1].lo == 6 && nd[1].hi == 8 && nd[1].level == 1, "[6,8)");
    CHECK(nd[2].lo == 8 && nd[2].hi == 12 && nd[2].level == 3, "[8,12) is clipped [8,16): level 3, got %d", nd[2].level);
    cnt = 8;
    CHECK(dpo_split_nodes(nd, &cnt, 12, 0, 12) == DPO_OK && cnt == 1 && nd[0].level == 4 && nd[0].hi == 12, "root");
    cnt = 2;
    CHECK(dpo_split_nodes(nd, &cnt, 40, 3, 37) == DPO_ERR_SIZE, "short node buffer");
    {
        uint64_t n = ((uint64_t)1 << 40) + 12345, a = 1, b = n - 1;
        size_t c = 0;
        CHECK(dpo_split_nodes(NULL, &c, n, a, b) == DPO_OK && c <= 2 * 41, "huge n count %zu", c);
    }
}

/* bad input: refused with the documented status, outputs untouched */
static void test_bad_input(void)
{
    double out[DIM] = {7, 7, 7}, v[4 * DIM] = {0};
    const double seven[DIM] = {7, 7, 7};
    dpo_split_node nd[4];
    size_t cnt = 4;
    fill(8);
    CHECK(dpo_split_nodes(nd, NULL, 8, 0, 8) == DPO_ERR_NULL, "count NULL");
    CHECK(dpo_split_nodes(nd, &cnt, 0, 0, 0) == DPO_ERR_RANGE, "n = 0");
    CHECK(dpo_split_nodes(nd, &cnt, 8, 3, 3) == DPO_ERR_RANGE, "empty range");
    CHECK(dpo_split_nodes(nd, &cnt, 8, 0, 9) == DPO_ERR_RANGE, "b > n");
    CHECK(dpo_split_workspace_size(0, 3) == 0 && dpo_split_workspace_size(8, 0) == 0, "ws size of nothing");
    CHECK(dpo_split_workspace_size(8, 3) == 5 * 3 * sizeof(double), "ws size");
    CHECK(dpo_split_reduce_range_f64(out, ws, 4 * DIM * sizeof(double), X, DIM, 8, 0, 8) == DPO_ERR_WORKSPACE,
          "small ws");
    CHECK(dpo_split_reduce_range_f64(out, NULL, sizeof ws, X, DIM, 8, 0, 8) == DPO_ERR_WORKSPACE, "NULL ws");
    CHECK(dpo_split_reduce_range_f64(out, ws, sizeof ws, NULL, DIM, 8, 0, 8) == DPO_ERR_NULL, "NULL x");
    CHECK(dpo_split_reduce_range_f64(out, ws, sizeof ws, X, 0, 8, 0, 8) == DPO_ERR_SIZE, "dim 0");
    CHECK(dpo_split_reduce_range_f64(out, ws, sizeof ws, X, DIM, 8, 4, 2) == DPO_ERR_RANGE, "a > b");
    CHECK(dpo_split_reduce_range_f64(X + 2, ws, sizeof ws, X, DIM, 8, 0, 8) == DPO_ERR_ALIAS, "out inside x");
    X[5] = NAN;
    CHECK(dpo_split_reduce_range_f64(out, ws, sizeof ws, X, DIM, 8, 0, 8) == DPO_ERR_NONFINITE, "NaN");
    X[5] = 1.0;
    CHECK(memcmp(out, seven, sizeof out) == 0, "out written on error");
    /* combine: partitions that are not tree nodes of [0, n) in order */
    nd[0].lo = 0, nd[0].hi = 4, nd[0].level = 2;
    nd[1].lo = 4, nd[1].hi = 8, nd[1].level = 2;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 2, DIM, 8) == DPO_OK, "valid partition");
    memcpy(out, seven, sizeof out);
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 1, DIM, 8) == DPO_ERR_RANGE, "does not reach n");
    nd[1].lo = 5;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 2, DIM, 8) == DPO_ERR_RANGE, "gap");
    nd[1].lo = 4, nd[1].hi = 7;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 2, DIM, 8) == DPO_ERR_RANGE, "wrong hi");
    nd[0].lo = 0, nd[0].hi = 2, nd[0].level = 1;
    nd[1].lo = 2, nd[1].hi = 6, nd[1].level = 2;
    nd[2].lo = 6, nd[2].hi = 8, nd[2].level = 1;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 3, DIM, 8) == DPO_ERR_RANGE, "misaligned node");
    nd[0].lo = 4, nd[0].hi = 8, nd[0].level = 2;
    nd[1].lo = 0, nd[1].hi = 4, nd[1].level = 2;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 2, DIM, 8) == DPO_ERR_RANGE, "descending order");
    nd[0].lo = 0, nd[0].hi = 8, nd[0].level = 5;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 1, DIM, 8) == DPO_ERR_RANGE, "level above the root");
    nd[0].level = 3;
    v[1] = INFINITY;
    CHECK(dpo_split_combine(out, ws, sizeof ws, v, nd, 1, DIM, 8) == DPO_ERR_NONFINITE, "inf node");
    CHECK(dpo_split_combine(out, ws, 3, v, nd, 1, DIM, 8) == DPO_ERR_WORKSPACE, "small ws");
    CHECK(memcmp(out, seven, sizeof out) == 0, "out written on error");
}

/* the trainers' per-element form (src/model/train.c) is the same tree */
static void test_sum1_trainer_form(void)
{
    static float rows[37 * 5];
    uint64_t n;
    size_t i, e;
    int differs = 0;
    for (i = 0; i < 37 * 5; i++)
        rows[i] = (float)wild();
    for (n = 1; n <= 37; n++) {
        double root[5];
        CHECK(dpo_split_reduce_range_f32(root, ws, sizeof ws, rows, 5, n, 0, n) == DPO_OK, "n=%llu", (unsigned long long)n);
        for (e = 0; e < 5; e++) {
            double t = dpo_split_sum1_f32(rows + e, 5, n), seq = 0;
            CHECK(memcmp(&t, &root[e], sizeof t) == 0, "n=%llu e=%zu", (unsigned long long)n, e);
            for (i = 0; i < n; i++)
                seq += (double)rows[i * 5 + e];
            differs += memcmp(&seq, &t, sizeof t) != 0;
        }
    }
    CHECK(differs > 0, "the ascending double sum never differed: inputs too tame to tell the trees apart");
}

int main(void)
{
    RUN(test_sum1_trainer_form);
    RUN(test_nodes);
    RUN(test_every_composition);
    RUN(test_splits_to_33);
    RUN(test_large);
    RUN(test_f32);
    RUN(test_bad_input);
    return chk_summary();
}
