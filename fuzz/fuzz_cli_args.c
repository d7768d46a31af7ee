/* libFuzzer harness of the CLI's argument parsers (src/cli/util.c and the
 * option loops of `diffpo philox` and `diffpo schedule`).  The first byte
 * picks the target; the rest is split at NUL bytes into argv tokens.
 * Invariants: no crash or sanitizer report; cli_parse_u64 accepts exactly
 * decimal digits or 0x/0X + hex digits whose value fits 64 bits, and its
 * value printed back in decimal parses to the same value; a leading zero is
 * decimal; cli_parse_int stays in [lo, hi]; cli_parse_double gives finite
 * values only.  The commands run in-process with stdout sent to /dev/null
 * and, during the call only, stderr too (their error lines would fill the
 * log); a crash still leaves its reproducer, and rerunning it with
 * FUZZ_CLI_VERBOSE=1 shows the report.  Options that name files are
 * dropped, so nothing is written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "diffpo.h"
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the reference: decimal or 0x hex, whole string, fits 64 bits */
static int ref_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    if (!*s)
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
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
    if (cli_parse_int(s, -5, 4096, &iv) == 0 && (iv < -5 || iv > 4096))
        abort();
    if (cli_parse_double(s, &d) == 0 && !(d - d == 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init, devnull = -1, saved = -1;
    char *buf, *argv[40];
    int argc = 0, target, i, skip = 0;
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
        } else if (!strcmp(buf + start, "--out") || !strcmp(buf + start, "--out64") ||
                   !strcmp(buf + start, "--table")) {
            skip = 1; /* the option and its value: no files */
        } else {
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
