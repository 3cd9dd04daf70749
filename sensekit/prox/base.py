"""Proximal maps: the base class and its algebra.

``g.prox(x, step)`` returns argmin_z g(z) + ‖z − x‖² / (2·step); ``g(x)`` is the
value (a 0-d tensor, ``inf`` outside the domain of an indicator); ``lam * g``
scales; ``g.conj_prox(v, sigma)`` is the prox of σ·g* (Moreau's identity by
default, exact projections where subclasses know them).
"""
from __future__ import annotations

import numbers

import torch


class Prox:
    """Base class of proper, closed, convex functions with a computable prox."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def prox(self, x: torch.Tensor, step: float) -> torch.Tensor:
        """The proximal map of ``step · g`` at ``x``.

        Returns
        -------
        torch.Tensor
            ``prox_{step·g}(x)``, shaped like ``x``.
        """
        raise NotImplementedError

    def conj_prox(self, v: torch.Tensor, sigma: float) -> torch.Tensor:
        """prox of σ·g* at v, by Moreau: v − σ · prox_{g/σ}(v / σ).

        Returns
        -------
        torch.Tensor
            ``prox_{σ g*}(v)``, shaped like ``v``.
        """
        return v - sigma * self.prox(v / sigma, 1.0 / sigma)

    def __mul__(self, lam):
        if isinstance(lam, numbers.Real) or (torch.is_tensor(lam) and lam.ndim == 0 and not lam.is_complex()):
            lam = float(lam)
            if lam < 0:
                raise ValueError(f"a prox can only be scaled by a non-negative number, got {lam}")
            return Scaled(self, lam)
        return NotImplemented

    __rmul__ = __mul__

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Scaled(Prox):
    """``lam · g``."""

    def __init__(self, g: Prox, lam: float):
        if isinstance(g, Scaled):
            g, lam = g.g, g.lam * lam
        self.g, self.lam = g, float(lam)

    def __call__(self, x):
        v = self.g(x)
        return v if self.lam == 1.0 else self.lam * v

    def prox(self, x, step):
        return self.g.prox(x, self.lam * step)

    def conj_prox(self, v, sigma):
        if self.lam == 0:
            return torch.zeros_like(v)
        return self.lam * self.g.conj_prox(v / self.lam, sigma / self.lam)


class Zero(Prox):
    """g = 0 (prox is the identity)."""

    def __call__(self, x):
        return torch.zeros((), dtype=x.real.dtype, device=x.device)

    def prox(self, x, step):
        return x

    def conj_prox(self, v, sigma):  # g* is the indicator of {0}
        return torch.zeros_like(v)


class Transformed(Prox):
    """``g(U x)`` for a unitary operator ``U``: prox = Uᴴ prox_g(U x).

    Typical uses: sparsity in an orthonormal transform (temporal FFT, wavelets),
    nuclear norm of an unfolding.
    """

    def __init__(self, g: Prox, U):
        if not getattr(U, "is_unitary", False):
            raise ValueError(f"Transformed needs a unitary operator, got {type(U).__name__}")
        self.g, self.U = g, U

    def __call__(self, x):
        return self.g(self.U(x))

    def prox(self, x, step):
        return self.U.H(self.g.prox(self.U(x), step))

    def conj_prox(self, v, sigma):
        return self.U.H(self.g.conj_prox(self.U(v), sigma))


class Average(Prox):
    """Proximal average of ``g_1 … g_m``: its prox is the mean of their proxes.

    The mean of proximal maps is itself the proximal map of a proper closed
    convex function, the proximal average p (Bauschke, Goebel, Lucet, Wang,
    SIAM J. Optim. 19(2):766–785, 2008), so proximal-gradient methods that use
    this prox minimise a well-defined convex objective.  Typical use: cycle
    spinning, the average over circular shifts s of ``g(W S_s x)`` for an
    orthonormal wavelet W, which removes the shift dependence of a decimated
    transform.

    ``average(x)`` returns the mean of ``g_i(x)``, an upper bound of p(x)
    (p ≤ Σ g_i / m by convexity of the proximal average in the functions);
    it is exact when all g_i agree at x.
    """

    def __init__(self, proxes):
        self.proxes = list(proxes)
        if not self.proxes:
            raise ValueError("Average: give at least one prox")

    def __call__(self, x):
        return sum(g(x) for g in self.proxes) / len(self.proxes)

    def prox(self, x, step):
        out = self.proxes[0].prox(x, step)
        for g in self.proxes[1:]:
            out = out + g.prox(x, step)
        return out / len(self.proxes)


class BlockSeparable(Prox):
    """Σ_i g_i(x_i) for blocks ``x_i = x.select(axis, i)`` stacked along ``axis``.

    ``axis`` counts from the end (negative) so that leading batch dims are free.
    """

    def __init__(self, proxes, axis: int):
        if axis >= 0:
            raise ValueError("BlockSeparable: give axis as a negative index (counted from the end)")
        self.proxes, self.axis = list(proxes), int(axis)

    def _blocks(self, x):
        if x.shape[self.axis] != len(self.proxes):
            raise ValueError(f"BlockSeparable: {len(self.proxes)} blocks expected along axis {self.axis}, "
                             f"got {x.shape[self.axis]}")
        return [x.select(self.axis, i) for i in range(len(self.proxes))]

    def __call__(self, x):
        return sum(g(b) for g, b in zip(self.proxes, self._blocks(x)))

    def prox(self, x, step):
        return torch.stack([g.prox(b, step) for g, b in zip(self.proxes, self._blocks(x))], dim=self.axis)

    def conj_prox(self, v, sigma):
        return torch.stack([g.conj_prox(b, sigma) for g, b in zip(self.proxes, self._blocks(v))], dim=self.axis)
