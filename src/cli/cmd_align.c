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
           "Methods: d3po diffusion-dpo tailorpo tailorpo-g rdpo rdpo-fixed spo dspo (default: all).\n"
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
    int i, m;
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
    FILE *f;
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
        f = fopen(path, "wb");
        if (!f || dpo_plot_svg(f, &ch, s, (size_t)o->n_methods) != DPO_OK)
            rc = -1;
        if (f && fclose(f) != 0)
            rc = -1;
    }
    g.rows = rows;
    g.cols = per_row;
    g.side = DPO_IMG_SIDE;
    g.scale = 4;
    g.sep = 128;
    snprintf(path, sizeof path, "%s/samples.png", o->out_dir);
    f = fopen(path, "wb");
    if (!f || dpo_plot_grid_png(f, grid, &g) != DPO_OK)
        rc = -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(xs);
    return rc;
}

int cmd_align(int argc, char **argv)
{
    align_opts o;
    static dpo_schedule sched;
    dpo_mlp_cfg mc = dpo_mlp_cfg_default();
    size_t nb, B, D = DPO_IMG_DIM, epc, grid_cols, grid_rows;
    float *base = 0, *pairs = 0, *grid = 0, *imgs = 0;
    int32_t *pcls = 0;
    void *ework = 0;
    method_result res[DPO_METHODS];
    double base_reward = 0;
    int rc = 0, mi, i;
    dpo_status st;
#ifdef DPO_WITH_CUDA
    dpo_cuda_host_mm *dev = 0;
    dpo_matmul_backend dev_be;
#endif

    memset(res, 0, sizeof res);
    rc = align_parse(&o, argc, argv);
    if (rc == 1)
        return align_usage();
    if (rc)
        return rc;
    B = (size_t)o.batch_i;
    epc = (size_t)o.eval_per_class;
    if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST)
        return cli_fail("align", "cannot create output folder '%s': %s", o.out_dir, strerror(errno));
    if ((st = dpo_schedule_init(&sched, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0)) != DPO_OK)
        return cli_fail("align", "schedule: %s", dpo_status_str(st));
    nb = dpo_mlp_num_base(&mc);
    grid_cols = mc.n_classes * (epc < 4 ? epc : 4);
    grid_rows = (size_t)o.n_methods + 1;
    base = (float *)cli_xaligned(nb * sizeof(float));
    imgs = (float *)cli_xaligned(mc.n_classes * epc * D * sizeof(float));
    grid = (float *)cli_xaligned(grid_rows * grid_cols * D * sizeof(float));
    ework = cli_xaligned(dpo_eval_workspace_size(&mc));
    if (!base || !imgs || !grid || !ework) {
        rc = cli_fail("align", "out of memory");
        goto done;
    }

    /* 1. the base model: cached pretrained weights, or pretraining now */
    if ((rc = cli_base_model(base, &mc, &sched, o.pretrain_iters, o.out_dir, "align", o.quiet)) != 0)
        goto done;

#ifdef DPO_WITH_CUDA
    /* From here on (evaluation, offline pairs, training) the network's
     * products run where --device says.  Pretraining above stays on the CPU,
     * so the cached base model never depends on the device. */
    if (o.device != DEV_CPU) {
        size_t dd = dpo_cuda_host_mm_dim(&mc, 1); /* the library runs the network one sample at a time */
        char name[256];
        if (dpo_cuda_device_describe(name, sizeof name) != DPO_OK) {
            rc = cli_fail("align", "--device %s: no usable CUDA device", dev_names[o.device]);
            goto done;
        }
        if (!o.quiet)
            fprintf(stderr, "align: matrix products on %s, %s mode\n", name,
                    o.device == DEV_GPU_FAST ? "fast (cuBLASLt)" : "strict");
        st = dpo_cuda_host_mm_create(&dev, o.device == DEV_GPU_FAST ? DPO_CUDA_MM_FAST : DPO_CUDA_MM_STRICT, dd, dd,
                                     dd);
        if (st != DPO_OK) {
            rc = cli_fail("align", "--device %s: %s", dev_names[o.device], dpo_status_str(st));
            goto done;
        }
        dev_be = dpo_cuda_host_mm_backend(dev);
        mc.matmul = &dev_be;
    }
#endif

    /* 2. the base model's reward on held-out seeds */
    st = dpo_eval_reward(&base_reward, imgs, o.seed ^ 0x5eed0f5eedULL, epc, &mc, base, 0, &sched, o.reward, 20, 1.0,
                         ework, dpo_eval_workspace_size(&mc));
    if (st) {
        rc = cli_fail("align", "evaluation: %s", dpo_status_str(st));
        goto done;
    }
    for (i = 0; i < (int)grid_cols; i++)
        memcpy(grid + (size_t)i * D, imgs + (size_t)(i % mc.n_classes) * epc * D + (size_t)(i / mc.n_classes) * D,
               D * sizeof(float));

    /* 3. offline pairs (Diffusion-DPO, DSPO) */
    for (mi = 0; mi < o.n_methods; mi++)
        if (o.methods[mi] == DPO_METHOD_DIFFDPO || o.methods[mi] == DPO_METHOD_DSPO)
            break;
    if (mi < o.n_methods) {
        size_t pw = dpo_make_pairs_workspace_size(&mc);
        void *pwk = cli_xaligned(pw);
        pairs = (float *)cli_xaligned((size_t)o.n_pairs * 2 * D * sizeof(float));
        pcls = (int32_t *)calloc((size_t)o.n_pairs, sizeof(int32_t));
        if (!pwk || !pairs || !pcls) {
            free(pwk);
            rc = cli_fail("align", "out of memory");
            goto done;
        }
        st = dpo_make_pairs(pairs, pcls, (size_t)o.n_pairs, o.seed ^ 0xba5eba11ULL, &mc, base, &sched, o.reward, 20,
                            1.0, pwk, pw);
        free(pwk);
        if (st) {
            rc = cli_fail("align", "offline pairs: %s", dpo_status_str(st));
            goto done;
        }
    }

    /* 4. every method */
    for (mi = 0; mi < o.n_methods; mi++) {
        dpo_method meth = (dpo_method)o.methods[mi];
        cli_train_spec sp;
        cli_train_out out;
        int it;
        memset(&sp, 0, sizeof sp);
        memset(&out, 0, sizeof out);
        sp.cmd = "align";
        sp.cfg = dpo_train_cfg_default(meth);
        sp.cfg.seed = o.seed;
        sp.cfg.batch = B;
        sp.cfg.reward = o.reward;
        if (o.lr > 0)
            sp.cfg.opt = dpo_adamw_default(o.lr);
        sp.mc = &mc;
        sp.sched = &sched;
        sp.base = base;
        sp.pairs = pairs;
        sp.pair_cls = pcls;
        sp.n_pairs = (size_t)o.n_pairs;
        sp.iters = o.iters;
        sp.threads = o.threads;
        sp.quiet = o.quiet;
        sp.eval_seed = o.seed ^ 0x5eed0f5eedULL;
        sp.eval_per_class = epc;
        sp.save_state = o.save_state;
        sp.resume_state = o.resume_state;
        res[mi].curve = (double *)calloc((size_t)(o.iters ? o.iters : 1), sizeof(double));
        if (!res[mi].curve) {
            rc = cli_fail("align", "out of memory");
            goto done;
        }
        out.reward_curve = res[mi].curve;
        out.images = imgs;
        if ((rc = cli_train_run(&out, &sp)) != 0)
            goto done;
        res[mi].wall = out.wall;
        res[mi].fingerprint = out.fingerprint;
        res[mi].after = out.after;
        {   /* smooth the curve: trailing moving average of 10 */
            double *sm = (double *)calloc((size_t)(o.iters ? o.iters : 1), sizeof(double));
            if (sm) {
                for (it = 0; it < o.iters; it++) { /* (a resumed run's earlier entries are NaN: skipped) */
                    int a0 = it >= 9 ? it - 9 : 0, q, cnt = 0;
                    double s = 0;
                    for (q = a0; q <= it; q++)
                        if (isfinite(res[mi].curve[q])) {
                            s += res[mi].curve[q];
                            cnt++;
                        }
                    sm[it] = cnt ? s / (double)cnt : res[mi].curve[it];
                }
                free(res[mi].curve);
                res[mi].curve = sm;
            }
        }
        res[mi].before = base_reward;
        for (i = 0; i < (int)grid_cols; i++)
            memcpy(grid + ((size_t)(mi + 1) * grid_cols + (size_t)i) * D,
                   imgs + (size_t)(i % mc.n_classes) * epc * D + (size_t)(i / mc.n_classes) * D, D * sizeof(float));
    }

    /* 5. the table and the plots */
    printf("diffpo align: seed %llu, %d iterations x batch %zu, reward %s, %zu held-out samples per class%s%s\n",
           (unsigned long long)o.seed, o.iters, B, dpo_reward_name(o.reward), epc,
           o.device != DEV_CPU ? ", device " : "", o.device != DEV_CPU ? dev_names[o.device] : "");
    printf("%-14s %12s %12s %10s %9s  %s\n", "method", "reward_before", "reward_after", "change", "wall_s",
           "lora_fingerprint");
    for (mi = 0; mi < o.n_methods; mi++)
        printf("%-14s %12.4f %12.4f %+10.4f %9.2f  %016llx\n", dpo_method_name((dpo_method)o.methods[mi]),
               res[mi].before, res[mi].after, res[mi].after - res[mi].before, res[mi].wall,
               (unsigned long long)res[mi].fingerprint);
    if (write_plots(&o, res, grid, grid_rows, grid_cols) != 0)
        fprintf(stderr, "align: warning: could not write the plots in %s\n", o.out_dir);
    else if (!o.quiet)
        fprintf(stderr, "align: wrote %s/reward_curves.svg and %s/samples.png (rows: base, then each method)\n",
                o.out_dir, o.out_dir);
done:
#ifdef DPO_WITH_CUDA
    dpo_cuda_host_mm_destroy(dev);
#endif
    for (mi = 0; mi < DPO_METHODS; mi++)
        free(res[mi].curve);
    free(base);
    free(pairs);
    free(pcls);
    free(ework);
    free(imgs);
    free(grid);
    return rc;
}
