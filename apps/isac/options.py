"""Options of isac: one frozen dataclass per method (what it reads, its defaults, help and bounds).

Every option keeps the name, default, bounds and meaning it had in the flat Config; the flat
:class:`~sensekit.apps.isac.app.Config` is built from these classes by
:class:`sensekit.app.options.MethodOptions` (in ``app.py``) and ``sensekit info isac`` lists them
method by method.  :class:`Shared` holds what every method may read (the target count, the
detection false-alarm rate and the joint ML refinement, which ``refine=on`` adds to any method);
each method class derives from it, so ``OPTIONS.of(cfg)`` holds everything the method reads.
``ml`` reads the options of its start (``ml_init``: fft or plain) too.
"""
from __future__ import annotations

import dataclasses

from sensekit.app.options import option

from . import methods as M


@dataclasses.dataclass(frozen=True)
class Shared:
    n_targets: int = option(0, "number of targets when known (0: the channel attribute n_targets if present, "
                               "else estimated)", min=0, max=1000)
    pfa: float = option(1e-3, "false-alarm probability of the detection thresholds (per scene)", min=1e-12,
                        max=0.5)
    refine: str = option("auto", "joint ML refinement of the estimates (auto: on for plain, ml and krosbl, off "
                                 "for fft, sequential and esprit)",
                         choices=("auto", "on", "off"))
    max_iter: int = option(30, "refinement: Levenberg-Marquardt iterations at most", min=0)
    tol: float = option(1e-10, "refinement: stop when the largest step is below this many FFT cells", min=0.0)


def _compression():
    return option("average", "per-dimension compression (average = block means, PLAIN's default; decimate; "
                             "multiphase = decimation phases as snapshots; none)",
                  choices=("average", "decimate", "multiphase", "none"))


def _factors(what="compression"):
    return option("auto", f"{what} factors 'Da,Dk,Dl' or auto (the largest keeping the scene "
                          "extent inside the compressed unambiguous interval, compressed size >= "
                          "min_compressed)")


def _min_compressed():
    return option(16, "smallest compressed size per dimension with factors=auto", min=3)


def _max_range():
    return option(0.0, "scene extent in range (0: channel attribute max_range_m, else the "
                       "unambiguous range c/(2 df))", min=0.0)


def _max_speed():
    return option(0.0, "scene extent in |velocity| (0: channel attribute max_speed_mps, else "
                       "the unambiguous lambda/(4 Ts))", min=0.0)


def _estimator():
    return option("esprit", "1-D estimator (esprit = unitary ESPRIT, root-music, ls-esprit)",
                  choices=tuple(M.ESTIMATORS))


def _criterion():
    return option("mdl", "model-order criterion on the covariance eigenvalues", choices=("mdl", "aic"))


def _pad():
    return option(2, "zero-padding factor per dimension (off-grid peaks by 3-point interpolation)", min=1, max=16)


def _window():
    return option("hann", "window per dimension", choices=("hann", "rect"))


def _rel_db(help="peaks more than this many dB below the strongest are dropped"):
    return option(30.0, help, min=0.0)


@dataclasses.dataclass(frozen=True)
class Plain(Shared):
    compression: str = _compression()
    factors: str = _factors()
    min_compressed: int = _min_compressed()
    max_range_m: float = _max_range()
    max_speed_mps: float = _max_speed()
    estimator: str = _estimator()
    criterion: str = _criterion()


@dataclasses.dataclass(frozen=True)
class FFT(Shared):
    pad: int = _pad()
    window: str = _window()
    rel_db: float = _rel_db()


@dataclasses.dataclass(frozen=True)
class ML(Shared):
    ml_init: str = option("fft", "initial estimate (fft or plain: then that method's options below apply)",
                          choices=("fft", "plain"))
    compression: str = _compression()
    factors: str = _factors("ml_init plain: compression")
    min_compressed: int = _min_compressed()
    max_range_m: float = _max_range()
    max_speed_mps: float = _max_speed()
    estimator: str = _estimator()
    criterion: str = _criterion()
    pad: int = _pad()
    window: str = _window()
    rel_db: float = _rel_db()


@dataclasses.dataclass(frozen=True)
class KroSBL(Shared):
    factors: str = _factors("block-averaging")
    min_compressed: int = _min_compressed()
    max_range_m: float = _max_range()
    max_speed_mps: float = _max_speed()
    oversample: int = option(2, "grid points per compressed FFT cell in every dimension", min=2, max=8)
    sbl_iter: int = option(150, "EM iterations at most", min=1)
    sbl_tol: float = option(1e-3, "stop when the prior variances change by less than this (relative)", min=0.0)


@dataclasses.dataclass(frozen=True)
class Sequential(Shared):
    criterion: str = _criterion()
    rel_db: float = _rel_db("the delay / Doppler sources of one slice more than this many dB below the "
                            "strongest are dropped")


@dataclasses.dataclass(frozen=True)
class ESPRIT(Shared):
    criterion: str = _criterion()
    esprit_rows: int = option(512, "largest sub-block (mA*mK*mL, the covariance size); sizes whose "
                                   "minimum sub-block (1/8 of every dimension) exceeds it are refused", min=8,
                              max=8192)


#: method -> its options class
CLASSES = {"plain": Plain, "fft": FFT, "ml": ML, "krosbl": KroSBL, "sequential": Sequential, "esprit": ESPRIT}
