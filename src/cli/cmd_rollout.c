/* diffpo rollout: a seeded DDIM rollout of the built-in Gaussian-mixture
 * model, split over threads; per-step hashes and the chained fingerprint. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

typedef struct rollout_args {
    uint64_t seed, model_seed;
    int steps, threads, splits, batch_i, dim_i;
    double eta;
    dpo_spacing spacing;
    dpo_logprob_mode lp_mode;
    int quiet;
    const char *out_path;
} rollout_args;

typedef struct rollout_job {
    const dpo_rollout_cfg *cfg;
    const dpo_eps_model *model;
    float *traj;
    double *logp;
    size_t s0, s1;
    void *work;
    size_t work_size;
    dpo_status st;
} rollout_job;

static void *rollout_thread(void *p)
{
    rollout_job *j = (rollout_job *)p;
    j->st = dpo_rollout_f32(j->traj, j->logp, j->cfg, j->model, j->s0, j->s1, j->work, j->work_size);
    return 0;
}

static int rollout_usage(void)
{
    printf("usage: diffpo rollout [--seed N] [--steps S] [--eta E] [--batch B] [--dim D] [--threads T]\n"
           "                      [--splits K] [--spacing leading|trailing|linspace] [--logprob sum|mean]\n"
           "                      [--model-seed M] [--out traj.npy] [--quiet]\n"
           "DDIM rollout of the built-in Gaussian-mixture model (exact eps) on the Stable Diffusion 1.5\n"
           "schedule.  Prints the hash of x_T, one line per step with its hash, and a last line\n"
           "'fingerprint <16 hex digits>'.  The batch is cut into K ranges (default: T) run by T threads;\n"
           "the fingerprint does not depend on T or K.  Defaults: seed 0, 20 steps, eta 1, batch 4,\n"
           "dim 16, 1 thread, leading spacing, sum log-probabilities, model seed 0.\n");
    return 0;
}

/* Parses the options shared by rollout and run. Returns 0, 1 (help), or an exit status > 1. */
static int rollout_parse(rollout_args *a, int argc, char **argv, const char *cmd)
{
    int i;
    a->seed = 0;
    a->model_seed = 0;
    a->steps = 20;
    a->eta = 1.0;
    a->batch_i = 4;
    a->dim_i = 16;
    a->threads = 1;
    a->splits = 0;
    a->spacing = DPO_SPACING_LEADING;
    a->lp_mode = DPO_LOGPROB_SUM;
    a->quiet = 0;
    a->out_path = 0;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            return 1;
        if (!strcmp(o, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        if (!v)
            return cli_fail(cmd, "option '%s' needs a value (or is unknown)", o);
        i++;
        if (!strcmp(o, "--seed")) {
            if (cli_parse_u64(v, &a->seed))
                return cli_fail(cmd, "--seed: not an unsigned 64-bit integer: '%s'", v);
        } else if (!strcmp(o, "--model-seed")) {
            if (cli_parse_u64(v, &a->model_seed))
                return cli_fail(cmd, "--model-seed: not an unsigned 64-bit integer: '%s'", v);
        } else if (!strcmp(o, "--steps")) {
            if (cli_parse_int(v, 1, 1000, &a->steps))
                return cli_fail(cmd, "--steps: need an integer in [1, 1000], got '%s'", v);
        } else if (!strcmp(o, "--eta")) {
            if (cli_parse_double(v, &a->eta) || a->eta < 0)
                return cli_fail(cmd, "--eta: need a finite number >= 0, got '%s'", v);
        } else if (!strcmp(o, "--batch")) {
            if (cli_parse_int(v, 1, 1 << 20, &a->batch_i))
                return cli_fail(cmd, "--batch: need an integer in [1, 1048576], got '%s'", v);
        } else if (!strcmp(o, "--dim")) {
            if (cli_parse_int(v, 1, 1 << 20, &a->dim_i))
                return cli_fail(cmd, "--dim: need an integer in [1, 1048576], got '%s'", v);
        } else if (!strcmp(o, "--threads")) {
            if (cli_parse_int(v, 1, 256, &a->threads))
                return cli_fail(cmd, "--threads: need an integer in [1, 256], got '%s'", v);
        } else if (!strcmp(o, "--splits")) {
            if (cli_parse_int(v, 1, 1 << 20, &a->splits))
                return cli_fail(cmd, "--splits: need an integer in [1, 1048576], got '%s'", v);
        } else if (!strcmp(o, "--spacing")) {
            if (!strcmp(v, "leading"))
                a->spacing = DPO_SPACING_LEADING;
            else if (!strcmp(v, "trailing"))
                a->spacing = DPO_SPACING_TRAILING;
            else if (!strcmp(v, "linspace"))
                a->spacing = DPO_SPACING_LINSPACE;
            else
                return cli_fail(cmd, "--spacing: need leading, trailing or linspace, got '%s'", v);
        } else if (!strcmp(o, "--logprob")) {
            if (!strcmp(v, "sum"))
                a->lp_mode = DPO_LOGPROB_SUM;
            else if (!strcmp(v, "mean"))
                a->lp_mode = DPO_LOGPROB_MEAN;
            else
                return cli_fail(cmd, "--logprob: need sum or mean, got '%s'", v);
        } else if (!strcmp(o, "--out")) {
            a->out_path = v;
        } else {
            return cli_fail(cmd, "unknown option '%s'", o);
        }
    }
    if (a->splits == 0)
        a->splits = a->threads;
    if (a->splits > a->batch_i)
        return cli_fail(cmd, "--splits (%d) exceeds --batch (%d)", a->splits, a->batch_i);
    if (a->threads > a->splits)
        return cli_fail(cmd, "--threads (%d) exceeds the number of ranges (%d)", a->threads, a->splits);
    return 0;
}

/* Each range's work area starts on a DPO_WORK_ALIGN boundary of the one
 * malloc'd block (malloc's own alignment is at least that): its slice is
 * rounded up. */
static size_t slice_size(size_t work_size)
{
    return (work_size + (DPO_WORK_ALIGN - 1)) / DPO_WORK_ALIGN * DPO_WORK_ALIGN;
}

/* Runs the rollout described by a; prints hashes; returns the exit status.
 * Longer than the ~120-line guide: the buffers, the range
 * split, the threads and the all-or-nothing output file are one sequence
 * sharing the same locals, marked by comments below. */
static int rollout_exec(const rollout_args *a, const char *cmd)
{
    static dpo_schedule sched;
    int32_t *ts = 0;
    double *means = 0, *logp = 0;
    float *traj = 0;
    unsigned char *work = 0;
    uint64_t *hashes = 0;
    rollout_job *jobs = 0;
    pthread_t *tids = 0;
    dpo_gmm gmm;
    dpo_eps_model model;
    dpo_rollout_cfg cfg;
    size_t B = (size_t)a->batch_i, D = (size_t)a->dim_i, wsz_total = 0;
    int rc = 0, k, r, want_lp = a->eta > 0;
    dpo_status st;
    char err[256];

    if (a->out_path && cli_out_check(a->out_path, err, sizeof err))
        return cli_fail(cmd, "--out %s", err);
    st = dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0);
    if (st)
        return cli_fail(cmd, "schedule: %s", dpo_status_str(st));
    ts = (int32_t *)malloc(sizeof(int32_t) * (size_t)a->steps);
    means = (double *)malloc(sizeof(double) * 4 * D);
    traj = (float *)malloc(sizeof(float) * B * D * (size_t)(a->steps + 1));
    logp = want_lp ? (double *)malloc(sizeof(double) * B * (size_t)a->steps) : 0;
    hashes = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(a->steps + 1));
    jobs = (rollout_job *)calloc((size_t)a->splits, sizeof *jobs);
    tids = (pthread_t *)calloc((size_t)a->threads, sizeof *tids);
    if (!ts || !means || !traj || (want_lp && !logp) || !hashes || !jobs || !tids) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    st = dpo_timesteps(ts, a->steps, 1000, a->spacing, 1);
    if (st) {
        rc = cli_fail(cmd, "timesteps: %s", dpo_status_str(st));
        goto done;
    }
    st = dpo_gmm_init_default(&gmm, means, D, a->model_seed, &sched);
    if (st) {
        rc = cli_fail(cmd, "model: %s", dpo_status_str(st));
        goto done;
    }
    model = dpo_gmm_model(&gmm);
    memset(&cfg, 0, sizeof cfg);
    cfg.seed = a->seed;
    cfg.batch = B;
    cfg.dim = D;
    cfg.num_steps = a->steps;
    cfg.timesteps = ts;
    cfg.sched = &sched;
    cfg.opts = dpo_step_opts_default();
    cfg.opts.eta = a->eta;
    cfg.lp_mode = a->lp_mode;
    cfg.cond = 0;
    /* ranges: as equal as possible, in order */
    for (r = 0; r < a->splits; r++) {
        jobs[r].s0 = B * (size_t)r / (size_t)a->splits;
        jobs[r].s1 = B * (size_t)(r + 1) / (size_t)a->splits;
        jobs[r].work_size = dpo_rollout_workspace_size(jobs[r].s1 - jobs[r].s0, D);
        wsz_total += slice_size(jobs[r].work_size);
    }
    work = (unsigned char *)malloc(wsz_total ? wsz_total : 1);
    if (!work) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    wsz_total = 0;
    for (r = 0; r < a->splits; r++) {
        jobs[r].cfg = &cfg;
        jobs[r].model = &model;
        jobs[r].traj = traj;
        jobs[r].logp = logp;
        jobs[r].work = work + wsz_total;
        wsz_total += slice_size(jobs[r].work_size);
    }
    /* thread w runs ranges w, w + T, w + 2T, ...; "thread" 0 is this one,
     * so --threads 1 creates no thread at all (the serial path, e.g. under
     * qemu-user, where pthread_create can hang an emulated guest) */
    for (r = 0; r < a->splits; r += a->threads) {
        int w, nt = a->splits - r < a->threads ? a->splits - r : a->threads;
        for (w = 1; w < nt; w++)
            if (pthread_create(&tids[w], 0, rollout_thread, &jobs[r + w]) != 0) {
                rollout_thread(&jobs[r + w]); /* no thread: run it here */
                tids[w] = pthread_self();
            }
        rollout_thread(&jobs[r]);
        for (w = 1; w < nt; w++)
            if (!pthread_equal(tids[w], pthread_self()))
                pthread_join(tids[w], 0);
    }
    for (r = 0; r < a->splits; r++)
        if (jobs[r].st) {
            if (jobs[r].st == DPO_ERR_SIGMA_ZERO && a->eta > 0)
                rc = cli_fail(cmd,
                              "samples [%zu, %zu): sigma_t = 0 at a step although eta = %g (the step's alphas_cumprod "
                              "equals the previous one's, as at the last of --steps %d): the log-density is "
                              "undefined there; lower --steps or choose another --spacing",
                              jobs[r].s0, jobs[r].s1, a->eta, a->steps);
            else
                rc = cli_fail(cmd, "samples [%zu, %zu): %s", jobs[r].s0, jobs[r].s1, dpo_status_str(jobs[r].st));
            goto done;
        }
    dpo_rollout_fingerprint(hashes, traj, logp, a->steps, B, D);
    if (!a->quiet) {
        printf("x_T %016llx\n", (unsigned long long)hashes[0]);
        for (k = 1; k <= a->steps; k++)
            printf("step %d t %d %016llx\n", k, (int)ts[k - 1], (unsigned long long)hashes[k]);
    }
    printf("fingerprint %016llx\n", (unsigned long long)hashes[a->steps]);
    if (a->out_path) {
        uint64_t shape[3];
        shape[0] = (uint64_t)(a->steps + 1);
        shape[1] = B;
        shape[2] = D;
        if (cli_npy_save(a->out_path, DPO_F32, shape, 3, traj, err, sizeof err)) {
            rc = cli_fail(cmd, "%s", err);
            goto done;
        }
    }
done:
    free(ts);
    free(means);
    free(traj);
    free(logp);
    free(hashes);
    free(jobs);
    free(tids);
    free(work);
    return rc;
}

int cmd_rollout(int argc, char **argv)
{
    rollout_args a;
    int rc = rollout_parse(&a, argc, argv, "rollout");
    if (rc == 1)
        return rollout_usage();
    if (rc)
        return rc;
    return rollout_exec(&a, "rollout");
}
