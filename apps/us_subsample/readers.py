"""Reading RF channel data: contract HDF5 (``rf`` (F, E, S) + attributes) or a PyMUST-style MATLAB file
(``RF`` (S, E, F) with a ``param`` struct holding fs, fc, pitch, c, t0), as used by the rotating-disk data."""
from __future__ import annotations

import os

import numpy as np

from sensekit.io.errors import InputError

ATTRS = ("fs_hz", "fc_hz", "pitch_m", "c_mps")


def read_mat(path: str) -> tuple[np.ndarray, dict]:
    """(rf (F, E, S) float32, attrs) from a PyMUST/Verasonics .mat file with ``RF`` and ``param``."""
    import scipy.io as sio
    try:
        m = sio.loadmat(path, struct_as_record=False, squeeze_me=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is an input error naming it
        raise InputError(f"{path}: cannot read as a MATLAB file ({type(e).__name__}: {e})") from None
    if "RF" not in m:
        raise InputError(f"{path}: no variable 'RF' (expected RF (samples, elements, transmits) and param)")
    if "param" not in m:
        raise InputError(f"{path}: no struct 'param' with fs, fc, pitch, c")
    p = m["param"]
    try:
        attrs = {"fs_hz": float(p.fs), "fc_hz": float(p.fc), "pitch_m": float(p.pitch), "c_mps": float(p.c),
                 "t0_s": float(getattr(p, "t0", 0.0))}
    except AttributeError as e:
        raise InputError(f"{path}: struct 'param' lacks a field ({e})") from None
    rf = np.asarray(m["RF"])
    if rf.ndim == 2:
        rf = rf[:, :, None]
    if rf.ndim != 3:
        raise InputError(f"{path}: variable 'RF' has shape {rf.shape}, expected (samples, elements, transmits)")
    return np.ascontiguousarray(rf.transpose(2, 1, 0)).astype(np.float32), attrs


def read_rf(path: str) -> tuple[np.ndarray, dict]:
    """(rf (F, E, S) float32, attrs) from a contract HDF5 file or a .mat file."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: file not found")
    if path.lower().endswith(".mat"):
        return read_mat(path)
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if "rf" not in f:
                raise InputError(f"{path}: no dataset 'rf'")
            d = f["rf"]
            rf = np.asarray(d, dtype=np.float32)
            attrs = {k: float(d.attrs[k]) for k in (*ATTRS, "t0_s") if k in d.attrs}
    except OSError as e:
        raise InputError(f"{path}: not an HDF5 file ({e})") from None
    missing = [k for k in ATTRS if k not in attrs]
    if missing:
        raise InputError(f"{path}: dataset 'rf' lacks attribute(s) {', '.join(missing)}")
    if rf.ndim == 2:
        rf = rf[None]
    return rf, attrs


def parse_frames(spec: str, F: int, what: str = "frames") -> list:
    """'0-15,20' → [0..15, 20] (within 0..F−1); '' → all."""
    from sensekit.io.errors import ConfigError
    if not spec.strip():
        return list(range(F))
    out = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = part.split("-")
                out += list(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ConfigError(f"option '{what}': cannot read {part!r} (use e.g. 0-15,20)") from None
    bad = [i for i in out if not 0 <= i < F]
    if bad:
        raise ConfigError(f"option '{what}': frame(s) {bad[:3]} outside 0..{F - 1}")
    return out
