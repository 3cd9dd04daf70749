"""Cartesian sampling masks with ground truth acceleration."""
from __future__ import annotations

import math

import torch


def _line_density(n: int, power: float, dtype=torch.float64):
    k = torch.abs(torch.arange(n, dtype=dtype) - n // 2) / (n / 2)
    return torch.clamp(1.0 - k, min=0.0) ** power + 1e-3


def variable_density_lines(n_frames: int, n_lines: int, accel: float, *, acs: int = 8, power: float = 2.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Variable-density random phase-encode lines, different in every frame (k-t sampling).

    Each frame keeps the ``acs`` central lines plus lines drawn without
    replacement with probability ∝ (1 − |k|/k_max)^power, so that exactly
    ``round(n_lines / accel)`` lines are sampled per frame.

    Returns
    -------
    Tensor of bool, shape (n_frames, n_lines)
    """
    if accel < 1:
        raise ValueError(f"acceleration must be >= 1, got {accel}")
    n_keep = max(1, int(round(n_lines / accel)))
    acs = min(acs, n_keep, n_lines)
    centre = n_lines // 2
    acs_idx = torch.arange(centre - acs // 2, centre - acs // 2 + acs)
    p = _line_density(n_lines, power)
    p[acs_idx] = 0
    out = torch.zeros(n_frames, n_lines, dtype=torch.bool)
    for t in range(n_frames):
        out[t, acs_idx] = True
        extra = n_keep - acs
        if extra > 0:
            idx = torch.multinomial(p, extra, replacement=False, generator=generator)
            out[t, idx] = True
    return out


def cartesian_mask(n_frames: int, shape: tuple, accel: float, *, acs: int = 8, power: float = 2.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A (T, Y, X) boolean mask: variable-density phase-encode lines (Y), full readout (X)."""
    ny, nx = shape
    lines = variable_density_lines(n_frames, ny, accel, acs=acs, power=power, generator=generator)
    return lines[:, :, None].expand(n_frames, ny, nx).clone()


def acceleration(mask: torch.Tensor) -> float:
    """Nominal acceleration: number of entries / number sampled."""
    m = torch.as_tensor(mask) != 0
    s = int(m.sum())
    return math.inf if s == 0 else m.numel() / s
