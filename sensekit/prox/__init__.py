"""Proximal maps.

``g.prox(x, step)`` = argmin_z g(z) + ‖z − x‖²/(2·step); ``g(x)`` the value;
``lam * g`` scales; ``g.conj_prox(v, sigma)`` the prox of σ·g*.
"""
from .base import Prox, Scaled, Zero, Transformed, BlockSeparable, Average
from .norms import L1, L21, Nuclear, SchattenP, SquaredL2, soft_threshold, svt
from .sets import NonNeg, Box, Simplex, project_simplex
from .lowrank import LocallyLowRank, block_casorati

__all__ = [
    "Prox", "Scaled", "Zero", "Transformed", "BlockSeparable", "Average",
    "L1", "L21", "Nuclear", "SchattenP", "SquaredL2", "soft_threshold", "svt",
    "NonNeg", "Box", "Simplex", "project_simplex", "LocallyLowRank", "block_casorati",
]
