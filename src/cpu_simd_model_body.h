/* One ISA's vector forms of the training element loops, included by
 * src/cpu_simd_model.c once per x86-64 level with the macros below defined
 * for that ISA.  Each function performs, lane by lane, the IEEE operations
 * of its scalar definition in src/core in the same order: separate
 * multiplies and adds, correctly rounded division and square root, exact
 * bit manipulations where the scalar code uses exact integer steps.
 *
 * Macros the includer defines:
 *   M_TGT, M_NAME(x)   function attribute and level suffix
 *   F, FW, F_*         float vector of FW lanes and its operations
 *   D, DW, DM, D_*     double vector of DW lanes, comparison mask
 *   DF_LOAD, DF_STORE  DW floats to a double vector (exact) and back (rounded)
 *   D_POW2(k)          2^k for integer-valued k in [-1022, 1023], built from bits */

/* dpo_adamw_elem, FW elements at a time. */
static M_TGT void M_NAME(adamw)(float *p, float *m, float *v, const float *g, size_t n,
                                const dpo_adamw_coef *c)
{
    const F b1 = F_SET1(c->b1), omb1 = F_SET1(c->omb1), b2 = F_SET1(c->b2);
    const F omb2 = F_SET1(c->omb2), bc1 = F_SET1(c->bc1), bc2 = F_SET1(c->bc2);
    const F lr = F_SET1(c->lr), eps = F_SET1(c->eps), wd = F_SET1(c->wd);
    size_t i = 0;
    for (; i + FW <= n; i += FW) {
        F vp = F_LOADU(p + i), vm = F_LOADU(m + i), vv = F_LOADU(v + i), vg = F_LOADU(g + i);
        F mm = F_ADD(F_MUL(b1, vm), F_MUL(omb1, vg));
        F v2 = F_ADD(F_MUL(b2, vv), F_MUL(omb2, F_MUL(vg, vg)));
        F mhat = F_DIV(mm, bc1);
        F vhat = F_DIV(v2, bc2);
        F den = F_ADD(F_SQRT(vhat), eps);
        F upd = F_ADD(F_DIV(mhat, den), F_MUL(wd, vp));
        F_STOREU(m + i, mm);
        F_STOREU(v + i, v2);
        F_STOREU(p + i, F_SUB(vp, F_MUL(lr, upd)));
    }
    for (; i < n; i++)
        dpo_adamw_elem(p + i, m + i, v + i, g[i], c);
}

/* dpo_pm_round for 0 <= a < 2^52. */
static M_TGT D M_NAME(round_nonneg)(D a)
{
    const D big = D_SET1(4503599627370496.0);
    D r = D_SUB(D_ADD(a, big), big);
    DM tie = DM_AND(D_CMPLT(r, a), D_CMPEQ(D_SUB(a, r), D_SET1(0.5)));
    return D_BLEND(tie, r, D_ADD(r, D_SET1(1.0)));
}

/* dpo_exp for x <= 0 (either zero) or below the underflow bound; lanes
 * holding NaN give an unspecified value (the caller selects them away). */
static M_TGT D M_NAME(exp_nonpos)(D x)
{
    const D zero = D_SET1(0.0), one = D_SET1(1.0);
    D t = D_MUL(x, D_SET1(DPO_PM_INV_LN2));
    D r0 = M_NAME(round_nonneg)(D_ABS(t));
    /* dpo_pm_round's sign: x < 0 ? -r : r */
    D kd = D_BLEND(D_CMPLT(t, zero), r0, D_NEG(r0));
    D hi = D_SUB(x, D_MUL(kd, D_SET1(DPO_PM_LN2_HI)));
    D lo = D_MUL(kd, D_SET1(DPO_PM_LN2_LO));
    D r = D_SUB(hi, lo);
    D p, s1, k2, res;
    DM deep;
    p = D_SET1(1.0 / 6227020800.0);
    p = D_ADD(D_SET1(1.0 / 479001600.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 39916800.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 3628800.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 362880.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 40320.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 5040.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 720.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 120.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 24.0), D_MUL(r, p));
    p = D_ADD(D_SET1(1.0 / 6.0), D_MUL(r, p));
    p = D_ADD(D_SET1(0.5), D_MUL(r, p));
    p = D_ADD(one, D_SUB(hi, D_SUB(lo, D_MUL(D_MUL(r, r), p))));
    /* dpo_pm_ldexp(p, k), k in [-1075, 0]: below -1000 it first scales by
     * 2^-1000 (exact here) and then by 2^(k + 1000); otherwise p * 2^k
     * alone, which is (p * 1) * 2^k. */
    deep = D_CMPLT(kd, D_SET1(-1000.0));
    s1 = D_BLEND(deep, one, D_SET1(0x1p-1000));
    k2 = D_BLEND(deep, kd, D_ADD(kd, D_SET1(1000.0)));
    res = D_MUL(D_MUL(p, s1), D_POW2(k2));
    return D_BLEND(D_CMPLT(x, D_SET1(-745.1332191019412)), res, zero);
}

/* dpo_sigmoid. */
static M_TGT D M_NAME(sigmoid)(D x)
{
    const D zero = D_SET1(0.0), one = D_SET1(1.0);
    DM ge0 = D_CMPGE(x, zero);
    D e = M_NAME(exp_nonpos)(D_BLEND(ge0, x, D_NEG(x))); /* x >= 0 ? -x : x */
    D d = D_ADD(one, e);
    D dl = D_ADD(D_SUB(one, d), e);
    D q = D_DIV(D_BLEND(ge0, e, one), d);
    D s = D_SUB(q, D_MUL(q, D_DIV(dl, d)));
    return D_BLEND(D_CMPUNORD(x, x), s, x);
}

/* dpo_sigmoid over n doubles (the tests' direct view of the kernel). */
static M_TGT void M_NAME(sigmoid_f64)(double *out, const double *x, size_t n)
{
    size_t i = 0;
    for (; i + DW <= n; i += DW)
        D_STOREU(out + i, M_NAME(sigmoid)(D_LOADU(x + i)));
    for (; i < n; i++)
        out[i] = dpo_sigmoid(x[i]);
}

/* dpo_silu_f32, DW elements at a time. */
static M_TGT void M_NAME(silu)(float *a, const float *z, size_t n)
{
    size_t i = 0;
    for (; i + DW <= n; i += DW) {
        D zd = DF_LOAD(z + i);
        DF_STORE(a + i, D_MUL(zd, M_NAME(sigmoid)(zd)));
    }
    for (; i < n; i++)
        a[i] = dpo_silu_f32(z[i]);
}

/* dpo_silu_vjp_f32 in place. */
static M_TGT void M_NAME(silu_vjp)(float *g, const float *z, size_t n)
{
    const D one = D_SET1(1.0);
    size_t i = 0;
    for (; i + DW <= n; i += DW) {
        D zd = DF_LOAD(z + i);
        D sg = M_NAME(sigmoid)(zd);
        D d = D_MUL(sg, D_ADD(one, D_MUL(zd, D_SUB(one, sg))));
        DF_STORE(g + i, D_MUL(DF_LOAD(g + i), d));
    }
    for (; i < n; i++)
        g[i] = dpo_silu_vjp_f32(g[i], z[i]);
}

/* Terms over n elements into t: kind 0 dpo_lr_term(a, b, c) =
 * (b - c)((a - b) + (a - c)); kind 1 dpo_err_diff_term(a, b, c) =
 * (b - c)((b - a) + (c - a)); kind 2 dpo_lp_term(a, b) = (a - b)^2 (c is
 * not read). */
static M_TGT void M_NAME(terms3)(double *t, const void *a, const void *b, const void *c, size_t n, int f32,
                                 int kind)
{
    size_t i = 0;
    for (; i + DW <= n; i += DW) {
        D va, vb, vc;
        if (f32) {
            va = DF_LOAD((const float *)a + i);
            vb = DF_LOAD((const float *)b + i);
            vc = DF_LOAD((const float *)c + i);
        } else {
            va = D_LOADU((const double *)a + i);
            vb = D_LOADU((const double *)b + i);
            vc = D_LOADU((const double *)c + i);
        }
        if (kind == 0)
            D_STOREU(t + i, D_MUL(D_SUB(vb, vc), D_ADD(D_SUB(va, vb), D_SUB(va, vc))));
        else if (kind == 1)
            D_STOREU(t + i, D_MUL(D_SUB(vb, vc), D_ADD(D_SUB(vb, va), D_SUB(vc, va))));
        else {
            D d = D_SUB(va, vb);
            D_STOREU(t + i, D_MUL(d, d));
        }
    }
    for (; i < n; i++)
        t[i] = term3(dpo_ld(a, f32, i), dpo_ld(b, f32, i), dpo_ld(c, f32, i), kind);
}

/* g[i] = dpo_grad_diff(coef, a[i], b[i]) = coef (a[i] - b[i]), stored as
 * float32 (rounded once) or float64. */
static M_TGT void M_NAME(grad_diff)(void *g, const void *a, const void *b, size_t n, double coef, int f32)
{
    const D vc = D_SET1(coef);
    size_t i = 0;
    if (f32)
        for (; i + DW <= n; i += DW)
            DF_STORE((float *)g + i,
                     D_MUL(vc, D_SUB(DF_LOAD((const float *)a + i), DF_LOAD((const float *)b + i))));
    else
        for (; i + DW <= n; i += DW)
            D_STOREU((double *)g + i,
                     D_MUL(vc, D_SUB(D_LOADU((const double *)a + i), D_LOADU((const double *)b + i))));
    for (; i < n; i++)
        dpo_st(g, f32, i, dpo_grad_diff(coef, dpo_ld(a, f32, i), dpo_ld(b, f32, i)));
}
