"""Checks of the optional input datasets that Cartesian and non-Cartesian mri-recon inputs share."""
from __future__ import annotations

import numpy as np
import torch

from sensekit.io.errors import InputError


def maps_and_reference(arrays: dict, out: dict, C: int, T: int, Y: int, X: int, *, maps_hint: str = "") -> dict:
    """Validate ``sens_maps`` (C, Y, X) and ``image_ref`` (T, Y, X) when present and add them to ``out``.

    Parameters
    ----------
    arrays : dict
        The sample's datasets by name (NumPy arrays).
    out : dict
        The prepared inputs; ``sens_maps`` (complex64) and ``image_ref`` are added to it.
    C, T, Y, X : int
        Coils, frames and the image size the maps and the reference must match.
    maps_hint : str
        Text appended to the ``sens_maps`` shape error (where C and (Y, X) come from).

    Returns
    -------
    dict
        ``out``.
    """
    if "sens_maps" in arrays:
        s = np.asarray(arrays["sens_maps"])
        if s.shape != (C, Y, X):
            raise InputError(f"dataset 'sens_maps' has shape {s.shape}, expected (C, Y, X) = {(C, Y, X)}"
                             + maps_hint)
        if not np.any(s != 0):
            raise InputError("dataset 'sens_maps' is all zero")
        out["sens_maps"] = torch.from_numpy(s.astype(np.complex64))
    if "image_ref" in arrays:
        r = np.asarray(arrays["image_ref"])
        if r.shape != (T, Y, X):
            raise InputError(f"dataset 'image_ref' has shape {r.shape}, expected (T, Y, X) = {(T, Y, X)}")
        out["image_ref"] = torch.from_numpy(r)
    return out
