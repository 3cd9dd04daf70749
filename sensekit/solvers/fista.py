"""ISTA / FISTA for composite problems f(x) + g(x)."""
from __future__ import annotations

import dataclasses

import torch

from .base import default_stop, solve
from .problems import Composite, LeastSquares
from ..prox.base import Prox, Zero


@dataclasses.dataclass(frozen=True)
class FISTAState:
    x: torch.Tensor
    z: torch.Tensor   # extrapolated point
    t: torch.Tensor  # momentum parameter (0-d, on the device)
    step: float


class FISTA:
    """Accelerated proximal gradient (Beck & Teboulle 2009) with optional adaptive restart.

    Parameters
    ----------
    step : float, optional
        Gradient step; defaults to ``1 / L`` with ``L`` the Lipschitz constant of ∇f.
    momentum : bool
        False gives plain ISTA (proximal gradient).
    restart : bool
        Gradient-based adaptive restart (O'Donoghue & Candès 2015): reset the
        momentum when it points uphill.
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)``.

    Notes
    -----
    Solves min_x f(x) + g(x) with f smooth:
    ``x_{k+1} = prox_{step·g}(z_k − step·∇f(z_k))``,
    ``t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2``,
    ``z_{k+1} = x_{k+1} + (t_k − 1)/t_{k+1} · (x_{k+1} − x_k)``.
    """

    def __init__(self, *, step: float | None = None, momentum: bool = True, restart: bool = False,
                 max_iter: int = 100, tol: float = 1e-6):
        self.step_size, self.momentum, self.restart = step, bool(momentum), bool(restart)
        self.max_iter, self.tol = int(max_iter), tol

    def default_stop(self):
        return default_stop(self.max_iter, self.tol)

    def init(self, problem: Composite, x0=None):
        if x0 is None:
            x0 = torch.zeros_like(problem.f.Ahy) if isinstance(problem.f, LeastSquares) else None
            if x0 is None:
                raise ValueError("FISTA needs x0 when f is not a LeastSquares term")
        step = self.step_size if self.step_size is not None else 1.0 / problem.f.lipschitz()
        t = torch.ones((), dtype=x0.real.dtype, device=x0.device)
        return FISTAState(x=x0, z=x0, t=t, step=float(step))

    def step(self, problem: Composite, s: FISTAState) -> FISTAState:
        grad = problem.f.grad(s.z)
        v = torch.add(s.z, grad, alpha=-s.step) if isinstance(s.step, float) else s.z - s.step * grad
        x = problem.g.prox(v, s.step)
        if not self.momentum:
            return FISTAState(x=x, z=x, t=s.t, step=s.step)
        t = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * s.t * s.t))
        beta = (s.t - 1.0) / t
        d = x - s.x
        if self.restart:
            # restart when ⟨z − x_new, x_new − x_old⟩ > 0 (momentum points uphill); no host sync
            up = torch.sum(((s.z - x).conj() * d).real) > 0
            beta = torch.where(up, torch.zeros_like(beta), beta)
            t = torch.where(up, torch.ones_like(t), t)
        z = x + beta.to(x.dtype) * d
        return FISTAState(x=x, z=z, t=t, step=s.step)

    def objective(self, problem, state):
        return problem.objective(state.x)


def fista(f: LeastSquares, g: Prox | None = None, *, x0=None, step=None, max_iter: int = 100,
          tol: float = 1e-6, momentum: bool = True, restart: bool = False, callbacks=(), check_every: int = 1,
          record_objective: bool = False):
    """Minimise f(x) + g(x) by FISTA; returns a :class:`~sensekit.solvers.Result`.

    Returns
    -------
    Result
        The solution, iteration count, stop reason and history.

    Examples
    --------
    Lasso with an identity operator is soft thresholding:

    >>> import torch, sensekit as sk
    >>> y = torch.tensor([3.0, -0.5, 1.5])
    >>> f = sk.solvers.LeastSquares(sk.linop.Identity(3), y)
    >>> x = sk.solvers.fista(f, sk.prox.L1(1.0), max_iter=50).x
    >>> torch.allclose(x, torch.tensor([2.0, 0.0, 0.5]))
    True
    """
    return solve(FISTA(step=step, momentum=momentum, restart=restart, max_iter=max_iter, tol=tol),
                 Composite(f, g if g is not None else Zero()), x0=x0, callbacks=callbacks,
                 check_every=check_every, record_objective=record_objective)
