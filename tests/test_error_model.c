/* The error model of docs/errors.md, walked over the core API (diffpo.h):
 * every function is called with each kind of bad argument its table row
 * names (NULL, size, range, non-finite, sigma zero, workspace, alias, a
 * failing model) and must return that status and leave every output
 * exactly as it was (sentinel bytes compared before and after). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"

#define SENT 0x5a

static dpo_schedule sched, keep_sched;

/* out[0..n) still holds the sentinel byte */
static int untouched(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != SENT)
            return 0;
    return 1;
}

#define EXPECT(call, want, out, bytes)                                                                     \
    do {                                                                                                   \
        dpo_status got_;                                                                                   \
        memset((out), SENT, (bytes));                                                                      \
        got_ = (call);                                                                                     \
        CHECK(got_ == (want), "%s: got %d (%s), want %d", #call, (int)got_, dpo_status_str(got_), (int)(want)); \
        CHECK(untouched((out), (bytes)), "%s: output written on error", #call);                           \
    } while (0)

static void test_normals(void)
{
    float f[8];
    double d[8];
    dpo_noise_coord c;
    memset(&c, 0, sizeof c);
    EXPECT(dpo_normal_f32(0, c, 0, 4), DPO_ERR_NULL, f, sizeof f);
    EXPECT(dpo_normal_f32(f, c, 0, 0), DPO_ERR_SIZE, f, sizeof f);
    EXPECT(dpo_normal_f64(d, c, (uint64_t)1 << 34, 1), DPO_ERR_SIZE, d, sizeof d);
    c.stream = 70000;
    EXPECT(dpo_normal_f64(d, c, 0, 4), DPO_ERR_RANGE, d, sizeof d);
    c.stream = 0;
    c.candidate = 65536;
    EXPECT(dpo_normal_f32(f, c, 0, 4), DPO_ERR_RANGE, f, sizeof f);
}

static void test_schedule(void)
{
    static double tab[4] = {0.9, 0.8, 0.7, 0.6}, bad[4] = {0.9, NAN, 0.7, 0.6}, big[4] = {0.9, 1.5, 0.7, 0.6};
    int32_t ts[8];
    EXPECT(dpo_schedule_init(0, DPO_BETA_LINEAR, 0.001, 0.02, 100, 0), DPO_ERR_NULL, ts, sizeof ts);
    EXPECT(dpo_schedule_init(&sched, DPO_BETA_LINEAR, 0.001, 0.02, 1, 0), DPO_ERR_SIZE, &sched, sizeof sched);
    EXPECT(dpo_schedule_init(&sched, DPO_BETA_LINEAR, 0.001, 0.02, DPO_MAX_TRAIN_STEPS + 1, 0), DPO_ERR_SIZE,
           &sched, sizeof sched);
    EXPECT(dpo_schedule_init(&sched, DPO_BETA_LINEAR, 0.02, 0.001, 100, 0), DPO_ERR_RANGE, &sched, sizeof sched);
    EXPECT(dpo_schedule_init(&sched, (dpo_beta_schedule)9, 0.001, 0.02, 100, 0), DPO_ERR_RANGE, &sched,
           sizeof sched);
    EXPECT(dpo_schedule_init(&sched, DPO_BETA_LINEAR, NAN, 0.02, 100, 0), DPO_ERR_NONFINITE, &sched, sizeof sched);
    EXPECT(dpo_schedule_from_table(&sched, 0, 0, 4, 0), DPO_ERR_NULL, &sched, sizeof sched);
    EXPECT(dpo_schedule_from_table(&sched, 0, tab, 1, 0), DPO_ERR_SIZE, &sched, sizeof sched);
    EXPECT(dpo_schedule_from_table(&sched, 0, bad, 4, 0), DPO_ERR_NONFINITE, &sched, sizeof sched);
    EXPECT(dpo_schedule_from_table(&sched, 0, big, 4, 0), DPO_ERR_RANGE, &sched, sizeof sched);
    EXPECT(dpo_timesteps(0, 10, 1000, DPO_SPACING_LEADING, 0), DPO_ERR_NULL, ts, sizeof ts);
    EXPECT(dpo_timesteps(ts, 0, 1000, DPO_SPACING_LEADING, 0), DPO_ERR_SIZE, ts, sizeof ts);
    EXPECT(dpo_timesteps(ts, 8, 4, DPO_SPACING_LEADING, 0), DPO_ERR_SIZE, ts, sizeof ts);
    EXPECT(dpo_timesteps(ts, 4, 1000, (dpo_spacing)7, 0), DPO_ERR_RANGE, ts, sizeof ts);
    EXPECT(dpo_timesteps(ts, 4, 1000, DPO_SPACING_LEADING, -1), DPO_ERR_RANGE, ts, sizeof ts);
    CHECK(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) == DPO_OK, "valid schedule");
    keep_sched = sched;
}

static void test_step(void)
{
    dpo_step_opts o = dpo_step_opts_default(), b;
    dpo_step_coef_f32 c32, k32;
    dpo_step_coef_f64 c64;
    float x[8], e[8], z[8], out[16], nanx[8];
    double xd[8], ed[8], outd[8], lp[4];
    dpo_noise_coord nc;
    int i;
    memset(&nc, 0, sizeof nc);
    for (i = 0; i < 8; i++) {
        x[i] = (float)i / 8.0f, e[i] = 0.25f, z[i] = -0.5f, nanx[i] = x[i];
        xd[i] = x[i], ed[i] = e[i];
    }
    nanx[3] = NAN;
    EXPECT(dpo_step_coef_f32_init(0, &sched, 500, 50, &o), DPO_ERR_NULL, out, sizeof out);
    EXPECT(dpo_step_coef_f32_init(&c32, 0, 500, 50, &o), DPO_ERR_NULL, &c32, sizeof c32);
    EXPECT(dpo_step_coef_f32_init(&c32, &sched, 1000, 50, &o), DPO_ERR_RANGE, &c32, sizeof c32);
    EXPECT(dpo_step_coef_f32_init(&c32, &sched, 500, 0, &o), DPO_ERR_RANGE, &c32, sizeof c32);
    b = o;
    b.eta = -1;
    EXPECT(dpo_step_coef_f64_init(&c64, &sched, 500, 50, &b), DPO_ERR_RANGE, &c64, sizeof c64);
    b = o;
    b.kind = (dpo_step_kind)5;
    EXPECT(dpo_step_coef_f64_init(&c64, &sched, 500, 50, &b), DPO_ERR_RANGE, &c64, sizeof c64);
    CHECK(dpo_step_coef_f32_init(&c32, &sched, 500, 50, &o) == DPO_OK, "coef f32");
    CHECK(dpo_step_coef_f64_init(&c64, &sched, 500, 50, &o) == DPO_OK, "coef f64");

    EXPECT(dpo_step_f32(out, 0, 0, 0, e, z, 8, &c32), DPO_ERR_NULL, out, sizeof out);
    EXPECT(dpo_step_f32(out, 0, 0, x, e, 0, 8, &c32), DPO_ERR_NULL, out, sizeof out); /* sigma > 0, no noise */
    EXPECT(dpo_step_f32(out, 0, 0, x, e, z, 0, &c32), DPO_ERR_SIZE, out, sizeof out);
    EXPECT(dpo_step_f32(out, 0, 0, nanx, e, z, 8, &c32), DPO_ERR_NONFINITE, out, sizeof out);
    EXPECT(dpo_step_f32(out, 0, out + 4, x, e, z, 8, &c32), DPO_ERR_ALIAS, out, sizeof out);
    k32 = c32;
    k32.kind = 3;
    EXPECT(dpo_step_f32(out, 0, 0, x, e, z, 8, &k32), DPO_ERR_RANGE, out, sizeof out);
    EXPECT(dpo_step_philox_f32(out, 0, 0, x, e, nc, 0, &c32), DPO_ERR_SIZE, out, sizeof out);
    nc.stream = 1u << 20;
    EXPECT(dpo_step_philox_f32(out, 0, 0, x, e, nc, 8, &c32), DPO_ERR_RANGE, out, sizeof out);
    nc.stream = 0;
    EXPECT(dpo_step_f64(outd, 0, 0, xd, ed, 0, 8, &c64), DPO_ERR_NULL, outd, sizeof outd);

    EXPECT(dpo_step_logprob_f32(0, x, e, 2, 4, &c32, DPO_LOGPROB_SUM), DPO_ERR_NULL, lp, sizeof lp);
    EXPECT(dpo_step_logprob_f32(lp, x, e, 0, 4, &c32, DPO_LOGPROB_SUM), DPO_ERR_SIZE, lp, sizeof lp);
    EXPECT(dpo_step_logprob_f32(lp, x, e, 2, 4, &c32, (dpo_logprob_mode)9), DPO_ERR_RANGE, lp, sizeof lp);
    EXPECT(dpo_step_logprob_f32(lp, nanx, e, 2, 4, &c32, DPO_LOGPROB_SUM), DPO_ERR_NONFINITE, lp, sizeof lp);
    k32 = c32;
    k32.sigma = 0;
    EXPECT(dpo_step_logprob_f32(lp, x, e, 2, 4, &k32, DPO_LOGPROB_SUM), DPO_ERR_SIGMA_ZERO, lp, sizeof lp);
    k32.sigma = NAN;
    EXPECT(dpo_step_logprob_f32(lp, x, e, 2, 4, &k32, DPO_LOGPROB_SUM), DPO_ERR_RANGE, lp, sizeof lp);
    EXPECT(dpo_step_logprob_f64(outd, outd, ed, 2, 4, &c64, DPO_LOGPROB_SUM), DPO_ERR_ALIAS, outd, sizeof outd);
    CHECK(!memcmp(&sched, &keep_sched, sizeof sched), "a step changed the schedule");
}

static int failing_model(void *user, float *out, const float *x, size_t n, int t, const int32_t *cond)
{
    (void)user, (void)out, (void)x, (void)n, (void)t, (void)cond;
    return -1;
}

static void test_gmm_and_rollout(void)
{
    static double means[4 * 6], ws[4];
    dpo_gmm g;
    dpo_rollout_cfg cfg;
    dpo_eps_model bad_model, m;
    int32_t ts[4];
    float traj[5 * 2 * 6], out[12], x[12];
    double lp[4 * 2], mom[6], sd[2] = {0.1, -1.0}, w[2] = {1, 1};
    size_t wsz = dpo_rollout_workspace_size(2, 6);
    void *work = malloc(wsz ? wsz : 1);
    int i;
    (void)ws;
    for (i = 0; i < 12; i++)
        x[i] = 0.1f * (float)i;
    EXPECT(dpo_gmm_init_default(0, means, 6, 1, &sched), DPO_ERR_NULL, out, sizeof out);
    EXPECT(dpo_gmm_init_default(&g, means, 0, 1, &sched), DPO_ERR_SIZE, &g, sizeof g);
    EXPECT(dpo_gmm_init(&g, 2, w, sd, means, 6, &sched), DPO_ERR_RANGE, &g, sizeof g);
    CHECK(dpo_gmm_init_default(&g, means, 6, 1, &sched) == DPO_OK, "gmm");
    EXPECT(dpo_gmm_eps(&g, out, 0, 2, 500), DPO_ERR_NULL, out, sizeof out);
    EXPECT(dpo_gmm_eps(&g, out, x, 0, 500), DPO_ERR_SIZE, out, sizeof out);
    EXPECT(dpo_gmm_eps(&g, out, x, 2, 1000), DPO_ERR_RANGE, out, sizeof out);
    EXPECT(dpo_gmm_eps(&g, (float *)x + 1, x, 2, 500), DPO_ERR_ALIAS, out, sizeof out);
    EXPECT(dpo_gmm_moments(0, mom, 0), DPO_ERR_NULL, mom, sizeof mom);

    CHECK(dpo_timesteps(ts, 4, 1000, DPO_SPACING_LEADING, 1) == DPO_OK, "timesteps");
    memset(&cfg, 0, sizeof cfg);
    cfg.seed = 3;
    cfg.batch = 2;
    cfg.dim = 6;
    cfg.num_steps = 4;
    cfg.timesteps = ts;
    cfg.sched = &sched;
    cfg.opts = dpo_step_opts_default();
    cfg.lp_mode = DPO_LOGPROB_SUM;
    m = dpo_gmm_model(&g);
    EXPECT(dpo_rollout_f32(traj, lp, 0, &m, 0, 2, work, wsz), DPO_ERR_NULL, traj, sizeof traj);
    EXPECT(dpo_rollout_f32(traj, lp, &cfg, &m, 0, 3, work, wsz), DPO_ERR_RANGE, traj, sizeof traj);
    EXPECT(dpo_rollout_f32(traj, lp, &cfg, &m, 0, 2, work, wsz ? wsz - 1 : 0), DPO_ERR_WORKSPACE, traj,
           sizeof traj);
    EXPECT(dpo_rollout_f32(traj, (double *)(void *)traj, &cfg, &m, 0, 2, work, wsz), DPO_ERR_ALIAS, traj,
           sizeof traj);
    cfg.opts.eta = 0;
    EXPECT(dpo_rollout_f32(traj, lp, &cfg, &m, 0, 2, work, wsz), DPO_ERR_SIGMA_ZERO, traj, sizeof traj);
    cfg.opts.eta = 1;
    /* a failing model is reported as DPO_ERR_MODEL; rows already computed
     * (x_T) may have been written: docs/errors.md says so */
    bad_model = m;
    bad_model.forward = failing_model;
    memset(lp, SENT, sizeof lp);
    CHECK(dpo_rollout_f32(traj, lp, &cfg, &bad_model, 0, 2, work, wsz) == DPO_ERR_MODEL, "failing model");
    CHECK(untouched(lp, sizeof lp), "failing model: log-probabilities written");
    free(work);
}

static void test_selftest_and_strings(void)
{
    int s;
    CHECK(dpo_hash64_selftest() == DPO_OK, "xxHash selftest");
    for (s = 0; s >= -12; s--)
        CHECK(strcmp(dpo_status_str((dpo_status)s), "unknown status") != 0, "status %d has no text", s);
    CHECK(!strcmp(dpo_status_str((dpo_status)-99), "unknown status"), "unknown status text");
}

int main(void)
{
    RUN(test_normals);
    RUN(test_schedule);
    RUN(test_step);
    RUN(test_gmm_and_rollout);
    RUN(test_selftest_and_strings);
    return chk_summary();
}
