/* Plot writers (src/tools/diffpo_tools.h): an SVG line chart, image grids as
 * PNG (stored deflate blocks, own CRC-32 and Adler-32) or PGM. */
#include <string.h>
#include "diffpo_tools.h"
#include "../core/dpo_pmath.h"

/* ================================================================ SVG */

static const char *const palette[8] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                       "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static void put_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            /* control characters are not allowed in XML 1.0 */
            fputc(((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') ? '?' : *s, f);
        }
    }
}

typedef struct axis {
    double lo, hi, step; /* axis range: whole multiples of step */
    int decimals;        /* digits after the point in tick labels, or -1: %g */
} axis;

/* Tick step: 1, 2 or 5 times 10^e, the smallest such not below range / 5. */
static void make_axis(axis *a, double lo, double hi)
{
    double raw, p = 1.0, step;
    int e = 0;
    if (!(hi > lo)) { /* empty or constant */
        if (!dpo_pm_isfinite(lo)) {
            lo = 0.0;
            hi = 1.0;
        } else {
            hi = lo + 0.5;
            lo = lo - 0.5;
        }
    }
    raw = (hi - lo) / 5.0;
    while (p * 10.0 <= raw && e < 300) {
        p = p * 10.0;
        e++;
    }
    while (p > raw && e > -300) {
        p = p / 10.0;
        e--;
    }
    /* p <= raw < 10 p: the smallest of p, 2p, 5p, 10p not below raw
     * (2.5 to 5 intervals) */
    if (raw <= p)
        step = p;
    else if (raw <= 2.0 * p)
        step = 2.0 * p;
    else if (raw <= 5.0 * p)
        step = 5.0 * p;
    else {
        p = p * 10.0;
        e++;
        step = p;
    }
    a->lo = dpo_pm_floor(lo / step) * step;
    a->hi = -dpo_pm_floor(-hi / step) * step;
    if (!(a->hi > a->lo))
        a->hi = a->lo + step;
    a->step = step;
    a->decimals = e >= 0 ? 0 : -e;
    if (e < -12 || e > 15)
        a->decimals = -1;
}

static void put_tick_label(FILE *f, const axis *a, double v)
{
    v = v + 0.0; /* no "-0" */
    if (a->decimals < 0)
        fprintf(f, "%.4g", v);
    else
        fprintf(f, "%.*f", a->decimals, v);
}

static int finite_point(const dpo_plot_series *s, size_t i)
{
    return dpo_pm_isfinite(s->x[i]) && dpo_pm_isfinite(s->y[i]);
}

/* The range of the finite points of every series ([0, 1] x [0, 1] when none). */
static void series_bounds(double *xmin, double *xmax, double *ymin, double *ymax, const dpo_plot_series *s,
                          size_t ns)
{
    size_t i, j;
    int any = 0;
    *xmin = *xmax = *ymin = *ymax = 0;
    for (j = 0; j < ns; j++)
        for (i = 0; i < s[j].n; i++)
            if (finite_point(&s[j], i)) {
                if (!any) {
                    *xmin = *xmax = s[j].x[i];
                    *ymin = *ymax = s[j].y[i];
                    any = 1;
                }
                if (s[j].x[i] < *xmin)
                    *xmin = s[j].x[i];
                if (s[j].x[i] > *xmax)
                    *xmax = s[j].x[i];
                if (s[j].y[i] < *ymin)
                    *ymin = s[j].y[i];
                if (s[j].y[i] > *ymax)
                    *ymax = s[j].y[i];
            }
    if (!any) {
        *xmin = *ymin = 0.0;
        *xmax = *ymax = 1.0;
    }
}

dpo_status dpo_plot_svg(FILE *f, const dpo_plot_chart *chart, const dpo_plot_series *s, size_t ns)
{
    int W, H;
    const double ml = 80, mr = 170, mt = 44, mb = 56; /* margins */
    double pw, ph, xmin, xmax, ymin, ymax, v;
    size_t i, j;
    axis ax, ay;
    if (!f || !chart || (ns && !s))
        return DPO_ERR_NULL;
    for (j = 0; j < ns; j++)
        if (s[j].n && (!s[j].x || !s[j].y))
            return DPO_ERR_NULL;
    W = chart->width ? chart->width : 720;
    H = chart->height ? chart->height : 440;
    if (W < 200 || W > 10000 || H < 200 || H > 10000)
        return DPO_ERR_RANGE;
    series_bounds(&xmin, &xmax, &ymin, &ymax, s, ns);
    /* a range too wide for double arithmetic on the axis */
    if (!dpo_pm_isfinite(xmax - xmin) || !dpo_pm_isfinite(ymax - ymin))
        return DPO_ERR_RANGE;
    make_axis(&ax, xmin, xmax);
    make_axis(&ay, ymin, ymax);
    pw = W - ml - mr;
    ph = H - mt - mb;

#define PX(x) (ml + ((x) - ax.lo) / (ax.hi - ax.lo) * pw)
#define PY(y) (mt + ph - ((y) - ay.lo) / (ay.hi - ay.lo) * ph)
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
    if (chart->title) {
        fprintf(f, "<text x=\"%.2f\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">", ml + pw / 2);
        put_escaped(f, chart->title);
        fprintf(f, "</text>\n");
    }
    /* grid, ticks and tick labels */
    fprintf(f, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for (v = ax.lo, i = 0; i < 1000 && v <= ax.hi + 0.5 * ax.step; i++, v = ax.lo + (double)i * ax.step)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PX(v), mt, PX(v), mt + ph);
    for (v = ay.lo, i = 0; i < 1000 && v <= ay.hi + 0.5 * ay.step; i++, v = ay.lo + (double)i * ay.step)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", ml, PY(v), ml + pw, PY(v));
    fprintf(f, "</g>\n<g text-anchor=\"middle\">\n");
    for (v = ax.lo, i = 0; i < 1000 && v <= ax.hi + 0.5 * ax.step; i++, v = ax.lo + (double)i * ax.step) {
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", PX(v), mt + ph + 18);
        put_tick_label(f, &ax, v);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n<g text-anchor=\"end\">\n");
    for (v = ay.lo, i = 0; i < 1000 && v <= ay.hi + 0.5 * ay.step; i++, v = ay.lo + (double)i * ay.step) {
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", ml - 6, PY(v) + 4);
        put_tick_label(f, &ay, v);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#000000\"/>\n",
            ml, mt, pw, ph);
    if (chart->xlabel) {
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", ml + pw / 2, (double)H - 14);
        put_escaped(f, chart->xlabel);
        fprintf(f, "</text>\n");
    }
    if (chart->ylabel) {
        fprintf(f, "<text x=\"18\" y=\"%.2f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.2f)\">",
                mt + ph / 2, mt + ph / 2);
        put_escaped(f, chart->ylabel);
        fprintf(f, "</text>\n");
    }
    /* series: one polyline per run of finite points */
    for (j = 0; j < ns; j++) {
        const char *col = palette[j % 8];
        int open = 0;
        fprintf(f, "<g fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\">\n", col);
        for (i = 0; i < s[j].n; i++) {
            if (!finite_point(&s[j], i)) {
                if (open)
                    fprintf(f, "\"/>\n");
                open = 0;
                continue;
            }
            fprintf(f, "%s%.2f,%.2f", open ? " " : "<polyline points=\"", PX(s[j].x[i]), PY(s[j].y[i]));
            open = 1;
        }
        if (open)
            fprintf(f, "\"/>\n");
        fprintf(f, "</g>\n");
    }
    /* legend */
    for (j = 0; j < ns; j++) {
        double ly = mt + 10 + 18.0 * (double)j;
        if (!s[j].name || !s[j].name[0])
            continue;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                ml + pw + 12, ly, ml + pw + 36, ly, palette[j % 8]);
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", ml + pw + 42, ly + 4);
        put_escaped(f, s[j].name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
    return ferror(f) ? DPO_ERR_IO : DPO_OK;
}

/* ================================================================ PNG */

#define GRID_MAX 16384

typedef struct pixsrc {
    /* either a raw picture or a grid of float images */
    const unsigned char *pix;
    const float *img;
    dpo_plot_grid g;
    size_t w, h;
} pixsrc;

static unsigned char grey(float x)
{
    double v = ((double)x + 1.0) * 127.5 + 0.5;
    if (!(v > 0.0))
        return 0;
    if (v >= 255.0)
        return 255;
    return (unsigned char)v; /* truncation = floor for v > 0 */
}

static unsigned char pixel_at(const pixsrc *p, size_t X, size_t Y)
{
    size_t cell, tx, ty, ix, iy;
    if (p->pix)
        return p->pix[Y * p->w + X];
    cell = p->g.side * p->g.scale + 1;
    if (X % cell == 0 || Y % cell == 0)
        return (unsigned char)p->g.sep;
    tx = X / cell;
    ty = Y / cell;
    ix = (X % cell - 1) / p->g.scale;
    iy = (Y % cell - 1) / p->g.scale;
    return grey(p->img[((ty * p->g.cols + tx) * p->g.side + iy) * p->g.side + ix]);
}

typedef struct pngw {
    FILE *f;
    uint32_t table[256];
    uint32_t crc;      /* running CRC-32 of the current chunk (pre-inverted) */
    uint32_t a, b;     /* Adler-32 */
    size_t left_total; /* raw bytes still to write */
    size_t left_block; /* raw bytes left in the current stored block */
} pngw;

static void crc_table(uint32_t t[256])
{
    uint32_t n, c;
    int k;
    for (n = 0; n < 256; n++) {
        c = n;
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
}

/* one byte into the chunk (CRC) */
static void cbyte(pngw *w, unsigned char c)
{
    w->crc = w->table[(w->crc ^ c) & 0xFFu] ^ (w->crc >> 8);
    fputc(c, w->f);
}

static void cbe32(pngw *w, uint32_t v)
{
    cbyte(w, (unsigned char)(v >> 24));
    cbyte(w, (unsigned char)(v >> 16));
    cbyte(w, (unsigned char)(v >> 8));
    cbyte(w, (unsigned char)v);
}

static void raw_be32(FILE *f, uint32_t v)
{
    fputc((int)(v >> 24) & 0xFF, f);
    fputc((int)(v >> 16) & 0xFF, f);
    fputc((int)(v >> 8) & 0xFF, f);
    fputc((int)v & 0xFF, f);
}

static void chunk_begin(pngw *w, uint32_t len, const char type[4])
{
    int i;
    raw_be32(w->f, len);
    w->crc = 0xFFFFFFFFu;
    for (i = 0; i < 4; i++)
        cbyte(w, (unsigned char)type[i]);
}

static void chunk_end(pngw *w)
{
    raw_be32(w->f, w->crc ^ 0xFFFFFFFFu);
}

/* one byte of the zlib payload (stored blocks, Adler-32) */
static void zbyte(pngw *w, unsigned char c)
{
    if (w->left_block == 0) {
        size_t len = w->left_total < 65535u ? w->left_total : 65535u;
        cbyte(w, len == w->left_total ? 1u : 0u); /* BFINAL, BTYPE = 00 */
        cbyte(w, (unsigned char)(len & 0xFFu));
        cbyte(w, (unsigned char)(len >> 8));
        cbyte(w, (unsigned char)(~len & 0xFFu));
        cbyte(w, (unsigned char)((~len >> 8) & 0xFFu));
        w->left_block = len;
    }
    cbyte(w, c);
    w->left_block--;
    w->left_total--;
    w->a = (w->a + c) % 65521u;
    w->b = (w->b + w->a) % 65521u;
}

static dpo_status png_write(FILE *f, const pixsrc *p)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    pngw w;
    size_t raw = p->h * (p->w + 1), nblk = (raw + 65534u) / 65535u, X, Y;
    uint32_t zlen = (uint32_t)(2 + 5 * nblk + raw + 4);
    memset(&w, 0, sizeof w);
    w.f = f;
    crc_table(w.table);
    fwrite(sig, 1, 8, f);
    chunk_begin(&w, 13, "IHDR");
    cbe32(&w, (uint32_t)p->w);
    cbe32(&w, (uint32_t)p->h);
    cbyte(&w, 8); /* bit depth */
    cbyte(&w, 0); /* colour type: greyscale */
    cbyte(&w, 0); /* compression: deflate */
    cbyte(&w, 0); /* filter method 0 */
    cbyte(&w, 0); /* no interlace */
    chunk_end(&w);
    chunk_begin(&w, zlen, "IDAT");
    cbyte(&w, 0x78); /* CMF: deflate, 32K window */
    cbyte(&w, 0x01); /* FLG: (0x78 * 256 + 0x01) % 31 == 0, no dictionary */
    w.a = 1;
    w.b = 0;
    w.left_total = raw;
    w.left_block = 0;
    for (Y = 0; Y < p->h; Y++) {
        zbyte(&w, 0); /* filter type None */
        for (X = 0; X < p->w; X++)
            zbyte(&w, pixel_at(p, X, Y));
    }
    cbe32(&w, (w.b << 16) | w.a);
    chunk_end(&w);
    chunk_begin(&w, 0, "IEND");
    chunk_end(&w);
    return ferror(f) ? DPO_ERR_IO : DPO_OK;
}

dpo_status dpo_plot_grid_size(size_t *width, size_t *height, const dpo_plot_grid *g)
{
    size_t cw, ch;
    if (!width || !height || !g)
        return DPO_ERR_NULL;
    if (g->rows < 1 || g->cols < 1 || g->side < 1 || g->scale < 1)
        return DPO_ERR_SIZE;
    if (g->sep > 255)
        return DPO_ERR_RANGE;
    if (g->side > GRID_MAX || g->scale > GRID_MAX || g->side * g->scale > GRID_MAX || g->rows > GRID_MAX ||
        g->cols > GRID_MAX)
        return DPO_ERR_SIZE;
    cw = g->cols * (g->side * g->scale + 1) + 1;
    ch = g->rows * (g->side * g->scale + 1) + 1;
    if (cw > GRID_MAX || ch > GRID_MAX)
        return DPO_ERR_SIZE;
    *width = cw;
    *height = ch;
    return DPO_OK;
}

static dpo_status grid_src(pixsrc *p, const float *img, const dpo_plot_grid *g)
{
    size_t k, m;
    dpo_status st;
    memset(p, 0, sizeof *p);
    if (!img || !g)
        return DPO_ERR_NULL;
    if ((st = dpo_plot_grid_size(&p->w, &p->h, g)) != DPO_OK)
        return st;
    m = g->rows * g->cols * g->side * g->side; /* < 2^28 by the limits */
    for (k = 0; k < m; k++)
        if (!dpo_pm_isfinitef(img[k]))
            return DPO_ERR_NONFINITE;
    p->img = img;
    p->g = *g;
    return DPO_OK;
}

dpo_status dpo_plot_grid_png(FILE *f, const float *img, const dpo_plot_grid *g)
{
    pixsrc p;
    dpo_status st;
    if (!f)
        return DPO_ERR_NULL;
    if ((st = grid_src(&p, img, g)) != DPO_OK)
        return st;
    return png_write(f, &p);
}

dpo_status dpo_plot_grid_pgm(FILE *f, const float *img, const dpo_plot_grid *g)
{
    pixsrc p;
    dpo_status st;
    size_t X, Y;
    if (!f)
        return DPO_ERR_NULL;
    if ((st = grid_src(&p, img, g)) != DPO_OK)
        return st;
    fprintf(f, "P5\n%lu %lu\n255\n", (unsigned long)p.w, (unsigned long)p.h);
    for (Y = 0; Y < p.h; Y++)
        for (X = 0; X < p.w; X++)
            fputc(pixel_at(&p, X, Y), f);
    return ferror(f) ? DPO_ERR_IO : DPO_OK;
}

dpo_status dpo_plot_gray_png(FILE *f, const unsigned char *pix, size_t width, size_t height)
{
    pixsrc p;
    if (!f || !pix)
        return DPO_ERR_NULL;
    if (width < 1 || height < 1 || width > GRID_MAX || height > GRID_MAX)
        return DPO_ERR_SIZE;
    memset(&p, 0, sizeof p);
    p.pix = pix;
    p.w = width;
    p.h = height;
    return png_write(f, &p);
}
