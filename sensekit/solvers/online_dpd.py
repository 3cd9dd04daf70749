"""Streaming rank-one robust SVD by density power divergence: a background tracked block by block.

For data that arrive as blocks of columns (video frames, snapshots), the rank-one rSVDdpd model
``X ≈ c dᵀ`` is fitted with the past columns' contributions kept as two running sums per row, so
memory is O(m) whatever the number of columns, and the row vector ``c`` is warm-started from block
to block.
"""
from __future__ import annotations

import dataclasses

import torch

from .robust_svd import iqr


@dataclasses.dataclass(frozen=True)
class OnlineDPDState:
    c: torch.Tensor       # (..., m) current row vector (the background image for video), data units / scale
    num: torch.Tensor     # (..., m) discounted Σ_j w_ij X_ij d_j of the past columns
    den: torch.Tensor     # (..., m) discounted Σ_j w_ij d_j² of the past columns
    scale: torch.Tensor   # (...) the normalising scale (IQR of the first block), fixed
    columns: int = 0      # columns seen so far
    sigma2: object = 1.0  # (...) DPD scale σ² in units of scale² (1: the authors' fixed σ)

    @property
    def x(self):
        return self.c * self.scale[..., None]


class OnlineDPD:
    """Rank-one rSVDdpd on a stream of column blocks, with exponential forgetting.

    Parameters
    ----------
    alpha : float
        DPD robustness parameter in [0, 1] (weights ``exp(−α r²/2)`` in units of
        the first block's inter-quartile range, as in :func:`~sensekit.solvers.rsvd_dpd`).
    forget : float
        Per-column forgetting factor γ in (0, 1]; the effective memory is about
        ``1/(1 − γ)`` columns (γ = 1: every past column counts equally).
    sweeps : int
        Alternations (coefficients of the block, then the row vector) per block.
    inner_iter : int
        Fixed-point iterations per half-sweep (each warm-started).
    sigma_update : bool
        Re-estimate σ² after every sweep from the current block's residuals by
        the DPD scale equation (as :func:`~sensekit.solvers.rsvd_dpd` with
        ``sigma_update=True``), carried from block to block; False keeps σ² = 1
        (weights ``exp(−α r²/2)``).
    sigma2_min : float
        Floor of the estimated σ².

    Notes
    -----
    After the blocks ``X^(1..t)`` (m × B each) the row vector ``c`` minimises the
    discounted DPD objective

    .. math:: \\sum_{s \\le t} \\sum_j γ^{\\,n_t - j} \\sum_i
              \\Big[(1+α)^{-1/2} - (1 + \\tfrac1α) e^{-α (X_{ij} - c_i d_j)^2/2}\\Big]

    (``j`` the global column index, ``n_t`` the columns seen) with the
    weights of past blocks frozen at the values they had when their block was
    processed — the recursive-least-squares approximation, which keeps two
    numbers per row.  Within a block the authors' alternation is used: with
    ``c`` fixed, ``d_j = Σ_i w_ij X_ij c_i / Σ_i w_ij c_i²``; with ``d`` fixed,
    ``c_i = (num_i + Σ_j w_ij X_ij d_j γ^{B−1−j}) / (den_i + Σ_j w_ij d_j² γ^{B−1−j})``
    with the past sums discounted by ``γ^B``.  The first block starts from the
    row-wise median (``d = 1``); later blocks from the previous ``c``.  With
    γ = 1 and a single block this is the rank-one rSVDdpd fixed point of
    that block.

    References
    ----------
    S. Roy, A. Basu, A. Ghosh, arXiv:2109.10680 (the rank-one DPD fit this
    tracks).
    """

    def __init__(self, *, alpha: float = 0.5, forget: float = 0.995, sweeps: int = 2, inner_iter: int = 3,
                 sigma_update: bool = False, sigma2_min: float = 0.1):
        if not 0 <= alpha <= 1:
            raise ValueError(f"OnlineDPD: alpha must be in [0, 1], got {alpha}")
        if not 0 < forget <= 1:
            raise ValueError(f"OnlineDPD: forget must be in (0, 1], got {forget}")
        if sweeps < 1 or inner_iter < 1:
            raise ValueError(f"OnlineDPD: sweeps and inner_iter must be >= 1, got {sweeps}, {inner_iter}")
        self.alpha, self.forget = float(alpha), float(forget)
        self.sweeps, self.inner_iter = int(sweeps), int(inner_iter)
        self.sigma_update, self.sigma2_min = bool(sigma_update), float(sigma2_min)

    def init(self, X0: torch.Tensor) -> OnlineDPDState:
        """A state from the first block ``X0`` (..., m, B): its scale and a median start for ``c``."""
        scale = iqr(X0)
        scale = torch.where(scale > 0, scale, X0.abs().amax(dim=(-2, -1)))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        c = X0.median(dim=-1).values / scale[..., None]
        zero = torch.zeros_like(c)
        return OnlineDPDState(c=c, num=zero, den=zero, scale=scale, columns=0, sigma2=torch.ones_like(scale))

    def update(self, state: OnlineDPDState, X: torch.Tensor) -> tuple[OnlineDPDState, torch.Tensor]:
        """Fold one block ``X`` (..., m, B) into the state.

        Returns the new state and the block's coefficients ``d`` (..., B): the
        rank-one fit of the block is ``state.x[..., :, None] * d[..., None, :]``.
        """
        Xn = X / state.scale[..., None, None]
        B = X.shape[-1]
        sigma2 = torch.as_tensor(state.sigma2, dtype=X.dtype, device=X.device).expand(X.shape[:-2])
        tiny = torch.finfo(X.dtype).tiny
        disc = self.forget ** torch.arange(B - 1, -1, -1, dtype=X.dtype, device=X.device)   # γ^{B−1−j}
        past = self.forget ** B
        c = state.c
        d = torch.ones(X.shape[:-2] + (B,), dtype=X.dtype, device=X.device)
        num_b = den_b = None
        for _ in range(self.sweeps):
            g = (-0.5 * self.alpha / sigma2)[..., None, None]
            for _ in range(self.inner_iter):          # coefficients of the block's columns, c fixed
                W = torch.exp((Xn - c[..., :, None] * d[..., None, :]).square() * g)
                cn = ((W * Xn).mT @ c[..., :, None])[..., 0]
                cd = (W.mT @ (c * c)[..., :, None])[..., 0]
                d = torch.where(cd > tiny, cn / torch.clamp(cd, min=tiny), d)
            dd = d * disc
            for _ in range(self.inner_iter):          # the row vector, d fixed, past sums discounted
                W = torch.exp((Xn - c[..., :, None] * d[..., None, :]).square() * g)
                num_b = ((W * Xn) @ dd[..., :, None])[..., 0]
                den_b = (W @ (d * dd)[..., :, None])[..., 0]
                num, den = past * state.num + num_b, past * state.den + den_b
                c = torch.where(den > tiny, num / torch.clamp(den, min=tiny), c)
            if self.sigma_update:                     # the DPD scale equation on this block's residuals
                R2 = (Xn - c[..., :, None] * d[..., None, :]).square()
                W = torch.exp(R2 * (-0.5 * self.alpha / sigma2)[..., None, None])
                dn = W.sum((-2, -1)) - R2.shape[-1] * R2.shape[-2] * self.alpha / (1 + self.alpha) ** 1.5
                sigma2 = torch.clamp((R2 * W).sum((-2, -1)) / torch.clamp(dn, min=tiny), min=self.sigma2_min)
        new = OnlineDPDState(c=c, num=past * state.num + num_b, den=past * state.den + den_b, scale=state.scale,
                             columns=state.columns + B, sigma2=sigma2)
        return new, d
