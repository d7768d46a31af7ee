/* libFuzzer harness of the schedule tables and timesteps: the fuzz bytes
 * are read as float64 (or float32) alphas_cumprod values, a train-step
 * count, an inference step count, spacing, offset, prediction type, eta and
 * prev rule.  Invariants: no crash or sanitizer report; a table is accepted
 * only when every value is finite and in (0, 1], the last one possibly
 * exactly 0 (a zero-terminal-SNR table, include/diffpo.h), and then ac32 and ac64
 * hold the values (ac32 = ac64 rounded); dpo_timesteps on success gives S
 * values in [0, N), non-increasing; every accepted step coefficient struct
 * has finite scalars and sigma >= 0 (the struct the step itself accepts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diffpo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int finite(double v)
{
    return v - v == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dpo_schedule s;
    static double t64[DPO_MAX_TRAIN_STEPS];
    static float t32[DPO_MAX_TRAIN_STEPS];
    static int32_t ts[DPO_MAX_TRAIN_STEPS];
    int n, S, i, ok, use32, off, t;
    dpo_status st;
    dpo_step_opts o = dpo_step_opts_default();
    dpo_step_coef_f32 c32;
    dpo_step_coef_f64 c64;
    if (size < 12)
        return 0;
    use32 = data[0] & 1;
    S = 1 + (data[1] | data[2] << 8) % 1100;
    off = data[3] % 4;
    o.kind = (dpo_step_kind)(data[4] % 3);
    o.pred = (dpo_pred_type)(data[5] % 4);
    o.prev_rule = (dpo_prev_rule)(data[6] % 3);
    o.eta = (double)data[7] / 64.0;
    o.clip = data[8] & 1;
    o.clip_range = (double)data[9] / 16.0;
    data += 12;
    size -= 12;
    n = (int)(size / (use32 ? 4 : 8));
    if (n > DPO_MAX_TRAIN_STEPS)
        n = DPO_MAX_TRAIN_STEPS;
    ok = n >= 2;
    for (i = 0; i < n; i++) {
        /* the header's rule: the last entry may be exactly 0 */
        int last_zero;
        if (use32) {
            memcpy(&t32[i], data + 4 * i, 4);
            last_zero = i == n - 1 && t32[i] == 0;
            ok &= last_zero || (finite(t32[i]) && t32[i] > 0 && t32[i] <= 1);
        } else {
            memcpy(&t64[i], data + 8 * i, 8);
            last_zero = i == n - 1 && t64[i] == 0;
            /* and its float32 rounding stays positive (the header says so) */
            ok &= last_zero || (finite(t64[i]) && t64[i] > 0 && t64[i] <= 1 && (float)t64[i] > 0);
        }
    }
    st = dpo_schedule_from_table(&s, use32 ? t32 : 0, use32 ? 0 : t64, n, 0);
    if ((st == DPO_OK) != ok)
        abort();
    if (st != DPO_OK)
        return 0;
    for (i = 0; i < n; i++) {
        if (use32 ? memcmp(&s.ac32[i], &t32[i], 4) != 0 : s.ac64[i] != t64[i])
            abort();
        if (!use32 && s.ac32[i] != (float)t64[i])
            abort();
    }
    st = dpo_timesteps(ts, S, n, (dpo_spacing)(S % 3), off);
    if (st == DPO_OK) {
        for (i = 0; i < S; i++)
            if (ts[i] < 0 || ts[i] >= n || (i && ts[i] > ts[i - 1]))
                abort();
        for (i = 0; i < S && i < 64; i++) {
            t = ts[i];
            if (dpo_step_coef_f32_init(&c32, &s, t, S, &o) == DPO_OK &&
                !(finite(c32.sigma) && c32.sigma >= 0 && finite(c32.dir_coef) && finite(c32.mean_x0) &&
                  finite(c32.mean_xt)))
                abort();
            if (dpo_step_coef_f64_init(&c64, &s, t, S, &o) == DPO_OK &&
                !(finite(c64.sigma) && c64.sigma >= 0 && finite(c64.dir_coef) && finite(c64.mean_x0) &&
                  finite(c64.mean_xt)))
                abort();
        }
    }
    return 0;
}
