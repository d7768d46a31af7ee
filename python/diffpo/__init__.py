"""diffpo: bit-reproducible DDIM steps, log-probabilities and DPO-style
diffusion alignment losses, from Python.

The C library (libdiffpo) is the single implementation; this package adds
no arithmetic of its own.  NumPy arrays and CPU torch tensors (float32 or
float64, C-contiguous) are passed to it without copies.  docs/python.md.

    import diffpo
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                set_alpha_to_one=False, steps_offset=1)
    ts = sched.set_timesteps(20)
    out = sched.step(eps, ts[0], x, eta=1.0, noise=dict(seed=7, step=0), logprob="mean")
    out.prev_sample, out.mean, out.log_prob
    r = diffpo.tailorpo(x_w, x_l, mu, mu_ref, beta=0.1, sigma=s)   # r.loss, r.grads["mu"]
"""
from . import _capi
from ._core import DiffpoError
from .losses import (PairLoss, d3po_code, d3po_label, diffusion_dpo, dspo, gauss_logprob, logratio, rank_desc, rdpo,
                     rdpo_delta_q, spo, spo_resample_index, spo_select, stepdpo, tailorpo, tailorpo_g_eta,
                     tailorpo_g_update)
from .losses import DdpoLoss, ddpo, ddpo_advantages, ddpo_from_logratio
from .noise import fingerprint, normal, sum_canonical
from .schedule import DDIMSchedule, StepOutput, ddim_coefficients, dmu_dout, grad_mu_to_out
from . import vectors

__version__ = _capi.version().decode()
LIBRARY = _capi.LIB_PATH
HAS_CUDA = _capi.HAS_CUDA

__all__ = ["DDIMSchedule", "StepOutput", "ddim_coefficients", "dmu_dout", "grad_mu_to_out", "PairLoss", "DiffpoError", "normal", "fingerprint", "sum_canonical",
           "gauss_logprob", "logratio", "stepdpo", "d3po_code", "d3po_label", "spo", "tailorpo", "rdpo", "diffusion_dpo", "dspo",
           "tailorpo_g_update", "tailorpo_g_eta", "rank_desc", "rdpo_delta_q", "spo_select", "spo_resample_index",
           "DdpoLoss", "ddpo", "ddpo_from_logratio", "ddpo_advantages"]
