/* diffpo schedule: alphas_cumprod as .npy and the inference timesteps.
 *
 *   diffpo schedule [--beta-schedule linear|scaled_linear|squaredcos_cap_v2]
 *                   [--beta-start B0] [--beta-end B1] [--train-steps N]
 *                   [--set-alpha-to-one 0|1] [--table in.npy]
 *                   [--rescale-betas-zero-snr 0|1]
 *                   [--out ac.npy] [--out64 ac64.npy]
 *                   [--steps S [--spacing leading|trailing|linspace]
 *                    [--steps-offset K]]
 *
 * Defaults: Stable Diffusion 1.5 (scaled_linear, 0.00085, 0.012, 1000,
 * set_alpha_to_one 0, leading, steps_offset 1).  Everything is validated
 * and computed before the first file is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static const char *const usage_text =
    "usage: diffpo schedule [--beta-schedule linear|scaled_linear|squaredcos_cap_v2]\n"
    "                       [--beta-start B0] [--beta-end B1] [--train-steps N]\n"
    "                       [--set-alpha-to-one 0|1] [--table in.npy]\n"
    "                       [--rescale-betas-zero-snr 0|1]\n"
    "                       [--out ac.npy] [--out64 ac64.npy]\n"
    "                       [--steps S [--spacing leading|trailing|linspace] [--steps-offset K]]\n"
    "\n"
    "Writes alphas_cumprod (N values) as a float32 .npy (--out) and/or a float64\n"
    ".npy (--out64); with --steps, prints the S inference timesteps on one line,\n"
    "space-separated, in the order the sampler visits them.\n"
    "\n"
    "  --beta-schedule K     linear | scaled_linear | squaredcos_cap_v2 (default scaled_linear)\n"
    "  --beta-start B0       first beta, 0 < B0 <= B1 (default 0.00085; linear, scaled_linear)\n"
    "  --beta-end B1         last beta, B1 < 1 (default 0.012)\n"
    "  --train-steps N       2..4096 (default 1000)\n"
    "  --set-alpha-to-one V  0: final alpha is alphas_cumprod[0]; 1: it is 1 (default 0)\n"
    "  --table FILE          caller-given alphas_cumprod: a 1-D float32 or float64 .npy,\n"
    "                        each value in (0, 1], the last may be 0; replaces --beta-*; N = its length\n"
    "  --rescale-betas-zero-snr V  1: diffusers' zero-terminal-SNR rescale of the table\n"
    "                        (its last entry becomes 0; final alpha follows the new\n"
    "                        first entry unless --set-alpha-to-one 1; default 0)\n"
    "  --out FILE            float32 alphas_cumprod (diffusers' table bit for bit for\n"
    "                        linear and scaled_linear; docs/schedules.md)\n"
    "  --out64 FILE          float64 alphas_cumprod\n"
    "  --steps S             number of inference steps, 1..N\n"
    "  --spacing SP          leading | trailing | linspace (default leading)\n"
    "  --steps-offset K      added to leading timesteps, >= 0 (default 1; diffusers'\n"
    "                        DDIMScheduler ignores it for trailing and linspace)\n"
    "\n"
    "Defaults are Stable Diffusion 1.5's scheduler config.\n";

static int parse_kind(const char *s, dpo_beta_schedule *k)
{
    if (!strcmp(s, "linear"))
        *k = DPO_BETA_LINEAR;
    else if (!strcmp(s, "scaled_linear"))
        *k = DPO_BETA_SCALED_LINEAR;
    else if (!strcmp(s, "squaredcos_cap_v2"))
        *k = DPO_BETA_SQUAREDCOS_CAP_V2;
    else
        return -1;
    return 0;
}

static int parse_spacing(const char *s, dpo_spacing *sp)
{
    if (!strcmp(s, "leading"))
        *sp = DPO_SPACING_LEADING;
    else if (!strcmp(s, "trailing"))
        *sp = DPO_SPACING_TRAILING;
    else if (!strcmp(s, "linspace"))
        *sp = DPO_SPACING_LINSPACE;
    else
        return -1;
    return 0;
}

/* Loads --table into the schedule.  0 or the exit status. */
static int load_table(dpo_schedule *s, const char *path, int have_n, int n, int set_one)
{
    static float t32[DPO_MAX_TRAIN_STEPS];
    dpo_npy_info info;
    void *data = 0;
    char err[512];
    dpo_status st;
    uint64_t i;
    err[0] = 0;
    memset(&info, 0, sizeof info);
    info.dtype = DPO_F64;
    if (cli_npy_load(path, &info, &data, err, sizeof err))
        return cli_fail("schedule", "--table: %s", err[0] ? err : "cannot read the file");
    if (info.ndim != 1) {
        free(data);
        return cli_fail("schedule", "--table %s: expected a 1-D array, got %d dimensions", path, info.ndim);
    }
    if (info.count < 2 || info.count > DPO_MAX_TRAIN_STEPS) {
        free(data);
        return cli_fail("schedule", "--table %s: length %llu is outside 2..%d", path, (unsigned long long)info.count,
                        DPO_MAX_TRAIN_STEPS);
    }
    if (have_n && (uint64_t)n != info.count) {
        free(data);
        return cli_fail("schedule", "--table %s has %llu values but --train-steps is %d", path,
                        (unsigned long long)info.count, n);
    }
    if (info.dtype == DPO_F32) {
        /* float32 on disk: the doubles are its values exactly */
        const double *d = (const double *)data;
        for (i = 0; i < info.count; i++)
            t32[i] = (float)d[i];
        st = dpo_schedule_from_table(s, t32, 0, (int)info.count, set_one);
    } else {
        st = dpo_schedule_from_table(s, 0, (const double *)data, (int)info.count, set_one);
    }
    free(data);
    if (st == DPO_ERR_NONFINITE)
        return cli_fail("schedule", "--table %s holds NaN or infinity", path);
    if (st != DPO_OK)
        return cli_fail("schedule", "--table %s: every value must lie in (0, 1], the last may be 0 (%s)", path,
                        dpo_status_str(st));
    return 0;
}

/* The schedule from --table or from the betas; *n becomes its length. */
static int build_schedule(dpo_schedule *sched, int *n, const char *table, int have_n, dpo_beta_schedule kind,
                          double b0, double b1, int set_one)
{
    dpo_status st;
    int rc;
    if (table) {
        rc = load_table(sched, table, have_n, *n, set_one);
        if (rc)
            return rc;
        *n = sched->num_train_steps;
        return 0;
    }
    if (kind != DPO_BETA_SQUAREDCOS_CAP_V2 && !(b0 > 0.0 && b0 <= b1 && b1 < 1.0))
        return cli_fail("schedule", "betas must satisfy 0 < beta-start <= beta-end < 1, got %g and %g", b0, b1);
    st = dpo_schedule_init(sched, kind, b0, b1, *n, set_one);
    if (st != DPO_OK)
        return cli_fail("schedule", "cannot build the schedule: %s%s", dpo_status_str(st),
                        st == DPO_ERR_RANGE ? " (alphas_cumprod underflows to zero)" : "");
    return 0;
}

/* The inference timesteps of --steps (with --spacing, --steps-offset). */
static int build_timesteps(int32_t *ts, int steps, int n, dpo_spacing spacing, int offset)
{
    dpo_status st;
    if (steps > n)
        return cli_fail("schedule", "--steps %d exceeds --train-steps %d", steps, n);
    st = dpo_timesteps(ts, steps, n, spacing, offset);
    if (st != DPO_OK && spacing == DPO_SPACING_LEADING)
        return cli_fail("schedule", "leading timesteps reach %d + %d >= %d: lower --steps-offset or --steps",
                        (steps - 1) * (n / steps), offset, n);
    if (st != DPO_OK)
        return cli_fail("schedule",
                        "trailing timesteps for --steps %d of %d: NumPy's arange gives %d values ending at -1 "
                        "(diffusers would use them); choose another --steps",
                        steps, n, steps + 1);
    return 0;
}

/* Longer than the ~120-line guide: one flat branch per option, in the
 * order of the --help text, then the checks between options. */
int cmd_schedule(int argc, char **argv)
{
    static dpo_schedule sched;
    static int32_t ts[DPO_MAX_TRAIN_STEPS];
    dpo_beta_schedule kind = DPO_BETA_SCALED_LINEAR;
    dpo_spacing spacing = DPO_SPACING_LEADING;
    double b0 = 0.00085, b1 = 0.012;
    int n = 1000, set_one = 0, steps = 0, offset = 1, zsnr = 0;
    dpo_status st;
    int have_n = 0, have_beta = 0, have_steps = 0, have_sp = 0, have_off = 0;
    const char *table = 0, *out = 0, *out64 = 0;
    char err[512];
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strncmp(o, "--", 2) != 0)
            return cli_fail("schedule", "unexpected argument '%s' (diffpo schedule --help)", o);
        if (!v || !strncmp(v, "--", 2))
            return cli_fail("schedule", "option '%s' needs a value (diffpo schedule --help)", o);
        i++;
        if (!strcmp(o, "--beta-schedule")) {
            if (parse_kind(v, &kind))
                return cli_fail("schedule", "--beta-schedule must be linear, scaled_linear or squaredcos_cap_v2, got '%s'",
                                v);
            have_beta = 1;
        } else if (!strcmp(o, "--beta-start")) {
            if (cli_parse_double(v, &b0))
                return cli_fail("schedule", "--beta-start needs a finite number, got '%s'", v);
            have_beta = 1;
        } else if (!strcmp(o, "--beta-end")) {
            if (cli_parse_double(v, &b1))
                return cli_fail("schedule", "--beta-end needs a finite number, got '%s'", v);
            have_beta = 1;
        } else if (!strcmp(o, "--train-steps")) {
            if (cli_parse_int(v, 2, DPO_MAX_TRAIN_STEPS, &n))
                return cli_fail("schedule", "--train-steps needs an integer in 2..%d, got '%s'", DPO_MAX_TRAIN_STEPS, v);
            have_n = 1;
        } else if (!strcmp(o, "--set-alpha-to-one")) {
            if (cli_parse_int(v, 0, 1, &set_one))
                return cli_fail("schedule", "--set-alpha-to-one needs 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--rescale-betas-zero-snr")) {
            if (cli_parse_int(v, 0, 1, &zsnr))
                return cli_fail("schedule", "--rescale-betas-zero-snr needs 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--table")) {
            table = v;
        } else if (!strcmp(o, "--out")) {
            out = v;
        } else if (!strcmp(o, "--out64")) {
            out64 = v;
        } else if (!strcmp(o, "--steps")) {
            if (cli_parse_int(v, 1, DPO_MAX_TRAIN_STEPS, &steps))
                return cli_fail("schedule", "--steps needs an integer in 1..%d, got '%s'", DPO_MAX_TRAIN_STEPS, v);
            have_steps = 1;
        } else if (!strcmp(o, "--spacing")) {
            if (parse_spacing(v, &spacing))
                return cli_fail("schedule", "--spacing must be leading, trailing or linspace, got '%s'", v);
            have_sp = 1;
        } else if (!strcmp(o, "--steps-offset")) {
            if (cli_parse_int(v, 0, DPO_MAX_TRAIN_STEPS, &offset))
                return cli_fail("schedule", "--steps-offset needs an integer in 0..%d, got '%s'", DPO_MAX_TRAIN_STEPS, v);
            have_off = 1;
        } else {
            return cli_fail("schedule", "unknown option '%s' (diffpo schedule --help)", o);
        }
    }

    if (!out && !out64 && !have_steps)
        return cli_fail("schedule", "nothing to do: give --out, --out64 and/or --steps");
    if ((have_sp || have_off) && !have_steps)
        return cli_fail("schedule", "--spacing and --steps-offset need --steps");
    if (table && have_beta)
        return cli_fail("schedule", "--table replaces --beta-schedule/--beta-start/--beta-end: give one or the other");
    if (out && out64 && !strcmp(out, out64))
        return cli_fail("schedule", "--out and --out64 name the same file '%s'", out);

    {
        const char *outs[2];
        outs[0] = out, outs[1] = out64;
        if (cli_out_check_all(outs, 2, err, sizeof err))
            return cli_fail("schedule", "%s", err);
    }

    /* the schedule, the timesteps */
    if ((rc = build_schedule(&sched, &n, table, have_n, kind, b0, b1, set_one)) != 0)
        return rc;
    if (zsnr && (st = dpo_schedule_rescale_zero_snr(&sched)) != DPO_OK)
        return cli_fail("schedule", "--rescale-betas-zero-snr: %s (the table's first and last entries are equal)",
                        dpo_status_str(st));
    if (have_steps && (rc = build_timesteps(ts, steps, n, spacing, offset)) != 0)
        return rc;

    /* the files (all or nothing), then the output line */
    if (out || out64) {
        cli_out o[2];
        size_t m = 0;
        uint64_t shape[1];
        shape[0] = (uint64_t)n;
        err[0] = 0;
        if (out && (cli_out_open(&o[m], out, err, sizeof err) ||
                    cli_npy_write(o[m++].f, DPO_F32, shape, 1, sched.ac32, err, sizeof err))) {
            cli_out_abort(o, m);
            return cli_fail("schedule", "--out: %s", err[0] ? err : "cannot write the file");
        }
        if (out64 && (cli_out_open(&o[m], out64, err, sizeof err) ||
                      cli_npy_write(o[m++].f, DPO_F64, shape, 1, sched.ac64, err, sizeof err))) {
            cli_out_abort(o, m);
            return cli_fail("schedule", "--out64: %s", err[0] ? err : "cannot write the file");
        }
        if (cli_out_commit(o, m, err, sizeof err))
            return cli_fail("schedule", "%s", err);
    }
    if (have_steps) {
        for (i = 0; i < steps; i++)
            printf(i ? " %d" : "%d", (int)ts[i]);
        putchar('\n');
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail("schedule", "cannot write to standard output");
    return 0;
}
