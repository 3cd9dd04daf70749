"""The multi-coil Cartesian MRI forward model, composed from sensekit.linop primitives."""
from __future__ import annotations

import torch

from sensekit.linop import FFT, Mask, Sense, Compose, ifftc


def forward_model(maps: torch.Tensor, mask: torch.Tensor, n_frames: int) -> Compose:
    """E = M · F · S mapping images (T, Y, X) to k-space (T, C, Y, X).

    Parameters
    ----------
    maps : Tensor, shape (C, Y, X), complex — coil sensitivities.
    mask : Tensor of bool, shape (T, Y, X) — sampled k-space locations per frame.
    n_frames : int — T.
    """
    C, Y, X = maps.shape
    img_shape = (n_frames, Y, X)
    ksp_shape = (n_frames, C, Y, X)
    return Compose(Mask(mask[:, None], ksp_shape), FFT(ksp_shape, axes=(-2, -1)), Sense(maps, img_shape))


def coil_images(kspace: torch.Tensor) -> torch.Tensor:
    """Inverse centred FFT of each coil (zero-filled)."""
    return ifftc(kspace, dim=(-2, -1))


def rss(images: torch.Tensor, coil_axis: int = -3) -> torch.Tensor:
    """Root sum of squares over coils."""
    return torch.sqrt(torch.sum(images.abs() ** 2, dim=coil_axis))


def normal_bound(maps: torch.Tensor) -> float:
    """An upper bound on ‖E‖² = max over pixels of Σ_c |S_c|² (mask ≤ 1, FFT unitary)."""
    return float(torch.max(torch.sum(maps.abs() ** 2, dim=0)))


def zero_unobserved(x: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Set to zero the pixels where every coil map is zero (ESPIRiT's crop): the data cannot fix them and a
    regulariser may fill them with anything (BART's pics does the same)."""
    observed = torch.sum(maps.abs() ** 2, dim=0) > 0
    return torch.where(observed, x, torch.zeros((), dtype=x.dtype, device=x.device))
