/* libFuzzer harness of the .npy header parser (dpo_npy_parse) and, on every
 * header it accepts, the writer (dpo_npy_header).  Invariants: no crash or
 * sanitizer report; on DPO_OK the info is consistent (ndim in [0, 8], count
 * the product of the shape, dtype F32/F64, data_offset + count * itemsize
 * <= len, data_offset >= 10); on an error the info is untouched; the header
 * the writer makes for the parsed dtype and shape parses back to the same
 * dtype, shape and count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "tools/diffpo_tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dpo_npy_info a, sentinel;
    dpo_status st;
    size_t item, hn;
    uint64_t c = 1;
    int k, zero = 0;
    char hdr[512];
    memset(&a, 0x5A, sizeof a);
    memcpy(&sentinel, &a, sizeof a);
    st = dpo_npy_parse(&a, data, size);
    if (st != DPO_OK) {
        if (st != DPO_ERR_FORMAT && !(st == DPO_ERR_NULL && !data))
            abort();
        if (memcmp(&a, &sentinel, sizeof a) != 0)
            abort();
        return 0;
    }
    if (a.dtype != DPO_F32 && a.dtype != DPO_F64)
        abort();
    if (a.ndim < 0 || a.ndim > DPO_NPY_MAX_DIMS)
        abort();
    item = a.dtype == DPO_F64 ? 8 : 4;
    for (k = 0; k < a.ndim; k++)
        if (a.shape[k] == 0)
            zero = 1;
    for (k = 0; k < a.ndim && !zero; k++) {
        if (c > UINT64_MAX / a.shape[k]) /* a non-empty array's count must not overflow */
            abort();
        c *= a.shape[k];
    }
    if (zero)
        c = 0;
    if (a.count != c || a.data_offset < 10 || a.data_offset > size)
        abort();
    if (a.count > (uint64_t)((size - a.data_offset) / item))
        abort();
    /* the writer's header for the same array parses back to it */
    if (dpo_npy_header(hdr, sizeof hdr, &hn, a.dtype, a.shape, a.ndim) != DPO_OK)
        abort();
    if (a.count == 0) {
        dpo_npy_info b;
        if (dpo_npy_parse(&b, hdr, hn) != DPO_OK || b.ndim != a.ndim || b.count != 0 || b.dtype != a.dtype ||
            b.data_offset != hn || memcmp(b.shape, a.shape, sizeof(uint64_t) * (size_t)a.ndim) != 0)
            abort();
    } else if (a.count * item <= 4096) {
        unsigned char buf[512 + 4096];
        dpo_npy_info b;
        memcpy(buf, hdr, hn);
        memset(buf + hn, 0, (size_t)(a.count * item));
        if (dpo_npy_parse(&b, buf, hn + (size_t)(a.count * item)) != DPO_OK || b.ndim != a.ndim ||
            b.count != a.count || b.dtype != a.dtype || b.data_offset != hn ||
            memcmp(b.shape, a.shape, sizeof(uint64_t) * (size_t)a.ndim) != 0)
            abort();
    }
    return 0;
}
