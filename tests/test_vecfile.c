/* The vector-file parser (docs/vectors.md sections 1-2): records, events,
 * errors with line numbers; numbers; and the splitmix64 `gen` generator
 * against the known answers published in docs/vectors.md section 3. */
#include <math.h>
#include <stdlib.h>
#include "diffpo.h"
#include "tools/diffpo_tools.h"
#include "check.h"

typedef struct rec {
    int nb, nf, ne;
    char keys[16][32];
    char vals[16][128];
    size_t lines[16];
} rec;

static int cb(void *u, dpo_vec_event ev, const dpo_vec_field *f)
{
    rec *r = (rec *)u;
    int i = r->nb + r->nf + r->ne;
    if (i < 16) {
        memcpy(r->keys[i], f->key, f->key_len < 31 ? f->key_len : 31);
        r->keys[i][f->key_len < 31 ? f->key_len : 31] = 0;
        memcpy(r->vals[i], f->value, f->value_len < 127 ? f->value_len : 127);
        r->vals[i][f->value_len < 127 ? f->value_len : 127] = 0;
        r->lines[i] = f->line;
    }
    if (ev == DPO_VEC_BEGIN)
        r->nb++;
    else if (ev == DPO_VEC_FIELD)
        r->nf++;
    else
        r->ne++;
    return 0;
}

static int stop_cb(void *u, dpo_vec_event ev, const dpo_vec_field *f)
{
    (void)u;
    (void)f;
    return ev == DPO_VEC_FIELD;
}

static void test_good(void)
{
    /* records in a non-canonical order, blanks and tabs, comments */
    const char *s = "# head\n\ncase  stepdpo-f64-0001\n\tprec f64\nfn stepdpo\n  # c\n"
                    "in x_w 2 0x1p+0 -0x1p-1   \nref TailorPO eq. 5\nend\ncase b\nend";
    rec r;
    size_t line = 0;
    memset(&r, 0, sizeof r);
    CHECK(dpo_vec_parse(s, strlen(s), cb, &r, &line, NULL) == DPO_OK, "parse");
    CHECK(r.nb == 2 && r.nf == 4 && r.ne == 2, "events %d %d %d", r.nb, r.nf, r.ne);
    CHECK(!strcmp(r.vals[0], "stepdpo-f64-0001") && r.lines[0] == 3, "case id '%s' line %zu", r.vals[0],
          r.lines[0]);
    CHECK(!strcmp(r.keys[1], "prec") && !strcmp(r.vals[1], "f64") && r.lines[1] == 4, "prec '%s'", r.vals[1]);
    CHECK(!strcmp(r.keys[3], "in") && !strcmp(r.vals[3], "x_w 2 0x1p+0 -0x1p-1") && r.lines[3] == 7, "in '%s'",
          r.vals[3]);
    CHECK(!strcmp(r.keys[4], "ref") && !strcmp(r.vals[4], "TailorPO eq. 5"), "ref '%s'", r.vals[4]);
    CHECK(!strcmp(r.keys[5], "end") && r.lines[5] == 9, "end line %zu", r.lines[5]);
    {
        size_t l = 0;
        CHECK(dpo_vec_parse("case a\nfn x\nend\n", 16, stop_cb, NULL, &l, NULL) == DPO_ERR_MODEL && l == 2,
              "callback stop -> DPO_ERR_MODEL at its line (%zu)", l);
    }
}

static void test_errors(void)
{
    static const struct {
        const char *s;
        size_t line;
    } bad[] = {
        {"case a\nfn x\n", 1},                /* no end */
        {"fn x\n", 1},                        /* record outside a case */
        {"case a\ncase b\nend\n", 2},         /* nesting */
        {"end\n", 1},                         /* end outside */
        {"case a\nend x\nend\n", 2},          /* text after end */
        {"case\nend\n", 1},                   /* no id */
        {"case a b\nend\n", 1},               /* two names */
        {"case a\n@x 1\nend\n", 2},           /* bad keyword character */
        {"case a\nk$ 1\nend\n", 2},
        {"case a\nexpect.z 1\nend\n", 2},     /* unknown keyword */
        {"case a\ndtype f64\nend\n", 2},
        {"case a\nfn = x\nend\n", 1 + 1},     /* '=' is no separator: still fn, value "= x" is not an error here */
        {"case a\ngot z 1 0x1p+0\nend\n", 2}, /* diffpo loss output */
        {"case a\nerror bad\nend\n", 2},
        {"case a\r\nend\n", 1},               /* CR */
        {"case a\nfn x\xc3\xa9\nend\n", 2},   /* non-ASCII */
        {"case a\nfn\x01x\nend\n", 2},        /* control character */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rec r;
        size_t line = 0;
        const char *msg = NULL;
        dpo_status st;
        memset(&r, 0, sizeof r);
        st = dpo_vec_parse(bad[i].s, strlen(bad[i].s), cb, &r, &line, &msg);
        if (i == 11) { /* lexically fine: the evaluator rejects the fn identifier "= x" */
            CHECK(st == DPO_OK && !strcmp(r.vals[1], "= x"), "case %zu", i);
            continue;
        }
        CHECK(st == DPO_ERR_FORMAT && line == bad[i].line && msg && *msg, "case %zu: status %d line %zu (want %zu)",
              i, (int)st, line, bad[i].line);
    }
    {
        const char s[] = "case a\nfn 1\0\nend\n";
        rec r;
        size_t line = 0;
        memset(&r, 0, sizeof r);
        CHECK(dpo_vec_parse(s, sizeof s - 1, cb, &r, &line, NULL) == DPO_ERR_FORMAT && line == 2, "NUL byte");
    }
    {
        /* a comment line of exactly 1 MiB is fine, one byte more is not */
        size_t n = DPO_VEC_MAX_LINE + 16;
        char *s = (char *)malloc(n);
        size_t line = 0;
        rec r;
        if (s) {
            memset(s, 'a', n);
            s[0] = '#';
            s[DPO_VEC_MAX_LINE] = '\n';
            memset(&r, 0, sizeof r);
            CHECK(dpo_vec_parse(s, DPO_VEC_MAX_LINE + 1, cb, &r, &line, NULL) == DPO_OK, "1 MiB line");
            s[DPO_VEC_MAX_LINE] = 'a';
            s[DPO_VEC_MAX_LINE + 1] = '\n';
            CHECK(dpo_vec_parse(s, DPO_VEC_MAX_LINE + 2, cb, &r, &line, NULL) == DPO_ERR_FORMAT && line == 1,
                  "1 MiB + 1 line");
            free(s);
        }
    }
    CHECK(dpo_vec_parse("x", 1, NULL, NULL, NULL, NULL) == DPO_ERR_NULL, "null cb");
}

static void test_numbers(void)
{
    double v[4] = {7, 7, 7, 7};
    size_t n = 99;
    const char *s = "0x1.8p+0 -2.5e-3\t0x0.0000000000001p-1022";
    CHECK(dpo_vec_numbers(v, 4, &n, s, strlen(s)) == DPO_OK && n == 3, "count %zu", n);
    CHECK(v[0] == 1.5 && v[1] == -2.5e-3 && v[2] == 4.9406564584124654e-324 && v[3] == 7, "values");
    v[0] = 7;
    n = 99;
    CHECK(dpo_vec_numbers(v, 2, &n, s, strlen(s)) == DPO_ERR_SIZE && v[0] == 7 && n == 99, "cap: untouched");
    CHECK(dpo_vec_numbers(v, 4, &n, "1 2x", 4) == DPO_ERR_FORMAT && v[0] == 7, "bad token: untouched");
    CHECK(dpo_vec_numbers(v, 4, &n, "1 (2)", 5) == DPO_ERR_FORMAT, "parentheses are not part of the format");
    CHECK(dpo_vec_numbers(v, 4, &n, "nan", 3) == DPO_ERR_FORMAT, "nan");
    CHECK(dpo_vec_numbers(v, 4, &n, "-inf", 4) == DPO_ERR_FORMAT, "inf");
    CHECK(dpo_vec_numbers(v, 4, &n, "0x1p+1024", 9) == DPO_ERR_FORMAT, "overflow to inf");
    CHECK(dpo_vec_numbers(v, 4, &n, "", 0) == DPO_OK && n == 0, "empty");
}

/* docs/vectors.md section 3, known answers: seed 0, lo = -1, hi = 1. */
static void test_splitmix64(void)
{
    static const double f64[3] = {0x1.8882a0e5ec772p-1, -0x1.18761955e46ap-3, -0x1.e4ee8b9dffdb0p-1};
    static const float f32[3] = {0x1.8882ap-1f, -0x1.18761ap-3f, -0x1.e4ee8cp-1f};
    /* u = z >> 11 * 2^-53 for the published z words, then w u + lo */
    static const unsigned long long z[3] = {0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f4ULL, 0x06c45d188009454fULL};
    double v[3], w[3], b[3], vb[3];
    int i;
    v[0] = v[1] = v[2] = 7;
    dpo_vec_splitmix64(v, 3, 0, -1.0, 1.0, NULL, 0);
    for (i = 0; i < 3; i++) {
        double u = (double)(z[i] >> 11) * 0x1p-53;
        CHECK(v[i] == f64[i], "f64 v[%d] = %a, published %a", i, v[i], f64[i]);
        CHECK(v[i] == -1.0 + 2.0 * u, "v[%d] from the published z word", i);
    }
    dpo_vec_splitmix64(w, 3, 0, -1.0, 1.0, NULL, 1);
    for (i = 0; i < 3; i++)
        CHECK(w[i] == (double)f32[i], "f32 v[%d] = %a, published %a", i, w[i], (double)f32[i]);
    /* a base is added last, then the f32 rounding */
    b[0] = 0x1p+20;
    b[1] = -0.75;
    b[2] = 0x1p-30;
    dpo_vec_splitmix64(vb, 3, 0, -1.0, 1.0, b, 0);
    for (i = 0; i < 3; i++)
        CHECK(vb[i] == b[i] + f64[i], "base v[%d]", i);
    dpo_vec_splitmix64(vb, 3, 0, -1.0, 1.0, b, 1);
    for (i = 0; i < 3; i++)
        CHECK(vb[i] == (double)(float)(b[i] + f64[i]), "base f32 v[%d]", i);
    /* lo > hi and a zero width */
    dpo_vec_splitmix64(vb, 3, 0, 1.0, -1.0, NULL, 0);
    for (i = 0; i < 3; i++)
        CHECK(vb[i] == 1.0 + (-2.0) * ((double)(z[i] >> 11) * 0x1p-53), "negative width v[%d]", i);
    dpo_vec_splitmix64(vb, 3, 0, 0.25, 0.25, NULL, 0);
    CHECK(vb[0] == 0.25 && vb[1] == 0.25 && vb[2] == 0.25, "zero width");
    dpo_vec_splitmix64(NULL, 3, 0, 0, 1, NULL, 0); /* no crash */
}

int main(void)
{
    RUN(test_good);
    RUN(test_errors);
    RUN(test_numbers);
    RUN(test_splitmix64);
    return chk_summary();
}
