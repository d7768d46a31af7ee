"""Coordinate noise (Philox4x32-10) and XXH3 fingerprints."""
import ctypes as C

import numpy as np

from . import _capi
from ._core import arr, check, choice, integer, is_torch


def _stream(stream):
    if isinstance(stream, str):
        return choice(_capi.STREAMS, stream, "stream")
    return integer(stream, "stream", 0, 65535)


def _threads(threads):
    """threads= of normal() and DDIMSchedule.step(): an int in
    [1, DPO_MAX_THREADS], else ValueError naming it."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or \
            not 1 <= threads <= _capi.DPO_MAX_THREADS:
        raise ValueError("threads: need an integer in [1, %d], got %r" % (_capi.DPO_MAX_THREADS, threads))
    return int(threads)


def normal(shape, seed=0, stream="user", sample=0, step=0, candidate=0, dtype=np.float32, e0=0, device=None,
           threads=1):
    """Standard normals as a pure function of their coordinates
    (docs/reproducibility.md): element e of the tensor (seed, stream,
    sample, step, candidate) is the same whatever shape or piece asks for it.

    shape      the output shape; elements are numbered in C order from e0.
    sample     an int (one tensor of prod(shape) elements), or a sequence of
               shape[0] ints: row b is the tensor of sample[b] (how a batch
               of samples is drawn, e.g. DDIMSchedule.step(noise=...)).
    stream     a name (init, step, resample, timestep, train, data, user)
               or a number < 65536.
    dtype      float32 or float64 (NumPy dtype, its name or a torch dtype;
               a torch dtype returns a torch tensor).
    device     None (host memory), or a torch device: a CPU or CUDA torch
               tensor is returned; on CUDA (a CUDA=1 build of the library)
               the normals are drawn there on torch's current stream
               (dpo_cuda_normal_*), the same bits.
    threads    the most CPU threads the draw runs on (dpo_normal_*_mt;
               default 1, no thread created): the same bits for every
               count.  A thread costs tens of microseconds to start: worth
               it from about 10^5 elements per call (per row when sample
               is a sequence).  Not used on CUDA."""
    threads = _threads(threads)
    as_torch = False
    if device is not None:
        import torch
        device = torch.device(device)
        as_torch = True
        if device.type not in ("cpu", "cuda"):
            raise ValueError("device: %s; diffpo draws normals in host memory or on a CUDA device" % device)
        if device.type == "cuda" and not _capi.HAS_CUDA:
            raise ValueError("device: %s, but this libdiffpo (%s) is a CPU build without the CUDA drivers of "
                             "include/diffpo_cuda.h: install with DIFFPO_MAKE_ARGS=\"CUDA=1\" pip install ./python "
                             "(docs/python.md, CUDA tensors)" % (device, _capi.LIB_PATH))
    if not isinstance(dtype, (str, type, np.dtype)):
        import torch
        if dtype not in (torch.float32, torch.float64):
            raise TypeError("dtype: float32 or float64, got %s" % dtype)
        as_torch = True
        dtype = np.float32 if dtype == torch.float32 else np.float64
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype: float32 or float64, got %r" % (dtype,)) from None
    if dt not in (np.float32, np.float64):
        raise TypeError("dtype: float32 or float64, got %s" % dt)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(integer(s, "shape", 0) for s in shape)
    coord = _capi.NoiseCoord(integer(seed, "seed", 0, 2 ** 64 - 1), _stream(stream), 0,
                             integer(step, "step", 0, 2 ** 32 - 1), integer(candidate, "candidate", 0, 65535))
    e0 = integer(e0, "e0", 0)
    if device is not None and device.type == "cuda":
        from . import _cuda
        samples = None
        if isinstance(sample, (list, tuple, np.ndarray)):
            samples = [integer(s, "sample", 0, 2 ** 32 - 1) for s in sample]
            if len(shape) == 0 or len(samples) != shape[0]:
                raise ValueError("sample: %d sample indices for shape %s (need shape[0])" % (len(samples), shape))
        else:
            coord.sample = integer(sample, "sample", 0, 2 ** 32 - 1)
        return _cuda.normal(shape, coord, samples, e0, dt == np.float32, device)
    out = np.empty(shape, dtype=dt)
    if threads == 1:
        fn = _capi.normal_f32 if dt == np.float32 else _capi.normal_f64
        more = ()
    else:
        fn = _capi.normal_f32_mt if dt == np.float32 else _capi.normal_f64_mt
        more = (threads,)
    if isinstance(sample, (list, tuple, np.ndarray)):
        samples = [integer(s, "sample", 0, 2 ** 32 - 1) for s in sample]
        if len(shape) == 0 or len(samples) != shape[0]:
            raise ValueError("sample: %d sample indices for shape %s (need shape[0])" % (len(samples), shape))
        rows = out.reshape(len(samples), -1)
        for b, s in enumerate(samples):
            coord.sample = s
            check(fn(rows[b].ctypes.data, coord, e0, rows.shape[1], *more), fn.__name__)
    else:
        coord.sample = integer(sample, "sample", 0, 2 ** 32 - 1)
        check(fn(out.ctypes.data, coord, e0, out.size, *more), fn.__name__)
    if as_torch:
        import torch
        return torch.from_numpy(out)  # device None or cpu
    return out


def fingerprint(a, seed=0):
    """XXH3-64 of the array's raw little-endian bytes (dpo_hash64), as the
    library computes its fingerprints.  Any C-contiguous NumPy array or CPU
    torch tensor of any dtype; returns an int (format with '%016x')."""
    if is_torch(a):
        if a.device.type != "cpu":
            raise ValueError("a: a tensor on %s; fingerprint hashes host memory (dpo_hash64: "
                             "include/diffpo_cuda.h has no device form) and diffpo copies nothing between devices "
                             "implicitly: pass a.cpu() if that is what you want" % a.device)
        if not a.is_contiguous():
            raise ValueError("a: a non-contiguous tensor; pass a.contiguous()")
        ptr, nbytes = a.data_ptr(), a.numel() * a.element_size()
    elif isinstance(a, np.ndarray):
        if not a.flags.c_contiguous:
            raise ValueError("a: not C-contiguous; pass np.ascontiguousarray(a)")
        if a.dtype.byteorder == ">":
            raise ValueError("a: big-endian array; fingerprints are of little-endian bytes")
        ptr, nbytes = a.ctypes.data, a.nbytes
    elif isinstance(a, (bytes, bytearray)):
        buf = (C.c_char * len(a)).from_buffer_copy(a)
        return int(_capi.hash64(C.cast(buf, C.c_void_p), len(a), integer(seed, "seed", 0)))
    else:
        raise TypeError("a: need a NumPy array, a torch tensor or bytes, got %s" % type(a).__name__)
    return int(_capi.hash64(C.c_void_p(ptr), nbytes, integer(seed, "seed", 0, 2 ** 64 - 1)))


def sum_canonical(x):
    """The library's canonical sum of float64 values (docs/reproducibility.md)."""
    a = arr(x, "x", prec="f64")
    return float(_capi.sum_canonical(a.ptr, a.size))
