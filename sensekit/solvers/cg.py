"""Conjugate gradient for Hermitian positive (semi-)definite systems."""
from __future__ import annotations


import torch

from ..core.util import vdot
from .base import MaxIter, Residual, solve
from .krylov import CGState, _cg_step, cg_iterate  # noqa: F401  (cg_iterate re-exported here)
from .problems import LinearSystem


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


def cg(A, b: torch.Tensor, *, x0=None, max_iter: int = 50, tol: float = 1e-6, callbacks=(),
       check_every: int = 1):
    """Solve ``A x = b`` by conjugate gradient; returns a :class:`~sensekit.solvers.Result`.

    Parameters
    ----------
    A : LinOp (Hermitian positive semi-definite), e.g. ``B.N`` for least squares
    b : Tensor, shape ``(*batch, *A.in_shape)``
    x0 : Tensor, optional
    max_iter, tol : stop after ``max_iter`` steps or when ‖b − Ax‖ < tol·‖b‖.

    Returns
    -------
    Result
        The solution, iteration count, stop reason and history.

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
