"""Half-quadratic splitting with continuation for min_x ½‖Ax − y‖² + Σ g_i(K_i x)."""
from __future__ import annotations

import dataclasses

import torch

from .base import MaxIter, RelChange, Stop, solve
from .cg import cg_iterate
from .problems import LeastSquares, PrimalDual


@dataclasses.dataclass(frozen=True)
class HQSState:
    x: torch.Tensor
    beta: float
    k: int          # alternations done at the current beta


class HQS:
    """Half-quadratic (penalty) splitting with continuation on the penalty weight.

    Parameters
    ----------
    beta : float
        Initial penalty weight β.
    growth : float
        β is multiplied by ``growth`` every ``inner_iter`` alternations …
    beta_max : float
        … until it reaches ``beta_max``.
    inner_iter : int
        Alternations per value of β.
    cg_iter : int
        Warm-started CG steps for the x-update.
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)`` (the
        relative change is only meaningful once β has reached ``beta_max``; the
        default stop ignores it before).

    Notes
    -----
    The problem ``min_x ½‖Ax − y‖² + Σ_i g_i(K_i x)`` is replaced by
    ``min_{x, z} ½‖Ax − y‖² + Σ_i [g_i(z_i) + β/2 ‖K_i x − z_i‖²]`` and solved by
    alternating ``z_i ← prox_{g_i/β}(K_i x)`` and
    ``x ← (AᴴA + β Σ K_iᴴK_i)⁻¹ (Aᴴy + β Σ K_iᴴ z_i)`` (CG), while β grows
    geometrically, so that the splitting tends to the original problem.
    Each alternation contracts the error only by about β/(1 + β‖K‖²)-ish
    factors at large β, so ``beta_max`` should stay moderate relative to the
    data term (the minimiser of the split problem is already the original one
    once the thresholds ``λ/β`` are small compared with the signal).
    This is the continuation strategy of k-t SLR (Lingala et al. 2011) and
    FTVd (Wang, Yang, Yin, Zhang 2008); with non-convex ``g_i`` (Schatten
    p < 1) the z-step is the thresholding rule of ``g_i``.

    References
    ----------
    S. G. Lingala, Y. Hu, E. DiBella, M. Jacob, "Accelerated dynamic MRI
    exploiting sparsity and low-rank structure: k-t SLR", IEEE TMI 30(5):1042–1054, 2011.
    Y. Wang, J. Yang, W. Yin, Y. Zhang, "A new alternating minimization algorithm
    for total variation image reconstruction", SIAM J. Imaging Sci. 1(3):248–272, 2008.
    """

    def __init__(self, *, beta: float = 1.0, growth: float = 4.0, beta_max: float = 1e4, inner_iter: int = 10,
                 cg_iter: int = 5, max_iter: int = 200, tol: float = 1e-5):
        if beta <= 0 or growth < 1 or beta_max < beta:
            raise ValueError("HQS needs beta > 0, growth >= 1 and beta_max >= beta")
        self.beta, self.growth, self.beta_max = float(beta), float(growth), float(beta_max)
        self.inner_iter, self.cg_iter = int(inner_iter), int(cg_iter)
        self.max_iter, self.tol = int(max_iter), tol

    def default_stop(self):
        s = MaxIter(self.max_iter)
        return s if not self.tol else s | _AtMaxBeta(self.beta_max, RelChange(self.tol))

    def guard_stop(self, stop: Stop) -> Stop:
        """A caller's stop criterion, kept from firing before the continuation ends (except its iteration
        bound): stopping at a small penalty weight would return the splitting's biased iterate."""
        limit = stop.max_iter()
        return _AtMaxBeta(self.beta_max, stop) if limit is None else MaxIter(limit) | _AtMaxBeta(self.beta_max, stop)

    def init(self, problem: PrimalDual, x0=None):
        if not isinstance(problem.f, LeastSquares):
            raise ValueError("HQS needs a LeastSquares data term")
        return HQSState(x=problem.f.Ahy if x0 is None else x0, beta=self.beta, k=0)

    def step(self, problem: PrimalDual, s: HQSState) -> HQSState:
        f, beta = problem.f, s.beta
        zs = [g.prox(K(s.x), 1.0 / beta) for g, K in problem.terms]
        rhs = f.weight * f.Ahy
        for (_, K), z in zip(problem.terms, zs):
            rhs = rhs + beta * K.H(z)
        NA = f.A.N

        def op(v):
            out = f.weight * NA(v)
            for _, K in problem.terms:
                out = out + beta * K.H(K(v))
            return out
        x = cg_iterate(op, rhs, x0=s.x, max_iter=self.cg_iter)
        k = s.k + 1
        if k >= self.inner_iter and beta < self.beta_max:
            return HQSState(x=x, beta=min(beta * self.growth, self.beta_max), k=0)
        return HQSState(x=x, beta=beta, k=k)

    def measure(self, problem, state, prev):
        return {"beta": state.beta}

    def objective(self, problem, state):
        return problem.objective(state.x)


class _AtMaxBeta(Stop):
    """A stop criterion that only fires once the continuation has finished."""

    def __init__(self, beta_max, crit):
        self.beta_max, self.crit = beta_max, crit

    def check(self, info):
        return self.crit.check(info) if info.get("beta", 0) >= self.beta_max else None

    def __repr__(self):
        return f"AtMaxBeta({self.crit!r})"


def hqs(f: LeastSquares, terms, *, x0=None, beta: float = 1.0, growth: float = 4.0, beta_max: float = 1e4,
        inner_iter: int = 10, cg_iter: int = 5, max_iter: int = 200, tol: float = 1e-5, stop=None,
        callbacks=(), check_every: int = 1, record_objective: bool = False):
    """Minimise ½‖Ax − y‖² + Σ g_i(K_i x) by half-quadratic splitting with continuation.

    Returns
    -------
    Result
        The solution, iteration count, stop reason and history.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> y = torch.tensor([3.0, -0.5, 1.5])
    >>> f = sk.solvers.LeastSquares(sk.linop.Identity(3), y)
    >>> x = sk.solvers.hqs(f, [(sk.prox.L1(1.0), sk.linop.Identity(3))], beta=1.0, growth=2.0,
    ...                    beta_max=16.0, max_iter=400, tol=0).x
    >>> x   # soft thresholding [2, 0, 0.5], up to the splitting's bias −0.5/(1 + β) on the zeroed entry
    tensor([ 2.0000, -0.0294,  0.5000])
    """
    return solve(HQS(beta=beta, growth=growth, beta_max=beta_max, inner_iter=inner_iter, cg_iter=cg_iter,
                     max_iter=max_iter, tol=tol), PrimalDual(f, list(terms)), x0=x0, stop=stop,
                 callbacks=callbacks, check_every=check_every, record_objective=record_objective)
