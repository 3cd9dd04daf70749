"""Norms with closed-form proximal maps: ℓ1, ℓ2,1 (group), nuclear, squared ℓ2."""
from __future__ import annotations

import torch

from .base import Prox


def _tiny(x):
    return torch.finfo(x.real.dtype).tiny


def soft_threshold(x: torch.Tensor, t) -> torch.Tensor:
    """Soft thresholding, complex-aware: ``x · max(1 − t/|x|, 0)``.

    ``t`` may be a scalar or a tensor broadcastable to ``x``.
    """
    if x.is_complex():
        mag = x.abs()
        return x * torch.clamp(1 - t / torch.clamp(mag, min=_tiny(x)), min=0)
    return torch.sign(x) * torch.clamp(x.abs() - t, min=0)


class L1(Prox):
    """g(x) = lam · Σ|x_i| (complex moduli for complex x).

    Notes
    -----
    prox: soft thresholding at ``lam·step``; conjugate prox: projection onto the
    ℓ∞ ball of radius ``lam`` (radial clipping for complex entries).
    """

    def __init__(self, lam: float = 1.0):
        self.lam = float(lam)

    def __call__(self, x):
        return self.lam * x.abs().sum()

    def prox(self, x, step):
        return soft_threshold(x, self.lam * step)

    def conj_prox(self, v, sigma):
        if v.is_complex():
            return v * torch.clamp(self.lam / torch.clamp(v.abs(), min=_tiny(v)), max=1.0)
        return torch.clamp(v, -self.lam, self.lam)


class L21(Prox):
    """Group norm g(x) = lam · Σ_groups ‖x_group‖₂, groups spanning ``axes``.

    With ``x = D u`` stacked as ``(n_dirs, *shape)`` and ``axes=(-4,)`` for a
    3-d ``shape``, this is isotropic total variation.

    Parameters
    ----------
    lam : float
    axes : int or tuple of int
        Axes (negative, counted from the end) that make one group.
    """

    def __init__(self, lam: float = 1.0, axes=(-1,)):
        self.lam = float(lam)
        self.axes = (axes,) if isinstance(axes, int) else tuple(axes)

    def _gnorm(self, x):
        return torch.sqrt(torch.sum(x.abs() ** 2, dim=self.axes, keepdim=True))

    def __call__(self, x):
        return self.lam * self._gnorm(x).sum()

    def prox(self, x, step):
        n = self._gnorm(x)
        return x * torch.clamp(1 - self.lam * step / torch.clamp(n, min=_tiny(x)), min=0)

    def conj_prox(self, v, sigma):
        n = self._gnorm(v)
        return v * torch.clamp(self.lam / torch.clamp(n, min=_tiny(v)), max=1.0)


def svt(x: torch.Tensor, t) -> torch.Tensor:
    """Singular value soft thresholding of the last two dims (batched).

    ``t`` is a scalar or a tensor of shape ``batch`` (one threshold per matrix).
    """
    U, s, Vh = torch.linalg.svd(x, full_matrices=False)
    if torch.is_tensor(t) and t.ndim > 0:
        t = t.unsqueeze(-1)
    s = torch.clamp(s - t, min=0)
    return (U * s.unsqueeze(-2).to(U.dtype)) @ Vh


class Nuclear(Prox):
    """Nuclear norm of each matrix in the last two dims: g(X) = lam · Σ σ_i(X).

    Batched over leading dims (the value sums over the batch).  Combine with
    :class:`~sensekit.prox.Transformed` and :class:`~sensekit.linop.Unfold` for
    the nuclear norm of a tensor unfolding (e.g. a Casorati matrix).

    Notes
    -----
    prox: singular value thresholding at ``lam·step`` (Cai, Candès & Shen 2010);
    conjugate prox: singular values clipped at ``lam`` (projection onto the
    spectral-norm ball).
    """

    def __init__(self, lam: float = 1.0):
        self.lam = float(lam)

    def __call__(self, x):
        return self.lam * torch.linalg.svdvals(x).sum()

    def prox(self, x, step):
        return svt(x, self.lam * step)

    def conj_prox(self, v, sigma):
        U, s, Vh = torch.linalg.svd(v, full_matrices=False)
        s = torch.clamp(s, max=self.lam)
        return (U * s.unsqueeze(-2).to(U.dtype)) @ Vh


class SquaredL2(Prox):
    """g(x) = lam/2 · ‖x − b‖² (``b`` defaults to 0)."""

    def __init__(self, lam: float = 1.0, b: torch.Tensor | None = None):
        self.lam, self.b = float(lam), b

    def __call__(self, x):
        r = x if self.b is None else x - self.b
        return 0.5 * self.lam * torch.sum(r.abs() ** 2)

    def prox(self, x, step):
        t = self.lam * step
        if self.b is None:
            return x / (1 + t)
        return (x + t * self.b) / (1 + t)
