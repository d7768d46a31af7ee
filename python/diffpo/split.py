"""The splittable sum over samples (include/diffpo.h, dpo_split_*;
docs/reproducibility.md): per-sample vectors summed as a fixed binary tree
over GLOBAL sample indices, so that processes holding contiguous ranges of
the samples each reduce theirs to a few tree nodes and one combine of all
nodes in index order gives the bits of one process summing everything.

    import diffpo.split as ds
    vals, nodes = ds.reduce_range(x_rows, n, a)   # rows a .. a+len(x_rows)-1 of n
    total = ds.combine(all_vals, all_nodes, n)    # every rank's nodes, ascending
    ds.total(x) == ds.combine(*ds.reduce_range(x, len(x), 0), len(x))

Arrays are NumPy arrays (float32 or float64, C-contiguous, 2-D: rows are
samples); node values and sums are float64.  The prototypes are declared
here (not in _capi) so this module stands alone over the same library."""
import ctypes as C

import numpy as np

from . import _capi
from ._core import DiffpoError, check

__all__ = ["Node", "nodes", "reduce_range", "combine", "total", "workspace_size"]


class Node(C.Structure):
    """One tree node: samples [lo, hi) at tree level `level`."""
    _fields_ = [("lo", C.c_uint64), ("hi", C.c_uint64), ("level", C.c_int)]

    def __repr__(self):
        return "Node(lo=%d, hi=%d, level=%d)" % (self.lo, self.hi, self.level)


_lib = _capi.lib
_P_node = C.POINTER(Node)
_nodes = _lib.dpo_split_nodes
_nodes.restype, _nodes.argtypes = C.c_int, [_P_node, C.POINTER(C.c_size_t), C.c_uint64, C.c_uint64, C.c_uint64]
_ws = _lib.dpo_split_workspace_size
_ws.restype, _ws.argtypes = C.c_size_t, [C.c_uint64, C.c_size_t]
_range = {}
for _p, _ct in (("f32", C.c_float), ("f64", C.c_double)):
    f = getattr(_lib, "dpo_split_reduce_range_" + _p)
    f.restype = C.c_int
    f.argtypes = [_capi.P_f64, C.c_void_p, C.c_size_t, C.POINTER(_ct), C.c_size_t, C.c_uint64, C.c_uint64,
                  C.c_uint64]
    _range[_p] = f
_combine = _lib.dpo_split_combine
_combine.restype = C.c_int
_combine.argtypes = [_capi.P_f64, C.c_void_p, C.c_size_t, _capi.P_f64, _P_node, C.c_size_t, C.c_size_t,
                     C.c_uint64]


def _count(v, name, lo=0):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < lo:
        raise ValueError("%s: an integer >= %d, got %r" % (name, lo, v))
    return int(v)


def workspace_size(n, dim):
    """Bytes of workspace the C calls need for n samples of dim elements."""
    return int(_ws(_count(n, "n", 1), _count(dim, "dim", 1)))


def nodes(n, a, b):
    """The maximal tree nodes inside samples [a, b) of n, ascending."""
    n, a, b = _count(n, "n", 1), _count(a, "a"), _count(b, "b")
    cnt = C.c_size_t(0)
    check(_nodes(None, C.byref(cnt), n, a, b), "dpo_split_nodes")
    out = (Node * cnt.value)()
    check(_nodes(out, C.byref(cnt), n, a, b), "dpo_split_nodes")
    return list(out)


def _rows(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError("%s: a NumPy array (rows = samples), got %s" % (name, type(x).__name__))
    if x.dtype not in (np.float32, np.float64):
        raise TypeError("%s: dtype %s; float32 or float64" % (name, x.dtype))
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("%s: a non-empty 2-D array (samples, elements), got shape %s" % (name, x.shape))
    if not x.flags.c_contiguous:
        raise ValueError("%s: not C-contiguous; pass np.ascontiguousarray(%s)" % (name, name))
    return x


def reduce_range(x, n, a):
    """Node values of samples [a, a + len(x)) of n: returns (values, nodes),
    values a float64 (len(nodes), dim) array."""
    x = _rows(x, "x")
    n, a = _count(n, "n", 1), _count(a, "a")
    b = a + x.shape[0]
    nd = nodes(n, a, b)
    dim = x.shape[1]
    out = np.empty((len(nd), dim), np.float64)
    ws = np.empty(max(1, workspace_size(n, dim) // 8), np.float64)
    p = "f32" if x.dtype == np.float32 else "f64"
    ct = C.c_float if p == "f32" else C.c_double
    check(_range[p](out.ctypes.data_as(_capi.P_f64), ws.ctypes.data_as(C.c_void_p), ws.nbytes,
                    x.ctypes.data_as(C.POINTER(ct)), dim, n, a, b), "dpo_split_reduce_range_" + p)
    return out, nd


def combine(values, node_list, n):
    """The sum (float64, dim) from tree nodes partitioning [0, n) in ascending
    order and their values ((len(node_list), dim) float64)."""
    values = _rows(np.asarray(values), "values") if not isinstance(values, np.ndarray) else _rows(values, "values")
    if values.dtype != np.float64:
        raise TypeError("values: float64 node values (reduce_range's output), got %s" % values.dtype)
    n = _count(n, "n", 1)
    if len(node_list) != values.shape[0]:
        raise ValueError("values has %d rows for %d nodes" % (values.shape[0], len(node_list)))
    arr = (Node * len(node_list))(*[Node(p.lo, p.hi, p.level) for p in node_list])
    dim = values.shape[1]
    out = np.empty(dim, np.float64)
    ws = np.empty(max(1, workspace_size(n, dim) // 8), np.float64)
    check(_combine(out.ctypes.data_as(_capi.P_f64), ws.ctypes.data_as(C.c_void_p), ws.nbytes,
                   values.ctypes.data_as(_capi.P_f64), arr, len(node_list), dim, n), "dpo_split_combine")
    return out


def total(x):
    """One process's sum of all rows of x (the tree's root), float64."""
    x = _rows(x, "x")
    vals, _ = reduce_range(x, x.shape[0], 0)
    return vals[0].copy()


