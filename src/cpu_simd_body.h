/* One ISA's vector forms of the Philox normals, included by src/cpu_simd.c
 * once per x86-64 level with the V_* macros below defined for that ISA.
 *
 * The definition is the scalar element math in src/core/dpo_philox.h and
 * src/core/dpo_pmath.h.  Every function here performs, lane by lane,
 * exactly the IEEE-754 operations of its scalar counterpart in the same
 * order: separate multiply and add (never fused), correctly rounded
 * division and square root, exact integer and bit manipulations where the
 * scalar code uses them.  The result is therefore bit-identical to the
 * scalar code on every input of the domain stated at each function; the
 * domain of the Box-Muller inputs, u = (w + 1/2) 2^-32 for a 32-bit word
 * w, is all these forms are used on.  tests/test_simd.c checks every level
 * against the scalar form bit for bit.
 *
 * Macros the includer defines:
 *   V_TGT         function attribute enabling the ISA
 *   V_NAME(x)     x with the level's suffix
 *   V_W           doubles per vector (2, 4, 8); a Philox batch is 2 V_W blocks
 *   VD, VI, VM    double vector, integer vector, comparison mask
 *   VD_* VI_* VM_* the operations used below */

/* A double vector from 64-bit patterns. */
static V_TGT VD V_NAME(bitsd)(uint64_t u)
{
    return VI_AS_VD(VI64_SET1(u));
}

/* -x (sign flip, as unary minus in C). */
static V_TGT VD V_NAME(neg)(VD x)
{
    return VI_AS_VD(VI_XOR(VD_AS_VI(x), VI64_SET1(0x8000000000000000ULL)));
}

/* dpo_pm_round for 0 <= x < 2^52 (scalar: a = x, no sign handling needed). */
static V_TGT VD V_NAME(round_nonneg)(VD a)
{
    const VD big = VD_SET1(4503599627370496.0);
    VD r = VD_SUB(VD_ADD(a, big), big);
    VM tie = VM_AND(VD_CMPLT(r, a), VD_CMPEQ(VD_SUB(a, r), VD_SET1(0.5)));
    return VD_BLEND(tie, r, VD_ADD(r, VD_SET1(1.0)));
}

/* dpo_pm_floor for 0 <= x < 2^52. */
static V_TGT VD V_NAME(floor_nonneg)(VD x)
{
    VD r = V_NAME(round_nonneg)(x);
    return VD_BLEND(VD_CMPGT(r, x), r, VD_SUB(r, VD_SET1(1.0)));
}

/* dpo_log for normal finite x in (0, 1] (the Box-Muller u1). */
static V_TGT VD V_NAME(log01)(VD x)
{
    const VI bits = VD_AS_VI(x);
    VD kd, m, f, s, z, hfsq, R, t, res_core, res_gen;
    VM big;
    /* dpo_pm_frexp_sqrt2: biased exponent as an exact double, m in [1, 2) */
    kd = VD_SUB(VI_AS_VD(VI_OR(VI64_SRLI(bits, 52), VI64_SET1(0x4330000000000000ULL))),
                VD_SET1(4503599627370496.0));
    kd = VD_SUB(kd, VD_SET1(1023.0));
    m = VI_AS_VD(VI_OR(VI_AND(bits, VI64_SET1(0x000fffffffffffffULL)),
                       VI64_SET1(0x3ff0000000000000ULL)));
    /* positive doubles order as their bit patterns: m > sqrt 2 */
    big = VD_CMPGT(m, V_NAME(bitsd)(0x3ff6a09e667f3bcdULL));
    m = VD_BLEND(big, m, VD_MUL(m, VD_SET1(0.5))); /* exponent - 1, exact */
    kd = VD_BLEND(big, kd, VD_ADD(kd, VD_SET1(1.0)));
    f = VD_SUB(m, VD_SET1(1.0));
    s = VD_DIV(f, VD_ADD(VD_SET1(2.0), f));
    z = VD_MUL(s, s);
    hfsq = VD_MUL(VD_MUL(VD_SET1(0.5), f), f);
    R = VD_SET1(2.0 / 25.0);
    R = VD_ADD(VD_SET1(2.0 / 23.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 21.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 19.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 17.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 15.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 13.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 11.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 9.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 7.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 5.0), VD_MUL(z, R));
    R = VD_ADD(VD_SET1(2.0 / 3.0), VD_MUL(z, R));
    R = VD_MUL(z, R);
    t = VD_MUL(s, VD_ADD(hfsq, R));
    /* k == 0: dpo_pm_log1p_core(f) */
    res_core = VD_SUB(f, VD_SUB(hfsq, t));
    /* k != 0 */
    res_gen = VD_SUB(VD_MUL(kd, VD_SET1(DPO_PM_LN2_HI)),
                     VD_SUB(VD_SUB(hfsq, VD_ADD(t, VD_MUL(kd, VD_SET1(DPO_PM_LN2_LO)))), f));
    return VD_BLEND(VD_CMPEQ(kd, VD_SET1(0.0)), res_gen, res_core);
}

/* dpo_pm_two_prod_err(a, b, p). */
static V_TGT VD V_NAME(two_prod_err)(VD a, VD b, VD p)
{
    const VD split = VD_SET1(134217729.0);
    VD ca = VD_MUL(split, a), cb = VD_MUL(split, b);
    VD ah = VD_SUB(ca, VD_SUB(ca, a)), al = VD_SUB(a, ah);
    VD bh = VD_SUB(cb, VD_SUB(cb, b)), bl = VD_SUB(b, bh);
    return VD_ADD(VD_ADD(VD_ADD(VD_SUB(VD_MUL(ah, bh), p), VD_MUL(ah, bl)), VD_MUL(al, bh)),
                  VD_MUL(al, bl));
}

/* dpo_pm_sincos2pi_kernel. */
static V_TGT void V_NAME(sincos_kernel)(VD r, VD *s, VD *c)
{
    VD th = VD_MUL(r, VD_SET1(DPO_PM_2PI_HI));
    VD tl = VD_ADD(V_NAME(two_prod_err)(r, VD_SET1(DPO_PM_2PI_HI), th),
                   VD_MUL(r, VD_SET1(DPO_PM_2PI_LO)));
    VD z = VD_MUL(th, th);
    VD zl = V_NAME(two_prod_err)(th, th, z);
    VD ps, pc, hz, w, e;
    ps = VD_SET1(-1.0 / 121645100408832000.0);
    ps = VD_ADD(VD_SET1(1.0 / 355687428096000.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(-1.0 / 1307674368000.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(1.0 / 6227020800.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(-1.0 / 39916800.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(1.0 / 362880.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(-1.0 / 5040.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(1.0 / 120.0), VD_MUL(z, ps));
    ps = VD_ADD(VD_SET1(-1.0 / 6.0), VD_MUL(z, ps));
    *s = VD_ADD(th, VD_ADD(VD_SUB(tl, VD_MUL(tl, VD_MUL(VD_SET1(0.5), z))),
                           VD_MUL(th, VD_MUL(z, ps))));
    pc = VD_SET1(1.0 / 2432902008176640000.0);
    pc = VD_ADD(VD_SET1(-1.0 / 6402373705728000.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(1.0 / 20922789888000.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(-1.0 / 87178291200.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(1.0 / 479001600.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(-1.0 / 3628800.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(1.0 / 40320.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(-1.0 / 720.0), VD_MUL(z, pc));
    pc = VD_ADD(VD_SET1(1.0 / 24.0), VD_MUL(z, pc));
    hz = VD_MUL(VD_SET1(0.5), z);
    w = VD_SUB(VD_SET1(1.0), hz);
    e = VD_SUB(VD_SUB(VD_SET1(1.0), w), hz);
    *c = VD_ADD(w, VD_ADD(e, VD_SUB(VD_MUL(z, VD_MUL(z, pc)),
                                    VD_ADD(VD_MUL(VD_SET1(0.5), zl), VD_MUL(th, tl)))));
}

/* dpo_sincos2pi for u in (0, 1) (the Box-Muller u2; no sign, no integer
 * case).  The quadrant switch becomes selects. */
static V_TGT void V_NAME(sincos2pi01)(VD u, VD *s, VD *c)
{
    VD f = VD_SUB(u, V_NAME(floor_nonneg)(u));
    VD q = V_NAME(round_nonneg)(VD_MUL(VD_SET1(4.0), f));
    VD r = VD_SUB(f, VD_MUL(VD_SET1(0.25), q));
    VD ss, cc, nss, ncc, so, co;
    VM q1, q2, q3;
    V_NAME(sincos_kernel)(r, &ss, &cc);
    nss = V_NAME(neg)(ss);
    ncc = V_NAME(neg)(cc);
    /* ((int)q) & 3 with q in {0, ..., 4} */
    q1 = VD_CMPEQ(q, VD_SET1(1.0));
    q2 = VD_CMPEQ(q, VD_SET1(2.0));
    q3 = VD_CMPEQ(q, VD_SET1(3.0));
    so = VD_BLEND(q1, ss, cc);
    co = VD_BLEND(q1, cc, nss);
    so = VD_BLEND(q2, so, nss);
    co = VD_BLEND(q2, co, ncc);
    so = VD_BLEND(q3, so, ncc);
    co = VD_BLEND(q3, co, ss);
    *s = so;
    *c = co;
}

/* dpo_box_muller on words already converted to exact doubles. */
static V_TGT void V_NAME(box_muller)(VD w1, VD w2, VD *z0, VD *z1)
{
    const VD half = VD_SET1(0.5), scale = VD_SET1(2.3283064365386962890625e-10);
    VD u1 = VD_MUL(VD_ADD(w1, half), scale);
    VD u2 = VD_MUL(VD_ADD(w2, half), scale);
    VD r = VD_SQRT(VD_MUL(VD_SET1(-2.0), V_NAME(log01)(u1)));
    VD s, c;
    V_NAME(sincos2pi01)(u2, &s, &c);
    *z0 = VD_MUL(r, c);
    *z1 = VD_MUL(r, s);
}

/* hi and lo halves of m * a for every 32-bit lane of a. */
static V_TGT void V_NAME(mulhilo)(VI a, VI m, VI *hi, VI *lo)
{
    const VI lo32 = VI64_SET1(0x00000000ffffffffULL);
    VI even = VI_MUL_EPU32(a, m);
    VI odd = VI_MUL_EPU32(VI64_SRLI(a, 32), m);
    *hi = VI_OR(VI64_SRLI(even, 32), VI_ANDNOT(lo32, odd));
    *lo = VI_OR(VI_AND(even, lo32), VI64_SLLI(odd, 32));
}

/* Philox4x32-10 for 2 V_W consecutive blocks: word j of block block0 + i in
 * lane i of w[j]. */
static V_TGT void V_NAME(philox)(VI w[4], const uint32_t ctr[4], const uint32_t key[2],
                                 uint32_t block0)
{
    const VI m0 = VI32_SET1(DPO_PHILOX_M0), m1 = VI32_SET1(DPO_PHILOX_M1);
    VI c0 = VI32_ADD(VI32_SET1(block0), VI32_IOTA), c1 = VI32_SET1(ctr[1]);
    VI c2 = VI32_SET1(ctr[2]), c3 = VI32_SET1(ctr[3]);
    uint32_t k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < 10; r++) {
        VI hi0, lo0, hi1, lo1;
        if (r > 0) {
            k0 += DPO_PHILOX_W0;
            k1 += DPO_PHILOX_W1;
        }
        V_NAME(mulhilo)(c0, m0, &hi0, &lo0);
        V_NAME(mulhilo)(c2, m1, &hi1, &lo1);
        c0 = VI_XOR(VI_XOR(hi1, c1), VI32_SET1(k0));
        c2 = VI_XOR(VI_XOR(hi0, c3), VI32_SET1(k1));
        c1 = lo1;
        c3 = lo0;
    }
    w[0] = c0;
    w[1] = c1;
    w[2] = c2;
    w[3] = c3;
}

/* The four normals of V_W blocks from the low or high half of w[]:
 * z[j] lane i is element 4 i + j of that half's first block. */
static V_TGT void V_NAME(normals_half)(VD z[4], const VI w[4], int high)
{
    VD d0 = VI32_TO_VD(w[0], high), d1 = VI32_TO_VD(w[1], high);
    VD d2 = VI32_TO_VD(w[2], high), d3 = VI32_TO_VD(w[3], high);
    V_NAME(box_muller)(d0, d1, &z[0], &z[1]);
    V_NAME(box_muller)(d2, d3, &z[2], &z[3]);
}

/* Normals of nblocks whole blocks (a multiple of 2 V_W) from block0 on. */
static V_TGT void V_NAME(normal_f64)(double *out, const uint32_t ctr[4], const uint32_t key[2],
                                     uint32_t block0, size_t nblocks)
{
    size_t b;
    for (b = 0; b < nblocks; b += 2 * V_W) {
        VI w[4];
        VD z[4];
        int h;
        V_NAME(philox)(w, ctr, key, block0 + (uint32_t)b);
        for (h = 0; h < 2; h++) {
            V_NAME(normals_half)(z, w, h);
            VD_STORE4_F64(out + 4 * (b + (size_t)h * V_W), z);
        }
    }
}

static V_TGT void V_NAME(normal_f32)(float *out, const uint32_t ctr[4], const uint32_t key[2],
                                     uint32_t block0, size_t nblocks)
{
    size_t b;
    for (b = 0; b < nblocks; b += 2 * V_W) {
        VI w[4];
        VD z[4];
        int h;
        V_NAME(philox)(w, ctr, key, block0 + (uint32_t)b);
        for (h = 0; h < 2; h++) {
            V_NAME(normals_half)(z, w, h);
            VD_STORE4_F32(out + 4 * (b + (size_t)h * V_W), z);
        }
    }
}

/* Box-Muller on given words (for the tests): w holds nblocks * 4 words in
 * block order, nblocks a multiple of V_W. */
static V_TGT void V_NAME(words_f64)(double *out, const uint32_t *w, size_t nblocks)
{
    size_t b;
    int i, j;
    for (b = 0; b < nblocks; b += V_W) {
        double d[4][V_W];
        VD z[4];
        for (j = 0; j < 4; j++)
            for (i = 0; i < V_W; i++)
                d[j][i] = (double)w[4 * (b + (size_t)i) + (size_t)j];
        V_NAME(box_muller)(VD_LOADU(d[0]), VD_LOADU(d[1]), &z[0], &z[1]);
        V_NAME(box_muller)(VD_LOADU(d[2]), VD_LOADU(d[3]), &z[2], &z[3]);
        VD_STORE4_F64(out + 4 * b, z);
    }
}
