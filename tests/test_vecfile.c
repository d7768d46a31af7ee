/* The vector-file parser: grammar, events, errors with line numbers,
 * numbers (hex floats, decimal copies skipped), outputs untouched on error. */
#include <math.h>
#include "diffpo.h"
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

static void test_good(void)
{
    const char *s = "# head\n\ncase  one two\r\nfn = tailorpo\n  x_w 1 0.5   # c\nempty\nend\ncase b\nend";
    rec r;
    size_t line = 0;
    memset(&r, 0, sizeof r);
    CHECK(dpo_vec_parse(s, strlen(s), cb, &r, &line, NULL) == DPO_OK, "parse");
    CHECK(r.nb == 2 && r.nf == 3 && r.ne == 2, "events %d %d %d", r.nb, r.nf, r.ne);
    CHECK(!strcmp(r.vals[0], "one two") && r.lines[0] == 3, "case name '%s' line %zu", r.vals[0], r.lines[0]);
    CHECK(!strcmp(r.keys[1], "fn") && !strcmp(r.vals[1], "tailorpo"), "fn = '%s'", r.vals[1]);
    CHECK(!strcmp(r.keys[2], "x_w") && !strcmp(r.vals[2], "1 0.5") && r.lines[2] == 5, "x_w '%s'", r.vals[2]);
    CHECK(!strcmp(r.keys[3], "empty") && r.vals[3][0] == 0, "empty value");
}

static void test_errors(void)
{
    static const struct {
        const char *s;
        size_t line;
    } bad[] = {
        {"case a\nfn x\n", 1},         {"fn x\n", 1},          {"case a\ncase b\nend\n", 2},
        {"end\n", 1},                  {"case a\nend x\nend\n", 2}, {"case\nend\n", 1},
        {"case a\n@x 1\nend\n", 2},    {"case a\nk$ 1\nend\n", 2},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rec r;
        size_t line = 0;
        const char *msg = NULL;
        memset(&r, 0, sizeof r);
        CHECK(dpo_vec_parse(bad[i].s, strlen(bad[i].s), cb, &r, &line, &msg) == DPO_ERR_FORMAT && line == bad[i].line &&
                  msg,
              "case %zu: line %zu (want %zu)", i, line, bad[i].line);
    }
    {
        const char s[] = "case a\nk 1\0\nend\n";
        rec r;
        size_t line = 0;
        memset(&r, 0, sizeof r);
        CHECK(dpo_vec_parse(s, sizeof s - 1, cb, &r, &line, NULL) == DPO_ERR_FORMAT && line == 2, "NUL byte");
    }
    CHECK(dpo_vec_parse("x", 1, NULL, NULL, NULL, NULL) == DPO_ERR_NULL, "null cb");
}

static void test_numbers(void)
{
    double v[4] = {7, 7, 7, 7};
    size_t n = 99;
    const char *s = "0x1.8p+0 (1.5) -2.5e-3, 0x1p-1074 (4.9e-324)";
    CHECK(dpo_vec_numbers(v, 4, &n, s, strlen(s)) == DPO_OK && n == 3, "count %zu", n);
    CHECK(v[0] == 1.5 && v[1] == -2.5e-3 && v[2] == 4.9406564584124654e-324 && v[3] == 7, "values");
    v[0] = 7;
    n = 99;
    CHECK(dpo_vec_numbers(v, 2, &n, s, strlen(s)) == DPO_ERR_SIZE && v[0] == 7 && n == 99, "cap: untouched");
    CHECK(dpo_vec_numbers(v, 4, &n, "1 2x", 4) == DPO_ERR_FORMAT && v[0] == 7, "bad token: untouched");
    CHECK(dpo_vec_numbers(v, 4, &n, "(1", 2) == DPO_ERR_FORMAT, "unclosed paren");
    CHECK(dpo_vec_numbers(v, 4, &n, "1)", 2) == DPO_ERR_FORMAT, "stray paren");
    CHECK(dpo_vec_numbers(v, 4, &n, "", 0) == DPO_OK && n == 0, "empty");
}

int main(void)
{
    RUN(test_good);
    RUN(test_errors);
    RUN(test_numbers);
    return chk_summary();
}
