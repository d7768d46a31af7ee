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

/* Reads the whole stream into a malloc'd buffer. */
static int read_all(FILE *f, unsigned char **out, size_t *outlen)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = (unsigned char *)malloc(cap), *nb;
    if (!b)
        return -1;
    for (;;) {
        size_t got;
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                free(b);
                return -1;
            }
            nb = (unsigned char *)realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(b);
                return -1;
            }
            break;
        }
    }
    *out = b;
    *outlen = n;
    return 0;
}

int cli_npy_load(const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen)
{
    FILE *f;
    unsigned char *buf = 0;
    size_t len = 0, i, n;
    dpo_npy_info r;
    dpo_dtype want;
    const char *why = "malformed .npy file";
    void *out;
    struct stat stt;
    if (!path || !info || !data) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    want = info->dtype;
    if ((int)want != DPO_F32 && (int)want != DPO_F64) {
        npyio_err(err, errlen, "%s: internal error: bad requested dtype", path);
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
    if (read_all(f, &buf, &len)) {
        npyio_err(err, errlen, "%s: read failed: %s", path, errno ? strerror(errno) : "out of memory");
        fclose(f);
        return -1;
    }
    fclose(f);
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

int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                 size_t errlen)
{
    char hdr[512];
    size_t hlen, n = 1, i, item, plen;
    char *tmp;
    int fd, k;
    FILE *f;
    mode_t mask;
    unsigned char chunk[8192];
    dpo_status st;
    if (!path || (ndim > 0 && !shape)) {
        npyio_err(err, errlen, "internal error: NULL argument");
        return -1;
    }
    st = dpo_npy_header(hdr, sizeof hdr, &hlen, dtype, shape, ndim);
    if (st != DPO_OK) {
        npyio_err(err, errlen, "%s: cannot describe the array: %s", path, dpo_status_str(st));
        return -1;
    }
    for (k = 0; k < ndim; k++)
        n *= (size_t)shape[k];
    if (n && !data) {
        npyio_err(err, errlen, "internal error: NULL data");
        return -1;
    }
    item = dtype == DPO_F64 ? 8 : 4;
    plen = strlen(path);
    tmp = (char *)malloc(plen + 16);
    if (!tmp) {
        npyio_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        npyio_err(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* mkstemp creates mode 0600; give the file the usual 0666 & ~umask. */
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, (mode_t)(0666 & ~mask)) != 0) {
        /* not fatal: the file stays private */
    }
    f = fdopen(fd, "wb");
    if (!f) {
        npyio_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
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
    if (fflush(f) != 0)
        goto fail;
    if (fclose(f) != 0) {
        f = 0;
        goto fail;
    }
    f = 0;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:
    npyio_err(err, errlen, "%s: write failed: %s", path, errno ? strerror(errno) : "I/O error");
    if (f)
        fclose(f);
    unlink(tmp);
    free(tmp);
    return -1;
}
