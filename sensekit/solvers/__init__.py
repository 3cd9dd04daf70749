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

__all__ = [
    "Stop", "AnyOf", "AllOf", "MaxIter", "RelChange", "Residual", "Timeout", "Result", "solve", "default_stop",
    "LinearSystem", "LeastSquares", "Composite", "PrimalDual",
    "CG", "cg", "cg_iterate", "FISTA", "fista", "PDHG", "pdhg", "ADMM", "admm",
    "lowrank_plus_sparse",
]

# --- tensor, sparse and subspace solvers (core-tensor) ------------------------------------------
from .tensor import hosvd, truncated_hosvd, tucker, tucker_to_tensor, cp_als, cp_to_tensor
from .sparse import omp, tensor_omp, TensorOMPResult, sbl, kron_sbl, SBLResult, KronSBLResult
from .subspace import (sample_covariance, forward_backward, spatial_smoothing, model_order, music_spectrum,
                       music, root_music, unitary_esprit, esprit)

__all__ += [
    "hosvd", "truncated_hosvd", "tucker", "tucker_to_tensor", "cp_als", "cp_to_tensor",
    "omp", "tensor_omp", "TensorOMPResult", "sbl", "kron_sbl", "SBLResult", "KronSBLResult",
    "sample_covariance", "forward_backward", "spatial_smoothing", "model_order", "music_spectrum",
    "music", "root_music", "unitary_esprit", "esprit",
]
# --- end tensor, sparse and subspace solvers ----------------------------------------------------
