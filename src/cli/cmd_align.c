/* diffpo align: the main job.  Pretrains (or loads) the built-in network,
 * aligns it with every requested method under one seed and budget, and
 * prints a table of rewards before/after, wall time and the fingerprint of
 * the final LoRA parameters; writes reward curves (SVG) and a sample grid
 * (PNG).  Progress goes to stderr. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "diffpo_plot.h"

/* Seed of the built-in base model's pretraining (docs/model.md). */
#define DPO_PRETRAIN_SEED 0u


typedef struct align_opts {
    int methods[DPO_METHODS];
    int n_methods;
    uint64_t seed;
    int iters, batch_i, threads, pretrain_iters, eval_per_class, n_pairs;
    dpo_reward_kind reward;
    const char *out_dir;
    int quiet;
    double lr;
} align_opts;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xaligned(size_t n)
{
    void *p = 0;
    if (posix_memalign(&p, 64, n ? n : 64))
        return 0;
    memset(p, 0, n ? n : 64);
    return p;
}

/* ---------------------------------------------------- base-model cache */
#define CACHE_MAGIC "DPOBASE1"

/* The cache key: everything the pretrained weights depend on. */
static uint64_t base_key(const dpo_mlp_cfg *m, int iters, size_t batch)
{
    uint64_t v[10];
    v[0] = m->dim;
    v[1] = m->hidden;
    v[2] = m->temb;
    v[3] = m->n_classes;
    v[4] = m->cemb;
    v[5] = (uint64_t)m->num_train_steps;
    v[6] = (uint64_t)iters;
    v[7] = batch;
    v[8] = DPO_PRETRAIN_SEED;
    v[9] = 1; /* bump when the pretraining recipe changes */
    return dpo_hash64(v, sizeof v, 0);
}

/* Loads base weights from path when its key and XXH3 hash check; 0 on success. */
static int cache_load(const char *path, float *base, size_t nb, uint64_t key)
{
    FILE *f = fopen(path, "rb");
    char magic[8];
    uint64_t k, h, n;
    int ok = 0;
    if (!f)
        return -1;
    if (fread(magic, 1, 8, f) == 8 && !memcmp(magic, CACHE_MAGIC, 8) && fread(&k, 8, 1, f) == 1 && k == key &&
        fread(&n, 8, 1, f) == 1 && n == nb && fread(base, sizeof(float), nb, f) == nb && fread(&h, 8, 1, f) == 1 &&
        h == dpo_hash64(base, nb * sizeof(float), key))
        ok = 1;
    fclose(f);
    return ok ? 0 : -1;
}

static int cache_save(const char *path, const float *base, size_t nb, uint64_t key)
{
    char tmp[4096];
    FILE *f;
    uint64_t n = nb, h = dpo_hash64(base, nb * sizeof(float), key);
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "wb");
    if (!f)
        return -1;
    if (fwrite(CACHE_MAGIC, 1, 8, f) != 8 || fwrite(&key, 8, 1, f) != 1 || fwrite(&n, 8, 1, f) != 1 ||
        fwrite(base, sizeof(float), nb, f) != nb || fwrite(&h, 8, 1, f) != 1) {
        fclose(f);
        remove(tmp);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- threaded prompts */
typedef struct prompt_job {
    dpo_trainer *tr;
    uint64_t it;
    size_t b0, b1;
    dpo_train_stats *stats;
    dpo_status st;
} prompt_job;

static void *prompt_thread(void *p)
{
    prompt_job *j = (prompt_job *)p;
    size_t b;
    j->st = DPO_OK;
    for (b = j->b0; b < j->b1 && j->st == DPO_OK; b++)
        j->st = dpo_trainer_sample(j->tr, j->it, b, j->stats + b);
    return 0;
}

/* One iteration with prompts split over threads (the split does not
 * change a bit: each prompt writes its own gradient slot). */
static dpo_status iteration_threads(dpo_trainer *tr, uint64_t it, int threads, dpo_train_stats *stats)
{
    pthread_t tid[64];
    prompt_job jobs[64];
    int w, nt = threads;
    size_t B = tr->cfg.batch;
    if ((size_t)nt > B)
        nt = (int)B;
    if (nt > 64)
        nt = 64;
    for (w = 0; w < nt; w++) {
        jobs[w].tr = tr;
        jobs[w].it = it;
        jobs[w].b0 = B * (size_t)w / (size_t)nt;
        jobs[w].b1 = B * (size_t)(w + 1) / (size_t)nt;
        jobs[w].stats = stats;
        if (w == 0 || pthread_create(&tid[w], 0, prompt_thread, &jobs[w]) != 0) {
            prompt_thread(&jobs[w]);
            tid[w] = pthread_self();
        }
    }
    for (w = 1; w < nt; w++)
        if (!pthread_equal(tid[w], pthread_self()))
            pthread_join(tid[w], 0);
    for (w = 0; w < nt; w++)
        if (jobs[w].st)
            return jobs[w].st;
    return dpo_trainer_apply(tr, it);
}

/* -------------------------------------------------------------- options */
static int align_usage(void)
{
    printf("usage: diffpo align [--method M|all] [--seed N] [--iters K] [--batch B] [--threads T]\n"
           "                    [--reward aesthetic|compress|classmatch] [--lr X] [--pretrain-iters P]\n"
           "                    [--eval-per-class E] [--pairs N] [--out-dir DIR] [--quiet]\n"
           "Aligns the built-in epsilon-network (pretrained deterministically on the built-in 8x8 data,\n"
           "cached in DIR) with each method and prints, per method: mean reward before and after on\n"
           "held-out seeds, the change, wall time and the XXH3 fingerprint of the final LoRA parameters.\n"
           "Writes DIR/reward_curves.svg and DIR/samples.png (rows: base model, then each method).\n"
           "Methods: d3po diffusion-dpo tailorpo tailorpo-g rdpo rdpo-fixed spo dspo (default: all).\n"
           "Defaults: seed 1, 120 iterations of batch 8, 2 threads, aesthetic reward, lr 1e-3,\n"
           "pretraining %d iterations, 8 evaluation samples per class, 256 offline pairs, DIR diffpo-out.\n"
           "Results are bit-identical for any --threads.\n",
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
    o->lr = 1e-3;
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
        } else if (!strcmp(a, "--out-dir")) {
            if (!*v)
                return cli_fail("align", "--out-dir: empty path");
            o->out_dir = v;
        } else {
            return cli_fail("align", "unknown option '%s'", a);
        }
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
    size_t nb, nl, B, D = DPO_IMG_DIM, epc, grid_cols, grid_rows;
    float *base = 0, *lora = 0, *m = 0, *v = 0, *pairs = 0, *grid = 0, *imgs = 0;
    int32_t *pcls = 0;
    void *work = 0, *ework = 0;
    dpo_train_stats *stats = 0;
    method_result res[DPO_METHODS];
    double base_reward = 0, t0;
    char path[4096];
    int rc = 0, mi, i;
    uint64_t key;
    dpo_status st;

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
    nl = dpo_mlp_num_lora(&mc);
    grid_cols = mc.n_classes * (epc < 4 ? epc : 4);
    grid_rows = (size_t)o.n_methods + 1;
    base = (float *)xaligned(nb * sizeof(float));
    lora = (float *)xaligned(nl * sizeof(float));
    m = (float *)xaligned(nl * sizeof(float));
    v = (float *)xaligned(nl * sizeof(float));
    stats = (dpo_train_stats *)calloc(B, sizeof *stats);
    imgs = (float *)xaligned(mc.n_classes * epc * D * sizeof(float));
    grid = (float *)xaligned(grid_rows * grid_cols * D * sizeof(float));
    ework = xaligned(dpo_eval_workspace_size(&mc));
    if (!base || !lora || !m || !v || !stats || !imgs || !grid || !ework) {
        rc = cli_fail("align", "out of memory");
        goto done;
    }

    /* 1. the base model: cached pretrained weights, or pretraining now */
    key = base_key(&mc, o.pretrain_iters, DPO_PRETRAIN_BATCH);
    snprintf(path, sizeof path, "%s/base-%016llx.bin", o.out_dir, (unsigned long long)key);
    if (cache_load(path, base, nb, key) == 0) {
        if (!o.quiet)
            fprintf(stderr, "align: base model loaded from %s (XXH3 checked)\n", path);
    } else {
        size_t pw = dpo_pretrain_workspace_size(&mc, DPO_PRETRAIN_BATCH);
        void *pwk = xaligned(pw);
        float *pm = (float *)xaligned(nb * sizeof(float)), *pv = (float *)xaligned(nb * sizeof(float));
        dpo_adamw h = dpo_adamw_default(DPO_PRETRAIN_LR);
        int chunk = 100, done_it = 0;
        double loss = 0;
        if (!pwk || !pm || !pv) {
            free(pwk);
            free(pm);
            free(pv);
            rc = cli_fail("align", "out of memory");
            goto done;
        }
        t0 = wall_now();
        dpo_mlp_init_base(base, &mc, DPO_PRETRAIN_SEED);
        while (done_it < o.pretrain_iters) {
            int n = o.pretrain_iters - done_it < chunk ? o.pretrain_iters - done_it : chunk;
            double *losses = (double *)malloc(sizeof(double) * (size_t)n);
            if (!losses) {
                st = DPO_ERR_SIZE;
                break;
            }
            st = dpo_pretrain_run(base, pm, pv, losses, &mc, &sched, DPO_PRETRAIN_SEED, (uint64_t)done_it,
                                  (uint64_t)(done_it + n), DPO_PRETRAIN_BATCH, &h, pwk, pw);
            loss = 0;
            for (i = 0; i < n; i++)
                loss += losses[i] / n;
            free(losses);
            if (st)
                break;
            done_it += n;
            if (!o.quiet)
                fprintf(stderr, "\ralign: pretraining %d/%d, loss %.4f, %.1f s", done_it, o.pretrain_iters, loss,
                        wall_now() - t0);
        }
        if (!o.quiet)
            fprintf(stderr, "\n");
        free(pwk);
        free(pm);
        free(pv);
        if (st) {
            rc = cli_fail("align", "pretraining: %s", dpo_status_str(st));
            goto done;
        }
        if (cache_save(path, base, nb, key) != 0 && !o.quiet)
            fprintf(stderr, "align: warning: could not cache the base model in %s\n", path);
    }

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
        void *pwk = xaligned(pw);
        pairs = (float *)xaligned((size_t)o.n_pairs * 2 * D * sizeof(float));
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
        dpo_train_cfg tc = dpo_train_cfg_default(meth);
        dpo_trainer tr;
        size_t ws;
        int it;
        tc.seed = o.seed;
        tc.batch = B;
        tc.reward = o.reward;
        tc.opt = dpo_adamw_default(o.lr);
        ws = dpo_trainer_workspace_size(&tc, &mc);
        free(work);
        work = xaligned(ws);
        res[mi].curve = (double *)calloc((size_t)(o.iters ? o.iters : 1), sizeof(double));
        if (!work || !res[mi].curve) {
            rc = cli_fail("align", "out of memory");
            goto done;
        }
        dpo_mlp_init_lora(lora, &mc, o.seed);
        memset(m, 0, nl * sizeof(float));
        memset(v, 0, nl * sizeof(float));
        if ((st = dpo_trainer_init(&tr, &tc, &mc, &sched, base, lora, m, v, work, ws)) != DPO_OK ||
            (pairs && (meth == DPO_METHOD_DIFFDPO || meth == DPO_METHOD_DSPO) &&
             (st = dpo_trainer_set_pairs(&tr, pairs, pcls, (size_t)o.n_pairs)) != DPO_OK)) {
            rc = cli_fail("align", "%s: %s", dpo_method_name(meth), dpo_status_str(st));
            goto done;
        }
        t0 = wall_now();
        for (it = 0; it < o.iters; it++) {
            double r = 0;
            size_t b;
            if ((st = iteration_threads(&tr, (uint64_t)it, o.threads, stats)) != DPO_OK) {
                rc = cli_fail("align", "%s, iteration %d: %s", dpo_method_name(meth), it, dpo_status_str(st));
                goto done;
            }
            for (b = 0; b < B; b++)
                r += stats[b].reward / (double)B;
            res[mi].curve[it] = r;
            if (!o.quiet && (it % 10 == 9 || it == o.iters - 1))
                fprintf(stderr, "\ralign: %-13s iteration %d/%d, training reward %.4f, %.1f s", dpo_method_name(meth),
                        it + 1, o.iters, r, wall_now() - t0);
        }
        if (!o.quiet)
            fprintf(stderr, "\n");
        res[mi].wall = wall_now() - t0;
        {   /* smooth the curve: trailing moving average of 10 */
            double *sm = (double *)calloc((size_t)(o.iters ? o.iters : 1), sizeof(double));
            if (sm) {
                for (it = 0; it < o.iters; it++) {
                    int a0 = it >= 9 ? it - 9 : 0, q;
                    double s = 0;
                    for (q = a0; q <= it; q++)
                        s += res[mi].curve[q];
                    sm[it] = s / (double)(it - a0 + 1);
                }
                free(res[mi].curve);
                res[mi].curve = sm;
            }
        }
        res[mi].fingerprint = dpo_hash64(lora, nl * sizeof(float), 0);
        st = dpo_eval_reward(&res[mi].after, imgs, o.seed ^ 0x5eed0f5eedULL, epc, &mc, base, lora, &sched, o.reward,
                             20, 1.0, ework, dpo_eval_workspace_size(&mc));
        if (st) {
            rc = cli_fail("align", "%s evaluation: %s", dpo_method_name(meth), dpo_status_str(st));
            goto done;
        }
        res[mi].before = base_reward;
        for (i = 0; i < (int)grid_cols; i++)
            memcpy(grid + ((size_t)(mi + 1) * grid_cols + (size_t)i) * D,
                   imgs + (size_t)(i % mc.n_classes) * epc * D + (size_t)(i / mc.n_classes) * D, D * sizeof(float));
    }

    /* 5. the table and the plots */
    printf("diffpo align: seed %llu, %d iterations x batch %zu, reward %s, %zu held-out samples per class\n",
           (unsigned long long)o.seed, o.iters, B, dpo_reward_name(o.reward), epc);
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
    for (mi = 0; mi < DPO_METHODS; mi++)
        free(res[mi].curve);
    free(base);
    free(lora);
    free(m);
    free(v);
    free(pairs);
    free(pcls);
    free(work);
    free(ework);
    free(stats);
    free(imgs);
    free(grid);
    return rc;
}
