/* diffpo preference losses and their gradients (the verified core, with
 * diffpo.h; each includes the other).
 *
 * docs/losses.md is the reference: for every function the paper and
 * equation it implements, which log-probability reduction it uses, its
 * float32 error bound and why.  docs/derivations.md derives the gradients.
 *
 * Conventions (besides those of diffpo.h):
 *   - _f64 functions take double tensors, _f32 functions float tensors;
 *     both widen every element to double, sum in the canonical tree
 *     (dpo_sum_canonical) and return scalar results in double; the _f32
 *     gradients are the double gradients rounded once to float;
 *   - gradient outputs may be NULL (not computed); when given they must not
 *     overlap any input (DPO_ERR_ALIAS);
 *   - "log-ratio" lr = log pi_theta(x) - log pi_ref(x) of one Gaussian step
 *     N(mu, sigma^2 I), computed as the direct difference
 *     sum_i (mu_i - mu_ref_i)((x_i - mu_i) + (x_i - mu_ref_i)) / (2 sigma^2)
 *     (divided by d in DPO_LOGPROB_MEAN mode), never as the difference of
 *     two log-densities;
 *   - every sigmoid loss -log sigma(z) is evaluated as softplus(-z). */
#ifndef DIFFPO_LOSS_H
#define DIFFPO_LOSS_H

#include "diffpo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- common results */

/* Result of a pairwise (winner w, loser l) sigmoid loss L = -log sigma(z).
 *   loss      L
 *   z         the sigmoid's argument (h of TailorPO eq. 8; delta - lambda Psi
 *             of RDPO eq. 9; beta sum_k h_k log r_k of the d3po code;
 *             u of Diffusion-DPO / DSPO)
 *   sig_neg   sigma(-z) = 1 - sigma(z)  (the paper's f_t = beta sig_neg)
 *   lr_w/lr_l the two log-ratios (or, for the epsilon forms, the error
 *             differences N(||e_th-eps||^2) - N(||e_ref-eps||^2), N = sum or
 *             mean over elements)
 *   dl_dlr_w/_l  dL/d lr_w and dL/d lr_l: the gradient wrt any model
 *             output is this times d lr/d output. */
typedef struct dpo_pair_result {
    double loss;
    double z;
    double sig_neg;
    double lr_w, lr_l;
    double dl_dlr_w, dl_dlr_l;
} dpo_pair_result;

/* Parameters of the Gaussian-step DPO losses. */
typedef struct dpo_pair_params {
    double beta;           /* > 0, finite */
    double sigma;          /* the step's standard deviation sigma_t > 0 */
    dpo_logprob_mode mode; /* DPO_LOGPROB_SUM (papers) or _MEAN (public code) */
} dpo_pair_params;

/* ----------------------------------------------------------- log-ratio */

/* lr = log N(x; mu, s^2 I) - log N(x; mu_ref, s^2 I) of n elements (sum or
 * mean reduction), as the direct difference above. */
dpo_status dpo_logratio_f32(double *lr, const float *x, const float *mu, const float *mu_ref, size_t n,
                            double sigma, dpo_logprob_mode mode);
dpo_status dpo_logratio_f64(double *lr, const double *x, const double *mu, const double *mu_ref, size_t n,
                            double sigma, dpo_logprob_mode mode);

/* -------------------------------------- Step DPO / D3PO (TailorPO eq. 5, 8, 19)
 * Winner and loser have different parents x_t^w, x_t^l (so different means):
 *   h = beta (lr_w - lr_l),  L = -log sigma(h),  f = beta (1 - sigma(h)),
 *   dL/dmu_w = -(f/sigma^2)(x_w - mu_w),  dL/dmu_l = +(f/sigma^2)(x_l - mu_l)
 * (divided by n in mean mode).  g_mu_w, g_mu_l: n each, may be NULL. */
dpo_status dpo_stepdpo_f32(dpo_pair_result *res, float *g_mu_w, float *g_mu_l, const float *x_w, const float *mu_w,
                           const float *mu_ref_w, const float *x_l, const float *mu_l, const float *mu_ref_l,
                           size_t n, dpo_pair_params p);
dpo_status dpo_stepdpo_f64(dpo_pair_result *res, double *g_mu_w, double *g_mu_l, const double *x_w,
                           const double *mu_w, const double *mu_ref_w, const double *x_l, const double *mu_l,
                           const double *mu_ref_l, size_t n, dpo_pair_params p);

/* ------------------------------------------ DDPO (Black et al.; ddpo-pytorch)
 * Policy gradient with importance sampling and PPO's clipped ratio, on one
 * sample's DDIM step x ~ N(mu_old, sigma^2 I) drawn by the sampling policy:
 *   lr = log pi_theta(x) - log pi_old(x)  (the direct difference, as above;
 *        DPO_LOGPROB_MEAN: divided by n, the public code's mean log-prob),
 *   rho = exp(lr),  A = clamp(adv, -adv_clip, adv_clip)  (adv_clip 0: none),
 *   L = max(-A rho, -A clamp(rho, 1 - clip_eps, 1 + clip_eps)),
 *   dL/dlr = -A rho where the unclipped term is the larger or rho lies in
 *   the closed interval (bounds keep the gradient), else 0;
 *   dL/dmu = dL/dlr (x - mu) / sigma^2  (/ n in mean mode).
 * The public code's loss is the mean of L over the batch and the steps: a
 * caller averaging B samples scales each g_mu by 1/B.  Public-code defaults:
 * clip_eps 1e-4, adv_clip 5, DPO_LOGPROB_MEAN.  docs/losses.md §DDPO. */
typedef struct dpo_ddpo_params {
    double clip_eps;       /* in (0, 1) */
    double adv_clip;       /* >= 0, finite; 0 = no clamp of the advantage */
    double sigma;          /* the step's sigma_t > 0 */
    dpo_logprob_mode mode; /* DPO_LOGPROB_MEAN (public code) or _SUM */
} dpo_ddpo_params;

typedef struct dpo_ddpo_result {
    double loss;   /* L */
    double lr;     /* log pi_theta(x) - log pi_old(x) */
    double ratio;  /* rho = exp(lr) */
    double adv;    /* the advantage after the clamp */
    double dl_dlr; /* dL/dlr */
    int clipped;   /* 1 when rho lies outside [1 - clip_eps, 1 + clip_eps] */
} dpo_ddpo_result;

/* From a log-ratio the caller computed (e.g. its own log_prob - old_log_prob);
 * p.sigma and p.mode are not used.  DPO_ERR_NONFINITE for a non-finite lr or
 * adv, DPO_ERR_RANGE for bad clip_eps / adv_clip. */
dpo_status dpo_ddpo_from_logratio(dpo_ddpo_result *res, double lr, double adv, dpo_ddpo_params p);

/* From the tensors: x the sampled x_{t-1}, mu = mu_theta(x_t), mu_old the
 * sampling policy's mean (n each); g_mu (n, may be NULL) = dL/dmu. */
dpo_status dpo_ddpo_f32(dpo_ddpo_result *res, float *g_mu, const float *x, const float *mu, const float *mu_old,
                        size_t n, double adv, dpo_ddpo_params p);
dpo_status dpo_ddpo_f64(dpo_ddpo_result *res, double *g_mu, const double *x, const double *mu,
                        const double *mu_old, size_t n, double adv, dpo_ddpo_params p);

/* Per-prompt advantages (ddpo-pytorch's per-prompt stat tracker, one batch,
 * no history): for sample i of prompt group[i], with the m samples of that
 * prompt, adv[i] = (reward[i] - mean) / (std + std_eps) over those m samples
 * when m >= min_count, else over all n rewards; std is the population
 * standard deviation (numpy's default).  min_count 0 or 1: always per prompt
 * (min_count > n: the whole batch, the public code's global normalisation
 * with its std_eps).  Sums in index order in double; O(n^2) time, no
 * workspace.  Public code: std_eps 1e-6.  adv may not overlap reward or
 * group.  DPO_ERR_RANGE when a standard deviation plus std_eps is 0 (equal
 * rewards with std_eps 0); adv is left untouched on every error. */
dpo_status dpo_ddpo_advantages(double *adv, const double *reward, const uint32_t *group, size_t n, size_t min_count,
                               double std_eps);

/* ------------------------------------ D3PO public code ("d3po-code" variant)
 * Two samples k = 0, 1 (different parents), mean log-probability by default:
 *   r_k = clamp(exp(lr_k), 1 - eps, 1 + eps),  z = beta sum_k h_k log r_k,
 *   L = -log sigma(z),  h = (+1, -1) if label > 0, (-1, +1) if label < 0,
 *   (0, 0) for a tie (label 0: L = log 2, zero gradient).
 * d log r_k / d lr_k = 1 inside the closed interval [1-eps, 1+eps] (the
 * bounds themselves keep the gradient), 0 outside.  Defaults of the public
 * code: beta 0.1, eps 0.1, DPO_LOGPROB_MEAN.  In the result, "w" is sample 0
 * and "l" sample 1 whatever the label. */
typedef struct dpo_clip_params {
    double beta;           /* > 0 */
    double clip_eps;       /* in (0, 1) */
    double sigma;          /* > 0 */
    dpo_logprob_mode mode;
} dpo_clip_params;

/* The label of two rewards: +1 if r0 > r1, -1 if r0 < r1, 0 if equal.
 * DPO_ERR_NONFINITE for NaN or infinite rewards. */
dpo_status dpo_d3po_label(int *label, double r0, double r1);

dpo_status dpo_d3po_code_f32(dpo_pair_result *res, float *g_mu_0, float *g_mu_1, const float *x_0,
                             const float *mu_0, const float *mu_ref_0, const float *x_1, const float *mu_1,
                             const float *mu_ref_1, size_t n, int label, dpo_clip_params p);
dpo_status dpo_d3po_code_f64(dpo_pair_result *res, double *g_mu_0, double *g_mu_1, const double *x_0,
                             const double *mu_0, const double *mu_ref_0, const double *x_1, const double *mu_1,
                             const double *mu_ref_1, size_t n, int label, dpo_clip_params p);

/* ----------------------------------------- TailorPO (eq. 10, 11, 12, 21)
 * Winner and loser share the parent x_t, hence mu and mu_ref:
 *   h = beta (lr_w - lr_l) = beta sum_i (mu_i - mu_ref_i)(x_w,i - x_l,i) / sigma^2
 *   (/ n in mean mode, computed in this shared form), L = -log sigma(h),
 *   dL/dmu = -(f/sigma^2)(x_w - x_l).   g_mu: n, may be NULL. */
dpo_status dpo_tailorpo_f32(dpo_pair_result *res, float *g_mu, const float *x_w, const float *x_l, const float *mu,
                            const float *mu_ref, size_t n, dpo_pair_params p);
dpo_status dpo_tailorpo_f64(dpo_pair_result *res, double *g_mu, const double *x_w, const double *x_l,
                            const double *mu, const double *mu_ref, size_t n, dpo_pair_params p);

/* Ranking of k >= 2 candidates by reward (TailorPO eq. 12: r_t = r(x0_hat)):
 * order[0..k) = candidate indices by descending reward; equal rewards keep
 * ascending index order (the lower index ranks first).  Winner order[0],
 * loser order[k-1].  Rewards must be finite.  k <= 65536. */
dpo_status dpo_rank_desc(int *order, const double *reward, size_t k);

/* ------------------------------------------------ TailorPO-G (eq. 13, 14)
 * x+ = x - sign eta_t grad_x (r_high - r_t(x))^2 with r_high = r_t(x) + delta
 * held constant (as Guo et al.'s r_high is a target, not a function of x):
 *   grad_x (r_high - r_t(x))^2 = -2 delta grad_x r_t(x),
 *   grad_x r_t(x) = (d x0_hat/d x)^T g = (g - sqrt(1-a) J_eps^T g) / sqrt(a),
 *   x0_hat(x) = (x - sqrt(1-a) eps(x)) / sqrt(a),  g = grad r at x0_hat(x).
 * sign = +1 raises the reward (x+), -1 lowers it (x-).  a = alphas_cumprod
 * of the timestep whose eps the caller used. */
typedef enum dpo_guide_jac {
    DPO_GUIDE_VJP = 0,    /* uses the model's vector-Jacobian product J_eps^T g */
    DPO_GUIDE_NO_EPS = 1  /* the d eps/d x = 0 approximation (vjp ignored) */
} dpo_guide_jac;

typedef struct dpo_guide_params {
    double eta;        /* eta_t > 0 */
    double delta;      /* r_high - r_t(x), paper 0.5 */
    double alpha;      /* alphas_cumprod in (0, 1] */
    int sign;          /* +1 or -1 */
    dpo_guide_jac jac;
} dpo_guide_params;

/* Element-level update from a given reward gradient g (= grad_x0 r) and,
 * for DPO_GUIDE_VJP, vjp = J_eps^T g (may be NULL for DPO_GUIDE_NO_EPS).
 * x_plus may equal x (in place); otherwise no overlap. */
dpo_status dpo_tailorpo_g_update_f32(float *x_plus, const float *x, const float *g, const float *vjp, size_t n,
                                     dpo_guide_params p);
dpo_status dpo_tailorpo_g_update_f64(double *x_plus, const double *x, const double *g, const double *vjp,
                                     size_t n, dpo_guide_params p);

/* The reward interface: value and gradient with respect to the image x0.
 * grad may be NULL when only values are available (guidance then fails
 * with DPO_ERR_UNSUPPORTED).  Callbacks return 0 on success. */
typedef struct dpo_reward_model {
    void *user;
    size_t dim;
    int (*value)(void *user, double *r, const float *x0, size_t n, const int32_t *cond);
    int (*grad)(void *user, double *r, float *g, const float *x0, size_t n, const int32_t *cond);
} dpo_reward_model;

/* The epsilon-model's vector-Jacobian product with respect to its input:
 * out = (d eps(x, t)/d x)^T v for n samples. */
typedef struct dpo_eps_vjp {
    void *user;
    int (*vjp_x)(void *user, float *out, const float *x, const float *v, size_t n, int timestep,
                 const int32_t *cond);
} dpo_eps_vjp;

/* Scratch bytes of dpo_tailorpo_g_guide_f32 for n samples of dim. */
size_t dpo_tailorpo_g_workspace_size(size_t n, size_t dim);

/* Full guidance of n samples: x0_hat from eps_hat (the model's output at x,
 * timestep), reward gradient through `reward`, vjp through `vjp` when
 * p.jac == DPO_GUIDE_VJP (vjp must be non-NULL then).  r_before (n, may be
 * NULL) receives r_t(x).  x_plus must not overlap x.  work: at least
 * dpo_tailorpo_g_workspace_size(n, dim) bytes, DPO_WORK_ALIGN aligned. */
dpo_status dpo_tailorpo_g_guide_f32(float *x_plus, double *r_before, const float *x, const float *eps_hat,
                                    size_t n, size_t dim, int timestep, const int32_t *cond,
                                    const dpo_reward_model *reward, const dpo_eps_vjp *vjp, dpo_guide_params p,
                                    void *work, size_t work_size);

/* eta_t cosine schedule over [eta_min, eta_max], larger for smaller t:
 *   eta(i) = eta_min + (eta_max - eta_min) (1 + cos(pi i / T)) / 2,
 * i in [0, T] the timestep (or step index) and T its maximum: eta(0) =
 * eta_max, eta(T) = eta_min.  Paper: [0.1, 0.2]. */
dpo_status dpo_tailorpo_g_eta(double *eta, double i, double T, double eta_min, double eta_max);

/* --------------------------------------------------- RDPO (eq. 6, 9, 10)
 * Shared parent as TailorPO.  delta = beta (lr_w - lr_l) (eq. 10),
 * Psi = min(0, log pi_ref(x_l)/pi_theta(x_l)) = min(0, -lr_l),
 *   DPO_RDPO_PRINTED:  z = delta - lambda Psi   (eq. 9 as printed)
 *   DPO_RDPO_INTENDED: z = delta + lambda Psi   (the penalty the text
 *                      describes: lowers z when the loser's ratio exceeds 1)
 * L = -log sigma(z).  At lr_l = 0 the penalty branch is inactive (Psi = 0,
 * zero derivative).  lambda >= 0. */
typedef enum dpo_rdpo_variant {
    DPO_RDPO_PRINTED = 0,
    DPO_RDPO_INTENDED = 1
} dpo_rdpo_variant;

typedef struct dpo_rdpo_params {
    double beta, lambda, sigma;
    dpo_logprob_mode mode;
    dpo_rdpo_variant variant;
} dpo_rdpo_params;

dpo_status dpo_rdpo_f32(dpo_pair_result *res, float *g_mu, const float *x_w, const float *x_l, const float *mu,
                        const float *mu_ref, size_t n, dpo_rdpo_params p);
dpo_status dpo_rdpo_f64(dpo_pair_result *res, double *g_mu, const double *x_w, const double *x_l,
                        const double *mu, const double *mu_ref, size_t n, dpo_rdpo_params p);

/* Step reward Delta Q of k candidates sharing x_t (eq. 6):
 *   DPO_DQ_PRINTED: dq_i = r_before - r_after_i  (eq. 6 as printed)
 *   DPO_DQ_GAIN:    dq_i = r_after_i - r_before  (the "change before and
 *                   after the step" the text describes)
 * r_before = r(x0_hat(x_t)), r_after_i = r(x0_hat(x_{t-1}^i)). */
typedef enum dpo_dq_variant {
    DPO_DQ_PRINTED = 0,
    DPO_DQ_GAIN = 1
} dpo_dq_variant;

dpo_status dpo_rdpo_delta_q(double *dq, const double *r_after, double r_before, size_t k, dpo_dq_variant v);

/* ------------------------------------------------------ SPO (eq. 3, 4, 5)
 * Best and worst of k >= 2 candidates by preference score (best: the lowest
 * index among the maxima, worst: the lowest index among the minima).  The
 * pair is valid when t <= kappa (larger timesteps are ties: no loss) and
 * softmax(s_best, s_worst) differs by more than thr:
 *   sigma(s_best - s_worst) - sigma(s_worst - s_best) > thr.
 * Public code: thr 0.3, kappa 750 (of 1000). */
typedef struct dpo_spo_params {
    double thr;   /* in [0, 1) */
    int kappa;
} dpo_spo_params;

dpo_status dpo_spo_select(int *best, int *worst, int *valid, const double *score, size_t k, int t,
                          dpo_spo_params p);

/* The resampling index (which candidate continues the rollout): a pure
 * function of (seed, sample, step): word 0 of Philox4x32-10 with key seed,
 * counter (0, sample, step, DPO_STREAM_RESAMPLE << 16), mapped to [0, k)
 * by floor(w k / 2^32).  1 <= k <= 65536. */
dpo_status dpo_spo_resample_index(uint32_t *idx, uint64_t seed, uint32_t sample, uint32_t step, uint32_t k);

/* --------------------------- Diffusion-DPO (DSPO eq. 7; Wallace et al.)
 * epsilon-error form.  For winner and loser (noise eps_w, eps_l; the public
 * code passes the same noise for both):
 *   D_w = N(||e_th,w - eps_w||^2 - ||e_ref,w - eps_w||^2)   (direct form)
 *   D_l likewise,  u = -(beta/2)(D_w - D_l),  L = -log sigma(u),
 * N = mean over elements (public code) or sum.  Gradients:
 *   dL/de_th,w = +beta sigma(-u) (e_th,w - eps_w) [/ n],
 *   dL/de_th,l = -beta sigma(-u) (e_th,l - eps_l) [/ n].
 * Public code (SD-1.5): beta 5000, mean.  res->lr_w/lr_l hold D_w, D_l. */
typedef struct dpo_eps_params {
    double beta;           /* > 0 */
    dpo_logprob_mode mode; /* reduction N */
} dpo_eps_params;

dpo_status dpo_diffdpo_f32(dpo_pair_result *res, float *g_w, float *g_l, const float *eps_w, const float *eps_l,
                           const float *eth_w, const float *eref_w, const float *eth_l, const float *eref_l,
                           size_t n, dpo_eps_params p);
dpo_status dpo_diffdpo_f64(dpo_pair_result *res, double *g_w, double *g_l, const double *eps_w,
                           const double *eps_l, const double *eth_w, const double *eref_w, const double *eth_l,
                           const double *eref_l, size_t n, dpo_eps_params p);

/* ------------------------------------------- DSPO (eq. 11, 13, 14; app. B)
 * With u as Diffusion-DPO's (scale beta_u, reduction N) and
 * s = 1 - sigma(u) = sigma(-u):
 *   L = N(|| (e_th,w - eps_w) - w s (e_th,w - e_ref,w) ||^2)
 * DPO_DSPO_PAPER: eq. 13 with A(t) dropped, gamma = 1: w = lambda,
 *   r(x) = -(lambda c_t / 2)(||e_th - eps||^2 - ||e_ref - eps||^2) (eq. 11),
 *   so r_w - r_l = u with beta_u = lambda c_t and N = sum.  Use
 *   dpo_dspo_params_paper().
 * DPO_DSPO_CODE: the public code: w = beta_u = beta (0.001), N = mean.
 *   Use dpo_dspo_params_code().
 * stopgrad = 0: the gradient includes the dependence through sigma(u)
 * (on both e_th,w and e_th,l); stopgrad = 1: sigma(u) is a constant (the
 * "dspo-sg" variant; dL/de_th,l = 0).  res->z = u, lr_w/lr_l = D_w, D_l,
 * dl_dlr_* = dL/dD_*. */
typedef struct dpo_dspo_params {
    double weight;         /* w >= 0 */
    double beta_u;         /* > 0 */
    dpo_logprob_mode mode; /* N */
    int stopgrad;
} dpo_dspo_params;

/* Paper: weight lambda, beta_u = lambda c_t with
 * c_t = beta_{t+1}/(1 - abar_t) * alpha_t/alpha_{t+1} (caller's), sum. */
dpo_dspo_params dpo_dspo_params_paper(double lambda, double c_t, int stopgrad);
/* Public code: weight beta, beta_u beta, mean. */
dpo_dspo_params dpo_dspo_params_code(double beta, int stopgrad);

dpo_status dpo_dspo_f32(dpo_pair_result *res, float *g_w, float *g_l, const float *eps_w, const float *eps_l,
                        const float *eth_w, const float *eref_w, const float *eth_l, const float *eref_l, size_t n,
                        dpo_dspo_params p);
dpo_status dpo_dspo_f64(dpo_pair_result *res, double *g_w, double *g_l, const double *eps_w, const double *eps_l,
                        const double *eth_w, const double *eref_w, const double *eth_l, const double *eref_l,
                        size_t n, dpo_dspo_params p);

/* ------------------------------------------------------------ chain rule
 * Gradient wrt the model output from a gradient wrt the step mean mu:
 * g_out = (d mu/d out) g_mu, d mu/d out a per-step scalar:
 *   DDIM epsilon: dir_coef - sqrt_alpha_prev sqrt_beta_t / sqrt_alpha_t
 *   DDIM v:       dir_coef sqrt_alpha_t - sqrt_alpha_prev sqrt_beta_t
 *   DDIM sample:  sqrt_alpha_prev - dir_coef sqrt_alpha_t / sqrt_beta_t
 *   DDPM:         mean_x0 times d x0/d out (epsilon -sqrt_beta_t/sqrt_alpha_t,
 *                 v -sqrt_beta_t, sample 1)
 * computed in double from the coefficient struct.  Clipped x0 is not
 * differentiable through this helper (DPO_ERR_UNSUPPORTED).  g_out may equal
 * g_mu. */
dpo_status dpo_dmu_dout_f32(double *k, const dpo_step_coef_f32 *c);
dpo_status dpo_dmu_dout_f64(double *k, const dpo_step_coef_f64 *c);
dpo_status dpo_grad_mu_to_out_f32(float *g_out, const float *g_mu, size_t n, const dpo_step_coef_f32 *c);
dpo_status dpo_grad_mu_to_out_f64(double *g_out, const double *g_mu, size_t n, const dpo_step_coef_f64 *c);

#ifdef __cplusplus
}
#endif

#endif
