/* One ISA's vector form of the float32 step element (dpo_step_elem_f32 in
 * src/core/dpo_ddim.h) and the log-probability term (dpo_lp_term), included
 * by src/cpu_simd.c per level.  Same operations in the same order per
 * element as the scalar definition; the clipped forms and the eps re-derived
 * from x0 (use_clipped_output) stay scalar.  x0 may be NULL (not written).
 * Macros: S_TGT, S_NAME(x), S_W (floats per vector), FV and FV_* ops, and
 * S_TERMS(t, p, m) storing ((double)p - (double)m)^2 for S_W elements. */

static S_TGT void S_NAME(step_f32)(float *xp, float *x0, float *mu, double *term, const float *x,
                                   const float *o, const float *z, size_t n,
                                   const dpo_step_coef_f32 *c)
{
    const FV sat = FV_SET1(c->sqrt_alpha_t), sbt = FV_SET1(c->sqrt_beta_t);
    const FV sap = FV_SET1(c->sqrt_alpha_prev), dir = FV_SET1(c->dir_coef);
    const FV mx0 = FV_SET1(c->mean_x0), mxt = FV_SET1(c->mean_xt);
    const FV sig = FV_SET1(c->sigma);
    const int ddpm = c->kind == DPO_STEP_DDPM;
    size_t i = 0;
    if (!c->clip && !c->use_clipped_output) {
        for (; i + S_W <= n; i += S_W) {
            FV vx = FV_LOADU(x + i), vo = FV_LOADU(o + i);
            FV vz = z ? FV_LOADU(z + i) : FV_SET1(0.0f);
            FV a, e, m, p;
            if (c->pred == DPO_PRED_EPSILON) {
                e = vo;
                a = FV_DIV(FV_SUB(vx, FV_MUL(sbt, vo)), sat);
            } else if (c->pred == DPO_PRED_SAMPLE) {
                a = vo;
                e = FV_DIV(FV_SUB(vx, FV_MUL(sat, vo)), sbt);
            } else {
                a = FV_SUB(FV_MUL(sat, vx), FV_MUL(sbt, vo));
                e = FV_ADD(FV_MUL(sat, vo), FV_MUL(sbt, vx));
            }
            if (ddpm)
                m = FV_ADD(FV_MUL(mx0, a), FV_MUL(mxt, vx));
            else
                m = FV_ADD(FV_MUL(sap, a), FV_MUL(dir, e));
            p = FV_ADD(m, FV_MUL(sig, vz));
            FV_STOREU(xp + i, p);
            FV_STOREU(mu + i, m);
            if (x0)
                FV_STOREU(x0 + i, a);
            S_TERMS(term + i, p, m);
        }
    }
    for (; i < n; i++) {
        float a, m, p;
        p = dpo_step_elem_f32(&a, &m, x[i], o[i], z ? z[i] : 0.0f, c);
        xp[i] = p;
        mu[i] = m;
        if (x0)
            x0[i] = a;
        term[i] = dpo_lp_term((double)p, (double)m);
    }
}
