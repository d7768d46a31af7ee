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
 * (4 lanes; the AVX-512 level uses it too).  A block of 4 rows x 2 vectors
 * of columns of C is kept in 8 registers of double chains; per p each chain
 * gets one exact float x float product (mul; exact in double, so a
 * contraction could not change it either) and one rounded addition, p
 * ascending from 0 to k - 1 in registers, started from 0 or from C widened,
 * rounded once at the end.
 *
 * op(A) is widened to double once, into a panel on the stack in the order
 * the kernel reads it (a block of 4 rows: xd[p * 4 + r], broadcast from
 * memory), a chunk of rows at a time, once for all columns.  op(B), a block
 * of NR = 2 W columns at a time, once for all rows of the chunk: widened
 * into a double panel (yd[p * NR + c]) where many row blocks reuse it;
 * where only one or two do (the network's batch of 8), read in place when
 * its columns are contiguous or packed in float (p contiguous, B^T) and
 * widened in the kernel.  Transposed operands go through 4 x 4 transposes.
 * Edge blocks (fewer than 4 rows or NR columns) run through a small float
 * tile with zero rows and columns that are discarded.  Fewer than 4 rows
 * (the network run sample by sample: m = 1) go one row at a time
 * (MM_ROWS).  Longer products than the panels hold (k > MM_KMAX) take the
 * scalar definition. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MM_X86 1
#define MM_KMAX 512
#define MM_XMAX 2048 /* doubles of op(A)'s chunk (the panels: 64 KiB of stack) */
#define MM_MR 4

/* The kernel of one ISA: NAME, target, vector type V of W doubles. */
#define MM_KERNEL(NAME, TGT, V, W, ZERO, BCAST, ADD, MUL, YT, LOADY, LOADF, STOREF)                 \
    TGT static void NAME(float *c, size_t rs, const double *xd, const YT *yd, size_t ys, size_t k,     \
                         int acc)                                                                  \
    {                                                                                              \
        V s00, s01, s10, s11, s20, s21, s30, s31, b0, b1, a;                                       \
        size_t p;                                                                                  \
        if (acc) {                                                                                 \
            s00 = LOADF(c), s01 = LOADF(c + W);                                                    \
            s10 = LOADF(c + rs), s11 = LOADF(c + rs + W);                                          \
            s20 = LOADF(c + 2 * rs), s21 = LOADF(c + 2 * rs + W);                                  \
            s30 = LOADF(c + 3 * rs), s31 = LOADF(c + 3 * rs + W);                                  \
        } else {                                                                                   \
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = ZERO;                                  \
        }                                                                                          \
        for (p = 0; p < k; p++, xd += 4, yd += ys) {                                               \
            b0 = LOADY(yd);                                                                        \
            b1 = LOADY(yd + W);                                                                    \
            a = BCAST(xd);                                                                         \
            s00 = ADD(s00, MUL(a, b0));                                                            \
            s01 = ADD(s01, MUL(a, b1));                                                            \
            a = BCAST(xd + 1);                                                                     \
            s10 = ADD(s10, MUL(a, b0));                                                            \
            s11 = ADD(s11, MUL(a, b1));                                                            \
            a = BCAST(xd + 2);                                                                     \
            s20 = ADD(s20, MUL(a, b0));                                                            \
            s21 = ADD(s21, MUL(a, b1));                                                            \
            a = BCAST(xd + 3);                                                                     \
            s30 = ADD(s30, MUL(a, b0));                                                            \
            s31 = ADD(s31, MUL(a, b1));                                                            \
        }                                                                                          \
        STOREF(c, s00), STOREF(c + W, s01);                                                        \
        STOREF(c + rs, s10), STOREF(c + rs + W, s11);                                              \
        STOREF(c + 2 * rs, s20), STOREF(c + 2 * rs + W, s21);                                      \
        STOREF(c + 3 * rs, s30), STOREF(c + 3 * rs + W, s31);                                      \
    }

#define SSE_LOADF(p) _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define SSE_STOREF(p, v) _mm_storel_epi64((__m128i *)(void *)(p), _mm_castps_si128(_mm_cvtpd_ps(v)))
MM_KERNEL(mm_kern_sse2, __attribute__((target("sse2"))), __m128d, 2, _mm_setzero_pd(), _mm_load1_pd,
          _mm_add_pd, _mm_mul_pd, double, _mm_loadu_pd, SSE_LOADF, SSE_STOREF)
MM_KERNEL(mm_kernf_sse2, __attribute__((target("sse2"))), __m128d, 2, _mm_setzero_pd(), _mm_load1_pd,
          _mm_add_pd, _mm_mul_pd, float, SSE_LOADF, SSE_LOADF, SSE_STOREF)
#define AVX_LOADF(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define AVX_STOREF(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v))
MM_KERNEL(mm_kern_avx2, __attribute__((target("avx2"))), __m256d, 4, _mm256_setzero_pd(),
          _mm256_broadcast_sd, _mm256_add_pd, _mm256_mul_pd, double, _mm256_loadu_pd, AVX_LOADF, AVX_STOREF)
MM_KERNEL(mm_kernf_avx2, __attribute__((target("avx2"))), __m256d, 4, _mm256_setzero_pd(),
          _mm256_broadcast_sd, _mm256_add_pd, _mm256_mul_pd, float, AVX_LOADF, AVX_LOADF, AVX_STOREF)

/* Rows one at a time (m < 4: the network run sample by sample, m = 1).
 * ad = op(A)'s row i widened.  op(B) contiguous in j (tb = 0): 4 vectors of
 * columns per block, widened in place.  op(B) = B^T (tb = 1): blocks of 16
 * columns, 4 x 4 float transposes of B's rows give for each p the 4
 * columns' values; columns past the last whole block in groups of 4, the
 * rest as scalar chains.  Chains as everywhere: p ascending, one rounding
 * at the end. */
#define MM_ROWS(NAME, TGT, V, W, ZERO, BCAST, ADD, MUL, LOADF, STOREF, ACC4, LOADC4, STOREC4, P8) \
    TGT static void NAME(float *c, const double *ad, const float *B, size_t k, size_t n, int tb, int acc) \
    {                                                                                              \
        size_t j = 0, p;                                                                           \
        if (!tb) {                                                                                 \
            for (; j + 4 * W <= n; j += 4 * W) {                                                   \
                V s0 = acc ? LOADF(c + j) : ZERO, s1 = acc ? LOADF(c + j + W) : ZERO;              \
                V s2 = acc ? LOADF(c + j + 2 * W) : ZERO, s3 = acc ? LOADF(c + j + 3 * W) : ZERO;  \
                for (p = 0; p < k; p++) {                                                          \
                    const float *b = B + p * n + j;                                                \
                    V a = BCAST(ad + p);                                                           \
                    s0 = ADD(s0, MUL(a, LOADF(b)));                                                \
                    s1 = ADD(s1, MUL(a, LOADF(b + W)));                                            \
                    s2 = ADD(s2, MUL(a, LOADF(b + 2 * W)));                                        \
                    s3 = ADD(s3, MUL(a, LOADF(b + 3 * W)));                                        \
                }                                                                                  \
                STOREF(c + j, s0), STOREF(c + j + W, s1);                                          \
                STOREF(c + j + 2 * W, s2), STOREF(c + j + 3 * W, s3);                              \
            }                                                                                      \
        } else {                                                                                   \
            for (; j + 4 <= n; j += (n - j >= 16 ? 16 : 4)) {                                      \
                size_t g, ng = n - j >= 16 ? 4 : 1;                                                \
                V s[4][4 / W];                                                                     \
                for (g = 0; g < ng; g++)                                                           \
                    LOADC4(s[g], c + j + 4 * g);                                                   \
                p = 0;                                                                             \
                P8                                                                                 \
                for (; p + 4 <= k; p += 4)                                                         \
                    for (g = 0; g < ng; g++) {                                                     \
                        const float *b = B + (j + 4 * g) * k + p;                                  \
                        __m128 r0 = _mm_loadu_ps(b), r1 = _mm_loadu_ps(b + k);                     \
                        __m128 r2 = _mm_loadu_ps(b + 2 * k), r3 = _mm_loadu_ps(b + 3 * k);         \
                        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);                                         \
                        ACC4(s[g], BCAST(ad + p), r0);                                             \
                        ACC4(s[g], BCAST(ad + p + 1), r1);                                         \
                        ACC4(s[g], BCAST(ad + p + 2), r2);                                         \
                        ACC4(s[g], BCAST(ad + p + 3), r3);                                         \
                    }                                                                              \
                for (; p < k; p++)                                                                 \
                    for (g = 0; g < ng; g++) {                                                     \
                        const float *b = B + (j + 4 * g) * k + p;                                  \
                        ACC4(s[g], BCAST(ad + p), _mm_setr_ps(b[0], b[k], b[2 * k], b[3 * k]));    \
                    }                                                                              \
                for (g = 0; g < ng; g++)                                                           \
                    STOREC4(c + j + 4 * g, s[g]);                                                  \
            }                                                                                      \
        }                                                                                          \
        for (; j < n; j++) {                                                                       \
            double t = acc ? (double)c[j] : 0.0;                                                   \
            for (p = 0; p < k; p++)                                                                \
                t += ad[p] * (double)(tb ? B[j * k + p] : B[p * n + j]);                           \
            c[j] = (float)t;                                                                       \
        }                                                                                          \
    }

#define SSE_ACC4(s, a, r)                                                \
    (s[0] = _mm_add_pd(s[0], _mm_mul_pd(a, _mm_cvtps_pd(r))),            \
     s[1] = _mm_add_pd(s[1], _mm_mul_pd(a, _mm_cvtps_pd(_mm_movehl_ps(r, r)))))
#define SSE_LOADC4(s, p) (s[0] = acc ? SSE_LOADF(p) : _mm_setzero_pd(), s[1] = acc ? SSE_LOADF((p) + 2) : _mm_setzero_pd())
#define SSE_STOREC4(p, s) (SSE_STOREF(p, s[0]), SSE_STOREF((p) + 2, s[1]))
MM_ROWS(mm_rows_sse2, __attribute__((target("sse2"))), __m128d, 2, _mm_setzero_pd(), _mm_load1_pd,
        _mm_add_pd, _mm_mul_pd, SSE_LOADF, SSE_STOREF, SSE_ACC4, SSE_LOADC4, SSE_STOREC4, )
#define AVX_ACC4(s, a, r) (s[0] = _mm256_add_pd(s[0], _mm256_mul_pd(a, _mm256_cvtps_pd(r))))
#define AVX_LOADC4(s, p) (s[0] = acc ? AVX_LOADF(p) : _mm256_setzero_pd())
#define AVX_STOREC4(p, s) AVX_STOREF(p, s[0])
/* AVX2: 8 values of p per row load, two 4 x 4 transposes side by side
 * (p .. p+3 in the low halves, p+4 .. p+7 in the high ones), applied in
 * ascending p. */
#define AVX_P8                                                                               \
    for (; p + 8 <= k; p += 8)                                                               \
        for (g = 0; g < ng; g++) {                                                           \
            const float *b = B + (j + 4 * g) * k + p;                                        \
            __m256 r0 = _mm256_loadu_ps(b), r1 = _mm256_loadu_ps(b + k);                     \
            __m256 r2 = _mm256_loadu_ps(b + 2 * k), r3 = _mm256_loadu_ps(b + 3 * k);         \
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);         \
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);         \
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE); \
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE); \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p), _mm256_castps256_ps128(u0));         \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 1), _mm256_castps256_ps128(u1));     \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 2), _mm256_castps256_ps128(u2));     \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 3), _mm256_castps256_ps128(u3));     \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 4), _mm256_extractf128_ps(u0, 1));   \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 5), _mm256_extractf128_ps(u1, 1));   \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 6), _mm256_extractf128_ps(u2, 1));   \
            AVX_ACC4(s[g], _mm256_broadcast_sd(ad + p + 7), _mm256_extractf128_ps(u3, 1));   \
        }
MM_ROWS(mm_rows_avx2, __attribute__((target("avx2"))), __m256d, 4, _mm256_setzero_pd(),
        _mm256_broadcast_sd, _mm256_add_pd, _mm256_mul_pd, AVX_LOADF, AVX_STOREF, AVX_ACC4, AVX_LOADC4,
        AVX_STOREC4, AVX_P8)

/* Kernels of one level: op(B)'s panel packed as doubles, or read in place
 * (contiguous columns, widened in the kernel). */
typedef struct mm_isa {
    void (*kd)(float *, size_t, const double *, const double *, size_t, size_t, int);
    void (*kf)(float *, size_t, const double *, const float *, size_t, size_t, int);
    void (*rows)(float *, const double *, const float *, size_t, size_t, int, int);
    size_t nr;
} mm_isa;
static const mm_isa mm_sse2 = {mm_kern_sse2, mm_kernf_sse2, mm_rows_sse2, 4};
static const mm_isa mm_avx2 = {mm_kern_avx2, mm_kernf_avx2, mm_rows_avx2, 8};

/* d[p * w + q] = (double)s[q * ss + p * sp] for p < k, q < nq, zeros for
 * nq <= q < w: a panel of w lanes (the conversions are exact, so how they
 * are done does not matter).  p contiguous (sp == 1, whole panels) goes
 * through 4 x 4 transposes. */
static void mm_pack(double *d, size_t w, const float *s, size_t ss, size_t sp, size_t k, size_t nq)
{
    size_t p = 0, q, q4 = w / 4 * 4, pp;
    if (ss == 1 && nq == w && w % 2 == 0) {
        for (; p < k; p++)
            for (q = 0; q < w; q += 2)
                _mm_storeu_pd(d + p * w + q, _mm_cvtps_pd(_mm_castsi128_ps(
                                                 _mm_loadl_epi64((const __m128i *)(const void *)(s + p * sp + q)))));
    }
    if (sp == 1 && nq == w) {
        for (; p + 4 <= k; p += 4) {
            for (q = 0; q < q4; q += 4) {
                __m128 r0 = _mm_loadu_ps(s + q * ss + p), r1 = _mm_loadu_ps(s + (q + 1) * ss + p);
                __m128 r2 = _mm_loadu_ps(s + (q + 2) * ss + p), r3 = _mm_loadu_ps(s + (q + 3) * ss + p);
                double *o = d + p * w + q;
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_pd(o, _mm_cvtps_pd(r0));
                _mm_storeu_pd(o + 2, _mm_cvtps_pd(_mm_movehl_ps(r0, r0)));
                _mm_storeu_pd(o + w, _mm_cvtps_pd(r1));
                _mm_storeu_pd(o + w + 2, _mm_cvtps_pd(_mm_movehl_ps(r1, r1)));
                _mm_storeu_pd(o + 2 * w, _mm_cvtps_pd(r2));
                _mm_storeu_pd(o + 2 * w + 2, _mm_cvtps_pd(_mm_movehl_ps(r2, r2)));
                _mm_storeu_pd(o + 3 * w, _mm_cvtps_pd(r3));
                _mm_storeu_pd(o + 3 * w + 2, _mm_cvtps_pd(_mm_movehl_ps(r3, r3)));
            }
            for (; q < w; q++)
                for (pp = p; pp < p + 4; pp++)
                    d[pp * w + q] = (double)s[q * ss + pp];
        }
    }
    for (; p < k; p++) {
        for (q = 0; q < nq; q++)
            d[p * w + q] = (double)s[q * ss + p * sp];
        for (; q < w; q++)
            d[p * w + q] = 0.0;
    }
}

/* The same panel left in float (the kernel widens it): p contiguous in s
 * (sp == 1), whole panels, w a multiple of 4. */
static void mm_packf(float *d, size_t w, const float *s, size_t ss, size_t k)
{
    size_t p = 0, q;
    for (; p + 4 <= k; p += 4)
        for (q = 0; q < w; q += 4) {
            __m128 r0 = _mm_loadu_ps(s + q * ss + p), r1 = _mm_loadu_ps(s + (q + 1) * ss + p);
            __m128 r2 = _mm_loadu_ps(s + (q + 2) * ss + p), r3 = _mm_loadu_ps(s + (q + 3) * ss + p);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(d + p * w + q, r0);
            _mm_storeu_ps(d + (p + 1) * w + q, r1);
            _mm_storeu_ps(d + (p + 2) * w + q, r2);
            _mm_storeu_ps(d + (p + 3) * w + q, r3);
        }
    for (; p < k; p++)
        for (q = 0; q < w; q++)
            d[p * w + q] = s[q * ss + p];
}

static void mm_simd(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta, int tb,
                    int acc, const mm_isa *isa)
{
    size_t nr = isa->nr;
    double yd[MM_KMAX * 8], xd[MM_XMAX > MM_KMAX * MM_MR ? MM_XMAX : MM_KMAX * MM_MR];
    float t[MM_MR * 8], yf[MM_KMAX * 8];
    size_t a_r = ta ? 1 : k, a_p = ta ? m : 1; /* op(A)[i][p] = A[i * a_r + p * a_p] */
    size_t b_p = tb ? 1 : n, b_c = tb ? k : 1; /* op(B)[p][j] = B[p * b_p + j * b_c] */
    size_t mc = MM_XMAX / (k * MM_MR) * MM_MR;  /* rows per chunk of op(A) */
    size_t i0, ic, j0, i, j, r, c, nc, mr, mi;
    if (mc < MM_MR)
        mc = MM_MR;
    if (m < MM_MR) {
        size_t p;
        for (i = 0; i < m; i++) {
            for (p = 0; p < k; p++)
                xd[p] = (double)A[i * a_r + p * a_p];
            isa->rows(C + i * n, xd, B, k, n, tb, acc);
        }
        return;
    }
    for (ic = 0; ic < m; ic += mc) {
        mi = m - ic < mc ? m - ic : mc;
        for (i0 = 0; i0 < mi; i0 += MM_MR) {
            mr = mi - i0 < MM_MR ? mi - i0 : MM_MR;
            mm_pack(xd + i0 * k, MM_MR, A + (ic + i0) * a_r, a_r, a_p, k, mr);
        }
        for (j0 = 0; j0 < n; j0 += nr) {
            /* where few row blocks would reuse a double panel, op(B) is
             * read in place (contiguous columns) or packed in float */
            const float *yp = B + j0;
            size_t ys = b_p;
            int inplace = 0;
            nc = n - j0 < nr ? n - j0 : nr;
            if (nc == nr && mi <= 2 * MM_MR) {
                inplace = 1;
                if (b_c != 1) {
                    mm_packf(yf, nr, B + j0 * b_c, b_c, k);
                    yp = yf, ys = nr;
                }
            } else {
                mm_pack(yd, nr, B + j0 * b_c, b_c, b_p, k, nc);
            }
            for (i0 = 0; i0 < mi; i0 += MM_MR) {
                float *cb = C + (ic + i0) * n + j0;
                mr = mi - i0 < MM_MR ? mi - i0 : MM_MR;
                if (mr == MM_MR && nc == nr) {
                    if (inplace)
                        isa->kf(cb, n, xd + i0 * k, yp, ys, k, acc);
                    else
                        isa->kd(cb, n, xd + i0 * k, yd, nr, k, acc);
                    continue;
                }
                if (inplace) { /* a short block of rows: pack after all */
                    mm_pack(yd, nr, B + j0 * b_c, b_c, b_p, k, nc);
                    inplace = 0;
                }
                for (r = 0; r < MM_MR; r++)
                    for (c = 0; c < nr; c++)
                        t[r * nr + c] = acc && r < mr && c < nc ? cb[r * n + c] : 0.0f;
                isa->kd(t, nr, xd + i0 * k, yd, nr, k, acc);
                for (i = 0; i < mr; i++)
                    for (j = 0; j < nc; j++)
                        cb[i * n + j] = t[i * nr + j];
            }
        }
    }
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
            mm_simd(C, A, B, m, k, n, ta, tb, accumulate, &mm_avx2);
            return;
        }
        if (level == DPO_SIMD_SSE2) {
            mm_simd(C, A, B, m, k, n, ta, tb, accumulate, &mm_sse2);
            return;
        }
    }
#endif
    if (tb)
        mm_dots(C, A, B, m, k, n, ta, accumulate);
    else
        mm_rows(C, A, B, m, k, n, ta, accumulate);
}
