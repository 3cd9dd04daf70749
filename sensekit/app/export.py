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

FORMATS = (".mat", ".cfl", ".npy", ".png", ".gif")
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
        metrics = {k: _scalar(v) for k, v in f["metrics"].attrs.items()} if "metrics" in f else {}
        app = _s(f["provenance"].attrs.get("app", "")) if "provenance" in f else ""
    if not data:
        raise InputError(f"{path}: holds no datasets at its root")
    return data, metrics, app


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _scalar(v):
    return v.item() if hasattr(v, "item") else v


def choose_dataset(path: str, names: list, app: str, dataset: str | None) -> str:
    """The dataset to export (see the module docstring); :class:`ConfigError` naming the choices."""
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
    """``arr`` with its named axes moved to BART's dimensions (see the module docstring)."""
    names = [a.strip() for a in axes.split(",")] if axes else []
    if len(names) != arr.ndim or len(set(names)) != len(names) or not all(n in BART_DIMS for n in names):
        return np.asarray(arr).transpose()   # unnamed axes: the same bytes, BART's (Fortran) order
    shape = [1] * (max(BART_DIMS[n] for n in names) + 1)
    for n, size in zip(names, arr.shape):
        shape[BART_DIMS[n]] = size
    order = sorted(range(arr.ndim), key=lambda i: BART_DIMS[names[i]])
    return np.asarray(arr).transpose(order).reshape(shape)


def from_bart(arr: np.ndarray, axes: str) -> np.ndarray:
    """The inverse of :func:`to_bart` (for tests and for reading an exported pair back)."""
    names = [a.strip() for a in axes.split(",")] if axes else []
    if not names or len(names) != len(set(names)) or not all(n in BART_DIMS for n in names):
        return np.asarray(arr).transpose()
    order = sorted(range(len(names)), key=lambda i: BART_DIMS[names[i]])
    full = list(arr.shape) + [1] * (max(BART_DIMS[n] for n in names) + 1 - arr.ndim)
    a = np.asarray(arr).reshape(full)
    a = a.reshape([full[BART_DIMS[names[i]]] for i in order])   # drop the singleton dimensions between
    return a.transpose(np.argsort(order))


def to_uint8(mag: np.ndarray) -> tuple[np.ndarray, float]:
    """Magnitudes as 8-bit grey with white at :data:`WHITE_PERCENTILE` of the whole array; returns (image, white)."""
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


def export(path: str, out: str, *, dataset: str | None = None) -> list[str]:
    """Write ``path``'s dataset(s) to ``out`` in the format of its extension; returns the files written."""
    from ..io.hdf5 import atomic_path
    ext = os.path.splitext(out)[1].lower()
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
    data, metrics, app = _read(path)
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
