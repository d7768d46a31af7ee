/* NumPy .npy headers: a strict, allocation-free parser and a v1.0 writer.
 *
 * Format (numpy/lib/format.py, "NEP 1"): the magic string "\x93NUMPY", one
 * byte major and one byte minor version, the header length as a
 * little-endian uint16 (version 1.0) or uint32 (2.0 and 3.0), then the
 * header: a Python dict literal with exactly the keys 'descr',
 * 'fortran_order' and 'shape', padded with spaces and ended by a newline.
 * The data follows the header.
 *
 * What is accepted (docs/cli.md states it for users):
 *   - versions 1.0, 2.0, 3.0;
 *   - the three keys in any order, each once, quoted with ' or ", optional
 *     whitespace (space, tab, CR, LF) anywhere between tokens, an optional
 *     trailing comma, only whitespace after the closing brace;
 *   - descr '<f4' or '<f8' (little-endian IEEE float; '|' is not valid for
 *     floats, '>' and '=' are rejected), fortran_order False;
 *   - shape a tuple of at most DPO_NPY_MAX_DIMS non-negative decimal
 *     integers: (), (n,), (n, m), (n, m,) ...; a one-element tuple needs its
 *     comma as in Python, leading zeros are refused as Python refuses them,
 *     each dimension must fit an int64 and the element count times the item
 *     size must fit in size_t;
 *   - the data start need not be 64-byte aligned: numpy's own writer pads
 *     to 64 (to 16 before 1.14) but numpy's reader accepts any header
 *     length, so this parser does too; every length is bounds-checked
 *     against len before use, and callers read the data with memcpy.
 *   - len must cover data_offset + count * itemsize (trailing bytes are
 *     ignored, as numpy.load ignores them).
 * On any error the result is DPO_ERR_FORMAT (DPO_ERR_NULL for NULL
 * pointers) and *info is left untouched. */
#include <string.h>
#include "diffpo_tools.h"
#include "../internal.h"

/* Internal: the same parse with a short English reason on failure (used by
 * the CLI for its error messages).  *why is set only on failure. */

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_INT64_MAX 9223372036854775807ull

typedef struct npy_cursor {
    const unsigned char *p;
    size_t i, n;
} npy_cursor;

static void npy_ws(npy_cursor *c)
{
    while (c->i < c->n) {
        unsigned char ch = c->p[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->i++;
    }
}

static int npy_peek(const npy_cursor *c)
{
    return c->i < c->n ? (int)c->p[c->i] : -1;
}

/* Expects the character ch after optional whitespace. */
static int npy_expect(npy_cursor *c, int ch)
{
    npy_ws(c);
    if (npy_peek(c) != ch)
        return -1;
    c->i++;
    return 0;
}

/* A quoted string without escapes; s and slen point into the buffer. */
static int npy_string(npy_cursor *c, const unsigned char **s, size_t *slen)
{
    int q;
    size_t start;
    npy_ws(c);
    q = npy_peek(c);
    if (q != '\'' && q != '"')
        return -1;
    c->i++;
    start = c->i;
    while (c->i < c->n && c->p[c->i] != (unsigned char)q) {
        if (c->p[c->i] == '\\' || c->p[c->i] == '\n')
            return -1;
        c->i++;
    }
    if (c->i >= c->n)
        return -1;
    *s = c->p + start;
    *slen = c->i - start;
    c->i++;
    return 0;
}

static int npy_word_is(const unsigned char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* An identifier (True / False). */
static int npy_ident(npy_cursor *c, const unsigned char **s, size_t *slen)
{
    size_t start;
    npy_ws(c);
    start = c->i;
    while (c->i < c->n) {
        unsigned char ch = c->p[c->i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (ch >= '0' && ch <= '9')))
            break;
        c->i++;
    }
    if (c->i == start)
        return -1;
    *s = c->p + start;
    *slen = c->i - start;
    return 0;
}

/* A non-negative decimal integer that fits an int64, no leading zeros. */
static int npy_uint(npy_cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    size_t start;
    npy_ws(c);
    start = c->i;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
        unsigned d = (unsigned)(c->p[c->i] - '0');
        if (v > (NPY_INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        c->i++;
    }
    if (c->i == start)
        return -1;
    if (c->i - start > 1 && c->p[start] == '0')
        return -1;
    *out = v;
    return 0;
}

/* The shape tuple: '(' [int (',' int)* [',']] ')', one element needs ','. */
static int npy_shape(npy_cursor *c, uint64_t *shape, int *ndim, const char **why)
{
    int n = 0, comma = 0;
    if (npy_expect(c, '(')) {
        *why = "'shape' is not a tuple";
        return -1;
    }
    for (;;) {
        npy_ws(c);
        if (npy_peek(c) == ')') {
            c->i++;
            break;
        }
        if (n > 0 && !comma) {
            *why = "malformed 'shape' tuple";
            return -1;
        }
        if (n == DPO_NPY_MAX_DIMS) {
            *why = "too many dimensions (at most 8)";
            return -1;
        }
        if (npy_uint(c, &shape[n])) {
            *why = "malformed or too large dimension in 'shape'";
            return -1;
        }
        n++;
        comma = 0;
        npy_ws(c);
        if (npy_peek(c) == ',') {
            c->i++;
            comma = 1;
        }
    }
    if (n == 1 && !comma) {
        *why = "'shape' (n) is not a tuple: a one-element shape is written (n,)";
        return -1;
    }
    *ndim = n;
    return 0;
}

static int npy_dict(npy_cursor *c, dpo_npy_info *r, const char **why)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (npy_expect(c, '{')) {
        *why = "header is not a dict literal";
        return -1;
    }
    for (;;) {
        const unsigned char *k, *v;
        size_t kn, vn;
        npy_ws(c);
        if (npy_peek(c) == '}') {
            c->i++;
            break;
        }
        if (npy_string(c, &k, &kn)) {
            *why = "malformed header dict (expected a quoted key)";
            return -1;
        }
        if (npy_expect(c, ':')) {
            *why = "malformed header dict (expected ':')";
            return -1;
        }
        if (npy_word_is(k, kn, "descr")) {
            if (have_descr++) {
                *why = "duplicate key 'descr'";
                return -1;
            }
            if (npy_string(c, &v, &vn)) {
                *why = "'descr' is not a string";
                return -1;
            }
            if (npy_word_is(v, vn, "<f4"))
                r->dtype = DPO_F32;
            else if (npy_word_is(v, vn, "<f8"))
                r->dtype = DPO_F64;
            else {
                *why = "unsupported dtype (only '<f4' and '<f8')";
                return -1;
            }
        } else if (npy_word_is(k, kn, "fortran_order")) {
            if (have_fortran++) {
                *why = "duplicate key 'fortran_order'";
                return -1;
            }
            if (npy_ident(c, &v, &vn) || !(npy_word_is(v, vn, "False") || npy_word_is(v, vn, "True"))) {
                *why = "'fortran_order' is not True or False";
                return -1;
            }
            if (npy_word_is(v, vn, "True")) {
                *why = "Fortran-order arrays are not supported (save with C order)";
                return -1;
            }
        } else if (npy_word_is(k, kn, "shape")) {
            if (have_shape++) {
                *why = "duplicate key 'shape'";
                return -1;
            }
            if (npy_shape(c, r->shape, &r->ndim, why))
                return -1;
        } else {
            *why = "unknown key in header dict";
            return -1;
        }
        npy_ws(c);
        if (npy_peek(c) == ',') {
            c->i++;
            continue;
        }
        if (npy_peek(c) == '}') {
            c->i++;
            break;
        }
        *why = "malformed header dict (expected ',' or '}')";
        return -1;
    }
    if (!have_descr || !have_fortran || !have_shape) {
        *why = "header dict lacks 'descr', 'fortran_order' or 'shape'";
        return -1;
    }
    npy_ws(c);
    if (c->i != c->n) {
        *why = "trailing characters after the header dict";
        return -1;
    }
    return 0;
}

static dpo_status npy_parse(dpo_npy_info *info, const void *buf, size_t len, const char **why, int with_data);

dpo_status dpo_npy_parse_diag(dpo_npy_info *info, const void *buf, size_t len, const char **why)
{
    return npy_parse(info, buf, len, why, 1);
}

dpo_status dpo_npy_head_diag(dpo_npy_info *info, const void *buf, size_t len, const char **why)
{
    return npy_parse(info, buf, len, why, 0);
}

/* The parse; with_data also checks that buf holds the data. */
static dpo_status npy_parse(dpo_npy_info *info, const void *buf, size_t len, const char **why, int with_data)
{
    const unsigned char *b = (const unsigned char *)buf;
    dpo_npy_info r;
    npy_cursor c;
    size_t prefix, hlen, itemsize, avail;
    uint64_t count;
    int k;
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!info || !buf) {
        *why = "NULL argument";
        return DPO_ERR_NULL;
    }
    if (len < NPY_MAGIC_LEN + 2 || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        *why = len < NPY_MAGIC_LEN + 2 ? "too short to be a .npy file" : "not a .npy file (bad magic string)";
        return DPO_ERR_FORMAT;
    }
    if (b[7] != 0 || b[6] < 1 || b[6] > 3) {
        *why = "unsupported .npy format version (only 1.0, 2.0, 3.0)";
        return DPO_ERR_FORMAT;
    }
    if (b[6] == 1) {
        prefix = 10;
        if (len < prefix) {
            *why = "truncated .npy header";
            return DPO_ERR_FORMAT;
        }
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else {
        uint32_t h;
        prefix = 12;
        if (len < prefix) {
            *why = "truncated .npy header";
            return DPO_ERR_FORMAT;
        }
        h = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
        if ((uint64_t)h > (uint64_t)(len - prefix)) {
            *why = "truncated .npy header";
            return DPO_ERR_FORMAT;
        }
        hlen = (size_t)h;
    }
    if (hlen > len - prefix) {
        *why = "truncated .npy header";
        return DPO_ERR_FORMAT;
    }
    memset(&r, 0, sizeof r);
    r.ndim = -1;
    c.p = b + prefix;
    c.i = 0;
    c.n = hlen;
    if (npy_dict(&c, &r, why))
        return DPO_ERR_FORMAT;
    itemsize = r.dtype == DPO_F64 ? 8 : 4;
    count = 1;
    for (k = 0; k < r.ndim; k++)
        if (r.shape[k] == 0)
            count = 0;
    if (count) {
        for (k = 0; k < r.ndim; k++) {
            if (count > UINT64_MAX / r.shape[k]) {
                *why = "shape's element count overflows";
                return DPO_ERR_FORMAT;
            }
            count *= r.shape[k];
        }
    }
    r.count = count;
    r.data_offset = prefix + hlen;
    avail = len - r.data_offset;
    if (count > (uint64_t)(SIZE_MAX / itemsize) || (with_data && count * itemsize > (uint64_t)avail)) {
        *why = count > (uint64_t)(SIZE_MAX / itemsize) ? "shape's byte size overflows" : "data shorter than the shape says (truncated file)";
        return DPO_ERR_FORMAT;
    }
    *info = r;
    return DPO_OK;
}

dpo_status dpo_npy_parse(dpo_npy_info *info, const void *buf, size_t len)
{
    return dpo_npy_parse_diag(info, buf, len, 0);
}

/* Appends s to out[*n..cap); -1 when it does not fit. */
static int npy_put(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (l > cap - *n)
        return -1;
    memcpy(out + *n, s, l);
    *n += l;
    return 0;
}

static int npy_put_u64(char *out, size_t cap, size_t *n, uint64_t v)
{
    char tmp[24];
    int i = 23;
    tmp[i] = 0;
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return npy_put(out, cap, n, tmp + i);
}

dpo_status dpo_npy_header(char *out, size_t cap, size_t *written, dpo_dtype dtype, const uint64_t *shape, int ndim)
{
    /* Longest header: 10 + 52 + 8 * 21 + 4 + padding to 64 = 256 bytes. */
    char h[320];
    size_t n = 10, total, hl;
    uint64_t count = 1;
    int k;
    if (!out || !written || (ndim > 0 && !shape))
        return DPO_ERR_NULL;
    if ((int)dtype != DPO_F32 && (int)dtype != DPO_F64)
        return DPO_ERR_RANGE;
    if (ndim < 0 || ndim > DPO_NPY_MAX_DIMS)
        return DPO_ERR_SIZE;
    /* as the parser: an empty array is valid whatever its other dimensions */
    for (k = 0; k < ndim; k++) {
        if (shape[k] > NPY_INT64_MAX)
            return DPO_ERR_SIZE;
        if (shape[k] == 0)
            count = 0;
    }
    for (k = 0; k < ndim && count; k++) {
        if (count > UINT64_MAX / shape[k])
            return DPO_ERR_SIZE;
        count *= shape[k];
    }
    if (count > (uint64_t)(SIZE_MAX / (dtype == DPO_F64 ? 8 : 4)))
        return DPO_ERR_SIZE;
    memcpy(h, NPY_MAGIC, NPY_MAGIC_LEN);
    h[6] = 1;
    h[7] = 0;
    if (npy_put(h, sizeof h, &n, dtype == DPO_F64 ? "{'descr': '<f8', " : "{'descr': '<f4', ") ||
        npy_put(h, sizeof h, &n, "'fortran_order': False, 'shape': ("))
        return DPO_ERR_SIZE;
    for (k = 0; k < ndim; k++) {
        if ((k > 0 && npy_put(h, sizeof h, &n, ", ")) || npy_put_u64(h, sizeof h, &n, shape[k]))
            return DPO_ERR_SIZE;
    }
    if ((ndim == 1 && npy_put(h, sizeof h, &n, ",")) || npy_put(h, sizeof h, &n, "), }"))
        return DPO_ERR_SIZE;
    total = (n + 1 + 63) / 64 * 64; /* room for the newline */
    if (total > sizeof h)
        return DPO_ERR_SIZE;
    memset(h + n, ' ', total - 1 - n);
    h[total - 1] = '\n';
    hl = total - 10;
    h[8] = (char)(hl & 0xff);
    h[9] = (char)(hl >> 8);
    if (cap < total)
        return DPO_ERR_SIZE;
    memcpy(out, h, total);
    *written = total;
    return DPO_OK;
}
