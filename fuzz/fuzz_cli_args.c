/* libFuzzer harness of the CLI's argument parsers (src/cli/util.c and the
 * option loops of `diffpo philox` and `diffpo schedule`).  The first byte
 * picks the target; the rest is split at NUL bytes into argv tokens.
 * Invariants: no crash or sanitizer report; cli_parse_u64 accepts exactly
 * decimal digits or 0x/0X + hex digits whose value fits 64 bits (checked
 * against a reference written from docs/cli.md, below), and its
 * value printed back in decimal parses to the same value; a leading zero is
 * decimal; cli_parse_int accepts what the reference accepts within [lo, hi],
 * with the same value; cli_parse_double gives finite
 * values only.  The commands run in-process with stdout sent to /dev/null
 * and, during the call only, stderr too (their error lines would fill the
 * log); a crash still leaves its reproducer, and rerunning it with
 * FUZZ_CLI_VERBOSE=1 shows the report.  Options that name files are
 * dropped, so nothing is written, and so is a `--normals` count above 2^16
 * (a long legitimate computation). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "diffpo.h"
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference, written from docs/cli.md "Numbers" and not from
 * src/cli/util.c, in a different way so that the two can disagree:
 * (1) the syntax is checked alone first, as a whole string: either one or
 *     more decimal digits (a leading zero is still decimal), or "0x"/"0X"
 *     and one or more hex digits; nothing else (no sign, blank, exponent,
 *     other prefix or suffix);
 * (2) the value is accumulated in 128 bits from the most significant
 *     digit and refused once it passes 2^64 - 1 (no division-based
 *     overflow test);
 * (3) strtoull, run on the validated digits with the base fixed, must
 *     agree on the value and on overflow (ERANGE). */
__extension__ typedef unsigned __int128 ref_u128;

static int ref_digit(char c, int hex)
{
    static const char dec[] = "0123456789";
    static const char hx[] = "0123456789abcdef";
    const char *p;
    char l = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    if (!hex) {
        p = c ? strchr(dec, c) : NULL;
        return p ? (int)(p - dec) : -1;
    }
    p = l ? strchr(hx, l) : NULL;
    return p ? (int)(p - hx) : -1;
}

static int ref_u64(const char *s, uint64_t *out)
{
    const ref_u128 max = (ref_u128)UINT64_MAX;
    ref_u128 v = 0;
    const char *digits = s;
    size_t n = strlen(s), i;
    int hex = 0;
    unsigned long long vs;
    char *end;
    /* (1) syntax */
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        hex = 1;
        digits = s + 2;
        n -= 2;
    }
    if (n == 0)
        return -1;
    for (i = 0; i < n; i++)
        if (ref_digit(digits[i], hex) < 0)
            return -1;
    /* (2) value in 128 bits: at most one digit past 2^64 - 1 is read */
    for (i = 0; i < n; i++) {
        v = v * (ref_u128)(hex ? 16 : 10) + (ref_u128)ref_digit(digits[i], hex);
        if (v > max)
            break;
    }
    /* (3) strtoull on the validated digits */
    errno = 0;
    vs = strtoull(digits, &end, hex ? 16 : 10);
    if (end != digits + n)
        abort(); /* the syntax check let through what strtoull stops at */
    if (v > max) {
        if (errno != ERANGE)
            abort();
        return -1;
    }
    if (errno || (ref_u128)vs != v)
        abort();
    *out = (uint64_t)v;
    return 0;
}

static void numbers(const char *s)
{
    uint64_t a = 0, b = 0;
    int ra = cli_parse_u64(s, &a), rb = ref_u64(s, &b), iv;
    double d;
    char back[32];
    if (ra != rb || (ra == 0 && a != b))
        abort();
    if (ra == 0) {
        snprintf(back, sizeof back, "%llu", (unsigned long long)a);
        if (cli_parse_u64(back, &b) != 0 || b != a)
            abort();
    }
    /* the bounded integer options follow the same rule, then the range */
    if ((cli_parse_int(s, 3, 4096, &iv) == 0) != (rb == 0 && b >= 3 && b <= 4096) ||
        (rb == 0 && b >= 3 && b <= 4096 && (uint64_t)iv != b))
        abort();
    if (cli_parse_double(s, &d) == 0 && !(d - d == 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init, devnull = -1, saved = -1;
    char *buf, *argv[40];
    int argc = 0, target, i, skip = 0, count_next = 0;
    size_t k, start;
    if (!init) {
        if (!freopen("/dev/null", "w", stdout))
            return 0;
        if (!getenv("FUZZ_CLI_VERBOSE")) {
            devnull = open("/dev/null", O_WRONLY);
            saved = dup(2);
        }
        init = 1;
    }
    if (size < 1 || size > 2048)
        return 0;
    target = data[0] % 3;
    buf = (char *)malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    argv[argc++] = (char *)(target == 1 ? "philox" : "schedule");
    for (k = 0, start = 0; k < size && argc < 39; k++) {
        if (buf[k] != 0)
            continue;
        if (skip) {
            skip = 0;
        } else if (count_next) {
            /* `philox --normals N` computes N normals: a large N is a long
             * legitimate run (up to 2^34), not a finding; such a count is
             * dropped with its option, a malformed one is kept */
            uint64_t nv;
            count_next = 0;
            if (cli_parse_u64(buf + start, &nv) == 0 && nv > 65536)
                argc--;
            else
                argv[argc++] = buf + start;
        } else if (!strcmp(buf + start, "--out") || !strcmp(buf + start, "--out64") ||
                   !strcmp(buf + start, "--table")) {
            skip = 1; /* the option and its value: no files */
        } else {
            count_next = !strcmp(buf + start, "--normals");
            argv[argc++] = buf + start;
        }
        start = k + 1;
    }
    argv[argc] = 0;
    if (target == 0) {
        for (i = 1; i < argc; i++)
            numbers(argv[i]);
    } else {
        fflush(stderr);
        if (devnull >= 0 && saved >= 0)
            dup2(devnull, 2);
        if (target == 1)
            cmd_philox(argc, argv);
        else
            cmd_schedule(argc, argv);
        fflush(stderr);
        if (devnull >= 0 && saved >= 0)
            dup2(saved, 2);
    }
    free(buf);
    return 0;
}
