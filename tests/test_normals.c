/* Philox normals (dpo_normal_f32 / dpo_normal_f64, src/philox.c):
 *   - values against an independent evaluation of the documented mapping
 *     (docs/reproducibility.md section 3) with a long-double Box-Muller;
 *   - pieces, batch, order and thread-count invariance, bit for bit;
 *   - distribution on >= 10^6 draws with a fixed seed: moments within 5
 *     standard errors, lag correlations, Kolmogorov-Smirnov and chi-square
 *     against the normal CDF (libm erfc here: an independent reference, only
 *     in the test), each statistic shown to REJECT deliberately wrong
 *     transforms built from the same Philox words;
 *   - input validation (outputs untouched) and coordinate separation. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"

static uint64_t sm_state = 0x0123456789abcdefULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static dpo_noise_coord coord(uint64_t seed, uint32_t stream, uint32_t sample, uint32_t step, uint32_t cand)
{
    dpo_noise_coord c;
    c.seed = seed;
    c.stream = stream;
    c.sample = sample;
    c.step = step;
    c.candidate = cand;
    return c;
}

/* ---- independent evaluation of the documented mapping ---- */
static const long double PI_L = 3.14159265358979323846264338327950288L;

static void words_of(uint32_t w[4], dpo_noise_coord c, uint64_t e)
{
    uint32_t ctr[4], key[2];
    key[0] = (uint32_t)(c.seed & 0xffffffffu);
    key[1] = (uint32_t)(c.seed >> 32);
    ctr[0] = (uint32_t)(e / 4);
    ctr[1] = c.sample;
    ctr[2] = c.step;
    ctr[3] = c.stream * 65536u + c.candidate;
    dpo_philox4x32_10_block(w, ctr, key); /* checked against KATs in test_philox */
}

static long double ref_normal(dpo_noise_coord c, uint64_t e)
{
    uint32_t w[4];
    unsigned lane = (unsigned)(e % 4), pair = lane / 2;
    long double u1, u2, r;
    words_of(w, c, e);
    u1 = ((long double)w[2 * pair] + 0.5L) / 4294967296.0L;
    u2 = ((long double)w[2 * pair + 1] + 0.5L) / 4294967296.0L;
    r = sqrtl(-2.0L * logl(u1));
    return (lane % 2 == 0) ? r * cosl(2.0L * PI_L * u2) : r * sinl(2.0L * PI_L * u2);
}

/* long double wider than double at run time (valgrind computes x87 in double) */
static int wide_long_double(void)
{
    volatile long double one = 1.0L, tiny = 0x1p-63L;
    return (long double)(one + tiny) != one;
}

static void test_values_vs_reference(void)
{
    enum { N = 4099 };
    static double z[N];
    static float zf[N];
    uint64_t e0s[3] = {0, 12345, ((uint64_t)1 << 34) - N};
    int k;
    size_t i;
    double maxerr = 0;
    /* portable log/sincos within ~1 ulp: |z| error < 8 ulp(1) covers |z| < 7;
     * with a double-precision reference (no wider long double) allow 64 */
    double tol = (wide_long_double() ? 8 : 64) * 2.220446049250313e-16;
    for (k = 0; k < 3; k++) {
        dpo_noise_coord c = coord(0x9e3779b97f4a7c15ULL + (uint64_t)k, (uint32_t)k, 7u * (uint32_t)k, 3, 1);
        CHECK(dpo_normal_f64(z, c, e0s[k], N) == DPO_OK, "f64 status");
        CHECK(dpo_normal_f32(zf, c, e0s[k], N) == DPO_OK, "f32 status");
        for (i = 0; i < N; i++) {
            long double ref = ref_normal(c, e0s[k] + i);
            double err = (double)fabsl((long double)z[i] - ref);
            if (err > maxerr)
                maxerr = err;
            CHECK(err <= tol, "element %llu: %a vs %La", (unsigned long long)(e0s[k] + i),
                  z[i], ref);
            CHECK(zf[i] == (float)z[i], "f32 is the f64 rounded once (element %u)", (unsigned)i);
        }
    }
    printf("  max |z - z_ref| = %.3g over %d elements (tolerance %.3g)\n", maxerr, 3 * N, tol);
}

/* (a) pieces with arbitrary offsets equal one call */
static void test_pieces(void)
{
    enum { N = 5000 };
    static double all[N], part[N];
    static float allf[N], partf[N];
    int trial;
    uint64_t base[3] = {0, 3, ((uint64_t)1 << 34) - N};
    for (trial = 0; trial < 300; trial++) {
        dpo_noise_coord c = coord(splitmix64(), (uint32_t)(splitmix64() & 0xffff), (uint32_t)splitmix64(),
                                  (uint32_t)splitmix64(), (uint32_t)(splitmix64() & 0xffff));
        uint64_t e0 = base[trial % 3];
        size_t pos = 0;
        memset(part, 0, sizeof part);
        memset(partf, 0, sizeof partf);
        CHECK(dpo_normal_f64(all, c, e0, N) == DPO_OK, "one call");
        CHECK(dpo_normal_f32(allf, c, e0, N) == DPO_OK, "one call f32");
        while (pos < N) {
            size_t len = (size_t)(splitmix64() % (trial % 2 ? 9 : 700));
            if (len > N - pos)
                len = N - pos;
            if (len == 0) { /* an empty piece is refused, nothing written */
                CHECK(dpo_normal_f64(part + pos, c, e0 + pos, 0) == DPO_ERR_SIZE, "empty piece");
                CHECK(dpo_normal_f32(partf + pos, c, e0 + pos, 0) == DPO_ERR_SIZE, "empty piece f32");
                continue;
            }
            CHECK(dpo_normal_f64(part + pos, c, e0 + pos, len) == DPO_OK, "piece");
            CHECK(dpo_normal_f32(partf + pos, c, e0 + pos, len) == DPO_OK, "piece f32");
            pos += len;
        }
        CHECK(chk_same_bits(all, part, sizeof all), "f64 pieces differ (trial %d)", trial);
        CHECK(chk_same_bits(allf, partf, sizeof allf), "f32 pieces differ (trial %d)", trial);
    }
}

/* (b) a sample's noise does not depend on which other samples are generated,
 * nor on the order of calls */
static void test_batch_independence(void)
{
    enum { B = 9, D = 777 };
    static double batch[B][D], alone[D], rev[B][D];
    uint64_t seed = 42;
    int b;
    for (b = 0; b < B; b++)
        CHECK(dpo_normal_f64(batch[b], coord(seed, DPO_STREAM_STEP, (uint32_t)b, 5, 0), 0, D) == DPO_OK, "batch");
    for (b = B - 1; b >= 0; b--) {
        /* interleave unrelated work between the calls */
        CHECK(dpo_normal_f64(alone, coord(seed + 1, DPO_STREAM_INIT, 99, 0, 0), 0, D) == DPO_OK, "other");
        CHECK(dpo_normal_f64(rev[b], coord(seed, DPO_STREAM_STEP, (uint32_t)b, 5, 0), 0, D) == DPO_OK, "rev");
    }
    CHECK(chk_same_bits(batch, rev, sizeof batch), "reverse order with interleaved calls changed the noise");
    /* sample 6 of a batch of 9 = sample 6 generated on its own, and as the
     * first sample of a "batch" that starts at global index 6 */
    CHECK(dpo_normal_f64(alone, coord(seed, DPO_STREAM_STEP, 6, 5, 0), 0, D) == DPO_OK, "alone");
    CHECK(chk_same_bits(alone, batch[6], sizeof alone), "sample 6 alone differs from sample 6 in a batch");
}

/* (c) thread count */
typedef struct job {
    float *outf;
    double *outd;
    dpo_noise_coord c;
    uint64_t e0;
    size_t n;
    dpo_status st;
} job;

static void *worker(void *p)
{
    job *j = (job *)p;
    j->st = dpo_normal_f32(j->outf, j->c, j->e0, j->n);
    if (j->st == DPO_OK)
        j->st = dpo_normal_f64(j->outd, j->c, j->e0, j->n);
    return NULL;
}

static void test_threads(void)
{
    const size_t N = (size_t)1 << 20;
    const uint64_t E0 = 13; /* not a multiple of 4 */
    float *f1 = malloc(N * sizeof *f1), *ft = malloc(N * sizeof *ft);
    double *d1 = malloc(N * sizeof *d1), *dt = malloc(N * sizeof *dt);
    dpo_noise_coord c = coord(2024, DPO_STREAM_STEP, 3, 17, 2);
    int nt;
    if (!f1 || !ft || !d1 || !dt) {
        CHECK(0, "out of memory");
        goto done;
    }
    CHECK(dpo_normal_f32(f1, c, E0, N) == DPO_OK && dpo_normal_f64(d1, c, E0, N) == DPO_OK, "single");
    for (nt = 1; nt <= 4; nt++) {
        pthread_t th[4];
        job jobs[4];
        size_t start = 0;
        int t;
        memset(ft, 0xff, N * sizeof *ft);
        memset(dt, 0xff, N * sizeof *dt);
        for (t = 0; t < nt; t++) {
            /* uneven ranges with boundaries off the 4-element blocks */
            size_t end = t == nt - 1 ? N : (N / (size_t)nt) * (size_t)(t + 1) + (size_t)(2 * t + 1);
            jobs[t].outf = ft + start;
            jobs[t].outd = dt + start;
            jobs[t].c = c;
            jobs[t].e0 = E0 + start;
            jobs[t].n = end - start;
            jobs[t].st = DPO_ERR_NULL;
            start = end;
            CHECK(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0, "pthread_create");
        }
        for (t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            CHECK(jobs[t].st == DPO_OK, "thread status");
        }
        CHECK(chk_same_bits(f1, ft, N * sizeof *f1), "f32 with %d threads differs", nt);
        CHECK(chk_same_bits(d1, dt, N * sizeof *d1), "f64 with %d threads differs", nt);
    }
done:
    free(f1);
    free(ft);
    free(d1);
    free(dt);
}

/* ---- (d) distribution ---- */
#define NDRAW 1000000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

typedef struct stats {
    double mean, var, skew, exkurt; /* sample moments */
    double lag1, lag2;              /* correlation of z[i], z[i+1] and z[i], z[i+2] */
    double ks;                      /* sqrt(n) * D_n */
    double chi2;                    /* 100 equiprobable bins, 99 dof */
} stats;

static double *g_tmp;

static stats compute_stats(const double *z, size_t n)
{
    stats s;
    size_t i;
    double m = 0, m2 = 0, m3 = 0, m4 = 0, c1 = 0, c2 = 0, d = 0;
    long cnt[100];
    for (i = 0; i < n; i++)
        m += z[i];
    m /= (double)n;
    for (i = 0; i < n; i++) {
        double x = z[i] - m, x2 = x * x;
        m2 += x2;
        m3 += x2 * x;
        m4 += x2 * x2;
        if (i + 1 < n)
            c1 += x * (z[i + 1] - m);
        if (i + 2 < n)
            c2 += x * (z[i + 2] - m);
    }
    m2 /= (double)n;
    m3 /= (double)n;
    m4 /= (double)n;
    s.mean = m;
    s.var = m2;
    s.skew = m3 / pow(m2, 1.5);
    s.exkurt = m4 / (m2 * m2) - 3.0;
    s.lag1 = c1 / (double)(n - 1) / m2;
    s.lag2 = c2 / (double)(n - 2) / m2;
    memcpy(g_tmp, z, n * sizeof *z);
    qsort(g_tmp, n, sizeof *g_tmp, cmp_double);
    memset(cnt, 0, sizeof cnt);
    for (i = 0; i < n; i++) {
        double F = normal_cdf(g_tmp[i]);
        double lo = F - (double)i / (double)n, hi = (double)(i + 1) / (double)n - F;
        int bin = (int)(F * 100.0);
        if (lo > d)
            d = lo;
        if (hi > d)
            d = hi;
        if (bin > 99)
            bin = 99;
        if (bin < 0)
            bin = 0;
        cnt[bin]++;
    }
    s.ks = sqrt((double)n) * d;
    s.chi2 = 0;
    for (i = 0; i < 100; i++) {
        double e = (double)n / 100.0, r = (double)cnt[i] - e;
        s.chi2 += r * r / e;
    }
    return s;
}

/* Thresholds.  Standard errors for n normal draws: mean 1/sqrt(n), variance
 * sqrt(2/n), skewness sqrt(6/n), excess kurtosis sqrt(24/n), lag correlation
 * 1/sqrt(n); bounds are 5 standard errors.  KS: sqrt(n) D_n has the
 * Kolmogorov distribution, P(> 1.95) = 0.001.  Chi-square with 99 degrees of
 * freedom: P(> 148.2) = 0.001. */
#define KS_CRIT 1.95
#define CHI2_CRIT 148.2

static int stats_pass(const stats *s, size_t n, int verbose, const char *name)
{
    double rn = sqrt((double)n);
    int ok_mean = fabs(s->mean) < 5.0 / rn;
    int ok_var = fabs(s->var - 1.0) < 5.0 * sqrt(2.0) / rn;
    int ok_skew = fabs(s->skew) < 5.0 * sqrt(6.0) / rn;
    int ok_kurt = fabs(s->exkurt) < 5.0 * sqrt(24.0) / rn;
    int ok_lag = fabs(s->lag1) < 5.0 / rn && fabs(s->lag2) < 5.0 / rn;
    int ok_ks = s->ks < KS_CRIT;
    int ok_chi = s->chi2 < CHI2_CRIT;
    if (verbose)
        printf("  %-22s mean %+.5f var %.5f skew %+.5f exkurt %+.5f lag1 %+.5f lag2 %+.5f KS %.3f chi2 %.1f -> "
               "%s%s%s%s%s%s%s\n",
               name, s->mean, s->var, s->skew, s->exkurt, s->lag1, s->lag2, s->ks, s->chi2, ok_mean ? "" : "[mean]",
               ok_var ? "" : "[var]", ok_skew ? "" : "[skew]", ok_kurt ? "" : "[kurt]", ok_lag ? "" : "[lag]",
               ok_ks ? "" : "[KS]", ok_chi ? "" : "[chi2]");
    return ok_mean && ok_var && ok_skew && ok_kurt && ok_lag && ok_ks && ok_chi;
}

/* Deliberately wrong transforms of the same Philox words (libm is fine
 * here: the point is the statistics, not the bits). */
enum { W_SCALE105, W_R_IS_U1, W_SIN_BOTH, W_HALF_LOG, W_ONE_PAIR, W_NONE };

static void wrong_normals(double *z, size_t n, dpo_noise_coord c, int kind)
{
    size_t e;
    for (e = 0; e < n; e += 4) {
        uint32_t w[4];
        int p;
        words_of(w, c, e);
        for (p = 0; p < 2; p++) {
            double u1 = ((double)w[2 * p] + 0.5) / 4294967296.0, u2 = ((double)w[2 * p + 1] + 0.5) / 4294967296.0;
            double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2, z0, z1;
            z0 = r * cos(a);
            z1 = r * sin(a);
            switch (kind) {
            case W_SCALE105: z0 *= sqrt(1.05); z1 *= sqrt(1.05); break;
            case W_R_IS_U1: z0 = u1 * cos(a); z1 = u1 * sin(a); break;
            case W_SIN_BOTH: z0 = z1; break;
            case W_HALF_LOG: z0 = sqrt(-log(u1)) * cos(a); z1 = sqrt(-log(u1)) * sin(a); break;
            case W_ONE_PAIR: /* both pairs of a block from the first pair's words */
                if (p == 1) {
                    z0 = z[e];
                    z1 = z[e + 1];
                }
                break;
            default: /* W_NONE: the right transform, in libm */
                break;
            }
            if (e + 2 * (size_t)p < n)
                z[e + 2 * (size_t)p] = z0;
            if (e + 2 * (size_t)p + 1 < n)
                z[e + 2 * (size_t)p + 1] = z1;
        }
    }
}

static void test_distribution(void)
{
    double *z = malloc(NDRAW * sizeof *z);
    float *zf = malloc(NDRAW * sizeof *zf);
    dpo_noise_coord c = coord(20240611, DPO_STREAM_STEP, 0, 0, 0);
    stats s;
    size_t i;
    static const char *wname[] = {"wrong: variance 1.05", "wrong: r = u1", "wrong: sin for both",
                                  "wrong: r = sqrt(-log u)", "wrong: pair reused"};
    int k;
    g_tmp = malloc(NDRAW * sizeof *g_tmp);
    if (!z || !zf || !g_tmp) {
        CHECK(0, "out of memory");
        goto done;
    }
    CHECK(dpo_normal_f64(z, c, 0, NDRAW) == DPO_OK, "f64");
    s = compute_stats(z, NDRAW);
    CHECK(stats_pass(&s, NDRAW, 1, "dpo_normal_f64"), "dpo_normal_f64 fails the distribution tests");
    CHECK(dpo_normal_f32(zf, c, 0, NDRAW) == DPO_OK, "f32");
    for (i = 0; i < NDRAW; i++)
        z[i] = zf[i];
    s = compute_stats(z, NDRAW);
    CHECK(stats_pass(&s, NDRAW, 1, "dpo_normal_f32"), "dpo_normal_f32 fails the distribution tests");
    /* a second, unrelated coordinate: different stream, sample, step, seed */
    c = coord(0xdeadbeefcafef00dULL, DPO_STREAM_INIT, 123456, 7, 3);
    CHECK(dpo_normal_f64(z, c, 1000, NDRAW) == DPO_OK, "f64 (2)");
    s = compute_stats(z, NDRAW);
    CHECK(stats_pass(&s, NDRAW, 1, "dpo_normal_f64 (coord 2)"), "second coordinate fails the distribution tests");
    /* the same statistics must reject wrong transforms */
    for (k = 0; k <= W_ONE_PAIR; k++) {
        wrong_normals(z, NDRAW, coord(20240611, DPO_STREAM_STEP, 0, 0, 0), k);
        s = compute_stats(z, NDRAW);
        CHECK(!stats_pass(&s, NDRAW, 1, wname[k]), "%s was NOT rejected", wname[k]);
        if (k == W_SCALE105)
            CHECK(s.ks >= KS_CRIT, "KS alone must reject the variance-1.05 transform (KS %.3f)", s.ks);
    }
    /* and the right transform written the same way passes (the harness
     * itself is not biased against libm-built normals) */
    wrong_normals(z, NDRAW, coord(20240611, DPO_STREAM_STEP, 0, 0, 0), W_NONE);
    s = compute_stats(z, NDRAW);
    CHECK(stats_pass(&s, NDRAW, 1, "control: libm Box-Muller"), "control transform rejected");
done:
    free(z);
    free(zf);
    free(g_tmp);
}

/* (e) input validation: error and outputs untouched */
static void test_validation(void)
{
    double buf[16], sentinel[16];
    float fbuf[16], fsentinel[16];
    const uint64_t LIM = (uint64_t)1 << 34;
    size_t i;
    struct {
        dpo_noise_coord c;
        uint64_t e0;
        size_t n;
        dpo_status want;
    } bad[6];
    for (i = 0; i < 16; i++) {
        sentinel[i] = -12345.678 - (double)i;
        fsentinel[i] = -1234.5f - (float)i;
    }
    bad[0].c = coord(1, 65536, 0, 0, 0), bad[0].e0 = 0, bad[0].n = 4, bad[0].want = DPO_ERR_RANGE;
    bad[1].c = coord(1, 0, 0, 0, 65536), bad[1].e0 = 0, bad[1].n = 4, bad[1].want = DPO_ERR_RANGE;
    bad[2].c = coord(1, 0xffffffffu, 0, 0, 0), bad[2].e0 = 0, bad[2].n = 4, bad[2].want = DPO_ERR_RANGE;
    bad[3].c = coord(1, 0, 0, 0, 0), bad[3].e0 = LIM - 4, bad[3].n = 5, bad[3].want = DPO_ERR_SIZE;
    bad[4].c = coord(1, 0, 0, 0, 0), bad[4].e0 = LIM, bad[4].n = 1, bad[4].want = DPO_ERR_SIZE;
    bad[5].c = coord(1, 0, 0, 0, 0), bad[5].e0 = UINT64_MAX - 2, bad[5].n = 8, bad[5].want = DPO_ERR_SIZE;
    for (i = 0; i < 6; i++) {
        dpo_status st, stf;
        memcpy(buf, sentinel, sizeof buf);
        memcpy(fbuf, fsentinel, sizeof fbuf);
        st = dpo_normal_f64(buf, bad[i].c, bad[i].e0, bad[i].n);
        stf = dpo_normal_f32(fbuf, bad[i].c, bad[i].e0, bad[i].n);
        CHECK(st == bad[i].want && stf == bad[i].want, "case %u: status %d/%d, want %d", (unsigned)i, (int)st,
              (int)stf, (int)bad[i].want);
        CHECK(chk_same_bits(buf, sentinel, sizeof buf) && chk_same_bits(fbuf, fsentinel, sizeof fbuf),
              "case %u: output written on error", (unsigned)i);
    }
    CHECK(dpo_normal_f64(NULL, coord(1, 0, 0, 0, 0), 0, 4) == DPO_ERR_NULL, "NULL out f64");
    CHECK(dpo_normal_f32(NULL, coord(1, 0, 0, 0, 0), 0, 4) == DPO_ERR_NULL, "NULL out f32");
    /* the edges that are allowed */
    CHECK(dpo_normal_f64(buf, coord(1, 65535, 0xffffffffu, 0xffffffffu, 65535), LIM - 4, 4) == DPO_OK,
          "last elements with the largest coordinates");
    /* n = 0 is DPO_ERR_SIZE, as for the step (docs/errors.md), and writes nothing */
    CHECK(dpo_normal_f64(buf, coord(1, 0, 0, 0, 0), LIM, 0) == DPO_ERR_SIZE, "empty range at the limit");
    memcpy(buf, sentinel, sizeof buf);
    CHECK(dpo_normal_f64(buf, coord(1, 0, 0, 0, 0), 5, 0) == DPO_ERR_SIZE && chk_same_bits(buf, sentinel, sizeof buf),
          "n = 0 writes nothing");
    /* every value finite and within the Box-Muller bound sqrt(-2 log 2^-33) */
    CHECK(dpo_normal_f64(buf, coord(1, 65535, 0xffffffffu, 0xffffffffu, 65535), LIM - 16, 16) == DPO_OK, "tail");
    for (i = 0; i < 16; i++)
        CHECK(fabs(buf[i]) <= 6.77, "value %g out of range", buf[i]);
}

/* (f) different coordinates give different values */
static void test_coordinate_separation(void)
{
    enum { V = 12, D = 64 };
    static double z[V][D];
    dpo_noise_coord base = coord(0x0000000100000002ULL, 1, 5, 9, 3), v[V];
    int a, b, i, j;
    for (a = 0; a < V; a++)
        v[a] = base;
    v[1].seed += 1;                   /* low key word */
    v[2].seed += (uint64_t)1 << 32;   /* high key word */
    v[3].stream += 1;
    v[4].candidate += 1;
    v[5].step += 1;
    v[6].sample += 1;
    v[7].stream = base.stream - 1; /* the packed word just below the base's */
    v[7].candidate = 65535;
    v[8].seed = base.seed ^ ((uint64_t)1 << 63);
    v[9].sample = base.step, v[9].step = base.sample; /* swapped sample and step */
    v[10].stream = base.candidate, v[10].candidate = base.stream; /* swapped stream and candidate */
    v[11].seed = ((base.seed & 0xffffffffu) << 32) | (base.seed >> 32); /* swapped key words */
    for (a = 0; a < V; a++)
        CHECK(dpo_normal_f64(z[a], v[a], 0, D) == DPO_OK, "variant %d", a);
    for (a = 0; a < V; a++)
        for (b = a + 1; b < V; b++) {
            int eq = 0;
            for (i = 0; i < D; i++)
                for (j = 0; j < D; j++)
                    eq += z[a][i] == z[b][j];
            CHECK(eq == 0, "variants %d and %d share %d values", a, b, eq);
        }
    /* and within one tensor, elements of different blocks differ */
    {
        int eq = 0;
        for (i = 0; i < D; i++)
            for (j = i + 1; j < D; j++)
                eq += z[0][i] == z[0][j];
        CHECK(eq == 0, "%d repeated values inside one tensor", eq);
    }
    /* element e and e + 2^32 (block and block + 2^30) are distinct too */
    {
        double p[4], q[4];
        CHECK(dpo_normal_f64(p, base, 8, 4) == DPO_OK && dpo_normal_f64(q, base, 8 + ((uint64_t)1 << 32), 4) == DPO_OK,
              "far elements");
        CHECK(memcmp(p, q, sizeof p) != 0, "element e and e + 2^32 coincide");
    }
}

int main(void)
{
    RUN(test_values_vs_reference);
    RUN(test_pieces);
    RUN(test_batch_independence);
    RUN(test_threads);
    RUN(test_distribution);
    RUN(test_validation);
    RUN(test_coordinate_separation);
    return chk_summary();
}
