"""Options of unmix: one frozen dataclass per method (what it reads, its defaults, help and bounds).

Every option keeps the name, default, bounds and meaning it had in the flat Config
(``sensekit run unmix --set lam=0.5`` works as before); the flat
:class:`~sensekit.apps.unmix.app.Config` is built from these classes by
:class:`sensekit.app.options.MethodOptions` and ``sensekit info unmix`` lists them
method by method.  ``--set`` of an option the chosen method does not read is accepted
and ignored, as it always was.  Each method class derives from :class:`Shared`, so
``OPTIONS.of(cfg)`` holds everything the method reads.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from sensekit.app.options import MethodOptions, option

from . import methods


@dataclasses.dataclass(frozen=True)
class Shared:
    n_endmembers: Optional[int] = option(None, "number of endmembers P (default: the cube's n_endmembers "
                                               "attribute, else estimated: HySime bound + decade gap of the "
                                               "noise-whitened spectrum, see count_endmembers; exit 3 "
                                               "above 20)", min=1, max=64)
    normalize: str = option("sum", "per-pixel scale removed before unmixing: sum (divide each pixel by its "
                                   "band sum weighted by each band's multiple-regression R², so gross-noise bands "
                                   "barely count; removes illumination / topographic scale) or none",
                            choices=("sum", "none"))


_INIT = "endmembers to start from: vca (seeded) or nfindr (ATGP-started N-FINDR, deterministic)"
_MAX_ITER = "outer iterations at most"
_TOL = "stop when the relative change of (E, A) is below this (0 = run max_iter)"
_CHECK = "read the change every k iterations"
_DELTA = "weight of the sum-to-one augmented row"


def _init():
    return option("vca", _INIT, choices=("vca", "nfindr"))


def _max_iter(help=_MAX_ITER):
    return option(100, help, min=1)


def _tol(help=_TOL):
    return option(1e-5, help, min=0.0)


def _check_every(help=_CHECK):
    return option(10, help, min=1)


@dataclasses.dataclass(frozen=True)
class RRLbS(Shared):
    init: str = _init()
    lam: float = option(1.0, "weight of the guided l_p sparsity, as a multiple of the balance weight (the "
                             "one at which the sparsity term equals the l2,1 fit at the start)", min=0.0)
    band_prior: bool = option(True, "weight each band's l2,1 term by its regression reliability min(1, "
                                    "SNR_b/10)^2 (gross-noise bands ~0); false: the plain l2,1 norm")
    refit: bool = option(True, "final abundances of the rrlbs endmembers by the l2,1 fit with the "
                               "sparsity off (debiasing; the sparsity shapes the endmembers, then stops "
                               "pulling abundances to the vertices)")
    p: float = option(0.5, "exponent of the l_p sparsity (0 < p <= 1)", min=0.05, max=1.0)
    mu: float = option(0.5, "curvature of the guidance-map regulariser (mu/2) h^2; h_j = clip(s_j/mu, "
                            "0, 1) with s_j the pixel's excess l_p term", min=1e-6)
    inner: int = option(20, "projected-gradient steps of each sub-problem (only when n_endmembers > 6; up to 6 "
                            "its abundance step is solved exactly)", min=1)
    max_iter: int = _max_iter()
    tol: float = _tol("stop when the relative change of (E, A) or the objective's relative decrease per "
                      "iteration is below this (0 = run max_iter)")
    check_every: int = _check_every("evaluate stop criteria and the objective every k iterations")


@dataclasses.dataclass(frozen=True)
class VCAFCLS(Shared):
    pass


@dataclasses.dataclass(frozen=True)
class NFINDRFCLS(Shared):
    pass


@dataclasses.dataclass(frozen=True)
class NMF(Shared):
    init: str = _init()
    max_iter: int = _max_iter()
    tol: float = _tol()
    check_every: int = _check_every()
    delta: float = option(15.0, _DELTA, min=0.0)


@dataclasses.dataclass(frozen=True)
class L12NMF(Shared):
    init: str = _init()
    max_iter: int = _max_iter()
    tol: float = _tol()
    check_every: int = _check_every()
    lam_l12: float = option(1.0, "multiple of Qian et al.'s data-driven l1/2 weight", min=0.0)
    delta: float = option(15.0, _DELTA, min=0.0)


@dataclasses.dataclass(frozen=True)
class MVNMF(Shared):
    init: str = _init()
    inner: int = option(20, "projected-gradient steps of each sub-problem", min=1)
    max_iter: int = _max_iter()
    tol: float = _tol("stop when the relative change of (E, A) or the objective's relative decrease per "
                      "iteration is below this (0 = run max_iter)")
    check_every: int = _check_every("evaluate the stop criteria every k iterations")
    lam_mv: float = option(0.1, "weight of the log-det volume, relative to the starting fit "
                                "(Leplat et al.'s normalisation)", min=0.0)
    delta_mv: float = option(0.1, "log det(E^T E + delta I) smoothing, relative to the mean endmember "
                                  "energy", min=1e-9)


@dataclasses.dataclass(frozen=True)
class SUnSAL(Shared):
    max_iter: int = _max_iter("outer iterations at most, x5 ADMM steps")
    tol: float = _tol("stop when the ADMM residuals are below this (0 = run max_iter)")
    check_every: int = _check_every("read the residuals every k iterations")
    lam_sparse: float = option(1e-3, "sparsity weight, for pixels scaled to unit mean norm", min=0.0)
    collaborative: bool = option(True, "row-sparse l2,1 (CLSUnSAL: all pixels share few library "
                                       "members) instead of l1")
    sum_to_one: bool = option(False, "impose sum-to-one on the library abundances")


_CLASSES = {"rrlbs": RRLbS, "vca-fcls": VCAFCLS, "nfindr-fcls": NFINDRFCLS, "nmf": NMF, "l12nmf": L12NMF,
            "mvnmf": MVNMF, "sunsal": SUnSAL}

#: The options of every method; ``OPTIONS.of(cfg)`` is the chosen method's (shared options included).
OPTIONS = MethodOptions(option("rrlbs", "unmixing method", choices=tuple(methods.METHODS)), Shared,
                        {m: (_CLASSES[m], methods.METHODS[m][1]) for m in methods.METHODS}, unused="ignore")
