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
#include "diffpo_align.h"
#include "core/dpo_philox.h"
#include "core/dpo_ddim.h"
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
    /* n = 0 is DPO_ERR_SIZE (docs/errors.md: one rule for empty inputs), nothing written */
    CHECK(dpo_normal_f32(buf32 + off, c, e0, n) == (n ? DPO_OK : DPO_ERR_SIZE), "f32 status");
    CHECK(dpo_normal_f64(buf64 + off, c, e0, n) == (n ? DPO_OK : DPO_ERR_SIZE), "f64 status");
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


/* ---- fused step with log-probability against the two passes ---- */

#define FB 5
#define FD 2100
static float fx[FB * FD + PAD], fo[FB * FD + PAD], fz[FB * FD + PAD];
static float rxp[FB * FD], rmu[FB * FD], rx0[FB * FD], gxp[FB * FD + PAD], gmu[FB * FD + PAD];
static float gx0[FB * FD + PAD];

static void fill(float *v, size_t n, double scale)
{
    size_t i;
    for (i = 0; i < n; i++)
        v[i] = (float)(scale * ((double)(next() >> 11) / 9007199254740992.0 - 0.5));
}

/* The reference: dpo_step_f32 (x_prev, x0 and mu) then dpo_step_logprob_f32
 * at the scalar level, with the noise given or generated row by row. */
static dpo_status two_pass(double *lp, const float *x, const float *o, const float *z,
                           const dpo_noise_coord *nc, size_t batch, size_t dim,
                           const dpo_step_coef_f32 *c, dpo_logprob_mode mode)
{
    static float zz[FB * FD];
    dpo_status st;
    size_t b;
    int keep = level_now;
    force(DPO_SIMD_SCALAR);
    if (nc) {
        for (b = 0; b < batch; b++) {
            dpo_noise_coord r = *nc;
            r.sample = nc->sample + (uint32_t)b;
            dpo_normal_f32(zz + b * dim, r, 0, dim);
        }
        z = zz;
    }
    st = dpo_step_f32(rxp, rx0, rmu, x, o, z, batch * dim, c);
    if (!st && lp)
        st = dpo_step_logprob_f32(lp, rxp, rmu, batch, dim, c, mode);
    force(keep);
    return st;
}

static void test_fused(void)
{
    static dpo_schedule sch;
    const size_t dims[] = {1, 3, 7, 8, 9, 31, 33, 64, 65, 255, 256, 257, 1023, 1024, 1025, 2049, FD};
    int level, r;
    dpo_schedule_init(&sch, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (r = 0; r < 80; r++) {
            dpo_step_opts o = dpo_step_opts_default();
            dpo_step_coef_f32 c;
            dpo_noise_coord nc;
            double lp_ref[FB], lp[FB];
            size_t dim = dims[(size_t)r % (sizeof dims / sizeof dims[0])];
            size_t batch = 1 + (size_t)(next() % FB), n = batch * dim, i, bad = 0;
            size_t off = (size_t)(next() % 8), offz = (size_t)(next() % 8);
            size_t offx = (size_t)(next() % 8);
            int gen = (int)(next() % 3) == 0, withmu = (int)(next() % 4) != 0;
            int withx0 = (int)(next() % 3) != 0;
            dpo_logprob_mode mode = (next() & 1) ? DPO_LOGPROB_MEAN : DPO_LOGPROB_SUM;
            dpo_status s1, s2;
            o.kind = (next() % 3) == 0 ? DPO_STEP_DDPM : DPO_STEP_DDIM;
            o.pred = (dpo_pred_type)(next() % 3 == 0 ? DPO_PRED_V
                                                     : (next() % 4 == 0 ? DPO_PRED_SAMPLE
                                                                        : DPO_PRED_EPSILON));
            o.eta = (next() & 1) ? 1.0 : 0.5;
            o.clip = (int)(next() % 5) == 0;
            /* eps re-derived from x0 with or without the clip (diffusers' use_clipped_model_output) */
            o.use_clipped_output = o.clip ? (int)(next() & 1) : (int)(next() % 4) == 0;
            dpo_step_coef_f32_init(&c, &sch, 21 + (int)(next() % 900), 20, &o);
            fill(fx + off, n, 4.0);
            fill(fo + off, n, 3.0);
            fill(fz + offz, n, 5.0);
            nc.seed = next();
            nc.stream = DPO_STREAM_STEP;
            nc.sample = (uint32_t)(next() % 100000);
            nc.step = (uint32_t)(next() % 50);
            nc.candidate = (uint32_t)(next() % 3);
            s1 = two_pass(lp_ref, fx + off, fo + off, gen ? NULL : fz + offz, gen ? &nc : NULL,
                          batch, dim, &c, mode);
            if (withx0 || (next() & 1))
                s2 = dpo_step_fused_x0_f32(gxp + off, withx0 ? gx0 + offx : NULL, withmu ? gmu + offz : NULL,
                                           lp, fx + off, fo + off, gen ? NULL : fz + offz, gen ? &nc : NULL,
                                           batch, dim, &c, mode);
            else
                s2 = dpo_step_fused_f32(gxp + off, withmu ? gmu + offz : NULL, lp, fx + off, fo + off,
                                        gen ? NULL : fz + offz, gen ? &nc : NULL, batch, dim, &c, mode);
            CHECK(s1 == DPO_OK && s2 == DPO_OK, "status %d %d", (int)s1, (int)s2);
            for (i = 0; i < n; i++)
                if (memcmp(&gxp[off + i], &rxp[i], 4) || (withmu && memcmp(&gmu[offz + i], &rmu[i], 4)) ||
                    (withx0 && memcmp(&gx0[offx + i], &rx0[i], 4)))
                    bad++;
            for (i = 0; i < batch; i++)
                if (memcmp(&lp[i], &lp_ref[i], sizeof lp[i]))
                    bad++;
            CHECK(bad == 0,
                  "level %s kind %d pred %d clip %d/%d batch %zu dim %zu gen %d mu %d x0 %d: %zu differ",
                  dpo_simd_level_name(level), (int)o.kind, (int)o.pred, o.clip,
                  o.use_clipped_output, batch, dim, gen, withmu, withx0, bad);
        }
    }
    unsetenv("DPO_SIMD");
}

static void test_fused_errors(void)
{
    static dpo_schedule sch;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c, c0;
    dpo_noise_coord nc = {7, DPO_STREAM_STEP, 0, 3, 0};
    double lp[2] = {-5.0, -5.0};
    size_t i;
    int untouched = 1;
    dpo_schedule_init(&sch, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    dpo_step_coef_f32_init(&c, &sch, 501, 20, &o);
    o.eta = 0.0;
    dpo_step_coef_f32_init(&c0, &sch, 501, 20, &o);
    fill(fx, 200, 2.0);
    fill(fo, 200, 2.0);
    fill(fz, 200, 2.0);
    for (i = 0; i < 200; i++)
        gxp[i] = gmu[i] = 9.0f;
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, &nc, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_RANGE, "noise and coordinates both given");
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, NULL, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_NULL, "no noise with sigma > 0");
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, NULL, NULL, 2, 100, &c0, DPO_LOGPROB_MEAN) ==
              DPO_ERR_SIGMA_ZERO, "log-probability with sigma = 0");
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, (dpo_logprob_mode)7) ==
              DPO_ERR_RANGE, "bad mode");
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 0, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_SIZE, "empty batch");
    CHECK(dpo_step_fused_f32(fx + 1, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_ALIAS, "x_prev overlapping x");
    {
        /* a caller-filled coefficient struct with a NaN scalar or an unknown kind:
         * the rule dpo_step_f32 applies (DPO_RULE_STEP_COEF_OK), outputs untouched */
        dpo_step_coef_f32 bad = c;
        bad.dir_coef = 0.0f / 0.0f;
        CHECK(dpo_step_fused_x0_f32(gxp, NULL, gmu, NULL, fx, fo, fz, NULL, 2, 100, &bad, DPO_LOGPROB_MEAN) ==
                  DPO_ERR_RANGE, "NaN dir_coef refused without a log-probability");
        CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 2, 100, &bad, DPO_LOGPROB_MEAN) ==
                  DPO_ERR_RANGE, "NaN dir_coef refused with a log-probability");
        bad = c;
        bad.kind = 9;
        CHECK(dpo_step_fused_x0_f32(gxp, NULL, gmu, NULL, fx, fo, fz, NULL, 2, 100, &bad, DPO_LOGPROB_MEAN) ==
                  DPO_ERR_RANGE, "unknown kind refused");
    }
    nc.sample = 0xffffffffu;
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, NULL, &nc, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_RANGE, "sample index past 2^32");
    fo[150] = 1.0f / 0.0f;
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_NONFINITE, "non-finite input");
    for (i = 0; i < 200; i++)
        if (gxp[i] != 9.0f || gmu[i] != 9.0f)
            untouched = 0;
    CHECK(untouched && lp[0] == -5.0 && lp[1] == -5.0, "outputs untouched on bad input");
    fo[150] = 0.5f;
    {
        /* a non-finite value anywhere in any input, at every level */
        const size_t pos[] = {0, 7, 8, 150, 199};
        const float bad[] = {1.0f / 0.0f, -1.0f / 0.0f, 0.0f / 0.0f};
        float *in[3];
        int level, a, v, q, missed = 0;
        in[0] = fx;
        in[1] = fo;
        in[2] = fz;
        for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
            if (!dpo_simd_supported(level))
                continue;
            force(level);
            for (a = 0; a < 3; a++)
                for (q = 0; q < 5; q++)
                    for (v = 0; v < 3; v++) {
                        float keep = in[a][pos[q]];
                        in[a][pos[q]] = bad[v];
                        if (dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 2, 100, &c,
                                               DPO_LOGPROB_MEAN) != DPO_ERR_NONFINITE)
                            missed++;
                        in[a][pos[q]] = keep;
                    }
        }
        unsetenv("DPO_SIMD");
        CHECK(missed == 0, "%d non-finite inputs not reported", missed);
    }
    /* overflow of mu: every log-probability NaN */
    fo[150] = 3e38f;
    fx[150] = -3e38f;
    CHECK(dpo_step_fused_f32(gxp, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_NONFINITE, "overflowing step");
    CHECK(lp[0] != lp[0] && lp[1] != lp[1], "NaN log-probabilities after an overflow");
}

/* The dispatch entry dpo__simd_step_f32 with x0 at every level against the
 * scalar element (dpo_step_elem_f32, dpo_lp_term), 0 to 33 elements and
 * 2 vector batches plus tails, every output misaligned against every vector
 * width; nothing is written outside [0, n) (n = 0 writes nothing). */
static void test_step_x0_shapes(void)
{
    static dpo_schedule sch;
    static const size_t ns[] = {0, 1, 3, 7, 8, 9, 31, 33, 16, 17, 24, 25};
    static float xp[64 + PAD], x0[64 + PAD], mu[64 + PAD];
    static double term[64 + PAD];
    int level, pred, variant;
    size_t k, off, i, bad = 0, guard = 0, cases = 0;
    dpo_schedule_init(&sch, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        for (pred = 0; pred < 3; pred++)
            for (variant = 0; variant < 4; variant++) {
                dpo_step_opts o = dpo_step_opts_default();
                dpo_step_coef_f32 c;
                o.pred = pred == 0 ? DPO_PRED_EPSILON : pred == 1 ? DPO_PRED_V : DPO_PRED_SAMPLE;
                o.kind = variant == 3 ? DPO_STEP_DDPM : DPO_STEP_DDIM;
                o.clip = variant == 1;
                o.use_clipped_output = variant == 2;
                dpo_step_coef_f32_init(&c, &sch, 21 + (int)(next() % 900), 20, &o);
                for (k = 0; k < sizeof ns / sizeof ns[0]; k++)
                    for (off = 0; off < 8; off++) {
                        size_t n = ns[k];
                        fill(fx, n + 8, 4.0);
                        fill(fo, n + 8, 3.0);
                        fill(fz, n + 8, 5.0);
                        for (i = 0; i < 64 + PAD; i++) {
                            xp[i] = x0[i] = mu[i] = -7.0f;
                            term[i] = -7.0;
                        }
                        dpo__simd_step_f32(xp + off, x0 + (7 - off), mu + off, term, fx + off, fo + 1,
                                           (off & 1) ? NULL : fz + 3, n, &c, level);
                        for (i = 0; i < n; i++) {
                            float a, m, p = dpo_step_elem_f32(&a, &m, fx[off + i], fo[1 + i],
                                                              (off & 1) ? 0.0f : fz[3 + i], &c);
                            double t = dpo_lp_term((double)p, (double)m);
                            if (memcmp(&xp[off + i], &p, 4) || memcmp(&x0[7 - off + i], &a, 4) ||
                                memcmp(&mu[off + i], &m, 4) || memcmp(&term[i], &t, 8))
                                bad++;
                        }
                        for (i = 0; i < 64 + PAD; i++)
                            if (((i < off || i >= off + n) && (xp[i] != -7.0f || mu[i] != -7.0f)) ||
                                ((i < 7 - off || i >= 7 - off + n) && x0[i] != -7.0f) ||
                                (i >= n && term[i] != -7.0))
                                guard++;
                        cases++;
                    }
            }
    }
    CHECK(bad == 0 && guard == 0, "%zu cases: %zu elements differ, %zu guard elements written", cases, bad,
          guard);
}

static void test_fused_x0_errors(void)
{
    static dpo_schedule sch;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c;
    double lp[2] = {-5.0, -5.0};
    size_t i;
    int untouched = 1;
    dpo_schedule_init(&sch, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    dpo_step_coef_f32_init(&c, &sch, 501, 20, &o);
    fill(fx, 200, 2.0);
    fill(fo, 200, 2.0);
    fill(fz, 200, 2.0);
    for (i = 0; i < 200; i++)
        gxp[i] = gmu[i] = gx0[i] = 9.0f;
    CHECK(dpo_step_fused_x0_f32(gxp, gx0, gmu, lp, fx, fo, fz, NULL, 2, 0, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_SIZE, "empty rows");
    CHECK(dpo_step_fused_x0_f32(gxp, fx + 3, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_ALIAS, "x0 overlapping x");
    CHECK(dpo_step_fused_x0_f32(gxp, gxp + 50, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_ALIAS, "x0 overlapping x_prev");
    CHECK(dpo_step_fused_x0_f32(gxp, gx0, gmu, (double *)(void *)(gx0 + 4), fx, fo, fz, NULL, 2, 100, &c,
                                DPO_LOGPROB_MEAN) == DPO_ERR_ALIAS, "logprob overlapping x0");
    fz[120] = 0.0f / 0.0f;
    CHECK(dpo_step_fused_x0_f32(gxp, gx0, gmu, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) ==
              DPO_ERR_NONFINITE, "non-finite noise");
    fz[120] = 0.5f;
    for (i = 0; i < 200; i++)
        if (gxp[i] != 9.0f || gmu[i] != 9.0f || gx0[i] != 9.0f)
            untouched = 0;
    CHECK(untouched && lp[0] == -5.0 && lp[1] == -5.0, "outputs untouched on bad input");
    /* x0 in place of x (the same pointer) is allowed: the same bits as out of place */
    memcpy(gmu, fx, 200 * sizeof(float));
    CHECK(dpo_step_fused_x0_f32(gxp, gx0, NULL, lp, fx, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) == DPO_OK,
          "out of place");
    CHECK(dpo_step_fused_x0_f32(rxp, gmu, NULL, lp, gmu, fo, fz, NULL, 2, 100, &c, DPO_LOGPROB_MEAN) == DPO_OK,
          "x0 in place of x");
    CHECK(memcmp(gmu, gx0, 200 * sizeof(float)) == 0 && memcmp(rxp, gxp, 200 * sizeof(float)) == 0,
          "in place = out of place");
}

/* ---- the fixed-order matrix product at every level ---- */

/* The contract typed out: one ascending double chain per output. */
static void mm_ref(float *C, const float *A, const float *Bm, size_t m, size_t k, size_t n, int ta,
                   int tb, int acc)
{
    size_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double sum = acc ? (double)C[i * n + j] : 0.0;
            for (p = 0; p < k; p++)
                sum += (double)(ta ? A[p * m + i] : A[i * k + p]) *
                       (double)(tb ? Bm[j * k + p] : Bm[p * n + j]);
            C[i * n + j] = (float)sum;
        }
}

static void test_matmul(void)
{
    static float A[300 * 300], Bm[300 * 300], C0[300 * 300], C1[300 * 300], C2[300 * 300];
    const size_t sz[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 88, 128, 130, 257, 300};
    const size_t nsz = sizeof sz / sizeof sz[0];
    int level, r;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (r = 0; r < 120; r++) {
            size_t m = sz[next() % nsz], k = sz[next() % nsz], n = sz[next() % nsz], i, bad = 0;
            int ta = (int)(next() & 1), tb = (int)(next() & 1), acc = (int)(next() & 1);
            if (r < 8) { /* the built-in network's shapes */
                m = r & 1 ? 128 : 8;
                k = r & 1 ? 8 : (r & 2 ? 88 : 128);
                n = r & 4 ? 88 : 128;
            }
            /* wide-range values so that rounding differences show */
            fill(A, m * k, 8.0);
            fill(Bm, k * n, 8.0);
            for (i = 0; i < m * k; i++)
                A[i] = A[i] * (float)(1u << (next() % 20));
            fill(C0, m * n, 100.0);
            memcpy(C1, C0, m * n * sizeof(float));
            memcpy(C2, C0, m * n * sizeof(float));
            mm_ref(C0, A, Bm, m, k, n, ta, tb, acc);
            dpo_matmul_f32(C1, A, Bm, m, k, n, ta, tb, acc);
            for (i = 0; i < m * n; i++)
                if (memcmp(&C0[i], &C1[i], sizeof C0[i]))
                    bad++;
            CHECK(bad == 0, "level %s m %zu k %zu n %zu ta %d tb %d acc %d: %zu of %zu differ",
                  dpo_simd_level_name(level), m, k, n, ta, tb, acc, bad, m * n);
        }
    }
    unsetenv("DPO_SIMD");
}

/* dpo_step_philox_f32/_f64 (noise drawn inside, through the vector normals)
 * against dpo_normal4 + dpo_step_elem_* typed out here. */
static void test_step_philox(void)
{
    static dpo_schedule sch;
    static double dx[4200], dof[4200], dxp[4200], dmu[4200];
    const size_t ns[] = {1, 3, 7, 8, 9, 31, 33, 511, 512, 513, 1025, 4099};
    int level, r;
    dpo_schedule_init(&sch, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        force(level);
        for (r = 0; r < 24; r++) {
            dpo_step_opts o = dpo_step_opts_default();
            dpo_step_coef_f32 c;
            dpo_step_coef_f64 c64;
            dpo_noise_coord nc;
            size_t n = ns[(size_t)r % (sizeof ns / sizeof ns[0])], i, bad = 0;
            nc.seed = next();
            nc.stream = DPO_STREAM_STEP;
            nc.sample = (uint32_t)next();
            nc.step = (uint32_t)(next() % 50);
            nc.candidate = (uint32_t)(next() % 3);
            o.eta = 1.0;
            dpo_step_coef_f32_init(&c, &sch, 301 + (int)(next() % 500), 20, &o);
            dpo_step_coef_f64_init(&c64, &sch, 301 + (int)(next() % 500), 20, &o);
            fill(fx, n, 4.0);
            fill(fo, n, 3.0);
            for (i = 0; i < n; i++) {
                dx[i] = (double)fx[i];
                dof[i] = (double)fo[i] * 0.75;
            }
            CHECK(dpo_step_philox_f32(gxp, NULL, gmu, fx, fo, nc, n, &c) == DPO_OK, "f32 status");
            CHECK(dpo_step_philox_f64(dxp, NULL, dmu, dx, dof, nc, n, &c64) == DPO_OK, "f64 status");
            for (i = 0; i < n; i++) {
                double z[4];
                float a, m, pp;
                double a64, m64, p64;
                dpo_normal4(z, nc.seed, nc.stream, nc.sample, nc.step, nc.candidate, (uint32_t)(i / 4));
                pp = dpo_step_elem_f32(&a, &m, fx[i], fo[i], (float)z[i % 4], &c);
                p64 = dpo_step_elem_f64(&a64, &m64, dx[i], dof[i], z[i % 4], &c64);
                if (memcmp(&pp, &gxp[i], 4) || memcmp(&m, &gmu[i], 4) || memcmp(&p64, &dxp[i], 8) ||
                    memcmp(&m64, &dmu[i], 8))
                    bad++;
            }
            CHECK(bad == 0, "level %s n %zu: %zu elements differ", dpo_simd_level_name(level), n, bad);
        }
    }
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
    RUN(test_fused);
    RUN(test_fused_errors);
    RUN(test_step_x0_shapes);
    RUN(test_fused_x0_errors);
    RUN(test_matmul);
    RUN(test_step_philox);
    unsetenv("DPO_SIMD");
    return chk_summary();
}
