/* libFuzzer harness of the trainer-state and base-model-cache loaders of
 * `diffpo align` (src/cli/align_common.c: state_load_stream,
 * cache_load_stream), in memory.  Two inputs per run:
 *   - the fuzz bytes as a file: it must be refused (a random file cannot
 *     carry a matching XXH3) unless it is valid, and a refused state leaves
 *     the caller's buffers untouched;
 *   - a valid file built from the fuzz bytes (parameter count, key,
 *     iteration, values), then damaged at a fuzz-chosen byte or truncated:
 *     the undamaged file loads back bit for bit, the damaged one is refused
 *     with the buffers untouched.
 * Invariants: no crash, leak or sanitizer report, and the above. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../src/cli/align_common.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NL_MAX 16

static FILE *mem(const void *p, size_t n)
{
    static const char one = 0;
    return fmemopen((void *)(uintptr_t)(n ? p : &one), n ? n : 1, "rb");
}

static int state_try(const void *file, size_t n, float *l, float *m, float *v, size_t nl, uint64_t key, uint64_t *it)
{
    FILE *f = mem(file, n);
    const char *msg;
    if (!f)
        return -2;
    if (n == 0) { /* an empty file: fmemopen of one byte, read past it */
        fclose(f);
        return -1;
    }
    msg = state_load_stream(f, l, m, v, nl, key, it);
    fclose(f);
    return msg ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float l[NL_MAX], m[NL_MAX], v[NL_MAX], ref[3 * NL_MAX], base[NL_MAX];
    unsigned char file[8 + 24 + 12 * NL_MAX + 8], keep[sizeof l * 3];
    size_t nl, flen, pos, i;
    uint64_t key = 0, it = 0, it_in = 0, h, n;
    int rc;
    if (size < 12)
        return 0;
    nl = 1 + data[0] % NL_MAX;
    memcpy(&key, data + 1, 8);
    it_in = data[9];
    /* 1. the raw bytes as a state file and as a cache file */
    memset(l, 0x5a, sizeof l), memset(m, 0x5a, sizeof m), memset(v, 0x5a, sizeof v);
    memcpy(keep, l, sizeof l), memcpy(keep + sizeof l, m, sizeof m), memcpy(keep + 2 * sizeof l, v, sizeof v);
    rc = state_try(data, size, l, m, v, nl, key, &it);
    if (rc != 0 && (memcmp(keep, l, sizeof l) || memcmp(keep + sizeof l, m, sizeof m) ||
                    memcmp(keep + 2 * sizeof l, v, sizeof v)))
        abort();
    {
        FILE *f = mem(data, size);
        if (f) {
            (void)cache_load_stream(f, base, nl, key);
            fclose(f);
        }
    }
    /* 2. a valid state from the fuzz bytes */
    for (i = 0; i < 3 * nl; i++) {
        uint32_t u = 0;
        size_t j;
        for (j = 0; j < 4; j++)
            u = u << 8 | data[(10 + 4 * i + j) % size];
        memcpy(&ref[i], &u, 4);
    }
    n = nl;
    h = state_hash(ref, ref + nl, ref + 2 * nl, nl, key, it_in);
    memcpy(file, STATE_MAGIC, 8);
    memcpy(file + 8, &key, 8);
    memcpy(file + 16, &it_in, 8);
    memcpy(file + 24, &n, 8);
    memcpy(file + 32, ref, 12 * nl);
    memcpy(file + 32 + 12 * nl, &h, 8);
    flen = 40 + 12 * nl;
    if (state_try(file, flen, l, m, v, nl, key, &it) != 0 || it != it_in || memcmp(l, ref, 4 * nl) ||
        memcmp(m, ref + nl, 4 * nl) || memcmp(v, ref + 2 * nl, 4 * nl))
        abort();
    /* 3. damaged: one bit flipped, or truncated */
    pos = data[10] | (size_t)data[11] << 8;
    memset(l, 0x5a, sizeof l), memset(m, 0x5a, sizeof m), memset(v, 0x5a, sizeof v);
    if (pos & 0x8000) {
        rc = state_try(file, (pos & 0x7fff) % flen, l, m, v, nl, key, &it);
    } else {
        file[(pos >> 3) % flen] ^= (unsigned char)(1u << (pos & 7));
        rc = state_try(file, flen, l, m, v, nl, key, &it);
    }
    if (rc == 0 || memcmp(keep, l, sizeof l) || memcmp(keep + sizeof l, m, sizeof m) ||
        memcmp(keep + 2 * sizeof l, v, sizeof v))
        abort();
    return 0;
}
