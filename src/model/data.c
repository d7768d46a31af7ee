/* Built-in data: procedural 8x8 single-channel images of four classes
 * (docs/model.md).  Image `index` is a pure function of (seed, index):
 * Philox with stream DATA, sample = index, step = 1; block 0 gives four
 * uniform words for the shape parameters, blocks 1 .. 16 the pixel noise
 * (four normals per block, pixel k = lane k % 4 of block 1 + k / 4, i.e.
 * element 4 + k of that Philox tensor, drawn by dpo_normal_f64). */
#include "diffpo.h"
#include "diffpo_train.h"
#include "../core/dpo_philox.h"

#define S DPO_IMG_SIDE

/* uniform in [lo, hi) from a word */
static double uni(uint32_t w, double lo, double hi)
{
    return lo + (hi - lo) * ((double)w * 2.3283064365386962890625e-10);
}

/* Soft (anti-aliased) coverage at distance d from a stroke's centre line
 * (or a blob's centre) of half-width hw: 1 for |d| <= hw - 1/2, 0 for
 * |d| >= hw + 1/2, linear in between. */
static double cover(double d, double hw)
{
    double a = d < 0 ? -d : d;
    double c = hw + 0.5 - a;
    return c < 0 ? 0 : (c > 1 ? 1 : c);
}

dpo_status dpo_data_image(float *img, int32_t *cls, uint64_t seed, uint32_t index, int32_t force_class)
{
    uint32_t ctr[4], key[2], w[4];
    double z[DPO_IMG_DIM];
    dpo_noise_coord nc;
    dpo_status st;
    int c, i, j;
    double ctr0 = 0.5 * (double)(S - 1), off, hw, con, jit;
    if (!img)
        return DPO_ERR_NULL;
    if (force_class >= DPO_DATA_CLASSES)
        return DPO_ERR_RANGE;
    c = force_class >= 0 ? (int)force_class : (int)(index % DPO_DATA_CLASSES);

    dpo_philox_coords(ctr, key, seed, DPO_STREAM_DATA, index, 1u, 0u, 0u);
    dpo_philox4x32_10(w, ctr, key);
    off = uni(w[0], -1.5, 1.5); /* offset of the stroke from the centre */
    hw = uni(w[1], 0.75, 1.5);  /* stroke half-width (pixels) */
    con = uni(w[2], 0.6, 1.0);  /* contrast: background -con, stroke +con */
    jit = uni(w[3], -0.75, 0.75);

    for (i = 0; i < S; i++) {
        for (j = 0; j < S; j++) {
            double di = (double)i - ctr0, dj = (double)j - ctr0, a;
            switch (c) {
            case 0: /* horizontal bar: rows near ctr + off */
                a = cover(di - off, hw);
                break;
            case 1: /* vertical bar */
                a = cover(dj - off, hw);
                break;
            case 2: /* diagonal stroke, top-left to bottom-right: i - j = off */
                a = cover((di - dj - off) * 0.70710678118654752, hw);
                break;
            default: { /* blob of radius hw + 0.75, centre jittered */
                double ei = di - 0.5 * off, ej = dj - jit;
                a = cover(DPO_SQRT(ei * ei + ej * ej), hw + 0.75);
                break;
            }
            }
            img[i * S + j] = (float)(con * (2.0 * a - 1.0));
        }
    }
    /* Pixel k's noise is element 4 + k of the tensor (seed, DATA, index,
     * step 1, candidate 0): lane (4 + k) % 4 = k % 4 of block (4 + k) / 4 =
     * 1 + k / 4, so one dpo_normal_f64 call gives dpo_normal4's doubles
     * (the vector form of the dispatch level, the same bits). */
    nc.seed = seed;
    nc.stream = DPO_STREAM_DATA;
    nc.sample = index;
    nc.step = 1u;
    nc.candidate = 0u;
    st = dpo_normal_f64(z, nc, 4u, DPO_IMG_DIM);
    if (st)
        return st;
    for (i = 0; i < DPO_IMG_DIM; i++) {
        double v = (double)img[i] + 0.05 * z[i];
        img[i] = (float)(v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v));
    }
    if (cls)
        *cls = c;
    return DPO_OK;
}
