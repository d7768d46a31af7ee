"""Reader of the golden-vector files (docs/vectors.md) shipped with the
package: the independent high-precision generator's expected values of
every loss and gradient, used by diffpo.testing and the package's tests.

    for case in diffpo.vectors.cases("tailorpo"):
        case.fn, case.prec, case.reduce, case.params, case.inputs, case.outputs, case.tol
"""
import glob
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def directory():
    """Where the .vec files are: inside the installed package, or the
    repository's vectors/ in a source checkout (DIFFPO_VECTORS overrides)."""
    env = os.environ.get("DIFFPO_VECTORS")
    if env:
        return env
    inside = os.path.join(_HERE, "vectors")
    if glob.glob(os.path.join(inside, "*.vec")):
        return inside
    return os.path.join(os.path.dirname(os.path.dirname(_HERE)), "vectors")


class Case:
    """One case: name, fn, prec ('f32'/'f64'), reduce ('sum'/'mean'/None),
    params {name: float or int}, inputs {name: float64 array (values
    already rounded to prec)}, outputs {name: float64 array}, tol {name:
    (kind, value)}, got {name: array} (from `diffpo loss` output only),
    error (status string from `diffpo loss`, or None), file, line."""

    def __init__(self, name, file, line):
        self.name, self.file, self.line = name, file, line
        self.fn = self.prec = self.reduce = None
        self.params, self.inputs, self.outputs, self.tol, self.got = {}, {}, {}, {}, {}
        self.error = None

    def __repr__(self):
        return "Case(%s, fn=%s, prec=%s)" % (self.name, self.fn, self.prec)


def _num(tok):
    t = tok.lower()
    if "x" in t or "p" in t:
        return float.fromhex(tok)
    if any(c in t for c in ".en"):
        return float(tok)
    return int(tok)


def splitmix64(n, seed, lo, hi, base=None, f32=False):
    """The `gen ... splitmix64` array of docs/vectors.md section 3."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    w = np.float64(hi) - np.float64(lo)
    t = np.float64(lo) + w * u
    if base is not None:
        t = base + t
    if f32:
        t = t.astype(np.float32).astype(np.float64)
    return t


def parse(text, file="<string>"):
    """Cases of one file's text (also `diffpo loss` output, with got/error)."""
    out, cur = [], None
    for ln, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        key = parts[0]
        if key == "case":
            cur = Case(parts[1], file, ln)
            continue
        if cur is None:
            raise ValueError("%s:%d: record outside a case" % (file, ln))
        if key == "end":
            out.append(cur)
            cur = None
        elif key == "fn":
            cur.fn = parts[1]
        elif key == "prec":
            cur.prec = parts[1]
        elif key == "reduce":
            cur.reduce = parts[1]
        elif key == "param":
            cur.params[parts[1]] = _num(parts[2])
        elif key in ("in", "out", "got", "alt"):
            vals = np.array([_num(t) for t in parts[3:]], dtype=np.float64)
            if len(vals) != int(parts[2]):
                raise ValueError("%s:%d: %s %s: %d values, header says %s" % (file, ln, key, parts[1], len(vals), parts[2]))
            if key == "in":
                cur.inputs[parts[1]] = vals
            elif key == "out":
                cur.outputs[parts[1]] = vals
            elif key == "got":
                cur.got[parts[1]] = vals
        elif key == "gen":
            name, n, seed, lo, hi = parts[1], int(parts[2]), int(parts[4]), float.fromhex(parts[5]), float.fromhex(parts[6])
            base = cur.inputs[parts[7]] if len(parts) > 7 else None
            cur.inputs[name] = splitmix64(n, seed, lo, hi, base, cur.prec == "f32")
        elif key == "tol":
            cur.tol[parts[1]] = (parts[2], _num(parts[3]) if len(parts) > 3 else None)
        elif key == "error":
            cur.error = s[len("error"):].strip()
        elif key == "ref":
            pass
        else:
            raise ValueError("%s:%d: unknown record %r" % (file, ln, key))
    return out


def files():
    return sorted(glob.glob(os.path.join(directory(), "*.vec")))


def cases(fn=None):
    """Every case of every shipped file, or those of one function id
    (e.g. 'tailorpo', 'dspo.code')."""
    res = []
    for f in files():
        with open(f) as fh:
            res.extend(c for c in parse(fh.read(), os.path.basename(f)) if fn is None or c.fn == fn)
    return res


def split_name(name):
    """'grad_mu[16:16384:331]' -> ('grad_mu', slice(16, 16384, 331));
    'loss' -> ('loss', None).  Large outputs are stored as slices (§1)."""
    if "[" not in name:
        return name, None
    base, rest = name.split("[", 1)
    a, b, c = (int(v) for v in rest.rstrip("]").split(":"))
    return base, slice(a, b, c)


def pick(values, name):
    """The value of output `name` (slice suffix allowed) from a dict of
    full outputs, flattened to float64; None when the dict lacks it."""
    base, sl = split_name(name)
    if base not in values:
        return None
    v = values[base]
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return v[sl] if sl is not None else v


def ulp_p(m, prec):
    """Unit in the last place of m in the case precision (docs/vectors.md §6)."""
    if prec == "f32":
        if m < np.finfo(np.float32).tiny:
            return 2.0 ** -149
        return 2.0 ** (np.frexp(m)[1] - 24)
    if m < np.finfo(np.float64).tiny:
        return 2.0 ** -1074
    return 2.0 ** (np.frexp(m)[1] - 53)


def bound(case, name, expected):
    """The absolute bound of output `name` under its tol record (§6)."""
    kind, val = case.tol.get(name, ("exact", None) if name in ("order", "winner", "loser", "best", "worst", "valid")
                             else ("ulp", 4 if case.prec == "f64" else 2))
    M = float(np.max(np.abs(expected))) if len(expected) else 0.0
    if kind == "exact":
        return 0.0
    if kind == "ulp":
        return val * ulp_p(M, case.prec)
    if kind == "rel":
        return val * M
    return float(val)
