"""Simulated receive-coil sensitivities."""
from __future__ import annotations

import math

import torch


def coil_maps(n_coils: int, shape: tuple, *, radius: float = 1.4, falloff: float = 1.0,
              normalize: bool = True, dtype=torch.complex64) -> torch.Tensor:
    """Smooth coil sensitivities of loops placed on a circle around the field of view.

    Coil ``c`` sits at angle 2πc/C on a circle of ``radius`` (in units of the
    half field of view); its magnitude decays as 1/(1 + (d/falloff)²) with the
    distance d and its phase follows the direction to the coil.  With
    ``normalize`` the maps satisfy ``Σ_c |S_c|² = 1`` at every pixel, so the
    SENSE-combined image equals the object.

    Returns
    -------
    Tensor, shape (n_coils, Y, X), complex
    """
    ny, nx = shape
    y = torch.linspace(-1, 1, ny, dtype=torch.float64)
    x = torch.linspace(-1, 1, nx, dtype=torch.float64)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    maps = []
    for c in range(n_coils):
        th = 2 * math.pi * c / n_coils
        cy, cx = radius * math.sin(th), radius * math.cos(th)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        mag = 1.0 / (1.0 + d2 / falloff ** 2)
        ph = torch.atan2(yy - cy, xx - cx) + th
        maps.append(mag * torch.exp(1j * ph))
    s = torch.stack(maps)
    if normalize:
        s = s / torch.sqrt(torch.sum(s.abs() ** 2, dim=0, keepdim=True))
    else:
        s = s / s.abs().max()
    return s.to(dtype)
