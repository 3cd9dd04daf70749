"""Conjugate gradient for Hermitian positive (semi-)definite systems."""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from ..core.util import vdot
from .base import MaxIter, Residual, solve
from .problems import LinearSystem


@dataclasses.dataclass(frozen=True)
class CGState:
    x: torch.Tensor
    r: torch.Tensor
    p: torch.Tensor
    rs: torch.Tensor       # ⟨r, r⟩ (0-d, real)
    bnorm2: torch.Tensor   # ‖b‖² (0-d, real)


class CG:
    """Conjugate gradient (Hestenes & Stiefel 1952) for ``A x = b``.

    ``A`` must be Hermitian positive semi-definite (e.g. ``AᴴA + λI``); batch
    dims are treated as one long vector.  The history records
    ``residual = ‖b − A x‖ / ‖b‖``.
    """

    def __init__(self, *, max_iter: int = 50, tol: float = 1e-6):
        self.max_iter, self.tol = int(max_iter), float(tol)

    def default_stop(self):
        return MaxIter(self.max_iter) | Residual(self.tol)

    def init(self, problem: LinearSystem, x0=None):
        b = problem.b
        if x0 is None:
            x = torch.zeros_like(b)
            r = b.clone()
        else:
            x = x0
            r = b - problem.A(x0)
        rs = vdot(r, r).real
        return CGState(x=x, r=r, p=r, rs=rs, bnorm2=vdot(b, b).real)

    def step(self, problem, s: CGState) -> CGState:
        return _cg_step(problem.A, s)

    def measure(self, problem, state, prev):
        return {"residual": float(torch.sqrt(state.rs / torch.clamp(state.bnorm2, min=1e-300)))}

    def objective(self, problem, state):  # ½xᴴAx − Re⟨b, x⟩
        x = state.x
        return 0.5 * vdot(x, problem.A(x)).real - vdot(problem.b, x).real


def _cg_step(A: Callable, s: CGState) -> CGState:
    Ap = A(s.p)
    pAp = vdot(s.p, Ap).real
    tiny = torch.finfo(pAp.dtype).tiny
    alpha = s.rs / torch.clamp(pAp, min=tiny)
    alpha = torch.where(s.rs > 0, alpha, torch.zeros_like(alpha))  # converged exactly: stay put
    x = s.x + alpha.to(s.x.dtype) * s.p
    r = s.r - alpha.to(s.r.dtype) * Ap
    rs = vdot(r, r).real
    beta = rs / torch.clamp(s.rs, min=tiny)
    p = r + beta.to(r.dtype) * s.p
    return CGState(x=x, r=r, p=p, rs=rs, bnorm2=s.bnorm2)


def cg_iterate(A: Callable, b: torch.Tensor, *, x0=None, max_iter: int = 20, tol: float = 0.0,
               check_every: int = 5) -> torch.Tensor:
    """A few CG steps on a callable ``A`` with no driver (inner solves).

    Stops early only when ``tol > 0``, testing ‖r‖ ≤ tol·‖b‖ every
    ``check_every`` steps: each test is one host synchronisation, so a CUDA
    inner solve does not stall on every step.  A converged iterate stays put
    (the step length is zero once the residual vanishes).
    """
    x = torch.zeros_like(b) if x0 is None else x0
    r = b - A(x) if x0 is not None else b.clone()
    s = CGState(x=x, r=r, p=r, rs=vdot(r, r).real, bnorm2=vdot(b, b).real)
    check_every = max(1, int(check_every))
    for k in range(1, max_iter + 1):
        s = _cg_step(A, s)
        if tol > 0 and k % check_every == 0 and k < max_iter and bool(s.rs <= tol ** 2 * s.bnorm2):
            break
    return s.x


def cg(A, b: torch.Tensor, *, x0=None, max_iter: int = 50, tol: float = 1e-6, callbacks=(),
       check_every: int = 1):
    """Solve ``A x = b`` by conjugate gradient; returns a :class:`~sensekit.solvers.Result`.

    Parameters
    ----------
    A : LinOp (Hermitian positive semi-definite), e.g. ``B.N`` for least squares
    b : Tensor, shape (*batch, *A.in_shape)
    x0 : Tensor, optional
    max_iter, tol : stop after ``max_iter`` steps or when ‖b − Ax‖ < tol·‖b‖.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> A = sk.linop.Diag(torch.tensor([1.0, 2.0, 4.0]))
    >>> x = sk.solvers.cg(A, torch.tensor([1.0, 2.0, 4.0]), tol=1e-10).x
    >>> torch.allclose(x, torch.ones(3))
    True
    """
    return solve(CG(max_iter=max_iter, tol=tol), LinearSystem(A, b), x0=x0, callbacks=callbacks,
                 check_every=check_every)
