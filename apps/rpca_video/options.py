"""Per-method option dataclasses of rpca-video (frozen; fields made with ``sensekit.app.base.option``).

Every method shares the mask options (``threshold``, ``morph``, ``min_sigma``); see :mod:`.masks`.
"""
from __future__ import annotations

import dataclasses

from sensekit.app.base import option

_THR = "foreground where |residual| > threshold × σ̂ (σ̂ = 1.4826·MAD of the residual, per channel; see masks.py)"
_MORPH = "mask clean-up: none, open (3×3 opening: removes isolated pixels) or open-close (then fills pin holes)"
_MINSIG = "floor of σ̂ as a fraction of the data range (2/255: two grey levels of 8-bit video)"


@dataclasses.dataclass(frozen=True)
class MaskOptions:
    threshold: float = option(3.0, _THR, min=0.0)
    morph: str = option("open", _MORPH, choices=("none", "open", "open-close"))
    min_sigma: float = option(2 / 255, _MINSIG, min=0.0)


@dataclasses.dataclass(frozen=True)
class RSVDDPDOptions(MaskOptions):
    rank: int = option(1, "rank of the background (0: chosen by the DICMR rule, up to max_rank)", min=0)
    max_rank: int = option(5, "largest rank the DICMR rule considers (rank = 0)", min=1)
    alpha: float = option(0.5, "DPD robustness parameter (0 = plain SVD; 0.5 as in the paper's video runs; "
                               "negative: chosen by the authors' bias-variance rule over 10 values in [0, 1])",
                          min=-1.0, max=1.0)
    sigma: str = option("estimate", "DPD scale: fixed (σ = 1 in IQR units, as the authors' code) or estimate "
                                 "(σ² re-estimated from the residuals every sweep by the DPD scale equation, "
                                 "as the paper's objective has it; far more robust to tampered frames)",
                        choices=("fixed", "estimate"))
    sigma2_min: float = option(0.01, "floor of the estimated σ² in IQR units (sigma = estimate)", min=1e-8)
    init: str = option("median", "start vectors: median (temporal median image, unit frame gains) or random "
                                  "(uniform, as the R package)", choices=("median", "random"))
    max_iter: int = option(100, "alternating sweeps per component", min=1)
    inner_iter: int = option(3, "fixed-point iterations per half-sweep (each warm-started from the last sweep)", min=1)
    tol: float = option(1e-4, "convergence tolerance on |Δλ|, ‖Δa‖, ‖Δb‖ (IQR units)", min=0.0)


@dataclasses.dataclass(frozen=True)
class SVDOptions(MaskOptions):
    rank: int = option(1, "rank of the background (plain truncated SVD, not robust: the tampering reference)",
                       min=1)


@dataclasses.dataclass(frozen=True)
class PCPOptions(MaskOptions):
    lam: float = option(0.0, "ℓ1 weight relative to 1/sqrt(max(pixels, frames)) (0: the default 1)", min=0.0)
    max_iter: int = option(200, "inexact-ALM iterations", min=1)
    tol: float = option(1e-5, "stop at ‖M − L − S‖_F / ‖M‖_F < tol", min=0.0)


@dataclasses.dataclass(frozen=True)
class GoDecOptions(MaskOptions):
    rank: int = option(1, "rank of the background", min=1)
    card: float = option(0.1, "fraction of entries in the sparse part", min=0.0, max=1.0)
    power_iters: int = option(1, "power iterations of the bilateral random projection", min=0)
    max_iter: int = option(50, "iterations", min=1)
    tol: float = option(1e-6, "relative-change tolerance", min=0.0)


@dataclasses.dataclass(frozen=True)
class MedianOptions(MaskOptions):
    window: int = option(0, "frames in the median (0: the whole clip; W > 0: a centred sliding window of W frames)",
                         min=0)


@dataclasses.dataclass(frozen=True)
class StreamDPDOptions(MaskOptions):
    block: int = option(50, "frames per block (memory and latency grow with it, not with the video length)", min=2)
    memory: float = option(300.0, "effective memory in frames (forgetting factor γ = 1 − 1/memory)", min=1.0)
    alpha: float = option(0.5, "DPD robustness parameter", min=0.0, max=1.0)
    sweeps: int = option(2, "alternations per block", min=1)
    inner_iter: int = option(3, "fixed-point iterations per half-sweep", min=1)
    sigma: str = option("estimate", "DPD scale: estimate (σ² from each block's residuals, carried over) or fixed "
                                    "(σ = 1 in IQR units of the first block)", choices=("fixed", "estimate"))
    sigma2_min: float = option(0.01, "floor of the estimated σ² in IQR units (sigma = estimate)", min=1e-8)


@dataclasses.dataclass(frozen=True)
class StreamMedianOptions(MaskOptions):
    block: int = option(50, "frames per block", min=1)
    window: int = option(50, "frames in the causal sliding median (the last `window` frames up to each frame)",
                         min=1)
