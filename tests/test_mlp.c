/* The built-in epsilon-network and the fixed-order matrix product.
 *
 * - dpo_matmul_f32 against the contract typed out here (one double
 *   accumulation in ascending p, one rounding), bit for bit, every layout.
 * - The forward pass against an independent float64 copy of the network
 *   written in this file from docs/model.md (explicit W_eff = W + s B A,
 *   libm sin/cos/exp for the timestep embedding).
 * - The VJPs (input, base, LoRA) against central finite differences of the
 *   float64 copy.  Tolerance: float32 forward values carry relative errors
 *   of a few u = 2^-24 per layer and the backward adds a few more, so the
 *   library's gradients are good to ~1e-6 relative to the gradient scale;
 *   the FD of the double model (h = 1e-6) is good to ~1e-9.  We demand
 *   |g - fd| <= 2e-5 |fd| + 2e-6 max|fd| (max over the tensor checked):
 *   about 300 u relative (30 u of the scale), several times the errors
 *   seen (all pass at 2e-6 / 2e-7), and far below a wrong transpose, a
 *   missing term, a wrong LoRA scale or even a 1e-4 relative error in the
 *   SiLU derivative (each of these fails the test).
 * - B = 0 LoRA is the base model bit for bit; lora NULL equals zero LoRA;
 *   determinism and batch independence bit for bit; validation. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "diffpo.h"
#include "diffpo_train.h"

/* ------------------------------------------------------------ matmul */
static float rnd_f(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((double)(*s >> 8) / 16777216.0 * 2.0 - 1.0);
}

static void test_matmul_contract(void)
{
    static float A[37 * 41], B[41 * 43], C[37 * 43], E[37 * 43], C0[37 * 43];
    size_t dims[4][3] = {{1, 1, 1}, {5, 7, 3}, {37, 41, 43}, {4, 130, 9}};
    uint32_t s = 12345;
    int d, ta, tb, acc;
    size_t i, j, p;
    for (d = 0; d < 4; d++) {
        size_t m = dims[d][0], k = dims[d][1], n = dims[d][2];
        if (m * k > sizeof A / sizeof *A || k * n > sizeof B / sizeof *B)
            continue;
        for (i = 0; i < m * k; i++)
            A[i] = rnd_f(&s) * (i % 7 == 0 ? 1e3f : 1.0f);
        for (i = 0; i < k * n; i++)
            B[i] = rnd_f(&s) * (i % 5 == 0 ? 1e-3f : 1.0f);
        for (i = 0; i < m * n; i++)
            C0[i] = rnd_f(&s);
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++)
                for (acc = 0; acc < 2; acc++) {
                    for (i = 0; i < m; i++)
                        for (j = 0; j < n; j++) {
                            double sum = acc ? (double)C0[i * n + j] : 0.0;
                            for (p = 0; p < k; p++) {
                                double a = ta ? A[p * m + i] : A[i * k + p];
                                double b = tb ? B[j * k + p] : B[p * n + j];
                                sum += a * b;
                            }
                            E[i * n + j] = (float)sum;
                        }
                    memcpy(C, C0, m * n * sizeof(float));
                    dpo_matmul_f32(C, A, B, m, k, n, ta, tb, acc);
                    CHECK(chk_same_bits(C, E, m * n * sizeof(float)), "matmul %zux%zux%zu ta=%d tb=%d acc=%d", m, k,
                          n, ta, tb, acc);
                }
    }
    /* k = 0: zero (or C unchanged) */
    C[0] = 5.0f;
    dpo_matmul_f32(C, A, B, 1, 0, 1, 0, 0, 1);
    CHECK(C[0] == 5.0f, "k=0 accumulate keeps C");
    dpo_matmul_f32(C, A, B, 1, 0, 1, 0, 0, 0);
    CHECK(C[0] == 0.0f, "k=0 gives 0");
}

/* ------------------------------------------- an independent double model */
typedef struct dnet {
    size_t D, H, T, K, E, R, in0;
    double s;
    /* parameters in double, same flat layouts as docs/model.md */
    double *base, *lora;
    size_t nb, nl;
} dnet;

/* docs/model.md: base = W0 (H x in0), b0, W1 (H x H), b1, W2 (D x H), b2,
 * C (K x E); lora = A0 (R x in0), B0 (H x R), A1 (R x H), B1, A2 (R x H),
 * B2 (D x R). */
static void dnet_sizes(dnet *N, const dpo_mlp_cfg *c)
{
    N->D = c->dim;
    N->H = c->hidden;
    N->T = c->temb;
    N->K = c->n_classes;
    N->E = c->cemb;
    N->R = c->lora_rank;
    N->in0 = N->D + N->T + N->E;
    N->s = N->R ? c->lora_alpha / (double)N->R : 0;
    N->nb = N->H * N->in0 + N->H + N->H * N->H + N->H + N->D * N->H + N->D + N->K * N->E;
    N->nl = N->R * N->in0 + N->H * N->R + N->R * N->H + N->H * N->R + N->R * N->H + N->D * N->R;
}

static double silu(double z)
{
    return z / (1.0 + exp(-z));
}

/* y = W_eff x + b for one layer (explicit W_eff = W + s B A). */
static void dlayer(double *y, const double *x, size_t in, size_t out, const double *W, const double *b,
                   const double *A, const double *Bm, size_t R, double s)
{
    size_t o, i, q;
    for (o = 0; o < out; o++) {
        double acc = b[o];
        for (i = 0; i < in; i++) {
            double w = W[o * in + i];
            if (A)
                for (q = 0; q < R; q++)
                    w += s * Bm[o * R + q] * A[q * in + i];
            acc += w * x[i];
        }
        y[o] = acc;
    }
}

/* One sample: out (D) = eps(x, t, c). */
static void dnet_forward(double *out, const dnet *N, const double *x, int t, int c, int use_lora)
{
    double in0[512], h0[512], h1[512];
    const double *p = N->base, *q = N->lora;
    const double *W0 = p, *b0 = W0 + N->H * N->in0, *W1 = b0 + N->H, *b1 = W1 + N->H * N->H, *W2 = b1 + N->H;
    const double *b2 = W2 + N->D * N->H, *C = b2 + N->D;
    const double *A0 = q, *B0 = A0 + N->R * N->in0, *A1 = B0 + N->H * N->R, *B1 = A1 + N->R * N->H;
    const double *A2 = B1 + N->H * N->R, *B2 = A2 + N->R * N->H;
    size_t i, half = N->T / 2;
    for (i = 0; i < N->D; i++)
        in0[i] = x[i];
    for (i = 0; i < half; i++) {
        double f = exp(-log(10000.0) * (double)i / (double)half);
        in0[N->D + i] = sin((double)t * f);
        in0[N->D + half + i] = cos((double)t * f);
    }
    for (i = 0; i < N->E; i++)
        in0[N->D + N->T + i] = C[(size_t)c * N->E + i];
    dlayer(h0, in0, N->in0, N->H, W0, b0, use_lora ? A0 : 0, B0, N->R, N->s);
    for (i = 0; i < N->H; i++)
        h0[i] = silu(h0[i]);
    dlayer(h1, h0, N->H, N->H, W1, b1, use_lora ? A1 : 0, B1, N->R, N->s);
    for (i = 0; i < N->H; i++)
        h1[i] = silu(h1[i]);
    dlayer(out, h1, N->H, N->D, W2, b2, use_lora ? A2 : 0, B2, N->R, N->s);
}

/* L = sum_i g_i . out_i over n samples */
static double dnet_L(const dnet *N, const double *x, const int32_t *t, const int32_t *c, size_t n, const double *g,
                     int use_lora)
{
    double out[512], L = 0;
    size_t i, j;
    for (i = 0; i < n; i++) {
        dnet_forward(out, N, x + i * N->D, t[i], c[i], use_lora);
        for (j = 0; j < N->D; j++)
            L += g[i * N->D + j] * out[j];
    }
    return L;
}

static void rnd_fill(float *p, size_t n, double scale, uint32_t *s)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (float)(rnd_f(s) * scale);
}

static dpo_mlp_cfg small_cfg(void)
{
    dpo_mlp_cfg c;
    c.dim = 5;
    c.hidden = 7;
    c.temb = 4;
    c.n_classes = 3;
    c.cemb = 2;
    c.lora_rank = 2;
    c.lora_alpha = 3.0;
    c.num_train_steps = 1000;
    c.matmul = NULL;
    return c;
}

static void *walloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64))
        return NULL;
    return p;
}

/* forward vs the double model; VJPs vs central differences of it.
 * `stride` checks every stride-th parameter (1 = all). */
static void fd_check(const dpo_mlp_cfg *cfg, size_t n, size_t stride, uint32_t seed)
{
    dnet N;
    size_t nb, nl, i, j, wsz, D = cfg->dim;
    float *base, *lora, *x, *g, *out, *gx, *gb, *gl;
    double *xd, *gd;
    int32_t t[8], c[8];
    void *work;
    uint32_t s = seed;
    int use_lora;
    dnet_sizes(&N, cfg);
    nb = dpo_mlp_num_base(cfg);
    nl = dpo_mlp_num_lora(cfg);
    CHECK(nb == N.nb && nl == N.nl, "parameter counts %zu %zu vs documented %zu %zu", nb, nl, N.nb, N.nl);
    if (nb != N.nb || nl != N.nl)
        return;
    base = malloc(nb * sizeof *base);
    lora = malloc(nl * sizeof *lora);
    x = malloc(n * D * sizeof *x);
    g = malloc(n * D * sizeof *g);
    out = malloc(n * D * sizeof *out);
    gx = malloc(n * D * sizeof *gx);
    gb = malloc(nb * sizeof *gb);
    gl = malloc(nl * sizeof *gl);
    xd = malloc(n * D * sizeof *xd);
    gd = malloc(n * D * sizeof *gd);
    N.base = malloc(nb * sizeof(double));
    N.lora = malloc(nl * sizeof(double));
    wsz = dpo_mlp_workspace_size(cfg, n);
    work = walloc(wsz);
    CHECK(dpo_mlp_init_base(base, cfg, seed) == DPO_OK, "init base");
    for (i = 0; i < nb; i++) /* non-zero biases too */
        base[i] = (float)(base[i] + 0.1 * rnd_f(&s));
    rnd_fill(lora, nl, 0.3, &s); /* B != 0 so that A's gradient is not 0 */
    rnd_fill(x, n * D, 1.5, &s);
    rnd_fill(g, n * D, 1.0, &s);
    for (i = 0; i < n; i++) {
        t[i] = (int32_t)((i * 397 + 11) % 1000);
        c[i] = (int32_t)(i % cfg->n_classes);
    }
    for (i = 0; i < nb; i++)
        N.base[i] = base[i];
    for (i = 0; i < nl; i++)
        N.lora[i] = lora[i];
    for (i = 0; i < n * D; i++) {
        xd[i] = x[i];
        gd[i] = g[i];
    }
    for (use_lora = 0; use_lora < 2; use_lora++) {
        const float *lp = use_lora ? lora : NULL;
        double maxe = 0, h = 1e-6, gmax;
        CHECK(dpo_mlp_forward(out, cfg, base, lp, x, t, c, n, work, wsz) == DPO_OK, "forward");
        for (i = 0; i < n; i++) {
            double ref[512];
            dnet_forward(ref, &N, xd + i * D, t[i], c[i], use_lora);
            for (j = 0; j < D; j++) {
                double e = fabs(out[i * D + j] - ref[j]) / (1.0 + fabs(ref[j]));
                if (e > maxe)
                    maxe = e;
            }
        }
        CHECK(maxe < 2e-5, "forward vs double model (lora %d): rel err %g", use_lora, maxe);
        memset(gx, 0, n * D * sizeof *gx);
        memset(gb, 0, nb * sizeof *gb);
        memset(gl, 0, nl * sizeof *gl);
        CHECK(dpo_mlp_backward(gx, gb, use_lora ? gl : NULL, g, cfg, base, lp, n, work, wsz) == DPO_OK, "backward");
        /* input */
        {
            double *fd = malloc(n * D * sizeof *fd);
            gmax = 0;
            for (i = 0; i < n * D; i++) {
                double keep = xd[i], lp1, lm1;
                xd[i] = keep + h;
                lp1 = dnet_L(&N, xd, t, c, n, gd, use_lora);
                xd[i] = keep - h;
                lm1 = dnet_L(&N, xd, t, c, n, gd, use_lora);
                xd[i] = keep;
                fd[i] = (lp1 - lm1) / (2 * h);
                if (fabs(fd[i]) > gmax)
                    gmax = fabs(fd[i]);
            }
            for (i = 0; i < n * D; i++)
                CHECK(fabs(gx[i] - fd[i]) <= 2e-5 * fabs(fd[i]) + 2e-6 * gmax, "g_x[%zu] (lora %d): %.9g vs fd %.9g",
                      i, use_lora, gx[i], fd[i]);
            free(fd);
        }
        /* base and lora parameters */
        {
            int which;
            for (which = 0; which < (use_lora ? 2 : 1); which++) {
                double *P = which ? N.lora : N.base;
                const float *G = which ? gl : gb;
                size_t np = which ? nl : nb, cnt = 0;
                double *fd = malloc(np * sizeof *fd);
                gmax = 0;
                for (i = 0; i < np; i++) {
                    double keep = P[i], lp1, lm1;
                    fd[i] = 0;
                    if (i % stride)
                        continue;
                    P[i] = keep + h;
                    lp1 = dnet_L(&N, xd, t, c, n, gd, use_lora);
                    P[i] = keep - h;
                    lm1 = dnet_L(&N, xd, t, c, n, gd, use_lora);
                    P[i] = keep;
                    fd[i] = (lp1 - lm1) / (2 * h);
                    if (fabs(fd[i]) > gmax)
                        gmax = fabs(fd[i]);
                }
                for (i = 0; i < np; i += stride, cnt++)
                    CHECK(fabs(G[i] - fd[i]) <= 2e-5 * fabs(fd[i]) + 2e-6 * gmax,
                          "%s grad[%zu] (lora %d): %.9g vs fd %.9g", which ? "lora" : "base", i, use_lora, G[i], fd[i]);
                CHECK(cnt > 0 && gmax > 0, "some gradient checked");
                free(fd);
            }
        }
    }
    free(base);
    free(lora);
    free(x);
    free(g);
    free(out);
    free(gx);
    free(gb);
    free(gl);
    free(xd);
    free(gd);
    free(N.base);
    free(N.lora);
    free(work);
}

static void test_vjp_small_all_params(void)
{
    dpo_mlp_cfg c = small_cfg();
    fd_check(&c, 4, 1, 3);
}

static void test_vjp_default_sampled(void)
{
    dpo_mlp_cfg c = dpo_mlp_cfg_default();
    fd_check(&c, 3, 37, 5);
}

/* backward accumulates (+=) into the gradients it is given */
static void test_backward_accumulates(void)
{
    dpo_mlp_cfg cfg = small_cfg();
    size_t nb = dpo_mlp_num_base(&cfg), nl = dpo_mlp_num_lora(&cfg), n = 3, D = cfg.dim, i;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n);
    float base[512], lora[256], x[15], g[15], out[15], gx0[15], gx1[15], gb0[512], gb1[512], gl0[256], gl1[256];
    int32_t t[3] = {5, 500, 999}, c[3] = {2, 0, 1};
    void *work = walloc(wsz);
    uint32_t s = 77;
    CHECK(nb <= 512 && nl <= 256, "sizes");
    dpo_mlp_init_base(base, &cfg, 1);
    rnd_fill(lora, nl, 0.3, &s);
    rnd_fill(x, n * D, 1.0, &s);
    rnd_fill(g, n * D, 1.0, &s);
    CHECK(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work, wsz) == DPO_OK, "fwd");
    memset(gx0, 0, sizeof gx0);
    memset(gb0, 0, sizeof gb0);
    memset(gl0, 0, sizeof gl0);
    CHECK(dpo_mlp_backward(gx0, gb0, gl0, g, &cfg, base, lora, n, work, wsz) == DPO_OK, "bwd");
    for (i = 0; i < 15; i++)
        gx1[i] = 0.25f;
    for (i = 0; i < 512; i++)
        gb1[i] = 0.25f;
    for (i = 0; i < 256; i++)
        gl1[i] = 0.25f;
    CHECK(dpo_mlp_backward(gx1, gb1, gl1, g, &cfg, base, lora, n, work, wsz) == DPO_OK, "bwd again");
    for (i = 0; i < n * D; i++)
        CHECK(fabs((double)gx1[i] - (0.25 + gx0[i])) <= 1e-6 * (1 + fabs(gx0[i])), "g_x += at %zu", i);
    for (i = 0; i < nb; i++)
        CHECK(fabs((double)gb1[i] - (0.25 + gb0[i])) <= 1e-6 * (1 + fabs(gb0[i])), "g_base += at %zu", i);
    for (i = 0; i < nl; i++)
        CHECK(fabs((double)gl1[i] - (0.25 + gl0[i])) <= 1e-6 * (1 + fabs(gl0[i])), "g_lora += at %zu", i);
    free(work);
}

/* ------------------------------------------------- LoRA identities, bits */
static void test_lora_zero_b_is_base(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t nb = dpo_mlp_num_base(&cfg), nl = dpo_mlp_num_lora(&cfg), n = 6, D = cfg.dim, i, nz = 0;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n);
    float *base = malloc(nb * 4), *lora = malloc(nl * 4), *zero = calloc(nl, 4);
    float x[6 * 64], o0[6 * 64], o1[6 * 64], o2[6 * 64];
    int32_t t[6] = {0, 1, 250, 500, 998, 999}, c[6] = {0, 1, 2, 3, 0, 3};
    void *work = walloc(wsz);
    uint32_t s = 9;
    dpo_mlp_init_base(base, &cfg, 11);
    CHECK(dpo_mlp_init_lora(lora, &cfg, 12) == DPO_OK, "init lora");
    for (i = 0; i < nl; i++)
        nz += lora[i] != 0.0f;
    /* A (R x in per layer) random, B zero: R*(in0 + H + H) = 4*(88+128+128) */
    CHECK(nz == 4 * (88 + 128 + 128), "A random, B zero after init (%zu non-zero)", nz);
    rnd_fill(x, n * D, 1.0, &s);
    CHECK(dpo_mlp_forward(o0, &cfg, base, NULL, x, t, c, n, work, wsz) == DPO_OK, "base");
    CHECK(dpo_mlp_forward(o1, &cfg, base, lora, x, t, c, n, work, wsz) == DPO_OK, "B = 0");
    CHECK(dpo_mlp_forward(o2, &cfg, base, zero, x, t, c, n, work, wsz) == DPO_OK, "zeros");
    CHECK(chk_same_bits(o0, o1, sizeof o0), "B = 0 LoRA gives the base output bit for bit");
    CHECK(chk_same_bits(o0, o2, sizeof o0), "lora NULL equals all-zero LoRA bit for bit");
    /* and a non-zero B changes it */
    lora[nl - 1] = 0.5f;
    CHECK(dpo_mlp_forward(o1, &cfg, base, lora, x, t, c, n, work, wsz) == DPO_OK, "B != 0");
    CHECK(!chk_same_bits(o0, o1, sizeof o0), "non-zero B changes the output");
    free(base);
    free(lora);
    free(zero);
    free(work);
}

static void test_determinism_and_batch_independence(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t nb = dpo_mlp_num_base(&cfg), nl = dpo_mlp_num_lora(&cfg), n = 7, D = cfg.dim, i;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n), w1 = dpo_mlp_workspace_size(&cfg, 1);
    float *base = malloc(nb * 4), *lora = malloc(nl * 4), *gl1 = calloc(nl, 4), *gl2 = calloc(nl, 4);
    float *gb1 = calloc(nb, 4), *gb2 = calloc(nb, 4);
    float x[7 * 64], g[7 * 64], o1[7 * 64], o2[7 * 64], o3[64], gx1[7 * 64], gx2[7 * 64], gx3[64];
    float xp[7 * 64], op[7 * 64];
    int32_t t[7] = {3, 999, 17, 500, 0, 250, 750}, c[7] = {0, 1, 2, 3, 3, 2, 1}, tp[7], cp[7];
    int perm[7] = {3, 6, 0, 5, 1, 4, 2};
    void *work = walloc(wsz), *work1 = walloc(w1);
    uint32_t s = 21;
    dpo_mlp_init_base(base, &cfg, 2);
    rnd_fill(lora, nl, 0.05, &s);
    rnd_fill(x, n * D, 1.0, &s);
    rnd_fill(g, n * D, 1.0, &s);
    dpo_mlp_forward(o1, &cfg, base, lora, x, t, c, n, work, wsz);
    memset(gx1, 0, sizeof gx1);
    dpo_mlp_backward(gx1, gb1, gl1, g, &cfg, base, lora, n, work, wsz);
    memset(work, 0xA5, wsz);
    dpo_mlp_forward(o2, &cfg, base, lora, x, t, c, n, work, wsz);
    memset(gx2, 0, sizeof gx2);
    dpo_mlp_backward(gx2, gb2, gl2, g, &cfg, base, lora, n, work, wsz);
    CHECK(chk_same_bits(o1, o2, sizeof o1), "forward: same bits twice");
    CHECK(chk_same_bits(gx1, gx2, sizeof gx1), "g_x: same bits twice");
    CHECK(chk_same_bits(gb1, gb2, nb * 4), "g_base: same bits twice");
    CHECK(chk_same_bits(gl1, gl2, nl * 4), "g_lora: same bits twice");
    for (i = 0; i < n; i++) {
        dpo_mlp_forward(o3, &cfg, base, lora, x + i * D, t + i, c + i, 1, work1, w1);
        CHECK(chk_same_bits(o3, o1 + i * D, sizeof o3), "sample %zu alone = in the batch", i);
        memset(gx3, 0, sizeof gx3);
        dpo_mlp_backward(gx3, NULL, NULL, g + i * D, &cfg, base, lora, 1, work1, w1);
        CHECK(chk_same_bits(gx3, gx1 + i * D, sizeof gx3), "g_x of sample %zu alone = in the batch", i);
    }
    for (i = 0; i < n; i++) {
        memcpy(xp + i * D, x + perm[i] * D, D * 4);
        tp[i] = t[perm[i]];
        cp[i] = c[perm[i]];
    }
    dpo_mlp_forward(op, &cfg, base, lora, xp, tp, cp, n, work, wsz);
    for (i = 0; i < n; i++)
        CHECK(chk_same_bits(op + i * D, o1 + perm[i] * D, D * 4), "permuted batch, sample %zu", i);
    free(base);
    free(lora);
    free(gl1);
    free(gl2);
    free(gb1);
    free(gb2);
    free(work);
    free(work1);
}

static void test_init(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t nb = dpo_mlp_num_base(&cfg), i;
    float *a = malloc(nb * 4), *b = malloc(nb * 4);
    double ss = 0;
    CHECK(nb == 128 * 88 + 128 + 128 * 128 + 128 + 64 * 128 + 64 + 4 * 8, "default base count %zu", nb);
    CHECK(dpo_mlp_num_lora(&cfg) == 4 * (88 + 128) + 4 * (128 + 128) + 4 * (128 + 64), "default lora count");
    dpo_mlp_init_base(a, &cfg, 5);
    dpo_mlp_init_base(b, &cfg, 5);
    CHECK(chk_same_bits(a, b, nb * 4), "init deterministic");
    dpo_mlp_init_base(b, &cfg, 6);
    CHECK(!chk_same_bits(a, b, nb * 4), "init depends on the seed");
    for (i = 0; i < 128; i++)
        CHECK(a[128 * 88 + i] == 0.0f, "b0 zero");
    for (i = 0; i < 128 * 128; i++)
        ss += (double)a[128 * 88 + 128 + i] * a[128 * 88 + 128 + i];
    ss /= 128.0 * 128.0; /* variance of W1: 1/fan_in = 1/128 */
    CHECK(fabs(ss * 128.0 - 1.0) < 0.05, "W1 variance * fan_in = %g", ss * 128.0);
    free(a);
    free(b);
}

/* ------------------------------------------------------- the wrapper */
static void test_model_wrapper(void)
{
    dpo_mlp_cfg cfg = dpo_mlp_cfg_default();
    size_t nb = dpo_mlp_num_base(&cfg), n = 5, D = cfg.dim, i;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n), w1 = dpo_mlp_workspace_size(&cfg, 1);
    float *base = malloc(nb * 4), x[5 * 64], o1[5 * 64], o2[5 * 64], o3[5 * 64];
    int32_t t[5], c[5] = {0, 1, 2, 3, 1};
    void *work = walloc(wsz), *work1 = walloc(w1), *work2 = walloc(wsz);
    dpo_mlp_model_ctx big, small;
    dpo_eps_model mb, ms;
    uint32_t s = 4;
    dpo_mlp_init_base(base, &cfg, 8);
    rnd_fill(x, n * D, 1.0, &s);
    for (i = 0; i < n; i++)
        t[i] = 321;
    CHECK(dpo_mlp_forward(o1, &cfg, base, NULL, x, t, c, n, work2, wsz) == DPO_OK, "direct");
    big.cfg = &cfg;
    big.base = base;
    big.lora = NULL;
    big.work = work;
    big.work_size = wsz;
    small = big;
    small.work = work1;
    small.work_size = w1;
    mb = dpo_mlp_model(&big);
    ms = dpo_mlp_model(&small);
    CHECK(mb.dim == 64, "model dim");
    CHECK(mb.forward(mb.user, o2, x, n, 321, c) == 0, "wrapper");
    CHECK(ms.forward(ms.user, o3, x, n, 321, c) == 0, "wrapper, one sample per chunk");
    CHECK(chk_same_bits(o1, o2, sizeof o1), "wrapper = dpo_mlp_forward");
    CHECK(chk_same_bits(o1, o3, sizeof o1), "chunking does not change bits");
    CHECK(mb.forward(mb.user, o2, x, n, 321, NULL) != 0, "cond NULL refused");
    small.work_size = w1 - 1;
    CHECK(ms.forward(ms.user, o3, x, n, 321, c) != 0, "too small work refused");
    free(base);
    free(work);
    free(work1);
    free(work2);
}

/* --------------------------------------------------------- validation */
static void test_validation(void)
{
    dpo_mlp_cfg cfg = small_cfg(), bad;
    size_t nb = dpo_mlp_num_base(&cfg), nl = dpo_mlp_num_lora(&cfg), n = 2, i;
    size_t wsz = dpo_mlp_workspace_size(&cfg, n);
    float base[512], lora[256], x[10], g[10], out[10], keep[10], gx[10], gb[512], gl[256];
    int32_t t[2] = {1, 2}, c[2] = {0, 1}, tb[2] = {1, 1000}, cb[2] = {0, 3}, tn[2] = {-1, 0};
    unsigned char *work = walloc(wsz + 64);
    uint32_t s = 5;
    dpo_mlp_init_base(base, &cfg, 1);
    rnd_fill(lora, nl, 0.1, &s);
    rnd_fill(x, 10, 1.0, &s);
    rnd_fill(g, 10, 1.0, &s);
    for (i = 0; i < 10; i++)
        out[i] = keep[i] = -7.0f;
#define FWD_ERR(expr, code, what)                                                        \
    do {                                                                                 \
        CHECK((expr) == (code), "%s: wrong status", what);                               \
        CHECK(chk_same_bits(out, keep, sizeof out), "%s: output touched", what);        \
    } while (0)
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, tb, c, n, work, wsz), DPO_ERR_RANGE, "t = N");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, tn, c, n, work, wsz), DPO_ERR_RANGE, "t < 0");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, cb, n, work, wsz), DPO_ERR_RANGE, "class");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work, wsz - 1), DPO_ERR_WORKSPACE, "small work");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work + 4, wsz), DPO_ERR_WORKSPACE, "misaligned");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, NULL, wsz), DPO_ERR_WORKSPACE, "no work");
    FWD_ERR(dpo_mlp_forward(out, &cfg, NULL, lora, x, t, c, n, work, wsz), DPO_ERR_NULL, "base NULL");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, NULL, t, c, n, work, wsz), DPO_ERR_NULL, "x NULL");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, 0, work, wsz), DPO_ERR_SIZE, "n = 0");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, out, t, c, n, work, wsz), DPO_ERR_ALIAS, "out = x");
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work + 8, wsz), DPO_ERR_WORKSPACE,
            "work 8 bytes off DPO_WORK_ALIGN");
    bad = cfg;
    bad.temb = 5;
    FWD_ERR(dpo_mlp_forward(out, &bad, base, lora, x, t, c, n, work, wsz), DPO_ERR_SIZE, "odd temb");
    CHECK(dpo_mlp_num_base(&bad) == 0 && dpo_mlp_workspace_size(&bad, 1) == 0, "bad cfg sizes are 0");
    x[3] = NAN;
    FWD_ERR(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work, wsz), DPO_ERR_NONFINITE, "NaN x");
    x[3] = 0.5f;

    /* backward */
    memset(work, 0, wsz);
    for (i = 0; i < 10; i++)
        gx[i] = 1.0f;
    memcpy(keep, gx, sizeof gx);
    CHECK(dpo_mlp_backward(gx, NULL, NULL, g, &cfg, base, lora, n, work, wsz) == DPO_ERR_WORKSPACE,
          "backward before any forward");
    CHECK(dpo_mlp_forward(out, &cfg, base, NULL, x, t, c, n, work, wsz) == DPO_OK, "forward");
    CHECK(dpo_mlp_backward(gx, NULL, NULL, g, &cfg, base, lora, n, work, wsz) == DPO_ERR_RANGE,
          "backward with LoRA after a base-only forward");
    CHECK(dpo_mlp_backward(gx, NULL, gl, g, &cfg, base, NULL, n, work, wsz) == DPO_ERR_NULL, "g_lora without lora");
    CHECK(dpo_mlp_backward(gx, NULL, NULL, g, &cfg, base, NULL, 1, work, wsz) == DPO_ERR_WORKSPACE,
          "n differs from the forward");
    CHECK(dpo_mlp_backward(gx, NULL, NULL, g, &cfg, base, NULL, n, work, wsz - 1) == DPO_ERR_WORKSPACE,
          "small work");
    memset(gb, 0, sizeof gb);
    CHECK(dpo_mlp_backward(gx, gb, NULL, g, &cfg, base, NULL, n, work, wsz) == DPO_OK, "valid backward");
    memcpy(keep, gx, sizeof gx);
    CHECK(dpo_mlp_backward(gx, NULL, NULL, gx, &cfg, base, NULL, n, work, wsz) == DPO_ERR_ALIAS, "g_x = g_out");
    g[1] = INFINITY;
    CHECK(dpo_mlp_backward(gx, NULL, NULL, g, &cfg, base, NULL, n, work, wsz) == DPO_ERR_NONFINITE, "inf g_out");
    CHECK(chk_same_bits(gx, keep, sizeof gx), "failed backward left g_x untouched");
    /* DPO_WORK_ALIGN (16) is enough: no stricter alignment is asked */
    CHECK(dpo_mlp_forward(out, &cfg, base, lora, x, t, c, n, work + DPO_WORK_ALIGN, wsz) == DPO_OK,
          "a DPO_WORK_ALIGN-aligned work area refused");
    (void)nb;
    free(work);
#undef FWD_ERR
}

int main(void)
{
    RUN(test_matmul_contract);
    RUN(test_vjp_small_all_params);
    RUN(test_vjp_default_sampled);
    RUN(test_backward_accumulates);
    RUN(test_lora_zero_b_is_base);
    RUN(test_determinism_and_batch_independence);
    RUN(test_init);
    RUN(test_model_wrapper);
    RUN(test_validation);
    return chk_summary();
}
