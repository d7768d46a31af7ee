/* Golden-vector text parser: allocation-free, callback based (see
 * diffpo_loss.h for the grammar).  Fuzzed by fuzz/fuzz_vecfile.c. */
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == ':' || c == '-';
}

static int word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n == k && memcmp(s, w, k) == 0;
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
            if (buf[pos] == '\0')
                return fail(err_line, err_msg, line, "NUL byte");
            pos++;
        }
        e = pos; /* line is buf[a..e) */
        if (pos < len)
            pos++; /* skip '\n' */
        if (e - a > DPO_VEC_MAX_LINE)
            return fail(err_line, err_msg, line, "line too long");
        b = a;
        while (b < e && is_blank(buf[b]))
            b++;
        if (b == e || buf[b] == '#')
            continue;
        k0 = b;
        while (b < e && is_key_char(buf[b]))
            b++;
        k1 = b;
        if (k1 == k0)
            return fail(err_line, err_msg, line, "expected a key");
        if (b < e && !is_blank(buf[b]) && buf[b] != '=' && buf[b] != '#')
            return fail(err_line, err_msg, line, "bad character in key");
        while (b < e && is_blank(buf[b]))
            b++;
        if (b < e && buf[b] == '=') {
            b++;
            while (b < e && is_blank(buf[b]))
                b++;
        }
        v0 = b;
        v1 = v0;
        while (v1 < e && buf[v1] != '#')
            v1++;
        while (v1 > v0 && is_blank(buf[v1 - 1]))
            v1--;
        f.key = buf + k0;
        f.key_len = k1 - k0;
        f.value = buf + v0;
        f.value_len = v1 - v0;
        f.line = line;
        if (word_is(f.key, f.key_len, "case")) {
            if (in_case)
                return fail(err_line, err_msg, line, "'case' before 'end' of the previous case");
            if (f.value_len == 0)
                return fail(err_line, err_msg, line, "'case' needs a name");
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
            if (!in_case)
                return fail(err_line, err_msg, line, "field outside a case");
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
    int depth = 0;
    while (i < len) {
        size_t t0;
        char tok[81];
        char *endp;
        double v;
        if (is_blank(s[i]) || s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] == '(') {
            depth++;
            i++;
            continue;
        }
        if (s[i] == ')') {
            if (depth == 0)
                return DPO_ERR_FORMAT;
            depth--;
            i++;
            continue;
        }
        t0 = i;
        while (i < len && !is_blank(s[i]) && s[i] != ',' && s[i] != '(' && s[i] != ')')
            i++;
        if (depth > 0)
            continue;
        if (i - t0 > 80)
            return DPO_ERR_FORMAT;
        memcpy(tok, s + t0, i - t0);
        tok[i - t0] = '\0';
        v = strtod(tok, &endp);
        if (endp == tok || *endp != '\0')
            return DPO_ERR_FORMAT;
        if (out)
            out[n] = v;
        n++;
    }
    if (depth != 0)
        return DPO_ERR_FORMAT;
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
