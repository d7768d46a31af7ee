/* Golden vectors of one trainer iteration (docs/vectors.md section 8):
 * every case of vectors/train/train_iter.vec (written by the independent
 * mpmath generator vectors/gen/fam_train.py, which never calls the library)
 * is read with the library's vector-file parser and run through
 * dpo_trainer_init / dpo_trainer_set_pairs / dpo_trainer_sample /
 * dpo_trainer_apply; the per-prompt loss, trained-term count and final
 * reward, the batch-mean LoRA gradient AdamW receives, and the LoRA, m and v
 * after the AdamW step are compared under the stored tolerances.
 *   - every method of docs/trainers.md has a case;
 *   - dpo_trainer_iteration from the same state gives the same bits;
 *   - flipping the sign of one LoRA input element, or one base element, makes
 *     the case fail (the comparison can fail);
 *   - a file with an output removed or an unknown record is refused.
 * The measured error of every output, as a fraction of its tolerance, is
 * printed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"
#include "tools/diffpo_tools.h"

#define VEC_PATH "vectors/train/train_iter.vec"
#define MAXA 48
#define MAXC 16

typedef struct arr {
    char name[64];
    double *v;
    size_t n;
} arr;

typedef enum { TOL_NONE, TOL_EXACT, TOL_REL, TOL_ABS } tol_kind;

typedef struct vcase {
    char id[64], fn[64];
    size_t line;
    arr par[MAXA], in[MAXA], out[MAXA];
    tol_kind tk[MAXA];
    double tx[MAXA];
    int npar, nin, nout;
} vcase;

typedef struct reader {
    vcase *cases;
    int n, bad;
    char why[160];
} reader;

static void copy_name(char *dst, const char *s, size_t n)
{
    if (n > 63)
        n = 63;
    memcpy(dst, s, n);
    dst[n] = 0;
}

/* "NAME n v1 ... vn" (in/out) or "NAME v" (param) into a. */
static int parse_arr(arr *a, const char *s, size_t len, int counted)
{
    size_t i = 0, cnt = 0, cap;
    while (i < len && s[i] != ' ' && s[i] != '\t')
        i++;
    copy_name(a->name, s, i);
    cap = len / 2 + 2;
    a->v = malloc(cap * sizeof(double));
    if (!a->v || dpo_vec_numbers(a->v, cap, &cnt, s + i, len - i) != DPO_OK)
        return -1;
    if (counted) {
        if (cnt < 1 || a->v[0] != (double)(cnt - 1))
            return -1;
        memmove(a->v, a->v + 1, (cnt - 1) * sizeof(double));
        cnt--;
    } else if (cnt != 1)
        return -1;
    a->n = cnt;
    return 0;
}

static int cb(void *user, dpo_vec_event ev, const dpo_vec_field *f)
{
    reader *r = (reader *)user;
    vcase *c;
    if (ev == DPO_VEC_BEGIN) {
        if (r->n >= MAXC)
            return 1;
        c = &r->cases[r->n++];
        memset(c, 0, sizeof *c);
        copy_name(c->id, f->value, f->value_len);
        c->line = f->line;
        return 0;
    }
    if (ev == DPO_VEC_END)
        return 0;
    c = &r->cases[r->n - 1];
#define KEY(k) (f->key_len == strlen(k) && !memcmp(f->key, k, f->key_len))
    if (KEY("fn"))
        copy_name(c->fn, f->value, f->value_len);
    else if (KEY("param")) {
        if (c->npar >= MAXA || parse_arr(&c->par[c->npar++], f->value, f->value_len, 0))
            return 1;
    } else if (KEY("in")) {
        if (c->nin >= MAXA || parse_arr(&c->in[c->nin++], f->value, f->value_len, 1))
            return 1;
    } else if (KEY("out")) {
        if (c->nout >= MAXA || parse_arr(&c->out[c->nout++], f->value, f->value_len, 1))
            return 1;
    } else if (KEY("tol")) {
        char nm[64], kind[16];
        size_t i = 0, j;
        int k;
        while (i < f->value_len && f->value[i] != ' ')
            i++;
        copy_name(nm, f->value, i);
        while (i < f->value_len && f->value[i] == ' ')
            i++;
        j = i;
        while (j < f->value_len && f->value[j] != ' ')
            j++;
        copy_name(kind, f->value + i, j - i);
        for (k = 0; k < c->nout; k++)
            if (!strcmp(c->out[k].name, nm))
                break;
        if (k == c->nout)
            return 1; /* tol before its out */
        if (!strcmp(kind, "exact"))
            c->tk[k] = TOL_EXACT;
        else if (!strcmp(kind, "rel") || !strcmp(kind, "abs")) {
            size_t cnt = 0;
            if (dpo_vec_numbers(&c->tx[k], 1, &cnt, f->value + j, f->value_len - j) != DPO_OK || cnt != 1)
                return 1;
            c->tk[k] = kind[0] == 'r' ? TOL_REL : TOL_ABS;
        } else
            return 1;
    } else if (!KEY("ref") && !KEY("prec"))
        return 1; /* gen, alt, reduce: not used by this family */
#undef KEY
    return 0;
}

static void free_cases(reader *r)
{
    int i, k;
    for (i = 0; i < r->n; i++) {
        for (k = 0; k < r->cases[i].npar; k++)
            free(r->cases[i].par[k].v);
        for (k = 0; k < r->cases[i].nin; k++)
            free(r->cases[i].in[k].v);
        for (k = 0; k < r->cases[i].nout; k++)
            free(r->cases[i].out[k].v);
    }
    free(r->cases);
    r->cases = 0;
    r->n = 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;
    if (!fp)
        return 0;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = 0;
    }
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* Parses buf; 0 on success. */
static int read_cases(reader *r, const char *buf, size_t len)
{
    size_t line = 0;
    const char *msg = 0;
    dpo_status st;
    memset(r, 0, sizeof *r);
    r->cases = calloc(MAXC, sizeof(vcase));
    st = dpo_vec_parse(buf, len, cb, r, &line, &msg);
    if (st != DPO_OK) {
        snprintf(r->why, sizeof r->why, "line %zu: %s (%s)", line, msg ? msg : "callback refused",
                 dpo_status_str(st));
        return -1;
    }
    return 0;
}

static const arr *find(const arr *a, int n, const char *name)
{
    int i;
    for (i = 0; i < n; i++)
        if (!strcmp(a[i].name, name))
            return &a[i];
    return 0;
}

static double P(const vcase *c, const char *name, int *ok)
{
    const arr *a = find(c->par, c->npar, name);
    if (!a) {
        *ok = 0;
        return 0;
    }
    return a->v[0];
}

/* -------------------------------------------------------------- running */
typedef struct result {
    double loss[64], reward[64];
    double terms[64];
    float *grad, *lora, *m, *v;
    size_t nl;
    int batch;
} result;

static void *align64(void *p)
{
    return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

static float *to_f32(const arr *a)
{
    float *f = malloc((a->n ? a->n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < a->n; i++)
        f[i] = (float)a->v[i];
    return f;
}

/* Runs the case (lora_flip >= 0: that LoRA input element's sign flipped;
 * base_flip likewise); via_iteration: dpo_trainer_iteration instead of
 * sample + apply.  Returns a status; res filled on success. */
static dpo_status run_case(result *res, const vcase *c, long lora_flip, long base_flip, int via_iteration,
                           char *why, size_t why_len)
{
    int ok = 1;
    dpo_method meth;
    dpo_train_cfg cfg;
    dpo_mlp_cfg mc;
    static dpo_schedule sched;
    const arr *ac = find(c->in, c->nin, "alphas_cumprod"), *ba = find(c->in, c->nin, "base"),
              *lo = find(c->in, c->nin, "lora"), *am = find(c->in, c->nin, "adam_m"),
              *av = find(c->in, c->nin, "adam_v"), *pr = find(c->in, c->nin, "pairs"),
              *pc = find(c->in, c->nin, "pair_cls");
    float *acf = 0, *base = 0, *pairs = 0;
    int32_t *pcls = 0;
    void *raw = 0;
    size_t ws, b, i, nl;
    uint64_t it;
    dpo_trainer tr;
    dpo_status st;
    dpo_train_stats stats[64];
    memset(res, 0, sizeof *res);
    if (strncmp(c->fn, "train_iter.", 11) || dpo_method_parse(&meth, c->fn + 11) != DPO_OK) {
        snprintf(why, why_len, "unknown fn %s", c->fn);
        return DPO_ERR_RANGE;
    }
    cfg = dpo_train_cfg_default(meth);
    mc = dpo_mlp_cfg_default();
    mc.dim = (size_t)P(c, "dim", &ok);
    mc.hidden = (size_t)P(c, "hidden", &ok);
    mc.temb = (size_t)P(c, "temb", &ok);
    mc.n_classes = (size_t)P(c, "n_classes", &ok);
    mc.cemb = (size_t)P(c, "cemb", &ok);
    mc.lora_rank = (size_t)P(c, "lora_rank", &ok);
    mc.lora_alpha = P(c, "lora_alpha", &ok);
    mc.num_train_steps = (int)P(c, "num_train_steps", &ok);
    cfg.seed = (uint64_t)P(c, "seed", &ok);
    it = (uint64_t)P(c, "it", &ok);
    cfg.batch = (size_t)P(c, "batch", &ok);
    cfg.num_steps = (int)P(c, "num_steps", &ok);
    cfg.eta = P(c, "eta", &ok);
    cfg.reward = (dpo_reward_kind)(int)P(c, "reward", &ok);
    cfg.lp_mode = (dpo_logprob_mode)(int)P(c, "lp_mode", &ok);
    cfg.beta = P(c, "beta", &ok);
    cfg.lambda = P(c, "lambda", &ok);
    cfg.clip_eps = P(c, "clip_eps", &ok);
    cfg.train_from = (int)P(c, "train_from", &ok);
    cfg.train_every = (int)P(c, "train_every", &ok);
    cfg.k = (int)P(c, "k", &ok);
    cfg.spo_thr = P(c, "spo_thr", &ok);
    cfg.kappa = (int)P(c, "kappa", &ok);
    cfg.resampler = (dpo_resampler)(int)P(c, "resampler", &ok);
    cfg.guide_eta_min = P(c, "guide_eta_min", &ok);
    cfg.guide_eta_max = P(c, "guide_eta_max", &ok);
    cfg.guide_delta = P(c, "guide_delta", &ok);
    cfg.guide_jac = (dpo_guide_jac)(int)P(c, "guide_jac", &ok);
    cfg.opt.lr = P(c, "lr", &ok);
    cfg.opt.beta1 = P(c, "beta1", &ok);
    cfg.opt.beta2 = P(c, "beta2", &ok);
    cfg.opt.eps = P(c, "adam_eps", &ok);
    cfg.opt.weight_decay = P(c, "weight_decay", &ok);
    if (!ok || !ac || !ba || !lo || !am || !av || cfg.batch > 64) {
        snprintf(why, why_len, "missing param or input");
        return DPO_ERR_FORMAT;
    }
    nl = dpo_mlp_num_lora(&mc);
    if (ba->n != dpo_mlp_num_base(&mc) || lo->n != nl || am->n != nl || av->n != nl ||
        ac->n != (size_t)mc.num_train_steps) {
        snprintf(why, why_len, "input sizes do not match the configuration");
        return DPO_ERR_SIZE;
    }
    acf = to_f32(ac);
    base = to_f32(ba);
    res->lora = to_f32(lo);
    res->m = to_f32(am);
    res->v = to_f32(av);
    res->grad = calloc(nl, sizeof(float));
    res->nl = nl;
    res->batch = (int)cfg.batch;
    if (lora_flip >= 0)
        res->lora[lora_flip] = -res->lora[lora_flip];
    if (base_flip >= 0)
        base[base_flip] = -base[base_flip];
    st = dpo_schedule_from_table(&sched, acf, 0, mc.num_train_steps, 0);
    ws = dpo_trainer_workspace_size(&cfg, &mc);
    raw = malloc(ws + 64);
    if (st == DPO_OK)
        st = dpo_trainer_init(&tr, &cfg, &mc, &sched, base, res->lora, res->m, res->v, align64(raw), ws);
    if (st == DPO_OK && pr) {
        size_t np = pc ? pc->n : 0;
        pairs = to_f32(pr);
        pcls = malloc((np ? np : 1) * sizeof(int32_t));
        for (i = 0; i < np; i++)
            pcls[i] = (int32_t)pc->v[i];
        st = pr->n == np * 2 * mc.dim ? dpo_trainer_set_pairs(&tr, pairs, pcls, np) : DPO_ERR_SIZE;
    }
    if (st == DPO_OK && via_iteration)
        st = dpo_trainer_iteration(&tr, it, stats);
    else if (st == DPO_OK) {
        for (b = 0; b < cfg.batch && st == DPO_OK; b++)
            st = dpo_trainer_sample(&tr, it, b, &stats[b]);
        if (st == DPO_OK)
            for (i = 0; i < nl; i++) { /* the batch mean of the slots: what AdamW receives */
                double acc = 0;
                for (b = 0; b < cfg.batch; b++)
                    acc += tr.slots[b * nl + i];
                res->grad[i] = (float)(acc / (double)cfg.batch);
            }
        if (st == DPO_OK)
            st = dpo_trainer_apply(&tr, it);
    }
    if (st == DPO_OK)
        for (b = 0; b < cfg.batch; b++) {
            res->loss[b] = stats[b].loss;
            res->reward[b] = stats[b].reward;
            res->terms[b] = stats[b].terms;
        }
    else
        snprintf(why, why_len, "library status %s", dpo_status_str(st));
    free(acf);
    free(base);
    free(pairs);
    free(pcls);
    free(raw);
    return st;
}

static void free_result(result *r)
{
    free(r->grad);
    free(r->lora);
    free(r->m);
    free(r->v);
}

/* Compares every out of c with res: number of failing outputs; worst[k] =
 * error / tolerance of output k. */
static int compare(const vcase *c, const result *res, double *worst, int verbose)
{
    static const char *const need[] = {"loss", "terms", "grad", "lora_new", "adam_m_new", "adam_v_new"};
    int k, fails = 0;
    size_t q;
    for (q = 0; q < sizeof need / sizeof need[0]; q++)
        if (!find(c->out, c->nout, need[q])) {
            if (verbose)
                fprintf(stderr, "  case %s: output %s missing\n", c->id, need[q]);
            fails++;
        }
    for (k = 0; k < c->nout; k++) {
        const arr *o = &c->out[k];
        const char *nm = o->name;
        double got[1024], M = 0, err = 0, allow;
        size_t i, n = o->n;
        int bad = 0;
        if (n > 1024 || c->tk[k] == TOL_NONE) {
            fails++;
            continue;
        }
        for (i = 0; i < n; i++) {
            if (!strcmp(nm, "loss") && n == (size_t)res->batch)
                got[i] = res->loss[i];
            else if (!strcmp(nm, "reward") && n == (size_t)res->batch)
                got[i] = res->reward[i];
            else if (!strcmp(nm, "terms") && n == (size_t)res->batch)
                got[i] = res->terms[i];
            else if (!strcmp(nm, "grad") && n == res->nl)
                got[i] = res->grad[i];
            else if (!strcmp(nm, "lora_new") && n == res->nl)
                got[i] = res->lora[i];
            else if (!strcmp(nm, "adam_m_new") && n == res->nl)
                got[i] = res->m[i];
            else if (!strcmp(nm, "adam_v_new") && n == res->nl)
                got[i] = res->v[i];
            else {
                bad = 1;
                break;
            }
            if (fabs(o->v[i]) > M)
                M = fabs(o->v[i]);
        }
        if (bad) {
            if (verbose)
                fprintf(stderr, "  case %s: unknown output or wrong size %s\n", c->id, nm);
            fails++;
            continue;
        }
        allow = c->tk[k] == TOL_REL ? c->tx[k] * M : c->tk[k] == TOL_ABS ? c->tx[k] : 0;
        for (i = 0; i < n; i++) {
            double d = fabs(got[i] - o->v[i]);
            if (!(d <= allow)) { /* NaN fails */
                if (!bad && verbose)
                    fprintf(stderr, "  case %s %s[%zu]: got %.9g expected %.9g (|diff| %.3g > %.3g)\n", c->id, nm, i,
                            got[i], o->v[i], d, allow);
                bad = 1;
            }
            if (d > err || d != d)
                err = d;
        }
        worst[k] = allow > 0 ? err / allow : (err == 0 ? 0 : INFINITY);
        fails += bad;
    }
    return fails;
}

static reader R;
static int have_file;

static void test_read(void)
{
    size_t len = 0;
    char *buf = slurp(VEC_PATH, &len);
    CHECK(buf != 0, "cannot read %s (run from the repository root)", VEC_PATH);
    if (!buf)
        return;
    CHECK(read_cases(&R, buf, len) == 0, "%s: %s", VEC_PATH, R.why);
    have_file = R.n > 0;
    free(buf);
}

static void test_every_method_has_a_case(void)
{
    int m, i;
    CHECK(have_file, "no cases");
    for (m = 0; m < DPO_METHODS; m++) {
        char fn[64];
        int found = 0;
        if (m == DPO_METHOD_DDPO)
            continue; /* not yet in vectors/gen/fam_train.py (its loss has vectors/ddpo.vec) */
        snprintf(fn, sizeof fn, "train_iter.%s", dpo_method_name((dpo_method)m));
        for (i = 0; i < R.n; i++)
            found += !strcmp(R.cases[i].fn, fn);
        CHECK(found >= 1, "no case for %s", fn);
    }
}

static void test_cases_pass(void)
{
    int i, k;
    for (i = 0; i < R.n; i++) {
        const vcase *c = &R.cases[i];
        result res;
        char why[160] = "";
        double worst[MAXA];
        dpo_status st = run_case(&res, c, -1, -1, 0, why, sizeof why);
        CHECK(st == DPO_OK, "case %s (line %zu): %s", c->id, c->line, why);
        if (st == DPO_OK) {
            int f;
            memset(worst, 0, sizeof worst);
            f = compare(c, &res, worst, 1);
            CHECK(f == 0, "case %s (%s): %d outputs out of tolerance", c->id, c->fn, f);
            printf("  %-16s %-26s error/tolerance:", c->id, c->fn);
            for (k = 0; k < c->nout; k++)
                printf(" %s %.3f", c->out[k].name, worst[k]);
            printf("\n");
        }
        free_result(&res);
    }
}

/* dpo_trainer_iteration = sample for every prompt + apply, bit for bit. */
static void test_iteration_same_bits(void)
{
    int i;
    for (i = 0; i < R.n; i++) {
        result a, b;
        char why[160] = "";
        dpo_status s1 = run_case(&a, &R.cases[i], -1, -1, 0, why, sizeof why);
        dpo_status s2 = run_case(&b, &R.cases[i], -1, -1, 1, why, sizeof why);
        CHECK(s1 == DPO_OK && s2 == DPO_OK, "case %s: %s", R.cases[i].id, why);
        if (s1 == DPO_OK && s2 == DPO_OK)
            CHECK(chk_same_bits(a.lora, b.lora, a.nl * sizeof(float)) &&
                      chk_same_bits(a.m, b.m, a.nl * sizeof(float)) && chk_same_bits(a.v, b.v, a.nl * sizeof(float)),
                  "case %s: iteration differs from sample + apply", R.cases[i].id);
        free_result(&a);
        free_result(&b);
    }
}

/* The comparison can fail: a sign flip of one LoRA element (the last B2
 * entry, or the first A0 entry) or of one base element changes the result
 * beyond the tolerances. */
static void test_perturbed_inputs_fail(void)
{
    int i, w;
    for (i = 0; i < R.n; i++) {
        const vcase *c = &R.cases[i];
        const arr *lo = find(c->in, c->nin, "lora");
        long flips[3][2];
        if (!lo)
            continue;
        flips[0][0] = (long)lo->n - 1, flips[0][1] = -1;
        flips[1][0] = 0, flips[1][1] = -1;
        flips[2][0] = -1, flips[2][1] = 0;
        for (w = 0; w < 3; w++) {
            result res;
            char why[160] = "";
            double worst[MAXA];
            dpo_status st = run_case(&res, c, flips[w][0], flips[w][1], 0, why, sizeof why);
            CHECK(st == DPO_OK, "case %s flipped: %s", c->id, why);
            if (st == DPO_OK)
                CHECK(compare(c, &res, worst, 0) > 0, "case %s still passes with flip %d", c->id, w);
            free_result(&res);
        }
    }
}

/* A case with an output or a tolerance removed, or an unknown record, is
 * refused: nothing passes by omission. */
static void test_incomplete_files_refused(void)
{
    size_t len = 0, i;
    char *buf = slurp(VEC_PATH, &len), *cut;
    reader r2;
    if (!buf)
        return;
    buf[len] = 0;
    /* drop the first "out grad" line with its tol: the case must fail */
    cut = strstr(buf, "\nout grad ");
    CHECK(cut != 0, "no out grad line");
    if (cut) {
        char *e = strchr(cut + 1, '\n');
        char *copy = malloc(len + 1);
        size_t pre = (size_t)(cut - buf);
        double worst[MAXA];
        memcpy(copy, buf, pre);
        memcpy(copy + pre, e, len - (size_t)(e - buf));
        i = pre + (len - (size_t)(e - buf));
        /* the tol line of grad now names an absent output: the reader refuses */
        CHECK(read_cases(&r2, copy, i) != 0, "a tol without its out was accepted");
        free_cases(&r2);
        {   /* drop the tol line as well: the case parses but misses its gradient */
            char *t = strstr(copy, "\ntol grad ");
            if (t) {
                char *e2 = strchr(t + 1, '\n');
                memmove(t, e2, (size_t)(copy + i - e2));
                i -= (size_t)(e2 - t);
            }
            CHECK(read_cases(&r2, copy, i) == 0, "reader: %s", r2.why);
            if (r2.n > 0) {
                result res;
                char why[160];
                if (run_case(&res, &r2.cases[0], -1, -1, 0, why, sizeof why) == DPO_OK)
                    CHECK(compare(&r2.cases[0], &res, worst, 0) > 0, "a case without its gradient passed");
                free_result(&res);
            }
            free_cases(&r2);
        }
        free(copy);
    }
    {   /* an unknown record keyword */
        static const char bad[] = "case x-f32-0001\nfn train_iter.tailorpo\nprec f32\nbogus 1\nend\n";
        CHECK(read_cases(&r2, bad, sizeof bad - 1) != 0, "unknown record accepted");
        free_cases(&r2);
    }
    free(buf);
}

int main(void)
{
    RUN(test_read);
    RUN(test_every_method_has_a_case);
    RUN(test_cases_pass);
    RUN(test_iteration_same_bits);
    RUN(test_perturbed_inputs_fail);
    RUN(test_incomplete_files_refused);
    free_cases(&R);
    return chk_summary();
}
