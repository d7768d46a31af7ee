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


/* AVX2 form (same contract, same bits): blocks of 4 rows x 16 columns held
 * in 16 registers of 4 double chains each; per p one exact float x float
 * product (mul) and one rounded addition per chain, p ascending.  op(B)'s
 * 16 columns of a block are contiguous (tb = 0) or packed from B's rows
 * (tb = 1) KC values of p at a time; chains carry across chunks in a
 * double tile; rows past the last whole 4 go one at a time.  Columns past
 * the last whole 16 go 4 at a time in one register per row, and the last
 * n % 4 through the scalar chains of mm_chain. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MM_AVX2 1
#define MM_KC 256
#define MM_MC 64

static double mm_a(const float *A, size_t m, size_t k, size_t i, size_t p, int ta)
{
    return (double)(ta ? A[p * m + i] : A[i * k + p]);
}

/* One output as one chain: the definition, for the edges. */
static void mm_chain(float *C, const float *A, const float *B, size_t m, size_t k, size_t n, int ta,
                     int tb, int acc, size_t i, size_t j)
{
    double s = acc ? (double)C[i * n + j] : 0.0;
    size_t p;
    for (p = 0; p < k; p++)
        s += mm_a(A, m, k, i, p, ta) * (double)(tb ? B[j * k + p] : B[p * n + j]);
    C[i * n + j] = (float)s;
}

__attribute__((target("avx2"))) static void mm_avx2(float *C, const float *A, const float *B,
                                                    size_t m, size_t k, size_t n, int ta,
                                                    int tb, int acc)
{
    double tile[MM_MC * 16];
    float pk[MM_KC * 16];
    size_t j0, i0, ig, p0, i, j, p;
    size_t nj = n / 16 * 16, mi;
    for (j0 = 0; j0 < nj; j0 += 16) {
        for (ig = 0; ig < m; ig += MM_MC) {
            size_t mg = m - ig < MM_MC ? m - ig : MM_MC;
            mi = mg / 4 * 4;
            for (i = 0; i < mg; i++)
                for (j = 0; j < 16; j++)
                    tile[i * 16 + j] = acc ? (double)C[(ig + i) * n + j0 + j] : 0.0;
            for (p0 = 0; p0 < k; p0 += MM_KC) {
                size_t kc = k - p0 < MM_KC ? k - p0 : MM_KC;
                if (tb)
                    for (p = 0; p < kc; p++)
                        for (j = 0; j < 16; j++)
                            pk[p * 16 + j] = B[(j0 + j) * k + p0 + p];
                for (i0 = 0; i0 < mi; i0 += 4) {
                    /* op(A)[r][p0 + p] = a_r[p * sa] */
                    size_t sa = ta ? m : 1, r0 = ig + i0;
                    const float *a0 = ta ? A + p0 * m + r0 : A + r0 * k + p0;
                    const float *a1 = a0 + (ta ? 1 : k), *a2 = a1 + (ta ? 1 : k);
                    const float *a3 = a2 + (ta ? 1 : k);
                    double *t = tile + i0 * 16;
                    __m256d s00 = _mm256_loadu_pd(t), s01 = _mm256_loadu_pd(t + 4);
                    __m256d s02 = _mm256_loadu_pd(t + 8), s03 = _mm256_loadu_pd(t + 12);
                    __m256d s10 = _mm256_loadu_pd(t + 16), s11 = _mm256_loadu_pd(t + 20);
                    __m256d s12 = _mm256_loadu_pd(t + 24), s13 = _mm256_loadu_pd(t + 28);
                    __m256d s20 = _mm256_loadu_pd(t + 32), s21 = _mm256_loadu_pd(t + 36);
                    __m256d s22 = _mm256_loadu_pd(t + 40), s23 = _mm256_loadu_pd(t + 44);
                    __m256d s30 = _mm256_loadu_pd(t + 48), s31 = _mm256_loadu_pd(t + 52);
                    __m256d s32 = _mm256_loadu_pd(t + 56), s33 = _mm256_loadu_pd(t + 60);
                    for (p = 0; p < kc; p++) {
                        const float *bp = tb ? pk + p * 16 : B + (p0 + p) * n + j0;
                        __m256d b0 = _mm256_cvtps_pd(_mm_loadu_ps(bp));
                        __m256d b1 = _mm256_cvtps_pd(_mm_loadu_ps(bp + 4));
                        __m256d b2 = _mm256_cvtps_pd(_mm_loadu_ps(bp + 8));
                        __m256d b3 = _mm256_cvtps_pd(_mm_loadu_ps(bp + 12));
                        __m256d a;
#define MM_ROW(ar, x0, x1, x2, x3)                                  \
    a = _mm256_set1_pd((double)ar[p * sa]);                         \
    x0 = _mm256_add_pd(x0, _mm256_mul_pd(a, b0));                   \
    x1 = _mm256_add_pd(x1, _mm256_mul_pd(a, b1));                   \
    x2 = _mm256_add_pd(x2, _mm256_mul_pd(a, b2));                   \
    x3 = _mm256_add_pd(x3, _mm256_mul_pd(a, b3));
                        MM_ROW(a0, s00, s01, s02, s03)
                        MM_ROW(a1, s10, s11, s12, s13)
                        MM_ROW(a2, s20, s21, s22, s23)
                        MM_ROW(a3, s30, s31, s32, s33)
#undef MM_ROW
                    }
                    _mm256_storeu_pd(t, s00);
                    _mm256_storeu_pd(t + 4, s01);
                    _mm256_storeu_pd(t + 8, s02);
                    _mm256_storeu_pd(t + 12, s03);
                    _mm256_storeu_pd(t + 16, s10);
                    _mm256_storeu_pd(t + 20, s11);
                    _mm256_storeu_pd(t + 24, s12);
                    _mm256_storeu_pd(t + 28, s13);
                    _mm256_storeu_pd(t + 32, s20);
                    _mm256_storeu_pd(t + 36, s21);
                    _mm256_storeu_pd(t + 40, s22);
                    _mm256_storeu_pd(t + 44, s23);
                    _mm256_storeu_pd(t + 48, s30);
                    _mm256_storeu_pd(t + 52, s31);
                    _mm256_storeu_pd(t + 56, s32);
                    _mm256_storeu_pd(t + 60, s33);
                }
                for (i = mi; i < mg; i++) { /* rows past the last whole 4, one at a time */
                    size_t sa = ta ? m : 1;
                    const float *a0 = ta ? A + p0 * m + ig + i : A + (ig + i) * k + p0;
                    double *t = tile + i * 16;
                    __m256d s00 = _mm256_loadu_pd(t), s01 = _mm256_loadu_pd(t + 4);
                    __m256d s02 = _mm256_loadu_pd(t + 8), s03 = _mm256_loadu_pd(t + 12);
                    for (p = 0; p < kc; p++) {
                        const float *bp = tb ? pk + p * 16 : B + (p0 + p) * n + j0;
                        __m256d a = _mm256_set1_pd((double)a0[p * sa]);
                        s00 = _mm256_add_pd(s00, _mm256_mul_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(bp))));
                        s01 = _mm256_add_pd(s01, _mm256_mul_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(bp + 4))));
                        s02 = _mm256_add_pd(s02, _mm256_mul_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(bp + 8))));
                        s03 = _mm256_add_pd(s03, _mm256_mul_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(bp + 12))));
                    }
                    _mm256_storeu_pd(t, s00);
                    _mm256_storeu_pd(t + 4, s01);
                    _mm256_storeu_pd(t + 8, s02);
                    _mm256_storeu_pd(t + 12, s03);
                }
            }
            for (i = 0; i < mg; i++)
                for (j = 0; j < 16; j++)
                    C[(ig + i) * n + j0 + j] = (float)tile[i * 16 + j];
        }
    }
    /* whole groups of 4 columns past the last 16: one register per row */
    for (j0 = nj; j0 + 4 <= n; j0 += 4) {
        for (i = 0; i < m; i++) {
            size_t sa = ta ? m : 1;
            const float *a0 = ta ? A + i : A + i * k;
            __m256d s0 = acc ? _mm256_cvtps_pd(_mm_loadu_ps(C + i * n + j0)) : _mm256_setzero_pd();
            for (p = 0; p < k; p++) {
                __m128 b;
                if (tb)
                    b = _mm_setr_ps(B[j0 * k + p], B[(j0 + 1) * k + p], B[(j0 + 2) * k + p],
                                    B[(j0 + 3) * k + p]);
                else
                    b = _mm_loadu_ps(B + p * n + j0);
                s0 = _mm256_add_pd(s0, _mm256_mul_pd(_mm256_set1_pd((double)a0[p * sa]),
                                                     _mm256_cvtps_pd(b)));
            }
            _mm_storeu_ps(C + i * n + j0, _mm256_cvtpd_ps(s0));
        }
    }
    for (i = 0; i < m; i++)
        for (j = j0; j < n; j++)
            mm_chain(C, A, B, m, k, n, ta, tb, acc, i, j);
}
#else
#define MM_AVX2 0
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
#if MM_AVX2
    if (n >= 16 && dpo_simd_level() >= DPO_SIMD_AVX2) {
        mm_avx2(C, A, B, m, k, n, ta, tb, accumulate);
        return;
    }
#endif
    if (tb)
        mm_dots(C, A, B, m, k, n, ta, accumulate);
    else
        mm_rows(C, A, B, m, k, n, ta, accumulate);
}
