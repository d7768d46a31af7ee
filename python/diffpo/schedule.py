"""The DDIM schedule and step: a stand-in for diffusers' DDIMScheduler.step
and DDPO's ddim_step_with_logprob, computed by the C library."""
import ctypes as C
from collections import namedtuple

import numpy as np

from . import _capi
from ._core import (DiffpoError, _torch, addr, arr, check, choice, empty_like, f64_out, integer, mode, real, to_kind,
                    writable)
from .noise import normal

def _coords(noise):
    """noise=dict(seed=, step=, sample=0, stream='step', candidate=0) -> (NoiseCoord, first sample)."""
    from .noise import _stream
    if not isinstance(noise, dict):
        raise TypeError("noise: need a dict of coordinates (seed=, step=, sample=, stream=, candidate=)")
    kw = dict(noise)
    bad = set(kw) - {"seed", "step", "sample", "stream", "candidate"}
    if bad:
        raise TypeError("noise: unknown coordinate(s) %s" % ", ".join(sorted(bad)))
    c = _capi.NoiseCoord(integer(kw.get("seed", 0), "noise['seed']", 0, 2 ** 64 - 1),
                         _stream(kw.get("stream", "step")), 0, integer(kw.get("step", 0), "noise['step']", 0, 2 ** 32 - 1),
                         integer(kw.get("candidate", 0), "noise['candidate']", 0, 65535))
    return c, integer(kw.get("sample", 0), "noise['sample']", 0, 2 ** 32 - 1)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _outputs(a, k):
    """k (2 or 3) new outputs of a's kind, shape and precision, and their
    addresses (one allocation each: keeping one does not keep the others)."""
    shape, dt = a.shape, (_F32 if a.prec == "f32" else _F64)
    o0, o1 = np.empty(shape, dt), np.empty(shape, dt)
    o2 = np.empty(shape, dt) if k == 3 else None
    ptrs = (addr(o0), addr(o1), addr(o2) if k == 3 else None)
    if a.kind == "torch":
        from_numpy = _torch.from_numpy
        o0, o1 = from_numpy(o0), from_numpy(o1)
        if k == 3:
            o2 = from_numpy(o2)
    return (o0, o1, o2), ptrs


StepOutput = namedtuple("StepOutput", ["prev_sample", "mean", "log_prob", "pred_original_sample"])
StepOutput.__doc__ = """Result of DDIMSchedule.step.
prev_sample          x_{t-1} = mean + sigma z (sample-shaped, the input's dtype)
mean                 the step mean mu (sample-shaped)
log_prob             log N(prev_sample; mean, sigma^2 I) per sample, float64 (B,),
                     summed or averaged over the other elements (logprob=);
                     None when sigma = 0 or logprob=None
pred_original_sample x0_hat (sample-shaped)"""


def ddim_coefficients(alpha_t, alpha_prev, sigma, prediction_type="epsilon", dtype="float32"):
    """The library's step coefficients from alpha_t, alpha_prev and sigma
    given directly (dpo_step_coef_*_ddim: no schedule, no clipping), for
    dmu_dout / grad_mu_to_out of a step your own code defines."""
    pred = choice(_capi.PRED, prediction_type, "prediction_type")
    if np.dtype(dtype) == np.float32:
        c = _capi.StepCoefF32()
        check(_capi.step_coef_f32_ddim(C.byref(c), real(alpha_t, "alpha_t"), real(alpha_prev, "alpha_prev"),
                                       real(sigma, "sigma"), pred), "dpo_step_coef_f32_ddim")
    else:
        c = _capi.StepCoefF64()
        check(_capi.step_coef_f64_ddim(C.byref(c), real(alpha_t, "alpha_t"), real(alpha_prev, "alpha_prev"),
                                       real(sigma, "sigma"), pred), "dpo_step_coef_f64_ddim")
    return c


def dmu_dout(coef):
    """d mean / d model_output of a coefficient struct (ddim_coefficients)."""
    k = C.c_double()
    f32 = isinstance(coef, _capi.StepCoefF32)
    fn = _capi.dmu_dout_f32 if f32 else _capi.dmu_dout_f64
    check(fn(C.byref(k), C.byref(coef)), fn.__name__)
    return k.value


def grad_mu_to_out(grad_mu, coef):
    """The gradient with respect to the model output from one with respect
    to the step mean, for a coefficient struct (ddim_coefficients); the
    array's dtype must match the struct's."""
    g = arr(grad_mu, "grad_mu", prec="f32" if isinstance(coef, _capi.StepCoefF32) else "f64")
    res, p = empty_like(g)
    fn = _capi.grad_mu_to_out_f32 if g.prec == "f32" else _capi.grad_mu_to_out_f64
    check(fn(p, g.ptr, g.size, C.byref(coef)), fn.__name__)
    return res


SCALARS = ("ieee", "diffusers")


def _torch_scalars(ac32, final32, t, prev, eta):
    """The DDIM step's per-timestep scalars formed as diffusers 0.42.1's
    DDIMScheduler.step (schedulers/scheduling_ddim.py: step and
    _get_variance) forms them: PyTorch 0-d float32 tensors, the same
    operations in the same order (`x ** 0.5` is PyTorch's pow, which takes
    its sqrt kernel; that kernel is not correctly rounded on every build,
    docs/python.md).  DDPO's ddim_step_with_logprob applies the same
    operations to broadcast tensors; they give the same bits (measured,
    docs/python.md).  ac32: the float32 table as a CPU torch tensor; eta
    stays a Python float, as diffusers receives it."""
    acs = ac32
    alpha_prod_t = acs[t]
    alpha_prod_t_prev = acs[prev] if prev >= 0 else _torch.tensor(final32, dtype=_torch.float32)
    beta_prod_t = 1 - alpha_prod_t
    beta_prod_t_prev = 1 - alpha_prod_t_prev
    variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
    std_dev_t = eta * variance ** (0.5)
    return dict(alpha_t=alpha_prod_t, alpha_prev=alpha_prod_t_prev, beta_t=beta_prod_t,
                beta_prev=beta_prod_t_prev, sqrt_alpha_t=alpha_prod_t ** (0.5),
                sqrt_beta_t=beta_prod_t ** (0.5), sqrt_alpha_prev=alpha_prod_t_prev ** (0.5), sigma=std_dev_t,
                dir_coef=(1 - alpha_prod_t_prev - std_dev_t ** 2) ** (0.5))


class DDIMSchedule:
    """A noise schedule with diffusers' DDIMScheduler argument names and
    defaults.  alphas_cumprod is diffusers' float32 table bit for bit for
    'linear' and 'scaled_linear' (PyTorch 2.x on the CPU); a table of your
    own can be given with alphas_cumprod= (float32 or float64).

    prev_rule: 'diffusers' (prev = t - N//S, a negative prev uses
    final_alpha_cumprod) or 'clamped' (DDPO / D3PO / SPO public code:
    prev clamped to [0, N-1]).

    scalars: how the step's per-timestep scalars (sqrt(alpha_t),
    sqrt(1-alpha_t), sqrt(alpha_prev), sigma, sqrt(1-alpha_prev-sigma^2))
    are rounded.  'ieee' (default): correctly rounded by the library, the
    same bits on every machine and PyTorch build.  'diffusers': computed
    with PyTorch exactly as diffusers' DDIMScheduler.step (and DDPO's
    ddim_step_with_logprob) computes them, so that step() gives diffusers'
    bits on the same table, on this machine's PyTorch; needs torch.  The
    element pass is the library's in both modes (docs/python.md)."""

    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                 trained_betas=None, clip_sample=True, set_alpha_to_one=True, steps_offset=0,
                 prediction_type="epsilon", thresholding=False, clip_sample_range=1.0,
                 timestep_spacing="leading", rescale_betas_zero_snr=False, alphas_cumprod=None,
                 prev_rule="diffusers", scalars="ieee", **unused):
        if trained_betas is not None:
            raise NotImplementedError("trained_betas: pass the cumulative product as alphas_cumprod= instead")
        if thresholding:
            raise NotImplementedError("thresholding=True (dynamic thresholding) is not in diffpo")
        if rescale_betas_zero_snr:
            raise NotImplementedError("rescale_betas_zero_snr=True: pass the rescaled table as alphas_cumprod=")
        self.num_train_timesteps = integer(num_train_timesteps, "num_train_timesteps", 2, _capi.DPO_MAX_TRAIN_STEPS)
        self.set_alpha_to_one = bool(set_alpha_to_one)
        self.steps_offset = integer(steps_offset, "steps_offset", 0)
        self.timestep_spacing = timestep_spacing
        self._spacing = choice(_capi.SPACING, timestep_spacing, "timestep_spacing")
        self.prediction_type = prediction_type
        self._pred = choice(_capi.PRED, prediction_type, "prediction_type")
        self.clip_sample = bool(clip_sample)
        self.clip_sample_range = real(clip_sample_range, "clip_sample_range")
        self.prev_rule = prev_rule
        self._prev = choice(_capi.PREV_RULE, prev_rule, "prev_rule")
        if scalars not in SCALARS:
            raise ValueError("scalars: %r, expected one of %s" % (scalars, ", ".join(map(repr, SCALARS))))
        if scalars == "diffusers" and _torch is None:
            raise ValueError("scalars: 'diffusers' computes the step's scalars with PyTorch, which does not "
                             "import here (make deps installs it); use scalars='ieee'")
        self.scalars = scalars
        self.num_inference_steps = None
        self._cache = {}
        self._s = _capi.Schedule()
        if alphas_cumprod is not None:
            a = arr(alphas_cumprod, "alphas_cumprod", shape=(self.num_train_timesteps,))
            keep = a.obj  # noqa: F841 (alive during the call)
            st = _capi.schedule_from_table(C.byref(self._s), a.ptr if a.prec == "f32" else None,
                                           a.ptr if a.prec == "f64" else None, self.num_train_timesteps,
                                           int(self.set_alpha_to_one))
            check(st, "dpo_schedule_from_table")
            self.beta_schedule = "table"
        else:
            self.beta_schedule = beta_schedule
            kind = choice({k: v for k, v in _capi.BETA.items() if k != "table"}, beta_schedule, "beta_schedule")
            st = _capi.schedule_init(C.byref(self._s), kind, real(beta_start, "beta_start"),
                                     real(beta_end, "beta_end"), self.num_train_timesteps,
                                     int(self.set_alpha_to_one))
            check(st, "dpo_schedule_init")
        self.beta_start, self.beta_end = beta_start, beta_end

    @classmethod
    def from_config(cls, config, **overrides):
        """From a diffusers scheduler config (scheduler.config): unknown keys
        (e.g. '_class_name') are ignored."""
        kw = {k: v for k, v in dict(config).items() if not k.startswith("_")}
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def from_diffusers(cls, scheduler, scalars="diffusers", **overrides):
        """A stand-in for a diffusers DDIMScheduler: its config and its own
        float32 alphas_cumprod table (so trained_betas or
        rescale_betas_zero_snr tables come along), with diffusers' scalars
        by default, and its num_inference_steps if set_timesteps was
        called.  step() then gives scheduler.step's bits (docs/python.md)."""
        table = getattr(scheduler, "alphas_cumprod", None)
        if table is None or not hasattr(scheduler, "config"):
            raise TypeError("scheduler: need a diffusers scheduler (config and alphas_cumprod)")
        if hasattr(table, "detach"):
            table = table.detach().cpu().numpy()
        kw = {k: v for k, v in dict(scheduler.config).items()
              if not k.startswith("_") and k not in ("trained_betas", "rescale_betas_zero_snr")}
        kw.update(alphas_cumprod=table, scalars=scalars)
        kw.update(overrides)
        s = cls(**kw)
        S = getattr(scheduler, "num_inference_steps", None)
        if S is not None:
            s.set_timesteps(S)
        return s

    @property
    def alphas_cumprod(self):
        """float32 (N,) copy of the table (diffusers' alphas_cumprod)."""
        return np.ctypeslib.as_array(self._s.ac32)[: self.num_train_timesteps].copy()

    @property
    def alphas_cumprod_f64(self):
        return np.ctypeslib.as_array(self._s.ac64)[: self.num_train_timesteps].copy()

    @property
    def final_alpha_cumprod(self):
        return float(self._s.final_ac32)

    def timesteps(self, num_inference_steps):
        """The S inference timesteps in sampling order (descending), int64,
        under timestep_spacing and steps_offset."""
        S = integer(num_inference_steps, "num_inference_steps", 1, self.num_train_timesteps)
        out = (C.c_int32 * S)()
        check(_capi.timesteps(out, S, self.num_train_timesteps, self._spacing, self.steps_offset), "dpo_timesteps")
        return np.array(out, dtype=np.int64)

    def set_timesteps(self, num_inference_steps):
        """As diffusers: remembers S for step() and returns the timesteps."""
        ts = self.timesteps(num_inference_steps)
        self.num_inference_steps = int(num_inference_steps)
        return ts

    # ---------------------------------------------------------------- step
    def _opts(self, eta, use_clipped_model_output, prev_rule):
        o = _capi.step_opts_default()
        o.kind = _capi.STEP_KIND["ddim"]
        o.pred = self._pred
        o.eta = real(eta, "eta")
        o.clip = int(self.clip_sample)
        o.clip_range = self.clip_sample_range
        o.use_clipped_output = int(bool(use_clipped_model_output))
        o.prev_rule = self._prev if prev_rule is None else choice(_capi.PREV_RULE, prev_rule, "prev_rule")
        return o

    def coefficients(self, timestep, num_inference_steps=None, eta=0.0, use_clipped_model_output=False,
                     prev_rule=None, dtype="float32"):
        """The library's per-step coefficient struct (alpha_t, alpha_prev,
        sigma, dir_coef, ...) as a dict, as step() uses it (under this
        schedule's scalars=)."""
        c = self._coef(timestep, num_inference_steps, eta, use_clipped_model_output, prev_rule,
                       "f32" if np.dtype(dtype) == np.float32 else "f64")
        return {f: getattr(c, f) for f, _ in c._fields_}

    def _coef(self, timestep, S, eta, use_clipped_model_output, prev_rule, prec):
        return self._coef_ref(timestep, S, eta, use_clipped_model_output, prev_rule, prec)[0]

    def _coef_ref(self, timestep, S, eta, use_clipped_model_output, prev_rule, prec):
        """(coefficient struct, its ctypes reference): the reference made once
        and reused (converting a fresh byref costs most of a microsecond)."""
        # the coefficient struct is a pure function of these arguments and the
        # (immutable) table: cached, so a training loop pays for it once per step
        key = (timestep, self.num_inference_steps if S is None else S, eta, use_clipped_model_output, prev_rule,
               prec, self.scalars)
        try:
            return self._cache[key]
        except (KeyError, TypeError):
            pass
        c = self._coef_new(timestep, S, eta, use_clipped_model_output, prev_rule, prec)
        cr = (c, C.byref(c))
        if len(self._cache) < 65536:
            try:
                self._cache[key] = cr
            except TypeError:  # an unhashable timestep (a tensor): not cached
                pass
        return cr

    def _coef_new(self, timestep, S, eta, use_clipped_model_output, prev_rule, prec):
        S = self.num_inference_steps if S is None else S
        if S is None:
            raise ValueError("num_inference_steps: call set_timesteps(S) first or pass num_inference_steps=")
        S = integer(S, "num_inference_steps", 1, self.num_train_timesteps)
        t = integer(timestep, "timestep", 0, self.num_train_timesteps - 1)
        o = self._opts(eta, use_clipped_model_output, prev_rule)
        if prec == "f32" or self.scalars == "diffusers":
            c = _capi.StepCoefF32()
            check(_capi.step_coef_f32_init(C.byref(c), C.byref(self._s), t, S, C.byref(o)), "dpo_step_coef_f32_init")
        else:
            c = _capi.StepCoefF64()
            check(_capi.step_coef_f64_init(C.byref(c), C.byref(self._s), t, S, C.byref(o)), "dpo_step_coef_f64_init")
        if self.scalars == "diffusers":
            c = self._diffusers_scalars(c, o.eta, prec)
        return c

    def _diffusers_scalars(self, c, eta, prec):
        """The float32 struct c (made and checked by dpo_step_coef_f32_init:
        t, prev_t, kind, prediction, clipping) with its DDIM scalars
        replaced by PyTorch's (_torch_scalars).  For float64 samples the
        float32 scalars are widened, as diffusers' 0-d float32 tensors are
        when they multiply a float64 tensor."""
        v = {k: float(x) for k, x in _torch_scalars(self._ac32_view(), float(self._s.final_ac32), c.t, c.prev_t,
                                                        eta).items()}
        # checked here: dpo_step_fused_x0_f32 does not apply the coefficient rule to the struct
        bad = [k for k in ("sigma", "dir_coef") if not (np.isfinite(v[k]) and v[k] >= 0)]
        bad += [k for k, x in v.items() if not np.isfinite(x) and k not in bad]
        if bad:
            raise ValueError("eta: %r at timestep %d gives %s = %r with diffusers' scalars (1 - alpha_prev - "
                             "sigma^2 < 0 in PyTorch's float32: diffusers' own step is NaN there); "
                             "scalars='ieee' or a smaller eta" % (eta, c.t, bad[0], v[bad[0]]))
        if prec == "f64":
            d = _capi.StepCoefF64()
            for f, _ in d._fields_:
                setattr(d, f, getattr(c, f))
            d.clip_range = self.clip_sample_range  # diffusers clamps a float64 tensor at the double
            c = d
        for k, x in v.items():
            setattr(c, k, x)
        return c

    def _ac32_view(self):
        """The float32 table as a torch tensor (made once)."""
        try:
            return self._ac32_t
        except AttributeError:
            self._ac32_t = _torch.from_numpy(self.alphas_cumprod)
            return self._ac32_t

    def step(self, model_output, timestep, sample, eta=0.0, use_clipped_model_output=False, variance_noise=None,
             noise=None, prev_sample=None, logprob=None, num_inference_steps=None, prev_rule=None,
             pred_original_sample=True, threads=1):
        """One DDIM step from `timestep` (diffusers' DDIMScheduler.step;
        DDPO's ddim_step_with_logprob with logprob='mean', prev_rule='clamped').

        model_output, sample: (B, ...) float32 or float64 arrays/tensors of
        one shape and dtype.  The noise z of prev = mean + sigma z is
          variance_noise  an array of the sample's shape, or
          noise           coordinates dict(seed=, step=, sample=0, stream='step',
                          candidate=0): row b uses sample index sample + b
                          (diffpo.normal), or
          prev_sample     a given x_{t-1} (its log-probability is returned);
        none of them is needed when sigma = 0 (eta = 0) and no log-probability
        is asked for.
        logprob: 'sum' (the density of the whole sample), 'mean' (DDPO's
        per-element mean) or None (default: no log-probability).  Asking
        for one where sigma = 0 (eta = 0, or the last step with
        set_alpha_to_one) raises DiffpoError DPO_ERR_SIGMA_ZERO: the step is
        deterministic there.  pred_original_sample=False leaves x0 out
        (None).  float32 steps run as one fused pass (dpo_step_fused_x0_f32:
        the same bits as the step followed by its log-probability) unless
        prev_sample is given.  threads: the most CPU threads that pass (whole
        rows per thread, dpo_step_fused_x0_f32_mt) or, for float64, the
        step with noise= coordinates (dpo_step_philox_f64_mt) runs on;
        default 1 (no thread created); the same bits for every count; not
        used for CUDA tensors nor where nothing above runs (float64 with
        variance_noise, prev_sample).  Returns StepOutput."""
        from .noise import _threads
        threads = _threads(threads)
        x = arr(sample, "sample", on=True)
        e = arr(model_output, "model_output", prec=x.prec, shape=x.shape, on=x)
        if x.size == 0:
            raise ValueError("sample: empty")
        if x.dev is not None:  # CUDA tensors: include/diffpo_cuda.h (_cuda.py)
            from . import _cuda
            _cuda._f32(x, "the DDIM step")
        if variance_noise is not None:
            if noise is not None or prev_sample is not None:
                raise ValueError("%s: give at most one of variance_noise, noise and prev_sample"
                                 % ("noise" if noise is not None else "prev_sample"))
        elif noise is not None and prev_sample is not None:
            raise ValueError("prev_sample: give at most one of variance_noise, noise and prev_sample")
        lpm = None if logprob is None else mode(logprob)
        c, cref = self._coef_ref(timestep, num_inference_steps, eta, use_clipped_model_output, prev_rule, x.prec)
        f32 = x.prec == "f32"
        batch = x.shape[0] if len(x.shape) >= 2 else 1
        dim = x.size // batch
        z = None
        if variance_noise is not None:
            z = arr(variance_noise, "variance_noise", prec=x.prec, shape=x.shape, on=x)
        elif noise is not None:
            coord, s0 = _coords(noise)
            coord.sample = s0
        elif prev_sample is not None:
            given_prev = arr(prev_sample, "prev_sample", prec=x.prec, shape=x.shape, on=x)
            if x.dev is None:
                zz = np.zeros(x.shape, dtype=np.float32 if f32 else np.float64)
                z = arr(zz, "noise")
        elif c.sigma != 0 or lpm is not None:
            if c.sigma == 0:
                raise DiffpoError(_capi.STATUS_CODES["DPO_ERR_SIGMA_ZERO"], "dpo_step_logprob_" + x.prec)
            raise ValueError("variance_noise: sigma = %r at timestep %d (eta = %r): give variance_noise=, "
                             "noise= coordinates or prev_sample=" % (float(c.sigma), c.t, eta))
        if x.dev is not None:
            return _cuda.step(self, x, e, c, lpm, z, coord if noise is not None else None,
                              given_prev if prev_sample is not None else None, pred_original_sample)
        nout = 3 if pred_original_sample else 2
        outs, ptrs = _outputs(x, nout)
        if f32 and prev_sample is None and (lpm is None or c.sigma != 0):
            # one pass: x_prev, mu, x0 and the log-probability (the same bits as the two passes below)
            if lpm is not None:
                lpv = np.empty(batch, _F64)
                p_lp = addr(lpv)
            else:
                lpv, p_lp = None, None
            fn, more = (_capi.step_fused_x0_f32, ()) if threads == 1 else (_capi.step_fused_x0_f32_mt, (threads,))
            check(fn(ptrs[0], ptrs[2] if nout == 3 else None, ptrs[1], p_lp, x.ptr, e.ptr,
                     z.ptr if z is not None else None, C.byref(coord) if noise is not None else None, batch, dim,
                     cref, lpm or 0, *more), fn.__name__)
            return StepOutput(outs[0], outs[1], None if lpv is None else to_kind(lpv, x),
                              outs[2] if nout == 3 else None)
        prev, mean = outs[0], outs[1]
        p_prev, p_mean = ptrs[0], ptrs[1]
        if nout == 3:
            x0, p_x0 = outs[2], ptrs[2]
        else:
            x0, p_x0 = None, None
        if noise is not None:  # the noise drawn inside the library, row b from sample s0 + b
            if threads == 1:
                fn, more = (_capi.step_philox_f32 if f32 else _capi.step_philox_f64), ()
            else:
                fn, more = (_capi.step_philox_f32_mt if f32 else _capi.step_philox_f64_mt), (threads,)
            w = 4 if f32 else 8
            for b in range(batch):
                coord.sample = s0 + b
                o = b * dim * w
                check(fn(p_prev + o, p_x0 + o if p_x0 else None, p_mean + o, x.ptr + o, e.ptr + o, coord, dim,
                         cref, *more), fn.__name__)
        else:
            fn = _capi.step_f32 if f32 else _capi.step_f64
            check(fn(p_prev, p_x0, p_mean, x.ptr, e.ptr, z.ptr if z is not None else None, x.size, cref),
                  fn.__name__)
        lp = None
        if prev_sample is not None:
            prev = prev_sample
            xp_ptr = given_prev.ptr
        else:
            xp_ptr = p_prev
        if lpm is not None:
            lpv, p_lp = f64_out(batch)
            fl = _capi.step_logprob_f32 if f32 else _capi.step_logprob_f64
            check(fl(p_lp, xp_ptr, p_mean, batch, dim, cref, lpm), fl.__name__)
            lp = to_kind(lpv, x)
        return StepOutput(prev, mean, lp, x0)

    def dmu_dout(self, timestep, num_inference_steps=None, eta=0.0, prev_rule=None, dtype="float32"):
        """d mean / d model_output of the step (a scalar, computed in double
        from the coefficient struct of the given dtype)."""
        prec = "f32" if np.dtype(dtype) == np.float32 else "f64"
        c = self._coef(timestep, num_inference_steps, eta, False, prev_rule, prec)
        k = C.c_double()
        fn = _capi.dmu_dout_f32 if prec == "f32" else _capi.dmu_dout_f64
        check(fn(C.byref(k), C.byref(c)), fn.__name__)
        return k.value

    def grad_mu_to_out(self, grad_mu, timestep, num_inference_steps=None, eta=0.0, prev_rule=None, out=None):
        """The gradient with respect to the model output from one with
        respect to the step mean (dpo_grad_mu_to_out)."""
        g = arr(grad_mu, "grad_mu")
        c = self._coef(timestep, num_inference_steps, eta, False, prev_rule, g.prec)
        if out is None:
            res, p = empty_like(g)
        else:
            o = writable(arr(out, "out", prec=g.prec, shape=g.shape))
            res, p = out, o.ptr
        fn = _capi.grad_mu_to_out_f32 if g.prec == "f32" else _capi.grad_mu_to_out_f64
        check(fn(p, g.ptr, g.size, C.byref(c)), fn.__name__)
        return res
