"""Problem descriptions shared by the generic solvers."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from ..linop.base import LinOp
from ..linop.norm import opnorm
from ..prox.base import Prox, Zero
from .krylov import cg_iterate


@dataclasses.dataclass
class LinearSystem:
    """``A x = b`` with ``A`` Hermitian positive (semi-)definite (for CG)."""

    A: LinOp
    b: torch.Tensor


class LeastSquares:
    """Smooth data term f(x) = (weight/2) · ‖A x − y‖².

    Provides ``value``, ``grad``, ``lipschitz`` (power iteration, cached) and an
    exact ``prox`` when ``A`` has a closed-form normal solve, otherwise an
    inexact prox by ``inner_iter`` warm-started CG steps.

    Parameters
    ----------
    A : LinOp
    y : Tensor, shape ``(*batch, *A.out_shape)``
    weight : float
    inner_iter : int
        CG steps for the prox when no closed form exists.
    """

    def __init__(self, A: LinOp, y: torch.Tensor, *, weight: float = 1.0, inner_iter: int = 10):
        self.A, self.y, self.weight, self.inner_iter = A, y, float(weight), int(inner_iter)
        self._lip = None
        self._Ahy = None

    @property
    def Ahy(self) -> torch.Tensor:
        if self._Ahy is None:
            self._Ahy = self.A.H(self.y)
        return self._Ahy

    def value(self, x):
        return 0.5 * self.weight * torch.sum((self.A(x) - self.y).abs() ** 2)

    __call__ = value

    def grad(self, x):
        g = self.A.adjoint(self.A(x) - self.y)
        return g if self.weight == 1.0 else self.weight * g

    def lipschitz(self) -> float:
        if self._lip is None:
            dt = self.y.dtype if self.y.is_complex() or self.y.is_floating_point() else torch.float32
            self._lip = self.weight * 1.01 * opnorm(self.A, dtype=dt, device=self.y.device) ** 2
        return self._lip

    def normal_solve(self, rhs, shift: float, x0=None, iters: int | None = None):
        """Solve (weight·AᴴA + shift·I) x = rhs (closed form or CG from x0)."""
        if self.A.has_solve_normal:
            return self.A.solve_normal(rhs / self.weight, shift / self.weight)
        N = self.A.N
        return cg_iterate(lambda v: self.weight * N(v) + shift * v, rhs, x0=x0,
                          max_iter=iters or self.inner_iter, tol=1e-10)

    def prox(self, v, step):
        # argmin (w/2)‖Ax − y‖² + ‖x − v‖²/(2 step)  ⇔  (w AᴴA + 1/step) x = w Aᴴy + v/step
        return self.normal_solve(self.weight * self.Ahy + v / step, 1.0 / step, x0=v)


@dataclasses.dataclass
class Composite:
    """min_x f(x) + g(x): ``f`` smooth (value, grad, lipschitz), ``g`` with a prox (for FISTA)."""

    f: LeastSquares
    g: Prox = dataclasses.field(default_factory=Zero)

    def objective(self, x):
        return self.f.value(x) + self.g(x)


@dataclasses.dataclass
class PrimalDual:
    """min_x f(x) + Σ_i g_i(K_i x) (for PDHG and ADMM).

    ``f`` has a prox (a :class:`LeastSquares` data term, a :class:`~sensekit.prox.Prox`,
    or ``Zero``); each term is a pair ``(g_i, K_i)`` with ``g_i`` a Prox and
    ``K_i`` a LinOp.
    """

    f: object
    terms: Sequence[tuple] = ()

    def objective(self, x):
        val = self.f(x) if not isinstance(self.f, LeastSquares) else self.f.value(x)
        for g, K in self.terms:
            val = val + g(K(x))
        return val

    def term_norms2(self, like: torch.Tensor) -> list:
        """Upper estimates of ‖K_i‖² for each term (exact bounds where known, else power iteration)."""
        out = []
        for _, K in self.terms:
            b = 1.0 if getattr(K, "is_unitary", False) else getattr(K, "norm_bound", None)
            if b is None:
                dt = like.dtype if (like.is_complex() or like.is_floating_point()) else torch.float32
                b = 1.01 * opnorm(K, dtype=dt, device=like.device) ** 2
            out.append(float(b))
        return out

    def knorm2(self, like: torch.Tensor) -> float:
        """An upper estimate of ‖K‖² = ‖Σ K_iᴴK_i‖ for the stacked operator."""
        return float(sum(self.term_norms2(like)))
