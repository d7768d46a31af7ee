/* diffpo: bit-reproducible DDIM rollouts and DPO-style preference updates.
 *
 * C99 public API.  Conventions (see docs/api.md):
 *   - every fallible function returns dpo_status (0 = OK, negative = error);
 *   - outputs first, then const inputs; pointer + count;
 *   - inputs are validated before anything is written: on error the outputs
 *     are left untouched;
 *   - the library never allocates in the step, log-prob, noise and rollout
 *     paths: callers pass buffers and ask *_workspace_size() for scratch;
 *   - a scratch area is always the last two parameters (void *work, size_t
 *     work_size), at least *_workspace_size() bytes, its address a multiple
 *     of DPO_WORK_ALIGN (what malloc returns), else DPO_ERR_WORKSPACE;
 *   - the library never prints and never exits. */
#ifndef DIFFPO_H
#define DIFFPO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPO_VERSION_MAJOR 0
#define DPO_VERSION_MINOR 1
#define DPO_VERSION_PATCH 0

/* Alignment, in bytes, of every caller-provided work area (CPU functions):
 * the address must be a multiple of it.  16 = alignof(max_align_t) on the
 * supported platforms, so any malloc / calloc buffer qualifies; the regions
 * inside a work area are placed by the library. */
#define DPO_WORK_ALIGN 16

/* ------------------------------------------------------------------ status */
typedef enum dpo_status {
    DPO_OK = 0,
    DPO_ERR_NULL = -1,          /* a required pointer is NULL */
    DPO_ERR_SIZE = -2,          /* a size or shape is zero, too large or inconsistent */
    DPO_ERR_RANGE = -3,         /* a parameter is out of its documented range */
    DPO_ERR_NONFINITE = -4,     /* an input holds NaN or infinity */
    DPO_ERR_SIGMA_ZERO = -5,    /* a log-density was asked where sigma_t = 0 */
    DPO_ERR_WORKSPACE = -6,     /* the workspace is missing or too small */
    DPO_ERR_ALIAS = -7,         /* buffers overlap where they may not */
    DPO_ERR_FORMAT = -8,        /* malformed serialized input (.npy, vectors) */
    DPO_ERR_UNSUPPORTED = -9,   /* valid request this build or model cannot serve */
    DPO_ERR_MODEL = -10,        /* a user callback reported failure */
    DPO_ERR_CUDA = -11,         /* a CUDA runtime or library call failed */
    DPO_ERR_IO = -12            /* reading or writing a file failed (tools only) */
} dpo_status;

const char *dpo_status_str(dpo_status s);
const char *dpo_version(void);

/* ------------------------------------------------------------------ Philox */
/* out = Philox4x32-10(ctr, key).  Pure function, never fails. */
void dpo_philox4x32_10_block(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

/* Random-number streams (the high half of counter word 3). */
#define DPO_STREAM_INIT 0u
#define DPO_STREAM_STEP 1u
#define DPO_STREAM_RESAMPLE 2u
#define DPO_STREAM_TIMESTEP 3u
#define DPO_STREAM_TRAIN 4u
#define DPO_STREAM_DATA 5u
#define DPO_STREAM_USER 256u

/* Coordinates of a noise tensor: element e of it is a pure function of
 * (seed, stream, sample, step, candidate, e).  docs/reproducibility.md. */
typedef struct dpo_noise_coord {
    uint64_t seed;
    uint32_t stream;    /* < 65536 */
    uint32_t sample;    /* global sample index (independent of batch split) */
    uint32_t step;
    uint32_t candidate; /* < 65536 */
} dpo_noise_coord;

/* Standard normals for elements [e0, e0 + n) of one (seed, stream, sample,
 * step, candidate) tensor.  Generating in pieces gives the same values as in
 * one call.  1 <= n, e0 + n <= 2^34: n = 0 is DPO_ERR_SIZE, as for every
 * computation of the library (docs/errors.md). */
dpo_status dpo_normal_f32(float *out, dpo_noise_coord c, uint64_t e0, size_t n);
dpo_status dpo_normal_f64(double *out, dpo_noise_coord c, uint64_t e0, size_t n);

/* ---------------------------------------------------------------- schedule */
#define DPO_MAX_TRAIN_STEPS 4096

typedef enum dpo_beta_schedule {
    DPO_BETA_LINEAR = 0,
    DPO_BETA_SCALED_LINEAR = 1,
    DPO_BETA_SQUAREDCOS_CAP_V2 = 2,
    DPO_BETA_TABLE = 3 /* caller-given alphas_cumprod */
} dpo_beta_schedule;

typedef enum dpo_spacing {
    DPO_SPACING_LEADING = 0,
    DPO_SPACING_TRAILING = 1,
    DPO_SPACING_LINSPACE = 2
} dpo_spacing;

/* How the previous timestep's alpha is found.
 *  DIFFUSERS: prev = t - N // S; prev < 0 uses final_alpha_cumprod
 *             (1 if set_alpha_to_one, else alphas_cumprod[0]).
 *  CLAMPED:   DDPO / D3PO / SPO: prev = clamp(t - N // S, 0, N - 1). */
typedef enum dpo_prev_rule {
    DPO_PREV_DIFFUSERS = 0,
    DPO_PREV_CLAMPED = 1
} dpo_prev_rule;

/* A noise schedule: alphas_cumprod in float32 (bit-exact with diffusers for
 * linear and scaled_linear under PyTorch 2.x on the CPU) and float64.
 * sizeof(dpo_schedule) is about 48 KiB: keep it static or on the heap on
 * small stacks. */
typedef struct dpo_schedule {
    int num_train_steps;
    int set_alpha_to_one;
    dpo_beta_schedule kind;
    float ac32[DPO_MAX_TRAIN_STEPS];
    double ac64[DPO_MAX_TRAIN_STEPS];
    float final_ac32;  /* final_alpha_cumprod */
    double final_ac64;
} dpo_schedule;

/* Builds the schedule.  beta_start/beta_end are used by LINEAR and
 * SCALED_LINEAR; 0 < beta_start <= beta_end < 1; 2 <= n <= DPO_MAX_TRAIN_STEPS. */
dpo_status dpo_schedule_init(dpo_schedule *s, dpo_beta_schedule kind, double beta_start, double beta_end,
                             int n, int set_alpha_to_one);
/* Caller-given alphas_cumprod: each in (0, 1], finite, and a table64 value's
 * float32 rounding > 0 (else DPO_ERR_RANGE); the last entry may be exactly 0
 * (a zero-terminal-SNR table, e.g. diffusers' own rescaled one).  The float32 table is
 * table64 rounded to float32 (or table32 when given: either may be NULL but
 * not both). */
dpo_status dpo_schedule_from_table(dpo_schedule *s, const float *table32, const double *table64, int n,
                                   int set_alpha_to_one);

/* diffusers' rescale_betas_zero_snr (Lin et al., "Common diffusion noise
 * schedules and sample steps are flawed", Algorithm 1), applied to a built
 * schedule in place, float32 table in diffusers' float32 order:
 *   r_i = sqrt(ac_i); r_i = (r_i - r_last) * (r_0 / (r_0 - r_last));
 *   a_i = r_i^2;  alpha_0 = a_0, alpha_i = a_i / a_(i-1);  beta = 1 - alpha;
 *   then the scheduler's own alphas = 1 - beta and ac = cumprod(alphas)
 *   (running product in double, each output rounded to float32);
 * the float64 table the same in double.  The last entry becomes 0 (zero
 * terminal SNR) and final_alpha_cumprod follows the new ac[0] (unless
 * set_alpha_to_one).  A step at a timestep with ac = 0 is only defined for
 * v and sample prediction (epsilon: DPO_ERR_RANGE).  DPO_ERR_RANGE if the
 * table's first and last entries are equal. */
dpo_status dpo_schedule_rescale_zero_snr(dpo_schedule *s);

/* Inference timesteps: out[0..S) in the order the sampler visits them
 * (descending).  1 <= S <= N; steps_offset >= 0; every timestep must lie in
 * [0, N). */
dpo_status dpo_timesteps(int32_t *out, int num_inference_steps, int num_train_steps, dpo_spacing spacing,
                         int steps_offset);

/* ------------------------------------------------------------------- steps */
typedef enum dpo_pred_type {
    DPO_PRED_EPSILON = 0,
    DPO_PRED_V = 1,
    DPO_PRED_SAMPLE = 2
} dpo_pred_type;

typedef enum dpo_step_kind {
    DPO_STEP_DDIM = 0,
    DPO_STEP_DDPM = 1
} dpo_step_kind;

typedef enum dpo_logprob_mode {
    DPO_LOGPROB_SUM = 0, /* sum over elements (the density of the whole tensor) */
    DPO_LOGPROB_MEAN = 1 /* mean over elements (DDPO / D3PO / SPO public code) */
} dpo_logprob_mode;

/* Options of one step. */
typedef struct dpo_step_opts {
    dpo_step_kind kind;
    dpo_pred_type pred;
    double eta;             /* DDIM only; >= 0 */
    int clip;               /* clip x0 to [-clip_range, clip_range] */
    double clip_range;
    int use_clipped_output; /* re-derive eps from the clipped x0 */
    dpo_prev_rule prev_rule;
} dpo_step_opts;

/* The default: DDIM, epsilon, eta 1, no clipping, diffusers' prev rule. */
dpo_step_opts dpo_step_opts_default(void);

/* Per-step scalars, computed once per (timestep, step count). */
typedef struct dpo_step_coef_f32 {
    int kind, pred, clip, use_clipped_output;
    int t, prev_t;
    float alpha_t, alpha_prev, beta_t, beta_prev;
    float sqrt_alpha_t, sqrt_beta_t, sqrt_alpha_prev;
    float sigma, dir_coef; /* DDIM: sqrt(1 - alpha_prev - sigma^2) */
    float mean_x0, mean_xt; /* DDPM mean coefficients */
    float clip_range;
} dpo_step_coef_f32;

typedef struct dpo_step_coef_f64 {
    int kind, pred, clip, use_clipped_output;
    int t, prev_t;
    double alpha_t, alpha_prev, beta_t, beta_prev;
    double sqrt_alpha_t, sqrt_beta_t, sqrt_alpha_prev;
    double sigma, dir_coef;
    double mean_x0, mean_xt;
    double clip_range;
} dpo_step_coef_f64;

/* Coefficients of the step from timestep t with S inference steps
 * (prev = t - N // S under opts.prev_rule). */
dpo_status dpo_step_coef_f32_init(dpo_step_coef_f32 *c, const dpo_schedule *s, int t, int num_inference_steps,
                                  const dpo_step_opts *opts);
dpo_status dpo_step_coef_f64_init(dpo_step_coef_f64 *c, const dpo_schedule *s, int t, int num_inference_steps,
                                  const dpo_step_opts *opts);
/* DDIM coefficients from alpha_t, alpha_prev and sigma given directly (no
 * schedule; t = prev_t = 0, no clipping), formed exactly as the _init
 * functions form them: 0 < alpha_t < 1, 0 < alpha_prev <= 1, sigma finite
 * and >= 0 with sigma^2 <= 1 - alpha_prev, else DPO_ERR_RANGE. */
dpo_status dpo_step_coef_f32_ddim(dpo_step_coef_f32 *c, float alpha_t, float alpha_prev, float sigma,
                                  dpo_pred_type pred);
dpo_status dpo_step_coef_f64_ddim(dpo_step_coef_f64 *c, double alpha_t, double alpha_prev, double sigma,
                                  dpo_pred_type pred);

/* One step on n elements (n >= 1): x_prev = mu + sigma z.  Any output may
 * be NULL (not computed).  Each of x_prev, x0, mu is either exactly one of
 * the inputs (the same pointer: in place, element by element, the same bits
 * as out of place) or overlaps none of them, and the outputs do not overlap
 * each other; DPO_ERR_ALIAS otherwise.  noise may be NULL only when
 * sigma = 0 (then x_prev = mu).  A coefficient struct not made by
 * dpo_step_coef_*_init (unknown kind or prediction, a NaN, infinite or
 * negative sigma) is DPO_ERR_RANGE. */
dpo_status dpo_step_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                        const float *noise, size_t n, const dpo_step_coef_f32 *c);
dpo_status dpo_step_f64(double *x_prev, double *x0, double *mu, const double *x, const double *model_out,
                        const double *noise, size_t n, const dpo_step_coef_f64 *c);

/* The step with diffusers' dynamic thresholding of x0 (`thresholding`,
 * `dynamic_thresholding_ratio` = ratio in [0, 1], `sample_max_value` =
 * max_value > 0), float32, batch samples of d elements each: per sample,
 * s = torch.quantile(|x0|, ratio) (linear interpolation as PyTorch 2.x
 * computes it on an AVX2 CPU: exact rank, float32 weight, fused lerp;
 * d <= 2^24, torch's limit),
 * s = clamp(s, 1, max_value), x0 = clamp(x0, -s, s) / s; it replaces
 * c's clip; with c->use_clipped_output eps is re-derived from the
 * thresholded x0; then mu and x_prev as dpo_step_f32.  work: at least
 * dpo_step_threshold_workspace_size(d) bytes, DPO_WORK_ALIGN-aligned.  Outputs may
 * be NULL and must not overlap the inputs, the work area or each other. */
size_t dpo_step_threshold_workspace_size(size_t d);
dpo_status dpo_step_threshold_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                                  const float *noise, size_t batch, size_t d, const dpo_step_coef_f32 *c,
                                  double ratio, double max_value, void *work, size_t work_size);

/* The same step with the noise drawn inside the call: z is the standard
 * normals of Philox tensor nc, elements [0, n) (dpo_normal_f32 / _f64), so
 * no caller fills noise.  Bit for bit dpo_normal_* into a buffer followed by
 * dpo_step_*; the same checks, plus nc's (stream, candidate < 65536).
 * n <= 2^34.  docs/reproducibility.md maps the coordinates. */
dpo_status dpo_step_philox_f32(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                               dpo_noise_coord nc, size_t n, const dpo_step_coef_f32 *c);
dpo_status dpo_step_philox_f64(double *x_prev, double *x0, double *mu, const double *x, const double *model_out,
                               dpo_noise_coord nc, size_t n, const dpo_step_coef_f64 *c);

/* Gaussian log-density log N(x_prev; mu, sigma^2 I) of a given x_prev,
 * for `batch` rows of `dim` elements: out[b].  Squared deviations are
 * summed in double in the canonical tree.  Only c->sigma is read:
 * sigma = 0 -> DPO_ERR_SIGMA_ZERO, NaN, infinite or negative ->
 * DPO_ERR_RANGE; out overlapping x_prev or mu -> DPO_ERR_ALIAS. */
dpo_status dpo_step_logprob_f32(double *out, const float *x_prev, const float *mu, size_t batch, size_t dim,
                                const dpo_step_coef_f32 *c, dpo_logprob_mode mode);
dpo_status dpo_step_logprob_f64(double *out, const double *x_prev, const double *mu, size_t batch, size_t dim,
                                const dpo_step_coef_f64 *c, dpo_logprob_mode mode);

/* The step and its log-probability in one pass over batch rows of dim
 * elements: the same bits as dpo_step_f32(x_prev, NULL, mu, x, model_out, z,
 * batch*dim, c) followed by dpo_step_logprob_f32(logprob, x_prev, mu, batch,
 * dim, c, mode).  z is `noise` when given, or generated from `nc` (row b
 * from coordinates *nc with sample nc->sample + b, elements 0 .. dim-1, as
 * dpo_normal_f32); give one of them, or neither when sigma = 0.  mu and
 * logprob may be NULL (not computed).  If an x_prev or mu overflows,
 * logprob is all NaN and the result DPO_ERR_NONFINITE. */
dpo_status dpo_step_fused_f32(float *x_prev, float *mu, double *logprob, const float *x,
                              const float *model_out, const float *noise,
                              const dpo_noise_coord *nc, size_t batch, size_t dim,
                              const dpo_step_coef_f32 *c, dpo_logprob_mode mode);
/* The same one pass that also writes x0 (the predicted original sample),
 * when x0 is not NULL: the same bits as dpo_step_f32(x_prev, x0, mu, x,
 * model_out, z, batch*dim, c) followed by dpo_step_logprob_f32, at every
 * SIMD level; x0 obeys the alias rule of x_prev and mu (dpo_step_f32) and
 * must not overlap logprob.  dpo_step_fused_f32 is this call with x0 NULL. */
dpo_status dpo_step_fused_x0_f32(float *x_prev, float *x0, float *mu, double *logprob, const float *x,
                                 const float *model_out, const float *noise,
                                 const dpo_noise_coord *nc, size_t batch, size_t dim,
                                 const dpo_step_coef_f32 *c, dpo_logprob_mode mode);

/* The canonical sum (docs/reproducibility.md) of n doubles. */
double dpo_sum_canonical(const double *x, size_t n);

/* ------------------------------------------------ splittable sum over samples
 * The sum of n per-sample vectors (dim doubles each) as a fixed binary tree
 * over GLOBAL sample indices (docs/reproducibility.md): node (lo, level),
 * lo a multiple of 2^level, covers samples [lo, hi), hi = min(lo + 2^level, n);
 * a leaf is one sample's vector; an inner node is left + right in double,
 * element by element, or its left child unchanged when the right child starts
 * at or beyond n.  The sum is the root.  A process holding samples [a, b)
 * reduces them to the maximal tree nodes inside [a, b)
 * (dpo_split_reduce_range_*); dpo_split_combine of every process's nodes,
 * concatenated in ascending index order, gives the same bits as one process
 * reducing [0, n) (one node, the root) for every split.  n <= 2^62. */
typedef struct dpo_split_node {
    uint64_t lo, hi;
    int level;
} dpo_split_node;

/* The maximal tree nodes inside [a, b), ascending: at most 2 ceil(log2 n).
 * Two calls (kissfft idiom): nodes = NULL sets *count; otherwise *count is
 * nodes' capacity on entry (DPO_ERR_SIZE when short) and the count on return.
 * 0 <= a < b <= n, else DPO_ERR_RANGE. */
dpo_status dpo_split_nodes(dpo_split_node *nodes, size_t *count, uint64_t n, uint64_t a, uint64_t b);

/* Workspace bytes for the calls below: (ceil(log2 n) + 2) * dim doubles,
 * aligned for double; 0 for n = 0 or dim = 0. */
size_t dpo_split_workspace_size(uint64_t n, size_t dim);

/* The node vectors of samples [a, b): out[k*dim + e] for the k-th node of
 * dpo_split_nodes(n, a, b); x holds (b - a) rows of dim, row i = sample a + i.
 * The _f32 form widens each element to double exactly. Non-finite input ->
 * DPO_ERR_NONFINITE; out must not overlap x or ws. */
dpo_status dpo_split_reduce_range_f64(double *out, void *ws, size_t ws_size, const double *x, size_t dim,
                                      uint64_t n, uint64_t a, uint64_t b);
dpo_status dpo_split_reduce_range_f32(double *out, void *ws, size_t ws_size, const float *x, size_t dim,
                                      uint64_t n, uint64_t a, uint64_t b);

/* The sum out[dim] from count tree nodes (values: count rows of dim) that
 * partition [0, n) in ascending order (any tree nodes, not only maximal
 * ones; each hi as defined above), else DPO_ERR_RANGE. */
dpo_status dpo_split_combine(double *out, void *ws, size_t ws_size, const double *values,
                             const dpo_split_node *nodes, size_t count, size_t dim, uint64_t n);

/* ---------------------------------------------------------------- threads
 * Multi-threaded forms (src/threads.c, docs/api.md "Threads"): the same
 * arguments as the single-threaded call, plus `threads`, the most POSIX
 * threads the call runs on.  0 or 1: exactly the single-threaded call (no
 * thread is created).  2 .. DPO_MAX_THREADS: the work is cut into at most
 * `threads` pieces, threads - 1 of them run on threads created for this
 * call and joined before it returns, one on the calling thread; a thread
 * that cannot be created leaves its piece to the calling thread.  Every
 * output bit equals the single-threaded call's, for every thread count and
 * dispatch level.  All checks are made, in the single-threaded call's order
 * and with its status, before any thread starts: on error the outputs are
 * untouched.  threads < 0 or > DPO_MAX_THREADS is DPO_ERR_RANGE, checked
 * first.  No global state: calls may run concurrently on disjoint outputs.
 * Creating a thread costs tens of microseconds: use threads > 1 for tensors
 * of about 10^4 elements or more (docs/performance.md). */
#define DPO_MAX_THREADS 256

/* dpo_normal_f32 / _f64, the range cut at multiples of the Philox block
 * (4 elements). */
dpo_status dpo_normal_f32_mt(float *out, dpo_noise_coord c, uint64_t e0, size_t n, int threads);
dpo_status dpo_normal_f64_mt(double *out, dpo_noise_coord c, uint64_t e0, size_t n, int threads);
/* dpo_step_philox_f32 / _f64, the n elements cut at multiples of the Philox
 * block. */
dpo_status dpo_step_philox_f32_mt(float *x_prev, float *x0, float *mu, const float *x, const float *model_out,
                                  dpo_noise_coord nc, size_t n, const dpo_step_coef_f32 *c, int threads);
dpo_status dpo_step_philox_f64_mt(double *x_prev, double *x0, double *mu, const double *x,
                                  const double *model_out, dpo_noise_coord nc, size_t n,
                                  const dpo_step_coef_f64 *c, int threads);
/* dpo_step_fused_f32, the batch cut into ranges of whole rows (a row's
 * log-probability is one canonical tree on one thread): at most `batch`
 * threads are used.  An overflow in any row makes every logprob NaN and the
 * result DPO_ERR_NONFINITE, as in the single-threaded call. */
dpo_status dpo_step_fused_f32_mt(float *x_prev, float *mu, double *logprob, const float *x,
                                 const float *model_out, const float *noise, const dpo_noise_coord *nc,
                                 size_t batch, size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode,
                                 int threads);
/* dpo_step_fused_x0_f32 (the same pass, also writing x0 when not NULL),
 * cut as dpo_step_fused_f32_mt; dpo_step_fused_f32_mt is this call with x0
 * NULL. */
dpo_status dpo_step_fused_x0_f32_mt(float *x_prev, float *x0, float *mu, double *logprob, const float *x,
                                    const float *model_out, const float *noise, const dpo_noise_coord *nc,
                                    size_t batch, size_t dim, const dpo_step_coef_f32 *c, dpo_logprob_mode mode,
                                    int threads);

/* ---------------------------------------------------------------- ε-model */
/* A noise-prediction model.  forward() must compute each sample's output
 * from that sample's input alone (no batch statistics) and deterministically:
 * the reproducibility contract across batch splits rests on it.
 * cond may be NULL (unconditional); otherwise cond[i] is sample i's class.
 * Returns DPO_OK or an error, which the caller passes on as DPO_ERR_MODEL. */
typedef struct dpo_eps_model {
    void *user;
    size_t dim;
    int (*forward)(void *user, float *out, const float *x, size_t n, int timestep, const int32_t *cond);
} dpo_eps_model;

/* The built-in model: the exact epsilon-predictor of a Gaussian mixture
 * p0 = sum_k w_k N(m_k, s_k^2 I) under the schedule's forward process
 * x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps:
 *   p_t = sum_k w_k N(sqrt(a_t) m_k, v_k I),  v_k = a_t s_k^2 + 1 - a_t,
 *   eps*(x, t) = -sqrt(1 - a_t) grad log p_t(x)
 *              = sqrt(1 - a_t) sum_k r_k(x) (x - sqrt(a_t) m_k) / v_k,
 * r_k the posterior responsibilities.  Computed in double (float64
 * alphas_cumprod), squared distances in the canonical tree. */
#define DPO_GMM_MAX_K 8

typedef struct dpo_gmm {
    int k;
    size_t dim;
    double weight[DPO_GMM_MAX_K];
    double log_weight[DPO_GMM_MAX_K];
    double sd[DPO_GMM_MAX_K];
    const double *mean;          /* k x dim, caller's storage */
    const dpo_schedule *sched;
} dpo_gmm;

/* Deterministic default mixture: k = 4 components with weights
 * (0.1, 0.2, 0.3, 0.4), standard deviations (0.15, 0.2, 0.25, 0.3) and
 * means m_k = 2 u_k / ||u_k|| (so |m_k| = 2) with u_k standard normal
 * from Philox (seed model_seed, stream DATA, sample k).  mean_storage holds
 * 4 * dim doubles and must outlive g. */
dpo_status dpo_gmm_init_default(dpo_gmm *g, double *mean_storage, size_t dim, uint64_t model_seed,
                                const dpo_schedule *sched);
/* General mixture: k components, weights > 0 (normalised here), sd > 0. */
dpo_status dpo_gmm_init(dpo_gmm *g, int k, const double *weight, const double *sd, const double *mean, size_t dim,
                        const dpo_schedule *sched);
/* Exact eps*(x, t) for n samples of dim elements. */
dpo_status dpo_gmm_eps(const dpo_gmm *g, float *out, const float *x, size_t n, int timestep);
dpo_status dpo_gmm_eps_f64(const dpo_gmm *g, double *out, const double *x, size_t n, int timestep);
/* The mixture's mean (dim) and covariance (dim x dim, may be NULL). */
dpo_status dpo_gmm_moments(const dpo_gmm *g, double *mean, double *cov);
/* Wraps the mixture as a dpo_eps_model (user = g). */
dpo_eps_model dpo_gmm_model(dpo_gmm *g);

/* ---------------------------------------------------------------- rollout */
typedef struct dpo_rollout_cfg {
    uint64_t seed;
    size_t batch;            /* total samples in the run */
    size_t dim;
    int num_steps;           /* S inference steps */
    const int32_t *timesteps;/* S timesteps, descending (dpo_timesteps) */
    const dpo_schedule *sched;
    dpo_step_opts opts;
    dpo_logprob_mode lp_mode;
    const int32_t *cond;     /* batch conditions or NULL */
} dpo_rollout_cfg;

/* Scratch for a rollout over a range of n samples (bytes). */
size_t dpo_rollout_workspace_size(size_t n, size_t dim);

/* Runs samples [s0, s1) of the rollout.
 *   traj: (S+1) x batch x dim floats, row k holds x after k steps (row 0 is
 *         x_T); only this range's samples are written.
 *   logp: S x batch doubles, logp[k*batch + i] = log pi(x_{k+1} | x_k) of
 *         sample i (may be NULL).
 * Any split of [0, batch) into ranges, run in any order or in parallel,
 * writes the same bits as one call over [0, batch). */
dpo_status dpo_rollout_f32(float *traj, double *logp, const dpo_rollout_cfg *cfg, const dpo_eps_model *model,
                           size_t s0, size_t s1, void *work, size_t work_size);

/* Chained XXH3 fingerprint of a finished rollout.
 *   h_0 = XXH3_64(row 0 bytes, seed 0)
 *   h_k = XXH3_64(logp row k-1 bytes, seed XXH3_64(traj row k bytes, seed h_{k-1}))
 * (rows of float32 / float64 little-endian).  step_hash (S+1, may be NULL)
 * receives h_0..h_S; returns h_S.  logp may be NULL (then only rows). */
uint64_t dpo_rollout_fingerprint(uint64_t *step_hash, const float *traj, const double *logp, int num_steps,
                                 size_t batch, size_t dim);

/* XXH3-64 of raw bytes, for users' own fingerprints. */
uint64_t dpo_hash64(const void *data, size_t len, uint64_t seed);
/* Checks the linked xxHash against XXH3-64's published sanity vectors
 * (docs/errors.md): DPO_OK, or DPO_ERR_UNSUPPORTED when it differs (every
 * fingerprint would differ with it). */
dpo_status dpo_hash64_selftest(void);

#ifdef __cplusplus
}
#endif

/* The rest of the verified core: preference losses and gradients.  The
 * built-in model and trainers are the next layer up, in their own headers
 * (diffpo_align.h, diffpo_train.h), which include this one (docs/api.md). */
#include "diffpo_loss.h"

#endif
