"""Coil sensitivity estimation from the (time-averaged) centre of k-space."""
from __future__ import annotations

import torch

from sensekit.linop import ifftc


def time_averaged_kspace(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average each k-space location over the frames in which it was sampled.

    Parameters
    ----------
    kspace : Tensor, shape (T, C, Y, X), complex
    mask : Tensor of bool, shape (T, Y, X)

    Returns
    -------
    Tensor, shape (C, Y, X): the time-averaged k-space (zero where never sampled).
    """
    m = mask.to(kspace.real.dtype)
    count = m.sum(dim=0)
    total = (kspace * m[:, None]).sum(dim=0)
    return torch.where(count > 0, total / torch.clamp(count, min=1), torch.zeros_like(total))


def lowres_maps(kspace: torch.Tensor, mask: torch.Tensor, *, calib: int = 24, eps: float = 1e-3) -> torch.Tensor:
    """Coil maps from low-resolution coil images of the time-averaged k-space centre.

    The central ``calib × calib`` block of the time-averaged k-space is
    Hann-windowed and transformed to low-resolution coil images ``I_c``; the
    maps are ``I_c / sqrt(Σ_c |I_c|² + (eps·max)²)`` so that Σ_c |S_c|² ≈ 1 on
    the object and falls to 0 where there is no signal.

    Returns
    -------
    Tensor, shape (C, Y, X), complex
    """
    k = time_averaged_kspace(kspace, mask)
    C, Y, X = k.shape
    cy, cx = min(calib, Y), min(calib, X)
    wy = torch.hann_window(cy + 2, periodic=False, dtype=k.real.dtype, device=k.device)[1:-1]
    wx = torch.hann_window(cx + 2, periodic=False, dtype=k.real.dtype, device=k.device)[1:-1]
    win = torch.zeros(Y, X, dtype=k.real.dtype, device=k.device)
    y0, x0 = Y // 2 - cy // 2, X // 2 - cx // 2
    win[y0:y0 + cy, x0:x0 + cx] = wy[:, None] * wx[None, :]
    low = ifftc(k * win, dim=(-2, -1))
    r2 = torch.sum(low.abs() ** 2, dim=0)
    floor = (eps * torch.sqrt(r2.max())) ** 2
    return low / torch.sqrt(r2 + floor)
