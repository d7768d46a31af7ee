/* diffpo ddim-step: one DDIM step on .npy tensors (batch-first), with the
 * step mean, x0 and the Gaussian log-probability of the result.
 *
 * Everything is read and validated, and every output computed in memory,
 * before the first output file is written: an error leaves no output file
 * (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../core/dpo_pmath.h"

#define CMD "ddim-step"

typedef struct step_args {
    const char *sample, *model_out, *noise, *table;
    const char *out, *mean_out, *logprob_out, *x0_out;
    int timestep, step_index, steps, have_t, have_k;
    int set_one, train_steps, steps_offset;
    double eta, beta_start, beta_end, clip;
    int do_clip, use_clipped, zsnr, thresholding;
    double thr_ratio, thr_max;
    int dtype; /* -1: the inputs' dtype */
    dpo_pred_type pred;
    dpo_logprob_mode lp_mode;
    dpo_prev_rule prev_rule;
    dpo_beta_schedule beta;
    dpo_spacing spacing;
} step_args;

static int step_usage(void)
{
    printf(
        "usage: diffpo ddim-step --sample x.npy --model-output e.npy [--noise z.npy]\n"
        "                        (--timestep T | --step-index K) --steps S --out prev.npy\n"
        "                        [--mean-out mu.npy] [--logprob-out lp.npy] [--x0-out x0.npy]\n"
        "                        [--eta E] [--prediction epsilon|v_prediction|sample]\n"
        "                        [--logprob sum|mean] [--clip-sample R] [--use-clipped-model-output 0|1]\n"
        "                        [--prev-rule diffusers|clamped] [--set-alpha-to-one 0|1]\n"
        "                        [--beta-schedule scaled_linear|linear|squaredcos_cap_v2|table]\n"
        "                        [--beta-start B0] [--beta-end B1] [--train-steps N]\n"
        "                        [--alphas-cumprod ac.npy] [--spacing leading|trailing|linspace]\n"
        "                        [--steps-offset K] [--dtype f32|f64] [--rescale-betas-zero-snr 0|1]\n"
        "                        [--thresholding 0|1] [--dynamic-thresholding-ratio Q] [--sample-max-value M]\n"
        "One step of diffusers' DDIMScheduler.step from timestep T of an S-step schedule:\n"
        "  x0 = (x - sqrt(1-a_t) e)/sqrt(a_t),  sigma = eta sqrt((1-a_prev)/(1-a_t) (1-a_t/a_prev)),\n"
        "  mu = sqrt(a_prev) x0 + sqrt(1-a_prev-sigma^2) e,  prev = mu + sigma z,\n"
        "with prev timestep T - N//S (diffusers; a negative one uses 1 or alphas_cumprod[0] as\n"
        "--set-alpha-to-one says) or clamped to [0, N-1] (--prev-rule clamped, DDPO/D3PO/SPO).\n"
        "Arrays are batch-first (B, ...): the log-probability is per sample, over the other\n"
        "elements, summed (default) or averaged (--logprob mean, DDPO's form); --logprob-out\n"
        "writes float64 (B,).  Other outputs have the sample's shape and the compute dtype:\n"
        "the inputs' dtype (all must agree) unless --dtype forces one.  --noise may be omitted\n"
        "only when sigma = 0 (eta 0); then --logprob-out is an error.\n"
        "--step-index K takes T = the K-th timestep (0 = first, the largest) of the schedule's\n"
        "inference timesteps under --spacing and --steps-offset; those two options have no other\n"
        "effect (the step always uses T - N//S, as diffusers does).\n"
        "Defaults (diffusers, Stable Diffusion 1.5): scaled_linear 0.00085..0.012, N 1000,\n"
        "leading spacing, steps offset 1, set_alpha_to_one 0, epsilon prediction, no clipping,\n"
        "prev rule diffusers, eta 0.0 (the default of diffusers' step()), --logprob sum.\n"
        "--rescale-betas-zero-snr 1 applies diffusers' zero-terminal-SNR rescale to the table\n"
        "(given or built); at a timestep whose alphas_cumprod is then 0 only v_prediction and\n"
        "sample prediction are defined.\n"
        "--thresholding 1 (float32 only) replaces --clip-sample by diffusers' dynamic thresholding:\n"
        "per batch row s = clamp(quantile(|x0|, Q), 1, M) (torch.quantile's linear rule), x0 =\n"
        "clamp(x0, -s, s)/s; defaults Q 0.995, M 1.0.\n");
    return 0;
}

static int parse_choice(const char *v, const char *const *names, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (!strcmp(v, names[i]))
            return i;
    return -1;
}

/* The defaults (diffusers, Stable Diffusion 1.5; docs/cli.md). */
static void step_defaults(step_args *a)
{
    memset(a, 0, sizeof *a);
    a->steps = -1;
    a->set_one = 0;
    a->zsnr = 0;
    a->thr_ratio = 0.995;
    a->thr_max = 1.0;
    a->train_steps = 1000;
    a->steps_offset = 1;
    a->eta = 0.0;
    a->beta_start = 0.00085;
    a->beta_end = 0.012;
    a->dtype = -1;
    a->pred = DPO_PRED_EPSILON;
    a->lp_mode = DPO_LOGPROB_SUM;
    a->prev_rule = DPO_PREV_DIFFUSERS;
    a->beta = DPO_BETA_SCALED_LINEAR;
    a->spacing = DPO_SPACING_LEADING;
}

/* What the options require of each other: given once all are read. */
static int step_check(const step_args *a, int have_train)
{
    if (!a->sample)
        return cli_fail(CMD, "--sample is required");
    if (!a->model_out)
        return cli_fail(CMD, "--model-output is required");
    if (!a->out)
        return cli_fail(CMD, "--out is required");
    if (a->steps < 0)
        return cli_fail(CMD, "--steps is required");
    if (a->have_t == a->have_k)
        return cli_fail(CMD, "give exactly one of --timestep and --step-index");
    if (a->beta == DPO_BETA_TABLE && !a->table)
        return cli_fail(CMD, "--beta-schedule table needs --alphas-cumprod FILE");
    if (a->beta != DPO_BETA_TABLE && a->table)
        return cli_fail(CMD, "--alphas-cumprod needs --beta-schedule table");
    if (a->beta == DPO_BETA_TABLE && have_train)
        return cli_fail(CMD, "--train-steps is the table's length with --beta-schedule table; omit it");
    {
        const char *outs[4];
        int n = 0, p, q;
        outs[n++] = a->out;
        if (a->mean_out)
            outs[n++] = a->mean_out;
        if (a->logprob_out)
            outs[n++] = a->logprob_out;
        if (a->x0_out)
            outs[n++] = a->x0_out;
        char err[512];
        for (p = 0; p < n; p++)
            for (q = p + 1; q < n; q++)
                if (!strcmp(outs[p], outs[q]))
                    return cli_fail(CMD, "two outputs name the same file '%s'", outs[p]);
        if (cli_out_check_all(outs, (size_t)n, err, sizeof err))
            return cli_fail(CMD, "%s", err);
    }
    return 0;
}

/* Returns 0, 1 (help) or an exit status > 1.  Longer than the ~120-line
 * guide: one flat branch per option, in the order of the --help text. */
static int step_parse(step_args *a, int argc, char **argv)
{
    static const char *const preds[] = {"epsilon", "v_prediction", "sample"};
    static const dpo_pred_type pred_v[] = {DPO_PRED_EPSILON, DPO_PRED_V, DPO_PRED_SAMPLE};
    static const char *const betas[] = {"linear", "scaled_linear", "squaredcos_cap_v2", "table"};
    static const dpo_beta_schedule beta_v[] = {DPO_BETA_LINEAR, DPO_BETA_SCALED_LINEAR, DPO_BETA_SQUAREDCOS_CAP_V2,
                                               DPO_BETA_TABLE};
    static const char *const spacings[] = {"leading", "trailing", "linspace"};
    static const dpo_spacing spacing_v[] = {DPO_SPACING_LEADING, DPO_SPACING_TRAILING, DPO_SPACING_LINSPACE};
    int i, k, have_train = 0;
    step_defaults(a);
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            return 1;
        if (strncmp(o, "--", 2) != 0)
            return cli_fail(CMD, "unexpected argument '%s'", o);
        if (!v)
            return cli_fail(CMD, "option '%s' needs a value (or is unknown)", o);
        i++;
        if (!strcmp(o, "--sample"))
            a->sample = v;
        else if (!strcmp(o, "--model-output"))
            a->model_out = v;
        else if (!strcmp(o, "--noise"))
            a->noise = v;
        else if (!strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "--mean-out"))
            a->mean_out = v;
        else if (!strcmp(o, "--logprob-out"))
            a->logprob_out = v;
        else if (!strcmp(o, "--x0-out"))
            a->x0_out = v;
        else if (!strcmp(o, "--alphas-cumprod"))
            a->table = v;
        else if (!strcmp(o, "--timestep")) {
            if (cli_parse_int(v, 0, DPO_MAX_TRAIN_STEPS - 1, &a->timestep))
                return cli_fail(CMD, "--timestep: need an integer in [0, %d], got '%s'", DPO_MAX_TRAIN_STEPS - 1, v);
            a->have_t = 1;
        } else if (!strcmp(o, "--step-index")) {
            if (cli_parse_int(v, 0, DPO_MAX_TRAIN_STEPS - 1, &a->step_index))
                return cli_fail(CMD, "--step-index: need an integer >= 0, got '%s'", v);
            a->have_k = 1;
        } else if (!strcmp(o, "--steps")) {
            if (cli_parse_int(v, 1, DPO_MAX_TRAIN_STEPS, &a->steps))
                return cli_fail(CMD, "--steps: need an integer in [1, %d], got '%s'", DPO_MAX_TRAIN_STEPS, v);
        } else if (!strcmp(o, "--eta")) {
            if (cli_parse_double(v, &a->eta) || a->eta < 0)
                return cli_fail(CMD, "--eta: need a finite number >= 0, got '%s'", v);
        } else if (!strcmp(o, "--prediction")) {
            if ((k = parse_choice(v, preds, 3)) < 0)
                return cli_fail(CMD, "--prediction: need epsilon, v_prediction or sample, got '%s'", v);
            a->pred = pred_v[k];
        } else if (!strcmp(o, "--set-alpha-to-one")) {
            if (cli_parse_int(v, 0, 1, &a->set_one))
                return cli_fail(CMD, "--set-alpha-to-one: need 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--thresholding")) {
            if (cli_parse_int(v, 0, 1, &a->thresholding))
                return cli_fail(CMD, "--thresholding: need 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--dynamic-thresholding-ratio")) {
            if (cli_parse_double(v, &a->thr_ratio) || !(a->thr_ratio >= 0 && a->thr_ratio <= 1))
                return cli_fail(CMD, "--dynamic-thresholding-ratio: need a number in [0, 1], got '%s'", v);
        } else if (!strcmp(o, "--sample-max-value")) {
            if (cli_parse_double(v, &a->thr_max) || !(a->thr_max > 0))
                return cli_fail(CMD, "--sample-max-value: need a finite number > 0, got '%s'", v);
        } else if (!strcmp(o, "--rescale-betas-zero-snr")) {
            if (cli_parse_int(v, 0, 1, &a->zsnr))
                return cli_fail(CMD, "--rescale-betas-zero-snr: need 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--logprob")) {
            if (!strcmp(v, "sum"))
                a->lp_mode = DPO_LOGPROB_SUM;
            else if (!strcmp(v, "mean"))
                a->lp_mode = DPO_LOGPROB_MEAN;
            else
                return cli_fail(CMD, "--logprob: need sum or mean, got '%s'", v);
        } else if (!strcmp(o, "--clip-sample")) {
            if (cli_parse_double(v, &a->clip) || !(a->clip > 0))
                return cli_fail(CMD, "--clip-sample: need a finite number > 0, got '%s'", v);
            a->do_clip = 1;
        } else if (!strcmp(o, "--use-clipped-model-output")) {
            if (cli_parse_int(v, 0, 1, &a->use_clipped))
                return cli_fail(CMD, "--use-clipped-model-output: need 0 or 1, got '%s'", v);
        } else if (!strcmp(o, "--prev-rule")) {
            if (!strcmp(v, "diffusers"))
                a->prev_rule = DPO_PREV_DIFFUSERS;
            else if (!strcmp(v, "clamped"))
                a->prev_rule = DPO_PREV_CLAMPED;
            else
                return cli_fail(CMD, "--prev-rule: need diffusers or clamped, got '%s'", v);
        } else if (!strcmp(o, "--beta-schedule")) {
            if ((k = parse_choice(v, betas, 4)) < 0)
                return cli_fail(CMD, "--beta-schedule: need linear, scaled_linear, squaredcos_cap_v2 or table, got '%s'",
                                v);
            a->beta = beta_v[k];
        } else if (!strcmp(o, "--beta-start")) {
            if (cli_parse_double(v, &a->beta_start))
                return cli_fail(CMD, "--beta-start: not a finite number: '%s'", v);
        } else if (!strcmp(o, "--beta-end")) {
            if (cli_parse_double(v, &a->beta_end))
                return cli_fail(CMD, "--beta-end: not a finite number: '%s'", v);
        } else if (!strcmp(o, "--train-steps")) {
            if (cli_parse_int(v, 2, DPO_MAX_TRAIN_STEPS, &a->train_steps))
                return cli_fail(CMD, "--train-steps: need an integer in [2, %d], got '%s'", DPO_MAX_TRAIN_STEPS, v);
            have_train = 1;
        } else if (!strcmp(o, "--steps-offset")) {
            if (cli_parse_int(v, 0, DPO_MAX_TRAIN_STEPS, &a->steps_offset))
                return cli_fail(CMD, "--steps-offset: need an integer in [0, %d], got '%s'", DPO_MAX_TRAIN_STEPS, v);
        } else if (!strcmp(o, "--spacing")) {
            if ((k = parse_choice(v, spacings, 3)) < 0)
                return cli_fail(CMD, "--spacing: need leading, trailing or linspace, got '%s'", v);
            a->spacing = spacing_v[k];
        } else if (!strcmp(o, "--dtype")) {
            if (!strcmp(v, "f32"))
                a->dtype = DPO_F32;
            else if (!strcmp(v, "f64"))
                a->dtype = DPO_F64;
            else
                return cli_fail(CMD, "--dtype: need f32 or f64, got '%s'", v);
        } else
            return cli_fail(CMD, "unknown option '%s'", o);
    }
    return step_check(a, have_train);
}

typedef struct loaded {
    dpo_npy_info info;
    double *v; /* as float64 */
} loaded;

static int load_f64(loaded *l, const char *path)
{
    char err[512];
    void *d = 0;
    l->info.dtype = DPO_F64;
    if (cli_npy_load(path, &l->info, &d, err, sizeof err))
        return cli_fail(CMD, "%s", err);
    l->v = (double *)d;
    return 0;
}

static int same_shape(const dpo_npy_info *a, const dpo_npy_info *b)
{
    int k;
    if (a->ndim != b->ndim)
        return 0;
    for (k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k])
            return 0;
    return 1;
}

static void shape_str(char *buf, size_t cap, const dpo_npy_info *a)
{
    size_t n = 0;
    int k;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (k = 0; k < a->ndim && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, k ? ", %llu" : "%llu", (unsigned long long)a->shape[k]);
    if (n < cap)
        snprintf(buf + n, cap - n, a->ndim == 1 ? ",)" : ")");
}

/* float64 -> float32 with the range check (finite values must stay finite). */
static int to_f32(float *out, const double *in, size_t n, const char *path)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double v = in[i];
        if ((v >= 0x1.ffffffp127 || v <= -0x1.ffffffp127) && dpo_pm_isfinite(v))
            return cli_fail(CMD, "%s: element %zu (%g) overflows float32 (use --dtype f64)", path, i, v);
        out[i] = (float)v; /* NaN and inf pass through: the step rejects them */
    }
    return 0;
}

static const char *dtype_name(int d)
{
    return d == DPO_F64 ? "float64" : "float32";
}

/* One ddim-step run: what is loaded, the step's coefficients, the outputs
 * computed in memory. */
typedef struct step_run {
    loaded in[3], tab;
    const char *names[3];
    int nin, dtype, t;
    size_t n, B, dim, es;
    void *conv[3];
    void *prev, *mu, *x0;
    double *lp;
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
} step_run;

/* 1a. The schedule from an alphas_cumprod table (--alphas-cumprod). */
static int step_table_schedule(dpo_schedule *sched, int *N, step_run *r, const step_args *a)
{
    char s1[256];
    dpo_status st;
    int k, rc;
    if ((rc = load_f64(&r->tab, a->table)))
        return rc;
    if (r->tab.info.ndim != 1 || r->tab.info.count < 2 || r->tab.info.count > DPO_MAX_TRAIN_STEPS) {
        shape_str(s1, sizeof s1, &r->tab.info);
        return cli_fail(CMD, "%s: alphas_cumprod must have shape (N,) with 2 <= N <= %d, got %s", a->table,
                        DPO_MAX_TRAIN_STEPS, s1);
    }
    *N = (int)r->tab.info.count;
    if (r->tab.info.dtype == DPO_F32) {
        float *t32 = (float *)malloc(sizeof(float) * (size_t)*N);
        if (!t32)
            return cli_fail(CMD, "out of memory");
        for (k = 0; k < *N; k++)
            t32[k] = (float)r->tab.v[k]; /* exact: the file holds float32 */
        st = dpo_schedule_from_table(sched, t32, 0, *N, a->set_one);
        free(t32);
    } else {
        st = dpo_schedule_from_table(sched, 0, r->tab.v, *N, a->set_one);
    }
    if (st)
        return cli_fail(CMD, "%s: not a valid alphas_cumprod table (each in (0, 1], the last may be 0, finite): %s",
                        a->table,
                        dpo_status_str(st));
    return 0;
}

/* 1. The schedule and the timestep. */
static int step_schedule(dpo_schedule *sched, step_run *r, const step_args *a)
{
    dpo_status st;
    int N = 0, rc;
    if (a->beta == DPO_BETA_TABLE) {
        if ((rc = step_table_schedule(sched, &N, r, a)))
            return rc;
    } else {
        N = a->train_steps;
        st = dpo_schedule_init(sched, a->beta, a->beta_start, a->beta_end, N, a->set_one);
        if (st)
            return cli_fail(CMD, "schedule (--beta-start %g, --beta-end %g, --train-steps %d): %s", a->beta_start,
                            a->beta_end, N, dpo_status_str(st));
    }
    if (a->zsnr && (st = dpo_schedule_rescale_zero_snr(sched)) != DPO_OK)
        return cli_fail(CMD, "--rescale-betas-zero-snr: %s (the table's first and last entries are equal)",
                        dpo_status_str(st));
    if (a->steps > N)
        return cli_fail(CMD, "--steps %d exceeds the %d training steps", a->steps, N);
    if (a->have_k) {
        int32_t *ts;
        if (a->step_index >= a->steps)
            return cli_fail(CMD, "--step-index %d out of range [0, %d)", a->step_index, a->steps);
        ts = (int32_t *)malloc(sizeof(int32_t) * (size_t)a->steps);
        if (!ts)
            return cli_fail(CMD, "out of memory");
        st = dpo_timesteps(ts, a->steps, N, a->spacing, a->steps_offset);
        if (st) {
            free(ts);
            return cli_fail(CMD, "timesteps (--spacing, --steps-offset %d): %s", a->steps_offset, dpo_status_str(st));
        }
        r->t = (int)ts[a->step_index];
        free(ts);
    } else {
        r->t = a->timestep;
        if (r->t >= N)
            return cli_fail(CMD, "--timestep %d out of range [0, %d)", r->t, N);
    }
    return 0;
}

/* 2. The inputs: batch-first, one shape, finite, one dtype (or --dtype). */
static int step_inputs(step_run *r, const step_args *a)
{
    char s1[256], s2[256];
    int k, rc;
    for (k = 0; k < r->nin; k++)
        if ((rc = load_f64(&r->in[k], r->names[k])))
            return rc;
    if (r->in[0].info.ndim < 1)
        return cli_fail(CMD, "%s: need a batch-first array (B, ...), got a 0-d array", r->names[0]);
    if (r->in[0].info.count == 0) {
        shape_str(s1, sizeof s1, &r->in[0].info);
        return cli_fail(CMD, "%s: empty array %s", r->names[0], s1);
    }
    for (k = 1; k < r->nin; k++)
        if (!same_shape(&r->in[0].info, &r->in[k].info)) {
            shape_str(s1, sizeof s1, &r->in[0].info);
            shape_str(s2, sizeof s2, &r->in[k].info);
            return cli_fail(CMD, "shape mismatch: %s is %s but %s is %s", r->names[0], s1, r->names[k], s2);
        }
    for (k = 0; k < r->nin; k++) {
        size_t i, cnt = (size_t)r->in[k].info.count;
        for (i = 0; i < cnt; i++)
            if (!dpo_pm_isfinite(r->in[k].v[i]))
                return cli_fail(CMD, "%s: element %zu is %s (inputs must be finite)", r->names[k], i,
                                r->in[k].v[i] != r->in[k].v[i] ? "NaN" : "infinite");
    }
    r->dtype = a->dtype;
    if (r->dtype < 0) {
        r->dtype = (int)r->in[0].info.dtype;
        for (k = 1; k < r->nin; k++)
            if ((int)r->in[k].info.dtype != r->dtype)
                return cli_fail(CMD, "dtype mismatch: %s is %s but %s is %s (pass --dtype f32 or f64)", r->names[0],
                                dtype_name(r->dtype), r->names[k], dtype_name((int)r->in[k].info.dtype));
    }
    if (a->thresholding && r->dtype == DPO_F64)
        return cli_fail(CMD, "--thresholding is float32 only (diffusers' float32 quantile): pass --dtype f32");
    r->n = (size_t)r->in[0].info.count;
    r->B = (size_t)r->in[0].info.shape[0];
    r->dim = r->n / r->B;
    r->es = r->dtype == DPO_F64 ? sizeof(double) : sizeof(float);
    return 0;
}

/* 3. The step's coefficients, and whether noise and log-probability make sense. */
static int step_coefs(step_run *r, const dpo_schedule *sched, const step_args *a)
{
    dpo_step_opts opts = dpo_step_opts_default();
    dpo_status st;
    double sigma;
    opts.kind = DPO_STEP_DDIM;
    opts.pred = a->pred;
    opts.eta = a->eta;
    opts.clip = a->do_clip;
    opts.clip_range = a->do_clip ? a->clip : 1.0;
    opts.use_clipped_output = a->use_clipped;
    opts.prev_rule = a->prev_rule;
    if (r->dtype == DPO_F64) {
        st = dpo_step_coef_f64_init(&r->c64, sched, r->t, a->steps, &opts);
        sigma = st ? 0 : r->c64.sigma;
    } else {
        st = dpo_step_coef_f32_init(&r->c32, sched, r->t, a->steps, &opts);
        sigma = st ? 0 : (double)r->c32.sigma;
    }
    if (st && sched->ac32[r->t] == 0.0f && a->pred == DPO_PRED_EPSILON)
        return cli_fail(CMD, "timestep %d has alphas_cumprod 0 (zero terminal SNR): epsilon prediction is "
                        "undefined there; use v_prediction or sample", r->t);
    if (st)
        return cli_fail(CMD, "step coefficients (timestep %d, %d steps, eta %g): %s", r->t, a->steps, a->eta,
                        dpo_status_str(st));
    if (sigma != 0 && !a->noise)
        return cli_fail(CMD, "--noise is required when sigma_t > 0 (eta %g)", a->eta);
    if (sigma == 0 && a->logprob_out)
        return cli_fail(CMD, "--logprob-out: the log-probability is undefined where sigma_t = 0 (eta %g, timestep %d)",
                        a->eta, r->t);
    return 0;
}

/* 4. Every output, in memory. */
/* 4b. Finite inputs near the dtype's limit can overflow: refuse rather
 * than write infinities (docs/cli.md). */
static int step_overflow(const step_run *r)
{
    const void *outs[3];
    const char *what[3] = {"the sample", "the mean", "x0"};
    int j;
    size_t i;
    outs[0] = r->prev, outs[1] = r->mu, outs[2] = r->x0;
    for (j = 0; j < 3; j++)
        for (i = 0; outs[j] && i < r->n; i++) {
            double v = r->dtype == DPO_F32 ? (double)((const float *)outs[j])[i] : ((const double *)outs[j])[i];
            if (!dpo_pm_isfinite(v))
                return cli_fail(CMD, "step: %s overflows at element %zu (finite inputs too large for %s)", what[j], i,
                                r->dtype == DPO_F32 ? "float32" : "float64");
        }
    for (i = 0; r->lp && i < r->B; i++)
        if (!dpo_pm_isfinite(r->lp[i]))
            return cli_fail(CMD, "step: the log-probability of sample %zu overflows (finite inputs too large)", i);
    return 0;
}

static int step_compute(step_run *r, const step_args *a)
{
    const size_t n = r->n;
    dpo_status st;
    int k, rc;
    r->prev = malloc(n * r->es);
    r->mu = malloc(n * r->es);
    r->x0 = a->x0_out ? malloc(n * r->es) : 0;
    r->lp = a->logprob_out ? (double *)malloc(sizeof(double) * r->B) : 0;
    if (!r->prev || !r->mu || (a->x0_out && !r->x0) || (a->logprob_out && !r->lp))
        return cli_fail(CMD, "out of memory");
    if (r->dtype == DPO_F32) {
        for (k = 0; k < r->nin; k++) {
            r->conv[k] = malloc(n * sizeof(float));
            if (!r->conv[k])
                return cli_fail(CMD, "out of memory");
            if ((rc = to_f32((float *)r->conv[k], r->in[k].v, n, r->names[k])))
                return rc;
        }
        if (a->thresholding) {
            size_t ws = dpo_step_threshold_workspace_size(r->dim);
            void *w = malloc(ws);
            if (!w)
                return cli_fail(CMD, "out of memory");
            st = dpo_step_threshold_f32((float *)r->prev, (float *)r->x0, (float *)r->mu, (const float *)r->conv[0],
                                        (const float *)r->conv[1], r->nin > 2 ? (const float *)r->conv[2] : 0, r->B,
                                        r->dim, &r->c32, a->thr_ratio, a->thr_max, w, ws);
            free(w);
        } else
            st = dpo_step_f32((float *)r->prev, (float *)r->x0, (float *)r->mu, (const float *)r->conv[0],
                              (const float *)r->conv[1], r->nin > 2 ? (const float *)r->conv[2] : 0, n, &r->c32);
        if (!st && r->lp)
            st = dpo_step_logprob_f32(r->lp, (const float *)r->prev, (const float *)r->mu, r->B, r->dim, &r->c32,
                                      a->lp_mode);
    } else {
        st = dpo_step_f64((double *)r->prev, (double *)r->x0, (double *)r->mu, r->in[0].v, r->in[1].v,
                          r->nin > 2 ? r->in[2].v : 0, n, &r->c64);
        if (!st && r->lp)
            st = dpo_step_logprob_f64(r->lp, (const double *)r->prev, (const double *)r->mu, r->B, r->dim, &r->c64,
                                      a->lp_mode);
    }
    if (st)
        return cli_fail(CMD, "step: %s", dpo_status_str(st));
    return step_overflow(r);
}

/* 5. Write the outputs: all or nothing (src/cli/outfile.c). */
static int step_write(const step_run *r, const step_args *a)
{
    const char *paths[4];
    const void *bufs[4];
    int dts[4], m = 0, j;
    uint64_t bshape[1];
    char err[512];
    cli_out o[4];
    paths[m] = a->out, bufs[m] = r->prev, dts[m++] = r->dtype;
    if (a->mean_out)
        paths[m] = a->mean_out, bufs[m] = r->mu, dts[m++] = r->dtype;
    if (a->x0_out)
        paths[m] = a->x0_out, bufs[m] = r->x0, dts[m++] = r->dtype;
    if (a->logprob_out)
        paths[m] = a->logprob_out, bufs[m] = r->lp, dts[m++] = DPO_F64;
    bshape[0] = (uint64_t)r->B;
    for (j = 0; j < m; j++) {
        int is_lp = bufs[j] == (const void *)r->lp;
        if (cli_out_open(&o[j], paths[j], err, sizeof err)) {
            cli_out_abort(o, (size_t)j);
            return cli_fail(CMD, "%s", err);
        }
        if (cli_npy_write(o[j].f, (dpo_dtype)dts[j], is_lp ? bshape : r->in[0].info.shape,
                          is_lp ? 1 : r->in[0].info.ndim, bufs[j], err, sizeof err)) {
            cli_out_abort(o, (size_t)j + 1);
            return cli_fail(CMD, "%s: %s", paths[j], err);
        }
    }
    if (cli_out_commit(o, (size_t)m, err, sizeof err))
        return cli_fail(CMD, "%s", err);
    return 0;
}

static int step_exec(const step_args *a)
{
    static dpo_schedule sched;
    step_run r;
    int k, rc;
    memset(&r, 0, sizeof r);
    r.nin = a->noise ? 3 : 2;
    r.names[0] = a->sample;
    r.names[1] = a->model_out;
    r.names[2] = a->noise;
    if ((rc = step_schedule(&sched, &r, a)) == 0 && (rc = step_inputs(&r, a)) == 0 &&
        (rc = step_coefs(&r, &sched, a)) == 0 && (rc = step_compute(&r, a)) == 0)
        rc = step_write(&r, a);
    for (k = 0; k < 3; k++) {
        free(r.in[k].v);
        free(r.conv[k]);
    }
    free(r.tab.v);
    free(r.prev);
    free(r.mu);
    free(r.x0);
    free(r.lp);
    return rc;
}

int cmd_ddim_step(int argc, char **argv)
{
    step_args a;
    int rc = step_parse(&a, argc, argv);
    if (rc == 1)
        return step_usage();
    if (rc)
        return rc;
    return step_exec(&a);
}
