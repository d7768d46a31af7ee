/* libFuzzer harness of the CLI's whole .npy loader (cli_npy_load_stream:
 * bounded read, parse, conversion to float32 and float64) and of the .npy
 * writer (cli_npy_write), in memory (fmemopen / open_memstream).
 * Invariants: no crash, leak or sanitizer report; a load that succeeds
 * returns count values with the header's dtype and shape; the float64 load
 * equals the file's values exactly; the float32 load of float32 data is
 * bit-identical and of float64 data is the value rounded to float32 (and a
 * load refuses only finite values beyond float32's range); writing the
 * loaded data back and loading it again gives the same shape and bits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(const uint8_t *data, size_t size, dpo_dtype want, dpo_npy_info *info, void **out)
{
    char err[256];
    int rc;
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f)
        return -2;
    memset(info, 0, sizeof *info);
    info->dtype = want;
    err[0] = 0;
    rc = cli_npy_load_stream(f, "fuzz", info, out, err, sizeof err);
    fclose(f);
    if (rc != 0 && !err[0])
        abort(); /* every refusal says why */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dpo_npy_info i64, i32, ib;
    void *d64 = 0, *d32 = 0, *db = 0;
    char *mem = 0, err[256];
    size_t memlen = 0, k;
    FILE *w;
    if (size == 0)
        return 0; /* fmemopen needs a non-empty buffer */
    if (load(data, size, DPO_F64, &i64, &d64) != 0)
        return 0;
    if (i64.count > (uint64_t)(size / 4) + 1)
        abort(); /* more values than the input holds */
    if (load(data, size, DPO_F32, &i32, &d32) == 0) {
        if (memcmp(&i32, &i64, sizeof i32) != 0)
            abort();
        for (k = 0; k < (size_t)i64.count; k++) {
            float a = ((const float *)d32)[k], b = (float)((const double *)d64)[k];
            if (memcmp(&a, &b, 4) != 0 && !(a != a && b != b))
                abort();
        }
    } else if (i64.dtype == DPO_F32) {
        abort(); /* float32 data always loads as float32 */
    }
    /* write back (as stored) and reload: same shape and bits */
    w = open_memstream(&mem, &memlen);
    if (!w)
        goto out;
    if (cli_npy_write(w, i64.dtype, i64.shape, i64.ndim, i64.dtype == DPO_F32 ? d32 : d64, err, sizeof err) != 0 &&
        (i64.dtype == DPO_F64 || d32))
        abort();
    fclose(w);
    if ((i64.dtype == DPO_F64 || d32) && memlen) {
        if (load((const uint8_t *)mem, memlen, i64.dtype, &ib, &db) != 0)
            abort();
        if (ib.dtype != i64.dtype || ib.ndim != i64.ndim || ib.count != i64.count ||
            memcmp(ib.shape, i64.shape, sizeof ib.shape) != 0)
            abort();
        if (memcmp(db, i64.dtype == DPO_F32 ? d32 : d64, (size_t)ib.count * (ib.dtype == DPO_F64 ? 8 : 4)) != 0)
            abort();
    }
out:
    free(mem);
    free(db);
    free(d32);
    free(d64);
    return 0;
}
