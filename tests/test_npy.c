/* .npy header parser and writer: valid headers of every shape and version,
 * malformed ones (each must give DPO_ERR_FORMAT and leave the info struct
 * untouched), exact agreement of the writer with NumPy's own headers, and
 * header -> parse round trips.
 *
 * Golden data: the header texts below were written by numpy 2.4.6's
 * np.save (every header it wrote was 128 bytes: magic, version 1.0, length
 * 118, the dict, spaces, a newline); the 24 data bytes are np.save's
 * little-endian float32 of [[1.5, -2, 0.25], [3, 1e-3, -0.0]]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"
#include "tools/diffpo_tools.h"
#include "check.h"

/* Builds a .npy image: magic, version (major, 0), header length (2 or 4
 * bytes), dict text, `pad` spaces, a newline (unless pad < 0), then nbytes
 * data bytes (0x00..).  Returns the length. */
static size_t mk(unsigned char *buf, size_t cap, int major, const char *dict, int pad, size_t nbytes)
{
    size_t n = 0, hl, pre = major == 1 ? 10 : 12, i;
    size_t dl = strlen(dict);
    hl = dl + (pad >= 0 ? (size_t)pad + 1 : 0);
    if (pre + hl + nbytes > cap)
        return 0;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (major == 1) {
        buf[8] = (unsigned char)(hl & 0xff);
        buf[9] = (unsigned char)(hl >> 8);
    } else {
        buf[8] = (unsigned char)(hl & 0xff);
        buf[9] = (unsigned char)(hl >> 8);
        buf[10] = (unsigned char)(hl >> 16);
        buf[11] = (unsigned char)(hl >> 24);
    }
    n = pre;
    memcpy(buf + n, dict, dl);
    n += dl;
    if (pad >= 0) {
        memset(buf + n, ' ', (size_t)pad);
        n += (size_t)pad;
        buf[n++] = '\n';
    }
    for (i = 0; i < nbytes; i++)
        buf[n++] = (unsigned char)i;
    return n;
}

/* Pads so that the data starts at a multiple of 64 (as numpy writes). */
static size_t mk64(unsigned char *buf, size_t cap, int major, const char *dict, size_t nbytes)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    return mk(buf, cap, major, dict, (int)(total - pre - dl - 1), nbytes);
}

static unsigned char big[1 << 20];

static void fill_sentinel(dpo_npy_info *a)
{
    memset(a, 0xAB, sizeof *a);
}

static int is_sentinel(const dpo_npy_info *a)
{
    dpo_npy_info s;
    fill_sentinel(&s);
    return memcmp(&s, a, sizeof s) == 0;
}

/* Expects a parse failure with DPO_ERR_FORMAT and an untouched info. */
static void expect_bad(const unsigned char *buf, size_t len, const char *what)
{
    dpo_npy_info a;
    dpo_status st;
    fill_sentinel(&a);
    st = dpo_npy_parse(&a, buf, len);
    CHECK(st == DPO_ERR_FORMAT, "%s: status %d, want DPO_ERR_FORMAT", what, (int)st);
    CHECK(is_sentinel(&a), "%s: info was modified", what);
}

static void expect_bad_dict(const char *dict, size_t nbytes)
{
    size_t n = mk64(big, sizeof big, 1, dict, nbytes);
    CHECK(n > 0, "mk");
    expect_bad(big, n, dict);
}

typedef struct good_case {
    const char *dict;
    dpo_dtype dtype;
    int ndim;
    uint64_t shape[DPO_NPY_MAX_DIMS];
} good_case;

static const good_case goods[] = {
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", DPO_F32, 0, {0}},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", DPO_F64, 1, {5}},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", DPO_F32, 2, {2, 3}},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8), }", DPO_F64, 8,
     {1, 2, 3, 4, 5, 6, 7, 8}},
    {"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", DPO_F32, 2, {2, 3}},
    {"{'fortran_order': False, 'descr': '<f8', 'shape': (4,)}", DPO_F64, 1, {4}},
    {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 1)}", DPO_F32, 2, {3, 1}},
    {"{'descr':'<f4','fortran_order':False,'shape':(7,)}", DPO_F32, 1, {7}},
    {"  { 'descr' : '<f4' ,\n 'fortran_order' :\tFalse , 'shape' : ( 2 , 3 , ) , }  ", DPO_F32, 2, {2, 3}},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", DPO_F32, 2, {2, 3}},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", DPO_F32, 1, {0}},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0, 3), }", DPO_F64, 3, {2, 0, 3}},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 0), }", DPO_F32, 2,
     {9223372036854775807ull, 0}},
    /* empty: valid although the other dimensions' product overflows (found by fuzz_npy) */
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }", DPO_F64, 3,
     {4294967296ull, 4294967296ull, 0}},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1,), }", DPO_F32, 8,
     {1, 1, 1, 1, 1, 1, 1, 1}},
};

static size_t good_bytes(const good_case *g)
{
    size_t c = 1;
    int k;
    for (k = 0; k < g->ndim; k++)
        c *= (size_t)g->shape[k];
    return c * (g->dtype == DPO_F64 ? 8 : 4);
}

static void check_info(const dpo_npy_info *a, const good_case *g, size_t off, const char *what)
{
    int k;
    uint64_t c = 1;
    CHECK(a->dtype == g->dtype, "%s: dtype", what);
    CHECK(a->ndim == g->ndim, "%s: ndim %d want %d", what, a->ndim, g->ndim);
    for (k = 0; k < g->ndim && k < a->ndim; k++) {
        CHECK(a->shape[k] == g->shape[k], "%s: shape[%d]", what, k);
        c *= g->shape[k];
    }
    for (k = 0; k < g->ndim; k++)
        if (g->shape[k] == 0)
            c = 0;
    CHECK(a->count == c, "%s: count %llu want %llu", what, (unsigned long long)a->count, (unsigned long long)c);
    CHECK(a->data_offset == off, "%s: data_offset %zu want %zu", what, a->data_offset, off);
}

static void test_valid_all_versions(void)
{
    size_t i;
    int major;
    for (major = 1; major <= 3; major++)
        for (i = 0; i < sizeof goods / sizeof goods[0]; i++) {
            const good_case *g = &goods[i];
            size_t nb = good_bytes(g), n;
            dpo_npy_info a;
            n = mk64(big, sizeof big, major, g->dict, nb);
            CHECK(n > 0, "mk");
            memset(&a, 0, sizeof a);
            CHECK(dpo_npy_parse(&a, big, n) == DPO_OK, "v%d.0 %s", major, g->dict);
            check_info(&a, g, n - nb, g->dict);
            CHECK((n - nb) % 64 == 0, "aligned");
            /* one byte short of the data: refused (unless there is none) */
            if (nb)
                expect_bad(big, n - 1, "one byte short");
            /* trailing bytes after the data are ignored, as numpy.load does */
            CHECK(dpo_npy_parse(&a, big, n + 3 <= sizeof big ? n + 3 : n) == DPO_OK, "trailing bytes");
        }
}

static void test_unaligned_accepted(void)
{
    /* numpy's reader accepts any header length; so does diffpo (documented) */
    dpo_npy_info a;
    const good_case *g = &goods[2];
    size_t n;
    int pad;
    for (pad = -1; pad < 70; pad += 7) {
        n = mk(big, sizeof big, 1, g->dict, pad, 24);
        CHECK(dpo_npy_parse(&a, big, n) == DPO_OK, "pad %d", pad);
        check_info(&a, g, n - 24, "unaligned");
    }
    /* a 16-aligned header (numpy before 1.14, cnpy) */
    n = mk(big, sizeof big, 1, g->dict, (int)(80 - 10 - strlen(g->dict) - 1), 24);
    CHECK(dpo_npy_parse(&a, big, n) == DPO_OK && a.data_offset == 80, "16-aligned");
}

/* A file written by numpy (dict above, 24 data bytes). */
static void test_numpy_file(void)
{
    static const unsigned char data[] = "\x00\x00\xc0\x3f\x00\x00\x00\xc0\x00\x00\x80\x3e\x00\x00\x40\x40\x6f\x12"
                                        "\x83\x3a\x00\x00\x00\x80";
    static const float want[6] = {1.5f, -2.0f, 0.25f, 3.0f, 1e-3f, -0.0f};
    dpo_npy_info a;
    size_t n = mk(big, sizeof big, 1, goods[2].dict, 128 - 10 - (int)strlen(goods[2].dict) - 1, 0);
    int i;
    CHECK(n == 128, "numpy header length %zu", n);
    memcpy(big + n, data, 24);
    CHECK(dpo_npy_parse(&a, big, n + 24) == DPO_OK, "parse");
    CHECK(a.data_offset == 128 && a.count == 6 && a.dtype == DPO_F32, "info");
    for (i = 0; i < 6; i++) {
        float f;
        memcpy(&f, big + a.data_offset + 4 * i, 4); /* the test host is little-endian (x86-64, arm64) */
        CHECK(chk_same_bits(&f, &want[i], 4), "element %d", i);
    }
}

/* The writer reproduces numpy's headers byte for byte. */
static void test_writer_matches_numpy(void)
{
    static const struct {
        dpo_dtype dt;
        int ndim;
        uint64_t shape[8];
        const char *dict;
    } w[] = {
        {DPO_F32, 0, {0}, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
        {DPO_F64, 1, {5}, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"},
        {DPO_F32, 2, {2, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {DPO_F64, 8, {1, 2, 3, 4, 5, 6, 7, 8},
         "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8), }"},
        {DPO_F32, 1, {0}, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }"},
        {DPO_F32, 2, {123456789, 0}, "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789, 0), }"},
    };
    size_t i;
    for (i = 0; i < sizeof w / sizeof w[0]; i++) {
        unsigned char want[256];
        char got[512];
        size_t wn, gn = 0;
        wn = mk(want, sizeof want, 1, w[i].dict, 128 - 10 - (int)strlen(w[i].dict) - 1, 0);
        CHECK(wn == 128, "golden length");
        CHECK(dpo_npy_header(got, sizeof got, &gn, w[i].dt, w[i].shape, w[i].ndim) == DPO_OK, "header %zu", i);
        CHECK(gn == wn && memcmp(got, want, wn) == 0, "header %zu differs from numpy's: %.*s", i, (int)gn, got + 10);
    }
}

static void test_writer_long_and_errors(void)
{
    /* the longest dimensions the writer accepts: 2^61 - 1 elements of float64, then int64 max behind a 0 */
    uint64_t shape[9] = {2305843009213693951ull, 0, 9223372036854775807ull, 9223372036854775807ull, 9223372036854775807ull,
                         9223372036854775807ull, 9223372036854775807ull, 9223372036854775807ull, 5};
    uint64_t one[1] = {3};
    char out[512], keep[512];
    size_t n = 7;
    dpo_npy_info a;
    int nd;
    /* the documented capacity suffices for every ndim */
    for (nd = 0; nd <= 8; nd++) {
        size_t cap = 128 + 24 * (size_t)nd;
        dpo_status st = dpo_npy_header(out, cap, &n, DPO_F64, shape, nd);
        CHECK(st == DPO_OK, "ndim %d in cap %zu: %d", nd, cap, (int)st);
        CHECK(st != DPO_OK || (n % 64 == 0 && n <= cap && out[n - 1] == '\n'), "ndim %d layout", nd);
        if (st == DPO_OK) {
            /* parse back: header only (data would be huge), so expect FORMAT unless count 0 */
            dpo_status ps = dpo_npy_parse(&a, out, n);
            CHECK(nd < 2 ? ps == DPO_ERR_FORMAT : ps == DPO_OK,
                  "ndim %d parse-back %d", nd, (int)ps);
            if (nd >= 2)
                CHECK(a.ndim == nd && a.count == 0 && a.shape[0] == shape[0], "ndim %d info", nd);
        }
    }
    memset(out, 'Z', sizeof out);
    memcpy(keep, out, sizeof out);
    n = 7;
    CHECK(dpo_npy_header(out, 127, &n, DPO_F32, one, 1) == DPO_ERR_SIZE, "cap too small");
    CHECK(memcmp(out, keep, sizeof out) == 0 && n == 7, "untouched on cap error");
    CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F32, shape, 9) == DPO_ERR_SIZE, "ndim 9");
    CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F32, shape, -1) == DPO_ERR_SIZE, "ndim -1");
    CHECK(dpo_npy_header(out, sizeof out, &n, (dpo_dtype)7, one, 1) == DPO_ERR_RANGE, "dtype");
    CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F32, NULL, 1) == DPO_ERR_NULL, "shape NULL");
    CHECK(dpo_npy_header(NULL, sizeof out, &n, DPO_F32, one, 1) == DPO_ERR_NULL, "out NULL");
    CHECK(dpo_npy_header(out, sizeof out, NULL, DPO_F32, one, 1) == DPO_ERR_NULL, "written NULL");
    {
        uint64_t ov[3] = {4294967296ull, 4294967296ull, 2};
        uint64_t neg[1] = {9223372036854775808ull};
        CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F32, ov, 3) == DPO_ERR_SIZE, "count overflow");
        CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F32, neg, 1) == DPO_ERR_SIZE, "dim > int64");
    }
    CHECK(memcmp(out, keep, sizeof out) == 0 && n == 7, "untouched on errors");
    {
        uint64_t empty[3] = {4294967296ull, 4294967296ull, 0};
        CHECK(dpo_npy_header(out, sizeof out, &n, DPO_F64, empty, 3) == DPO_OK, "empty array, huge dims");
        CHECK(dpo_npy_parse(&a, out, n) == DPO_OK && a.count == 0 && a.ndim == 3, "empty array parses back");
    }
}

/* header -> parse round trips with data, pseudo-random shapes */
static void test_round_trip(void)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int it;
    for (it = 0; it < 2000; it++) {
        uint64_t shape[8];
        int nd, k;
        size_t hn, count = 1, bytes;
        dpo_dtype dt;
        dpo_npy_info a;
        char *h = (char *)big;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        nd = (int)(s % 9);
        dt = (s >> 8) & 1 ? DPO_F64 : DPO_F32;
        for (k = 0; k < nd; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            shape[k] = (s >> 20) % (k < 2 ? 12 : 3);
            count *= (size_t)shape[k];
        }
        bytes = count * (dt == DPO_F64 ? 8 : 4);
        if (dpo_npy_header(h, 512, &hn, dt, shape, nd) != DPO_OK || hn + bytes > sizeof big) {
            CHECK(0, "header it %d", it);
            continue;
        }
        memset(big + hn, 0x3f, bytes);
        CHECK(dpo_npy_parse(&a, big, hn + bytes) == DPO_OK, "parse it %d", it);
        CHECK(a.dtype == dt && a.ndim == nd && a.count == count && a.data_offset == hn, "info it %d", it);
        for (k = 0; k < nd && k < a.ndim; k++)
            CHECK(a.shape[k] == shape[k], "shape it %d", it);
        if (bytes)
            expect_bad(big, hn + bytes - 1, "round trip short");
    }
}

static void test_truncations(void)
{
    /* every proper prefix of a valid file is refused */
    size_t n = mk64(big, sizeof big, 1, goods[2].dict, 24), k;
    size_t n2;
    static unsigned char b2[256];
    for (k = 0; k < n; k++)
        expect_bad(big, k, "prefix");
    n2 = mk64(b2, sizeof b2, 2, goods[1].dict, 40);
    for (k = 0; k < n2; k++)
        expect_bad(b2, k, "prefix v2");
}

static void test_bad_magic_version(void)
{
    size_t n = mk64(big, sizeof big, 1, goods[2].dict, 24);
    int i;
    unsigned char save;
    for (i = 0; i < 6; i++) {
        save = big[i];
        big[i] ^= 0x20;
        expect_bad(big, n, "magic");
        big[i] = save;
    }
    save = big[6];
    big[6] = 0;
    expect_bad(big, n, "version 0.0");
    big[6] = 4;
    expect_bad(big, n, "version 4.0");
    big[6] = save;
    big[7] = 1;
    expect_bad(big, n, "version 1.1");
    big[7] = 0;
    /* header length beyond the file */
    big[8] = 0xff;
    big[9] = 0xff;
    expect_bad(big, n, "v1 header length 65535");
    n = mk64(big, sizeof big, 2, goods[2].dict, 24);
    big[8] = big[9] = big[10] = big[11] = 0xff;
    expect_bad(big, n, "v2 header length 2^32-1");
    n = mk64(big, sizeof big, 3, goods[2].dict, 24);
    big[11] = 0x80;
    expect_bad(big, n, "v3 header length 2^31+");
}

static void test_bad_dicts(void)
{
    static const char *const bad[] = {
        "",
        "   ",
        "{",
        "}",
        "[]",
        "{}",
        "'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (2,)}",
        "{'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}",
        "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '=f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4 ', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4\", 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': 2}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (+2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)};",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} # comment",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}",
        "{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{descr: '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'Descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3)}", /* 24 data bytes given: 36 needed */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_dict(bad[i], 24);
    /* a NUL inside the header */
    {
        size_t n = mk64(big, sizeof big, 1, goods[2].dict, 24);
        big[10 + 3] = 0;
        expect_bad(big, n, "NUL in header");
    }
}

static void test_null_args(void)
{
    dpo_npy_info a;
    size_t n = mk64(big, sizeof big, 1, goods[2].dict, 24);
    fill_sentinel(&a);
    CHECK(dpo_npy_parse(NULL, big, n) == DPO_ERR_NULL, "info NULL");
    CHECK(dpo_npy_parse(&a, NULL, n) == DPO_ERR_NULL, "buf NULL");
    CHECK(is_sentinel(&a), "untouched");
}

int main(void)
{
    RUN(test_valid_all_versions);
    RUN(test_unaligned_accepted);
    RUN(test_numpy_file);
    RUN(test_writer_matches_numpy);
    RUN(test_writer_long_and_errors);
    RUN(test_round_trip);
    RUN(test_truncations);
    RUN(test_bad_magic_version);
    RUN(test_bad_dicts);
    RUN(test_null_args);
    return chk_summary();
}
