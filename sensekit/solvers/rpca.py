"""Robust PCA: principal component pursuit by inexact ALM, and GoDec (L + S by projections)."""
from __future__ import annotations

import dataclasses
import math

import torch

from ..core.random import randn
from ..prox.norms import soft_threshold, svt
from .base import MaxIter, RelChange, Residual, solve
from .rsvd import _check_matrix, orth


def _bnorm(x: torch.Tensor) -> torch.Tensor:
    """Frobenius norm of each matrix in the last two dims (shape = batch)."""
    return torch.linalg.matrix_norm(x)


def _bcast(t: torch.Tensor) -> torch.Tensor:
    """A per-matrix scalar (shape = batch) broadcast over the last two dims."""
    return t[..., None, None]


# ----------------------------------------------------------------------------- PCP by inexact ALM
@dataclasses.dataclass(frozen=True)
class PCPState:
    L: torch.Tensor
    S: torch.Tensor
    Y: torch.Tensor       # Lagrange multiplier
    mu: torch.Tensor      # penalty, shape = batch (real)
    mu_bar: torch.Tensor  # cap of the penalty, shape = batch
    res: torch.Tensor     # ‖M − L − S‖_F / ‖M‖_F, shape = batch

    @property
    def x(self):
        return (self.L, self.S)


class PCP:
    """Principal component pursuit solved by the inexact augmented Lagrange multiplier method.

    Parameters
    ----------
    lam : float, optional
        Weight of the ℓ1 term; ``1/sqrt(max(m, n))`` by default (Candès et al.).
    rho : float
        Growth factor of the penalty μ per iteration (ρ > 1).
    mu : float, optional
        Initial penalty; ``1.25 / ‖M‖₂`` by default, capped at ``1e7·μ₀``.
    max_iter, tol : default stop ``MaxIter(max_iter) | Residual(tol)`` with
        residual ``‖M − L − S‖_F / ‖M‖_F`` (largest over a batch).

    Notes
    -----
    Solves :math:`\\min_{L,S} \\|L\\|_* + λ\\|S\\|_1` s.t. :math:`L + S = M` by
    alternating on the augmented Lagrangian
    :math:`\\|L\\|_* + λ\\|S\\|_1 + ⟨Y, M-L-S⟩ + \\tfrac{μ}{2}\\|M-L-S\\|_F^2`:
    ``L = SVT_{1/μ}(M − S + Y/μ)``, ``S = soft_{λ/μ}(M − L + Y/μ)``,
    ``Y += μ(M − L − S)``, ``μ = min(ρμ, μ̄)``; ``Y₀ = M / max(‖M‖₂, ‖M‖_∞/λ)``
    (ℓ∞ = largest entry modulus), S₀ = 0.  Batched: each matrix has its own μ.
    """

    def __init__(self, *, lam: float | None = None, rho: float = 1.5, mu: float | None = None,
                 max_iter: int = 1000, tol: float = 1e-7):
        if rho <= 1:
            raise ValueError(f"PCP: rho must be > 1, got {rho}")
        self.lam, self.rho, self.mu0 = lam, float(rho), mu
        self.max_iter, self.tol = int(max_iter), float(tol)

    def default_stop(self):
        return MaxIter(self.max_iter) | Residual(self.tol)

    def _lam(self, M):
        return self.lam if self.lam is not None else 1.0 / math.sqrt(max(M.shape[-2:]))

    def init(self, M: torch.Tensor, x0=None):
        lam = self._lam(M)
        spec = torch.linalg.matrix_norm(M, ord=2)
        inf = M.abs().amax(dim=(-2, -1))
        tiny = torch.finfo(spec.dtype).tiny
        Y = M / _bcast(torch.clamp(torch.maximum(spec, inf / lam), min=tiny)).to(M.dtype)
        mu = (1.25 / torch.clamp(spec, min=tiny)) if self.mu0 is None else torch.full_like(spec, self.mu0)
        L, S = (torch.zeros_like(M), torch.zeros_like(M)) if x0 is None else x0
        return PCPState(L=L, S=S, Y=Y, mu=mu, mu_bar=mu * 1e7, res=torch.ones_like(spec))

    def step(self, M, s: PCPState) -> PCPState:
        lam = self._lam(M)
        inv_mu = 1.0 / s.mu
        Ymu = s.Y * _bcast(inv_mu).to(M.dtype)
        L = svt(M - s.S + Ymu, inv_mu)
        S = soft_threshold(M - L + Ymu, _bcast(lam * inv_mu))
        Z = M - L - S
        Y = s.Y + _bcast(s.mu).to(M.dtype) * Z
        mu = torch.minimum(self.rho * s.mu, s.mu_bar)
        res = _bnorm(Z) / torch.clamp(_bnorm(M), min=torch.finfo(s.mu.dtype).tiny)
        return PCPState(L=L, S=S, Y=Y, mu=mu, mu_bar=s.mu_bar, res=res)

    def measure(self, M, state, prev):
        return {"residual": float(state.res.max())}

    def objective(self, M, state):
        return torch.linalg.svdvals(state.L).sum() + self._lam(M) * state.S.abs().sum()


def pcp(M: torch.Tensor, *, lam: float | None = None, tol: float = 1e-7, max_iter: int = 1000,
        rho: float = 1.5, mu: float | None = None, callbacks=(), check_every: int = 5):
    """Robust PCA by principal component pursuit: ``M = L + S``, L low rank, S sparse.

    Parameters
    ----------
    M : Tensor, shape (..., m, n), real or complex
        Data matrices (leading dims are a batch; each matrix is decomposed on its own).
    lam : float, optional
        ℓ1 weight; ``1/sqrt(max(m, n))`` by default.
    tol : float
        Stop when ``‖M − L − S‖_F / ‖M‖_F < tol`` (for every matrix of a batch).
    max_iter : int
    rho, mu : float
        Penalty growth factor and initial penalty of the inexact ALM (see :class:`PCP`).
    callbacks, check_every :
        Passed to :func:`~sensekit.solvers.solve`; the stop test synchronises
        with the host every ``check_every`` iterations.

    Returns
    -------
    L, S : Tensor, same shape and dtype as M

    Notes
    -----
    Principal component pursuit

    .. math:: \\min_{L, S} \\|L\\|_* + λ \\|S\\|_1 \\quad \\text{s.t.}\\quad L + S = M

    solved by the inexact augmented Lagrange multiplier method (one SVT and
    one soft threshold per iteration, see :class:`PCP`).

    References
    ----------
    E. J. Candès, X. Li, Y. Ma, J. Wright, "Robust principal component
    analysis?", J. ACM 58(3):11, 2011.
    Z. Lin, M. Chen, Y. Ma, "The augmented Lagrange multiplier method for exact
    recovery of corrupted low-rank matrices", arXiv:1009.5055, 2010.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(0)
    >>> L0 = torch.randn(60, 2, dtype=torch.float64, generator=g) @ torch.randn(2, 50, dtype=torch.float64, generator=g)
    >>> S0 = torch.zeros(60, 50, dtype=torch.float64)
    >>> S0.view(-1)[torch.randperm(3000, generator=g)[:90]] = 10.0
    >>> L, S = sk.solvers.pcp(L0 + S0)
    >>> bool(torch.linalg.norm(L - L0) < 1e-5 * torch.linalg.norm(L0))
    True
    """
    _check_matrix("pcp", M)
    res = solve(PCP(lam=lam, rho=rho, mu=mu, max_iter=max_iter, tol=tol), M, callbacks=callbacks,
                check_every=check_every)
    return res.state.L, res.state.S


# ----------------------------------------------------------------------------- GoDec
@dataclasses.dataclass(frozen=True)
class GoDecState:
    L: torch.Tensor
    S: torch.Tensor
    Qr: torch.Tensor      # right subspace carried between iterations (..., n, rank)

    @property
    def x(self):
        return (self.L, self.S)


def hard_threshold_card(R: torch.Tensor, card: int) -> torch.Tensor:
    """Keep the ``card`` entries of largest modulus of each matrix (last two dims), zero the rest.

    Returns
    -------
    torch.Tensor
        The thresholded tensor, shaped like ``R``.
    """
    flat = R.flatten(-2)
    if card <= 0:
        return torch.zeros_like(R)
    idx = flat.abs().topk(min(card, flat.shape[-1]), dim=-1).indices
    return torch.zeros_like(flat).scatter(-1, idx, flat.gather(-1, idx)).view_as(R)


class GoDec:
    """GoDec: alternating rank-k and cardinality-k_s projections with bilateral random projections.

    Parameters
    ----------
    rank : int
        Rank bound of L.
    card : int
        Number of non-zero entries of S (per matrix).
    power_iters : int
        Power steps of the bilateral projection per iteration.
    generator : torch.Generator, optional
        Seeds the first random projection.
    max_iter, tol : default stop ``MaxIter(max_iter) | RelChange(tol)`` on (L, S).

    Notes
    -----
    Approximately solves
    :math:`\\min \\|M - L - S\\|_F^2` s.t. :math:`\\operatorname{rank}(L) \\le k`,
    :math:`\\operatorname{card}(S) \\le k_s` by alternating projections:
    ``L = P_k(M − S)``, ``S = P_{k_s}(M − L)`` (keep the k_s largest entries).
    ``P_k`` is the bilateral random projection ``L = Y₁(A₂ᴴY₁)⁻¹Y₂ᴴ`` with
    ``Y₁ = Z A₁``, ``Y₂ = Zᴴ A₂``, ``A₂ = Y₁``, which equals ``Q Qᴴ Z`` with
    ``Q = orth(Z A₁)``; it is evaluated in that (QR) form for numerical
    stability, and ``A₁`` is the right subspace of the previous iteration, so
    the projections refine across iterations like subspace iteration.
    """

    def __init__(self, *, rank: int, card: int, power_iters: int = 1, generator=None,
                 max_iter: int = 100, tol: float = 1e-7):
        self.rank, self.card, self.power_iters = int(rank), int(card), int(power_iters)
        self.generator, self.max_iter, self.tol = generator, int(max_iter), float(tol)

    def default_stop(self):
        return MaxIter(self.max_iter) | RelChange(self.tol)

    def init(self, M, x0=None):
        m, n = M.shape[-2:]
        if not 1 <= self.rank <= min(m, n):
            raise ValueError(f"GoDec: rank must be in [1, {min(m, n)}], got {self.rank}")
        Qr = orth(randn(tuple(M.shape[:-2]) + (n, self.rank), dtype=M.dtype, device=M.device,
                        generator=self.generator))
        S = torch.zeros_like(M) if x0 is None else x0
        return GoDecState(L=torch.zeros_like(M), S=S, Qr=Qr)

    def step(self, M, s: GoDecState) -> GoDecState:
        Z = M - s.S
        Ql = orth(Z @ s.Qr)
        for _ in range(self.power_iters):
            Ql = orth(Z @ orth(Z.mH @ Ql))
        B = Ql.mH @ Z                      # L = Ql Qlᴴ Z
        L = Ql @ B
        S = hard_threshold_card(M - L, self.card)
        return GoDecState(L=L, S=S, Qr=orth(B.mH))

    def measure(self, M, state, prev):
        r = _bnorm(M - state.L - state.S) / torch.clamp(_bnorm(M), min=torch.finfo(M.real.dtype).tiny)
        return {"residual": float(r.max())}


def godec(M: torch.Tensor, rank: int, card: int, *, power_iters: int = 1, tol: float = 1e-7,
          max_iter: int = 100, generator: torch.Generator | None = None, callbacks=(), check_every: int = 1):
    """Low-rank + sparse decomposition by GoDec (Zhou & Tao 2011).

    Parameters
    ----------
    M : Tensor, shape (..., m, n), real or complex
    rank : int
        Rank of L.
    card : int
        Number of non-zeros of S in each matrix.
    power_iters : int
        Power steps of the bilateral random projection per iteration.
    tol, max_iter : stop when the relative change of (L, S) is below ``tol``.
    generator : torch.Generator, optional
    callbacks, check_every : passed to :func:`~sensekit.solvers.solve`.

    Returns
    -------
    L, S : Tensor, same shape and dtype as M

    Notes
    -----
    .. math:: \\min_{L,S} \\|M - L - S\\|_F^2 \\quad \\text{s.t.}\\quad
              \\operatorname{rank}(L) \\le k,\\ \\operatorname{card}(S) \\le k_s

    by alternating projections (see :class:`GoDec`); each iteration costs
    O(mnk) instead of PCP's full SVD.

    References
    ----------
    T. Zhou, D. Tao, "GoDec: randomized low-rank & sparse matrix decomposition
    in noisy case", ICML 2011.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> g = torch.Generator().manual_seed(1)
    >>> L0 = torch.randn(80, 3, dtype=torch.float64, generator=g) @ torch.randn(3, 60, dtype=torch.float64, generator=g)
    >>> S0 = torch.zeros(80, 60, dtype=torch.float64)
    >>> S0.view(-1)[torch.randperm(4800, generator=g)[:100]] = 20.0
    >>> L, S = sk.solvers.godec(L0 + S0, 3, 100, generator=g, tol=1e-12, max_iter=300)
    >>> bool(torch.linalg.norm(L - L0) < 1e-6 * torch.linalg.norm(L0))
    True
    """
    _check_matrix("godec", M)
    res = solve(GoDec(rank=rank, card=card, power_iters=power_iters, generator=generator,
                      max_iter=max_iter, tol=tol), M, callbacks=callbacks, check_every=check_every)
    return res.state.L, res.state.S
