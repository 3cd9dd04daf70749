"""Generic solvers and the driver that runs them.

``solve(solver, problem, stop=..., callbacks=..., check_every=k)`` runs any
solver; the plain functions (:func:`cg`, :func:`fista`, :func:`pdhg`,
:func:`admm`, …) wrap the common cases.
"""
from .base import (Stop, AnyOf, AllOf, MaxIter, RelChange, Residual, Timeout, Result, solve,
                   default_stop)
from .problems import LinearSystem, LeastSquares, Composite, PrimalDual
from .cg import CG, cg, cg_iterate
from .fista import FISTA, fista
from .pdhg import PDHG, pdhg
from .admm import ADMM, admm
from .lps import lowrank_plus_sparse
# --- core-lowrank: low-rank solvers (issue 4) ---
from .rsvd import rsvd, range_finder
from .rpca import PCP, pcp, GoDec, godec
from .robust_svd import RankOneDPD, rsvd_dpd
from .completion import AltMin, complete
from .sensing import SensingProblem, FactoredGD, factored_gd
from .subgm import SubGM, subgm
# --- end core-lowrank ---

__all__ = [
    "Stop", "AnyOf", "AllOf", "MaxIter", "RelChange", "Residual", "Timeout", "Result", "solve", "default_stop",
    "LinearSystem", "LeastSquares", "Composite", "PrimalDual",
    "CG", "cg", "cg_iterate", "FISTA", "fista", "PDHG", "pdhg", "ADMM", "admm",
    "lowrank_plus_sparse",
    # --- core-lowrank ---
    "rsvd", "range_finder", "PCP", "pcp", "GoDec", "godec", "RankOneDPD", "rsvd_dpd", "AltMin", "complete",
    "SensingProblem", "FactoredGD", "factored_gd", "SubGM", "subgm",
    # --- end core-lowrank ---
]
