"""Slow-time (Doppler) sub-sampling: keep M of the T frames of a plane-wave ensemble, power Doppler from them.

Power Doppler of the frames kept by a mask ``m`` (T,) ∈ {0, 1} (or its DPS relaxation during training):
a polynomial clutter filter of degree ``order`` fitted to the kept frames by weighted least squares
(``c = (Bᵀ diag m B)⁻¹ Bᵀ diag m x`` per pixel, B the Legendre-free monomial basis on t ∈ [−1, 1] of the full
ensemble's time axis), the residual power averaged over the kept frames, ``PD = Σ m_t |x_t − B c|² / Σ m_t``,
in dB normalised to its maximum and clipped at −``dynamic_range``.  With m ≡ 1 this equals
:func:`sensekit.linop.ultrasound.power_doppler` (method "highpass", n_clutter = order + 1).

The learned mask is DPS over the ``frames`` axis (:class:`sensekit.learned.sampling.DPSSampler`) trained by
:func:`sensekit.learned.sampling.train_dps` on the task loss: the MSE of the normalised power-Doppler image
(dB / DR + 1) against the full-ensemble one on the training pixels.  "Reconstructed" set-up (the TUFFC paper
sub-samples channels; the slow-time variant is this project's).
"""
from __future__ import annotations

import torch
from torch import nn

from sensekit.learned.sampling import DPSSampler, train_dps


def masked_power_doppler(ens: torch.Tensor, m: torch.Tensor, *, order: int = 1, dynamic_range: float = 40.0,
                         db: bool = True) -> torch.Tensor:
    """Power Doppler (B, P) of an IQ ensemble ``ens`` (T, P) from the frames weighted by ``m`` (B, T) or (T,)."""
    T = ens.shape[0]
    if m.ndim == 1:
        m = m[None]
    m = m.to(ens.real.dtype)
    if int((m[0] > 0).sum()) <= order:
        raise ValueError(f"a degree-{order} clutter filter needs more than {order} kept frames")
    t = torch.linspace(-1, 1, T, dtype=torch.float64, device=ens.device)
    basis = torch.stack([t ** k for k in range(order + 1)], dim=1).to(ens.real.dtype)      # (T, K)
    G = torch.einsum("bt,tk,tl->bkl", m, basis, basis)
    rhs = torch.einsum("bt,tk,tp->bkp", m.to(ens.dtype), basis.to(ens.dtype), ens)
    coef = torch.linalg.solve(G.to(ens.dtype), rhs)                                          # (B, K, P)
    r = ens[None] - torch.einsum("tk,bkp->btp", basis.to(ens.dtype), coef)
    p = (m[..., None] * r.abs() ** 2).sum(dim=1) / m.sum(dim=1, keepdim=True)
    if not db:
        return p
    tiny = torch.finfo(p.dtype).tiny
    out = 10.0 * torch.log10(p.clamp_min(tiny) / p.amax(dim=-1, keepdim=True).clamp_min(tiny))
    return out.clamp(min=-float(dynamic_range))


class SlowTimeDPS(nn.Module):
    """DPS over the T frames of an ensemble (keep m); forward gives the normalised power Doppler (B, P)."""

    def __init__(self, *, n: int, m: int, tau: float = 2.0, order: int = 1, dynamic_range: float = 40.0):
        super().__init__()
        self.sampler = DPSSampler(n, m, tau=tau)
        self.order, self.dynamic_range = int(order), float(dynamic_range)

    def mask(self) -> torch.Tensor:
        return self.sampler.fixed_mask()

    def forward(self, ens: torch.Tensor, batch: int = 1, generator: torch.Generator | None = None):
        w = self.sampler(batch, generator=generator)
        pd = masked_power_doppler(ens, w, order=self.order, dynamic_range=self.dynamic_range)
        return pd / self.dynamic_range + 1.0, w


def train_slowtime_mask(ens: torch.Tensor, m: int, *, order: int = 1, dynamic_range: float = 40.0,
                        iterations: int = 300, batch: int = 8, seed: int = 0, logit_lr: float = 0.2,
                        entropy: float = 0.01) -> tuple[SlowTimeDPS, dict]:
    """Learn a slow-time mask on the ensemble ``ens`` (T, P) (training pixels only) with the project's loop."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SlowTimeDPS(n=ens.shape[0], m=m, order=order, dynamic_range=dynamic_range)
    target = masked_power_doppler(ens, torch.ones(ens.shape[0]), order=order, dynamic_range=dynamic_range)
    target = target / dynamic_range + 1.0

    def loss(model, _batch, generator):
        est, _ = model(ens, batch, generator)
        return ((est - target) ** 2).mean()

    info = train_dps(model, lambda gen: None, loss, iterations=iterations, logit_lr=logit_lr, entropy=entropy,
                     generator=g, check_every=max(iterations // 5, 1))
    return model, info
