"""Cartesian sampling masks with ground truth acceleration."""
from __future__ import annotations

import math

import torch


def _check_accel(accel: float) -> None:
    if not accel >= 1:
        raise ValueError(f"acceleration must be >= 1, got {accel}")


def _line_density(n: int, power: float, dtype=torch.float64):
    k = torch.abs(torch.arange(n, dtype=dtype) - n // 2) / (n / 2)
    return torch.clamp(1.0 - k, min=0.0) ** power + 1e-3


def variable_density_lines(n_frames: int, n_lines: int, accel: float, *, acs: int = 8, power: float = 2.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Variable-density random phase-encode lines, different in every frame (k-t sampling).

    Each frame keeps the ``acs`` central lines plus lines drawn without
    replacement with probability ∝ (1 − abs(k)/k_max)^power, so that exactly
    ``round(n_lines / accel)`` lines are sampled per frame.

    Returns
    -------
    Tensor of bool, shape (n_frames, n_lines)
    """
    _check_accel(accel)
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
    """A (T, Y, X) boolean mask: variable-density phase-encode lines (Y), full readout (X).

    Returns
    -------
    torch.Tensor
        The ``(T, Y, X)`` boolean mask.
    """
    ny, nx = shape
    lines = variable_density_lines(n_frames, ny, accel, acs=acs, power=power, generator=generator)
    return lines[:, :, None].expand(n_frames, ny, nx).clone()


def acceleration(mask: torch.Tensor) -> float:
    """Nominal acceleration: number of entries / number sampled.

    Returns
    -------
    float
        The acceleration (``inf`` for an empty mask).
    """
    m = torch.as_tensor(mask) != 0
    s = int(m.sum())
    return math.inf if s == 0 else m.numel() / s


def _acs_block(n: int, acs: int) -> torch.Tensor:
    """Indices of the ``acs`` central positions of an axis of length ``n`` (centre at n // 2)."""
    acs = max(0, min(int(acs), n))
    start = n // 2 - acs // 2
    return torch.arange(start, start + acs)


def variable_density_points(n_frames: int, shape: tuple, accel: float, *, acs: int = 12, power: float = 2.0,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Variable-density random 2-D points, e.g. (ky, kz) phase encodes of a 3-D scan, new in every frame.

    Each frame keeps a fully sampled central ``acs × acs`` block plus points drawn
    without replacement with probability ∝ (1 − r)^power + 10⁻³, r the radius
    normalised to 1 at the edge of each axis, so that exactly
    ``round(Y·X / accel)`` points are sampled per frame.

    Returns
    -------
    Tensor of bool, shape (n_frames, Y, X)
    """
    _check_accel(accel)
    ny, nx = shape
    n_keep = max(1, int(round(ny * nx / accel)))
    core = torch.zeros(ny, nx, dtype=torch.bool)
    iy, ix = _acs_block(ny, acs), _acs_block(nx, acs)
    core[iy[:, None], ix[None, :]] = True
    if int(core.sum()) > n_keep:
        raise ValueError(f"the {len(iy)}×{len(ix)} ACS block alone exceeds {n_keep} points at acceleration {accel}")
    ky = (torch.arange(ny, dtype=torch.float64) - ny // 2) / (ny / 2)
    kx = (torch.arange(nx, dtype=torch.float64) - nx // 2) / (nx / 2)
    r = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2) / 2 ** 0.5
    p = (torch.clamp(1.0 - r, min=0.0) ** power + 1e-3).flatten()
    p[core.flatten()] = 0
    extra = n_keep - int(core.sum())
    out = core.expand(n_frames, ny, nx).clone().reshape(n_frames, -1)
    for t in range(n_frames):
        if extra > 0:
            out[t, torch.multinomial(p, extra, replacement=False, generator=generator)] = True
    return out.reshape(n_frames, ny, nx)


def equispaced_lines(n_frames: int, n_lines: int, accel: float, *, acs: int = 8,
                     interleave: bool = True) -> torch.Tensor:
    """Equispaced phase-encode lines plus ``acs`` central autocalibration lines (GRAPPA/SENSE style).

    ``accel`` is the net acceleration (all lines / sampled lines), as for the
    other generators: the lattice spacing is ``(n_lines − acs) / (n_lines/accel − acs)``
    (an integer when ``acs = 0`` and ``accel`` is), positions rounded to the grid.
    With ``interleave`` the lattice shifts by one line per frame (cycling through
    the spacing), so consecutive frames sample different lines, as in k-t
    acquisitions with a sheared lattice.  No randomness.

    Returns
    -------
    Tensor of bool, shape (n_frames, n_lines)
    """
    _check_accel(accel)
    n_keep = max(1, int(round(n_lines / accel)))
    acs_idx = _acs_block(n_lines, min(acs, n_keep))
    n_out = n_keep - len(acs_idx)
    out = torch.zeros(n_frames, n_lines, dtype=torch.bool)
    out[:, acs_idx] = True
    if n_out <= 0:
        return out
    spacing = (n_lines - len(acs_idx)) / n_out
    period = max(1, int(math.ceil(spacing)))
    for t in range(n_frames):
        shift = (t % period) if interleave else 0
        pos = torch.floor(torch.arange(n_lines * 2, dtype=torch.float64) * spacing + shift).long()
        pos = pos[pos < n_lines]
        free = pos[~out[t, pos]]
        # top up from the regular lattice first; if lines fell into the ACS block, take the next free ones
        chosen = free[:n_out]
        out[t, chosen] = True
        missing = n_keep - int(out[t].sum())
        if missing > 0:
            rest = torch.nonzero(~out[t]).flatten()
            step = max(1, len(rest) // missing)
            out[t, rest[::step][:missing]] = True
    return out


GOLDEN_ANGLE_DEG = 180.0 * (math.sqrt(5.0) - 1.0) / 2.0   # ≈ 111.246°, for full spokes through the centre


def golden_angle_spokes(n_frames: int, shape: tuple, accel: float, *, start: int = 0) -> torch.Tensor:
    """Pseudo-radial sampling: golden-angle spokes through the k-space centre snapped to the Cartesian grid.

    Spoke j has angle ``j · 111.246°`` (the golden angle for spokes spanning the
    whole diameter, Winkelmann et al., IEEE TMI 2007); it is rasterised by
    rounding points spaced half a pixel along the line to the nearest grid
    points (the ellipse inscribed in the Y×X grid is spanned).  Frame t continues
    the sequence where frame t−1 stopped, so the pattern rotates from frame to
    frame; spokes are added to a frame until ``Y·X / accel`` points are
    sampled.  No randomness.

    Parameters
    ----------
    start : int
        Index of the first spoke of frame 0 in the golden sequence.

    Returns
    -------
    Tensor of bool, shape (n_frames, Y, X)
    """
    _check_accel(accel)
    ny, nx = shape
    target = max(1, int(math.ceil(ny * nx / accel)))
    n_pts = 2 * max(ny, nx) + 1
    s = torch.linspace(-1.0, 1.0, n_pts, dtype=torch.float64)
    out = torch.zeros(n_frames, ny, nx, dtype=torch.bool)
    j = int(start)
    for t in range(n_frames):
        frame = out[t]
        while int(frame.sum()) < target:
            th = math.radians(j * GOLDEN_ANGLE_DEG)
            iy = torch.round(ny // 2 + s * math.sin(th) * (ny / 2)).long().clamp(0, ny - 1)
            ix = torch.round(nx // 2 + s * math.cos(th) * (nx / 2)).long().clamp(0, nx - 1)
            frame[iy, ix] = True
            j += 1
    return out


#: Sampling patterns of :func:`sampling_mask` (and of mri-recon's ``pattern`` option).
PATTERNS = {
    "vd-lines": "variable-density random phase-encode lines, new draw every frame (k-t), with ACS lines",
    "vd-points": "variable-density random 2-D points (ky-kz style), new draw every frame, with an ACS block",
    "equispaced": "equispaced lines plus ACS lines, lattice shifted by one line per frame",
    "radial": "golden-angle pseudo-radial spokes snapped to the grid, rotating from frame to frame",
}


def sampling_mask(pattern: str, n_frames: int, shape: tuple, accel: float, *, acs: int = 8,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A (T, Y, X) boolean mask of one of :data:`PATTERNS` at net acceleration ``accel``.

    Line patterns sample phase-encode lines along Y with a full readout X; ``acs``
    is the number of central lines (the side of the central block for
    ``vd-points``; ignored by ``radial``, whose centre is dense by construction).

    Returns
    -------
    torch.Tensor
        The ``(T, Y, X)`` boolean mask.
    """
    ny, nx = shape
    if pattern == "vd-lines":
        return cartesian_mask(n_frames, shape, accel, acs=acs, generator=generator)
    if pattern == "vd-points":
        return variable_density_points(n_frames, shape, accel, acs=acs, generator=generator)
    if pattern == "equispaced":
        lines = equispaced_lines(n_frames, ny, accel, acs=acs)
        return lines[:, :, None].expand(n_frames, ny, nx).clone()
    if pattern == "radial":
        return golden_angle_spokes(n_frames, shape, accel)
    raise ValueError(f"unknown sampling pattern {pattern!r}; expected one of {', '.join(PATTERNS)}")
