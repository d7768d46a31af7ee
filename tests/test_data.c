/* Built-in data: purity in (seed, index), value range, class labels, and
 * that the four classes are what docs/model.md says they are, measured on
 * the images (not on the generator's parameters):
 *   class 0 (horizontal bar): rows differ, columns do not;
 *   class 1 (vertical bar):   columns differ, rows do not;
 *   class 2 (diagonal):       brightness constant along i - j = const;
 *   class 3 (blob):           centre bright, border dark.
 * And the per-class mean images are far apart compared with their
 * standard errors, and a nearest-class-mean classifier fitted on one half
 * labels the other half almost perfectly.  The pixel noise is drawn by
 * the vector normals (dpo_normal_f64): at every dispatch level the images
 * keep the bits they had when each block came from dpo_normal4. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"
#include "cpu_simd.h"

#define S DPO_IMG_SIDE
#define D DPO_IMG_DIM

static void test_purity(void)
{
    float a[D], b[D], c[D];
    int32_t ca = -1, cb = -2;
    uint32_t idx[5] = {0, 1, 77, 1000003, 0xffffffffu};
    int k;
    for (k = 0; k < 5; k++) {
        CHECK(dpo_data_image(a, &ca, 42, idx[k], -1) == DPO_OK, "image");
        /* other images in between must not matter */
        CHECK(dpo_data_image(c, NULL, 42, idx[k] + 1, -1) == DPO_OK, "other");
        CHECK(dpo_data_image(c, NULL, 43, idx[k], -1) == DPO_OK, "other seed");
        CHECK(!chk_same_bits(a, c, sizeof a), "seed changes the image %u", idx[k]);
        CHECK(dpo_data_image(b, &cb, 42, idx[k], -1) == DPO_OK, "again");
        CHECK(chk_same_bits(a, b, sizeof a) && ca == cb, "same bits for same (seed, index) %u", idx[k]);
        CHECK(ca == (int32_t)(idx[k] % 4), "class = index %% 4");
    }
    CHECK(dpo_data_image(a, NULL, 42, 5, -1) == DPO_OK, "image 5");
    CHECK(dpo_data_image(b, NULL, 42, 9, -1) == DPO_OK, "image 9");
    CHECK(!chk_same_bits(a, b, sizeof a), "different index, different image of the same class");
}

static void test_range_and_force(void)
{
    float a[D];
    uint32_t i;
    int j, bad = 0;
    int32_t c;
    for (i = 0; i < 4000; i++) {
        dpo_data_image(a, &c, 7, i, (int32_t)(i % 5) - 1);
        if (c != ((int32_t)(i % 5) - 1 < 0 ? (int32_t)(i % 4) : (int32_t)(i % 5) - 1))
            bad++;
        for (j = 0; j < D; j++)
            if (!(a[j] >= -1.0f && a[j] <= 1.0f))
                bad++;
    }
    CHECK(bad == 0, "%d values out of [-1, 1] or wrong classes", bad);
    for (j = 0; j < D; j++)
        a[j] = 3.0f;
    c = 99;
    CHECK(dpo_data_image(a, &c, 7, 0, 4) == DPO_ERR_RANGE, "force_class 4 refused");
    CHECK(a[0] == 3.0f && a[D - 1] == 3.0f && c == 99, "outputs untouched");
    CHECK(dpo_data_image(NULL, &c, 7, 0, 1) == DPO_ERR_NULL && c == 99, "NULL image");
}

/* variance of the 8 row means and of the 8 column means of one image */
static void row_col_var(const float *a, double *vr, double *vc)
{
    double r[S], c[S], mr = 0, mc = 0;
    int i, j;
    for (i = 0; i < S; i++)
        r[i] = c[i] = 0;
    for (i = 0; i < S; i++)
        for (j = 0; j < S; j++) {
            r[i] += a[i * S + j] / S;
            c[j] += a[i * S + j] / S;
        }
    for (i = 0; i < S; i++) {
        mr += r[i] / S;
        mc += c[i] / S;
    }
    *vr = *vc = 0;
    for (i = 0; i < S; i++) {
        *vr += (r[i] - mr) * (r[i] - mr) / S;
        *vc += (c[i] - mc) * (c[i] - mc) / S;
    }
}

/* variance across the 15 diagonals i - j = k of their means, vs the
 * anti-diagonals i + j = k */
static void diag_var(const float *a, double *vd, double *va)
{
    double sd[2 * S - 1], sa[2 * S - 1], nd[2 * S - 1], m1 = 0, m2 = 0;
    int i, j, k;
    for (k = 0; k < 2 * S - 1; k++)
        sd[k] = sa[k] = nd[k] = 0;
    for (i = 0; i < S; i++)
        for (j = 0; j < S; j++) {
            sd[i - j + S - 1] += a[i * S + j];
            nd[i - j + S - 1] += 1;
            sa[i + j] += a[i * S + j];
        }
    /* the count of cells on diagonal k equals that on anti-diagonal k */
    for (k = 0; k < 2 * S - 1; k++) {
        sd[k] /= nd[k];
        sa[k] /= nd[k];
        m1 += sd[k] * nd[k] / D;
        m2 += sa[k] * nd[k] / D;
    }
    *vd = *va = 0;
    for (k = 0; k < 2 * S - 1; k++) {
        *vd += nd[k] * (sd[k] - m1) * (sd[k] - m1) / D;
        *va += nd[k] * (sa[k] - m2) * (sa[k] - m2) / D;
    }
}

static void test_class_shapes(void)
{
    float a[D];
    int32_t c;
    uint32_t i;
    int ok[4] = {0, 0, 0, 0}, n[4] = {0, 0, 0, 0};
    for (i = 0; i < 800; i++) {
        double vr, vc, vd, va, centre = 0, border = 0;
        int j;
        dpo_data_image(a, &c, 11, i, -1);
        row_col_var(a, &vr, &vc);
        diag_var(a, &vd, &va);
        for (j = 0; j < D; j++) {
            int r = j / S, q = j % S;
            if (r >= 2 && r <= 5 && q >= 2 && q <= 5)
                centre += a[j] / 16.0;
            else if (r == 0 || r == S - 1 || q == 0 || q == S - 1)
                border += a[j] / 28.0;
        }
        n[c]++;
        switch (c) {
        case 0:
            ok[0] += vr > 10 * vc;
            break;
        case 1:
            ok[1] += vc > 10 * vr;
            break;
        case 2:
            ok[2] += vd > 3 * va && vd > 3 * vr && vd > 3 * vc;
            break;
        default:
            ok[3] += centre > border + 0.5;
            break;
        }
    }
    CHECK(ok[0] >= n[0] * 99 / 100, "horizontal bars: %d of %d rows-vary", ok[0], n[0]);
    CHECK(ok[1] >= n[1] * 99 / 100, "vertical bars: %d of %d columns-vary", ok[1], n[1]);
    CHECK(ok[2] >= n[2] * 95 / 100, "diagonals: %d of %d constant along i - j", ok[2], n[2]);
    CHECK(ok[3] >= n[3] * 95 / 100, "blobs: %d of %d centre brighter than border", ok[3], n[3]);
}

static void test_classes_separable(void)
{
    static double mean[4][D], sq[4][D];
    static float img[2000][D];
    int32_t cls[2000];
    int n[4] = {0, 0, 0, 0}, i, j, k, c, correct = 0, tested = 0;
    for (i = 0; i < 2000; i++)
        dpo_data_image(img[i], &cls[i], 3, (uint32_t)i, -1);
    for (i = 0; i < 1000; i++) {
        c = cls[i];
        n[c]++;
        for (j = 0; j < D; j++) {
            mean[c][j] += img[i][j];
            sq[c][j] += (double)img[i][j] * img[i][j];
        }
    }
    for (c = 0; c < 4; c++)
        for (j = 0; j < D; j++) {
            mean[c][j] /= n[c];
            sq[c][j] = sq[c][j] / n[c] - mean[c][j] * mean[c][j];
        }
    /* pairwise distance of class means vs the standard error of the
     * difference (sum over pixels of var/n) */
    for (c = 0; c < 4; c++)
        for (k = c + 1; k < 4; k++) {
            double d2 = 0, se2 = 0;
            for (j = 0; j < D; j++) {
                d2 += (mean[c][j] - mean[k][j]) * (mean[c][j] - mean[k][j]);
                se2 += sq[c][j] / n[c] + sq[k][j] / n[k];
            }
            CHECK(d2 > 1.0 && d2 > 50 * se2, "class means %d, %d: |diff|^2 %g vs se^2 %g", c, k, d2, se2);
        }
    /* nearest centred class mean (correlation) on held-out images */
    for (i = 1000; i < 2000; i++) {
        double best = -2;
        int bc = -1;
        for (c = 0; c < 4; c++) {
            double mx = 0, mm = 0, sxy = 0, sxx = 0, syy = 0, r;
            for (j = 0; j < D; j++) {
                mx += img[i][j] / D;
                mm += mean[c][j] / D;
            }
            for (j = 0; j < D; j++) {
                double u = img[i][j] - mx, v = mean[c][j] - mm;
                sxy += u * v;
                sxx += u * u;
                syy += v * v;
            }
            r = sxy / sqrt(sxx * syy + 1e-30);
            if (r > best) {
                best = r;
                bc = c;
            }
        }
        correct += bc == cls[i];
        tested++;
    }
    CHECK(correct >= tested * 9 / 10, "held-out nearest-class-mean accuracy %d / %d", correct, tested);
    printf("     held-out nearest-class-mean accuracy %d / %d\n", correct, tested);
}

/* XXH3 of 1000 images (index i * 2654435761 mod 2^32) for each seed, as
 * generated by the block-by-block dpo_normal4 form of dpo_data_image
 * before it drew the pixel noise with dpo_normal_f64 (pinned from that
 * code, which docs/model.md's base-model bits rest on). */
static void test_noise_bits_every_level(void)
{
    static float img[1000][D], ref[1000][D];
    const uint64_t seeds[3] = {7, 42, 0x123456789abcdefULL};
    const uint64_t pin[3] = {0x10c239e8b78b4a9eULL, 0x8e04064425745808ULL, 0xe430026418906bedULL};
    int s, level, bad;
    uint32_t i;
    for (level = 0; level < DPO_SIMD_NLEVELS; level++) {
        if (!dpo_simd_supported(level))
            continue;
        setenv("DPO_SIMD", dpo_simd_level_name(level), 1);
        for (s = 0; s < 3; s++) {
            bad = 0;
            for (i = 0; i < 1000; i++) {
                bad += dpo_data_image(img[i], NULL, seeds[s], i * 2654435761u, -1) != DPO_OK;
                if (level == 0)
                    dpo_data_image(ref[i], NULL, seeds[s], i * 2654435761u, -1);
            }
            CHECK(bad == 0, "level %s seed %d: status", dpo_simd_level_name(level), s);
            CHECK(dpo_hash64(img, sizeof img, 0) == pin[s], "level %s seed %d: images %016llx, pinned %016llx",
                  dpo_simd_level_name(level), s, (unsigned long long)dpo_hash64(img, sizeof img, 0),
                  (unsigned long long)pin[s]);
        }
        CHECK(chk_same_bits(img, ref, sizeof img), "level %s: the last seed's images = the scalar level's",
              dpo_simd_level_name(level));
    }
    unsetenv("DPO_SIMD");
}

int main(void)
{
    RUN(test_purity);
    RUN(test_range_and_force);
    RUN(test_class_shapes);
    RUN(test_classes_separable);
    RUN(test_noise_bits_every_level);
    return chk_summary();
}
