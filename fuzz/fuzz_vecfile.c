/* libFuzzer harness of the vector-file parser (dpo_vec_parse,
 * dpo_vec_numbers).  Invariants checked: no crash, every event's key and
 * value lie inside the input, lines are increasing, BEGIN/END alternate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"

typedef struct st {
    const char *buf;
    size_t len, last_line;
    int open;
} st;

static int cb(void *u, dpo_vec_event ev, const dpo_vec_field *f)
{
    st *s = (st *)u;
    double v[16];
    size_t n;
    if (f->key < s->buf || f->key + f->key_len > s->buf + s->len || f->value < s->buf ||
        f->value + f->value_len > s->buf + s->len || f->line < s->last_line)
        abort();
    s->last_line = f->line;
    if (ev == DPO_VEC_BEGIN) {
        if (s->open)
            abort();
        s->open = 1;
    } else if (ev == DPO_VEC_END) {
        if (!s->open)
            abort();
        s->open = 0;
    } else if (!s->open)
        abort();
    (void)dpo_vec_numbers(v, 16, &n, f->value, f->value_len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st s;
    size_t line;
    const char *msg;
    s.buf = (const char *)data;
    s.len = size;
    s.last_line = 0;
    s.open = 0;
    if (dpo_vec_parse(s.buf, size, cb, &s, &line, &msg) == DPO_OK && s.open)
        abort();
    return 0;
}
