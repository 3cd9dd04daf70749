"""Scale-aware regularisation weights of the mri-recon methods: the one place they are set.

How the weights follow the data
-------------------------------
``MRIRecon.run`` divides the k-space by ``max |Eᴴy|`` so that every method sees
a zero-filled image ``x0 = Eᴴy`` of unit peak magnitude; the result is scaled
back afterwards.  On top of that normalisation each weight is a *fraction of a
reference quantity of x0* that has the same units as the penalised
coefficients:

==============  =============================================  ==================================
option          penalised quantity                             reference (absolute = option × ref)
==============  =============================================  ==================================
``lam_tv``      isotropic spatial TV  Σ‖∇_xy x‖₂               peak |x0| (= 1)
``lam_tt``      temporal TV  Σ|∇_t x|                          peak |x0| (= 1)
``lam_w``       ℓ1 of 2-D wavelet detail coefficients          peak |x0| (= 1)
``lam_nuc``     nuclear norm of the Casorati matrix (T × YX)   σ_max of x0's Casorati matrix
``lam_nuc2``    nuclear norm of the X × (T·Y) unfolding        σ_max of x0's X × (T·Y) unfolding
``lam_l``       ls: nuclear norm of the Casorati matrix        σ_max of x0's Casorati matrix
``lam_s``       ls: ℓ1 of the temporal Fourier transform       max |F_t x0|
``beta``        rdledm: weight of ½‖E‖² (image-domain error)   1 (the data term's own weight)
``lam``         cg-sense: Tikhonov weight                      ‖E‖² bound (max Σ_c |S_c|²)
``lam_llr``     llr, llr-tv: Σ of block nuclear norms          largest σ over x0's block Casorati matrices
==============  =============================================  ==================================

llr-tv's block side, when not set, follows the number of frames (:func:`llr_tv_block`).

So the same defaults serve any k-space scaling, matrix size, number of frames
and coils.  Each method declares its own defaults in :mod:`.options` (one frozen
options class per method); ``sensekit info mri-recon`` lists them method by
method.
"""
from __future__ import annotations

import dataclasses

import torch

from .options import OPTIONS

#: ``{method: {option: default}}`` of every method (read from the option classes in options.py; kept for scripts
#: that read the defaults here).
DEFAULTS = {m: {f.name: f.default for f in dataclasses.fields(cls)} for m, (cls, _) in OPTIONS.methods.items()}
# How lam_tv / lam_tt were chosen (tv, PSNR dB on the rat cine / PINCAT 20 frames, acceleration 8, 1 % noise,
# ESPIRiT maps): (0.003, 0.004) 37.92 / 33.27; (0.003, 0.003) 37.94 / 33.74; (0.003, 0.0025) 37.91 / 34.00;
# (0.003, 0.002) 37.84 / 34.26; (0.0025, 0.003) 38.02 / 33.63; (0.0035, 0.0025) 37.81 / 34.05.  0.0025 for
# the temporal weight costs the rat 0.01 dB and gains PINCAT 0.73 dB; the three TV methods share the pair.


#: Primal/dual step balance of the PDHG methods (τ = ratio / Σ‖K_i‖, σ_i = 1 / (ratio·‖K_i‖)).  The
#: normalised image has unit peak while the dual variables of the penalties are bounded by their small
#: weights, so the primal step should be the larger one; 10 was best of {1, 3, 10, 30} on the rat cine.
PDHG_RATIO = 10.0


#: llr-tv's block side when ``block`` is unset: the smaller of ``LLR_TV_BLOCKS`` for a series of at most
#: ``LLR_TV_LONG`` frames, the larger beyond, i.e. the smallest B of the two with B² ≥ 2T.  A block's Casorati
#: matrix is B² × T: once T nears B² its rank bound says little.  Measured with the shipped defaults (100
#: iterations, tol 1e-4; benchmarks/mri_llr_tv_block.py → benchmarks/mri/llr_tv_block.md; PSNR dB,
#: B = 16 − B = 8): 40 frames (PINCAT radial R 8, vd-lines R 6) +0.29, +0.24; 20 frames (the built-in
#: phantom) −0.11; 8 frames (rat cine / PINCAT, six cases) −0.29…−0.07.
LLR_TV_BLOCKS, LLR_TV_LONG = (8, 16), 32


def llr_tv_block(frames: int) -> int:
    """llr-tv's block side for a series of ``frames`` frames when its ``block`` option is unset.

    Returns
    -------
    int
        ``LLR_TV_BLOCKS[0]`` (8) up to ``LLR_TV_LONG`` (32) frames, else ``LLR_TV_BLOCKS[1]`` (16).
    """
    return LLR_TV_BLOCKS[0] if frames <= LLR_TV_LONG else LLR_TV_BLOCKS[1]


def value(cfg, method: str, key: str):
    """The option ``key`` of ``method``: its value in ``cfg``, or the method's default when it is None there."""
    o = OPTIONS.of(cfg, method)
    if not hasattr(o, key):
        raise KeyError(f"method {method!r} has no option {key!r}")
    return getattr(o, key)


def defaults_help(key: str) -> str:
    """'default per method: rdledm 0.0025, tv 0.0025, …' for an option's help text."""
    return OPTIONS.defaults_help(key)


def casorati_smax(x: torch.Tensor, axis: int) -> float:
    """Largest singular value of the mode-``axis`` unfolding of an image series (T, Y, X)."""
    m = x.movedim(axis, 0).reshape(x.shape[axis], -1)
    return float(torch.linalg.matrix_norm(m, ord=2))


def peak(x: torch.Tensor) -> float:
    return float(x.abs().max())
