"""Operator norm estimation by power iteration."""
from __future__ import annotations

import torch

from ..core.random import randn
from .base import LinOp


def opnorm(A: LinOp, *, dtype=torch.complex64, device="cpu", max_iter: int = 50, tol: float = 1e-4,
           generator: torch.Generator | None = None) -> float:
    """Estimate the spectral norm ‖A‖₂ by power iteration on AᴴA.

    Parameters
    ----------
    A : LinOp
    dtype, device : the precision and device to iterate in (use the data's).
    max_iter, tol : stop after ``max_iter`` steps or when the estimate changes
        by less than ``tol`` relatively.

    Returns
    -------
    float
        The estimate of ‖A‖₂ (from below; add a small margin for step sizes).
    """
    x = randn(A.in_shape, dtype=dtype, device=device, generator=generator)
    x = x / torch.linalg.vector_norm(x)
    N = A.N
    lam = 0.0
    for _ in range(max_iter):
        y = N(x)
        new = float(torch.linalg.vector_norm(y))
        if new == 0.0:
            return 0.0
        x = y / new
        if abs(new - lam) <= tol * new:
            lam = new
            break
        lam = new
    return lam ** 0.5
