/* The library allocates nothing in the noise, step, log-prob, rollout,
 * model and fingerprint paths: counted by interposing malloc/calloc/
 * realloc in this test executable (glibc's __libc_* entry points do the
 * work).  Skipped under sanitizers and valgrind, which own malloc. */
#include <stdlib.h>
#include "check.h"
#include "diffpo.h"

#include "alloc_count.h"

static dpo_schedule sched;
static double means[4 * 300];
static float traj[(10 + 1) * 6 * 300];
static double lp[10 * 6];
static float work[6 * 300];
static float a[1000], b[1000], c[1000], d[1000];
static double out[8];

static void test_hot_paths_do_not_allocate(void)
{
    dpo_gmm g;
    dpo_eps_model m;
    dpo_rollout_cfg cfg;
    dpo_step_coef_f32 coef;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_noise_coord nc = {1, DPO_STREAM_STEP, 0, 0, 0};
    int32_t ts[10];
    long before;
    if (!COUNTING || getenv("DPO_UNDER_VALGRIND")) {
        printf("     (allocation counting unavailable in this build: skipped)\n");
        return;
    }
    before = n_alloc;
    CHECK(dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) == DPO_OK, "sched");
    CHECK(dpo_timesteps(ts, 10, 1000, DPO_SPACING_LEADING, 1) == DPO_OK, "ts");
    CHECK(dpo_gmm_init_default(&g, means, 300, 3, &sched) == DPO_OK, "gmm");
    m = dpo_gmm_model(&g);
    CHECK(dpo_normal_f32(a, nc, 0, 1000) == DPO_OK, "normals");
    CHECK(dpo_step_coef_f32_init(&coef, &sched, 501, 10, &o) == DPO_OK, "coef");
    CHECK(dpo_step_f32(c, d, b, a, a, a, 1000, &coef) == DPO_OK, "step");
    CHECK(dpo_step_logprob_f32(out, c, b, 4, 250, &coef, DPO_LOGPROB_MEAN) == DPO_OK, "logprob");
    memset(&cfg, 0, sizeof cfg);
    cfg.seed = 9;
    cfg.batch = 6;
    cfg.dim = 300;
    cfg.num_steps = 10;
    cfg.timesteps = ts;
    cfg.sched = &sched;
    cfg.opts = o;
    CHECK(dpo_rollout_f32(traj, lp, &cfg, &m, 0, 6, work, sizeof work) == DPO_OK, "rollout");
    dpo_rollout_fingerprint(0, traj, lp, 10, 6, 300);
    CHECK(n_alloc == before, "%ld allocations in the hot paths", n_alloc - before);
    /* the counter itself works: */
    before = n_alloc;
    {
        void *(*volatile alloc)(size_t) = malloc;
        free(alloc(16));
    }
    CHECK(n_alloc == before + 1, "the allocation counter counts");
}

int main(void)
{
    RUN(test_hot_paths_do_not_allocate);
    return chk_summary();
}
