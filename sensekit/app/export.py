"""``sensekit export OUT.h5 -o FILE``: a result in the formats users already use.

The format follows FILE's extension:

``.mat``
    MATLAB v5 (``scipy.io.savemat``): every root dataset (or only ``--dataset`` ones) as a variable of
    the same name and shape (HDF5/C order: MATLAB's ``size`` equals the HDF5 shape; nothing is
    transposed), plus the structs ``axes`` (each variable's ``axes`` attribute) and ``metrics``.
``.cfl``
    BART ``.cfl``/``.hdr`` pair of one dataset, complex64.  Axes named by the ``axes`` attribute go to
    BART's dimensions (X → 0 readout, Y → 1 phase, Z → 2, C → 3 coils, T → 10 time, N → 13 slice) so
    that ``bart`` tools read a ``recon`` (T, Y, X) as images over time; an array without such names is
    written with its axes reversed (the same bytes, read by BART in Fortran order).
``.npy``
    NumPy array of one dataset, dtype and shape unchanged.
``.nii`` / ``.nii.gz``
    NIfTI-1 image (the ``nifti`` extra: ``pip install "sensekit[nifti]"``, nibabel) of one dataset of
    rank ≥ 2, float32 magnitude for complex data (float data as float32, integers unchanged).  Named axes
    go to NIfTI's dimensions X → i, Y → j, Z → k, T → 4th, any other (N, C, …) after them in order; an
    array without names is read as (…, Y, X) and its leading axes go after a singleton k (an image series).
    The affine is diagonal with the voxel size from a ``voxel_size_mm`` attribute of the dataset (else of
    the file's root) in the order of the array's spatial axes (e.g. (dy, dx) or (dz, dy, dx)), else 1 mm;
    its j axis points up (negative y step), so that a NIfTI viewer shows row 0 at the top as sensekit's
    figures and PNGs do.  A ``frame_time_s`` attribute gives the 4th pixdim (s), else 1.  :func:`nifti_axes`
    says how the axes were placed, :func:`from_nifti` undoes it (for tests and for reading one back).
``.png`` / ``.gif``
    Magnitude images of one dataset of rank ≥ 2 (the last two axes are Y, X): 8-bit grey, black = 0,
    white = the 99.5th percentile of the magnitude over the whole series (:data:`WHITE_PERCENTILE`;
    brighter pixels saturate).  ``.png`` writes one image when there is one frame, else one file per
    frame ``FILE-0000.png`` … (leading axes flattened in C order); ``.gif`` an animation of the frames.

One dataset is chosen by ``--dataset``; by default the app's first declared output when the file's
provenance names an app, else the only dataset of the file.
"""
from __future__ import annotations

import os

import numpy as np

from ..io.errors import ConfigError, InputError

FORMATS = (".mat", ".cfl", ".npy", ".nii", ".nii.gz", ".png", ".gif")
NIFTI_DIMS = {"X": 0, "Y": 1, "Z": 2, "T": 3}
WHITE_PERCENTILE = 99.5
BART_DIMS = {"X": 0, "Y": 1, "Z": 2, "C": 3, "T": 10, "N": 13}


def _read(path: str):
    import h5py
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path}: not an HDF5 file") from None
    with f:
        data = {k: (np.asarray(v[()]), _s(v.attrs.get("axes", ""))) for k, v in f.items()
                if isinstance(v, h5py.Dataset)}
        geometry = {k: {a: np.asarray(v.attrs[a]) if a in v.attrs else np.asarray(f.attrs[a])
                        for a in ("voxel_size_mm", "frame_time_s") if a in v.attrs or a in f.attrs}
                    for k, v in f.items() if isinstance(v, h5py.Dataset)}
        metrics = {k: _scalar(v) for k, v in f["metrics"].attrs.items()} if "metrics" in f else {}
        app = _s(f["provenance"].attrs.get("app", "")) if "provenance" in f else ""
    if not data:
        raise InputError(f"{path}: holds no datasets at its root")
    return data, metrics, app, geometry


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _scalar(v):
    return v.item() if hasattr(v, "item") else v


def choose_dataset(path: str, names: list, app: str, dataset: str | None) -> str:
    """The dataset to export (see the module docstring); :class:`ConfigError` naming the choices.

    Returns
    -------
    str
        The name of the dataset to export.
    """
    if dataset:
        if dataset not in names:
            raise ConfigError(f"--dataset {dataset}: not in {path} (it holds {', '.join(names)})")
        return dataset
    if app:
        try:
            from .registry import get_app
            for spec in get_app(app).outputs:
                if spec.name in names:
                    return spec.name
        except ConfigError:
            pass
    if len(names) == 1:
        return names[0]
    raise ConfigError(f"{path} holds several datasets ({', '.join(names)}); choose one with --dataset")


def to_bart(arr: np.ndarray, axes: str) -> np.ndarray:
    """``arr`` with its named axes moved to BART's dimensions (see the module docstring).

    Returns
    -------
    numpy.ndarray
        A view or copy of ``arr`` in BART's dimension order.
    """
    names = [a.strip() for a in axes.split(",")] if axes else []
    if len(names) != arr.ndim or len(set(names)) != len(names) or not all(n in BART_DIMS for n in names):
        return np.asarray(arr).transpose()   # unnamed axes: the same bytes, BART's (Fortran) order
    shape = [1] * (max(BART_DIMS[n] for n in names) + 1)
    for n, size in zip(names, arr.shape):
        shape[BART_DIMS[n]] = size
    order = sorted(range(arr.ndim), key=lambda i: BART_DIMS[names[i]])
    return np.asarray(arr).transpose(order).reshape(shape)


def from_bart(arr: np.ndarray, axes: str) -> np.ndarray:
    """The inverse of :func:`to_bart` (for tests and for reading an exported pair back).

    Returns
    -------
    numpy.ndarray
        ``arr`` back in the order named by ``axes``.
    """
    names = [a.strip() for a in axes.split(",")] if axes else []
    if not names or len(names) != len(set(names)) or not all(n in BART_DIMS for n in names):
        return np.asarray(arr).transpose()
    order = sorted(range(len(names)), key=lambda i: BART_DIMS[names[i]])
    full = list(arr.shape) + [1] * (max(BART_DIMS[n] for n in names) + 1 - arr.ndim)
    a = np.asarray(arr).reshape(full)
    a = a.reshape([full[BART_DIMS[names[i]]] for i in order])   # drop the singleton dimensions between
    return a.transpose(np.argsort(order))


def to_uint8(mag: np.ndarray) -> tuple[np.ndarray, float]:
    """Magnitudes as 8-bit grey with white at :data:`WHITE_PERCENTILE` of the whole array; returns (image, white).

    Returns
    -------
    tuple[numpy.ndarray, float]
        The ``uint8`` image and the magnitude mapped to white.
    """
    mag = np.abs(np.asarray(mag, dtype=np.complex128 if np.iscomplexobj(mag) else np.float64))
    finite = mag[np.isfinite(mag)]
    white = float(np.percentile(finite, WHITE_PERCENTILE)) if finite.size else 0.0
    if white <= 0:
        white = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    img = np.clip(np.nan_to_num(mag, nan=0.0) / white, 0.0, 1.0)
    return np.round(img * 255.0).astype(np.uint8), white


def _frames(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim < 2:
        raise ConfigError(f"dataset '{name}' has shape {arr.shape}: PNG/GIF need images (at least 2 axes)")
    return arr.reshape((-1,) + arr.shape[-2:])


def nifti_axes(shape: tuple, axes: str) -> tuple[list, list]:
    """Where each array axis goes in a NIfTI image (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        The dataset's shape (rank ≥ 2).
    axes : str
        Its ``axes`` attribute (e.g. ``"T,Y,X"``), or ``""``.

    Returns
    -------
    order : list of int
        The array's axes in NIfTI order (the argument of ``transpose``); a singleton k is added after
        i, j when the array has no Z and more than two axes.
    names : list of str
        The names of the NIfTI dimensions in order (``"X", "Y", "Z", "T"``, then the others').
    """
    names = [a.strip() for a in axes.split(",")] if axes else []
    if len(names) != len(shape) or len(set(names)) != len(names) or not {"Y", "X"} <= set(names):
        names = [f"axis{i}" for i in range(len(shape) - 2)] + ["Y", "X"]
    known = sorted((i for i, n in enumerate(names) if n in NIFTI_DIMS), key=lambda i: NIFTI_DIMS[names[i]])
    rest = [i for i, n in enumerate(names) if n not in NIFTI_DIMS]
    order = known + rest
    return order, [names[i] for i in order]


def to_nifti(arr: np.ndarray, axes: str) -> tuple[np.ndarray, list]:
    """``arr`` in NIfTI axis order (X, Y, Z, T, others), a singleton Z where there is none; and the names.

    Parameters
    ----------
    arr : numpy.ndarray
        The dataset (rank ≥ 2).
    axes : str
        Its ``axes`` attribute, or ``""``.

    Returns
    -------
    data : numpy.ndarray
        The transposed array (a view), with a singleton third axis inserted when it has no Z.
    names : list of str
        The NIfTI dimensions' names.
    """
    order, names = nifti_axes(arr.shape, axes)
    out = np.asarray(arr).transpose(order)
    if "Z" not in names and out.ndim > 2:
        out = out[:, :, None]
        names = names[:2] + ["Z"] + names[2:]
    return out, names


def from_nifti(img: np.ndarray, axes: str, shape: tuple) -> np.ndarray:
    """The inverse of :func:`to_nifti`: a NIfTI image's array back in the dataset's axis order.

    Parameters
    ----------
    img : numpy.ndarray
        The image's data (e.g. ``nibabel.load(f).get_fdata()``; trailing singleton axes may be dropped).
    axes : str
        The dataset's ``axes`` attribute, or ``""``.
    shape : tuple of int
        The dataset's shape.

    Returns
    -------
    numpy.ndarray
        An array of ``shape``.
    """
    order, names = nifti_axes(shape, axes)
    nshape = [shape[i] for i in order]
    if "Z" not in names and len(shape) > 2:
        nshape = nshape[:2] + [1] + nshape[2:]
    a = np.asarray(img).reshape(nshape)
    if "Z" not in names and len(shape) > 2:
        a = a[:, :, 0]
    return a.transpose(np.argsort(order))


def _voxel_sizes(geometry: dict, arr_shape: tuple, axes: str, name: str, path: str) -> tuple[list, float]:
    """(dx, dy, dz) in mm and the frame time in s of a dataset (1 where the file does not say)."""
    order, names = nifti_axes(arr_shape, axes)
    spatial = [n for n in ("Z", "Y", "X") if n in names]   # the array's spatial axes, in HDF5 (C) order
    sizes = {"X": 1.0, "Y": 1.0, "Z": 1.0}
    if "voxel_size_mm" in geometry:
        v = np.atleast_1d(geometry["voxel_size_mm"]).astype(float).ravel()
        if v.size != len(spatial) or not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise InputError(f"{path}: attribute voxel_size_mm of '{name}' is {v.tolist()}; expected "
                             f"{len(spatial)} positive sizes in mm for its axes {','.join(spatial)}")
        sizes.update(zip(spatial, v.tolist()))
    dt = 1.0
    if "frame_time_s" in geometry:
        dt = float(np.asarray(geometry["frame_time_s"]).ravel()[0])
        if not np.isfinite(dt) or dt <= 0:
            raise InputError(f"{path}: attribute frame_time_s of '{name}' is {dt}; expected a positive time in s")
    return [sizes["X"], sizes["Y"], sizes["Z"]], dt


def nifti_affine(voxel_mm, ny: int) -> np.ndarray:
    """The affine of an exported image: diagonal voxel sizes, j pointing up (row 0 at the top).

    Parameters
    ----------
    voxel_mm : sequence of 3 floats
        (dx, dy, dz) in mm.
    ny : int
        Rows of the image (Y's length).

    Returns
    -------
    numpy.ndarray
        4×4: ``x = dx·i``, ``y = dy·(ny − 1 − j)``, ``z = dz·k``.
    """
    dx, dy, dz = (float(v) for v in voxel_mm)
    aff = np.diag([dx, -dy, dz, 1.0])
    aff[1, 3] = dy * (ny - 1)
    return aff


def _write_nifti(out: str, arr: np.ndarray, axes: str, name: str, path: str, geometry: dict) -> None:
    try:
        import nibabel
    except ImportError:
        raise ConfigError(f"-o {out}: NIfTI export needs nibabel: pip install \"sensekit[nifti]\"") from None
    from ..io.hdf5 import atomic_path
    if arr.ndim < 2 or arr.ndim > 7:
        raise ConfigError(f"dataset '{name}' has shape {arr.shape}: NIfTI needs images of 2 to 7 axes")
    if arr.dtype.kind not in "biufc":
        raise ConfigError(f"dataset '{name}' ({arr.dtype}) is not numeric: NIfTI holds numbers")
    if arr.dtype.kind == "c":
        arr = np.abs(arr).astype(np.float32)   # viewers show magnitudes; .npy/.mat/.cfl keep the complex values
    elif arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    data, names = to_nifti(arr, axes)
    if data.ndim > 7:
        raise ConfigError(f"dataset '{name}' has shape {arr.shape}: too many axes for NIfTI (at most 7)")
    voxel, dt = _voxel_sizes(geometry, arr.shape, axes, name, path)
    img = nibabel.Nifti1Image(np.ascontiguousarray(data), nifti_affine(voxel, data.shape[1]))
    hdr = img.header
    hdr.set_xyzt_units("mm", "sec")
    zooms = list(hdr.get_zooms())
    if len(zooms) > 3:
        zooms[3] = dt
    hdr.set_zooms(zooms)
    hdr["descrip"] = f"sensekit {name} ({','.join(names)})"[:79].encode()
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    raw = img.to_bytes()
    if out.lower().endswith(".gz"):
        import gzip
        raw = gzip.compress(raw, mtime=0)   # no timestamp: the same result gives the same bytes
    with atomic_path(out, suffix=".nii") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(raw)


def _extension(out: str) -> str:
    low = out.lower()
    return ".nii.gz" if low.endswith(".nii.gz") else os.path.splitext(low)[1]


def export(path: str, out: str, *, dataset: str | None = None) -> list[str]:
    """Write ``path``'s dataset(s) to ``out`` in the format of its extension.

    Parameters
    ----------
    path : str
        A sensekit result (HDF5).
    out : str
        The file to write; its extension picks the format (see the module docstring).
    dataset : str, optional
        The dataset to export (default: the app's first output; for ``.mat`` every dataset).

    Returns
    -------
    list of str
        The files written.
    """
    from ..io.hdf5 import atomic_path
    ext = _extension(out)
    if ext == ".hdr":
        ext = ".cfl"
    if ext not in FORMATS:
        raise ConfigError(f"-o {out}: unknown export format '{ext or '(none)'}'; expected one of "
                          + ", ".join(FORMATS))
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ConfigError(f"-o {out}: folder {folder} does not exist")
    if os.path.exists(out) and os.path.exists(path) and os.path.samefile(out, path):
        raise ConfigError(f"-o {out}: refusing to overwrite the input file")
    data, metrics, app, geometry = _read(path)
    names = list(data)
    if ext == ".mat":
        import scipy.io
        chosen = [dataset] if dataset else names
        if dataset:
            choose_dataset(path, names, app, dataset)
        mdict = {n: data[n][0] for n in chosen}
        mdict["axes"] = {n: data[n][1] for n in chosen}
        if metrics:
            mdict["metrics"] = metrics
        with atomic_path(out, suffix=".mat") as tmp:
            with open(tmp, "wb") as fh:
                scipy.io.savemat(fh, mdict, do_compression=True, oned_as="column")
        return [out]
    name = choose_dataset(path, names, app, dataset)
    arr, axes = data[name]
    if ext in (".nii", ".nii.gz"):
        _write_nifti(out, arr, axes, name, path, geometry.get(name, {}))
        return [out]
    if ext == ".npy":
        with atomic_path(out, suffix=".npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
        return [out]
    if ext == ".cfl":
        from ..io.cfl import cfl_base, write_cfl
        if arr.dtype.kind not in "biufc":
            raise ConfigError(f"dataset '{name}' ({arr.dtype}) is not numeric: BART holds complex64")
        write_cfl(out, to_bart(arr, axes))
        base = cfl_base(out)
        return [base + ".cfl", base + ".hdr"]
    from PIL import Image   # Pillow comes with matplotlib (a core dependency)
    frames, _ = to_uint8(_frames(arr, name))
    if ext == ".gif":
        imgs = [Image.fromarray(f, mode="L") for f in frames]
        with atomic_path(out, suffix=".gif") as tmp:
            imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=100, loop=0)
        return [out]
    if len(frames) == 1:
        paths = [out]
    else:
        stem = os.path.splitext(out)[0]
        paths = [f"{stem}-{i:04d}.png" for i in range(len(frames))]
    for p, f in zip(paths, frames):
        with atomic_path(p, suffix=".png") as tmp:
            Image.fromarray(f, mode="L").save(tmp, format="PNG")
    return paths
