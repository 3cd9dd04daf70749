"""Primal–dual hybrid gradient (Chambolle–Pock) for min_x f(x) + Σ g_i(K_i x)."""
from __future__ import annotations

import dataclasses

import torch

from ..prox.base import Prox
from ..prox.norms import SquaredL2
from .base import default_stop, solve
from .problems import LeastSquares, PrimalDual


@dataclasses.dataclass(frozen=True)
class PDHGState:
    x: torch.Tensor
    xbar: torch.Tensor
    ys: tuple           # one dual variable per term
    tau: float
    sigma: object       # a float, or a tuple of one dual step per term (block preconditioning)
    f: object = None    # the primal term actually proxed (see PDHG.split)
    terms: tuple = ()   # the dual terms actually used


def prox_of(f: Prox | LeastSquares | None, x: torch.Tensor, step: float | torch.Tensor) -> torch.Tensor:
    """Prox of a primal term that is a Prox, a LeastSquares data term or None.

    Returns
    -------
    torch.Tensor
        The prox of ``f`` at ``x`` with step ``step`` (``x`` itself when ``f`` is None).
    """
    if f is None:
        return x
    return f.prox(x, step)


def _no_grad(*ts) -> bool:
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in ts))


def _axpy(y: torch.Tensor, a, x: torch.Tensor) -> torch.Tensor:
    """``y + a·x`` in one pass (a new tensor) for a real number ``a``."""
    if isinstance(a, (int, float)):
        return torch.add(y, x, alpha=a)
    return y + a * x


class PDHG:
    """Chambolle–Pock primal–dual algorithm (Chambolle & Pock 2011).

    Parameters
    ----------
    tau, sigma : float, optional
        Primal and dual steps with ``tau·sigma·‖K‖² < 1``; by default
        ``tau = ratio / ‖K‖`` and ``sigma = 1 / (ratio · ‖K‖)`` (times 0.99).
    ratio : float
        Primal/dual step balance used when ``tau``/``sigma`` are not given.
    theta : float
        Extrapolation (1 = the standard method).
    precondition : bool
        Block-diagonal preconditioning (Pock & Chambolle 2011): one dual step
        per term, ``σ_i = 0.99 / (ratio · ‖K_i‖)`` and ``τ = ratio / Σ_i ‖K_i‖``,
        so that ``τ · Σ_i σ_i ‖K_i‖² < 1``.  Terms of very different norms
        (a data term, TV, unitary unfoldings) then each take a step of their
        own size.  Ignored when ``tau`` or ``sigma`` is given.
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)``.

    Notes
    -----
    Iterates
    ``y_i ← prox_{σ_i g_i*}(y_i + σ_i K_i x̄)``,
    ``x⁺ ← prox_{τ f}(x − τ Σ K_iᴴ y_i)``,
    ``x̄ ← x⁺ + θ (x⁺ − x)``
    (``σ_i = σ`` for every term without preconditioning).

    References
    ----------
    A. Chambolle, T. Pock, "A first-order primal-dual algorithm for convex
    problems with applications to imaging", J. Math. Imaging Vis. 40:120–145, 2011.
    T. Pock, A. Chambolle, "Diagonal preconditioning for first order
    primal-dual algorithms in convex optimization", ICCV 2011.
    """

    def __init__(self, *, tau: float | None = None, sigma: float | None = None, ratio: float = 1.0,
                 theta: float = 1.0, precondition: bool = False, max_iter: int = 200, tol: float = 1e-6):
        self.tau, self.sigma, self.ratio, self.theta = tau, sigma, float(ratio), float(theta)
        self.precondition = bool(precondition)
        self.max_iter, self.tol = int(max_iter), tol

    def default_stop(self):
        return default_stop(self.max_iter, self.tol)

    @staticmethod
    def split(problem: PrimalDual):
        """A LeastSquares term without a closed-form prox becomes a dual term ½‖· − y‖² ∘ A.

        This is the same objective, fully split (no inner solves), as in
        Chambolle & Pock's treatment of least-squares data terms.
        """
        f, terms = problem.f, tuple(problem.terms)
        if isinstance(f, LeastSquares) and not f.A.has_solve_normal:
            return None, ((SquaredL2(f.weight, f.y), f.A),) + terms
        return f, terms

    def steps(self, problem: PrimalDual, like):
        if self.precondition and self.tau is None and self.sigma is None and len(problem.terms):
            norms = [max(n2, 1e-24) ** 0.5 for n2 in problem.term_norms2(like)]
            tau = self.ratio / sum(norms)
            return tau, tuple(0.99 / (self.ratio * n) for n in norms)
        if self.tau is not None and self.sigma is not None:
            return float(self.tau), float(self.sigma)
        L = max(problem.knorm2(like), 1e-12) ** 0.5
        if self.tau is not None:
            return float(self.tau), 0.99 / (self.tau * L * L)
        if self.sigma is not None:
            return 0.99 / (self.sigma * L * L), float(self.sigma)
        return 0.99 * self.ratio / L, 0.99 / (self.ratio * L)

    def init(self, problem: PrimalDual, x0=None):
        if x0 is None:
            if not isinstance(problem.f, LeastSquares):
                raise ValueError("PDHG needs x0 unless f is a LeastSquares data term")
            x0 = problem.f.Ahy
        f, terms = self.split(problem)
        tau, sigma = self.steps(PrimalDual(f, terms), x0)
        ys = tuple(torch.zeros_like(K(x0)) for _, K in terms)
        return PDHGState(x=x0, xbar=x0, ys=ys, tau=tau, sigma=sigma, f=f, terms=terms)

    def step(self, problem: PrimalDual, s: PDHGState) -> PDHGState:
        sig = s.sigma if isinstance(s.sigma, tuple) else (s.sigma,) * len(s.terms)
        ys = tuple(g.conj_prox(_axpy(y, sg, K(s.xbar)), sg)
                   for (g, K), y, sg in zip(s.terms, s.ys, sig))
        # Σ K_iᴴ y_i: the first sum is a fresh tensor, the later terms are added to it in place (a K_iᴴ may
        # hand back a view of its y_i, which must not be written; so the first term is never written)
        kty, owned = None, False
        for (_, K), y in zip(s.terms, ys):
            t = K.adjoint(y)
            if kty is None:
                kty = t
            elif owned:
                kty.add_(t)
            else:
                kty, owned = kty + t, _no_grad(kty, t)
        v = s.x if kty is None else _axpy(s.x, -s.tau, kty)
        x = prox_of(s.f, v, s.tau)
        xbar = _axpy(x, self.theta, x - s.x)
        return dataclasses.replace(s, x=x, xbar=xbar, ys=ys)

    def objective(self, problem, state):
        return problem.objective(state.x)


def pdhg(f, terms, *, x0=None, tau=None, sigma=None, ratio: float = 1.0, precondition: bool = False,
         max_iter: int = 200, tol: float = 1e-6, callbacks=(), check_every: int = 1,
         record_objective: bool = False, stop=None):
    """Minimise f(x) + Σ g_i(K_i x) by PDHG; returns a :class:`~sensekit.solvers.Result`.

    ``terms`` is a list of ``(g_i, K_i)`` pairs (Prox, LinOp).

    Returns
    -------
    Result
        The solution, iteration count, stop reason and history.

    Examples
    --------
    Total-variation denoising of a step (the TV of the result shrinks):

    >>> import torch, sensekit as sk
    >>> y = torch.tensor([0., 0., 0., 1., 1., 1.]) + 0.1 * torch.tensor([1., -1., 1., -1., 1., -1.])
    >>> D = sk.linop.FiniteDiff((6,), axes=(0,), boundary="neumann")
    >>> f = sk.solvers.LeastSquares(sk.linop.Identity(6), y)
    >>> x = sk.solvers.pdhg(f, [(sk.prox.L1(0.1), D)], max_iter=500).x
    >>> bool(D(x).abs().sum() < D(y).abs().sum())
    True
    """
    return solve(PDHG(tau=tau, sigma=sigma, ratio=ratio, precondition=precondition, max_iter=max_iter, tol=tol),
                 PrimalDual(f, list(terms)), x0=x0, stop=stop, callbacks=callbacks, check_every=check_every,
                 record_objective=record_objective)
