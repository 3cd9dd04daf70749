"""MATLAB ``.mat`` files: v4/v5/v7 through scipy, v7.3 (HDF5) through h5py.

Both versions come back the same way: ``{name: value}`` with numeric arrays in
MATLAB's own dimension order (as ``scipy.io.loadmat`` gives them).  A v7.3 file
stores every array with its dimensions reversed (HDF5 is row-major, MATLAB
column-major) and complex numbers as a compound ``{real, imag}``; both are
undone here.  Structs become dicts, cell arrays lists, ``char`` arrays ``str``.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError

_V73_MAGIC = b"MATLAB 7.3 MAT-file"


def mat_version(path: str | os.PathLike) -> str:
    """``"7.3"`` (HDF5), ``"5"`` (v5/v6/v7, read by scipy) or ``"4"``; InputError if not a .mat file.

    Returns
    -------
    str
        ``"7.3"``, ``"5"`` or ``"4"``.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InputError(f"{p}: file not found")
    if os.path.getsize(p) == 0:
        raise InputError(f"{p}: file is empty, expected a MATLAB .mat file")
    with open(p, "rb") as fh:
        head = fh.read(128)
    import h5py

    if h5py.is_hdf5(p):
        return "7.3"
    if head.startswith(b"MATLAB 5.0 MAT-file") or head[:116].startswith(b"MATLAB"):
        return "5"
    try:
        import scipy.io.matlab as sm

        major, _ = sm.matfile_version(p)
    except Exception:
        raise InputError(f"{p}: not a MATLAB .mat file (no v5 header, not HDF5)") from None
    return "4" if major == 0 else "5"


def load_mat(path: str | os.PathLike, *, variables: list[str] | None = None) -> dict:
    """Read the variables of a MATLAB ``.mat`` file of any version.

    Parameters
    ----------
    path : str or path-like
    variables : sequence of str, optional
        Names to read (default: all).  A name that is absent raises InputError.

    Returns
    -------
    dict
        ``{name: ndarray | dict | list | str}``; arrays in MATLAB dimension order,
        complex where MATLAB stored complex, ``bool`` for ``logical``.
    """
    p = os.fspath(path)
    version = mat_version(p)
    want = None if variables is None else [str(v) for v in variables]
    out = _load_v73(p, want) if version == "7.3" else _load_v5(p, want)
    if want is not None:
        missing = [v for v in want if v not in out]
        if missing:
            raise InputError(f"{p}: no variable {missing[0]!r} (found: {', '.join(sorted(out)) or 'none'})")
    if not out:
        raise InputError(f"{p}: the .mat file holds no variables")
    return out


def list_mat(path: str | os.PathLike) -> dict:
    """The variables of a ``.mat`` file without reading their data: ``{name: (shape, MATLAB class)}``.

    Cheap on large files (v5: the headers, through ``scipy.io.whosmat``; v7.3: the HDF5 metadata);
    shapes are in MATLAB's dimension order, classes as MATLAB names them (``double``, ``uint8``,
    ``struct``, ``cell``, ``char``, ``logical``…).

    Parameters
    ----------
    path : str or path-like
        A MATLAB file of any version.

    Returns
    -------
    dict
        ``{name: (tuple of int, str)}``.
    """
    p = os.fspath(path)
    if mat_version(p) == "7.3":
        import h5py
        try:
            with h5py.File(p, "r") as f:
                out = {}
                for name in f:
                    if name.startswith("#"):
                        continue
                    obj = f.get(name, getlink=False)
                    cls = _mclass(obj) if obj is not None else ""
                    shape = tuple(int(d) for d in obj.shape[::-1]) if isinstance(obj, h5py.Dataset) else (1, 1)
                    out[name] = (shape, cls or ("struct" if isinstance(obj, h5py.Group) else "double"))
                return out
        except OSError as e:
            raise InputError(f"{p}: cannot open MATLAB v7.3 (HDF5) file ({_short(e)}); is it truncated?") from None
    import scipy.io as sio
    try:
        return {name: (tuple(int(d) for d in shape), str(cls)) for name, shape, cls in sio.whosmat(p)}
    except Exception as e:
        raise InputError(f"{p}: cannot read as a MATLAB v5 file ({_short(e)}); is it truncated?") from None


#: ``--matlab-order`` choices: how the first two dimensions of a MATLAB image variable run (see :func:`swap_hw`)
MATLAB_ORDERS = ("auto", "HW", "WH")


def swap_hw(order: str, default: str, *, what: str = "option 'matlab_order'") -> bool:
    """Whether a converter must swap the two image axes of a MATLAB variable it reads.

    ``HW`` is MATLAB's own convention: the image's rows dimension comes before its columns one
    (``size(A) = [rows, columns, …]``), the image as ``imagesc(A)`` shows it.  ``WH`` is the
    transpose: the dimension along the image's width comes first, as an array written by row-major
    code (NumPy, C, h5py) appears in MATLAB, or as MRI scripts hold k-space (readout x first).
    ``auto`` keeps the converter's documented default.

    Parameters
    ----------
    order : str
        One of :data:`MATLAB_ORDERS`.
    default : str
        The converter's own reading (``"HW"`` or ``"WH"``).
    what : str
        The option's name, for the error message.

    Returns
    -------
    bool
        True when ``order`` differs from ``default``.
    """
    if order not in MATLAB_ORDERS:
        from .errors import ConfigError
        raise ConfigError(f"{what}: {order!r} is not one of {', '.join(MATLAB_ORDERS)}")
    return order != "auto" and order != default


# ---------------------------------------------------------------------------------------------- v5
def _load_v5(path, want):
    import scipy.io as sio

    try:
        raw = sio.loadmat(path, variable_names=want, struct_as_record=False, squeeze_me=False)
    except Exception as e:
        raise InputError(f"{path}: cannot read as a MATLAB v5 file ({_short(e)}); is it truncated?") from None
    return {k: _from_v5(v) for k, v in raw.items() if not k.startswith("__")}


def _from_v5(v):
    from scipy.io.matlab import mat_struct

    if isinstance(v, mat_struct):
        return {f: _from_v5(getattr(v, f)) for f in v._fieldnames}
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "U":
            return "".join(v.ravel().tolist()) if v.ndim <= 1 or v.shape[0] <= 1 else [
                "".join(r) for r in v.tolist()]
        if v.dtype == object:
            if v.size == 1 and isinstance(v.flat[0], mat_struct):
                return _from_v5(v.flat[0])
            return [_from_v5(x) for x in v.ravel(order="F")]
    return v


# ---------------------------------------------------------------------------------------------- v7.3
def _load_v73(path, want):
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise InputError(f"{path}: cannot open MATLAB v7.3 (HDF5) file ({_short(e)}); is it truncated?") from None
    with f:
        out = {}
        for name in f:
            if name.startswith("#") or (want is not None and name not in want):
                continue
            try:
                out[name] = _from_h5(f, _local(f, name, path), path)
            except InputError:
                raise
            except Exception as e:
                raise InputError(f"{path}: cannot read MATLAB variable {name!r} ({_short(e)})") from None
        return out


def _mclass(obj) -> str:
    c = obj.attrs.get("MATLAB_class", b"")
    return c.decode() if isinstance(c, bytes) else str(c)


def _local(f, name: str, path: str):
    """``f[name]`` through the HDF5 input checks: no external links, soft links leaving the file, virtual or
    external-storage datasets (nothing outside ``path`` is read), and a declared size within the input limit."""
    import h5py

    from .hdf5 import local_object
    from .source import check_declared_size
    obj = local_object(f, name, path)
    if obj is None:
        raise InputError(f"{path}: MATLAB variable {name!r} is missing or a dangling link")
    if isinstance(obj, h5py.Dataset):
        check_declared_size(path, name, obj.shape, obj.dtype if obj.dtype.kind != "O" else np.dtype("O"))
    return obj


def _from_h5(f, obj, path: str = "input"):
    import h5py

    cls = _mclass(obj)
    if isinstance(obj, h5py.Group):  # struct (or an object we read field by field)
        return {k: _from_h5(f, _local(f, f"{obj.name}/{k}", path), path) for k in obj if not k.startswith("#")}
    if obj.attrs.get("MATLAB_empty", 0):
        dims = tuple(int(d) for d in np.asarray(obj[()]).ravel()[::-1]) if obj.size else (0, 0)
        return "" if cls == "char" else np.zeros(dims)
    data = obj[()]
    if cls == "cell" or (data.dtype == object and obj.dtype.kind == "O"):
        refs = np.asarray(data)
        return [_from_h5(f, _local(f, f[r].name, path), path) for r in refs.T.ravel(order="F")]
    arr = np.asarray(data)
    if arr.dtype.names is not None:
        if set(arr.dtype.names) == {"real", "imag"}:
            arr = arr["real"] + 1j * arr["imag"]
        else:
            raise InputError(f"unsupported compound dtype {arr.dtype} in variable {obj.name!r}")
    arr = arr.T  # HDF5 row-major -> MATLAB column-major dimension order
    if cls == "char":
        return "".join(chr(c) for c in arr.ravel(order="F")) if arr.ndim <= 1 or arr.shape[0] <= 1 else [
            "".join(chr(c) for c in row) for row in arr]
    if cls == "logical":
        return arr.astype(bool)
    return np.ascontiguousarray(arr) if arr.ndim else arr


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:160]
