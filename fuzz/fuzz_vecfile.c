/* libFuzzer harness of the vector-file parser (dpo_vec_parse,
 * dpo_vec_numbers, dpo_vec_splitmix64; docs/vectors.md).  Invariants
 * checked: no crash; every event's key and value lie inside the input;
 * lines never decrease; BEGIN/END alternate and a successful parse closes
 * every case; field keys are record keywords of docs/vectors.md section 2;
 * values carry no leading or trailing blank and no CR, NUL or non-ASCII
 * byte; numbers parsed from a value are finite; the evaluator (below)
 * keeps its output contract on the same input, with no file I/O. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "tools/diffpo_tools.h"

/* The evaluator of `diffpo loss` / `diffpo verify` (dpo_vecrun_loss_buf,
 * src/tools/vecrun.c, linked from the tools archive) is fuzzed too, with
 * small gen arrays, entirely in memory: the input is passed as a buffer
 * and both streams are open_memstream buffers (no file is opened, read or
 * written).  Invariants beyond no crash, leak or sanitizer report (the
 * contract in src/tools/diffpo_tools.h): the status is DPO_OK or
 * DPO_ERR_FORMAT; DPO_ERR_FORMAT prints nothing on the result stream and
 * ends the error stream with one line "fuzz.vec:LINE: message"; the other
 * error lines are "FAIL fuzz.vec:LINE: ..." (a case whose values differ); DPO_OK
 * prints the file back, so every input line appears, in order, among the
 * result lines (the evaluator only adds got / error / comment lines). */
static int next_line(const char *b, size_t n, size_t *pos, const char **l, size_t *ll)
{
    size_t a = *pos;
    if (a >= n)
        return 0;
    while (*pos < n && b[*pos] != '\n')
        (*pos)++;
    *l = b + a;
    *ll = *pos - a;
    if (*pos < n)
        (*pos)++;
    return 1;
}

/* The error stream: lines "FAIL fuzz.vec:LINE: ..." (cases whose values
 * differ), then, when malformed is set, exactly one last line
 * "fuzz.vec:LINE: message" with a non-empty message. */
static void check_errors(const char *e, size_t n, int malformed)
{
    static const char fail[] = "FAIL fuzz.vec:", name[] = "fuzz.vec:";
    size_t pos = 0, ll, i, d = 0;
    const char *l = NULL, *last = NULL;
    size_t lastl = 0;
    if (n && e[n - 1] != '\n')
        abort();
    while (next_line(e, n, &pos, &l, &ll)) {
        if (last && (lastl < sizeof fail - 1 || memcmp(last, fail, sizeof fail - 1)))
            abort();
        last = l;
        lastl = ll;
    }
    if (!malformed) {
        if (last && (lastl < sizeof fail - 1 || memcmp(last, fail, sizeof fail - 1)))
            abort();
        return;
    }
    i = sizeof name - 1;
    if (!last || lastl < i || memcmp(last, name, i))
        abort();
    while (i < lastl && last[i] >= '0' && last[i] <= '9')
        i++, d++;
    if (d == 0 || i + 2 >= lastl || last[i] != ':' || last[i + 1] != ' ')
        abort(); /* no line number, or an empty message */
}

static void check_echo(const char *in, size_t n, const char *out, size_t on)
{
    size_t ip = 0, op = 0, il, ol;
    const char *l, *o;
    while (next_line(in, n, &ip, &l, &il)) {
        for (;;) {
            if (!next_line(out, on, &op, &o, &ol))
                abort(); /* an input line missing from the printed file */
            if (ol == il && !memcmp(o, l, il))
                break;
        }
    }
}

static void eval_buf(const uint8_t *data, size_t size)
{
    dpo_vecrun_io io;
    dpo_status st;
    char *ob = NULL, *eb = NULL;
    size_t on = 0, en = 0;
    io.out = open_memstream(&ob, &on);
    io.err = open_memstream(&eb, &en);
    if (!io.out || !io.err)
        abort();
    io.max_gen = 4096;
    st = dpo_vecrun_loss_buf(&io, "fuzz.vec", (const char *)data, size);
    if (fclose(io.out) || fclose(io.err))
        abort();
    if (st == DPO_ERR_FORMAT) {
        if (on != 0)
            abort();
        check_errors(eb, en, 1);
    } else if (st == DPO_OK) {
        check_echo((const char *)data, size, ob, on);
        check_errors(eb, en, 0);
    } else {
        abort();
    }
    free(ob);
    free(eb);
}

typedef struct st {
    const char *buf;
    size_t len, last_line;
    int open;
} st;

static int is_kw(const char *k, size_t n)
{
    static const char *const kw[] = {"fn", "ref", "prec", "reduce", "param", "in", "gen", "out", "alt", "tol"};
    size_t i;
    for (i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !memcmp(kw[i], k, n))
            return 1;
    return 0;
}

static int cb(void *u, dpo_vec_event ev, const dpo_vec_field *f)
{
    st *s = (st *)u;
    double v[16];
    size_t n, i;
    if (f->key < s->buf || f->key + f->key_len > s->buf + s->len || f->value < s->buf ||
        f->value + f->value_len > s->buf + s->len || f->line < s->last_line || f->key_len == 0)
        abort();
    s->last_line = f->line;
    if (f->value_len && (f->value[0] == ' ' || f->value[0] == '\t' || f->value[f->value_len - 1] == ' ' ||
                         f->value[f->value_len - 1] == '\t'))
        abort();
    for (i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if (c != '\t' && (c < 0x20 || c > 0x7e))
            abort();
    }
    if (ev == DPO_VEC_BEGIN) {
        if (s->open || f->value_len == 0)
            abort();
        s->open = 1;
    } else if (ev == DPO_VEC_END) {
        if (!s->open || f->value_len)
            abort();
        s->open = 0;
    } else if (!s->open || !is_kw(f->key, f->key_len))
        abort();
    if (dpo_vec_numbers(v, 16, &n, f->value, f->value_len) == DPO_OK)
        for (i = 0; i < n; i++)
            if (!(v[i] - v[i] == 0))
                abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st s;
    size_t line;
    const char *msg;
    double g[8];
    s.buf = (const char *)data;
    s.len = size;
    s.last_line = 0;
    s.open = 0;
    if (dpo_vec_parse(s.buf, size, cb, &s, &line, &msg) == DPO_OK && s.open)
        abort();
    eval_buf(data, size);
    if (size >= 24) { /* the generator: finite in, finite out for a finite width */
        uint64_t seed;
        double lo, hi;
        memcpy(&seed, data, 8);
        memcpy(&lo, data + 8, 8);
        memcpy(&hi, data + 16, 8);
        if (lo - lo == 0 && hi - hi == 0 && (hi - lo) - (hi - lo) == 0) {
            size_t i;
            dpo_vec_splitmix64(g, 8, seed, lo, hi, NULL, size & 1);
            for (i = 0; i < 8; i++)
                if (!(g[i] - g[i] == 0) && !(size & 1))
                    abort();
        }
    }
    return 0;
}
