/* diffpo philox --key K0,K1 --counter C0,C1,C2,C3 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

/* Parses exactly n comma-separated 32-bit words (decimal or 0x hex). */
static int parse_words(const char *s, uint32_t *w, int n)
{
    char buf[256];
    char *p, *q;
    int i;
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    p = buf;
    for (i = 0; i < n; i++) {
        uint64_t v;
        q = strchr(p, ',');
        if (i < n - 1) {
            if (!q)
                return -1;
            *q = 0;
        } else if (q) {
            return -1;
        }
        if (cli_parse_u64(p, &v) || v > 0xffffffffu)
            return -1;
        w[i] = (uint32_t)v;
        if (q)
            p = q + 1;
    }
    return 0;
}

int cmd_philox(int argc, char **argv)
{
    uint32_t key[2], ctr[4], out[4];
    int have_key = 0, have_ctr = 0, i;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: diffpo philox --key K0,K1 --counter C0,C1,C2,C3\n"
                   "Prints Philox4x32-10(counter, key) as four 8-digit hex words.\n"
                   "Words are decimal or 0x-prefixed hex, each < 2^32.\n");
            return 0;
        } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            if (parse_words(argv[++i], key, 2))
                return cli_fail("philox", "--key needs two 32-bit words K0,K1, got '%s'", argv[i]);
            have_key = 1;
        } else if (!strcmp(argv[i], "--counter") && i + 1 < argc) {
            if (parse_words(argv[++i], ctr, 4))
                return cli_fail("philox", "--counter needs four 32-bit words C0,C1,C2,C3, got '%s'", argv[i]);
            have_ctr = 1;
        } else {
            return cli_fail("philox", "unknown or incomplete option '%s'", argv[i]);
        }
    }
    if (!have_key || !have_ctr)
        return cli_fail("philox", "both --key and --counter are required");
    dpo_philox4x32_10_block(out, ctr, key);
    printf("%08x %08x %08x %08x\n", (unsigned)out[0], (unsigned)out[1], (unsigned)out[2], (unsigned)out[3]);
    return 0;
}
