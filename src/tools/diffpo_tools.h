/* diffpo tools: the .npy reader/writer, the plot writers, the golden-vector
 * file parser and the vector evaluator (src/tools/, built into
 * libdiffpo_tools.a).  Tools are not library API: the CLI, the tests and the
 * fuzzers link them; libdiffpo never does, and include/ does not declare
 * them (docs/api.md, "Three layers").  Return values follow diffpo.h. */
#ifndef DIFFPO_TOOLS_H
#define DIFFPO_TOOLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "diffpo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- .npy */
typedef enum dpo_dtype {
    DPO_F32 = 0,
    DPO_F64 = 1
} dpo_dtype;

#define DPO_NPY_MAX_DIMS 8

typedef struct dpo_npy_info {
    dpo_dtype dtype;
    int ndim;
    uint64_t shape[DPO_NPY_MAX_DIMS];
    uint64_t count;       /* product of shape (1 for a 0-d array) */
    size_t data_offset;   /* where the data starts in the buffer */
} dpo_npy_info;

/* Parses a NumPy .npy v1.0 (or 2.0/3.0) header in buf[0..len): little-endian
 * '<f4' or '<f8', C order.  Checks that len covers the data.  No allocation. */
dpo_status dpo_npy_parse(dpo_npy_info *info, const void *buf, size_t len);
/* dpo_npy_parse with the reason of a failure (for the CLI's messages): *why
 * receives a static string, or is left alone on success. */
dpo_status dpo_npy_parse_diag(dpo_npy_info *info, const void *buf, size_t len, const char **why);
/* The same for the header alone: buf need not hold the data (info's count
 * and data_offset are filled; the caller then reads count items), so a
 * reader can bound what it reads by the header. */
dpo_status dpo_npy_head_diag(dpo_npy_info *info, const void *buf, size_t len, const char **why);
/* Writes a v1.0 header for dtype/shape into out (cap bytes): *written gets
 * its length (a multiple of 64).  cap >= 128 + 24 * ndim suffices. */
dpo_status dpo_npy_header(char *out, size_t cap, size_t *written, dpo_dtype dtype, const uint64_t *shape,
                          int ndim);

/* ------------------------------------------------------- vector files
 * Parser of the golden-vector text format, docs/vectors.md sections 1-2
 * (the contract; the evaluator of `diffpo loss` / `diffpo verify` checks the
 * meaning of the records).  No allocation: the caller owns the buffer and
 * receives events through a callback; pointers in the events point into the
 * buffer (not NUL-terminated).
 *
 * Lexical layer and case structure checked here:
 *   - lines end with "\n"; every byte is printable ASCII or a tab (a CR,
 *     NUL or other control or non-ASCII byte is an error); at most
 *     DPO_VEC_MAX_LINE bytes per line;
 *   - blank lines and lines whose first non-blank character is '#' are
 *     ignored; a record line holds only its fields (no trailing comment);
 *   - a record is "KEYWORD FIELDS...": KEYWORD one of case, end, fn, ref,
 *     prec, reduce, param, in, gen, out, alt, tol (any other keyword, and
 *     the `diffpo loss` output records got/error, are errors); value = the
 *     rest of the line after the blanks, trailing blanks trimmed;
 *   - "case ID" (one name [A-Za-z0-9_.:-]+) opens a case, "end" closes it;
 *     a record outside a case, a second "case" before "end" and a missing
 *     final "end" are errors.
 * Errors: DPO_ERR_FORMAT, *err_line = the 1-based line, *err_msg = a
 * static message. */
#define DPO_VEC_MAX_LINE 1048576

typedef enum dpo_vec_event {
    DPO_VEC_BEGIN = 0, /* key = "case", value = the case name */
    DPO_VEC_FIELD = 1,
    DPO_VEC_END = 2    /* key = "end", value empty */
} dpo_vec_event;

typedef struct dpo_vec_field {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    size_t line; /* 1-based */
} dpo_vec_field;

/* Returns 0 to continue; non-zero stops the parse with DPO_ERR_MODEL
 * (*err_line = the event's line). */
typedef int (*dpo_vec_callback)(void *user, dpo_vec_event ev, const dpo_vec_field *f);

dpo_status dpo_vec_parse(const char *buf, size_t len, dpo_vec_callback cb, void *user, size_t *err_line,
                         const char **err_msg);

/* The numbers of a value: blank-separated tokens, each a finite number in
 * strtod syntax ("C" locale; C99 hex floats included).  *count = the
 * number of numbers; DPO_ERR_SIZE (nothing written past cap) when more than
 * cap; DPO_ERR_FORMAT for a bad or non-finite token or a token longer than
 * 80 characters. */
dpo_status dpo_vec_numbers(double *out, size_t cap, size_t *count, const char *s, size_t len);

/* The array of a `gen <name> n splitmix64 seed lo hi [base]` record,
 * docs/vectors.md section 3, bit for bit: v[0..n) (base may be NULL, else n
 * stored values added last); f32 != 0 rounds each value once to binary32
 * (returned widened).  Nothing is written when v is NULL. */
void dpo_vec_splitmix64(double *v, size_t n, uint64_t seed, double lo, double hi, const double *base, int f32);

/* ------------------------------------------------------ vector evaluator
 * The evaluator of `diffpo loss` and `diffpo verify` (src/tools/vecrun.c):
 * every case of a vector file through the library, as docs/vectors.md
 * sections 2-6 specify.  Results go to io->out, messages (FAIL lines,
 * `file:line: message` for a malformed file) to io->err; io may be NULL and
 * any stream NULL (stdout, stderr).  Out of memory: DPO_ERR_WORKSPACE. */
#define DPO_VECRUN_MAX_GEN ((size_t)1 << 24) /* default limit of one gen array */

typedef struct dpo_vecrun_io {
    FILE *out;
    FILE *err;
    size_t max_gen; /* elements of one gen array; 0: DPO_VECRUN_MAX_GEN */
} dpo_vecrun_io;

/* Checks every DIR/NAME.vec in name order: a line "ok   PATH" or "FAIL PATH"
 * per file, then "N passed, M failed" (cases; a malformed file counts one
 * failure and is not read further; no vector file at all counts one
 * failure).  *passed / *failed (either may be NULL) get N and M.
 * DPO_ERR_IO (errno set, nothing printed) when DIR cannot be opened. */
dpo_status dpo_vecrun_verify(const dpo_vecrun_io *io, const char *dir, int *passed, int *failed);

/* `diffpo loss`: the file printed back with a "got <name> <n> <values>"
 * line (or "error <status>") after every out line, section 6.  A malformed
 * or unreadable file prints nothing on io->out and gives DPO_ERR_FORMAT. */
dpo_status dpo_vecrun_loss(const dpo_vecrun_io *io, const char *path);
/* The same on buf[0..len), named `name` in messages (the fuzzer's entry). */
dpo_status dpo_vecrun_loss_buf(const dpo_vecrun_io *io, const char *name, const char *buf, size_t len);

/* ------------------------------------------------------------ plots
 * An SVG line chart and image grids as PNG or PGM (the CLI's reward curves
 * and sample grids).  Output bytes are a pure function of the arguments
 * (fixed number formatting, no timestamps), so tests can compare them.
 * These functions write to a stdio stream and may use stdio's buffers.
 * Errors: DPO_ERR_NULL, DPO_ERR_SIZE, DPO_ERR_RANGE, DPO_ERR_NONFINITE
 * before anything is written; DPO_ERR_IO when the stream reports a write
 * error (the stream then holds a partial file). */

/* ------------------------------------------------------- SVG line chart
 * One series: n points (x[i], y[i]); name is shown in the legend (NULL or
 * "" for none).  Points with a non-finite x or y are skipped and break the
 * line there.  Text is XML-escaped. */
typedef struct dpo_plot_series {
    const char *name;
    const double *x;
    const double *y;
    size_t n;
} dpo_plot_series;

/* title, xlabel, ylabel may be NULL.  width/height in SVG pixels, each 0
 * (default 720 x 440) or in [200, 10000]. */
typedef struct dpo_plot_chart {
    const char *title;
    const char *xlabel;
    const char *ylabel;
    int width, height;
} dpo_plot_chart;

/* Axes span the finite data, widened to whole tick steps (1, 2 or 5 times
 * a power of ten: the smallest not below a fifth of the data range, so 3
 * to 6 ticks); a constant or empty range is widened to
 * +-0.5 around it (or [0, 1]).  Series are drawn in a fixed 8-colour
 * cycle.  ns may be 0 (axes only); s may be NULL only then. */
dpo_status dpo_plot_svg(FILE *f, const dpo_plot_chart *chart, const dpo_plot_series *s, size_t ns);

/* ----------------------------------------------------------- image grids
 * rows x cols tiles; tile (r, c) is image r * cols + c of `img`, each
 * side x side floats, row-major, nominally in [-1, 1] and mapped to grey
 *   v = clamp(floor((x + 1) * 127.5 + 0.5), 0, 255)
 * (-1 black, +1 white); each image pixel becomes a scale x scale block.
 * Tiles are separated, and framed, by 1-pixel lines of grey `sep`:
 *   width  = cols * side * scale + cols + 1,
 *   height = rows * side * scale + rows + 1.
 * Limits: rows, cols, side, scale >= 1; width, height <= 16384; sep <= 255.
 * Non-finite pixels give DPO_ERR_NONFINITE (nothing written). */
typedef struct dpo_plot_grid {
    size_t rows, cols, side, scale;
    unsigned sep;
} dpo_plot_grid;

dpo_status dpo_plot_grid_size(size_t *width, size_t *height, const dpo_plot_grid *g);

/* PNG: 8-bit greyscale, no interlace, filter 0 on every row, one IDAT
 * chunk holding a zlib stream of stored (uncompressed) deflate blocks of at
 * most 65535 bytes; CRC-32 and Adler-32 computed here (no zlib). */
dpo_status dpo_plot_grid_png(FILE *f, const float *img, const dpo_plot_grid *g);
/* PGM: binary "P5\n<width> <height>\n255\n" and the pixels. */
dpo_status dpo_plot_grid_pgm(FILE *f, const float *img, const dpo_plot_grid *g);

/* Any 8-bit greyscale picture (row-major, width x height, each in
 * [1, 16384]) as PNG, in the same format. */
dpo_status dpo_plot_gray_png(FILE *f, const unsigned char *pix, size_t width, size_t height);

#ifdef __cplusplus
}
#endif

#endif
