/* diffpo plot writers: an SVG line chart and image grids as PNG or PGM.
 * Tools only (the CLI's reward curves and sample grids); not included by
 * diffpo.h.  Output bytes are a pure function of the arguments (fixed
 * number formatting, no timestamps), so tests can compare them.  These
 * functions write to a stdio stream and may use stdio's buffers; they are
 * not part of the allocation-free hot paths.
 *
 * Return values follow diffpo.h: DPO_ERR_NULL, DPO_ERR_SIZE, DPO_ERR_RANGE,
 * DPO_ERR_NONFINITE before anything is written; DPO_ERR_IO when the stream
 * reports a write error (the stream then holds a partial file). */
#ifndef DIFFPO_PLOT_H
#define DIFFPO_PLOT_H

#include <stdio.h>
#include "diffpo.h"

#ifdef __cplusplus
extern "C" {
#endif

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
