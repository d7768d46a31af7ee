#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "../core/dpo_pmath.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "diffpo %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    /* decimal, or hex after 0x/0X; a leading zero is decimal (never octal) */
    uint64_t v = 0;
    unsigned base = 10, d;
    const char *p = s;
    if (!s)
        return -1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return -1;
        if (v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, int *out)
{
    /* the one integer rule (docs/cli.md, cli_parse_u64: decimal or 0x hex,
     * no sign, no octal), then the option's range */
    uint64_t v;
    if (cli_parse_u64(s, &v) != 0 || hi < 0 || v > (uint64_t)hi || (lo > 0 && v < (uint64_t)lo))
        return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    double v;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno == ERANGE && (v > 1.0 || v < -1.0))
        return -1;
    if (*end || !dpo_pm_isfinite(v))
        return -1;
    *out = v;
    return 0;
}
