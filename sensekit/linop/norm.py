"""Operator norm estimation by power iteration."""
from __future__ import annotations

import torch

from ..core.random import randn
from .base import LinOp


def opnorm(A: LinOp, *, dtype=torch.complex64, device="cpu", max_iter: int = 50, tol: float = 1e-4,
           generator: torch.Generator | None = None, check_every: int = 5) -> float:
    """Estimate the spectral norm ‖A‖₂ by power iteration on AᴴA.

    Parameters
    ----------
    A : LinOp
    dtype, device : the precision and device to iterate in (use the data's).
    max_iter, tol : stop after ``max_iter`` steps or when the estimate changes
        by less than ``tol`` relatively between two consecutive steps.
    check_every : int
        Test ``tol`` every k steps only (each test is one host synchronisation;
        the iteration itself stays on the device).

    Returns
    -------
    float
        The estimate of ‖A‖₂ (from below; add a small margin for step sizes).
    """
    x = randn(A.in_shape, dtype=dtype, device=device, generator=generator)
    x = x / torch.linalg.vector_norm(x)
    N = A.N
    check_every = max(1, int(check_every))
    prev = new = torch.zeros((), dtype=x.real.dtype, device=x.device)
    for k in range(1, max_iter + 1):
        y = N(x)
        prev, new = new, torch.linalg.vector_norm(y)
        x = y / torch.clamp(new, min=torch.finfo(new.dtype).tiny)
        if k % check_every == 0 or k == max_iter:
            cur, last = torch.stack([new, prev]).tolist()
            if cur == 0.0:
                return 0.0
            if abs(cur - last) <= tol * cur:
                break
    return float(new) ** 0.5
