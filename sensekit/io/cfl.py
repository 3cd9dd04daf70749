"""BART's ``.cfl``/``.hdr`` format: raw complex64 in Fortran (column-major) order plus a text header.

The header holds a line ``# Dimensions`` followed by one line of up to 16
integers; the ``.cfl`` file holds exactly ``prod(dims)`` little-endian
complex64 values (interleaved real, imaginary), first dimension fastest.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError
from .hdf5 import atomic_path

_MAX_DIMS = 16


def cfl_base(path: str | os.PathLike) -> str:
    """The path without a ``.cfl``/``.hdr`` extension (BART names a pair by its base).

    Returns
    -------
    str
        The base path of the ``.cfl``/``.hdr`` pair.
    """
    p = os.fspath(path)
    root, ext = os.path.splitext(p)
    return root if ext.lower() in (".cfl", ".hdr") else p


def read_cfl_dims(path: str | os.PathLike) -> list[int]:
    """The dimensions recorded in the ``.hdr`` beside ``path`` (all of them, trailing ones included).

    Returns
    -------
    list[int]
        The dimensions as written in the header.
    """
    hdr = cfl_base(path) + ".hdr"
    if not os.path.isfile(hdr):
        raise InputError(f"{hdr}: BART header not found (a .cfl file needs its .hdr beside it)")
    try:
        with open(hdr, encoding="ascii", errors="strict") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{hdr}: cannot read as a BART text header ({type(e).__name__})") from None
    for i, line in enumerate(lines):
        if line.strip().lower() == "# dimensions":
            if i + 1 >= len(lines):
                break
            try:
                dims = [int(t) for t in lines[i + 1].split()]
            except ValueError:
                raise InputError(f"{hdr}: the line after '# Dimensions' must hold integers, "
                                 f"got {lines[i + 1][:60]!r}") from None
            if not dims or len(dims) > _MAX_DIMS or any(d < 0 for d in dims):
                raise InputError(f"{hdr}: expected 1 to {_MAX_DIMS} non-negative dimensions, got {dims}")
            return dims
    raise InputError(f"{hdr}: no '# Dimensions' line followed by the sizes; is this a BART header?")


def read_cfl(path, *, squeeze_trailing: bool = True) -> np.ndarray:
    """Read a BART ``.cfl``/``.hdr`` pair.

    Parameters
    ----------
    path : str or path-like
        The base name, or either file of the pair.
    squeeze_trailing : bool
        Drop trailing singleton dimensions (BART pads every header to 16).

    Returns
    -------
    ndarray, complex64, Fortran-ordered, shape = the header's dimensions
        Index it exactly as BART does (``x[0, y, z, coil, ...]``).
    """
    dims = read_cfl_dims(path)
    cfl = cfl_base(path) + ".cfl"
    if not os.path.isfile(cfl):
        raise InputError(f"{cfl}: BART data file not found (the .hdr is there)")
    n = int(np.prod(dims, dtype=np.int64))
    size = os.path.getsize(cfl)
    if size != 8 * n:
        raise InputError(f"{cfl}: holds {size} bytes, but the header's dimensions {dims} need {8 * n} "
                         f"(complex64); is the file truncated?")
    if n == 0:
        raise InputError(f"{cfl}: empty array (dimensions {dims})")
    data = np.fromfile(cfl, dtype="<c8", count=n).astype(np.complex64, copy=False)
    if squeeze_trailing:
        while len(dims) > 1 and dims[-1] == 1:
            dims = dims[:-1]
    return data.reshape(dims, order="F")


def write_cfl(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as a BART ``.cfl``/``.hdr`` pair (complex64, Fortran order), atomically.

    Parameters
    ----------
    path : str or path-like
        Base name (an extension ``.cfl``/``.hdr`` is stripped).
    array : array_like, at most 16 dimensions; cast to complex64.
    """
    a = np.asarray(array)
    if a.ndim > _MAX_DIMS:
        raise ValueError(f"BART arrays have at most {_MAX_DIMS} dimensions, got {a.ndim}")
    if a.ndim == 0:
        a = a.reshape(1)
    base = cfl_base(path)
    with atomic_path(base + ".cfl", suffix=".cfl") as tmp_cfl, atomic_path(base + ".hdr", suffix=".hdr") as tmp_hdr:
        np.asarray(a, dtype="<c8").ravel(order="F").tofile(tmp_cfl)
        with open(tmp_hdr, "w") as fh:
            fh.write("# Dimensions\n" + " ".join(str(d) for d in a.shape) + " \n")
