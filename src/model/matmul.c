/* The one matrix product of the built-in network (diffpo_align.h).
 *
 * Contract: every C[i][j] is one double accumulation of the exact
 * float x float products op(A)[i][p] op(B)[p][j] in ascending p, starting
 * from 0 or from C[i][j] widened, rounded once to float.  The loops below
 * only choose which outputs are accumulated side by side (several
 * independent chains, for speed); no chain is ever split or reordered. */
#include "diffpo.h"
#include "diffpo_align.h"
#include "../cpu_simd.h"

#define MM_TILE 128

/* op(B)[p][j] contiguous in j (B stored k x n, tb = 0): axpy form over a
 * row of double accumulators, a tile of columns at a time. */
static void mm_rows(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int acc)
{
    double s[MM_TILE];
    size_t i, j0, j, p, nt;
    for (i = 0; i < m; i++) {
        float *c = C + i * n;
        for (j0 = 0; j0 < n; j0 += MM_TILE) {
            nt = n - j0 < MM_TILE ? n - j0 : MM_TILE;
            for (j = 0; j < nt; j++)
                s[j] = acc ? (double)c[j0 + j] : 0.0;
            for (p = 0; p < k; p++) {
                double a = (double)(ta ? A[p * m + i] : A[i * k + p]);
                const float *b = B + p * n + j0;
                for (j = 0; j < nt; j++)
                    s[j] += a * (double)b[j];
            }
            for (j = 0; j < nt; j++)
                c[j0 + j] = (float)s[j];
        }
    }
}

/* op(B)[p][j] = B[j][p] (tb = 1): dot products, four columns at a time. */
static void mm_dots(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int acc)
{
    size_t i, j, p;
    for (i = 0; i < m; i++) {
        float *c = C + i * n;
        for (j = 0; j + 4 <= n; j += 4) {
            const float *b0 = B + j * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
            double s0 = acc ? (double)c[j] : 0.0, s1 = acc ? (double)c[j + 1] : 0.0;
            double s2 = acc ? (double)c[j + 2] : 0.0, s3 = acc ? (double)c[j + 3] : 0.0;
            if (!ta) {
                const float *a = A + i * k;
                for (p = 0; p < k; p++) {
                    double av = (double)a[p];
                    s0 += av * (double)b0[p];
                    s1 += av * (double)b1[p];
                    s2 += av * (double)b2[p];
                    s3 += av * (double)b3[p];
                }
            } else {
                for (p = 0; p < k; p++) {
                    double av = (double)A[p * m + i];
                    s0 += av * (double)b0[p];
                    s1 += av * (double)b1[p];
                    s2 += av * (double)b2[p];
                    s3 += av * (double)b3[p];
                }
            }
            c[j] = (float)s0;
            c[j + 1] = (float)s1;
            c[j + 2] = (float)s2;
            c[j + 3] = (float)s3;
        }
        for (; j < n; j++) {
            const float *b = B + j * k;
            double s = acc ? (double)c[j] : 0.0;
            for (p = 0; p < k; p++)
                s += (double)(ta ? A[p * m + i] : A[i * k + p]) * (double)b[p];
            c[j] = (float)s;
        }
    }
}


/* Vector forms (same contract, same bits): SSE2 (2 double lanes) and AVX2
 * (4 lanes).  A block of 4 output rows x 2 vectors of output columns is kept
 * in 8 registers of double chains; per p each chain gets one exact
 * float x float product (mul; exact in double, so contraction could not
 * change it either) and one rounded addition, p ascending from 0 to k - 1
 * in registers, started from 0 or from the output widened, rounded once.
 *
 * The kernel computes out(r, c) = sum_p X(r, p) Y(p, c): X is read in place
 * (one float per row and p, widened and broadcast), Y is a panel of the
 * block's columns packed as doubles p-major (yd[p * NR + c]), packed once
 * for all rows.  The product is run either as C = op(A) op(B) (rows of C are
 * X, columns Y) or as its transpose C^T = op(B)^T op(A)^T (X = op(B)^T,
 * Y = op(A)^T), whichever packs fewer elements and avoids a transposing
 * pack: the chains are the same either way, only which of them share a
 * register changes.  Blocks at the edges (fewer than 4 rows or NR columns)
 * and blocks of the transposed form go through a small float tile; missing
 * rows re-read row 0 and missing columns are zeros, both discarded.  k is
 * limited by the panel on the stack (MM_KMAX); longer products take the
 * scalar definition. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MM_X86 1
#define MM_KMAX 512
#define MM_MR 4

/* The kernel of one ISA: NAME, target, vector type V of W doubles. */
#define MM_KERNEL(NAME, TGT, V, W, ZERO, SET1, ADD, MUL, LOADD, LOADF, STOREF)                  \
    TGT static void NAME(float *c, size_t rs, const float *const *x, size_t xp, const double *yd, \
                         size_t k, int acc)                                                      \
    {                                                                                            \
        const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];                             \
        V s00, s01, s10, s11, s20, s21, s30, s31, b0, b1, a;                                     \
        size_t p, q = 0;                                                                         \
        if (acc) {                                                                               \
            s00 = LOADF(c), s01 = LOADF(c + W);                                                  \
            s10 = LOADF(c + rs), s11 = LOADF(c + rs + W);                                        \
            s20 = LOADF(c + 2 * rs), s21 = LOADF(c + 2 * rs + W);                                \
            s30 = LOADF(c + 3 * rs), s31 = LOADF(c + 3 * rs + W);                                \
        } else {                                                                                 \
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = ZERO;                                \
        }                                                                                        \
        for (p = 0; p < k; p++, q += xp) {                                                       \
            b0 = LOADD(yd + p * 2 * W);                                                          \
            b1 = LOADD(yd + p * 2 * W + W);                                                      \
            a = SET1((double)x0[q]);                                                             \
            s00 = ADD(s00, MUL(a, b0));                                                          \
            s01 = ADD(s01, MUL(a, b1));                                                          \
            a = SET1((double)x1[q]);                                                             \
            s10 = ADD(s10, MUL(a, b0));                                                          \
            s11 = ADD(s11, MUL(a, b1));                                                          \
            a = SET1((double)x2[q]);                                                             \
            s20 = ADD(s20, MUL(a, b0));                                                          \
            s21 = ADD(s21, MUL(a, b1));                                                          \
            a = SET1((double)x3[q]);                                                             \
            s30 = ADD(s30, MUL(a, b0));                                                          \
            s31 = ADD(s31, MUL(a, b1));                                                          \
        }                                                                                        \
        STOREF(c, s00), STOREF(c + W, s01);                                                      \
        STOREF(c + rs, s10), STOREF(c + rs + W, s11);                                            \
        STOREF(c + 2 * rs, s20), STOREF(c + 2 * rs + W, s21);                                    \
        STOREF(c + 3 * rs, s30), STOREF(c + 3 * rs + W, s31);                                    \
    }

#define SSE_LOADF(p) _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define SSE_STOREF(p, v) _mm_storel_epi64((__m128i *)(void *)(p), _mm_castps_si128(_mm_cvtpd_ps(v)))
MM_KERNEL(mm_kern_sse2, __attribute__((target("sse2"))), __m128d, 2, _mm_setzero_pd(), _mm_set1_pd,
          _mm_add_pd, _mm_mul_pd, _mm_loadu_pd, SSE_LOADF, SSE_STOREF)
#define AVX_LOADF(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define AVX_STOREF(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v))
MM_KERNEL(mm_kern_avx2, __attribute__((target("avx2"))), __m256d, 4, _mm256_setzero_pd(), _mm256_set1_pd,
          _mm256_add_pd, _mm256_mul_pd, _mm256_loadu_pd, AVX_LOADF, AVX_STOREF)

typedef void (*mm_kern_fn)(float *, size_t, const float *const *, size_t, const double *, size_t, int);

/* out(r, c) = sum_p X(r, p) Y(p, c) over rows r < mo, columns c < no, with
 * X(r, p) = x[r * xr + p * xp], Y(p, c) = y[p * yp + c * yc] and out(r, c)
 * at C[r * cr + c * cc]; nr (= 2 W) columns per block. */
static void mm_vec(float *C, size_t cr, size_t cc, const float *x, size_t xr, size_t xp, const float *y,
                   size_t yp, size_t yc, size_t mo, size_t k, size_t no, int acc, mm_kern_fn kern, size_t nr)
{
    double yd[MM_KMAX * 8];
    float t[MM_MR * 8];
    const float *xs[MM_MR];
    size_t c0, r0, p, c, r, nc, mr;
    for (c0 = 0; c0 < no; c0 += nr) {
        nc = no - c0 < nr ? no - c0 : nr;
        /* the panel: Y's columns c0 .. c0 + nc - 1 as doubles, zeros past */
        if (yc == 1 && nc == nr) {
            for (p = 0; p < k; p++)
                for (c = 0; c < nr; c++)
                    yd[p * nr + c] = (double)y[p * yp + c0 + c];
        } else {
            for (c = 0; c < nr; c++)
                if (c < nc)
                    for (p = 0; p < k; p++)
                        yd[p * nr + c] = (double)y[p * yp + (c0 + c) * yc];
                else
                    for (p = 0; p < k; p++)
                        yd[p * nr + c] = 0.0;
        }
        for (r0 = 0; r0 < mo; r0 += MM_MR) {
            mr = mo - r0 < MM_MR ? mo - r0 : MM_MR;
            for (r = 0; r < MM_MR; r++)
                xs[r] = x + (r < mr ? r0 + r : r0) * xr;
            if (mr == MM_MR && nc == nr && cc == 1) {
                kern(C + r0 * cr + c0, cr, xs, xp, yd, k, acc);
                continue;
            }
            for (r = 0; r < MM_MR; r++)
                for (c = 0; c < nr; c++)
                    t[r * nr + c] = acc && r < mr && c < nc ? C[(r0 + r) * cr + (c0 + c) * cc] : 0.0f;
            kern(t, nr, xs, xp, yd, k, acc);
            for (r = 0; r < mr; r++)
                for (c = 0; c < nc; c++)
                    C[(r0 + r) * cr + (c0 + c) * cc] = t[r * nr + c];
        }
    }
}

/* C = op(A) op(B) as it stands (vectors along C's rows, Y = op(B)) or as
 * C^T = op(B)^T op(A)^T (vectors along C's columns, Y = op(A)^T): the one
 * that packs fewer elements, a transposing pack counted 3 times, the
 * transposed form's tiles counted 2 per output. */
static void mm_simd(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                    int acc, mm_kern_fn kern, size_t nr)
{
    size_t a_r = ta ? 1 : k, a_p = ta ? m : 1; /* op(A)[i][p] = A[i * a_r + p * a_p] */
    size_t b_p = tb ? 1 : n, b_c = tb ? k : 1; /* op(B)[p][j] = B[p * b_p + j * b_c] */
    double cost_rows = (double)k * (double)n * (tb ? 3.0 : 1.0);
    double cost_cols = (double)k * (double)m * (ta ? 1.0 : 3.0) + 2.0 * (double)m * (double)n;
    if (cost_rows <= cost_cols)
        mm_vec(C, n, 1, A, a_r, a_p, B, b_p, b_c, m, k, n, acc, kern, nr);
    else
        mm_vec(C, 1, n, B, b_c, b_p, A, a_p, a_r, n, k, m, acc, kern, nr);
}
#else
#define MM_X86 0
#endif

void dpo_matmul_f32(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                    int accumulate)
{
    if (!C || m == 0 || n == 0)
        return;
    if (k == 0 || !A || !B) {
        size_t i;
        if (!accumulate)
            for (i = 0; i < m * n; i++)
                C[i] = 0.0f;
        return;
    }
#if MM_X86
    if (k <= MM_KMAX) {
        int level = dpo_simd_level();
        if (level >= DPO_SIMD_AVX2) { /* the AVX-512 level uses the AVX2 form */
            mm_simd(C, A, B, m, k, n, ta, tb, accumulate, mm_kern_avx2, 8);
            return;
        }
        if (level == DPO_SIMD_SSE2) {
            mm_simd(C, A, B, m, k, n, ta, tb, accumulate, mm_kern_sse2, 4);
            return;
        }
    }
#endif
    if (tb)
        mm_dots(C, A, B, m, k, n, ta, accumulate);
    else
        mm_rows(C, A, B, m, k, n, ta, accumulate);
}
