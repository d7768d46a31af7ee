/* diffpo philox --key K0,K1 --counter C0,C1,C2,C3
 * diffpo philox --normals N --seed S [coordinates] [--threads T] [--out z.npy] */
#include <stdio.h>
#include <stdlib.h>
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

/* --normals: elements [offset, offset + N) of one Philox noise tensor
 * (dpo_normal_*_mt on T threads: the same bits for every T), its XXH3-64
 * fingerprint on stdout and, with --out, the array as a (N,) .npy. */
typedef struct normals_args {
    dpo_noise_coord c;
    uint64_t offset, count;
    int threads, f64, have_seed;
    const char *out;
} normals_args;

static int normals_parse(normals_args *a, int argc, char **argv)
{
    int i;
    memset(a, 0, sizeof *a);
    a->threads = 1;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        uint64_t u;
        if (!v)
            return cli_fail("philox", "option '%s' needs a value (or is unknown)", o);
        i++;
        if (!strcmp(o, "--normals")) {
            if (cli_parse_u64(v, &a->count) || a->count == 0 || a->count > ((uint64_t)1 << 34))
                return cli_fail("philox", "--normals: need a count in [1, 2^34], got '%s'", v);
        } else if (!strcmp(o, "--offset")) {
            if (cli_parse_u64(v, &a->offset) || a->offset > ((uint64_t)1 << 34))
                return cli_fail("philox", "--offset: need an element index in [0, 2^34], got '%s'", v);
        } else if (!strcmp(o, "--seed")) {
            if (cli_parse_u64(v, &a->c.seed))
                return cli_fail("philox", "--seed: need a 64-bit integer, got '%s'", v);
            a->have_seed = 1;
        } else if (!strcmp(o, "--stream") || !strcmp(o, "--candidate")) {
            if (cli_parse_u64(v, &u) || u > 0xffffu)
                return cli_fail("philox", "%s: need an integer in [0, 65535], got '%s'", o, v);
            *(!strcmp(o, "--stream") ? &a->c.stream : &a->c.candidate) = (uint32_t)u;
        } else if (!strcmp(o, "--sample") || !strcmp(o, "--step")) {
            if (cli_parse_u64(v, &u) || u > 0xffffffffu)
                return cli_fail("philox", "%s: need a 32-bit integer, got '%s'", o, v);
            *(!strcmp(o, "--sample") ? &a->c.sample : &a->c.step) = (uint32_t)u;
        } else if (!strcmp(o, "--dtype")) {
            if (strcmp(v, "f32") && strcmp(v, "f64"))
                return cli_fail("philox", "--dtype: need f32 or f64, got '%s'", v);
            a->f64 = !strcmp(v, "f64");
        } else if (!strcmp(o, "--threads")) {
            if (cli_parse_int(v, 1, DPO_MAX_THREADS, &a->threads))
                return cli_fail("philox", "--threads: need an integer in [1, %d], got '%s'", DPO_MAX_THREADS, v);
        } else if (!strcmp(o, "--out")) {
            a->out = v;
        } else {
            return cli_fail("philox", "unknown option '%s' with --normals", o);
        }
    }
    if (!a->have_seed)
        return cli_fail("philox", "--normals needs --seed");
    if (a->count > ((uint64_t)1 << 34) - a->offset)
        return cli_fail("philox", "--offset + --normals exceeds 2^34 elements");
    return 0;
}

static int cmd_normals(int argc, char **argv)
{
    normals_args a;
    char err[512];
    void *buf;
    size_t es, n;
    dpo_status st;
    int rc = normals_parse(&a, argc, argv);
    if (rc)
        return rc;
    if (a.out && cli_out_check(a.out, err, sizeof err))
        return cli_fail("philox", "--out %s", err);
    es = a.f64 ? sizeof(double) : sizeof(float);
    n = (size_t)a.count;
    if ((uint64_t)n != a.count || n > (size_t)-1 / es || !(buf = malloc(n * es)))
        return cli_fail("philox", "out of memory for %llu normals", (unsigned long long)a.count);
    st = a.f64 ? dpo_normal_f64_mt((double *)buf, a.c, a.offset, n, a.threads)
               : dpo_normal_f32_mt((float *)buf, a.c, a.offset, n, a.threads);
    if (st) {
        free(buf);
        return cli_fail("philox", "normals: %s", dpo_status_str(st));
    }
    if (a.out) {
        cli_out o;
        uint64_t shape[1];
        shape[0] = a.count;
        if (cli_out_open(&o, a.out, err, sizeof err)) {
            free(buf);
            return cli_fail("philox", "%s", err);
        }
        if (cli_npy_write(o.f, a.f64 ? DPO_F64 : DPO_F32, shape, 1, buf, err, sizeof err)) {
            cli_out_abort(&o, 1);
            free(buf);
            return cli_fail("philox", "%s: %s", a.out, err);
        }
        if (cli_out_commit(&o, 1, err, sizeof err)) {
            free(buf);
            return cli_fail("philox", "%s", err);
        }
    }
    printf("fingerprint %016llx\n", (unsigned long long)dpo_hash64(buf, n * es, 0));
    free(buf);
    return 0;
}

int cmd_philox(int argc, char **argv)
{
    uint32_t key[2], ctr[4], out[4];
    int have_key = 0, have_ctr = 0, i;
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            printf("usage: diffpo philox --key K0,K1 --counter C0,C1,C2,C3\n"
                   "       diffpo philox --normals N --seed S [--stream S] [--sample I] [--step K]\n"
                   "                     [--candidate C] [--offset E0] [--dtype f32|f64] [--threads T]\n"
                   "                     [--out z.npy]\n"
                   "The first form prints Philox4x32-10(counter, key) as four 8-digit hex words.\n"
                   "Words are decimal or 0x-prefixed hex, each < 2^32.\n"
                   "The second computes elements [E0, E0 + N) of the standard-normal noise tensor\n"
                   "(seed, stream, sample, step, candidate) as dpo_normal_f32 / _f64 do (defaults: 0,\n"
                   "offset 0, f32), on T threads (default 1; the bits are the same for every T),\n"
                   "prints 'fingerprint <16 hex digits>' (XXH3-64 of the raw little-endian values)\n"
                   "and with --out writes them as a (N,) .npy.  E0 + N <= 2^34.\n");
            return 0;
        }
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--normals"))
            return cmd_normals(argc, argv);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < argc) {
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
