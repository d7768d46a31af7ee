/* Run-time dispatch of the CPU vector forms (src/cpu_simd.h) and, on
 * x86-64, the SSE2, AVX2 and AVX-512F instantiations of src/cpu_simd_body.h.
 * Each ISA is enabled per function (target attribute), so the rest of the
 * library keeps the baseline flags, and the CPU is asked at run time.
 * Other targets build the scalar level only. */
#include <stdlib.h>
#include <string.h>
#include "cpu_simd.h"
#include "core/dpo_philox.h"
#include "core/dpo_ddim.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DPO_SIMD_X86 1
#include <immintrin.h>
#else
#define DPO_SIMD_X86 0
#endif

#if DPO_SIMD_X86

/* ---- SSE2 ---- */
#define V_TGT __attribute__((target("sse2")))
#define V_NAME(x) x##_sse2
#define V_W 2
#define VD __m128d
#define VI __m128i
#define VM __m128d
#define VD_SET1(x) _mm_set1_pd(x)
#define VD_ADD(a, b) _mm_add_pd(a, b)
#define VD_SUB(a, b) _mm_sub_pd(a, b)
#define VD_MUL(a, b) _mm_mul_pd(a, b)
#define VD_DIV(a, b) _mm_div_pd(a, b)
#define VD_SQRT(a) _mm_sqrt_pd(a)
#define VD_CMPLT(a, b) _mm_cmplt_pd(a, b)
#define VD_CMPGT(a, b) _mm_cmpgt_pd(a, b)
#define VD_CMPEQ(a, b) _mm_cmpeq_pd(a, b)
#define VD_BLEND(m, a, b) _mm_or_pd(_mm_and_pd(m, b), _mm_andnot_pd(m, a))
#define VM_AND(a, b) _mm_and_pd(a, b)
#define VD_LOADU(p) _mm_loadu_pd(p)
#define VD_AS_VI(x) _mm_castpd_si128(x)
#define VI_AS_VD(x) _mm_castsi128_pd(x)
#define VI64_SET1(u) _mm_set1_epi64x((long long)(u))
#define VI32_SET1(u) _mm_set1_epi32((int)(u))
#define VI32_IOTA _mm_setr_epi32(0, 1, 2, 3)
#define VI32_ADD(a, b) _mm_add_epi32(a, b)
#define VI64_SRLI(a, n) _mm_srli_epi64(a, n)
#define VI64_SLLI(a, n) _mm_slli_epi64(a, n)
#define VI_AND(a, b) _mm_and_si128(a, b)
#define VI_ANDNOT(a, b) _mm_andnot_si128(a, b)
#define VI_OR(a, b) _mm_or_si128(a, b)
#define VI_XOR(a, b) _mm_xor_si128(a, b)
#define VI_MUL_EPU32(a, b) _mm_mul_epu32(a, b)
#define VI32_TO_VD(w, high) to_vd_sse2(w, high)
#define VD_STORE4_F64(p, z) store4_f64_sse2(p, z)
#define VD_STORE4_F32(p, z) store4_f32_sse2(p, z)

/* Exact double of the unsigned words in lanes 0-1 (or 2-3). */
static V_TGT __m128d to_vd_sse2(__m128i w, int high)
{
    __m128i x = _mm_xor_si128(w, _mm_set1_epi32((int)0x80000000u));
    if (high)
        x = _mm_srli_si128(x, 8);
    return _mm_add_pd(_mm_cvtepi32_pd(x), _mm_set1_pd(2147483648.0));
}

static V_TGT void store4_f64_sse2(double *p, const __m128d z[4])
{
    _mm_storeu_pd(p, _mm_unpacklo_pd(z[0], z[1]));
    _mm_storeu_pd(p + 2, _mm_unpacklo_pd(z[2], z[3]));
    _mm_storeu_pd(p + 4, _mm_unpackhi_pd(z[0], z[1]));
    _mm_storeu_pd(p + 6, _mm_unpackhi_pd(z[2], z[3]));
}

static V_TGT void store4_f32_sse2(float *p, const __m128d z[4])
{
    __m128 a = _mm_cvtpd_ps(_mm_unpacklo_pd(z[0], z[1]));
    __m128 b = _mm_cvtpd_ps(_mm_unpacklo_pd(z[2], z[3]));
    __m128 c = _mm_cvtpd_ps(_mm_unpackhi_pd(z[0], z[1]));
    __m128 d = _mm_cvtpd_ps(_mm_unpackhi_pd(z[2], z[3]));
    _mm_storeu_ps(p, _mm_movelh_ps(a, b));
    _mm_storeu_ps(p + 4, _mm_movelh_ps(c, d));
}

#include "cpu_simd_body.h"

#define S_TGT V_TGT
#define S_NAME(x) x##_sse2
#define S_W 4
#define FV __m128
#define FV_SET1(x) _mm_set1_ps(x)
#define FV_LOADU(p) _mm_loadu_ps(p)
#define FV_STOREU(p, v) _mm_storeu_ps(p, v)
#define FV_ADD(a, b) _mm_add_ps(a, b)
#define FV_SUB(a, b) _mm_sub_ps(a, b)
#define FV_MUL(a, b) _mm_mul_ps(a, b)
#define FV_DIV(a, b) _mm_div_ps(a, b)
#define S_TERMS(t, p, m) terms_sse2(t, p, m)
static V_TGT void terms_sse2(double *t, __m128 p, __m128 m)
{
    __m128d d0 = _mm_sub_pd(_mm_cvtps_pd(p), _mm_cvtps_pd(m));
    __m128d d1 = _mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(p, p)), _mm_cvtps_pd(_mm_movehl_ps(m, m)));
    _mm_storeu_pd(t, _mm_mul_pd(d0, d0));
    _mm_storeu_pd(t + 2, _mm_mul_pd(d1, d1));
}
#include "cpu_simd_step.h"
#include "cpu_simd_undef.h"

/* ---- AVX2 ---- */
#define V_TGT __attribute__((target("avx2")))
#define V_NAME(x) x##_avx2
#define V_W 4
#define VD __m256d
#define VI __m256i
#define VM __m256d
#define VD_SET1(x) _mm256_set1_pd(x)
#define VD_ADD(a, b) _mm256_add_pd(a, b)
#define VD_SUB(a, b) _mm256_sub_pd(a, b)
#define VD_MUL(a, b) _mm256_mul_pd(a, b)
#define VD_DIV(a, b) _mm256_div_pd(a, b)
#define VD_SQRT(a) _mm256_sqrt_pd(a)
#define VD_CMPLT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define VD_CMPGT(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define VD_CMPEQ(a, b) _mm256_cmp_pd(a, b, _CMP_EQ_OQ)
#define VD_BLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define VM_AND(a, b) _mm256_and_pd(a, b)
#define VD_LOADU(p) _mm256_loadu_pd(p)
#define VD_AS_VI(x) _mm256_castpd_si256(x)
#define VI_AS_VD(x) _mm256_castsi256_pd(x)
#define VI64_SET1(u) _mm256_set1_epi64x((long long)(u))
#define VI32_SET1(u) _mm256_set1_epi32((int)(u))
#define VI32_IOTA _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define VI32_ADD(a, b) _mm256_add_epi32(a, b)
#define VI64_SRLI(a, n) _mm256_srli_epi64(a, n)
#define VI64_SLLI(a, n) _mm256_slli_epi64(a, n)
#define VI_AND(a, b) _mm256_and_si256(a, b)
#define VI_ANDNOT(a, b) _mm256_andnot_si256(a, b)
#define VI_OR(a, b) _mm256_or_si256(a, b)
#define VI_XOR(a, b) _mm256_xor_si256(a, b)
#define VI_MUL_EPU32(a, b) _mm256_mul_epu32(a, b)
#define VI32_TO_VD(w, high) to_vd_avx2(w, high)
#define VD_STORE4_F64(p, z) store4_f64_avx2(p, z)
#define VD_STORE4_F32(p, z) store4_f32_avx2(p, z)

static V_TGT __m256d to_vd_avx2(__m256i w, int high)
{
    __m256i x = _mm256_xor_si256(w, _mm256_set1_epi32((int)0x80000000u));
    __m128i h = high ? _mm256_extracti128_si256(x, 1) : _mm256_castsi256_si128(x);
    return _mm256_add_pd(_mm256_cvtepi32_pd(h), _mm256_set1_pd(2147483648.0));
}

/* rows[i] = elements 4i .. 4i+3 = (z0[i], z1[i], z2[i], z3[i]) */
static V_TGT void rows_avx2(__m256d r[4], const __m256d z[4])
{
    __m256d lo01 = _mm256_unpacklo_pd(z[0], z[1]), hi01 = _mm256_unpackhi_pd(z[0], z[1]);
    __m256d lo23 = _mm256_unpacklo_pd(z[2], z[3]), hi23 = _mm256_unpackhi_pd(z[2], z[3]);
    r[0] = _mm256_permute2f128_pd(lo01, lo23, 0x20);
    r[1] = _mm256_permute2f128_pd(hi01, hi23, 0x20);
    r[2] = _mm256_permute2f128_pd(lo01, lo23, 0x31);
    r[3] = _mm256_permute2f128_pd(hi01, hi23, 0x31);
}

static V_TGT void store4_f64_avx2(double *p, const __m256d z[4])
{
    __m256d r[4];
    int i;
    rows_avx2(r, z);
    for (i = 0; i < 4; i++)
        _mm256_storeu_pd(p + 4 * i, r[i]);
}

static V_TGT void store4_f32_avx2(float *p, const __m256d z[4])
{
    __m256d r[4];
    int i;
    rows_avx2(r, z);
    for (i = 0; i < 4; i++)
        _mm_storeu_ps(p + 4 * i, _mm256_cvtpd_ps(r[i]));
}

#include "cpu_simd_body.h"

#define S_TGT V_TGT
#define S_NAME(x) x##_avx2
#define S_W 8
#define FV __m256
#define FV_SET1(x) _mm256_set1_ps(x)
#define FV_LOADU(p) _mm256_loadu_ps(p)
#define FV_STOREU(p, v) _mm256_storeu_ps(p, v)
#define FV_ADD(a, b) _mm256_add_ps(a, b)
#define FV_SUB(a, b) _mm256_sub_ps(a, b)
#define FV_MUL(a, b) _mm256_mul_ps(a, b)
#define FV_DIV(a, b) _mm256_div_ps(a, b)
#define S_TERMS(t, p, m) terms_avx2(t, p, m)
static V_TGT void terms_avx2(double *t, __m256 p, __m256 m)
{
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(p)),
                               _mm256_cvtps_pd(_mm256_castps256_ps128(m)));
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(m, 1)));
    _mm256_storeu_pd(t, _mm256_mul_pd(d0, d0));
    _mm256_storeu_pd(t + 4, _mm256_mul_pd(d1, d1));
}
#include "cpu_simd_step.h"
#include "cpu_simd_undef.h"

/* ---- AVX-512F ---- */
#define V_TGT __attribute__((target("avx512f")))
#define V_NAME(x) x##_avx512
#define V_W 8
#define VD __m512d
#define VI __m512i
#define VM __mmask8
#define VD_SET1(x) _mm512_set1_pd(x)
#define VD_ADD(a, b) _mm512_add_pd(a, b)
#define VD_SUB(a, b) _mm512_sub_pd(a, b)
#define VD_MUL(a, b) _mm512_mul_pd(a, b)
#define VD_DIV(a, b) _mm512_div_pd(a, b)
#define VD_SQRT(a) _mm512_sqrt_pd(a)
#define VD_CMPLT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define VD_CMPGT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define VD_CMPEQ(a, b) _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ)
#define VD_BLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define VM_AND(a, b) ((__mmask8)((a) & (b)))
#define VD_LOADU(p) _mm512_loadu_pd(p)
#define VD_AS_VI(x) _mm512_castpd_si512(x)
#define VI_AS_VD(x) _mm512_castsi512_pd(x)
#define VI64_SET1(u) _mm512_set1_epi64((long long)(u))
#define VI32_SET1(u) _mm512_set1_epi32((int)(u))
#define VI32_IOTA _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define VI32_ADD(a, b) _mm512_add_epi32(a, b)
#define VI64_SRLI(a, n) _mm512_srli_epi64(a, n)
#define VI64_SLLI(a, n) _mm512_slli_epi64(a, n)
#define VI_AND(a, b) _mm512_and_si512(a, b)
#define VI_ANDNOT(a, b) _mm512_andnot_si512(a, b)
#define VI_OR(a, b) _mm512_or_si512(a, b)
#define VI_XOR(a, b) _mm512_xor_si512(a, b)
#define VI_MUL_EPU32(a, b) _mm512_mul_epu32(a, b)
#define VI32_TO_VD(w, high) to_vd_avx512(w, high)
#define VD_STORE4_F64(p, z) store4_f64_avx512(p, z)
#define VD_STORE4_F32(p, z) store4_f32_avx512(p, z)

static V_TGT __m512d to_vd_avx512(__m512i w, int high)
{
    __m256i h = high ? _mm512_extracti64x4_epi64(w, 1) : _mm512_castsi512_si256(w);
    return _mm512_cvtepu32_pd(h);
}

/* rows[i] = elements 8i .. 8i+7 = blocks 2i and 2i+1 */
static V_TGT void rows_avx512(__m512d r[4], const __m512d z[4])
{
    const __m512i ilo = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i ihi = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512d lo01 = _mm512_unpacklo_pd(z[0], z[1]), hi01 = _mm512_unpackhi_pd(z[0], z[1]);
    __m512d lo23 = _mm512_unpacklo_pd(z[2], z[3]), hi23 = _mm512_unpackhi_pd(z[2], z[3]);
    /* blocks 0,2 | 4,6 and 1,3 | 5,7 as (z0 z1 z2 z3) quadruples */
    __m512d e02 = _mm512_permutex2var_pd(lo01, ilo, lo23);
    __m512d e46 = _mm512_permutex2var_pd(lo01, ihi, lo23);
    __m512d o13 = _mm512_permutex2var_pd(hi01, ilo, hi23);
    __m512d o57 = _mm512_permutex2var_pd(hi01, ihi, hi23);
    r[0] = _mm512_shuffle_f64x2(e02, o13, 0x44);
    r[1] = _mm512_shuffle_f64x2(e02, o13, 0xEE);
    r[2] = _mm512_shuffle_f64x2(e46, o57, 0x44);
    r[3] = _mm512_shuffle_f64x2(e46, o57, 0xEE);
}

static V_TGT void store4_f64_avx512(double *p, const __m512d z[4])
{
    __m512d r[4];
    int i;
    rows_avx512(r, z);
    for (i = 0; i < 4; i++)
        _mm512_storeu_pd(p + 8 * i, r[i]);
}

static V_TGT void store4_f32_avx512(float *p, const __m512d z[4])
{
    __m512d r[4];
    int i;
    rows_avx512(r, z);
    for (i = 0; i < 4; i++)
        _mm256_storeu_ps(p + 8 * i, _mm512_cvtpd_ps(r[i]));
}

#include "cpu_simd_body.h"
#include "cpu_simd_undef.h"

#endif /* DPO_SIMD_X86 */

int dpo_simd_supported(int level)
{
    if (level == DPO_SIMD_SCALAR)
        return 1;
#if DPO_SIMD_X86
    __builtin_cpu_init();
    if (level == DPO_SIMD_SSE2)
        return 1; /* x86-64 baseline */
    if (level == DPO_SIMD_AVX2)
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    if (level == DPO_SIMD_AVX512)
        return __builtin_cpu_supports("avx512f") ? 1 : 0;
#endif
    return 0;
}

const char *dpo_simd_level_name(int level)
{
    static const char *const names[DPO_SIMD_NLEVELS] = {"scalar", "sse2", "avx2", "avx512"};
    if (level < 0 || level >= DPO_SIMD_NLEVELS)
        return NULL;
    return names[level];
}

/* Without DPO_SIMD the level is the best supported up to AVX2: the AVX-512
 * forms pass tests/test_simd.c only where the suite has run on such a CPU,
 * so they are used when asked for by name (docs/reproducibility.md). */
int dpo_simd_level(void)
{
    const char *env = getenv("DPO_SIMD");
    int want = DPO_SIMD_AVX2, l;
    if (env && *env) {
        for (l = 0; l < DPO_SIMD_NLEVELS; l++)
            if (strcmp(env, dpo_simd_level_name(l)) == 0)
                want = l;
    }
    for (l = want; l > 0; l--)
        if (dpo_simd_supported(l))
            return l;
    return DPO_SIMD_SCALAR;
}

/* Blocks per batch of a level (0: no vector form). */
static size_t batch_blocks(int level)
{
#if DPO_SIMD_X86
    if (level == DPO_SIMD_SSE2)
        return 4;
    if (level == DPO_SIMD_AVX2)
        return 8;
    if (level == DPO_SIMD_AVX512)
        return 16;
#else
    (void)level;
#endif
    return 0;
}

size_t dpo__simd_normal_f32(float *out, const uint32_t ctr[4], const uint32_t key[2],
                            uint32_t block0, size_t nblocks, int level)
{
    size_t nb = batch_blocks(level), done;
    if (!nb)
        return 0;
    done = nblocks / nb * nb;
#if DPO_SIMD_X86
    if (level == DPO_SIMD_SSE2)
        normal_f32_sse2(out, ctr, key, block0, done);
    else if (level == DPO_SIMD_AVX2)
        normal_f32_avx2(out, ctr, key, block0, done);
    else
        normal_f32_avx512(out, ctr, key, block0, done);
#else
    (void)out, (void)ctr, (void)key, (void)block0;
#endif
    return done;
}

size_t dpo__simd_normal_f64(double *out, const uint32_t ctr[4], const uint32_t key[2],
                            uint32_t block0, size_t nblocks, int level)
{
    size_t nb = batch_blocks(level), done;
    if (!nb)
        return 0;
    done = nblocks / nb * nb;
#if DPO_SIMD_X86
    if (level == DPO_SIMD_SSE2)
        normal_f64_sse2(out, ctr, key, block0, done);
    else if (level == DPO_SIMD_AVX2)
        normal_f64_avx2(out, ctr, key, block0, done);
    else
        normal_f64_avx512(out, ctr, key, block0, done);
#else
    (void)out, (void)ctr, (void)key, (void)block0;
#endif
    return done;
}

size_t dpo__simd_words_f64(double *out, const uint32_t *w, size_t nblocks, int level)
{
    size_t nb = batch_blocks(level) / 2, done;
    if (!nb)
        return 0;
    done = nblocks / nb * nb;
#if DPO_SIMD_X86
    if (level == DPO_SIMD_SSE2)
        words_f64_sse2(out, w, done);
    else if (level == DPO_SIMD_AVX2)
        words_f64_avx2(out, w, done);
    else
        words_f64_avx512(out, w, done);
#else
    (void)out, (void)w;
#endif
    return done;
}

void dpo__simd_step_f32(float *xp, float *x0, float *mu, double *term, const float *x, const float *o,
                        const float *z, size_t n, const dpo_step_coef_f32 *c, int level)
{
    size_t i;
#if DPO_SIMD_X86
    if (level == DPO_SIMD_SSE2) {
        step_f32_sse2(xp, x0, mu, term, x, o, z, n, c);
        return;
    }
    if (level >= DPO_SIMD_AVX2) { /* the AVX-512 level uses the AVX2 form here */
        step_f32_avx2(xp, x0, mu, term, x, o, z, n, c);
        return;
    }
#else
    (void)level;
#endif
    for (i = 0; i < n; i++) {
        float a, m, p;
        p = dpo_step_elem_f32(&a, &m, x[i], o[i], z ? z[i] : 0.0f, c);
        xp[i] = p;
        mu[i] = m;
        if (x0)
            x0[i] = a;
        term[i] = dpo_lp_term((double)p, (double)m);
    }
}

#if DPO_SIMD_X86
/* x - x is 0 exactly for finite x and NaN for infinities and NaNs. */
__attribute__((target("avx2"))) static int allfinite_f32_avx2(const float *p, size_t n)
{
    size_t i = 0;
    __m256 bad = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(p + i);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_NEQ_UQ));
    }
    if (_mm256_movemask_ps(bad))
        return 0;
    for (; i < n; i++)
        if (!dpo_pm_isfinitef(p[i]))
            return 0;
    return 1;
}

__attribute__((target("sse2"))) static int allfinite_f32_sse2(const float *p, size_t n)
{
    size_t i = 0;
    __m128 bad = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps(p + i);
        bad = _mm_or_ps(bad, _mm_cmpneq_ps(_mm_sub_ps(v, v), _mm_setzero_ps()));
    }
    if (_mm_movemask_ps(bad))
        return 0;
    for (; i < n; i++)
        if (!dpo_pm_isfinitef(p[i]))
            return 0;
    return 1;
}
#endif

int dpo__simd_allfinite_f32(const float *p, size_t n, int level)
{
    size_t i;
#if DPO_SIMD_X86
    if (level >= DPO_SIMD_AVX2)
        return allfinite_f32_avx2(p, n);
    if (level == DPO_SIMD_SSE2)
        return allfinite_f32_sse2(p, n);
#else
    (void)level;
#endif
    for (i = 0; i < n; i++)
        if (!dpo_pm_isfinitef(p[i]))
            return 0;
    return 1;
}
