"""Device and dtype helpers.

Only the app runner moves data between devices; library code takes device and
dtype from its inputs (DESIGN.md, principle 2).
"""
from __future__ import annotations

import re

import numpy as np
import torch

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a :class:`torch.device`.

    ``auto`` picks CUDA when available.  Raises ``ValueError`` with a one-line
    message for an unknown spelling or a CUDA device that is not present.

    Returns
    -------
    torch.device
        The device (``auto``: CUDA when available, else CPU).
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    if not _DEVICE_RE.match(spec):
        raise ValueError(f"unknown device {spec!r}: expected auto, cpu, cuda or cuda:N")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but CUDA is not available on this machine")
        dev = torch.device(spec)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    return torch.device("cpu")


_C2R = {torch.complex64: torch.float32, torch.complex128: torch.float64, torch.complex32: torch.float16}
_R2C = {torch.float32: torch.complex64, torch.float64: torch.complex128, torch.float16: torch.complex32,
        torch.bfloat16: torch.complex64}


def is_complex(x: object) -> bool:
    """Whether ``x`` is a complex tensor (False for anything that is not a tensor).

    Returns
    -------
    bool
        True when ``x`` is a complex-valued tensor.
    """
    return torch.is_tensor(x) and x.is_complex()


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of the same precision (complex64 -> float32).

    Returns
    -------
    torch.dtype
        The real dtype (a real ``dtype`` is returned as it is).
    """
    return _C2R.get(dtype, dtype)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype of the same precision (float32 -> complex64).

    Returns
    -------
    torch.dtype
        The complex dtype (a complex ``dtype`` is returned as it is).
    """
    if dtype.is_complex:
        return dtype
    return _R2C.get(dtype, torch.complex64)


def as_tensor(x, *, like: torch.Tensor | None = None, dtype=None, device=None) -> torch.Tensor:
    """Convert array-likes to a tensor without copying tensors needlessly.

    Returns
    -------
    torch.Tensor
        ``x`` as a tensor (not copied when it already is one of the asked dtype and device).
    """
    if like is not None:
        dtype = dtype or like.dtype
        device = device or like.device
    if isinstance(x, np.ndarray) and x.dtype.byteorder not in ("=", "|"):
        x = x.astype(x.dtype.newbyteorder("="))
    t = torch.as_tensor(x)
    if dtype is not None or device is not None:
        t = t.to(device=device or t.device, dtype=dtype or t.dtype)
    return t
