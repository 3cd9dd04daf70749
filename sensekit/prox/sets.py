"""Indicator functions of convex sets: their prox is the Euclidean projection."""
from __future__ import annotations

import math

import torch

from .base import Prox


def _indicator(feasible: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    z = torch.zeros((), dtype=like.real.dtype, device=like.device)
    return torch.where(feasible, z, torch.full_like(z, math.inf))


def _tol(x):
    return 1e3 * torch.finfo(x.real.dtype).eps * max(1.0, float(x.abs().max()) if x.numel() else 1.0)


def _need_real(x, name):
    if x.is_complex():
        raise TypeError(f"{name} is defined for real tensors, got {x.dtype}")


class NonNeg(Prox):
    """Indicator of the non-negative orthant (real tensors)."""

    def __call__(self, x):
        _need_real(x, "NonNeg")
        return _indicator(torch.all(x >= -_tol(x)), x)

    def prox(self, x, step):
        _need_real(x, "NonNeg")
        return torch.clamp(x, min=0)


class Box(Prox):
    """Indicator of the box ``lo ≤ x ≤ hi`` (real tensors; bounds may be tensors)."""

    def __init__(self, lo=-math.inf, hi=math.inf):
        self.lo, self.hi = lo, hi

    def __call__(self, x):
        _need_real(x, "Box")
        t = _tol(x)
        return _indicator(torch.all((x >= self.lo - t) & (x <= self.hi + t)), x)

    def prox(self, x, step):
        _need_real(x, "Box")
        lo = self.lo if torch.is_tensor(self.lo) else torch.tensor(self.lo, dtype=x.dtype, device=x.device)
        hi = self.hi if torch.is_tensor(self.hi) else torch.tensor(self.hi, dtype=x.dtype, device=x.device)
        return torch.minimum(torch.maximum(x, lo.to(x.dtype)), hi.to(x.dtype))


def project_simplex(x: torch.Tensor, axis: int = -1, radius: float = 1.0) -> torch.Tensor:
    """Euclidean projection onto {z ≥ 0, Σ z = radius} along ``axis`` (batched).

    Sort-based algorithm (Held, Wolfe & Crowder 1974; Duchi et al. 2008): O(n log n).

    Returns
    -------
    torch.Tensor
        The projection, shaped like ``x``.
    """
    _need_real(x, "project_simplex")
    xm = x.movedim(axis, -1)
    n = xm.shape[-1]
    u, _ = torch.sort(xm, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - radius
    k = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    cond = u - css / k > 0
    rho = torch.sum(cond, dim=-1, keepdim=True).clamp(min=1)  # number of positive entries
    theta = torch.gather(css, -1, rho - 1) / rho.to(x.dtype)
    return torch.clamp(xm - theta, min=0).movedim(-1, axis)


class Simplex(Prox):
    """Indicator of the (scaled) probability simplex along ``axis``.

    Used for abundance sum-to-one constraints in unmixing.
    """

    def __init__(self, axis: int = -1, radius: float = 1.0):
        self.axis, self.radius = int(axis), float(radius)

    def __call__(self, x):
        _need_real(x, "Simplex")
        t = _tol(x) * x.shape[self.axis]
        ok = torch.all(x >= -t) & torch.all((x.sum(dim=self.axis) - self.radius).abs() <= t)
        return _indicator(ok, x)

    def prox(self, x, step):
        return project_simplex(x, self.axis, self.radius)
