"""ADMM for min_x f(x) + Σ g_i(K_i x) with splitting z_i = K_i x."""
from __future__ import annotations

import dataclasses

import torch

from .base import MaxIter, Residual, solve
from .cg import cg_iterate
from .problems import LeastSquares, PrimalDual


@dataclasses.dataclass(frozen=True)
class ADMMState:
    x: torch.Tensor
    zs: tuple
    us: tuple   # scaled duals


class ADMM:
    """Alternating direction method of multipliers (Boyd et al. 2011), scaled form.

    Parameters
    ----------
    rho : float
        Penalty parameter.
    inner_iter : int
        CG steps for the x-update when it has no closed form.
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)``.

    Notes
    -----
    With ``z_i = K_i x``:
    ``x ← argmin f(x) + ρ/2 Σ‖K_i x − z_i + u_i‖²``,
    ``z_i ← prox_{g_i/ρ}(K_i x + u_i)``, ``u_i ← u_i + K_i x − z_i``.
    The x-update is closed form when f is a :class:`LeastSquares` term whose
    operator has a normal solve and every ``K_i`` is unitary, or when every
    ``K_i`` is unitary and f is a Prox; otherwise it runs ``inner_iter``
    warm-started CG steps on ``(w AᴴA + ρ Σ K_iᴴK_i) x = w Aᴴy + ρ Σ K_iᴴ(z_i − u_i)``.
    The history records ``primal_residual`` = ‖Kx − z‖, ``dual_residual``
    = ρ‖Kᴴ(z − z_prev)‖ and ``residual``, the larger of the two relative to
    max(‖Kx‖, ‖z‖) and ρ‖Kᴴu‖; the default stop is ``residual < tol``.
    """

    def __init__(self, *, rho: float = 1.0, inner_iter: int = 10, max_iter: int = 200, tol: float = 1e-6):
        self.rho, self.inner_iter, self.max_iter, self.tol = float(rho), int(inner_iter), int(max_iter), tol

    def default_stop(self):
        # x alone can stall while z and u still move, so stop on the residuals (Boyd et al. §3.3)
        s = MaxIter(self.max_iter)
        return s if self.tol is None or self.tol <= 0 else s | Residual(self.tol)

    def init(self, problem: PrimalDual, x0=None):
        if x0 is None:
            if not isinstance(problem.f, LeastSquares):
                raise ValueError("ADMM needs x0 unless f is a LeastSquares data term")
            x0 = problem.f.Ahy
        zs = tuple(K(x0) for _, K in problem.terms)
        us = tuple(torch.zeros_like(z) for z in zs)
        return ADMMState(x=x0, zs=zs, us=us)

    def _x_update(self, problem, s):
        rho, f = self.rho, problem.f
        rhs = None
        for (_, K), z, u in zip(problem.terms, s.zs, s.us):
            t = K.H(z - u)
            rhs = t if rhs is None else rhs + t
        m = len(problem.terms)
        unitary = all(getattr(K, "is_unitary", False) for _, K in problem.terms)
        if isinstance(f, LeastSquares):
            b = f.weight * f.Ahy + rho * rhs
            if unitary and f.A.has_solve_normal:
                return f.A.solve_normal(b / f.weight, rho * m / f.weight)
            NA = f.A.N

            def op(v):
                out = f.weight * NA(v)
                for _, K in problem.terms:
                    out = out + rho * K.H(K(v))
                return out
            return cg_iterate(op, b, x0=s.x, max_iter=self.inner_iter)
        if unitary:  # argmin f(x) + ρm/2 ‖x − rhs/m‖²
            return f.prox(rhs / m, 1.0 / (rho * m))
        raise ValueError("ADMM: a non-quadratic f needs unitary K_i (use PDHG otherwise)")

    def step(self, problem: PrimalDual, s: ADMMState) -> ADMMState:
        x = self._x_update(problem, s)
        kxs = tuple(K(x) for _, K in problem.terms)
        zs = tuple(g.prox(kx + u, 1.0 / self.rho) for (g, _), kx, u in zip(problem.terms, kxs, s.us))
        us = tuple(u + kx - z for u, kx, z in zip(s.us, kxs, zs))
        return ADMMState(x=x, zs=zs, us=us)

    def measure(self, problem, state, prev):
        def n2(t):
            return float(torch.linalg.vector_norm(t)) ** 2
        kxs = [K(state.x) for _, K in problem.terms]
        pr = sum(n2(kx - z) for kx, z in zip(kxs, state.zs)) ** 0.5
        dr = self.rho * sum(n2(K.H(z - zp)) for (_, K), z, zp in zip(problem.terms, state.zs, prev.zs)) ** 0.5
        scale_p = max(sum(n2(kx) for kx in kxs), sum(n2(z) for z in state.zs)) ** 0.5
        scale_d = self.rho * sum(n2(K.H(u)) for (_, K), u in zip(problem.terms, state.us)) ** 0.5
        tiny = 1e-30
        rel = max(pr / max(scale_p, tiny), dr / max(scale_d, tiny))
        return {"primal_residual": pr, "dual_residual": dr, "residual": rel}

    def objective(self, problem, state):
        return problem.objective(state.x)


def admm(f, terms, *, x0=None, rho: float = 1.0, inner_iter: int = 10, max_iter: int = 200, tol: float = 1e-6,
         callbacks=(), check_every: int = 1, record_objective: bool = False):
    """Minimise f(x) + Σ g_i(K_i x) by ADMM; returns a :class:`~sensekit.solvers.Result`.

    Returns
    -------
    Result
        The solution, iteration count, stop reason and history.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> y = torch.tensor([3.0, -0.5, 1.5])
    >>> f = sk.solvers.LeastSquares(sk.linop.Identity(3), y)
    >>> x = sk.solvers.admm(f, [(sk.prox.L1(1.0), sk.linop.Identity(3))], max_iter=300, tol=1e-8).x
    >>> torch.allclose(x, torch.tensor([2.0, 0.0, 0.5]), atol=1e-5)
    True
    """
    return solve(ADMM(rho=rho, inner_iter=inner_iter, max_iter=max_iter, tol=tol), PrimalDual(f, list(terms)),
                 x0=x0, callbacks=callbacks, check_every=check_every, record_objective=record_objective)
