/* CPU vector forms and their run-time dispatch (library-internal).
 *
 * Levels: 0 scalar (the portable definition, every target), 1 SSE2,
 * 2 AVX2, 3 AVX-512F (x86-64 only).  Every level gives the same bits as
 * the scalar element math in src/core (tests/test_simd.c).  The level used
 * is the best the CPU supports, or the one the environment variable
 * DPO_SIMD names (scalar, sse2, avx2, avx512, auto), lowered to the best
 * supported one when the CPU lacks it.  Unset (or auto, or any other
 * value) means the best supported level up to AVX2; AVX-512 only when
 * named.  docs/reproducibility.md. */
#ifndef DPO_CPU_SIMD_H
#define DPO_CPU_SIMD_H

#include <stddef.h>
#include <stdint.h>

#define DPO_SIMD_SCALAR 0
#define DPO_SIMD_SSE2 1
#define DPO_SIMD_AVX2 2
#define DPO_SIMD_AVX512 3
#define DPO_SIMD_NLEVELS 4

/* 1 if this CPU (and build) can run the level. */
int dpo_simd_supported(int level);
/* The level in use now (DPO_SIMD or the best supported). */
int dpo_simd_level(void);
/* "scalar", "sse2", "avx2", "avx512"; NULL for a level out of range. */
const char *dpo_simd_level_name(int level);

/* Normals of whole Philox blocks block0 .. block0 + nblocks - 1 of (ctr,
 * key) (ctr[0] ignored) at the given level: writes 4 values per block done
 * and returns the number of blocks done, a multiple of the level's batch
 * (0 at level 0); the caller does the rest with dpo_normal4. */
size_t dpo__simd_normal_f32(float *out, const uint32_t ctr[4], const uint32_t key[2],
                            uint32_t block0, size_t nblocks, int level);
size_t dpo__simd_normal_f64(double *out, const uint32_t ctr[4], const uint32_t key[2],
                            uint32_t block0, size_t nblocks, int level);
/* Box-Muller of given words (4 per block, block order), same contract. */
size_t dpo__simd_words_f64(double *out, const uint32_t *w, size_t nblocks, int level);

/* The float32 step element over n elements at the given level: x_prev,
 * mu, x0 (when x0 is not NULL) and the log-probability term
 * ((double)x_prev - (double)mu)^2 of each (dpo_step_elem_f32, dpo_lp_term);
 * z NULL means zero noise.  Every level writes the same bits. */
struct dpo_step_coef_f32;
void dpo__simd_step_f32(float *xp, float *x0, float *mu, double *term, const float *x, const float *o,
                        const float *z, size_t n, const struct dpo_step_coef_f32 *c, int level);

/* 1 if every one of n floats is finite (dpo_pm_isfinitef), else 0. */
int dpo__simd_allfinite_f32(const float *p, size_t n, int level);

#endif
