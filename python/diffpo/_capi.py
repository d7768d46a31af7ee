"""Every C prototype, struct and enum the binding uses, in one place.

This module is the whole binding layer: the rest of the package calls the
library only through the names defined here.  When include/diffpo.h or
include/diffpo_loss.h change a signature, this file (and only this file)
changes with it.  Argument order and types are copied from the headers;
tests/py_package.py -> python/tests checks every function against the C
library's own outputs bit for bit, so a stale prototype shows up there.

ctypes (not cffi, not a compiled extension): the library's ABI is plain C99
(scalars, pointers, small structs passed by value), which ctypes calls
directly; ctypes ships with CPython, so `pip install ./python` needs only a
C compiler and make for libdiffpo.so itself, and nothing is compiled
against Python's headers (one wheel-free install for every Python 3.8+).
Its per-call overhead (a few microseconds, docs/performance.md) is small
against the work of one step or loss.
"""
import ctypes as C
import os
import sys

# ------------------------------------------------------------ the library
_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("DIFFPO_LIB")
    if env:
        return [env]
    out = [os.path.join(_HERE, "libdiffpo.so")]
    # a source checkout: python/diffpo -> repository root
    root = os.path.dirname(os.path.dirname(_HERE))
    out.append(os.path.join(root, "build", "libdiffpo.so"))
    return out


def _load():
    tried = []
    for path in _candidates():
        if os.path.exists(path):
            return C.CDLL(path), path
        tried.append(path)
    raise ImportError(
        "diffpo: libdiffpo.so not found (looked at %s). Install the package with "
        "`pip install ./python` from the repository root, or build the library with "
        "`make` and point DIFFPO_LIB at build/libdiffpo.so." % ", ".join(tried))


lib, LIB_PATH = _load()

# ------------------------------------------------------------------ types
c_int, c_double, c_float, c_size, c_u32, c_u64, c_i32 = (
    C.c_int, C.c_double, C.c_float, C.c_size_t, C.c_uint32, C.c_uint64, C.c_int32)
# float arrays pass as their data address (c_void_p): the binding checks
# dtype, shape, device and layout in Python before every call, and an
# integer address converts to a pointer far faster than a typed ctypes
# pointer object (docs/performance.md, per-call overhead)
P_f32 = C.c_void_p
P_f64 = C.c_void_p
P_int = C.POINTER(C.c_int)
P_i32 = C.POINTER(C.c_int32)
P_u32 = C.POINTER(C.c_uint32)
P_u64 = C.POINTER(C.c_uint64)
vp = C.c_void_p

DPO_MAX_TRAIN_STEPS = 4096

# dpo_status (include/diffpo.h)
STATUS_NAMES = {
    0: "DPO_OK", -1: "DPO_ERR_NULL", -2: "DPO_ERR_SIZE", -3: "DPO_ERR_RANGE",
    -4: "DPO_ERR_NONFINITE", -5: "DPO_ERR_SIGMA_ZERO", -6: "DPO_ERR_WORKSPACE",
    -7: "DPO_ERR_ALIAS", -8: "DPO_ERR_FORMAT", -9: "DPO_ERR_UNSUPPORTED",
    -10: "DPO_ERR_MODEL", -11: "DPO_ERR_CUDA", -12: "DPO_ERR_IO",
}
STATUS_CODES = {v: k for k, v in STATUS_NAMES.items()}
# enums
BETA = {"linear": 0, "scaled_linear": 1, "squaredcos_cap_v2": 2, "table": 3}
SPACING = {"leading": 0, "trailing": 1, "linspace": 2}
PREV_RULE = {"diffusers": 0, "clamped": 1}
PRED = {"epsilon": 0, "v_prediction": 1, "sample": 2}
STEP_KIND = {"ddim": 0, "ddpm": 1}
LOGPROB = {"sum": 0, "mean": 1}
RDPO_VARIANT = {"printed": 0, "intended": 1}
DQ_VARIANT = {"printed": 0, "gain": 1}
GUIDE_JAC = {"vjp": 0, "no_eps": 1}
STREAMS = {"init": 0, "step": 1, "resample": 2, "timestep": 3, "train": 4, "data": 5, "user": 256}


class NoiseCoord(C.Structure):
    _fields_ = [("seed", c_u64), ("stream", c_u32), ("sample", c_u32), ("step", c_u32),
                ("candidate", c_u32)]


class Schedule(C.Structure):
    _fields_ = [("num_train_steps", c_int), ("set_alpha_to_one", c_int), ("kind", c_int),
                ("ac32", c_float * DPO_MAX_TRAIN_STEPS), ("ac64", c_double * DPO_MAX_TRAIN_STEPS),
                ("final_ac32", c_float), ("final_ac64", c_double)]


class StepOpts(C.Structure):
    _fields_ = [("kind", c_int), ("pred", c_int), ("eta", c_double), ("clip", c_int),
                ("clip_range", c_double), ("use_clipped_output", c_int), ("prev_rule", c_int)]


_COEF_INTS = [("kind", c_int), ("pred", c_int), ("clip", c_int), ("use_clipped_output", c_int),
              ("t", c_int), ("prev_t", c_int)]
_COEF_REALS = ["alpha_t", "alpha_prev", "beta_t", "beta_prev", "sqrt_alpha_t", "sqrt_beta_t",
               "sqrt_alpha_prev", "sigma", "dir_coef", "mean_x0", "mean_xt", "clip_range"]


class StepCoefF32(C.Structure):
    _fields_ = _COEF_INTS + [(n, c_float) for n in _COEF_REALS]


class StepCoefF64(C.Structure):
    _fields_ = _COEF_INTS + [(n, c_double) for n in _COEF_REALS]


class PairResult(C.Structure):
    _fields_ = [("loss", c_double), ("z", c_double), ("sig_neg", c_double), ("lr_w", c_double),
                ("lr_l", c_double), ("dl_dlr_w", c_double), ("dl_dlr_l", c_double)]


class PairParams(C.Structure):
    _fields_ = [("beta", c_double), ("sigma", c_double), ("mode", c_int)]


class ClipParams(C.Structure):
    _fields_ = [("beta", c_double), ("clip_eps", c_double), ("sigma", c_double), ("mode", c_int)]


class RdpoParams(C.Structure):
    _fields_ = [("beta", c_double), ("lambda_", c_double), ("sigma", c_double), ("mode", c_int),
                ("variant", c_int)]


class EpsParams(C.Structure):
    _fields_ = [("beta", c_double), ("mode", c_int)]


class DspoParams(C.Structure):
    _fields_ = [("weight", c_double), ("beta_u", c_double), ("mode", c_int), ("stopgrad", c_int)]


class GuideParams(C.Structure):
    _fields_ = [("eta", c_double), ("delta", c_double), ("alpha", c_double), ("sign", c_int),
                ("jac", c_int)]


class SpoParams(C.Structure):
    _fields_ = [("thr", c_double), ("kappa", c_int)]


# ------------------------------------------------------------- prototypes
def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


S = c_int  # dpo_status
status_str = _fn("dpo_status_str", C.c_char_p, c_int)
version = _fn("dpo_version", C.c_char_p)
hash64 = _fn("dpo_hash64", c_u64, vp, c_size, c_u64)
sum_canonical = _fn("dpo_sum_canonical", c_double, P_f64, c_size)

philox4x32_10_block = _fn("dpo_philox4x32_10_block", None, P_u32, P_u32, P_u32)
normal_f32 = _fn("dpo_normal_f32", S, P_f32, NoiseCoord, c_u64, c_size)
normal_f64 = _fn("dpo_normal_f64", S, P_f64, NoiseCoord, c_u64, c_size)

schedule_init = _fn("dpo_schedule_init", S, C.POINTER(Schedule), c_int, c_double, c_double, c_int, c_int)
schedule_from_table = _fn("dpo_schedule_from_table", S, C.POINTER(Schedule), P_f32, P_f64, c_int, c_int)
timesteps = _fn("dpo_timesteps", S, P_i32, c_int, c_int, c_int, c_int)

step_opts_default = _fn("dpo_step_opts_default", StepOpts)
step_coef_f32_init = _fn("dpo_step_coef_f32_init", S, C.POINTER(StepCoefF32), C.POINTER(Schedule), c_int,
                         c_int, C.POINTER(StepOpts))
step_coef_f64_init = _fn("dpo_step_coef_f64_init", S, C.POINTER(StepCoefF64), C.POINTER(Schedule), c_int,
                         c_int, C.POINTER(StepOpts))
step_coef_f32_ddim = _fn("dpo_step_coef_f32_ddim", S, C.POINTER(StepCoefF32), c_float, c_float, c_float, c_int)
step_coef_f64_ddim = _fn("dpo_step_coef_f64_ddim", S, C.POINTER(StepCoefF64), c_double, c_double, c_double, c_int)
step_philox_f32 = _fn("dpo_step_philox_f32", S, P_f32, P_f32, P_f32, P_f32, P_f32, NoiseCoord, c_size,
                      C.POINTER(StepCoefF32))
step_philox_f64 = _fn("dpo_step_philox_f64", S, P_f64, P_f64, P_f64, P_f64, P_f64, NoiseCoord, c_size,
                      C.POINTER(StepCoefF64))
step_fused_f32 = _fn("dpo_step_fused_f32", S, P_f32, P_f32, P_f64, P_f32, P_f32, P_f32, C.POINTER(NoiseCoord), c_size,
                     c_size, C.POINTER(StepCoefF32), c_int)
step_f32 = _fn("dpo_step_f32", S, P_f32, P_f32, P_f32, P_f32, P_f32, P_f32, c_size, C.POINTER(StepCoefF32))
step_f64 = _fn("dpo_step_f64", S, P_f64, P_f64, P_f64, P_f64, P_f64, P_f64, c_size, C.POINTER(StepCoefF64))
step_logprob_f32 = _fn("dpo_step_logprob_f32", S, P_f64, P_f32, P_f32, c_size, c_size,
                       C.POINTER(StepCoefF32), c_int)
step_logprob_f64 = _fn("dpo_step_logprob_f64", S, P_f64, P_f64, P_f64, c_size, c_size,
                       C.POINTER(StepCoefF64), c_int)
dmu_dout_f32 = _fn("dpo_dmu_dout_f32", S, P_f64, C.POINTER(StepCoefF32))
dmu_dout_f64 = _fn("dpo_dmu_dout_f64", S, P_f64, C.POINTER(StepCoefF64))
grad_mu_to_out_f32 = _fn("dpo_grad_mu_to_out_f32", S, P_f32, P_f32, c_size, C.POINTER(StepCoefF32))
grad_mu_to_out_f64 = _fn("dpo_grad_mu_to_out_f64", S, P_f64, P_f64, c_size, C.POINTER(StepCoefF64))

# losses (include/diffpo_loss.h); the f32 and f64 twins have the same shape
PR = C.POINTER(PairResult)


def _twins(name, restype, make_args):
    return {"f32": _fn(name + "_f32", restype, *make_args(P_f32)),
            "f64": _fn(name + "_f64", restype, *make_args(P_f64))}


logratio = _twins("dpo_logratio", S, lambda P: (P_f64, P, P, P, c_size, c_double, c_int))
stepdpo = _twins("dpo_stepdpo", S, lambda P: (PR, P, P, P, P, P, P, P, P, c_size, PairParams))
d3po_code = _twins("dpo_d3po_code", S, lambda P: (PR, P, P, P, P, P, P, P, P, c_size, c_int, ClipParams))
tailorpo = _twins("dpo_tailorpo", S, lambda P: (PR, P, P, P, P, P, c_size, PairParams))
tailorpo_g_update = _twins("dpo_tailorpo_g_update", S, lambda P: (P, P, P, P, c_size, GuideParams))
rdpo = _twins("dpo_rdpo", S, lambda P: (PR, P, P, P, P, P, c_size, RdpoParams))
diffdpo = _twins("dpo_diffdpo", S, lambda P: (PR, P, P, P, P, P, P, P, P, c_size, EpsParams))
dspo = _twins("dpo_dspo", S, lambda P: (PR, P, P, P, P, P, P, P, P, c_size, DspoParams))

d3po_label = _fn("dpo_d3po_label", S, P_int, c_double, c_double)
rank_desc = _fn("dpo_rank_desc", S, P_int, P_f64, c_size)
tailorpo_g_eta = _fn("dpo_tailorpo_g_eta", S, P_f64, c_double, c_double, c_double, c_double)
rdpo_delta_q = _fn("dpo_rdpo_delta_q", S, P_f64, P_f64, c_double, c_size, c_int)
spo_select = _fn("dpo_spo_select", S, P_int, P_int, P_int, P_f64, c_size, c_int, SpoParams)
spo_resample_index = _fn("dpo_spo_resample_index", S, P_u32, c_u64, c_u32, c_u32, c_u32)
dspo_params_paper = _fn("dpo_dspo_params_paper", DspoParams, c_double, c_double, c_int)
dspo_params_code = _fn("dpo_dspo_params_code", DspoParams, c_double, c_int)

# DDPO (include/diffpo_loss.h): the clipped-ratio policy-gradient loss of one sample
class DdpoParams(C.Structure):
    _fields_ = [("clip_eps", c_double), ("adv_clip", c_double), ("sigma", c_double), ("mode", c_int)]


class DdpoResult(C.Structure):
    _fields_ = [("loss", c_double), ("lr", c_double), ("ratio", c_double), ("adv", c_double),
                ("dl_dlr", c_double), ("clipped", c_int)]


ddpo = _twins("dpo_ddpo", S, lambda P: (C.POINTER(DdpoResult), P, P, P, P, c_size, c_double, DdpoParams))
ddpo_from_logratio = _fn("dpo_ddpo_from_logratio", S, C.POINTER(DdpoResult), c_double, c_double, DdpoParams)
ddpo_advantages = _fn("dpo_ddpo_advantages", S, P_f64, P_f64, vp, c_size, c_size, c_double)
step_fused_x0_f32 = _fn("dpo_step_fused_x0_f32", S, P_f32, P_f32, P_f32, P_f64, P_f32, P_f32, P_f32,
                        C.POINTER(NoiseCoord), c_size, c_size, C.POINTER(StepCoefF32), c_int)

# Threaded forms (diffpo.h "threads", docs/api.md "Threads"): the calls
# above plus the thread count; the same bits for every count.
DPO_MAX_THREADS = 256
normal_f32_mt = _fn("dpo_normal_f32_mt", S, P_f32, NoiseCoord, c_u64, c_size, c_int)
normal_f64_mt = _fn("dpo_normal_f64_mt", S, P_f64, NoiseCoord, c_u64, c_size, c_int)
step_philox_f32_mt = _fn("dpo_step_philox_f32_mt", S, P_f32, P_f32, P_f32, P_f32, P_f32, NoiseCoord, c_size,
                         C.POINTER(StepCoefF32), c_int)
step_philox_f64_mt = _fn("dpo_step_philox_f64_mt", S, P_f64, P_f64, P_f64, P_f64, P_f64, NoiseCoord, c_size,
                         C.POINTER(StepCoefF64), c_int)
step_fused_x0_f32_mt = _fn("dpo_step_fused_x0_f32_mt", S, P_f32, P_f32, P_f32, P_f64, P_f32, P_f32, P_f32,
                           C.POINTER(NoiseCoord), c_size, c_size, C.POINTER(StepCoefF32), c_int, c_int)

# CUDA (include/diffpo_cuda.h): present only in a CUDA=1 build of the
# library; None in a CPU build.  Every d_* pointer is device memory (a CUDA
# tensor's data_ptr()), the last argument the cudaStream_t (an integer
# handle, torch's cuda_stream); the routing is python/diffpo/_cuda.py.
HAS_CUDA = hasattr(lib, "dpo_cuda_step_f32")


def _cfn(name, restype, *argtypes):
    return _fn(name, restype, *argtypes) if HAS_CUDA else None


PC_coef = C.POINTER(StepCoefF32)
cuda_normal_f32 = _cfn("dpo_cuda_normal_f32", S, P_f32, NoiseCoord, c_u64, c_size, vp)
cuda_normal_f64 = _cfn("dpo_cuda_normal_f64", S, P_f64, NoiseCoord, c_u64, c_size, vp)
cuda_normal_batch_f32 = _cfn("dpo_cuda_normal_batch_f32", S, P_f32, NoiseCoord, c_size, c_size, vp)
cuda_reduce_workspace_size = _cfn("dpo_cuda_reduce_workspace_size", c_size, c_size, c_size)
cuda_step_logprob_f32 = _cfn("dpo_cuda_step_logprob_f32", S, P_f64, P_f32, P_f32, c_size, c_size, PC_coef, c_int,
                             vp, c_size, vp)
cuda_step_workspace_size = _cfn("dpo_cuda_step_workspace_size", c_size, c_size, c_size)
cuda_step_f32 = _cfn("dpo_cuda_step_f32", S, P_f32, P_f32, P_f32, P_f64, P_f32, P_f32, P_f32, c_size, c_size,
                     PC_coef, c_int, vp, c_size, vp)
cuda_step_philox_f32 = _cfn("dpo_cuda_step_philox_f32", S, P_f32, P_f32, P_f32, P_f64, P_f32, P_f32, NoiseCoord,
                            c_size, c_size, PC_coef, c_int, vp, c_size, vp)
cuda_loss_workspace_size = _cfn("dpo_cuda_loss_workspace_size", c_size, c_size)
# the losses: d_res (a device dpo_pair_result), gradients, inputs, n, [label,]
# params, d_work, work_size, stream; keyed like the CPU tables' names
_W = (vp, c_size, vp)
cuda_loss = {
    "dpo_stepdpo": _cfn("dpo_cuda_stepdpo_f32", S, vp, *[P_f32] * 8, c_size, PairParams, *_W),
    "dpo_d3po_code": _cfn("dpo_cuda_d3po_code_f32", S, vp, *[P_f32] * 8, c_size, c_int, ClipParams, *_W),
    "dpo_tailorpo": _cfn("dpo_cuda_tailorpo_f32", S, vp, *[P_f32] * 5, c_size, PairParams, *_W),
    "dpo_rdpo": _cfn("dpo_cuda_rdpo_f32", S, vp, *[P_f32] * 5, c_size, RdpoParams, *_W),
    "dpo_diffdpo": _cfn("dpo_cuda_diffdpo_f32", S, vp, *[P_f32] * 8, c_size, EpsParams, *_W),
    "dpo_dspo": _cfn("dpo_cuda_dspo_f32", S, vp, *[P_f32] * 8, c_size, DspoParams, *_W),
}
cuda_tailorpo_g_update_f32 = _cfn("dpo_cuda_tailorpo_g_update_f32", S, P_f32, P_f32, P_f32, P_f32, c_size,
                                  GuideParams, vp)


def byteorder_ok():
    return sys.byteorder == "little"
