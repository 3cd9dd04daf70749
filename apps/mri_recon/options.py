"""Options of mri-recon: one frozen dataclass per method (what it reads, its defaults, help and bounds).

Every option keeps the name, meaning and ``--set`` form it had in the flat Config
(``sensekit run mri-recon --set lam_tv=0.004`` works as before); the flat
:class:`~sensekit.apps.mri_recon.app.Config` is built from these classes by
:class:`sensekit.app.options.MethodOptions`, and ``sensekit info mri-recon``
lists them method by method.  ``--set`` of an option that the chosen method does
not read is accepted and ignored, as it always was (``unused="ignore"``: batch
runs and scripts pass e.g. ``max_iter`` to every method).

Regularisation weights are fractions of reference quantities of the zero-filled
image (see :mod:`.params`).

To add an option: add a field (made with :func:`~sensekit.app.options.option`)
to the class of every method that reads it (or to :class:`Shared` when every
method does) and read it in the method through ``OPTIONS.of(cfg, "<method>")``;
the flat Config, ``--set``, ``info`` and the provenance follow.
"""
from __future__ import annotations

import dataclasses
import typing

from sensekit.app.options import MethodOptions, option

from .calib import COIL_METHODS

#: The default ``method="auto"``: the method chosen for each input by its number of frames T (measurements
#: in methods.py, next to the methods).
AUTO = {"dynamic": "llr-tv", "static": "tv"}

WAVELETS = ("haar", "db2", "db4", "db6", "db8", "sym4", "sym8", "coif2")

_MAX_ITER = "maximum number of iterations"
_TOL = "stop when the relative change of the iterate falls below this (0 = run max_iter iterations)"
_CHECK = "evaluate stop criteria and progress every k iterations (fewer GPU syncs)"
_LAM_TV = "isotropic spatial TV weight, a fraction of the zero-filled peak"
_LAM_TT = "temporal TV weight, a fraction of the zero-filled peak"
_LAM_NUC = "Casorati (T x YX) nuclear-norm weight, a fraction of its largest singular value at the zero-filled series"


@dataclasses.dataclass(frozen=True)
class Shared:
    """Coil maps (when the input has no sens_maps) and the NUFFT of non-Cartesian input: every method reads them."""

    coil_method: str = option("espirit", "coil maps when sens_maps is absent: espirit (eigenvector maps from the "
                                         "autocalibration region) or lowres (smoothed low-resolution coil images)",
                              choices=tuple(COIL_METHODS))
    calib: int = option(24, "side of the k-space centre used to estimate coil maps when sens_maps is absent "
                            "(espirit grows it along fully sampled directions when it holds too few patches)", min=4)
    espirit_kernel: int = option(6, "espirit: k-space kernel side", min=2)
    espirit_thresh: float = option(0.02, "espirit: keep calibration singular vectors above this fraction of the "
                                         "largest singular value", min=0.0, max=1.0)
    espirit_crop: float = option(0.9, "espirit: zero the maps where the largest eigenvalue is below this",
                                 min=0.0, max=1.0)
    # non-Cartesian input (a `traj` dataset; see noncart.py): every method that runs on it reads these
    nufft_width: int = option(6, "non-Cartesian input: Kaiser-Bessel kernel width of the NUFFT, in oversampled "
                                 "grid points (4: faster, ~1e-3 relative accuracy; 6: ~1e-5)", min=2, max=12)
    nufft_oversamp: float = option(2.0, "non-Cartesian input: NUFFT grid oversampling factor", min=1.25, max=4.0)
    dcf_iter: int = option(10, "non-Cartesian input without a dcf dataset: Pipe-Menon density-compensation "
                               "iterations (the weights of the density-weighted data term)", min=1)


@dataclasses.dataclass(frozen=True)
class RDLEDM:
    max_iter: int = option(150, _MAX_ITER + " (PDHG)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_tv: float = option(0.003, _LAM_TV, min=0.0)
    lam_tt: float = option(0.0025, _LAM_TT, min=0.0)
    lam_nuc: float = option(0.0005, _LAM_NUC, min=0.0)
    lam_nuc2: float = option(0.0001, "X x (T*Y) unfolding nuclear-norm weight, a fraction of its largest singular "
                                     "value", min=0.0)
    beta: float = option(20.0, "weight of the image-domain error term (beta/2)||E||^2 (large = no error "
                               "component)", min=0.0)


@dataclasses.dataclass(frozen=True)
class LS:
    max_iter: int = option(100, _MAX_ITER + " (proximal gradient)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_l: float = option(0.03, "nuclear-norm weight, as a fraction of the zero-filled Casorati matrix's largest "
                                "singular value", min=0.0)
    lam_s: float = option(0.003, "temporal-Fourier l1 weight, as a fraction of the zero-filled series' largest "
                                 "temporal-Fourier coefficient", min=0.0)
    momentum: bool = option(False, "FISTA momentum (False = the paper's proximal-gradient iteration)")


@dataclasses.dataclass(frozen=True)
class KTSLR:
    max_iter: int = option(80, _MAX_ITER + " (alternations)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_tv: float = option(0.003, _LAM_TV, min=0.0)
    lam_tt: float = option(0.0025, _LAM_TT, min=0.0)
    lam_nuc: float = option(0.002, _LAM_NUC, min=0.0)
    p: float = option(1.0, "Schatten-p exponent of the Casorati penalty (1 = nuclear norm, convex; < 1 non-convex "
                           "as in the paper)", min=0.05, max=1.0)


@dataclasses.dataclass(frozen=True)
class LLR:
    max_iter: int = option(100, _MAX_ITER + " (FISTA)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_llr: float = option(0.001, "weight of the block Casorati nuclear norms, a fraction of the largest singular "
                                   "value over the zero-filled series' blocks", min=0.0)
    block: int = option(8, "side B of the B x B spatial blocks (tiles larger than the image are clipped to it)",
                        min=1)


@dataclasses.dataclass(frozen=True)
class LLRTV:
    max_iter: int = option(100, _MAX_ITER + " (PDHG)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_llr: float = option(0.0005, "weight of the block Casorati nuclear norms, a fraction of the largest singular "
                                    "value over the zero-filled series' blocks", min=0.0)
    block: typing.Optional[int] = option(
        None, "side B of the B x B spatial blocks (tiles larger than the image are clipped to it); unset: 8 for "
              "a series of up to 32 frames, 16 for a longer one (params.llr_tv_block)", min=1)
    lam_tv: float = option(0.0015, _LAM_TV, min=0.0)
    lam_tt: float = option(0.00125, _LAM_TT, min=0.0)


@dataclasses.dataclass(frozen=True)
class TV:
    max_iter: int = option(150, _MAX_ITER + " (PDHG)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_tv: float = option(0.003, _LAM_TV, min=0.0)
    lam_tt: float = option(0.0025, _LAM_TT + " (dropped for a static image)", min=0.0)


@dataclasses.dataclass(frozen=True)
class Wavelet:
    max_iter: int = option(100, _MAX_ITER + " (FISTA)", min=1)
    tol: float = option(1e-4, _TOL, min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam_w: float = option(0.003, "l1 weight of the wavelet detail coefficients, a fraction of the zero-filled peak",
                          min=0.0)
    wavelet: str = option("db4", "PyWavelets orthogonal family of the 2-D DWT", choices=WAVELETS)
    spin: int = option(2, "cycle spinning, circular shifts 0..spin-1 along each image axis averaged (spin² "
                          "transforms; 1 = the plain decimated DWT)", min=1, max=8)


@dataclasses.dataclass(frozen=True)
class CGSense:
    max_iter: int = option(100, _MAX_ITER + " (CG)", min=1)
    tol: float = option(1e-4, "stop when the relative CG residual falls below this (0 = run max_iter iterations)",
                        min=0.0)
    check_every: int = option(5, _CHECK, min=1)
    lam: float = option(0.01, "Tikhonov weight relative to the operator norm (0 = none; then the iteration count "
                              "regularises)", min=0.0)


@dataclasses.dataclass(frozen=True)
class ZeroFilled:
    """No options of its own (the coil maps' are shared)."""


@dataclasses.dataclass(frozen=True)
class RIM:
    rim_model: str = option("", "trained model (.pt with its .json, or a folder from `sensekit train mri-recon`); "
                                "empty = the model shipped with sensekit")


_SELECTOR = option("auto", "reconstruction method; auto = " + AUTO["dynamic"] + " for a dynamic series (T >= 2), "
                           + AUTO["static"] + " for a static image (T = 1)")

#: The options of every method; ``OPTIONS.of(cfg, method)`` is a method's own frozen options object.
OPTIONS = MethodOptions(
    _SELECTOR, Shared,
    {"rdledm": RDLEDM, "ls": LS, "kt-slr": KTSLR, "llr": LLR, "llr-tv": LLRTV, "tv": TV, "wavelet": Wavelet,
     "cg-sense": CGSense, "zero-filled": ZeroFilled, "rim": RIM},
    aliases={"auto": tuple(dict.fromkeys(AUTO.values()))}, unused="ignore",
    # the scale-aware weights stay None in the flat Config (= the method's default, recorded so in the provenance)
    unset=("lam_tv", "lam_tt", "lam_nuc", "lam_nuc2", "beta", "lam_w", "lam_llr"))
