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
from .hqs import HQS, hqs
from .terms import tv_term, nuclear_term, sparse_term, on_block

__all__ = [
    "Stop", "AnyOf", "AllOf", "MaxIter", "RelChange", "Residual", "Timeout", "Result", "solve", "default_stop",
    "LinearSystem", "LeastSquares", "Composite", "PrimalDual",
    "CG", "cg", "cg_iterate", "FISTA", "fista", "PDHG", "pdhg", "ADMM", "admm",
    "lowrank_plus_sparse", "HQS", "hqs", "tv_term", "nuclear_term", "sparse_term", "on_block",
]
