"""Robust matrix recovery with an ℓ1 loss by the sub-gradient method (Ma & Fattahi)."""
from __future__ import annotations

import dataclasses

import torch

from ..core.random import randn
from ..linop.base import LinOp
from .base import MaxIter, solve
from .sensing import SensingProblem


@dataclasses.dataclass(frozen=True)
class SubGMState:
    U: torch.Tensor        # (..., n, k)
    eta: torch.Tensor      # current step size (0-d)
    loss: torch.Tensor     # (1/m) ‖A(U Uᵀ) − y‖₁ before the last step (largest over a batch)

    @property
    def x(self):
        return self.U @ self.U.mT


class SubGM:
    """Sub-gradient method on the ℓ1 loss of a symmetric factorisation, small start, geometric steps.

    Parameters
    ----------
    rank : int
        Factor width r' (any r' ≥ rank(X*); over-estimation is harmless).
    alpha : float
        Initialisation scale: ``U₀ = α B``, B with i.i.d. N(0, 1/n) entries (‖B‖₂ ≈ 1).
    step : float
        Initial step η₀ in units of the first sub-gradient's norm (see Notes).
    decay : float
        Geometric decay ρ ∈ (0, 1) of the step, ``η_t = η₀ ρ^t``.
    generator : torch.Generator, optional
    max_iter : int
        Number of iterations (the default stop).

    Notes
    -----
    Minimises :math:`f(U) = \\tfrac1m \\|\\mathcal A(U U^T) - y\\|_1` with
    ``U_{t+1} = U_t − η_t (D_t + D_tᵀ) U_t``, ``D_t = Aᴴ(sign(A(U_t U_tᵀ) − y))``.
    The paper's step ``η_t = η₀ ρ^t`` has ``η₀`` inversely proportional to the
    operator's Sign-RIP scale φ (≈ √(2/π)(1 − p) for Gaussian measurements with
    a fraction p of outliers), which is unknown in practice; here ``η₀ = step /
    ‖D₀‖_F`` with D₀ the first sub-gradient, which estimates that scale
    (D₀ ≈ φ·X*/‖X*‖_F from a small start), so ``step`` is dimensionless.
    """

    def __init__(self, *, rank: int, alpha: float = 1e-6, step: float = 1.0, decay: float = 0.96,
                 generator=None, max_iter: int = 500):
        if not 0 < decay <= 1:
            raise ValueError(f"SubGM: decay must be in (0, 1], got {decay}")
        self.rank, self.alpha, self.step_size, self.decay = int(rank), float(alpha), float(step), float(decay)
        self.generator, self.max_iter = generator, int(max_iter)

    def default_stop(self):
        return MaxIter(self.max_iter)

    def _subgrad(self, pb, U):
        r = pb.A(U @ U.mT) - pb.y
        D = pb.A.adjoint(torch.sign(r))
        return D, r.abs().mean(-1).max()

    def init(self, pb: SensingProblem, x0=None):
        n1, n2 = pb.A.in_shape
        if n1 != n2:
            raise ValueError("SubGM: the symmetric U Uᵀ needs a square operator")
        if x0 is None:
            x0 = self.alpha * randn(tuple(pb.y.shape[:-1]) + (n1, self.rank), dtype=pb.y.dtype, device=pb.y.device,
                                    generator=self.generator) / n1 ** 0.5
        D0, loss = self._subgrad(pb, x0)
        d0 = torch.linalg.matrix_norm(D0).max()
        eta = self.step_size / torch.clamp(d0, min=torch.finfo(d0.dtype).tiny)
        return SubGMState(U=x0, eta=eta, loss=loss)

    def step(self, pb, s: SubGMState) -> SubGMState:
        D, loss = self._subgrad(pb, s.U)
        U = s.U - s.eta.to(s.U.dtype) * ((D + D.mT) @ s.U)
        return SubGMState(U=U, eta=s.eta * self.decay, loss=loss)

    def measure(self, pb, state, prev):
        return {"loss": float(state.loss), "step": float(state.eta)}


def subgm(A: LinOp, y: torch.Tensor, rank: int, *, alpha: float = 1e-6, step: float = 1.0, decay: float = 0.96,
          max_iter: int = 500, generator: torch.Generator | None = None, callbacks=(), check_every: int = 10):
    """Robust low-rank PSD recovery from grossly corrupted measurements (ℓ1 loss, SubGM).

    Parameters
    ----------
    A : LinOp, in_shape (n, n), real, e.g. :class:`~sensekit.linop.MatrixSensing`
    y : Tensor, shape (..., m), real
        ``y = A(X*) + s`` with s sparse (arbitrarily large) outliers and/or noise.
    rank : int
        Factor width r' ≥ rank(X*) (the method is agnostic to over-estimation).
    alpha : float
        Small initialisation scale (the key to rank-agnosticism).
    step, decay : float
        Step ``η_t = (step/‖D₀‖_F)·decay^t`` (see :class:`SubGM`).
    max_iter : int
    generator : torch.Generator, optional
    callbacks, check_every : passed to :func:`~sensekit.solvers.solve`.

    Returns
    -------
    Result
        ``result.x`` is ``U Uᵀ``; ``result.state.U`` the factor.

    Notes
    -----
    .. math:: \\min_{U ∈ R^{n×r'}} \\frac1m \\sum_{i=1}^m |⟨A_i, U U^T⟩ - y_i|

    by the sub-gradient method from a small random start with a geometrically
    decaying step.  Under Sign-RIP (Gaussian measurements, m ≳ n r²·polylog,
    independent of r') the error ‖U_t U_tᵀ − X*‖_F decays linearly even with
    a constant fraction of gross outliers and an over-estimated rank.

    References
    ----------
    J. Ma, S. Fattahi, "Global convergence of sub-gradient method for robust
    matrix recovery: small initialization, noisy measurements, and
    over-parameterization", JMLR 24, 2023 (arXiv:2202.08788).

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> A = sk.linop.MatrixSensing.gaussian(10, 300, symmetric=True, dtype=torch.float64, generator=g)
    >>> B = torch.randn(10, 1, dtype=torch.float64, generator=g)
    >>> X = B @ B.T
    >>> y = A(X)
    >>> y[:30] += 100.0                      # 10% gross outliers
    >>> res = sk.solvers.subgm(A, y, 3, generator=g, max_iter=600)
    >>> bool(torch.linalg.norm(res.x - X) < 1e-5 * torch.linalg.norm(X))
    True
    """
    return solve(SubGM(rank=rank, alpha=alpha, step=step, decay=decay, generator=generator, max_iter=max_iter),
                 SensingProblem(A, y), callbacks=callbacks, check_every=check_every)
