/* libFuzzer harness of the step and log-probability arithmetic
 * (dpo_step_f32/_f64, dpo_step_philox_f32, dpo_step_logprob_f32/_f64) on
 * arbitrary inputs: the fuzz bytes choose the timestep, step count, eta,
 * step kind, prediction type, clipping and prev rule of a scaled-linear
 * schedule, and give the float32 inputs x, model output and noise.
 * Invariants: no crash or sanitizer report; a non-finite input is
 * DPO_ERR_NONFINITE with the outputs untouched; finite inputs with
 * |v| <= 2^60 give DPO_OK and finite outputs (the step, the mean, x0, the
 * log-probability when sigma > 0), float32 in place equals out of place bit
 * for bit, and the float64 step on the same values is finite too.  (Finite
 * inputs beyond that may overflow to infinity: docs/errors.md; the CLI
 * refuses such outputs.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NMAX 64

static int fin(double v)
{
    return v - v == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dpo_schedule s;
    static int init;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c;
    dpo_step_coef_f64 c64;
    float x[NMAX], e[NMAX], z[NMAX], p[NMAX], mu[NMAX], x0[NMAX], ip[NMAX];
    double xd[NMAX], ed[NMAX], zd[NMAX], pd[NMAX], lp[NMAX];
    size_t n, i, dim, batch;
    int t, S, finite_in = 1, bounded = 1;
    dpo_status st;
    dpo_noise_coord nc;
    if (!init) {
        if (dpo_schedule_init(&s, DPO_BETA_SCALED_LINEAR, 0.00085, 0.012, 1000, 0) != DPO_OK)
            abort();
        init = 1;
    }
    if (size < 8 + 12)
        return 0;
    t = (data[0] | data[1] << 8) % 1000;
    S = 1 + (data[2] | data[3] << 8) % 1000;
    o.eta = data[4] / 128.0;
    o.kind = (dpo_step_kind)(data[5] & 1);
    o.pred = (dpo_pred_type)(data[5] >> 1 & 3) == 3 ? DPO_PRED_EPSILON : (dpo_pred_type)(data[5] >> 1 & 3);
    o.clip = data[5] >> 3 & 1;
    o.use_clipped_output = o.clip && (data[5] >> 4 & 1);
    o.clip_range = 0.5 + data[6] / 32.0;
    o.prev_rule = (dpo_prev_rule)(data[5] >> 5 & 1);
    dim = 1 + data[7] % 8;
    data += 8;
    size -= 8;
    n = size / 12;
    if (n > NMAX)
        n = NMAX;
    n -= n % dim;
    if (n == 0)
        return 0;
    batch = n / dim;
    for (i = 0; i < n; i++) {
        memcpy(&x[i], data + 12 * i, 4);
        memcpy(&e[i], data + 12 * i + 4, 4);
        memcpy(&z[i], data + 12 * i + 8, 4);
        finite_in &= fin(x[i]) && fin(e[i]) && fin(z[i]);
        bounded &= fabs(x[i]) <= 0x1p60 && fabs(e[i]) <= 0x1p60 && fabs(z[i]) <= 0x1p60;
        xd[i] = x[i], ed[i] = e[i], zd[i] = z[i];
    }
    if (dpo_step_coef_f32_init(&c, &s, t, S, &o) != DPO_OK || dpo_step_coef_f64_init(&c64, &s, t, S, &o) != DPO_OK)
        return 0;
    memset(p, 0x5a, sizeof p);
    st = dpo_step_f32(p, x0, mu, x, e, z, n, &c);
    if (!finite_in) {
        unsigned char k[sizeof p];
        memset(k, 0x5a, sizeof k);
        if (st != DPO_ERR_NONFINITE || memcmp(k, p, sizeof p) != 0)
            abort();
        return 0;
    }
    if (st != DPO_OK)
        abort();
    if (!bounded)
        return 0;
    for (i = 0; i < n; i++)
        if (!fin(p[i]) || !fin(mu[i]) || !fin(x0[i]))
            abort();
    memcpy(ip, x, sizeof x);
    if (dpo_step_f32(ip, 0, 0, ip, e, z, n, &c) != DPO_OK || memcmp(ip, p, n * sizeof(float)) != 0)
        abort(); /* in place = out of place */
    if (dpo_step_f64(pd, 0, 0, xd, ed, zd, n, &c64) != DPO_OK)
        abort();
    for (i = 0; i < n; i++)
        if (!fin(pd[i]))
            abort();
    memset(&nc, 0, sizeof nc);
    nc.seed = t;
    if (dpo_step_philox_f32(ip, 0, 0, x, e, nc, n, &c) != DPO_OK)
        abort();
    for (i = 0; i < n; i++)
        if (!fin(ip[i]))
            abort();
    if (c.sigma > 0) {
        if (dpo_step_logprob_f32(lp, p, mu, batch, dim, &c, (dpo_logprob_mode)(t & 1)) != DPO_OK)
            abort();
        for (i = 0; i < batch; i++)
            if (!fin(lp[i]))
                abort();
        if (c64.sigma > 0 && dpo_step_logprob_f64(lp, pd, xd, batch, dim, &c64, DPO_LOGPROB_SUM) != DPO_OK)
            abort();
    } else if (dpo_step_logprob_f32(lp, p, mu, batch, dim, &c, DPO_LOGPROB_SUM) != DPO_ERR_SIGMA_ZERO) {
        abort();
    }
    return 0;
}
