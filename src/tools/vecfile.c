/* Golden-vector text parser (docs/vectors.md sections 1 and 2):
 * allocation-free, callback based.  This layer checks the lexical rules and
 * the case structure (case/end, known record keywords, names); the meaning
 * of the records is checked by the evaluator (src/tools/vecrun.c).
 * Fuzzed by fuzz/fuzz_vecfile.c. */
#include <stdlib.h>
#include <string.h>
#include "diffpo_tools.h"

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == ':' || c == '-';
}

static int word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n == k && memcmp(s, w, k) == 0;
}

/* The record keywords of docs/vectors.md section 2 (besides case/end). */
static int known_keyword(const char *s, size_t n)
{
    static const char *const kw[] = {"fn", "ref", "prec", "reduce", "param", "in", "gen", "out", "alt", "tol"};
    size_t i;
    for (i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (word_is(s, n, kw[i]))
            return 1;
    return 0;
}

static dpo_status fail(size_t *err_line, const char **err_msg, size_t line, const char *msg)
{
    if (err_line)
        *err_line = line;
    if (err_msg)
        *err_msg = msg;
    return DPO_ERR_FORMAT;
}

dpo_status dpo_vec_parse(const char *buf, size_t len, dpo_vec_callback cb, void *user, size_t *err_line,
                         const char **err_msg)
{
    size_t pos = 0, line = 0, open_line = 0;
    int in_case = 0;
    if (!cb || (!buf && len))
        return DPO_ERR_NULL;
    while (pos < len) {
        size_t a = pos, e, b, k0, k1, v0, v1;
        dpo_vec_field f;
        line++;
        while (pos < len && buf[pos] != '\n') {
            unsigned char c = (unsigned char)buf[pos];
            if (c == '\0')
                return fail(err_line, err_msg, line, "NUL byte");
            if (c == '\r')
                return fail(err_line, err_msg, line, "carriage return (lines must end with \\n only)");
            if (c != '\t' && (c < 0x20 || c > 0x7e))
                return fail(err_line, err_msg, line, "non-ASCII or control character");
            pos++;
            if (pos - a > DPO_VEC_MAX_LINE)
                return fail(err_line, err_msg, line, "line longer than 1 MiB");
        }
        e = pos; /* line is buf[a..e) */
        if (pos < len)
            pos++; /* skip '\n' */
        b = a;
        while (b < e && is_blank(buf[b]))
            b++;
        if (b == e || buf[b] == '#')
            continue;
        k0 = b;
        while (b < e && is_name_char(buf[b]))
            b++;
        k1 = b;
        if (k1 == k0 || (b < e && !is_blank(buf[b])))
            return fail(err_line, err_msg, line, "expected a record keyword");
        while (b < e && is_blank(buf[b]))
            b++;
        v0 = b;
        v1 = e;
        while (v1 > v0 && is_blank(buf[v1 - 1]))
            v1--;
        f.key = buf + k0;
        f.key_len = k1 - k0;
        f.value = buf + v0;
        f.value_len = v1 - v0;
        f.line = line;
        if (word_is(f.key, f.key_len, "case")) {
            size_t j;
            if (in_case)
                return fail(err_line, err_msg, line, "'case' before 'end' of the previous case");
            if (f.value_len == 0)
                return fail(err_line, err_msg, line, "'case' needs an id");
            for (j = 0; j < f.value_len; j++)
                if (!is_name_char(f.value[j]))
                    return fail(err_line, err_msg, line, "bad case id (one name [A-Za-z0-9_.:-]+)");
            in_case = 1;
            open_line = line;
            if (cb(user, DPO_VEC_BEGIN, &f)) {
                if (err_line)
                    *err_line = line;
                return DPO_ERR_MODEL;
            }
        } else if (word_is(f.key, f.key_len, "end")) {
            if (!in_case)
                return fail(err_line, err_msg, line, "'end' outside a case");
            if (f.value_len)
                return fail(err_line, err_msg, line, "text after 'end'");
            in_case = 0;
            if (cb(user, DPO_VEC_END, &f)) {
                if (err_line)
                    *err_line = line;
                return DPO_ERR_MODEL;
            }
        } else {
            if (word_is(f.key, f.key_len, "got") || word_is(f.key, f.key_len, "error"))
                return fail(err_line, err_msg, line,
                            "'got'/'error' records are diffpo loss output, not part of a vector file");
            if (!known_keyword(f.key, f.key_len))
                return fail(err_line, err_msg, line, "unknown record keyword");
            if (!in_case)
                return fail(err_line, err_msg, line, "record outside a case");
            if (cb(user, DPO_VEC_FIELD, &f)) {
                if (err_line)
                    *err_line = line;
                return DPO_ERR_MODEL;
            }
        }
    }
    if (in_case)
        return fail(err_line, err_msg, open_line, "case without 'end'");
    return DPO_OK;
}

/* One pass: validates, counts, and stores when out is non-NULL. */
static dpo_status numbers_pass(double *out, size_t *count, const char *s, size_t len)
{
    size_t i = 0, n = 0;
    while (i < len) {
        size_t t0;
        char tok[81];
        char *endp;
        double v;
        if (is_blank(s[i])) {
            i++;
            continue;
        }
        t0 = i;
        while (i < len && !is_blank(s[i]))
            i++;
        if (i - t0 > 80)
            return DPO_ERR_FORMAT;
        memcpy(tok, s + t0, i - t0);
        tok[i - t0] = '\0';
        v = strtod(tok, &endp);
        if (endp == tok || *endp != '\0' || !(v - v == 0)) /* no nan, inf, partial tokens */
            return DPO_ERR_FORMAT;
        if (out)
            out[n] = v;
        n++;
    }
    *count = n;
    return DPO_OK;
}

dpo_status dpo_vec_numbers(double *out, size_t cap, size_t *count, const char *s, size_t len)
{
    size_t n;
    dpo_status st;
    if (!count || (!s && len) || (!out && cap))
        return DPO_ERR_NULL;
    if ((st = numbers_pass(NULL, &n, s, len)) != DPO_OK)
        return st;
    if (n > cap)
        return DPO_ERR_SIZE;
    numbers_pass(out, &n, s, len);
    *count = n;
    return DPO_OK;
}

/* The `gen ... splitmix64` array of docs/vectors.md section 3, bit for bit:
 * 64-bit integer arithmetic modulo 2^64, every real operation rounded to
 * binary64 separately (the build has -ffp-contract=off), then rounded once
 * to binary32 for f32. */
void dpo_vec_splitmix64(double *v, size_t n, uint64_t seed, double lo, double hi, const double *base, int f32)
{
    uint64_t s = seed;
    size_t i;
    if (!v)
        return;
    for (i = 0; i < n; i++) {
        uint64_t z;
        double u, w, p, t;
        s += UINT64_C(0x9E3779B97F4A7C15);
        z = s;
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        z = z ^ (z >> 31);
        u = (double)(z >> 11) * 0x1p-53; /* exact: z >> 11 < 2^53 */
        w = hi - lo;
        p = w * u;
        t = lo + p;
        if (base)
            t = base[i] + t;
        v[i] = f32 ? (double)(float)t : t;
    }
}
