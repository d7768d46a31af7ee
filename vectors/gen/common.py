"""Shared machinery of the golden-vector generator (see docs/vectors.md).

Independent of the C library: values are computed here from the equations, with
exact rational reductions (fractions.Fraction) and mpmath at 60 significant digits
for everything transcendental, then correctly rounded to the case precision.
Inputs are generated with a splitmix64 stream and IEEE-754 double arithmetic only
(+, -, *, no libm), so the stored bytes do not depend on the platform.
"""
from fractions import Fraction
import math
import struct as _struct

import mpmath
from mpmath import mp, mpf

mp.dps = 60

U64 = (1 << 64) - 1
U53 = Fraction(1, 1 << 53)  # unit roundoff of binary64
GOLDEN = 0x9E3779B97F4A7C15


# --------------------------------------------------------------- rounding

_FMT = {"f64": (53, -1074), "f32": (24, -149)}
_TINY = {"f64": mpf(2) ** -1000, "f32": mpf(2) ** -120}  # precision bits, exponent of the least subnormal


def to_mpf(v):
    """Exact conversion of a float / Fraction / int (mpf for Fractions at 60 digits)."""
    if isinstance(v, Fraction):
        return mpf(v.numerator) / v.denominator
    return mpf(v)


def rn(v, prec):
    """Correctly rounded (to nearest, ties to even) value of v in binary64/32, as float."""
    bits, emin = _FMT[prec]
    if isinstance(v, float):
        if prec == "f64":
            return v
        v = Fraction(v)
    if not isinstance(v, Fraction):
        v = mpf(v)
        if v == 0:
            return 0.0
        if abs(v) > _TINY[prec]:
            # fast path: mpmath's own correct rounding to `bits` bits (normal range)
            sign, man, exp, bc = mpmath.libmp.normalize(*v._mpf_, bits, "n")
            r = math.ldexp(float(man), exp)
            return -r if sign else r
        m, e = mpmath.frexp(v)  # v = m * 2^e, 0.5 <= |m| < 1
        q = max(int(e) - bits, emin)
        scaled = mpmath.ldexp(v, -q)
        n = int(mpmath.nint(scaled))  # mpmath.nint: ties to even
        # guard against a 60-digit value sitting extremely close to a midpoint
        frac = abs(scaled - mpmath.floor(scaled) - mpf(0.5))
        if frac != 0 and frac < mpf(10) ** -40:
            raise ArithmeticError("value too close to a rounding midpoint")
        return math.ldexp(float(n), q)
    if v == 0:
        return 0.0
    num, den = abs(v.numerator), v.denominator
    e = num.bit_length() - den.bit_length()
    if (num << max(0, -e)) < (den << max(0, e)):
        e -= 1  # now 2^e <= |v| < 2^(e+1)
    q = max(e - (bits - 1), emin)
    scaled = Fraction(num, den) / (Fraction(2) ** q)
    n = round(scaled)  # Python rounds Fractions half to even
    r = math.ldexp(float(n), q)
    return -r if v < 0 else r


def f32(x):
    """binary64 -> binary32 rounding (to nearest even) of a Python float (C's cast)."""
    return _struct.unpack("<f", _struct.pack("<f", x))[0]


def store(x, prec):
    """Round a Python float input to the storage precision."""
    return x if prec == "f64" else f32(x)


def hexf(x):
    s = float(x).hex()
    return s


def ulp(m, prec):
    """Unit in the last place of |m| in the precision (smallest subnormal for tiny m)."""
    bits, emin = _FMT[prec]
    m = abs(float(m))
    if m == 0.0:
        return math.ldexp(1.0, emin)
    e = math.frexp(m)[1] - 1  # 2^e <= m < 2^(e+1)
    return math.ldexp(1.0, max(e - (bits - 1), emin))


def dec(x):
    return repr(float(x))


# --------------------------------------------------------------- random streams

def splitmix64_next(state):
    state = (state + GOLDEN) & U64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    z ^= z >> 31
    return state, z


def gen_array(n, seed, lo, hi, prec, base=None):
    """The `gen` record of docs/vectors.md §3 (binary64 arithmetic, then rounding)."""
    out = []
    st = seed & U64
    w = hi - lo
    for i in range(n):
        st, z = splitmix64_next(st)
        u = float(z >> 11) * 2.0 ** -53
        t = lo + w * u
        if base is not None:
            t = base[i] + t
        out.append(store(t, prec))
    return out


class Rng:
    """Deterministic source for the small inputs (splitmix64, double arithmetic only)."""

    def __init__(self, seed):
        self.st = seed & U64

    def u64(self):
        self.st, z = splitmix64_next(self.st)
        return z

    def uniform(self, lo=0.0, hi=1.0):
        u = float(self.u64() >> 11) * 2.0 ** -53
        return lo + (hi - lo) * u

    def int(self, lo, hi):
        """Integer in [lo, hi]."""
        return lo + self.u64() % (hi - lo + 1)

    def normal(self):
        """Approximately standard normal: scaled Irwin-Hall sum of 4 uniforms (exact ops)."""
        s = self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0
        return s * 1.7320508075688772

    def choice(self, seq):
        return seq[self.u64() % len(seq)]

    def logu(self, lo_exp, hi_exp):
        """2^k * (1 + u) with integer k uniform in [lo_exp, hi_exp]: scale spread over octaves."""
        k = self.int(lo_exp, hi_exp)
        return math.ldexp(1.0 + self.uniform(), k)


# --------------------------------------------------------------- exact helpers

def fixed(arrays):
    """Exact integer images of several arrays of floats/Fractions with dyadic values:
    returns (list of int lists, k) with value = int / 2^k."""
    k = 0
    ratios = []
    for a in arrays:
        r = [v.as_integer_ratio() for v in a]
        for _, den in r:
            b = den.bit_length() - 1
            if den != (1 << b):
                raise ValueError("non-dyadic value")
            if b > k:
                k = b
        ratios.append(r)
    return [[num << (k - (den.bit_length() - 1)) for num, den in r] for r in ratios], k

def F(x):
    return Fraction(x)


def sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def softplus(x):
    """log(1 + e^x), without cancellation for large |x|."""
    if x > 0:
        return x + mpmath.log1p(mpmath.exp(-x))
    return mpmath.log1p(mpmath.exp(x))


def red_m(n):
    """m of docs/losses.md: additions on the path of the canonical tree."""
    blocks = -(-n // 64)
    lev = 0
    while (1 << lev) < blocks:
        lev += 1
    return min(n, 64) - 1 + lev


def red_err(n, abs_sum):
    """First-order absolute error bound of a binary64 reduction of n terms whose
    absolute values sum to abs_sum (each term formed with a few roundings)."""
    return (red_m(n) + 8) * float(U53) * float(abs_sum)


def tol_for(prec, bound, M, base_ulps=None):
    """`tol NAME ulp k` from an absolute binary64 error bound (docs/vectors.md §6)."""
    M = abs(float(M))
    if prec == "f64":
        k = math.ceil(float(bound) / ulp(M, "f64")) if bound > 0 else 0
        return max(4 if base_ulps is None else base_ulps, k)
    k = math.ceil(float(bound) / ulp(M, "f32")) if bound > 0 else 0
    return max(2, 1 + k)


# --------------------------------------------------------------- case writer

class Case:
    def __init__(self, cid, fn, refs, prec, reduce=None):
        self.cid, self.fn, self.prec = cid, fn, prec
        self.lines = []
        self.head = ["case " + cid, "fn " + fn] + ["ref " + r for r in refs] + ["prec " + prec]
        if reduce is not None:
            self.head.append("reduce " + reduce)
        self.body = []
        self.outs = []
        self.notes = []

    def note(self, text):
        for t in text.split("\n"):
            self.notes.append("# " + t if t else "#")

    def param(self, name, v, integer=False):
        if integer:
            self.body.append("param %s %d" % (name, v))
        else:
            self.body.append("param %s %s" % (name, hexf(v)))
            self.body.append("# %s = %s" % (name, dec(v)))

    def inp(self, name, arr):
        self.body.append("in %s %d %s" % (name, len(arr), " ".join(hexf(v) for v in arr)))

    def gen(self, name, n, seed, lo, hi, base=None):
        s = "gen %s %d splitmix64 %d %s %s" % (name, n, seed, hexf(lo), hexf(hi))
        if base:
            s += " " + base
        self.body.append(s)

    def out(self, name, vals, tol=None, integer=False, comment=None):
        if comment:
            self.outs.append("# " + comment)
        if integer:
            self.outs.append("out %s %d %s" % (name, len(vals), " ".join("%d" % v for v in vals)))
            self.outs.append("tol %s exact" % name)
            return
        self.outs.append("out %s %d %s" % (name, len(vals), " ".join(hexf(v) for v in vals)))
        if len(vals) <= 4:
            self.outs.append("# %s = %s" % (name, " ".join(dec(v) for v in vals)))
        else:
            self.outs.append("# %s = %s ..." % (name, " ".join(dec(v) for v in vals[:3])))
        if tol is None:
            self.outs.append("tol %s exact" % name)
        else:
            self.outs.append("tol %s %s" % (name, tol))

    def alt(self, name, vals, comment):
        self.outs.append("# " + comment)
        self.outs.append("alt %s %d %s" % (name, len(vals), " ".join(hexf(v) for v in vals)))

    def text(self):
        return "\n".join(self.notes + self.head + self.body + self.outs + ["end", ""]) + "\n"


BIG = 64            # arrays longer than this are checked on slices
HEAD = 16
STRIDE = 331


def slices_of(n):
    """(start, stop, step) slices written for an output of n > BIG elements."""
    return [(0, HEAD, 1), (HEAD, n, STRIDE)]


def out_real(case, name, exact_vals, bound):
    """Round exact values to the case precision; emit with a tolerance from the bound.
    Long arrays are written as slices NAME[start:stop:step] (docs/vectors.md §2)."""
    prec = case.prec
    n = len(exact_vals)
    parts = [(name, exact_vals)] if n <= BIG else [
        ("%s[%d:%d:%d]" % (name, a, b, c), exact_vals[a:b:c]) for a, b, c in slices_of(n)]
    for nm, ex in parts:
        vals = [rn(v, prec) for v in ex]
        M = max(abs(to_mpf(v)) for v in ex)
        if M == 0 and bound > 0:
            # an exactly zero expected output: an absolute bound (2x the first-order bound)
            case.out(nm, vals, "abs %s" % hexf(float(2 * bound)))
            continue
        k = tol_for(prec, bound, M)
        case.out(nm, vals, "ulp %d" % k)


def numdiff(fun, x, h=Fraction(1, 1 << 70)):
    """Central difference of fun (taking a Fraction) at x, in mpmath."""
    return (to_mpf(fun(x + h)) - to_mpf(fun(x - h))) / to_mpf(2 * h)


def rel_gap(a, b):
    """Normwise relative gap of two sequences of mpf."""
    M = max([abs(v) for v in b] + [mpf(0)])
    d = max([abs(x - y) for x, y in zip(a, b)] + [mpf(0)])
    if M == 0:
        return d
    return d / M
