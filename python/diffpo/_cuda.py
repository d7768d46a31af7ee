"""The CUDA route: CUDA torch tensors to the drivers of include/diffpo_cuda.h.

Reached only with a CUDA=1 build of the library (_capi.HAS_CUDA) and CUDA
tensors that _core.arr has checked (float32 / float64, contiguous, dense,
every array of the call on one device).  The rules (docs/python.md, CUDA
tensors):

- work is enqueued on torch's current stream of the tensors' device
  (torch.cuda.current_stream(device).cuda_stream), with that device made
  current around the call when it is not; the call returns without
  waiting, as torch's own operations do;
- outputs and the drivers' scratch memory are new tensors on that device
  (torch.empty), allocated on the same stream, so torch's caching
  allocator reuses them only after the work that reads them;
- nothing is copied between devices, and nothing is synchronised: a
  loss's scalars (loss, z, ...) are 0-d float64 tensors on the device,
  views of the dpo_pair_result the kernel wrote (float(r.loss) waits);
- the CUDA forms are float32 (normals also float64), as the header's.

The results equal the CPU functions' bits (docs/cuda.md); the Python
package checks that on the CPU emulation of the runtime
(tests/py_cuda_route.py) and on a GPU with tests/gpu/py_cuda_bits.py.
"""
import ctypes as C

from . import _capi
from ._core import check

import torch

_F32, _F64 = torch.float32, torch.float64


def empty(shape, dtype, device):
    """Every output and workspace of the CUDA route (one place, so the
    emulation test can hand out its stand-in tensors)."""
    return torch.empty(shape, dtype=dtype, device=device)


def stream(device):
    """torch's current stream on device, as the cudaStream_t handle."""
    return torch.cuda.current_stream(device).cuda_stream


def _call(device, fn, *args):
    """fn(*args, stream) with device current; raises DiffpoError on a
    non-OK status."""
    idx = device.index
    if idx is None or idx == torch.cuda.current_device():
        st = fn(*args, stream(device))
    else:
        with torch.cuda.device(idx):
            st = fn(*args, stream(device))
    check(st, fn.__name__)


def _work(nbytes, device):
    """Scratch of nbytes on device, 8-byte aligned (float64 elements):
    (tensor, address, size)."""
    if nbytes == 0:
        return None, None, 0
    w = empty(((nbytes + 7) // 8,), _F64, device)
    return w, w.data_ptr(), nbytes


def _f32(a, what):
    if a.prec != "f32":
        raise TypeError("%s: a float64 tensor on %s, but include/diffpo_cuda.h has %s in float32 only; pass "
                        "%s.float(), or use CPU tensors for float64" % (a.name, a.dev, what, a.name))


def _out(a, shape=None, dtype=None):
    t = empty(a.shape if shape is None else tuple(shape), dtype or (_F32 if a.prec == "f32" else _F64),
              a.obj.device)
    return t, t.data_ptr()


# ------------------------------------------------------------------ normals
def normal(shape, coord, samples, e0, f32, device):
    """diffpo.normal(..., device=cuda): dpo_cuda_normal_f32 / _f64, or
    dpo_cuda_normal_batch_f32 for consecutive float32 rows from e0 = 0."""
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    out = empty(shape, _F32 if f32 else _F64, device)
    n = out.numel()
    if n == 0:
        return out
    p = out.data_ptr()
    if samples is None:
        _call(device, _capi.cuda_normal_f32 if f32 else _capi.cuda_normal_f64, p, coord, e0, n)
        return out
    rows = len(samples)
    dim = n // rows
    if f32 and e0 == 0 and list(samples) == list(range(samples[0], samples[0] + rows)):
        coord.sample = samples[0]
        _call(device, _capi.cuda_normal_batch_f32, p, coord, rows, dim)
        return out
    fn = _capi.cuda_normal_f32 if f32 else _capi.cuda_normal_f64
    w = 4 if f32 else 8
    for b, s in enumerate(samples):
        coord.sample = s
        _call(device, fn, p + b * dim * w, coord, e0, dim)
    return out


# --------------------------------------------------------------------- step
def step(sched, x, e, coef, lpm, z, coord, given_prev, pred_original_sample):
    """DDIMSchedule.step on CUDA tensors (float32): one call of
    dpo_cuda_step_f32 (noise given, or sigma = 0) or dpo_cuda_step_philox_f32
    (noise coordinates; row b from sample coord.sample + b), with the
    log-probability fused in (d_logp); with prev_sample given, the step
    without x_prev then dpo_cuda_step_logprob_f32 of the given x_{t-1}.
    Returns (prev, mean, log_prob, x0) with prev None when prev_sample was
    given (the caller returns the given tensor)."""
    from .schedule import StepOutput
    batch = x.shape[0] if len(x.shape) >= 2 else 1
    dim = x.size // batch
    device = x.obj.device
    mean, p_mean = _out(x)
    if pred_original_sample:
        x0, p_x0 = _out(x)
    else:
        x0, p_x0 = None, None
    c = C.byref(coef)
    if given_prev is not None:
        # x_prev is not written, so the noise is never used; the driver
        # wants a non-NULL noise where sigma != 0: the model output stands in
        _call(device, _capi.cuda_step_f32, None, p_x0, p_mean, None, x.ptr, e.ptr, e.ptr, batch, dim, c, 0, None, 0)
        lp = None
        if lpm is not None:
            lp, p_lp = _out(x, (batch,), _F64)
            work, p_w, nw = _work(_capi.cuda_reduce_workspace_size(batch, dim), device)
            _call(device, _capi.cuda_step_logprob_f32, p_lp, given_prev.ptr, p_mean, batch, dim, c, lpm, p_w, nw)
        return StepOutput(given_prev.obj, mean, lp, x0)
    prev, p_prev = _out(x)
    lp, p_lp, work, p_w, nw = None, None, None, None, 0
    if lpm is not None:
        lp, p_lp = _out(x, (batch,), _F64)
        work, p_w, nw = _work(_capi.cuda_step_workspace_size(batch, dim), device)
    if coord is not None:
        _call(device, _capi.cuda_step_philox_f32, p_prev, p_x0, p_mean, p_lp, x.ptr, e.ptr, coord, batch, dim, c,
              lpm or 0, p_w, nw)
    else:
        _call(device, _capi.cuda_step_f32, p_prev, p_x0, p_mean, p_lp, x.ptr, e.ptr, z.ptr if z is not None else None,
              batch, dim, c, lpm or 0, p_w, nw)
    return StepOutput(prev, mean, lp, x0)


def gauss_logprob(a, m, coef, lpm):
    """losses.gauss_logprob on CUDA tensors: dpo_cuda_step_logprob_f32."""
    _f32(a, "the step log-probability")
    batch = a.shape[0] if len(a.shape) >= 2 else 1
    dim = a.size // batch
    device = a.obj.device
    lp, p_lp = _out(a, (batch,), _F64)
    work, p_w, nw = _work(_capi.cuda_reduce_workspace_size(batch, dim), device)
    _call(device, _capi.cuda_step_logprob_f32, p_lp, a.ptr, m.ptr, batch, dim, C.byref(coef), lpm, p_w, nw)
    return lp


# ------------------------------------------------------------------- losses
def loss(cname, a, grad_names, params, extra, want_grads):
    """A loss of losses.py on CUDA tensors (float32): the driver writes the
    dpo_pair_result into device memory; its fields are returned as 0-d
    float64 tensors on the device (no synchronisation)."""
    from .losses import PairLoss, _RESULT_FIELDS
    fn = _capi.cuda_loss.get(cname)
    if fn is None:  # a loss of diffpo_loss.h without a driver in diffpo_cuda.h
        raise ValueError("%s: %s has no CUDA form in include/diffpo_cuda.h" % (a[0].name, cname))
    _f32(a[0], cname)
    n = a[0].size
    device = a[0].obj.device
    grads, ptrs = {}, []
    for g in grad_names:
        if want_grads:
            v, p = _out(a[0])
            grads[g] = v
            ptrs.append(p)
        else:
            ptrs.append(None)
    res = empty((len(_RESULT_FIELDS),), _F64, device)
    work, p_w, nw = _work(_capi.cuda_loss_workspace_size(n), device)
    _call(device, fn, res.data_ptr(), *ptrs, *[x.ptr for x in a], n, *extra, params, p_w, nw)
    r = object.__new__(PairLoss)
    for i, f in enumerate(_RESULT_FIELDS):
        setattr(r, f, res[i])
    r.grads = grads
    return r


def tailorpo_g_update(a, params):
    """losses.tailorpo_g_update on CUDA tensors: dpo_cuda_tailorpo_g_update_f32."""
    _f32(a[0], "the TailorPO-G update")
    out, po = _out(a[0])
    _call(a[0].obj.device, _capi.cuda_tailorpo_g_update_f32, po, a[0].ptr, a[1].ptr,
          a[2].ptr if len(a) > 2 else None, a[0].size, params)
    return out
