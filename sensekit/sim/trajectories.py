"""Non-Cartesian k-space trajectories (coordinates in cycles per field of view, as :class:`sensekit.linop.NUFFT`)."""
from __future__ import annotations

import math

import torch

__all__ = ["GOLDEN_ANGLE", "golden_angle_radial"]

#: The golden angle of radial MRI, π(√5 − 1)/2 rad ≈ 111.246° (Winkelmann et al. 2007).
GOLDEN_ANGLE = math.pi * (math.sqrt(5.0) - 1.0) / 2.0


def golden_angle_radial(frames: int, spokes: int, readout: int, image_shape: tuple | None = None, *,
                        first: int = 0) -> torch.Tensor:
    """Golden-angle radial spokes, ``spokes`` per frame, the angle advancing continuously across frames.

    Parameters
    ----------
    frames : int
        Number of frames T.
    spokes : int
        Spokes per frame.
    readout : int
        Samples per spoke; sample ``n`` sits at radius ``(n − readout/2) / readout`` of the k-space extent.
    image_shape : tuple of int, optional
        ``(Y, X)``; the spokes span ``[−Y/2, Y/2) × [−X/2, X/2)``.  Default ``(readout, readout)``.
    first : int
        Index of the first spoke (spoke ``j`` has the angle ``j · GOLDEN_ANGLE``).

    Returns
    -------
    Tensor, shape ``(T, spokes · readout, 2)``, float64
        ``(k_y, k_x)`` of every sample in cycles per field of view, spoke by spoke.
    """
    Y, X = image_shape if image_shape is not None else (readout, readout)
    j = first + torch.arange(frames * spokes, dtype=torch.float64)
    theta = torch.remainder(j * GOLDEN_ANGLE, 2 * math.pi)
    r = (torch.arange(readout, dtype=torch.float64) - readout / 2.0) / readout
    ky = r[None, :] * Y * torch.sin(theta)[:, None]
    kx = r[None, :] * X * torch.cos(theta)[:, None]
    return torch.stack([ky, kx], -1).reshape(frames, spokes * readout, 2)
