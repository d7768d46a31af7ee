"""Argument checking and array plumbing shared by the public functions.

Arrays are NumPy arrays or torch tensors (float32 / float64, C-contiguous,
on the CPU; CUDA tensors where a function has a CUDA form and the library
is a CUDA=1 build: python/diffpo/_cuda.py).  Nothing is copied, and never
between devices: the library reads and writes the caller's memory through
its data pointer.  A wrong dtype, layout, device or shape
raises before the library is called, with the argument's name in the
message; a non-OK dpo_status raises DiffpoError carrying the status name.
"""
import ctypes as C

import numpy as np

from . import _capi

try:  # torch is optional
    import torch as _torch
except Exception:  # pragma: no cover - torch missing or broken
    _torch = None


_from_buffer = C.c_char.from_buffer
_addressof = C.addressof


def addr(x):
    """The data address of a C-contiguous NumPy array (from_buffer is the
    fastest route for writable arrays; read-only ones use the array
    interface)."""
    try:
        return _addressof(_from_buffer(x))
    except (TypeError, ValueError, BufferError):
        return x.__array_interface__["data"][0]


class DiffpoError(RuntimeError):
    """A non-OK dpo_status from the library.  .status is the name
    (e.g. "DPO_ERR_SIGMA_ZERO"), .code the integer, .function the C
    function that returned it."""

    def __init__(self, code, function):
        self.code = int(code)
        self.status = _capi.STATUS_NAMES.get(self.code, "dpo_status %d" % self.code)
        self.function = function
        msg = _capi.status_str(self.code)
        msg = msg.decode() if msg else ""
        super().__init__("%s: %s (%s)" % (function, self.status, msg))


def check(st, function):
    if st != 0:
        raise DiffpoError(st, function)


def is_torch(x):
    return _torch is not None and isinstance(x, _torch.Tensor)


_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


class Arr:
    """A checked view of one argument: .kind 'numpy' or 'torch', .prec
    'f32' or 'f64', .shape, .size, .ptr (the data address), .obj, .dev
    (None: host memory; 'cuda:N': a CUDA tensor's device memory)."""
    __slots__ = ("name", "obj", "kind", "prec", "shape", "size", "ptr", "dev")


def _where(a):
    return "in host memory" if a.dev is None else "on " + a.dev


def mixed(a, on):
    """The error of an argument on another device than the call's first."""
    raise ValueError("%s: %s, but %s is %s; diffpo never copies between devices: put every array of the call "
                     "on one device" % (a.name, _where(a), on.name, _where(on)))


def arr(x, name, prec=None, shape=None, allow_list=True, on=False):
    """Checks x and returns an Arr.  prec, when given, is the precision
    every argument of the call must share; shape, when given, must match.
    on: False, host memory only (the function has no CUDA form); True,
    host memory or a CUDA tensor (the first array of a function with a
    CUDA form); an Arr, the same device as that array (named in the
    error)."""
    a = Arr()
    a.name = name
    if type(x) is np.ndarray:  # the common case first
        p = _DTYPES.get(x.dtype)
        if p is not None and x.flags.c_contiguous:
            a.kind, a.shape, a.size, a.ptr, a.prec, a.obj, a.dev = "numpy", x.shape, x.size, \
                addr(x), p, x, None
            if on is not False and on is not True and on.dev is not None:
                mixed(a, on)
            if prec is not None and p != prec:
                raise TypeError("%s: dtype %s, but the other arguments are %s; diffpo does not mix precisions"
                                % (name, x.dtype, "float32" if prec == "f32" else "float64"))
            if shape is not None and a.shape != tuple(shape):
                raise ValueError("%s: shape %s, expected %s" % (name, a.shape, tuple(shape)))
            return a
    if is_torch(x):
        if x.layout != _torch.strided:
            raise TypeError("%s: a torch tensor with layout %s; diffpo needs a dense (strided) tensor"
                            % (name, x.layout))
        if x.device.type != "cpu":
            return _device_arr(x, a, prec, shape, on)
        if x.dtype == _torch.float32:
            p = "f32"
        elif x.dtype == _torch.float64:
            p = "f64"
        else:
            raise TypeError("%s: dtype %s; diffpo takes float32 or float64" % (name, x.dtype))
        if not x.is_contiguous():
            raise ValueError("%s: a non-contiguous tensor (strides %s); pass %s.contiguous()"
                             % (name, tuple(x.stride()), name))
        if x.requires_grad and _torch.is_grad_enabled():
            raise ValueError("%s: requires grad; use diffpo.torch for differentiable losses, or "
                             "pass %s.detach()" % (name, name))
        a.kind = "torch"
        a.shape = tuple(x.shape)
        a.size = x.numel()
        a.ptr = x.data_ptr()
    else:
        if not isinstance(x, np.ndarray):
            if not allow_list:
                raise TypeError("%s: expected a NumPy array or torch tensor, got %s" % (name, type(x).__name__))
            if isinstance(x, (list, tuple)) or np.isscalar(x):
                x = np.asarray(x, dtype=np.float64 if prec in (None, "f64") else np.float32)
            else:
                raise TypeError("%s: expected a NumPy array or torch tensor, got %s" % (name, type(x).__name__))
        if not x.dtype.isnative:
            raise TypeError("%s: byte order %s; diffpo takes native (little-endian) arrays" % (name, x.dtype))
        p = _DTYPES.get(x.dtype)
        if p is None:
            raise TypeError("%s: dtype %s; diffpo takes float32 or float64" % (name, x.dtype))
        if not x.flags.c_contiguous:
            raise ValueError("%s: not C-contiguous; pass np.ascontiguousarray(%s)" % (name, name))
        a.kind = "numpy"
        a.shape = tuple(x.shape)
        a.size = x.size
        a.ptr = addr(x)
    a.prec = p
    a.obj = x
    a.dev = None
    if on is not False and on is not True and on.dev is not None:
        mixed(a, on)
    if prec is not None and p != prec:
        raise TypeError("%s: dtype %s, but the other arguments are %s; diffpo does not mix precisions"
                        % (name, "float32" if p == "f32" else "float64", "float32" if prec == "f32" else "float64"))
    if shape is not None and a.shape != tuple(shape):
        raise ValueError("%s: shape %s, expected %s" % (name, a.shape, tuple(shape)))
    return a


def _device_arr(x, a, prec, shape, on):
    """A tensor that is not on the CPU: a CUDA tensor becomes an Arr with
    .dev 'cuda:N' where the call allows it (on) and the library has the
    CUDA drivers; everything else raises, naming the argument."""
    name, dev = a.name, x.device
    if dev.type != "cuda":
        raise ValueError("%s: a tensor on %s; diffpo takes CPU and CUDA tensors only, and nothing is copied "
                         "between devices implicitly: pass %s.cpu() if that is what you want" % (name, dev, name))
    if not _capi.HAS_CUDA:
        raise ValueError("%s: a CUDA tensor (%s), but this libdiffpo (%s) is a CPU build without the CUDA "
                         "drivers of include/diffpo_cuda.h: install with DIFFPO_MAKE_ARGS=\"CUDA=1\" pip install "
                         "./python (docs/python.md, CUDA tensors); nothing is copied between devices implicitly: "
                         "pass %s.cpu() if that is what you want" % (name, dev, _capi.LIB_PATH, name))
    if on is False:
        raise ValueError("%s: a CUDA tensor (%s), but this function has no CUDA form in include/diffpo_cuda.h "
                         "(docs/python.md lists those that route CUDA tensors); nothing is copied between devices "
                         "implicitly: pass %s.cpu() if that is what you want" % (name, dev, name))
    idx = dev.index
    if idx is None:
        idx = _torch.cuda.current_device()
    a.dev = "cuda:%d" % idx
    if on is not True and on.dev != a.dev:
        mixed(a, on)
    if x.dtype == _torch.float32:
        p = "f32"
    elif x.dtype == _torch.float64:
        p = "f64"
    else:
        raise TypeError("%s: dtype %s; diffpo takes float32 or float64" % (name, x.dtype))
    if not x.is_contiguous():
        raise ValueError("%s: a non-contiguous tensor (strides %s); pass %s.contiguous()"
                         % (name, tuple(x.stride()), name))
    if x.requires_grad and _torch.is_grad_enabled():
        raise ValueError("%s: requires grad; pass %s.detach()" % (name, name))
    a.kind = "torch"
    a.shape = tuple(x.shape)
    a.size = x.numel()
    a.ptr = x.data_ptr()
    a.prec = p
    a.obj = x
    if prec is not None and p != prec:
        raise TypeError("%s: dtype %s, but the other arguments are %s; diffpo does not mix precisions"
                        % (name, "float32" if p == "f32" else "float64", "float32" if prec == "f32" else "float64"))
    if shape is not None and a.shape != tuple(shape):
        raise ValueError("%s: shape %s, expected %s" % (name, a.shape, tuple(shape)))
    return a


def writable(a):
    if a.kind == "numpy" and not a.obj.flags.writeable:
        raise ValueError("%s: read-only array" % a.name)
    return a


def same(args, names, shape=None, on=False):
    """Checks several arrays that must share precision and shape (and, with
    on=True, one device: the first array's)."""
    out = []
    prec = None
    for x, n in zip(args, names):
        a = arr(x, n, prec=prec, shape=shape, on=on)
        if on is True:
            on = a
        prec = a.prec
        shape = a.shape
        out.append(a)
    return out


def empty_like(a, shape=None, prec=None):
    """A new output of a's kind (NumPy or torch), shape and precision."""
    shape = a.shape if shape is None else tuple(shape)
    prec = prec or a.prec
    n = np.empty(shape, dtype=np.float32 if prec == "f32" else np.float64)
    if a.kind == "torch":
        # NumPy's allocation (which asks Linux for huge pages on large
        # arrays: far fewer page faults on first write than torch.empty),
        # shared zero-copy by the returned tensor
        return _torch.from_numpy(n), addr(n)
    return n, addr(n)


def f64_out(n, like=None):
    v = np.empty(n, dtype=np.float64)
    return v, addr(v)


def to_kind(v, like):
    """NumPy array v as like's kind (torch tensors share v's memory)."""
    if like is not None and like.kind == "torch":
        return _torch.from_numpy(v)
    return v


def mode(logprob, name="logprob"):
    try:
        return _capi.LOGPROB[logprob]
    except (KeyError, TypeError):
        raise ValueError("%s: need 'sum' or 'mean', got %r" % (name, logprob)) from None


def choice(table, value, name):
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError("%s: need one of %s, got %r" % (name, ", ".join(sorted(table)), value)) from None


def real(v, name):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError("%s: need a number, got %r" % (name, v)) from None
    return f


def integer(v, name, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if is_torch(v) and v.numel() == 1 and not v.is_floating_point():
            v = int(v.item())
        else:
            raise TypeError("%s: need an integer, got %r" % (name, v))
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError("%s: %d is out of range [%s, %s]" % (name, v, lo, hi))
    return v
