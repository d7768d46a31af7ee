/* Plot writers (src/tools/plot.c, src/tools/diffpo_tools.h).
 *
 * PNG: parsed back here with independent code: chunk layout, every CRC-32
 * by a bitwise CRC (checked first against the published check value of
 * "123456789"), the zlib header, stored-block headers (LEN/NLEN), Adler-32
 * by a direct definition (checked against the published value of
 * "Wikipedia"), IHDR fields and every pixel against the documented grid
 * geometry and grey mapping; multi-block streams (> 65535 raw bytes).
 * PGM: header and pixels (same as the PNG's).  SVG: well-formed (balanced
 * tags, only the five XML entities), contains each series, escaping,
 * NaN-broken lines, determinism (identical bytes on repeat).  Validation:
 * bad arguments write nothing.
 *
 * With DPO_PLOT_OUT=<dir> the sample grid (PNG, PGM) and chart (SVG) are
 * also written there for looking at. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"
#include "tools/diffpo_tools.h"

static uint64_t sm_state = 0x0badc0ffee0ddf00ULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double unif(void)
{
    return (double)(splitmix64() >> 11) * (1.0 / 9007199254740992.0);
}

/* ----------------------------------------------- independent checksums */

static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t adler32_direct(const unsigned char *p, size_t n)
{
    /* A = 1 + sum p_i, B = sum over prefixes of A, both mod 65521 */
    uint64_t a = 1, b = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        a += p[i];
        b += a;
        if ((i & 0xFFF) == 0xFFF) {
            a %= 65521;
            b %= 65521;
        }
    }
    return (uint32_t)(((b % 65521) << 16) | (a % 65521));
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void test_checksum_known_answers(void)
{
    CHECK(crc32_bitwise((const unsigned char *)"123456789", 9) == 0xCBF43926u, "CRC-32 check value");
    CHECK(adler32_direct((const unsigned char *)"Wikipedia", 9) == 0x11E60398u, "Adler-32 of Wikipedia");
    CHECK(crc32_bitwise((const unsigned char *)"IEND", 4) == 0xAE426082u, "CRC of an empty IEND");
}

/* Read a whole stream back. */
static unsigned char *slurp(FILE *f, size_t *n)
{
    long len;
    unsigned char *buf;
    fflush(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = (unsigned char *)malloc((size_t)len + 1);
    if (!buf)
        return NULL;
    *n = fread(buf, 1, (size_t)len, f);
    return buf;
}

/* Parse a greyscale PNG as the writer documents it; returns the raw
 * (filter byte + pixels) rows in *raw (malloc) or NULL after CHECK
 * failures. */
static unsigned char *png_parse(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h, int *nblocks)
{
    static const unsigned char sig[8] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};
    size_t pos = 8, rawcap = 0, rawlen = 0, zpos, zend;
    unsigned char *raw = NULL;
    int seen = 0, final = 0;
    *nblocks = 0;
    if (n < 8 || memcmp(b, sig, 8) != 0) {
        CHECK(0, "PNG signature");
        return NULL;
    }
    while (pos + 12 <= n) {
        uint32_t len = be32(b + pos);
        const unsigned char *type = b + pos + 4, *data = b + pos + 8;
        if (pos + 12 + len > n) {
            CHECK(0, "chunk overruns file");
            break;
        }
        CHECK(be32(data + len) == crc32_bitwise(type, 4 + (size_t)len), "CRC of chunk %.4s", (const char *)type);
        if (seen == 0) {
            CHECK(memcmp(type, "IHDR", 4) == 0 && len == 13, "first chunk IHDR");
            *w = be32(data);
            *h = be32(data + 4);
            CHECK(data[8] == 8 && data[9] == 0 && data[10] == 0 && data[11] == 0 && data[12] == 0,
                  "IHDR: depth 8 grey, deflate, filter 0, no interlace");
        } else if (seen == 1) {
            CHECK(memcmp(type, "IDAT", 4) == 0, "second chunk IDAT");
            /* zlib: CMF 0x78 (deflate, 32K), FCHECK, no dictionary */
            CHECK(len >= 6 && data[0] == 0x78 && ((data[0] << 8) | data[1]) % 31 == 0 && !(data[1] & 0x20),
                  "zlib header");
            rawcap = len;
            raw = (unsigned char *)malloc(rawcap);
            zpos = 2;
            zend = len - 4;
            while (raw && zpos < zend && !final) {
                unsigned hdr = data[zpos], blen, nlen;
                CHECK((hdr & 0x06) == 0, "stored block type");
                final = hdr & 1;
                blen = data[zpos + 1] | (data[zpos + 2] << 8);
                nlen = data[zpos + 3] | (data[zpos + 4] << 8);
                CHECK((blen ^ nlen) == 0xFFFFu, "LEN/NLEN complement");
                zpos += 5;
                if (zpos + blen > zend) {
                    CHECK(0, "block overruns IDAT");
                    break;
                }
                memcpy(raw + rawlen, data + zpos, blen);
                rawlen += blen;
                zpos += blen;
                ++*nblocks;
            }
            CHECK(final && zpos == zend, "final block ends the deflate stream");
            if (raw)
                CHECK(be32(data + len - 4) == adler32_direct(raw, rawlen), "Adler-32");
        } else if (seen == 2) {
            CHECK(memcmp(type, "IEND", 4) == 0 && len == 0, "third chunk IEND");
        }
        seen++;
        pos += 12 + len;
    }
    CHECK(seen == 3 && pos == n, "exactly IHDR, IDAT, IEND and nothing after (%d chunks)", seen);
    if (raw && rawlen != (size_t)*h * ((size_t)*w + 1)) {
        CHECK(0, "raw length %zu vs %u x (%u + 1)", rawlen, *h, *w);
        free(raw);
        return NULL;
    }
    return raw;
}

/* the documented grey mapping, written with libm */
static int expect_grey(float x)
{
    double v = floor(((double)x + 1.0) * 127.5 + 0.5);
    return v < 0 ? 0 : v > 255 ? 255 : (int)v;
}

/* expected pixel of the documented grid geometry */
static int expect_grid_pixel(const float *img, const dpo_plot_grid *g, size_t X, size_t Y)
{
    size_t tile = g->side * g->scale;
    size_t tx, ty, ix, iy;
    /* separators at 0, tile+1, 2(tile+1), ... */
    if (X % (tile + 1) == 0 || Y % (tile + 1) == 0)
        return (int)g->sep;
    tx = X / (tile + 1);
    ty = Y / (tile + 1);
    ix = (X - tx * (tile + 1) - 1) / g->scale;
    iy = (Y - ty * (tile + 1) - 1) / g->scale;
    return expect_grey(img[(ty * g->cols + tx) * g->side * g->side + iy * g->side + ix]);
}

static void fill_images(float *img, size_t n)
{
    size_t k;
    for (k = 0; k < n; k++)
        img[k] = (float)(unif() * 2.4 - 1.2); /* includes out-of-range values */
    if (n > 3) {
        img[0] = -1.0f;
        img[1] = 1.0f;
        img[2] = 0.0f;
        img[3] = -1.0f + 2.0f / 255.0f; /* (x + 1) 127.5 + 0.5 = 1.5 */
    }
}

static void write_sample(const char *name, dpo_status (*fn)(FILE *, const float *, const dpo_plot_grid *),
                         const float *img, const dpo_plot_grid *g)
{
    const char *dir = getenv("DPO_PLOT_OUT");
    char path[1024];
    FILE *f;
    if (!dir || !*dir)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return;
    CHECK(fn(f, img, g) == DPO_OK, "sample %s", name);
    fclose(f);
}

static void test_png_grid(void)
{
    static float img[3 * 5 * DPO_IMG_DIM];
    dpo_plot_grid g;
    size_t w, h, n, X, Y, bad = 0;
    uint32_t pw = 0, ph = 0;
    unsigned char *bytes, *raw;
    int nb = 0;
    FILE *f = tmpfile();
    fill_images(img, sizeof img / sizeof img[0]);
    g.rows = 3;
    g.cols = 5;
    g.side = DPO_IMG_SIDE;
    g.scale = 4;
    g.sep = 128;
    CHECK(dpo_plot_grid_size(&w, &h, &g) == DPO_OK, "size");
    CHECK(w == 5 * 32 + 6 && h == 3 * 32 + 4, "geometry %zu x %zu", w, h);
    CHECK(f != NULL, "tmpfile");
    if (!f)
        return;
    CHECK(dpo_plot_grid_png(f, img, &g) == DPO_OK, "write");
    bytes = slurp(f, &n);
    fclose(f);
    raw = bytes ? png_parse(bytes, n, &pw, &ph, &nb) : NULL;
    CHECK(pw == w && ph == h, "IHDR %u x %u", pw, ph);
    CHECK(nb == 1, "one stored block (%d)", nb);
    if (raw) {
        for (Y = 0; Y < h; Y++) {
            CHECK(raw[Y * (w + 1)] == 0, "filter byte of row %zu", Y);
            for (X = 0; X < w; X++)
                if (raw[Y * (w + 1) + 1 + X] != expect_grid_pixel(img, &g, X, Y) && bad++ < 5)
                    CHECK(0, "pixel (%zu, %zu): %d vs %d", X, Y, raw[Y * (w + 1) + 1 + X],
                          expect_grid_pixel(img, &g, X, Y));
        }
        /* the mapping's end points and one step */
        /* (X, Y) = (1, 1) is image 0's pixel 0, X = 5 its pixel 1, ... */
        CHECK(raw[w + 3] == 0 && raw[w + 7] == 255 && raw[w + 11] == 128 && raw[w + 15] == 1 && raw[w + 2] == 128,
              "grey of -1, 1, 0, -1+2/255 and the frame: %d %d %d %d %d", raw[w + 3], raw[w + 7], raw[w + 11],
              raw[w + 15], raw[w + 2]);
    }
    free(raw);
    free(bytes);
    write_sample("sample_grid.png", dpo_plot_grid_png, img, &g);
    write_sample("sample_grid.pgm", dpo_plot_grid_pgm, img, &g);
}

/* > 65535 raw bytes: several stored blocks, exact pixel round trip;
 * also a 1 x 1 picture and a width that makes rows straddle blocks */
static void test_png_blocks(void)
{
    static const size_t dims[][2] = {{300, 300}, {1, 1}, {16384, 8}, {1000, 131}, {16383, 4}};
    size_t t;
    for (t = 0; t < sizeof dims / sizeof dims[0]; t++) {
        size_t w = dims[t][0], h = dims[t][1], n, k, raw_len = h * (w + 1), mism = 0;
        unsigned char *pix = (unsigned char *)malloc(w * h), *bytes, *raw;
        uint32_t pw = 0, ph = 0;
        int nb = 0;
        FILE *f = tmpfile();
        if (!pix || !f) {
            CHECK(0, "alloc");
            free(pix);
            if (f)
                fclose(f);
            return;
        }
        for (k = 0; k < w * h; k++)
            pix[k] = (unsigned char)(splitmix64() & 0xFF);
        CHECK(dpo_plot_gray_png(f, pix, w, h) == DPO_OK, "write %zu x %zu", w, h);
        bytes = slurp(f, &n);
        fclose(f);
        raw = bytes ? png_parse(bytes, n, &pw, &ph, &nb) : NULL;
        CHECK(pw == w && ph == h, "dims");
        CHECK(nb == (int)((raw_len + 65534) / 65535), "%zu x %zu: %d blocks", w, h, nb);
        if (raw)
            for (k = 0; k < w * h; k++)
                if (raw[(k / w) * (w + 1) + 1 + k % w] != pix[k])
                    mism++;
        CHECK(raw && mism == 0, "%zu x %zu: %zu pixels differ", w, h, mism);
        free(raw);
        free(bytes);
        free(pix);
    }
}

static void test_pgm(void)
{
    static float img[2 * 3 * 16];
    dpo_plot_grid g;
    unsigned char *bytes;
    size_t n, X, Y, bad = 0;
    const char *hdr = "P5\n16 11\n255\n";
    FILE *f = tmpfile();
    fill_images(img, sizeof img / sizeof img[0]);
    g.rows = 2;
    g.cols = 3;
    g.side = 4;
    g.scale = 1;
    g.sep = 255;
    /* width 3*4+4 = 16, height 2*4+3 = 11 */
    if (!f)
        return;
    CHECK(dpo_plot_grid_pgm(f, img, &g) == DPO_OK, "write");
    bytes = slurp(f, &n);
    fclose(f);
    if (!bytes)
        return;
    CHECK(n == strlen(hdr) + 16 * 11 && memcmp(bytes, hdr, strlen(hdr)) == 0, "header / length %zu", n);
    if (n == strlen(hdr) + 16 * 11)
        for (Y = 0; Y < 11; Y++)
            for (X = 0; X < 16; X++)
                if (bytes[strlen(hdr) + Y * 16 + X] != expect_grid_pixel(img, &g, X, Y) && bad++ < 5)
                    CHECK(0, "pgm pixel (%zu, %zu)", X, Y);
    free(bytes);
}

static size_t file_len(FILE *f)
{
    fflush(f);
    fseek(f, 0, SEEK_END);
    return (size_t)ftell(f);
}

static void test_grid_validation(void)
{
    static float img[4 * DPO_IMG_DIM];
    dpo_plot_grid g, b;
    size_t w = 77, h = 88;
    FILE *f = tmpfile();
    unsigned char px = 0;
    if (!f)
        return;
    memset(img, 0, sizeof img);
    g.rows = 2;
    g.cols = 2;
    g.side = DPO_IMG_SIDE;
    g.scale = 2;
    g.sep = 0;
    CHECK(dpo_plot_grid_png(NULL, img, &g) == DPO_ERR_NULL, "f NULL");
    CHECK(dpo_plot_grid_png(f, NULL, &g) == DPO_ERR_NULL, "img NULL");
    CHECK(dpo_plot_grid_png(f, img, NULL) == DPO_ERR_NULL, "grid NULL");
    CHECK(dpo_plot_grid_pgm(f, NULL, &g) == DPO_ERR_NULL, "pgm img NULL");
    b = g;
    b.rows = 0;
    CHECK(dpo_plot_grid_png(f, img, &b) == DPO_ERR_SIZE && dpo_plot_grid_pgm(f, img, &b) == DPO_ERR_SIZE, "rows 0");
    b = g;
    b.scale = 0;
    CHECK(dpo_plot_grid_png(f, img, &b) == DPO_ERR_SIZE, "scale 0");
    b = g;
    b.sep = 256;
    CHECK(dpo_plot_grid_png(f, img, &b) == DPO_ERR_RANGE, "sep 256");
    b = g;
    b.cols = 3000; /* 3000 * 17 + 1 > 16384 */
    CHECK(dpo_plot_grid_size(&w, &h, &b) == DPO_ERR_SIZE && w == 77 && h == 88, "too wide, outputs untouched");
    b.cols = (size_t)-1;
    CHECK(dpo_plot_grid_size(&w, &h, &b) == DPO_ERR_SIZE, "overflowing cols");
    b = g;
    b.scale = (size_t)1 << 62;
    CHECK(dpo_plot_grid_size(&w, &h, &b) == DPO_ERR_SIZE, "overflowing scale");
    img[4 * DPO_IMG_DIM - 1] = NAN;
    CHECK(dpo_plot_grid_png(f, img, &g) == DPO_ERR_NONFINITE, "NaN pixel");
    CHECK(dpo_plot_grid_pgm(f, img, &g) == DPO_ERR_NONFINITE, "NaN pixel pgm");
    img[4 * DPO_IMG_DIM - 1] = 0;
    CHECK(dpo_plot_gray_png(f, &px, 0, 1) == DPO_ERR_SIZE, "width 0");
    CHECK(dpo_plot_gray_png(f, &px, 1, 16385) == DPO_ERR_SIZE, "height 16385");
    CHECK(dpo_plot_gray_png(f, NULL, 1, 1) == DPO_ERR_NULL, "pix NULL");
    CHECK(file_len(f) == 0, "nothing written on error");
    fclose(f);
}

/* ------------------------------------------------------------------ SVG */

/* Well-formedness for the subset the writer produces: an XML declaration,
 * elements with quoted attributes (no '<' or '>' inside them), text, the
 * five predefined entities.  Returns the number of elements, or -1. */
static int xml_check(const char *s, char *why, size_t whylen)
{
    const char *stack[64];
    size_t lens[64];
    int depth = 0, elems = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            static const char *const ents[5] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int k, ok = 0;
            for (k = 0; k < 5; k++)
                if (strncmp(p, ents[k], strlen(ents[k])) == 0)
                    ok = 1;
            if (!ok) {
                snprintf(why, whylen, "bare '&' at %ld", (long)(p - s));
                return -1;
            }
            p++;
        } else if (*p == '>') {
            snprintf(why, whylen, "stray '>' at %ld", (long)(p - s));
            return -1;
        } else if (*p == '<') {
            const char *q = p + 1, *end;
            int quoted = 0;
            for (end = q; *end && (quoted || *end != '>'); end++) {
                if (*end == '"')
                    quoted = !quoted;
                if (*end == '<') {
                    snprintf(why, whylen, "'<' inside a tag at %ld", (long)(end - s));
                    return -1;
                }
            }
            if (!*end) {
                snprintf(why, whylen, "unterminated tag");
                return -1;
            }
            if (*q == '?') {
                if (p != s || end[-1] != '?') {
                    snprintf(why, whylen, "misplaced declaration");
                    return -1;
                }
            } else if (*q == '/') {
                size_t nl = strcspn(q + 1, " >");
                if (depth == 0 || nl != lens[depth - 1] || strncmp(q + 1, stack[depth - 1], nl) != 0) {
                    snprintf(why, whylen, "mismatched close at %ld", (long)(p - s));
                    return -1;
                }
                depth--;
            } else {
                size_t nl = strcspn(q, " />");
                if (depth == 0)
                    roots++;
                elems++;
                if (end[-1] != '/') {
                    if (depth == 64)
                        return -1;
                    stack[depth] = q;
                    lens[depth] = nl;
                    depth++;
                }
            }
            p = end + 1;
        } else {
            p++;
        }
    }
    if (depth != 0 || roots != 1) {
        snprintf(why, whylen, "depth %d at end, %d roots", depth, roots);
        return -1;
    }
    return elems;
}

static size_t count(const char *s, const char *needle)
{
    size_t c = 0;
    for (s = strstr(s, needle); s; s = strstr(s + 1, needle))
        c++;
    return c;
}

static char *svg_to_string(const dpo_plot_chart *c, const dpo_plot_series *s, size_t ns, dpo_status *st)
{
    FILE *f = tmpfile();
    unsigned char *b;
    size_t n;
    if (!f)
        return NULL;
    *st = dpo_plot_svg(f, c, s, ns);
    b = slurp(f, &n);
    fclose(f);
    if (b)
        b[n] = 0;
    return (char *)b;
}

static void test_svg(void)
{
    enum { N = 50 };
    double x[N], y0[N], y1[N], y2[N];
    dpo_plot_series s[3];
    dpo_plot_chart c;
    dpo_status st = DPO_ERR_IO, st2 = DPO_ERR_IO;
    char *a, *b, why[128] = "";
    int i, el;
    for (i = 0; i < N; i++) {
        x[i] = i * 10;
        y0[i] = -0.8 + 0.3 * (1 - exp(-i / 12.0));
        y1[i] = -0.8 + 0.02 * i + 0.05 * sin(i * 0.7);
        y2[i] = (i == 20) ? NAN : -0.7 - 0.001 * i;
    }
    s[0].name = "D3PO";
    s[1].name = "TailorPO & <G>";
    s[2].name = "SPO \"k=4\"";
    s[0].x = s[1].x = s[2].x = x;
    s[0].y = y0;
    s[1].y = y1;
    s[2].y = y2;
    s[0].n = s[1].n = s[2].n = N;
    c.title = "mean reward vs iteration";
    c.xlabel = "iteration";
    c.ylabel = "reward (compress)";
    c.width = 0;
    c.height = 0;
    a = svg_to_string(&c, s, 3, &st);
    b = svg_to_string(&c, s, 3, &st2);
    CHECK(st == DPO_OK && st2 == DPO_OK && a && b, "write");
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    CHECK(strcmp(a, b) == 0, "deterministic bytes");
    el = xml_check(a, why, sizeof why);
    CHECK(el > 20, "well-formed: %s", why);
    CHECK(strncmp(a, "<?xml", 5) == 0 && strstr(a, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL,
          "declaration and root");
    CHECK(strlen(a) > 7 && strcmp(a + strlen(a) - 7, "</svg>\n") == 0, "ends with </svg>");
    CHECK(strstr(a, ">D3PO</text>") && strstr(a, ">TailorPO &amp; &lt;G&gt;</text>") &&
              strstr(a, ">SPO &quot;k=4&quot;</text>"),
          "legend names, escaped");
    CHECK(strstr(a, ">mean reward vs iteration</text>") && strstr(a, ">iteration</text>") &&
              strstr(a, ">reward (compress)</text>"),
          "title and labels");
    /* series 0 and 1 one line each, series 2 broken by its NaN */
    CHECK(count(a, "<polyline") == 4, "polylines: %zu", count(a, "<polyline"));
    /* x ticks: data 0..490 -> range/5 = 98 -> step 100, axis 0..500 */
    CHECK(strstr(a, ">0</text>") && strstr(a, ">500</text>") && strstr(a, ">300</text>"), "x tick labels");
    /* y: data -0.8 .. about 0.2 -> range/5 just above 0.2 -> step 0.5,
     * axis -1 .. 0.5, labels with one decimal, no "-0.0" */
    CHECK(strstr(a, ">-1.0</text>") && strstr(a, ">-0.5</text>") && strstr(a, ">0.0</text>") &&
              strstr(a, ">0.5</text>") && !strstr(a, ">-0.0<") && !strstr(a, ">1.0<"),
          "y tick labels");
    /* x: 0 .. 490 -> step 100: exactly 6 labels 0..500, none at 50 */
    CHECK(!strstr(a, ">50</text>") && !strstr(a, ">600</text>"), "x tick step");
    CHECK(!strstr(a, "nan") && !strstr(a, "inf"), "no non-finite numbers in the file");
    /* every point of series 0 appears as a coordinate pair inside the plot area */
    {
        const char *p = strstr(a, "<polyline points=\"");
        int pts = 0, inside = 1;
        double px, py;
        if (p) {
            p += strlen("<polyline points=\"");
            while (sscanf(p, "%lf,%lf", &px, &py) == 2) {
                pts++;
                if (px < 80 - 1e-9 || px > 720 - 170 + 1e-9 || py < 44 - 1e-9 || py > 440 - 56 + 1e-9)
                    inside = 0;
                p += strcspn(p, " \"");
                if (*p != ' ')
                    break;
                p++;
            }
        }
        CHECK(pts == N && inside, "series 0: %d points, inside %d", pts, inside);
    }
    {
        const char *dir = getenv("DPO_PLOT_OUT");
        if (dir && *dir) {
            char path[1024];
            FILE *f;
            snprintf(path, sizeof path, "%s/sample_chart.svg", dir);
            if ((f = fopen(path, "wb")) != NULL) {
                fputs(a, f);
                fclose(f);
            }
        }
    }
    free(a);
    free(b);
    /* a changed point changes the bytes */
    y0[10] += 0.05;
    a = svg_to_string(&c, s, 3, &st);
    y0[10] -= 0.05;
    b = svg_to_string(&c, s, 3, &st);
    CHECK(a && b && strcmp(a, b) != 0, "the output depends on the data");
    free(a);
    free(b);
}

static void test_svg_edge_cases(void)
{
    double x[3] = {1, 1, 1}, y[3] = {2, 2, 2}, nx[2] = {NAN, INFINITY};
    dpo_plot_series s[2];
    dpo_plot_chart c;
    dpo_status st = DPO_ERR_IO;
    char *a, why[128] = "";
    memset(&c, 0, sizeof c);
    s[0].name = NULL;
    s[0].x = x;
    s[0].y = y;
    s[0].n = 3;
    s[1].name = "";
    s[1].x = nx;
    s[1].y = nx;
    s[1].n = 2;
    /* constant data, unnamed series, all-non-finite series, no title */
    a = svg_to_string(&c, s, 2, &st);
    CHECK(st == DPO_OK && a && xml_check(a, why, sizeof why) > 0, "constant data: %s", why);
    CHECK(a && count(a, "<polyline") == 1, "one line");
    free(a);
    /* no series at all */
    a = svg_to_string(&c, NULL, 0, &st);
    CHECK(st == DPO_OK && a && xml_check(a, why, sizeof why) > 0 && count(a, "<polyline") == 0, "empty: %s", why);
    free(a);
    /* tiny and huge scales */
    x[0] = 0;
    x[1] = 1e-7;
    x[2] = 2e-7;
    y[0] = 1e20;
    y[1] = -3e20;
    a = svg_to_string(&c, s, 1, &st);
    CHECK(st == DPO_OK && a && xml_check(a, why, sizeof why) > 0, "scales: %s", why);
    free(a);
}

static void test_svg_validation(void)
{
    double x[2] = {0, 1};
    dpo_plot_series s;
    dpo_plot_chart c;
    FILE *f = tmpfile();
    if (!f)
        return;
    memset(&c, 0, sizeof c);
    s.name = "a";
    s.x = x;
    s.y = NULL;
    s.n = 2;
    CHECK(dpo_plot_svg(NULL, &c, NULL, 0) == DPO_ERR_NULL, "f NULL");
    CHECK(dpo_plot_svg(f, NULL, NULL, 0) == DPO_ERR_NULL, "chart NULL");
    CHECK(dpo_plot_svg(f, &c, NULL, 1) == DPO_ERR_NULL, "series NULL");
    CHECK(dpo_plot_svg(f, &c, &s, 1) == DPO_ERR_NULL, "y NULL");
    s.y = x;
    c.width = 100;
    CHECK(dpo_plot_svg(f, &c, &s, 1) == DPO_ERR_RANGE, "width 100");
    c.width = 0;
    c.height = 20000;
    CHECK(dpo_plot_svg(f, &c, &s, 1) == DPO_ERR_RANGE, "height 20000");
    c.height = 0;
    x[0] = -1.7e308;
    x[1] = 1.7e308;
    CHECK(dpo_plot_svg(f, &c, &s, 1) == DPO_ERR_RANGE, "range overflows");
    CHECK(file_len(f) == 0, "nothing written on error");
    fclose(f);
}

int main(void)
{
    RUN(test_checksum_known_answers);
    RUN(test_png_grid);
    RUN(test_png_blocks);
    RUN(test_pgm);
    RUN(test_grid_validation);
    RUN(test_svg);
    RUN(test_svg_edge_cases);
    RUN(test_svg_validation);
    return chk_summary();
}
