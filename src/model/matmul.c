/* The one matrix product of the built-in network (diffpo_align.h).
 *
 * Contract: every C[i][j] is one double accumulation of the exact
 * float x float products op(A)[i][p] op(B)[p][j] in ascending p, starting
 * from 0 or from C[i][j] widened, rounded once to float.  The loops below
 * only choose which outputs are accumulated side by side (several
 * independent chains, for speed); no chain is ever split or reordered. */
#include "diffpo.h"

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
    if (tb)
        mm_dots(C, A, B, m, k, n, ta, accumulate);
    else
        mm_rows(C, A, B, m, k, n, ta, accumulate);
}
