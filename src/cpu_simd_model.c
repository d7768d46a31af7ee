/* Run-time dispatch of the training element loops' vector forms
 * (src/cpu_simd_model.h) and, on x86-64, their SSE2, AVX2 and AVX-512F
 * instantiations of src/cpu_simd_model_body.h.  As in src/cpu_simd.c each
 * ISA is enabled per function, the level is the one dpo_simd_level()
 * reports, and other targets build the scalar level only. */
#include "cpu_simd_model.h"
#include "core/dpo_mlp.h"
#include "core/dpo_loss.h"
#include "core/dpo_reduce.h"
#include "core/dpo_ddim.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DPO_SIMDM_X86 1
#include <immintrin.h>
#else
#define DPO_SIMDM_X86 0
#endif

/* Leaf sums of blocks 0 .. nb-1 (each DPO_REDUCE_BLOCK terms, all full):
 * the scalar definition. */
static void leaves_scalar(double *part, const double *t, size_t nb)
{
    size_t k, i;
    for (k = 0; k < nb; k++) {
        const double *b = t + k * DPO_REDUCE_BLOCK;
        double s = b[0];
        for (i = 1; i < DPO_REDUCE_BLOCK; i++)
            s = s + b[i];
        part[k] = s;
    }
}

/* One term of term_sum's kinds in scalar form (the definitions). */
static double term3(double x, double y, double z, int kind)
{
    if (kind == 0)
        return dpo_lr_term(x, y, z);
    if (kind == 1)
        return dpo_err_diff_term(x, y, z);
    return dpo_lp_term(x, y);
}

#if DPO_SIMDM_X86

/* ---- SSE2 ---- */
#define M_TGT __attribute__((target("sse2")))
#define M_NAME(x) x##_sse2
#define F __m128
#define FW 4
#define F_SET1(x) _mm_set1_ps(x)
#define F_LOADU(p) _mm_loadu_ps(p)
#define F_STOREU(p, v) _mm_storeu_ps(p, v)
#define F_ADD(a, b) _mm_add_ps(a, b)
#define F_SUB(a, b) _mm_sub_ps(a, b)
#define F_MUL(a, b) _mm_mul_ps(a, b)
#define F_DIV(a, b) _mm_div_ps(a, b)
#define F_SQRT(a) _mm_sqrt_ps(a)
#define D __m128d
#define DW 2
#define DM __m128d
#define D_SET1(x) _mm_set1_pd(x)
#define D_LOADU(p) _mm_loadu_pd(p)
#define D_STOREU(p, v) _mm_storeu_pd(p, v)
#define D_ADD(a, b) _mm_add_pd(a, b)
#define D_SUB(a, b) _mm_sub_pd(a, b)
#define D_MUL(a, b) _mm_mul_pd(a, b)
#define D_DIV(a, b) _mm_div_pd(a, b)
#define D_CMPLT(a, b) _mm_cmplt_pd(a, b)
#define D_CMPGE(a, b) _mm_cmpge_pd(a, b)
#define D_CMPEQ(a, b) _mm_cmpeq_pd(a, b)
#define D_CMPUNORD(a, b) _mm_cmpunord_pd(a, b)
#define DM_AND(a, b) _mm_and_pd(a, b)
#define D_BLEND(m, a, b) _mm_or_pd(_mm_and_pd(m, b), _mm_andnot_pd(m, a))
#define D_NEG(a) _mm_xor_pd(a, _mm_set1_pd(-0.0))
#define D_ABS(a) _mm_andnot_pd(_mm_set1_pd(-0.0), a)
/* 2^k for an integer-valued k in [-1022, 1023] (exact bits) */
#define D_POW2(k) \
    _mm_castsi128_pd(_mm_slli_epi64(_mm_castpd_si128(_mm_add_pd(k, _mm_set1_pd(4503599627371519.0))), 52))
#define DF_LOAD(p) _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define DF_STORE(p, v) _mm_storel_epi64((__m128i *)(void *)(p), _mm_castps_si128(_mm_cvtpd_ps(v)))

/* Two blocks per accumulator, two accumulators: four blocks' left-to-right
 * chains side by side; each lane adds its own block's terms in order. */
static M_TGT void leaves_sse2(double *part, const double *t, size_t nb)
{
    const size_t B = DPO_REDUCE_BLOCK;
    size_t k = 0, j;
    for (; k + 4 <= nb; k += 4) {
        const double *b = t + k * B;
        __m128d a0 = _mm_setzero_pd(), a1 = _mm_setzero_pd(); /* set at j = 0 */
        for (j = 0; j < B; j += 2) {
            __m128d r0 = _mm_loadu_pd(b + j), r1 = _mm_loadu_pd(b + B + j);
            __m128d r2 = _mm_loadu_pd(b + 2 * B + j), r3 = _mm_loadu_pd(b + 3 * B + j);
            __m128d c0 = _mm_unpacklo_pd(r0, r1), c1 = _mm_unpackhi_pd(r0, r1);
            __m128d c2 = _mm_unpacklo_pd(r2, r3), c3 = _mm_unpackhi_pd(r2, r3);
            if (j == 0) {
                a0 = c0;
                a1 = c2;
            } else {
                a0 = _mm_add_pd(a0, c0);
                a1 = _mm_add_pd(a1, c2);
            }
            a0 = _mm_add_pd(a0, c1);
            a1 = _mm_add_pd(a1, c3);
        }
        _mm_storeu_pd(part + k, a0);
        _mm_storeu_pd(part + k + 2, a1);
    }
    leaves_scalar(part + k, t + k * B, nb - k);
}

#include "cpu_simd_model_body.h"
#include "cpu_simd_model_undef.h"

/* ---- AVX2 ---- */
#define M_TGT __attribute__((target("avx2")))
#define M_NAME(x) x##_avx2
#define F __m256
#define FW 8
#define F_SET1(x) _mm256_set1_ps(x)
#define F_LOADU(p) _mm256_loadu_ps(p)
#define F_STOREU(p, v) _mm256_storeu_ps(p, v)
#define F_ADD(a, b) _mm256_add_ps(a, b)
#define F_SUB(a, b) _mm256_sub_ps(a, b)
#define F_MUL(a, b) _mm256_mul_ps(a, b)
#define F_DIV(a, b) _mm256_div_ps(a, b)
#define F_SQRT(a) _mm256_sqrt_ps(a)
#define D __m256d
#define DW 4
#define DM __m256d
#define D_SET1(x) _mm256_set1_pd(x)
#define D_LOADU(p) _mm256_loadu_pd(p)
#define D_STOREU(p, v) _mm256_storeu_pd(p, v)
#define D_ADD(a, b) _mm256_add_pd(a, b)
#define D_SUB(a, b) _mm256_sub_pd(a, b)
#define D_MUL(a, b) _mm256_mul_pd(a, b)
#define D_DIV(a, b) _mm256_div_pd(a, b)
#define D_CMPLT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define D_CMPGE(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define D_CMPEQ(a, b) _mm256_cmp_pd(a, b, _CMP_EQ_OQ)
#define D_CMPUNORD(a, b) _mm256_cmp_pd(a, b, _CMP_UNORD_Q)
#define DM_AND(a, b) _mm256_and_pd(a, b)
#define D_BLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define D_NEG(a) _mm256_xor_pd(a, _mm256_set1_pd(-0.0))
#define D_ABS(a) _mm256_andnot_pd(_mm256_set1_pd(-0.0), a)
#define D_POW2(k)                                                                                  \
    _mm256_castsi256_pd(                                                                           \
        _mm256_slli_epi64(_mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(4503599627371519.0))), 52))
#define DF_LOAD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define DF_STORE(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v))

/* Columns j .. j+3 of four rows (blocks) as four vectors: lane l of c[i]
 * is row l's element j + i. */
static M_TGT void cols4_avx2(__m256d c[4], const double *b, size_t stride)
{
    __m256d r0 = _mm256_loadu_pd(b), r1 = _mm256_loadu_pd(b + stride);
    __m256d r2 = _mm256_loadu_pd(b + 2 * stride), r3 = _mm256_loadu_pd(b + 3 * stride);
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    c[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    c[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    c[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    c[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* Eight blocks at a time in two accumulators of four lanes. */
static M_TGT void leaves_avx2(double *part, const double *t, size_t nb)
{
    const size_t B = DPO_REDUCE_BLOCK;
    size_t k = 0, j;
    int i;
    for (; k + 8 <= nb; k += 8) {
        const double *b = t + k * B;
        __m256d a0, a1, c[4], e[4];
        cols4_avx2(c, b, B);
        cols4_avx2(e, b + 4 * B, B);
        a0 = c[0];
        a1 = e[0];
        for (i = 1; i < 4; i++) {
            a0 = _mm256_add_pd(a0, c[i]);
            a1 = _mm256_add_pd(a1, e[i]);
        }
        for (j = 4; j < B; j += 4) {
            cols4_avx2(c, b + j, B);
            cols4_avx2(e, b + 4 * B + j, B);
            for (i = 0; i < 4; i++) {
                a0 = _mm256_add_pd(a0, c[i]);
                a1 = _mm256_add_pd(a1, e[i]);
            }
        }
        _mm256_storeu_pd(part + k, a0);
        _mm256_storeu_pd(part + k + 4, a1);
    }
    leaves_scalar(part + k, t + k * B, nb - k);
}

#include "cpu_simd_model_body.h"
#include "cpu_simd_model_undef.h"

/* ---- AVX-512F (the leaves use the AVX2 form) ---- */
#define M_TGT __attribute__((target("avx512f")))
#define M_NAME(x) x##_avx512
#define F __m512
#define FW 16
#define F_SET1(x) _mm512_set1_ps(x)
#define F_LOADU(p) _mm512_loadu_ps(p)
#define F_STOREU(p, v) _mm512_storeu_ps(p, v)
#define F_ADD(a, b) _mm512_add_ps(a, b)
#define F_SUB(a, b) _mm512_sub_ps(a, b)
#define F_MUL(a, b) _mm512_mul_ps(a, b)
#define F_DIV(a, b) _mm512_div_ps(a, b)
#define F_SQRT(a) _mm512_sqrt_ps(a)
#define D __m512d
#define DW 8
#define DM __mmask8
#define D_SET1(x) _mm512_set1_pd(x)
#define D_LOADU(p) _mm512_loadu_pd(p)
#define D_STOREU(p, v) _mm512_storeu_pd(p, v)
#define D_ADD(a, b) _mm512_add_pd(a, b)
#define D_SUB(a, b) _mm512_sub_pd(a, b)
#define D_MUL(a, b) _mm512_mul_pd(a, b)
#define D_DIV(a, b) _mm512_div_pd(a, b)
#define D_CMPLT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define D_CMPGE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ)
#define D_CMPEQ(a, b) _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ)
#define D_CMPUNORD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q)
#define DM_AND(a, b) ((__mmask8)((a) & (b)))
#define D_BLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define D_NEG(a) \
    _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a), _mm512_set1_epi64((long long)0x8000000000000000ULL)))
#define D_ABS(a) \
    _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a), _mm512_set1_epi64(0x7fffffffffffffffLL)))
#define D_POW2(k)                                                                                  \
    _mm512_castsi512_pd(                                                                           \
        _mm512_slli_epi64(_mm512_castpd_si512(_mm512_add_pd(k, _mm512_set1_pd(4503599627371519.0))), 52))
#define DF_LOAD(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define DF_STORE(p, v) _mm256_storeu_ps(p, _mm512_cvtpd_ps(v))

#include "cpu_simd_model_body.h"
#include "cpu_simd_model_undef.h"

#endif /* DPO_SIMDM_X86 */

void dpo__simd_adamw_f32(float *p, float *m, float *v, const float *g, size_t n,
                         const dpo_adamw_coef *c, int level)
{
    size_t i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2) {
        adamw_sse2(p, m, v, g, n, c);
        return;
    }
    if (level == DPO_SIMD_AVX2) {
        adamw_avx2(p, m, v, g, n, c);
        return;
    }
    if (level == DPO_SIMD_AVX512) {
        adamw_avx512(p, m, v, g, n, c);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        dpo_adamw_elem(p + i, m + i, v + i, g[i], c);
}

void dpo__simd_silu_f32(float *a, const float *z, size_t n, int level)
{
    size_t i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2) {
        silu_sse2(a, z, n);
        return;
    }
    if (level == DPO_SIMD_AVX2) {
        silu_avx2(a, z, n);
        return;
    }
    if (level == DPO_SIMD_AVX512) {
        silu_avx512(a, z, n);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        a[i] = dpo_silu_f32(z[i]);
}

void dpo__simd_silu_vjp_f32(float *g, const float *z, size_t n, int level)
{
    size_t i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2) {
        silu_vjp_sse2(g, z, n);
        return;
    }
    if (level == DPO_SIMD_AVX2) {
        silu_vjp_avx2(g, z, n);
        return;
    }
    if (level == DPO_SIMD_AVX512) {
        silu_vjp_avx512(g, z, n);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        g[i] = dpo_silu_vjp_f32(g[i], z[i]);
}

void dpo__simd_sigmoid_f64(double *out, const double *x, size_t n, int level)
{
    size_t i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2) {
        sigmoid_f64_sse2(out, x, n);
        return;
    }
    if (level == DPO_SIMD_AVX2) {
        sigmoid_f64_avx2(out, x, n);
        return;
    }
    if (level == DPO_SIMD_AVX512) {
        sigmoid_f64_avx512(out, x, n);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        out[i] = dpo_sigmoid(x[i]);
}

void dpo__simd_leaves_f64(double *part, const double *t, size_t n, int level)
{
    const size_t B = DPO_REDUCE_BLOCK;
    size_t nb = n / B, i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2)
        leaves_sse2(part, t, nb);
    else if (level >= DPO_SIMD_AVX2)
        leaves_avx2(part, t, nb);
    else
        leaves_scalar(part, t, nb);
#else
    (void)level;
    leaves_scalar(part, t, nb);
#endif
    if (n % B) {
        const double *b = t + nb * B;
        double s = b[0];
        for (i = 1; i < n % B; i++)
            s = s + b[i];
        part[nb] = s;
    }
}

#define LR_CHUNK (16 * DPO_REDUCE_BLOCK) /* terms per pass; a whole number of blocks */

/* The canonical sum of one of the three-tensor terms (kind as in terms3 of
 * src/cpu_simd_model_body.h): chunks of whole blocks, terms and leaves in
 * vector form, partials pushed in order. */
static double term_sum(const void *a, const void *b, const void *c, size_t n, int f32, int kind, int level)
{
    double t[LR_CHUNK], part[LR_CHUNK / DPO_REDUCE_BLOCK];
    size_t at, k;
    dpo_tree tree;
    dpo_tree_init(&tree);
    for (at = 0; at < n; at += LR_CHUNK) {
        size_t len = n - at < LR_CHUNK ? n - at : LR_CHUNK;
        size_t sz = f32 ? sizeof(float) : sizeof(double);
        const char *pa = (const char *)a + at * sz, *pb = (const char *)b + at * sz;
        const char *pc = (const char *)c + at * sz;
#if DPO_SIMDM_X86
        if (level == DPO_SIMD_SSE2)
            terms3_sse2(t, pa, pb, pc, len, f32, kind);
        else if (level == DPO_SIMD_AVX2)
            terms3_avx2(t, pa, pb, pc, len, f32, kind);
        else if (level == DPO_SIMD_AVX512)
            terms3_avx512(t, pa, pb, pc, len, f32, kind);
        else
#endif
            for (k = 0; k < len; k++)
                t[k] = term3(dpo_ld(pa, f32, k), dpo_ld(pb, f32, k), dpo_ld(pc, f32, k), kind);
        dpo__simd_leaves_f64(part, t, len, level);
        for (k = 0; k < (len + DPO_REDUCE_BLOCK - 1) / DPO_REDUCE_BLOCK; k++)
            dpo_tree_push(&tree, part[k]);
    }
    return dpo_tree_result(&tree);
}

double dpo__simd_lr_sum(const void *x, const void *mu, const void *mr, size_t n, int f32, int level)
{
    return term_sum(x, mu, mr, n, f32, 0, level);
}

double dpo__simd_err_sum(const void *eps, const void *eth, const void *eref, size_t n, int f32, int level)
{
    return term_sum(eps, eth, eref, n, f32, 1, level);
}

void dpo__simd_grad_diff(void *g, const void *a, const void *b, size_t n, double coef, int f32, int level)
{
    size_t i;
#if DPO_SIMDM_X86
    if (level == DPO_SIMD_SSE2) {
        grad_diff_sse2(g, a, b, n, coef, f32);
        return;
    }
    if (level == DPO_SIMD_AVX2) {
        grad_diff_avx2(g, a, b, n, coef, f32);
        return;
    }
    if (level == DPO_SIMD_AVX512) {
        grad_diff_avx512(g, a, b, n, coef, f32);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        dpo_st(g, f32, i, dpo_grad_diff(coef, dpo_ld(a, f32, i), dpo_ld(b, f32, i)));
}

double dpo__simd_lp_sum(const void *x_prev, const void *mu, size_t n, int f32, int level)
{
    return term_sum(x_prev, mu, mu, n, f32, 2, level);
}
