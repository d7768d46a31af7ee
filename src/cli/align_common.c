/* Shared pieces of `diffpo align` and `diffpo experiments`: the pretrained
 * base model (pretrain-or-load with an XXH3-checked cache), prompts of a
 * trainer iteration on threads, and one training run of a method with its
 * held-out evaluation. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

double cli_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *cli_xaligned(size_t n)
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
    v[8] = CLI_PRETRAIN_SEED;
    v[9] = 1; /* bump when the pretraining recipe changes */
    return dpo_hash64(v, sizeof v, 0);
}

/* Loads base weights from path when its key and XXH3 hash check; 0 on success. */
static int cache_load_stream(FILE *f, float *base, size_t nb, uint64_t key)
{
    char magic[8];
    uint64_t k, h, n;
    int ok = 0;
    if (fread(magic, 1, 8, f) == 8 && !memcmp(magic, CACHE_MAGIC, 8) && fread(&k, 8, 1, f) == 1 && k == key &&
        fread(&n, 8, 1, f) == 1 && n == nb && fread(base, sizeof(float), nb, f) == nb && fread(&h, 8, 1, f) == 1 &&
        h == dpo_hash64(base, nb * sizeof(float), key))
        ok = 1;
    return ok ? 0 : -1;
}

static int cache_load(const char *path, float *base, size_t nb, uint64_t key)
{
    FILE *f = fopen(path, "rb");
    int rc;
    if (!f)
        return -1;
    rc = cache_load_stream(f, base, nb, key);
    fclose(f);
    return rc;
}

static int cache_save(const char *path, const float *base, size_t nb, uint64_t key)
{
    cli_out o;
    FILE *f;
    uint64_t n = nb, h = dpo_hash64(base, nb * sizeof(float), key);
    if (cli_out_open(&o, path, 0, 0))
        return -1;
    f = o.f;
    if (fwrite(CACHE_MAGIC, 1, 8, f) != 8 || fwrite(&key, 8, 1, f) != 1 || fwrite(&n, 8, 1, f) != 1 ||
        fwrite(base, sizeof(float), nb, f) != nb || fwrite(&h, 8, 1, f) != 1) {
        cli_out_abort(&o, 1);
        return -1;
    }
    return cli_out_commit(&o, 1, 0, 0);
}

int cli_base_model(float *base, const dpo_mlp_cfg *mc, const dpo_schedule *sched, int pretrain_iters,
                   const char *out_dir, const char *cmd, int quiet)
{
    char path[4096];
    size_t nb = dpo_mlp_num_base(mc), pw;
    uint64_t key = base_key(mc, pretrain_iters, DPO_PRETRAIN_BATCH);
    void *pwk;
    float *pm, *pv;
    dpo_adamw h = dpo_adamw_default(DPO_PRETRAIN_LR);
    int chunk = 100, done_it = 0, i;
    double loss = 0, t0;
    dpo_status st = DPO_OK;

    snprintf(path, sizeof path, "%s/base-%016llx.bin", out_dir, (unsigned long long)key);
    if (cache_load(path, base, nb, key) == 0) {
        if (!quiet)
            fprintf(stderr, "%s: base model loaded from %s (XXH3 checked)\n", cmd, path);
        return 0;
    }
    pw = dpo_pretrain_workspace_size(mc, DPO_PRETRAIN_BATCH);
    pwk = cli_xaligned(pw);
    pm = (float *)cli_xaligned(nb * sizeof(float));
    pv = (float *)cli_xaligned(nb * sizeof(float));
    if (!pwk || !pm || !pv) {
        free(pwk);
        free(pm);
        free(pv);
        return cli_fail(cmd, "out of memory");
    }
    t0 = cli_wall_now();
    dpo_mlp_init_base(base, mc, CLI_PRETRAIN_SEED);
    while (done_it < pretrain_iters) {
        int n = pretrain_iters - done_it < chunk ? pretrain_iters - done_it : chunk;
        double *losses = (double *)malloc(sizeof(double) * (size_t)n);
        if (!losses) {
            st = DPO_ERR_SIZE;
            break;
        }
        st = dpo_pretrain_run(base, pm, pv, losses, mc, sched, CLI_PRETRAIN_SEED, (uint64_t)done_it,
                              (uint64_t)(done_it + n), DPO_PRETRAIN_BATCH, &h, pwk, pw);
        loss = 0;
        for (i = 0; i < n; i++)
            loss += losses[i] / n;
        free(losses);
        if (st)
            break;
        done_it += n;
        if (!quiet)
            fprintf(stderr, "\r%s: pretraining %d/%d, loss %.4f, %.1f s", cmd, done_it, pretrain_iters, loss,
                    cli_wall_now() - t0);
    }
    if (!quiet)
        fprintf(stderr, "\n");
    free(pwk);
    free(pm);
    free(pv);
    if (st)
        return cli_fail(cmd, "pretraining: %s", dpo_status_str(st));
    if (cache_save(path, base, nb, key) != 0 && !quiet)
        fprintf(stderr, "%s: warning: could not cache the base model in %s\n", cmd, path);
    return 0;
}

/* ------------------------------------------------------------ threads */
typedef struct par_job {
    cli_index_fn fn;
    void *ctx;
    size_t i0, i1, work_size;
    dpo_status st;
} par_job;

static void *par_thread(void *p)
{
    par_job *j = (par_job *)p;
    void *work = j->work_size ? cli_xaligned(j->work_size) : 0;
    size_t i;
    j->st = work || !j->work_size ? DPO_OK : DPO_ERR_WORKSPACE;
    for (i = j->i0; i < j->i1 && j->st == DPO_OK; i++)
        j->st = j->fn(j->ctx, i, work, j->work_size);
    free(work);
    return 0;
}

dpo_status cli_parallel_for(cli_index_fn fn, void *ctx, size_t n, int threads, size_t work_size)
{
    pthread_t tid[64];
    par_job jobs[64];
    int w, nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    if ((size_t)nt > n)
        nt = n ? (int)n : 1;
    for (w = 0; w < nt; w++) {
        jobs[w].fn = fn;
        jobs[w].ctx = ctx;
        jobs[w].i0 = n * (size_t)w / (size_t)nt;
        jobs[w].i1 = n * (size_t)(w + 1) / (size_t)nt;
        jobs[w].work_size = work_size;
    }
    /* ranges 1 .. nt-1 on new threads (or here, where one cannot be made),
     * range 0 on this thread while they run: threads 1 creates no thread at
     * all (the serial path, e.g. under qemu-user) */
    for (w = 1; w < nt; w++)
        if (pthread_create(&tid[w], 0, par_thread, &jobs[w]) != 0) {
            par_thread(&jobs[w]);
            tid[w] = pthread_self();
        }
    par_thread(&jobs[0]);
    for (w = 1; w < nt; w++)
        if (!pthread_equal(tid[w], pthread_self()))
            pthread_join(tid[w], 0);
    for (w = 0; w < nt; w++)
        if (jobs[w].st)
            return jobs[w].st;
    return DPO_OK;
}

typedef struct prompt_ctx {
    dpo_trainer *tr;
    uint64_t it;
    dpo_train_stats *stats;
} prompt_ctx;

static dpo_status prompt_one(void *ctx, size_t b, void *work, size_t work_size)
{
    prompt_ctx *c = (prompt_ctx *)ctx;
    (void)work;
    (void)work_size;
    return dpo_trainer_sample(c->tr, c->it, b, c->stats + b);
}

/* One iteration with prompts split over threads (the split does not
 * change a bit: each prompt writes its own gradient slot). */
dpo_status cli_iteration_threads(dpo_trainer *tr, uint64_t it, int threads, dpo_train_stats *stats)
{
    prompt_ctx c;
    dpo_status st;
    c.tr = tr;
    c.it = it;
    c.stats = stats;
    if ((st = cli_parallel_for(prompt_one, &c, tr->cfg.batch, threads, 0)) != DPO_OK)
        return st;
    return dpo_trainer_apply(tr, it);
}

/* ------------------------------------------------------- trainer state */
#define STATE_MAGIC "DPOSTAT1"

/* Everything a trainer's next iterations depend on besides (lora, m, v):
 * the configuration, the network's shape, the base model and the pairs. */
static uint64_t state_key(const cli_train_spec *sp)
{
    const dpo_train_cfg *c = &sp->cfg;
    const dpo_mlp_cfg *m = sp->mc;
    double f[16];
    uint64_t u[20], h;
    size_t D = m->dim;
    memset(f, 0, sizeof f);
    memset(u, 0, sizeof u);
    u[0] = (uint64_t)c->method;
    u[1] = c->seed;
    u[2] = c->batch;
    u[3] = (uint64_t)c->num_steps;
    u[4] = (uint64_t)c->reward;
    u[5] = (uint64_t)c->lp_mode;
    u[6] = (uint64_t)c->train_from;
    u[7] = (uint64_t)c->train_every;
    u[8] = (uint64_t)c->k;
    u[9] = (uint64_t)c->kappa;
    u[10] = (uint64_t)c->resampler;
    u[11] = (uint64_t)c->guide_jac;
    u[12] = m->dim;
    u[13] = m->hidden;
    u[14] = m->temb;
    u[15] = m->n_classes;
    u[16] = m->cemb;
    u[17] = m->lora_rank;
    u[18] = (uint64_t)m->num_train_steps;
    u[19] = sp->n_pairs;
    f[0] = c->eta;
    f[1] = c->beta;
    f[2] = c->lambda;
    f[3] = c->clip_eps;
    f[4] = c->spo_thr;
    f[5] = c->guide_eta_min;
    f[6] = c->guide_eta_max;
    f[7] = c->guide_delta;
    f[8] = c->opt.lr;
    f[9] = c->opt.beta1;
    f[10] = c->opt.beta2;
    f[11] = c->opt.eps;
    f[12] = c->opt.weight_decay;
    f[13] = m->lora_alpha;
    h = dpo_hash64(u, sizeof u, 0x5747u);
    h = dpo_hash64(f, sizeof f, h);
    h = dpo_hash64(sp->base, dpo_mlp_num_base(m) * sizeof(float), h);
    if (sp->pairs && sp->n_pairs)
        h = dpo_hash64(sp->pairs, sp->n_pairs * 2 * D * sizeof(float), h);
    return h;
}

static uint64_t state_hash(const float *lora, const float *m, const float *v, size_t nl, uint64_t key, uint64_t it)
{
    uint64_t h = dpo_hash64(&it, sizeof it, key);
    h = dpo_hash64(lora, nl * sizeof(float), h);
    h = dpo_hash64(m, nl * sizeof(float), h);
    return dpo_hash64(v, nl * sizeof(float), h);
}

/* Writes the state to path (src/cli/outfile.c: a temporary beside it,
 * renamed at the end). */
static int state_save(const char *path, const float *lora, const float *m, const float *v, size_t nl, uint64_t key,
                      uint64_t it)
{
    cli_out o;
    FILE *f;
    uint64_t n = nl, h = state_hash(lora, m, v, nl, key, it);
    int ok;
    if (cli_out_open(&o, path, 0, 0))
        return -1;
    f = o.f;
    ok = fwrite(STATE_MAGIC, 1, 8, f) == 8 && fwrite(&key, 8, 1, f) == 1 && fwrite(&it, 8, 1, f) == 1 &&
         fwrite(&n, 8, 1, f) == 1 && fwrite(lora, sizeof(float), nl, f) == nl &&
         fwrite(m, sizeof(float), nl, f) == nl && fwrite(v, sizeof(float), nl, f) == nl && fwrite(&h, 8, 1, f) == 1;
    if (!ok) {
        cli_out_abort(&o, 1);
        return -1;
    }
    return cli_out_commit(&o, 1, 0, 0);
}

/* Reads a state into (lora, m, v) and *it; on any error the buffers are
 * unchanged and a message is returned. */
static const char *state_load_stream(FILE *f, float *lora, float *m, float *v, size_t nl, uint64_t key,
                                     uint64_t *it)
{
    char magic[8];
    uint64_t k, i, n, h;
    float *buf;
    const char *msg = 0;
    int c;
    buf = (float *)malloc(3 * nl * sizeof(float) + 1);
    if (!buf)
        return "out of memory";
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, STATE_MAGIC, 8) != 0)
        msg = "not a diffpo trainer state";
    else if (fread(&k, 8, 1, f) != 1 || fread(&i, 8, 1, f) != 1 || fread(&n, 8, 1, f) != 1)
        msg = "truncated header";
    else if (k != key)
        msg = "written under another configuration, base model or offline pairs (method, seed, batch, "
              "hyper-parameters must match)";
    else if (n != nl)
        msg = "parameter count differs";
    else if (fread(buf, sizeof(float), 3 * nl, f) != 3 * nl || fread(&h, 8, 1, f) != 1)
        msg = "truncated";
    else if ((c = fgetc(f)) != EOF)
        msg = "trailing bytes";
    else if (h != state_hash(buf, buf + nl, buf + 2 * nl, nl, key, i))
        msg = "XXH3 check failed (corrupted)";
    if (!msg) {
        memcpy(lora, buf, nl * sizeof(float));
        memcpy(m, buf + nl, nl * sizeof(float));
        memcpy(v, buf + 2 * nl, nl * sizeof(float));
        *it = i;
    }
    free(buf);
    return msg;
}

static const char *state_load(const char *path, float *lora, float *m, float *v, size_t nl, uint64_t key,
                              uint64_t *it)
{
    FILE *f = fopen(path, "rb");
    const char *msg;
    if (!f)
        return "cannot open it";
    msg = state_load_stream(f, lora, m, v, nl, key, it);
    fclose(f);
    return msg;
}

/* ------------------------------------------------------ one training run */
int cli_train_run(cli_train_out *out, const cli_train_spec *sp)
{
    const dpo_mlp_cfg *mc = sp->mc;
    size_t nl = dpo_mlp_num_lora(mc), B = sp->cfg.batch, ws, b;
    float *lora = 0, *m = 0, *v = 0;
    void *work = 0, *ework = 0;
    dpo_train_stats *stats = 0;
    dpo_trainer tr;
    dpo_status st;
    const char *name = sp->label ? sp->label : dpo_method_name(sp->cfg.method);
    double t0;
    int it, start = 0, rc = 0;
    uint64_t key = 0;

    ws = dpo_trainer_workspace_size(&sp->cfg, mc);
    if (ws == 0)
        return cli_fail(sp->cmd, "%s: invalid trainer configuration", name);
    lora = (float *)cli_xaligned(nl * sizeof(float));
    m = (float *)cli_xaligned(nl * sizeof(float));
    v = (float *)cli_xaligned(nl * sizeof(float));
    work = cli_xaligned(ws);
    ework = cli_xaligned(dpo_eval_workspace_size(mc));
    stats = (dpo_train_stats *)calloc(B, sizeof *stats);
    if (!lora || !m || !v || !work || !ework || !stats) {
        rc = cli_fail(sp->cmd, "out of memory");
        goto done;
    }
    dpo_mlp_init_lora(lora, mc, sp->cfg.seed);
    if ((st = dpo_trainer_init(&tr, &sp->cfg, mc, sp->sched, sp->base, lora, m, v, work, ws)) != DPO_OK ||
        ((sp->cfg.method == DPO_METHOD_DIFFDPO || sp->cfg.method == DPO_METHOD_DSPO) &&
         (st = dpo_trainer_set_pairs(&tr, sp->pairs, sp->pair_cls, sp->n_pairs)) != DPO_OK)) {
        rc = cli_fail(sp->cmd, "%s: %s", name, dpo_status_str(st));
        goto done;
    }
    if (sp->save_state || sp->resume_state)
        key = state_key(sp);
    if (sp->resume_state) {
        uint64_t at = 0;
        const char *msg = state_load(sp->resume_state, lora, m, v, nl, key, &at);
        if (msg) {
            rc = cli_fail(sp->cmd, "%s: --resume %s: %s", name, sp->resume_state, msg);
            goto done;
        }
        if (at > (uint64_t)sp->iters) {
            rc = cli_fail(sp->cmd, "%s: --resume %s: the state is after iteration %llu, beyond --iters %d", name,
                          sp->resume_state, (unsigned long long)at, sp->iters);
            goto done;
        }
        start = (int)at;
        for (it = 0; it < start; it++) {
            if (out->reward_curve)
                out->reward_curve[it] = NAN;
            if (out->lr_loser_curve)
                out->lr_loser_curve[it] = NAN;
            if (out->lr_winner_curve)
                out->lr_winner_curve[it] = NAN;
        }
        if (!sp->quiet)
            fprintf(stderr, "%s: %s resumed after iteration %d from %s\n", sp->cmd, name, start, sp->resume_state);
    }
    t0 = cli_wall_now();
    for (it = start; it < sp->iters; it++) {
        double r = 0, lw = 0, ll = 0;
        if ((st = cli_iteration_threads(&tr, (uint64_t)it, sp->threads, stats)) != DPO_OK) {
            rc = cli_fail(sp->cmd, "%s, iteration %d: %s", name, it, dpo_status_str(st));
            goto done;
        }
        for (b = 0; b < B; b++) {
            r += stats[b].reward / (double)B;
            ll += stats[b].lr_loser / (double)B;
            lw += stats[b].lr_winner / (double)B;
        }
        if (out->reward_curve)
            out->reward_curve[it] = r;
        if (out->lr_loser_curve)
            out->lr_loser_curve[it] = ll;
        if (out->lr_winner_curve)
            out->lr_winner_curve[it] = lw;
        if (!sp->quiet && (it % 10 == 9 || it == sp->iters - 1))
            fprintf(stderr, "\r%s: %-13s iteration %d/%d, training reward %.4f, %.1f s", sp->cmd, name, it + 1,
                    sp->iters, r, cli_wall_now() - t0);
    }
    if (!sp->quiet)
        fprintf(stderr, "\n");
    out->wall = cli_wall_now() - t0;
    out->fingerprint = dpo_hash64(lora, nl * sizeof(float), 0);
    if (sp->save_state && state_save(sp->save_state, lora, m, v, nl, key, (uint64_t)sp->iters) != 0) {
        rc = cli_fail(sp->cmd, "%s: --save-state %s: cannot write it", name, sp->save_state);
        goto done;
    }
    st = dpo_eval_model_reward(&out->after, out->images, sp->eval_seed, sp->eval_per_class, mc, sp->base, lora,
                               sp->sched,
                         sp->cfg.reward, sp->cfg.num_steps, sp->cfg.eta, ework, dpo_eval_workspace_size(mc));
    if (st)
        rc = cli_fail(sp->cmd, "%s evaluation: %s", name, dpo_status_str(st));
done:
    free(lora);
    free(m);
    free(v);
    free(work);
    free(ework);
    free(stats);
    return rc;
}
