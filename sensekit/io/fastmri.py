"""fastMRI-layout HDF5 files: ``kspace`` with slices first plus an ``ismrmrd_header``.

Layout (fastMRI, Zbontar et al. 2018): ``kspace`` complex (slices, coils, H, W)
for multi-coil or (slices, H, W) for single-coil data, the readout along H
(usually 2× oversampled) and phase encoding along W; an optional ``mask``
(W,) of sampled columns in the challenge/test files; ``ismrmrd_header`` the
scanner's XML header; optional ``reconstruction_rss`` / ``reconstruction_esc``
(cropped references).  fastMRI's k-space is centred and its transforms are
orthonormal (``fftshift(ifftn(ifftshift(k), norm="ortho"))``), the same
convention as the sensekit HDF5 contract, so no shift or scaling is applied.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError


def is_fastmri(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file in the fastMRI layout (``kspace`` + ``ismrmrd_header``, no ``axes``).

    Returns
    -------
    bool
        True for a fastMRI file (False for anything unreadable).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return ("kspace" in f and "ismrmrd_header" in f and isinstance(f["kspace"], h5py.Dataset)
                    and "axes" not in f["kspace"].attrs)
    except Exception:
        return False


def read_fastmri(path: str | os.PathLike, *, slices: list[int] | None = None) -> dict:
    """Read a fastMRI-layout file.

    Parameters
    ----------
    path : str or path-like
    slices : sequence of int, optional
        Slices to read (default: all).

    Returns
    -------
    dict
        ``kspace`` complex64 (S, C, H, W) (C = 1 for single-coil files);
        ``mask`` bool (H, W) or None (from the file's ``mask`` of sampled
        columns); ``header`` (str); ``info`` (parsed header facts and the
        file's root attributes).
    """
    import h5py

    from .mrd import parse_ismrmrd_header

    p = os.fspath(path)
    try:
        f = h5py.File(p, "r")
    except Exception:
        raise InputError(f"{p}: cannot open as HDF5; is the file truncated?") from None
    with f:
        from .hdf5 import local_object
        from .source import check_declared_size
        for name in ("kspace", "ismrmrd_header", "mask"):   # data must live in the file (issue 17)
            local_object(f, name, p)
        if "kspace" not in f or "ismrmrd_header" not in f:
            raise InputError(f"{p}: not a fastMRI-layout file (needs datasets 'kspace' and 'ismrmrd_header')")
        d = f["kspace"]
        if d.dtype.kind != "c" and not (d.dtype.names and set(d.dtype.names) == {"real", "imag"}):
            raise InputError(f"{p}: dataset 'kspace' has dtype {d.dtype}, expected complex")
        if d.ndim not in (3, 4) or 0 in d.shape:
            raise InputError(f"{p}: dataset 'kspace' has shape {d.shape}, expected (slices, coils, H, W) "
                             f"or (slices, H, W)")
        sel = list(range(d.shape[0])) if slices is None else [int(s) for s in slices]
        if any(not 0 <= s < d.shape[0] for s in sel):
            raise InputError(f"{p}: slices {sel} out of range (the file has {d.shape[0]})")
        check_declared_size(p, "kspace", (len(sel),) + tuple(d.shape[1:]), d.dtype)
        try:
            k = np.asarray(d[sel] if slices is not None else d[()])
        except Exception:
            raise InputError(f"{p}: cannot read dataset 'kspace'; is the file truncated?") from None
        if k.dtype.names:
            k = k["real"] + 1j * k["imag"]
        if k.ndim == 3:
            k = k[:, None]
        if not np.all(np.isfinite(k)):
            raise InputError(f"{p}: dataset 'kspace' contains NaN or Inf values")
        H, W = k.shape[-2:]
        mask = None
        if "mask" in f:
            m = np.asarray(f["mask"][()]).ravel()
            if m.shape != (W,):
                raise InputError(f"{p}: dataset 'mask' has shape {f['mask'].shape}, expected ({W},) "
                                 f"(sampled k-space columns)")
            mask = np.broadcast_to(m[None, :] != 0, (H, W)).copy()
        hdr = f["ismrmrd_header"][()]
        hdr = hdr.decode("utf-8", errors="replace") if isinstance(hdr, (bytes, np.bytes_)) else str(hdr)
        info = parse_ismrmrd_header(hdr)
        for key, val in f.attrs.items():
            info[key] = val.decode() if isinstance(val, bytes) else (val.item() if isinstance(val, np.generic) else val)
    return {"kspace": k.astype(np.complex64, copy=False), "mask": mask, "header": hdr, "info": info}
