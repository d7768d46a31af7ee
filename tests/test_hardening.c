/* The library's silent cases of issue 14 (docs/errors.md):
 *   - dpo_step_logprob_* refuses an out that overlaps x_prev or mu;
 *   - the step's alias rule as the header states it: an output may be
 *     exactly one of the inputs (in place, same bits as out of place), any
 *     other overlap is DPO_ERR_ALIAS;
 *   - a coefficient struct with an unknown kind or prediction, or a sigma
 *     that is NaN, infinite or negative, is DPO_ERR_RANGE (step, log-prob);
 *   - one rule for empty inputs: n = 0 is DPO_ERR_SIZE for the normals as
 *     for the step, and nothing is written;
 *   - the linked xxHash is XXH3-64 as published: its sanity vectors. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"

static dpo_schedule sched;

static void coefs(dpo_step_coef_f32 *c32, dpo_step_coef_f64 *c64)
{
    dpo_step_opts o = dpo_step_opts_default();
    if (dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) != DPO_OK ||
        dpo_step_coef_f32_init(c32, &sched, 500, 50, &o) != DPO_OK ||
        dpo_step_coef_f64_init(c64, &sched, 500, 50, &o) != DPO_OK)
        CHECK(0, "setup");
}

static void fill(float *f, double *d, size_t n, double scale)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double v = scale * sin(0.37 * (double)i + 0.1);
        if (f)
            f[i] = (float)v;
        if (d)
            d[i] = v;
    }
}

static void test_logprob_alias(void)
{
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    static double buf[64], mu64[64], keep[64];
    static float mu32[64];
    coefs(&c32, &c64);
    fill(0, buf, 64, 1.0);
    fill(mu32, mu64, 64, 0.5);
    memcpy(keep, buf, sizeof buf);
    /* out (2 doubles) on top of x_prev (2 rows of 8) */
    CHECK(dpo_step_logprob_f64(buf, buf, mu64, 2, 8, &c64, DPO_LOGPROB_SUM) == DPO_ERR_ALIAS, "f64 out = x_prev");
    CHECK(dpo_step_logprob_f64(buf + 9, buf, mu64, 2, 8, &c64, DPO_LOGPROB_SUM) == DPO_ERR_ALIAS,
          "f64 out inside x_prev's second row");
    CHECK(dpo_step_logprob_f64(mu64 + 3, buf, mu64, 2, 8, &c64, DPO_LOGPROB_SUM) == DPO_ERR_ALIAS, "f64 out in mu");
    CHECK(dpo_step_logprob_f32(buf, (const float *)(const void *)buf, mu32, 2, 8, &c32, DPO_LOGPROB_SUM) ==
              DPO_ERR_ALIAS,
          "f32 out over x_prev");
    CHECK(!memcmp(keep, buf, sizeof buf), "a refused call wrote");
    /* disjoint: fine */
    CHECK(dpo_step_logprob_f64(buf + 32, buf, mu64, 2, 8, &c64, DPO_LOGPROB_SUM) == DPO_OK, "disjoint f64");
}

static void test_step_in_place_rule(void)
{
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    enum { N = 37 };
    static float x[N + 1], e[N], z[N], ref[N], ref_mu[N];
    static double xd[N], ed[N], zd[N], refd[N];
    coefs(&c32, &c64);
    fill(x, xd, N, 1.0);
    fill(e, ed, N, 0.7);
    fill(z, zd, N, -0.3);
    CHECK(dpo_step_f32(ref, 0, ref_mu, x, e, z, N, &c32) == DPO_OK, "out of place");
    CHECK(dpo_step_f64(refd, 0, 0, xd, ed, zd, N, &c64) == DPO_OK, "out of place f64");
    /* exactly in place: allowed, same bits */
    CHECK(dpo_step_f32(x, 0, 0, x, e, z, N, &c32) == DPO_OK, "x_prev == x");
    CHECK(!memcmp(x, ref, sizeof ref), "in place differs from out of place");
    CHECK(dpo_step_f64(xd, 0, 0, xd, ed, zd, N, &c64) == DPO_OK, "x_prev == x f64");
    CHECK(!memcmp(xd, refd, sizeof refd), "in place differs (f64)");
    CHECK(dpo_step_f32(e, 0, 0, ref, e, z, N, &c32) == DPO_OK, "x_prev == model_out");
    /* any other overlap: refused */
    fill(x, 0, N + 1, 1.0);
    CHECK(dpo_step_f32(x + 1, 0, 0, x, e, z, N, &c32) == DPO_ERR_ALIAS, "x_prev = x + 1");
    CHECK(dpo_step_f32(ref, 0, ref + 3, x, e, z, N, &c32) == DPO_ERR_ALIAS, "two outputs overlap");
    CHECK(dpo_step_f32(x, 0, x, x, e, z, N, &c32) == DPO_ERR_ALIAS, "two outputs on one input");
}

static void test_bad_coefficients(void)
{
    dpo_step_coef_f32 c32, b32;
    dpo_step_coef_f64 c64, b64;
    float x[8], e[8], z[8], out[8], keep[8];
    double xd[8], ed[8], zd[8], outd[8], lp[2];
    coefs(&c32, &c64);
    fill(x, xd, 8, 1.0);
    fill(e, ed, 8, 0.5);
    fill(z, zd, 8, 0.25);
    fill(out, outd, 8, 9.0);
    memcpy(keep, out, sizeof out);

    b32 = c32;
    b32.kind = 7;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "unknown kind");
    b32 = c32;
    b32.pred = -1;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "unknown prediction type");
    b32 = c32;
    b32.sigma = (float)NAN;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "NaN sigma");
    CHECK(dpo_step_logprob_f32(lp, x, e, 2, 4, &b32, DPO_LOGPROB_SUM) == DPO_ERR_RANGE, "NaN sigma, logprob");
    b32.sigma = -0.5f;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "negative sigma");
    b32.sigma = (float)INFINITY;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "infinite sigma");
    b32 = c32;
    b32.dir_coef = (float)NAN;
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &b32) == DPO_ERR_RANGE, "NaN coefficient");
    {
        dpo_noise_coord nc;
        memset(&nc, 0, sizeof nc);
        b32 = c32;
        b32.kind = 7;
        CHECK(dpo_step_philox_f32(out, 0, 0, x, e, nc, 8, &b32) == DPO_ERR_RANGE, "philox step: unknown kind");
        b32 = c32;
        b32.sigma = (float)NAN;
        CHECK(dpo_step_philox_f32(out, 0, 0, x, e, nc, 8, &b32) == DPO_ERR_RANGE, "philox step: NaN sigma");
    }
    CHECK(!memcmp(keep, out, sizeof out), "a refused step wrote");

    b64 = c64;
    b64.kind = 99;
    CHECK(dpo_step_f64(outd, 0, 0, xd, ed, zd, 8, &b64) == DPO_ERR_RANGE, "unknown kind f64");
    b64 = c64;
    b64.sigma = NAN;
    CHECK(dpo_step_f64(outd, 0, 0, xd, ed, zd, 8, &b64) == DPO_ERR_RANGE, "NaN sigma f64");
    CHECK(dpo_step_logprob_f64(lp, xd, ed, 2, 4, &b64, DPO_LOGPROB_SUM) == DPO_ERR_RANGE, "NaN sigma f64 logprob");
    b64 = c64;
    b64.sigma = 0;
    CHECK(dpo_step_logprob_f64(lp, xd, ed, 2, 4, &b64, DPO_LOGPROB_SUM) == DPO_ERR_SIGMA_ZERO,
          "sigma 0 stays SIGMA_ZERO");
    /* the good ones still pass */
    CHECK(dpo_step_f32(out, 0, 0, x, e, z, 8, &c32) == DPO_OK, "valid f32");
    CHECK(dpo_step_f64(outd, 0, 0, xd, ed, zd, 8, &c64) == DPO_OK, "valid f64");
}

static void test_empty_inputs(void)
{
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    dpo_noise_coord nc;
    float f[4] = {7, 7, 7, 7}, x[4] = {0, 0, 0, 0};
    double d[4] = {7, 7, 7, 7}, lp[1] = {7};
    coefs(&c32, &c64);
    memset(&nc, 0, sizeof nc);
    CHECK(dpo_normal_f32(f, nc, 0, 0) == DPO_ERR_SIZE, "normal_f32 n = 0");
    CHECK(dpo_normal_f64(d, nc, 0, 0) == DPO_ERR_SIZE, "normal_f64 n = 0");
    CHECK(dpo_normal_f32(0, nc, 0, 0) == DPO_ERR_SIZE, "normal_f32 NULL, n = 0");
    CHECK(dpo_step_f32(f, 0, 0, x, x, x, 0, &c32) == DPO_ERR_SIZE, "step n = 0");
    CHECK(dpo_step_f64(d, 0, 0, (const double *)lp, (const double *)lp, 0, 0, &c64) == DPO_ERR_SIZE,
          "step f64 n = 0");
    CHECK(dpo_step_logprob_f32(lp, x, x, 0, 4, &c32, DPO_LOGPROB_SUM) == DPO_ERR_SIZE, "logprob batch 0");
    CHECK(dpo_step_logprob_f32(lp, x, x, 1, 0, &c32, DPO_LOGPROB_SUM) == DPO_ERR_SIZE, "logprob dim 0");
    CHECK(f[0] == 7 && d[0] == 7 && lp[0] == 7, "an empty call wrote");
    CHECK(dpo_normal_f32(f, nc, 0, 1) == DPO_OK && f[1] == 7, "n = 1 writes one value");
}

/* XXH3_64bits_withSeed sanity vectors as published by the xxHash project
 * (cli/xsum_sanity_check.c, table XSUM_XXH3_testdata; docs/errors.md): the
 * buffer is byte i = top byte of PRIME32 * PRIME64^i (mod 2^64). */
static void test_xxh3_published_vectors(void)
{
    static const struct {
        unsigned len;
        int seeded;
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
    static unsigned char buf[2367];
    const uint64_t prime32 = 2654435761u, prime64 = 11400714785074694797ULL;
    uint64_t g = prime32;
    size_t i;
    for (i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(g >> 56);
        g *= prime64;
    }
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint64_t h = dpo_hash64(buf, v[i].len, v[i].seeded ? prime64 : 0);
        CHECK(h == v[i].want, "XXH3-64 len %u seed %s: %016llx, published %016llx", v[i].len,
              v[i].seeded ? "PRIME64" : "0", (unsigned long long)h, (unsigned long long)v[i].want);
    }
    CHECK(dpo_hash64_selftest() == DPO_OK, "the library's own check of the linked xxHash");
}

int main(void)
{
    RUN(test_logprob_alias);
    RUN(test_step_in_place_rule);
    RUN(test_bad_coefficients);
    RUN(test_empty_inputs);
    RUN(test_xxh3_published_vectors);
    return chk_summary();
}
