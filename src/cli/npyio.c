/* .npy files for the command-line tool: whole-file load with conversion,
 * atomic save (temporary file in the same folder, then rename).
 *
 * cli_npy_load: on entry info->dtype is the dtype the caller wants the data
 * in (DPO_F32 or DPO_F64); on success *info describes the file as stored
 * (info->dtype is the file's dtype, shape, count) and *data holds count
 * values converted to the requested dtype (malloc'd, caller frees; at least
 * one byte even for count 0).  Float64 data asked for as float32 must fit:
 * a finite value that would overflow float32 is an error.  Values are read
 * as little-endian bytes whatever the host order. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "cli.h"
#include "../core/dpo_pmath.h"
#include "../internal.h"

static void npyio_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* Reads exactly n bytes into b; 0, or -1 at end of file or a read error. */
static int read_exact(FILE *f, unsigned char *b, size_t n)
{
    return fread(b, 1, n, f) == n ? 0 : -1;
}

/* Longest header read (NumPy's own are under 1 KiB): a bound, so that a
 * stream of zeros or a forged header length cannot make the load grow. */
#define NPYIO_MAX_HEADER (1u << 20)

/* Reads a .npy file: the prefix, then the header (at most NPYIO_MAX_HEADER
 * bytes), then exactly the data bytes the header announces.  Nothing past
 * them is read, so /dev/zero or an endless pipe cannot make it grow; a
 * regular file shorter than the header says is refused before allocating. */
static int read_npy(FILE *f, const char *path, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    unsigned char pre[12], *b;
    size_t prefix, hlen, total, data;
    dpo_npy_info r;
    const char *why = "malformed .npy file";
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (read_exact(f, pre, 10)) {
        npyio_err(err, errlen, "%s: %s", path, ferror(f) ? "read failed" : "too short to be a .npy file");
        return -1;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0 || pre[7] != 0 || pre[6] < 1 || pre[6] > 3) {
        /* let the parser name the fault */
        dpo_npy_parse_diag(&r, pre, 10, &why);
        npyio_err(err, errlen, "%s: %s", path, why);
        return -1;
    }
    if (pre[6] == 1) {
        prefix = 10;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else {
        uint32_t h;
        if (read_exact(f, pre + 10, 2)) {
            npyio_err(err, errlen, "%s: truncated .npy header", path);
            return -1;
        }
        prefix = 12;
        h = rd32(pre + 8);
        if (h > NPYIO_MAX_HEADER) {
            npyio_err(err, errlen, "%s: .npy header length %lu exceeds %u bytes", path, (unsigned long)h,
                      NPYIO_MAX_HEADER);
            return -1;
        }
        hlen = (size_t)h;
    }
    if (!(b = (unsigned char *)malloc(prefix + hlen + 1))) {
        npyio_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(b, pre, prefix);
    if (read_exact(f, b + prefix, hlen)) {
        npyio_err(err, errlen, "%s: truncated .npy header", path);
        free(b);
        return -1;
    }
    if (dpo_npy_head_diag(&r, b, prefix + hlen, &why) != DPO_OK) {
        npyio_err(err, errlen, "%s: %s", path, why);
        free(b);
        return -1;
    }
    if (r.count > (uint64_t)((SIZE_MAX - prefix - hlen) / 8)) {
        npyio_err(err, errlen, "%s: shape's byte size overflows", path);
        free(b);
        return -1;
    }
    data = (size_t)r.count * (r.dtype == DPO_F64 ? 8 : 4);
    total = prefix + hlen + data;
    if (regular && (uint64_t)st.st_size < (uint64_t)total) {
        npyio_err(err, errlen, "%s: data shorter than the shape says (truncated file)", path);
        free(b);
        return -1;
    }
    /* a regular file's size is known: one allocation.  A stream (pipe,
     * device) grows the buffer as its bytes arrive, so a forged header on a
     * short stream cannot make it allocate what the header claims. */
    {
        size_t have = prefix + hlen, cap = have; /* b holds at least cap bytes */
        while (have < total) {
            size_t chunk;
            if (cap == have) {
                size_t nc = regular ? total : (cap < ((size_t)1 << 20) ? ((size_t)1 << 20) : cap * 2);
                unsigned char *nb;
                if (nc > total || nc < cap)
                    nc = total;
                nb = (unsigned char *)realloc(b, nc);
                if (!nb) {
                    npyio_err(err, errlen, "%s: out of memory for %llu elements", path, (unsigned long long)r.count);
                    free(b);
                    return -1;
                }
                b = nb;
                cap = nc;
            }
            chunk = cap - have;
            if (read_exact(f, b + have, chunk)) {
                npyio_err(err, errlen, "%s: %s", path,
                          ferror(f) ? "read failed" : "data shorter than the shape says (truncated file)");
                free(b);
                return -1;
            }
            have += chunk;
        }
    }
    *out = b;
    *outlen = total;
    return 0;
}

int cli_npy_load(const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen)
{
    FILE *f;
    struct stat stt;
    int rc;
    if (!path || !info || !data) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    if (stat(path, &stt) == 0 && S_ISDIR(stt.st_mode)) {
        npyio_err(err, errlen, "%s: is a directory", path);
        return -1;
    }
    f = fopen(path, "rb");
    if (!f) {
        npyio_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rc = cli_npy_load_stream(f, path, info, data, err, errlen);
    fclose(f);
    return rc;
}

int cli_npy_load_stream(FILE *f, const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen)
{
    unsigned char *buf = 0;
    size_t len = 0, i, n;
    dpo_npy_info r;
    dpo_dtype want;
    const char *why = "malformed .npy file";
    void *out;
    if (!f || !path || !info || !data) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    want = info->dtype;
    if ((int)want != DPO_F32 && (int)want != DPO_F64) {
        npyio_err(err, errlen, "%s: internal error: bad requested dtype", path);
        return -1;
    }
    if (read_npy(f, path, &buf, &len, err, errlen))
        return -1;
    if (dpo_npy_parse_diag(&r, buf, len, &why) != DPO_OK) {
        npyio_err(err, errlen, "%s: %s", path, why);
        free(buf);
        return -1;
    }
    n = (size_t)r.count;
    if (n > SIZE_MAX / 8) {
        npyio_err(err, errlen, "%s: too many elements", path);
        free(buf);
        return -1;
    }
    out = malloc(n ? n * (want == DPO_F64 ? 8 : 4) : 1);
    if (!out) {
        npyio_err(err, errlen, "%s: out of memory for %lu elements", path, (unsigned long)n);
        free(buf);
        return -1;
    }
    {
        const unsigned char *p = buf + r.data_offset;
        for (i = 0; i < n; i++) {
            double v;
            if (r.dtype == DPO_F32) {
                uint32_t u = rd32(p + 4 * i);
                float fv;
                memcpy(&fv, &u, 4);
                if (want == DPO_F32) {
                    ((float *)out)[i] = fv;
                    continue;
                }
                v = (double)fv;
            } else {
                uint64_t u = rd64(p + 8 * i);
                memcpy(&v, &u, 8);
            }
            if (want == DPO_F64) {
                ((double *)out)[i] = v;
            } else {
                /* |v| >= FLT_MAX + half an ulp rounds to infinity (and the
                 * cast itself is only defined below that). */
                if (dpo_pm_isfinite(v) && (v >= 0x1.ffffffp127 || v <= -0x1.ffffffp127)) {
                    npyio_err(err, errlen, "%s: element %lu (%g) overflows float32", path, (unsigned long)i, v);
                    free(out);
                    free(buf);
                    return -1;
                }
                ((float *)out)[i] = (float)v;
            }
        }
    }
    free(buf);
    *info = r;
    *data = out;
    return 0;
}

int cli_npy_write(FILE *f, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                  size_t errlen)
{
    char hdr[512];
    size_t hlen, n = 1, i, item;
    int k;
    unsigned char chunk[8192];
    dpo_status st;
    if (!f || (ndim > 0 && !shape)) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    st = dpo_npy_header(hdr, sizeof hdr, &hlen, dtype, shape, ndim);
    if (st != DPO_OK) {
        npyio_err(err, errlen, "cannot describe the array: %s", dpo_status_str(st));
        return -1;
    }
    for (k = 0; k < ndim; k++)
        if (shape[k] == 0)
            n = 0; /* an empty array, whatever its other dimensions */
    for (k = 0; k < ndim && n; k++) {
        if (n > SIZE_MAX / 8 / shape[k]) {
            npyio_err(err, errlen, "cannot describe the array: too many elements");
            return -1;
        }
        n *= (size_t)shape[k];
    }
    if (n && !data) {
        npyio_err(err, errlen, "internal error: NULL data");
        return -1;
    }
    item = dtype == DPO_F64 ? 8 : 4;
    errno = 0;
    if (fwrite(hdr, 1, hlen, f) != hlen)
        goto fail;
    for (i = 0; i < n;) {
        size_t m = 0;
        while (i < n && m + item <= sizeof chunk) {
            if (dtype == DPO_F64) {
                uint64_t u;
                memcpy(&u, (const double *)data + i, 8);
                wr64(chunk + m, u);
            } else {
                uint32_t u;
                memcpy(&u, (const float *)data + i, 4);
                wr32(chunk + m, u);
            }
            m += item;
            i++;
        }
        if (fwrite(chunk, 1, m, f) != m)
            goto fail;
    }
    return 0;
fail:
    npyio_err(err, errlen, "write failed: %s", errno ? strerror(errno) : "I/O error");
    return -1;
}

int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                 size_t errlen)
{
    cli_out o;
    char e2[400];
    if (!path) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    if (cli_out_open(&o, path, err, errlen))
        return -1;
    e2[0] = 0;
    if (cli_npy_write(o.f, dtype, shape, ndim, data, e2, sizeof e2)) {
        npyio_err(err, errlen, "%s: %s", path, e2);
        cli_out_abort(&o, 1);
        return -1;
    }
    return cli_out_commit(&o, 1, err, errlen);
}
