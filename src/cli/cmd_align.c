/* diffpo align: the main job.  Pretrains (or loads) the built-in network,
 * aligns it with every requested method under one seed and budget, and
 * prints a table of rewards before/after, wall time and the fingerprint of
 * the final LoRA parameters; writes reward curves (SVG) and a sample grid
 * (PNG).  Progress goes to stderr. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#ifdef DPO_WITH_CUDA
#include "diffpo_cuda.h"
#include "diffpo_cuda_model.h"
#endif

/* Where the network's matrix products run (--device). */
enum { DEV_CPU = 0, DEV_GPU_STRICT, DEV_GPU_FAST };
static const char *const dev_names[] = {"cpu", "gpu-strict", "gpu-fast"};

typedef struct align_opts {
    int methods[DPO_METHODS];
    int n_methods;
    uint64_t seed;
    int iters, batch_i, threads, pretrain_iters, eval_per_class, n_pairs;
    dpo_reward_kind reward;
    const char *out_dir;
    int quiet;
    double lr;
    const char *save_state, *resume_state;
    int device; /* DEV_* */
} align_opts;

/* -------------------------------------------------------------- options */
static int align_usage(void)
{
    printf("usage: diffpo align [--method M|all] [--seed N] [--iters K] [--batch B] [--threads T]\n"
           "                    [--reward aesthetic|compress|classmatch] [--lr X] [--pretrain-iters P]\n"
           "                    [--eval-per-class E] [--pairs N] [--out-dir DIR] [--quiet]\n"
           "                    [--save-state FILE] [--resume FILE]   (one --method only)\n"
           "                    [--device cpu|gpu-strict|gpu-fast]   (gpu-*: a CUDA=1 build)\n"
           "Aligns the built-in epsilon-network (pretrained deterministically on the built-in 8x8 data,\n"
           "cached in DIR) with each method and prints, per method: mean reward before and after on\n"
           "held-out seeds, the change, wall time and the XXH3 fingerprint of the final LoRA parameters.\n"
           "Writes DIR/reward_curves.svg and DIR/samples.png (rows: base model, then each method).\n"
           "Methods: d3po diffusion-dpo tailorpo tailorpo-g rdpo rdpo-fixed spo dspo ddpo (default: all).\n"
           "Defaults: seed 1, 120 iterations of batch 8, 2 threads, aesthetic reward, each method's own lr\n"
           "(dpo_train_cfg_default, docs/trainers.md; --lr sets one for all),\n"
           "pretraining %d iterations, 8 evaluation samples per class, 256 offline pairs, DIR diffpo-out.\n"
           "Results are bit-identical for any --threads.  --save-state writes the trainer state (LoRA,\n"
           "AdamW moments, iteration) at the end; --resume continues such a state up to --iters and gives\n"
           "the same bits as one uninterrupted run (the state's configuration is checked).\n"
           "--device runs the network's matrix products of evaluation and training on the GPU\n"
           "(pretraining stays on the CPU): gpu-strict gives the CPU's bits, gpu-fast (cuBLASLt) repeats\n"
           "its own bits run to run but not the CPU's (docs/reproducibility.md).\n",
           DPO_PRETRAIN_ITERS);
    return 0;
}

static int align_parse(align_opts *o, int argc, char **argv)
{
    int i, m, have_method = 0;
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->iters = 120;
    o->batch_i = 8;
    o->threads = 2;
    o->pretrain_iters = DPO_PRETRAIN_ITERS;
    o->eval_per_class = 8;
    o->n_pairs = 256;
    o->reward = DPO_REWARD_AESTHETIC;
    o->out_dir = "diffpo-out";
    o->lr = 0; /* 0: each method's default */
    for (m = 0; m < DPO_METHODS; m++)
        o->methods[m] = m;
    o->n_methods = DPO_METHODS;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!v)
            return cli_fail("align", "option '%s' needs a value (or is unknown)", a);
        i++;
        if (!strcmp(a, "--method")) {
            dpo_method mm;
            if (have_method++)
                return cli_fail("align", "--method given twice (at '%s'): give one method, or all", v);
            if (!strcmp(v, "all"))
                continue;
            if (dpo_method_parse(&mm, v))
                return cli_fail("align", "--method: unknown method '%s' (diffpo align --help lists them)", v);
            o->methods[0] = (int)mm;
            o->n_methods = 1;
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_u64(v, &o->seed))
                return cli_fail("align", "--seed: not an unsigned 64-bit integer: '%s'", v);
        } else if (!strcmp(a, "--iters")) {
            if (cli_parse_int(v, 0, 1000000, &o->iters))
                return cli_fail("align", "--iters: need an integer in [0, 1000000], got '%s'", v);
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_int(v, 1, 4096, &o->batch_i))
                return cli_fail("align", "--batch: need an integer in [1, 4096], got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(v, 1, 64, &o->threads))
                return cli_fail("align", "--threads: need an integer in [1, 64], got '%s'", v);
        } else if (!strcmp(a, "--pretrain-iters")) {
            if (cli_parse_int(v, 0, 10000000, &o->pretrain_iters))
                return cli_fail("align", "--pretrain-iters: need an integer in [0, 10000000], got '%s'", v);
        } else if (!strcmp(a, "--eval-per-class")) {
            if (cli_parse_int(v, 1, 100000, &o->eval_per_class))
                return cli_fail("align", "--eval-per-class: need an integer in [1, 100000], got '%s'", v);
        } else if (!strcmp(a, "--pairs")) {
            if (cli_parse_int(v, 1, 1000000, &o->n_pairs))
                return cli_fail("align", "--pairs: need an integer in [1, 1000000], got '%s'", v);
        } else if (!strcmp(a, "--save-state")) {
            o->save_state = v;
        } else if (!strcmp(a, "--resume")) {
            o->resume_state = v;
        } else if (!strcmp(a, "--lr")) {
            if (cli_parse_double(v, &o->lr) || !(o->lr > 0))
                return cli_fail("align", "--lr: need a number > 0, got '%s'", v);
        } else if (!strcmp(a, "--reward")) {
            if (!strcmp(v, "aesthetic"))
                o->reward = DPO_REWARD_AESTHETIC;
            else if (!strcmp(v, "compress"))
                o->reward = DPO_REWARD_COMPRESS;
            else if (!strcmp(v, "classmatch"))
                o->reward = DPO_REWARD_CLASSMATCH;
            else
                return cli_fail("align", "--reward: need aesthetic, compress or classmatch, got '%s'", v);
        } else if (!strcmp(a, "--device")) {
            for (m = 0; m < 3 && strcmp(v, dev_names[m]); m++)
                ;
            if (m == 3)
                return cli_fail("align", "--device: need cpu, gpu-strict or gpu-fast, got '%s'", v);
#ifndef DPO_WITH_CUDA
            if (m != DEV_CPU)
                return cli_fail("align", "--device %s: this diffpo was built without CUDA (build with make CUDA=1)", v);
#endif
            o->device = m;
        } else if (!strcmp(a, "--out-dir")) {
            if (!*v)
                return cli_fail("align", "--out-dir: empty path");
            o->out_dir = v;
        } else {
            return cli_fail("align", "unknown option '%s'", a);
        }
    }
    if ((o->save_state || o->resume_state) && o->n_methods != 1)
        return cli_fail("align", "--save-state and --resume need a single --method");
    if (o->save_state) {
        char err[512];
        if (cli_out_check(o->save_state, err, sizeof err))
            return cli_fail("align", "--save-state %s", err);
    }
    return 0;
}

/* -------------------------------------------------------------- the job */
typedef struct method_result {
    double before, after, wall;
    uint64_t fingerprint;
    double *curve; /* per iteration: mean training reward of the prompts */
} method_result;

static int write_plots(const align_opts *o, const method_result *res, const float *grid, size_t rows,
                       size_t per_row)
{
    char path[4096];
    cli_out po;
    dpo_plot_series s[DPO_METHODS];
    double *xs = (double *)malloc(sizeof(double) * (size_t)(o->iters ? o->iters : 1));
    dpo_plot_chart ch;
    dpo_plot_grid g;
    int i, rc = 0;
    if (!xs)
        return -1;
    for (i = 0; i < o->iters; i++)
        xs[i] = (double)(i + 1);
    for (i = 0; i < o->n_methods; i++) {
        s[i].name = dpo_method_name((dpo_method)o->methods[i]);
        s[i].x = xs;
        s[i].y = res[i].curve;
        s[i].n = (size_t)o->iters;
    }
    ch.title = "training reward (mean over the iteration's prompts, moving average of 10)";
    ch.xlabel = "iteration";
    ch.ylabel = dpo_reward_name(o->reward);
    ch.width = 900;
    ch.height = 540;
    snprintf(path, sizeof path, "%s/reward_curves.svg", o->out_dir);
    if (o->iters > 0) {
        if (cli_out_open(&po, path, 0, 0))
            rc = -1;
        else if (dpo_plot_svg(po.f, &ch, s, (size_t)o->n_methods) != DPO_OK)
            cli_out_abort(&po, 1), rc = -1;
        else if (cli_out_commit(&po, 1, 0, 0))
            rc = -1;
    }
    g.rows = rows;
    g.cols = per_row;
    g.side = DPO_IMG_SIDE;
    g.scale = 4;
    g.sep = 128;
    snprintf(path, sizeof path, "%s/samples.png", o->out_dir);
    if (cli_out_open(&po, path, 0, 0))
        rc = -1;
    else if (dpo_plot_grid_png(po.f, grid, &g) != DPO_OK)
        cli_out_abort(&po, 1), rc = -1;
    else if (cli_out_commit(&po, 1, 0, 0))
        rc = -1;
    free(xs);
    return rc;
}

/* One align job: its options, the base model, the buffers, the results. */
typedef struct align_job {
    align_opts o;
    dpo_mlp_cfg mc;
    const dpo_schedule *sched;
    size_t B, epc, grid_cols, grid_rows;
    float *base, *pairs, *grid, *imgs;
    int32_t *pcls;
    void *ework;
    method_result res[DPO_METHODS];
    double base_reward;
#ifdef DPO_WITH_CUDA
    dpo_cuda_host_mm *dev;
    dpo_matmul_backend dev_be;
#endif
} align_job;

/* The output folder, the schedule and the buffers. */
static int align_setup(align_job *J)
{
    static dpo_schedule sched;
    const size_t D = DPO_IMG_DIM;
    dpo_status st;
    J->B = (size_t)J->o.batch_i;
    J->epc = (size_t)J->o.eval_per_class;
    if (mkdir(J->o.out_dir, 0777) != 0 && errno != EEXIST)
        return cli_fail("align", "cannot create output folder '%s': %s", J->o.out_dir, strerror(errno));
    if ((st = dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0)) != DPO_OK)
        return cli_fail("align", "schedule: %s", dpo_status_str(st));
    J->sched = &sched;
    J->grid_cols = J->mc.n_classes * (J->epc < 4 ? J->epc : 4);
    J->grid_rows = (size_t)J->o.n_methods + 1;
    J->base = (float *)cli_xaligned(dpo_mlp_num_base(&J->mc) * sizeof(float));
    J->imgs = (float *)cli_xaligned(J->mc.n_classes * J->epc * D * sizeof(float));
    J->grid = (float *)cli_xaligned(J->grid_rows * J->grid_cols * D * sizeof(float));
    J->ework = cli_xaligned(dpo_eval_workspace_size(&J->mc));
    if (!J->base || !J->imgs || !J->grid || !J->ework)
        return cli_fail("align", "out of memory");
    return 0;
}

/* From here on (evaluation, offline pairs, training) the network's products
 * run where --device says.  Pretraining stays on the CPU, so the cached base
 * model never depends on the device. */
static int align_device(align_job *J)
{
#ifdef DPO_WITH_CUDA
    const align_opts *o = &J->o;
    if (o->device != DEV_CPU) {
        size_t dd = dpo_cuda_host_mm_dim(&J->mc, 1); /* the library runs the network one sample at a time */
        char name[256];
        dpo_status st;
        if (dpo_cuda_device_describe(name, sizeof name) != DPO_OK)
            return cli_fail("align", "--device %s: no usable CUDA device", dev_names[o->device]);
        if (!o->quiet)
            fprintf(stderr, "align: matrix products on %s, %s mode\n", name,
                    o->device == DEV_GPU_FAST ? "fast (cuBLASLt)" : "strict");
        st = dpo_cuda_host_mm_create(&J->dev, o->device == DEV_GPU_FAST ? DPO_CUDA_MM_FAST : DPO_CUDA_MM_STRICT, dd, dd,
                                     dd);
        if (st != DPO_OK)
            return cli_fail("align", "--device %s: %s", dev_names[o->device], dpo_status_str(st));
        J->dev_be = dpo_cuda_host_mm_backend(J->dev);
        J->mc.matmul = &J->dev_be;
    }
#else
    (void)J;
#endif
    return 0;
}

/* Row `row` of the sample grid: the first images of each class from imgs. */
static void grid_row(align_job *J, size_t row)
{
    const size_t D = DPO_IMG_DIM;
    size_t i;
    for (i = 0; i < J->grid_cols; i++)
        memcpy(J->grid + (row * J->grid_cols + i) * D,
               J->imgs + (i % J->mc.n_classes) * J->epc * D + (i / J->mc.n_classes) * D, D * sizeof(float));
}

/* The base model's reward on held-out seeds (row 0 of the grid). */
static int align_base_reward(align_job *J)
{
    dpo_status st = dpo_eval_model_reward(&J->base_reward, J->imgs, J->o.seed ^ 0x5eed0f5eedULL, J->epc, &J->mc,
                                          J->base,
                                     0, J->sched, J->o.reward, 20, 1.0, J->ework, dpo_eval_workspace_size(&J->mc));
    if (st)
        return cli_fail("align", "evaluation: %s", dpo_status_str(st));
    grid_row(J, 0);
    return 0;
}

/* Offline pairs, when a method needs them (Diffusion-DPO, DSPO). */
static int align_offline_pairs(align_job *J)
{
    const align_opts *o = &J->o;
    size_t pw = dpo_make_pairs_workspace_size(&J->mc);
    void *pwk;
    dpo_status st;
    int mi;
    for (mi = 0; mi < o->n_methods; mi++)
        if (o->methods[mi] == DPO_METHOD_DIFFDPO || o->methods[mi] == DPO_METHOD_DSPO)
            break;
    if (mi == o->n_methods)
        return 0;
    pwk = cli_xaligned(pw);
    J->pairs = (float *)cli_xaligned((size_t)o->n_pairs * 2 * DPO_IMG_DIM * sizeof(float));
    J->pcls = (int32_t *)calloc((size_t)o->n_pairs, sizeof(int32_t));
    if (!pwk || !J->pairs || !J->pcls) {
        free(pwk);
        return cli_fail("align", "out of memory");
    }
    st = dpo_make_pairs(J->pairs, J->pcls, (size_t)o->n_pairs, o->seed ^ 0xba5eba11ULL, &J->mc, J->base, J->sched,
                        o->reward, 20, 1.0, pwk, pw);
    free(pwk);
    if (st)
        return cli_fail("align", "offline pairs: %s", dpo_status_str(st));
    return 0;
}

/* The reward curve as its trailing moving average of 10 (a resumed run's
 * earlier entries are NaN: skipped).  Left as it is when out of memory. */
static void smooth_curve(double **curve, int iters)
{
    double *sm = (double *)calloc((size_t)(iters ? iters : 1), sizeof(double));
    int it;
    if (!sm)
        return;
    for (it = 0; it < iters; it++) {
        int a0 = it >= 9 ? it - 9 : 0, q, cnt = 0;
        double s = 0;
        for (q = a0; q <= it; q++)
            if (isfinite((*curve)[q])) {
                s += (*curve)[q];
                cnt++;
            }
        sm[it] = cnt ? s / (double)cnt : (*curve)[it];
    }
    free(*curve);
    *curve = sm;
}

/* Method mi of the list: train, evaluate on the held-out seeds, its grid row. */
static int align_method(align_job *J, int mi)
{
    const align_opts *o = &J->o;
    method_result *r = &J->res[mi];
    cli_train_spec sp;
    cli_train_out out;
    int rc;
    memset(&sp, 0, sizeof sp);
    memset(&out, 0, sizeof out);
    sp.cmd = "align";
    sp.cfg = dpo_train_cfg_default((dpo_method)o->methods[mi]);
    sp.cfg.seed = o->seed;
    sp.cfg.batch = J->B;
    sp.cfg.reward = o->reward;
    if (o->lr > 0)
        sp.cfg.opt = dpo_adamw_default(o->lr);
    sp.mc = &J->mc;
    sp.sched = J->sched;
    sp.base = J->base;
    sp.pairs = J->pairs;
    sp.pair_cls = J->pcls;
    sp.n_pairs = (size_t)o->n_pairs;
    sp.iters = o->iters;
    sp.threads = o->threads;
    sp.quiet = o->quiet;
    sp.eval_seed = o->seed ^ 0x5eed0f5eedULL;
    sp.eval_per_class = J->epc;
    sp.save_state = o->save_state;
    sp.resume_state = o->resume_state;
    r->curve = (double *)calloc((size_t)(o->iters ? o->iters : 1), sizeof(double));
    if (!r->curve)
        return cli_fail("align", "out of memory");
    out.reward_curve = r->curve;
    out.images = J->imgs;
    if ((rc = cli_train_run(&out, &sp)) != 0)
        return rc;
    r->wall = out.wall;
    r->fingerprint = out.fingerprint;
    r->after = out.after;
    smooth_curve(&r->curve, o->iters);
    r->before = J->base_reward;
    grid_row(J, (size_t)mi + 1);
    return 0;
}

/* The table (stdout) and the plots. */
static void align_report(const align_job *J)
{
    const align_opts *o = &J->o;
    int mi;
    printf("diffpo align: seed %llu, %d iterations x batch %zu, reward %s, %zu held-out samples per class%s%s\n",
           (unsigned long long)o->seed, o->iters, J->B, dpo_reward_name(o->reward), J->epc,
           o->device != DEV_CPU ? ", device " : "", o->device != DEV_CPU ? dev_names[o->device] : "");
    printf("%-14s %12s %12s %10s %9s  %s\n", "method", "reward_before", "reward_after", "change", "wall_s",
           "lora_fingerprint");
    for (mi = 0; mi < o->n_methods; mi++)
        printf("%-14s %12.4f %12.4f %+10.4f %9.2f  %016llx\n", dpo_method_name((dpo_method)o->methods[mi]),
               J->res[mi].before, J->res[mi].after, J->res[mi].after - J->res[mi].before, J->res[mi].wall,
               (unsigned long long)J->res[mi].fingerprint);
    if (write_plots(o, J->res, J->grid, J->grid_rows, J->grid_cols) != 0)
        fprintf(stderr, "align: warning: could not write the plots in %s\n", o->out_dir);
    else if (!o->quiet)
        fprintf(stderr, "align: wrote %s/reward_curves.svg and %s/samples.png (rows: base, then each method)\n",
                o->out_dir, o->out_dir);
}

static void align_free(align_job *J)
{
    int mi;
#ifdef DPO_WITH_CUDA
    dpo_cuda_host_mm_destroy(J->dev);
#endif
    for (mi = 0; mi < DPO_METHODS; mi++)
        free(J->res[mi].curve);
    free(J->base);
    free(J->pairs);
    free(J->pcls);
    free(J->ework);
    free(J->imgs);
    free(J->grid);
}

int cmd_align(int argc, char **argv)
{
    align_job J;
    int rc, mi;
    memset(&J, 0, sizeof J);
    J.mc = dpo_mlp_cfg_default();
    rc = align_parse(&J.o, argc, argv);
    if (rc == 1)
        return align_usage();
    if (rc)
        return rc;
    /* 1. the base model: cached pretrained weights, or pretraining now (on the CPU) */
    if ((rc = align_setup(&J)) == 0 &&
        (rc = cli_base_model(J.base, &J.mc, J.sched, J.o.pretrain_iters, J.o.out_dir, "align", J.o.quiet)) == 0 &&
        (rc = align_device(&J)) == 0 && (rc = align_base_reward(&J)) == 0 && (rc = align_offline_pairs(&J)) == 0) {
        for (mi = 0; mi < J.o.n_methods && rc == 0; mi++)
            rc = align_method(&J, mi);
        if (rc == 0)
            align_report(&J);
    }
    align_free(&J);
    return rc;
}
