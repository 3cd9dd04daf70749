"""Generic solvers and the driver that runs them.

``solve(solver, problem, stop=..., callbacks=..., check_every=k)`` runs any
solver; the plain functions (:func:`cg`, :func:`fista`, :func:`pdhg`,
:func:`admm`, :func:`pcp`, :func:`cp_als`, …) wrap the common cases.

Groups: generic first-order and Krylov methods; low rank (randomised SVD,
PCP, GoDec, robust SVD by density power divergence, matrix completion,
factored matrix sensing, sub-gradient robust recovery, L+S); tensors (HOSVD,
Tucker/HOOI, CP-ALS); sparse (OMP, tensor OMP, SBL, Kronecker SBL); subspace
(covariance estimation, AIC/MDL, MUSIC, root-MUSIC, ESPRIT).
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
from .terms import tv_term, nuclear_term, llr_term, sparse_term, on_block
# low rank
from .rsvd import rsvd, range_finder
from .rpca import PCP, pcp, GoDec, godec
from .robust_svd import RankOneDPD, rsvd_dpd
from .dpd_select import dpd_rank, dpd_alpha
from .online_dpd import OnlineDPD, OnlineDPDState
from .completion import AltMin, complete
from .sensing import SensingProblem, FactoredGD, factored_gd
from .subgm import SubGM, subgm
# tensors, sparse, subspace
from .tensor import (hosvd, truncated_hosvd, tucker, tucker_to_tensor, cp_als, cp_to_tensor,
                     HOOI, TuckerProblem, CPALS, CPProblem, FitChange)
from .sparse import (omp, tensor_omp, TensorOMPResult, sbl, kron_sbl, SBLResult, KronSBLResult,
                     OMP, OMPProblem, TensorOMP, TensorOMPProblem, AllConverged)
from .bayes import SBL, SBLProblem, KronSBL, KronSBLProblem, GammaChange
from .subspace import (sample_covariance, forward_backward, spatial_smoothing, model_order, music_spectrum,
                       music, root_music, unitary_esprit, esprit)

__all__ = [
    "Stop", "AnyOf", "AllOf", "MaxIter", "RelChange", "Residual", "Timeout", "Result", "solve", "default_stop",
    "LinearSystem", "LeastSquares", "Composite", "PrimalDual",
    "CG", "cg", "cg_iterate", "FISTA", "fista", "PDHG", "pdhg", "ADMM", "admm",
    "lowrank_plus_sparse", "HQS", "hqs", "tv_term", "nuclear_term", "llr_term", "sparse_term", "on_block",
    "rsvd", "range_finder", "PCP", "pcp", "GoDec", "godec", "RankOneDPD", "rsvd_dpd", "dpd_rank", "dpd_alpha",
    "OnlineDPD", "OnlineDPDState", "AltMin", "complete",
    "SensingProblem", "FactoredGD", "factored_gd", "SubGM", "subgm",
    "hosvd", "truncated_hosvd", "tucker", "tucker_to_tensor", "cp_als", "cp_to_tensor",
    "HOOI", "TuckerProblem", "CPALS", "CPProblem", "FitChange",
    "omp", "tensor_omp", "TensorOMPResult", "sbl", "kron_sbl", "SBLResult", "KronSBLResult",
    "OMP", "OMPProblem", "TensorOMP", "TensorOMPProblem", "AllConverged",
    "SBL", "SBLProblem", "KronSBL", "KronSBLProblem", "GammaChange",
    "sample_covariance", "forward_backward", "spatial_smoothing", "model_order", "music_spectrum",
    "music", "root_music", "unitary_esprit", "esprit",
]
