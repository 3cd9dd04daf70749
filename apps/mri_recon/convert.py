"""Converting MRI data in other formats into mri-recon's HDF5 contract (``sensekit convert mri-recon``).

Sources: MATLAB .mat (v5 or v7.3), BART .cfl/.hdr, fastMRI-layout HDF5 and
ISMRMRD raw data.  Three kinds of result, recorded in the root attribute
``acquisition``:

* ``real``: k-space as acquired (already undersampled data keep their mask,
  ``mask = kspace != 0`` unless the source has one);
* ``real, retrospectively undersampled``: fully sampled k-space with a mask
  drawn here (``accel > 1``); ``image_ref`` is then the root sum of squares of
  the fully sampled coil images;
* ``simulated from images``: image-only sources (magnitude series, phantoms)
  get synthetic coils, per-frame masks and noise — a simulated acquisition.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np
import torch

from sensekit.app.base import option
from sensekit.io.errors import ConfigError, InputError
from sensekit.sim.masks import PATTERNS

_AXES = set("XYZCTN_")


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    kind: str = option("auto", "what the source array holds: kspace, image, or auto (real arrays are images; "
                               "complex ones are k-space when they have several coils or their energy is "
                               "concentrated at the array centre)",
                       choices=("auto", "kspace", "image"))
    variable: str = option("", "MATLAB variable to convert (default: the largest numeric array)")
    dims: str = option("", "axis names of the source array in its own order (MATLAB/BART), from X, Y, Z, C "
                           "(coils), T (frames), N (samples) and _ (singleton), e.g. X,Y,Z,C; default by format "
                           "(MATLAB: X,Y[,T] for images, X,Y[,Z],C for k-space; BART: its fixed dimensions)")
    matlab_order: str = option("auto", "MATLAB sources: how the variable's first two dimensions run: WH (the "
                                       "default: x (readout, image columns) first, then y, as MRI scripts hold "
                                       "k-space and as row-major writers leave arrays) or HW (MATLAB's own "
                                       "size = [rows, columns]: the image as imagesc shows it); auto = WH; "
                                       "ignored when dims names the axes",
                               choices=("auto", "HW", "WH"))
    accel: float = option(1.0, "undersample fully sampled or simulated data to this net acceleration "
                               "(1 = keep every sample); data that are already undersampled are kept as acquired",
                          min=1.0)
    pattern: str = option("vd-lines", "sampling pattern for accel > 1", choices=tuple(PATTERNS))
    acs: int = option(12, "autocalibration lines (or block side) kept in every frame for accel > 1", min=0)
    coils: int = option(8, "simulated acquisitions: number of synthetic coils", min=1, max=64)
    noise: float = option(0.01, "simulated acquisitions: complex Gaussian noise std relative to the peak image "
                                "magnitude", min=0.0)
    phase: float = option(0.0, "simulated acquisitions: peak of a smooth random image phase in radians "
                               "(0 = the magnitude images as given)", min=0.0)
    reference: str = option("", "optional reference reconstruction (.cfl or .mat) stored as 'reference_recon'; "
                                "not scored, since it is not ground truth")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse_dims(text: str, ndim: int, src: str) -> list:
    names = [t.strip().upper() for t in text.split(",") if t.strip()]
    if len(names) != ndim or not set(names) <= _AXES:
        raise ConfigError(f"option 'dims' in --set: {text!r} must name the {ndim} axes of the array in {src} "
                          f"with X, Y, Z, C, T, N or _")
    for a in "XYZCTN":
        if names.count(a) > 1:
            raise ConfigError(f"option 'dims' in --set: axis {a} named twice in {text!r}")
    return names


def to_contract(arr: np.ndarray, names: list, src: str) -> np.ndarray:
    """Reorder an array whose axes are named (X, Y, Z, C, T, N, _) into (N, T, C, Y, X)."""
    a = np.asarray(arr)
    names = list(names)
    for i in reversed(range(a.ndim)):        # singletons ('_' or size-1 Z) disappear
        if names[i] == "_" or (names[i] == "Z" and a.shape[i] == 1):
            if a.shape[i] != 1:
                raise InputError(f"{src}: axis {i} (named '_') has size {a.shape[i]}, expected 1")
            a = a.squeeze(i)
            del names[i]
    if "Z" in names:                          # slices of a multi-slice 2-D scan become samples
        if "N" in names:
            raise InputError(f"{src}: both Z (size > 1) and N name sample axes; name one of them '_'")
        names[names.index("Z")] = "N"
    if "X" not in names or "Y" not in names:
        raise InputError(f"{src}: needs two image axes X and Y, got axes {','.join(names)} of shape {a.shape}")
    for ax in "NTC":
        if ax not in names:
            a = a[..., None]
            names.append(ax)
    return np.transpose(a, [names.index(ax) for ax in "NTCYX"])


def _looks_like_kspace(a: np.ndarray) -> bool:
    """Energy in the central eighth of the (Y, X) grid: larger in the array than in its centred FFT ⇒ k-space."""
    from sensekit.linop import fftc

    x = torch.from_numpy(np.ascontiguousarray(a.reshape(-1, *a.shape[-2:])[:8])).to(torch.complex64)
    Y, X = x.shape[-2:]
    sl = (slice(None), slice(Y // 2 - Y // 8, Y // 2 + Y // 8 + 1), slice(X // 2 - X // 8, X // 2 + X // 8 + 1))

    def frac(v):
        e = v.abs() ** 2
        return float(e[sl].sum() / e.sum().clamp_min(1e-30))
    return frac(x) > frac(fftc(x))


# ------------------------------------------------------------------------------------------------ sources
def _read_source(src: str, fmt: str, cfg: ConvertConfig):
    """(array, axis names, preset kind or None, mask or None, extra attrs) of a source file."""
    from sensekit.io import cfl, fastmri, matlab, mrd

    if fmt in ("mat-v5", "mat-v7.3"):
        data = matlab.load_mat(src, variables=[cfg.variable] if cfg.variable else None)
        arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray) and v.dtype.kind in "fciub"}
        if not arrays:
            raise InputError(f"{src}: no numeric MATLAB variable to convert (found: {', '.join(data)})")
        name = cfg.variable or max(arrays, key=lambda k: arrays[k].size)
        arr = arrays[name]
        if arr.ndim < 2 or min(arr.shape[:2]) < 2:
            raise InputError(f"{src}: variable {name!r} has shape {arr.shape}, expected at least a 2-D image grid")
        kind = cfg.kind if cfg.kind != "auto" else ("kspace" if arr.dtype.kind == "c" and _looks_like_kspace(
            np.moveaxis(arr, (0, 1), (-1, -2))) else "image")
        if cfg.dims:
            if cfg.matlab_order != "auto":
                raise ConfigError(f"options 'dims' and 'matlab_order' in --set: dims={cfg.dims} names every axis "
                                  f"of {src}; leave matlab_order at auto")
            names = _parse_dims(cfg.dims, arr.ndim, src)
        else:
            img_names = {2: ["X", "Y"], 3: ["X", "Y", "T"]}
            ksp_names = {2: ["X", "Y"], 3: ["X", "Y", "C"], 4: ["X", "Y", "Z", "C"], 5: ["X", "Y", "Z", "C", "T"]}
            table = ksp_names if kind == "kspace" else img_names
            if arr.ndim not in table:
                raise InputError(f"{src}: variable {name!r} has {arr.ndim} dimensions {arr.shape}; "
                                 f"name its axes with --set dims=...")
            names = _matlab_names(table[arr.ndim], cfg.matlab_order)
        return arr, names, kind, None, {"source_variable": name, "matlab_order": _order(cfg.matlab_order)
                                        if not cfg.dims else "dims"}
    if fmt == "cfl":
        arr = cfl.read_cfl(src, squeeze_trailing=False)
        names = cfl_axis_names(arr.shape, src) if not cfg.dims else _parse_dims(cfg.dims, arr.ndim, src)
        return arr, names, None, None, {}
    if fmt == "fastmri":
        d = fastmri.read_fastmri(src)
        return d["kspace"], ["Z", "C", "Y", "X"], "kspace", d["mask"], {"ismrmrd_header": d["header"]}
    if fmt == "ismrmrd":
        d = mrd.read_ismrmrd(src)
        return d["kspace"], ["Z", "T", "C", "Y", "X"], "kspace", d["mask"], {"ismrmrd_header": d["header"]}
    raise InputError(f"{src}: is already a sensekit HDF5 file; nothing to convert")


def _order(order: str) -> str:
    return "WH" if order == "auto" else order


def _matlab_names(names: list, order: str) -> list:
    """A default MATLAB reading (x, y first: WH) with its first two axes swapped for ``matlab_order=HW``."""
    from sensekit.io.matlab import swap_hw
    return [names[1], names[0], *names[2:]] if swap_hw(order, "WH") else list(names)


def mat_kind(listing: dict) -> str | None:
    """A description when a ``.mat`` listing (``{name: (shape, class)}``) is plainly MRI data, else None.

    MRI variables by their usual names: k-space (``kspace``, ``ksp``, ``kdata``, ``raw``, ``rawdata``)
    or coil maps (``sens``, ``smaps``, ``csm``).
    """
    hits = [k for k in listing if k.lower() in ("kspace", "ksp", "kdata", "raw", "rawdata", "sens", "smaps", "csm")]
    return f"MRI variables {', '.join(hits)}" if hits else None


def cfl_axis_names(shape, src: str) -> list:
    """BART's fixed dimensions (read, phase 1, phase 2, coils, maps, …, time at 10) as contract axes.

    The first two spatial dimensions of size > 1 become Y and X; coils C;
    time T; a size > 1 anywhere else is not supported by mri-recon.
    """
    names = ["_"] * len(shape)
    spatial = [i for i in range(min(3, len(shape))) if shape[i] > 1]
    if len(spatial) != 2:
        raise InputError(f"{src}: BART dimensions {list(shape)}: mri-recon needs exactly two spatial dimensions "
                         f"of size > 1 among the first three (2-D data)")
    names[spatial[0]], names[spatial[1]] = "Y", "X"
    if len(shape) > 3:
        names[3] = "C"
    if len(shape) > 10:
        names[10] = "T"
    bad = [i for i, n in enumerate(names) if n == "_" and shape[i] > 1]
    if bad:
        raise InputError(f"{src}: BART dimension {bad[0]} has size {shape[bad[0]]}; mri-recon reads 2-D "
                         f"(read/phase), coil (3) and time (10) dimensions only")
    return names


def _reference(path: str, order: str = "auto") -> np.ndarray:
    from sensekit.io import detect_format
    from sensekit.io.cfl import read_cfl
    from sensekit.io.matlab import load_mat

    fmt = detect_format(path)
    if fmt == "cfl":
        a = read_cfl(path, squeeze_trailing=False)
        names = ["_"] * a.ndim
        spatial = [i for i in range(min(3, a.ndim)) if a.shape[i] > 1]
        if len(spatial) != 2:
            raise InputError(f"{path}: reference with BART dimensions {list(a.shape)} is not 2-D")
        names[spatial[0]], names[spatial[1]] = "Y", "X"
        if a.ndim > 4:
            names[4] = "C"      # ESPIRiT map sets are kept on the second axis
        if a.ndim > 10:
            names[10] = "T"
        return to_contract(a, names, path)[0]       # (T, S, Y, X)
    if fmt in ("mat-v5", "mat-v7.3"):
        arrs = [v for v in load_mat(path).values() if isinstance(v, np.ndarray) and v.ndim >= 2]
        if not arrs:
            raise InputError(f"{path}: no array for a reference image")
        a = max(arrs, key=lambda v: v.size)
        if a.ndim > 3:
            raise InputError(f"{path}: reference array has shape {a.shape}, expected (x, y) or (x, y, frame)")
        return to_contract(a, _matlab_names(["X", "Y", "T"][:a.ndim], order), path)[0]
    raise InputError(f"{path}: a reference must be a .cfl or .mat file, got {fmt}")


# ------------------------------------------------------------------------------------------------ convert
def convert(src: str, fmt: str, cfg: ConvertConfig, generator: torch.Generator):
    """Arrays for the contract file: ``({name: (array, axes)}, root attrs)``."""
    arr, names, preset, mask, extra = _read_source(src, fmt, cfg)
    a = to_contract(arr, names, src)                      # (N, T, C, Y, X)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{src}: the data contain NaN or Inf values")
    kind = preset or cfg.kind
    if kind == "auto":   # multi-channel complex data are coil k-space (image sources have one channel)
        kind = "kspace" if a.dtype.kind == "c" and (a.shape[2] > 1 or _looks_like_kspace(a)) else "image"
    from sensekit.io.cfl import cfl_base

    data_file = cfl_base(src) + ".cfl" if fmt == "cfl" else src
    attrs = {"source": os.path.abspath(data_file), "source_format": fmt, "source_sha256": _sha256(data_file),
             "source_kind": kind, **{k: v for k, v in extra.items() if k != "ismrmrd_header"}}
    out = {}
    if kind == "image":
        out.update(_simulate(a, cfg, generator))
        attrs["acquisition"] = "simulated from images"
        attrs["simulated"] = True
        attrs["descriptions"] = {
            "kspace": f"SIMULATED acquisition: {cfg.coils} synthetic coils (sensekit.sim.coil_maps), centred "
                      f"orthonormal FFT, complex Gaussian noise std {cfg.noise:g} × peak, {cfg.pattern} masks "
                      f"at acceleration {cfg.accel:g}",
            "image_ref": "the source images, each sample scaled to peak magnitude 1"}
    else:
        if a.dtype.kind != "c":
            raise InputError(f"{src}: k-space must be complex, got {a.dtype}")
        out.update(_kspace(a, mask, cfg, generator, attrs))
        attrs["simulated"] = False
    if "ismrmrd_header" in extra:
        out["ismrmrd_header"] = (np.bytes_(extra["ismrmrd_header"].encode()), None)
    if cfg.reference:
        ref = _reference(cfg.reference, cfg.matlab_order)
        N, T, C, Y, X = a.shape
        if ref.shape[-2:] != (Y, X) or ref.shape[0] not in (1, T):
            raise InputError(f"{cfg.reference}: reference has shape {ref.shape}, expected frames × sets × {Y} × {X}")
        out["reference_recon"] = (ref.astype(np.complex64), "T,S,Y,X")
        attrs.setdefault("descriptions", {})["reference_recon"] = (
            f"{os.path.abspath(cfg.reference)}: a reconstruction shipped with the data (S = map sets), "
            f"NOT ground truth; not scored by run")
    squeeze = a.shape[0] == 1
    return {k: ((v[0] if squeeze and ax and ax.startswith("N,") else v),
                (ax[2:] if squeeze and ax and ax.startswith("N,") else ax)) for k, (v, ax) in out.items()}, attrs


def _kspace(k, mask, cfg, generator, attrs):
    from sensekit.linop import ifftc
    from sensekit.sim.masks import sampling_mask

    N, T, C, Y, X = k.shape
    sampled = np.any(k != 0, axis=2) if mask is None else np.broadcast_to(mask, (N, T, Y, X))
    full = bool(sampled.all())
    out = {}
    if full:
        coil = ifftc(torch.from_numpy(np.ascontiguousarray(k)).to(torch.complex128), dim=(-2, -1))
        out["image_ref"] = (torch.sqrt((coil.abs() ** 2).sum(2)).numpy().astype(np.float32), "N,T,Y,X")
        attrs.setdefault("descriptions", {})["image_ref"] = (
            "root sum of squares of the fully sampled coil images (noisy magnitude, not noise-free truth)")
    if cfg.accel > 1:
        if not full:
            raise ConfigError(f"option 'accel': the source k-space is already undersampled "
                              f"({sampled.mean():.1%} sampled); convert it without accel")
        m = np.stack([sampling_mask(cfg.pattern, T, (Y, X), cfg.accel, acs=cfg.acs, generator=generator).numpy()
                      for _ in range(N)])
        k = k * m[:, :, None]
        sampled = m
        attrs["acquisition"] = f"real, retrospectively undersampled ({cfg.pattern}, accel {cfg.accel:g})"
    else:
        attrs["acquisition"] = "real, fully sampled" if full else "real, undersampled as acquired"
    out["kspace"] = (k.astype(np.complex64), "N,T,C,Y,X")
    out["mask"] = (np.ascontiguousarray(sampled).astype(np.uint8), "N,T,Y,X")
    return out


def _simulate(img, cfg, generator):
    from sensekit.core.random import randn
    from sensekit.linop import fftc
    from sensekit.sim import coil_maps
    from sensekit.sim.masks import sampling_mask

    N, T, C, Y, X = img.shape
    if C != 1:
        raise InputError(f"image sources must have one channel, got {C} (axis named C); for k-space use kind=kspace")
    x = torch.from_numpy(np.ascontiguousarray(img[:, :, 0])).to(torch.complex128)
    if img.dtype.kind != "c":
        x = x.abs()
    x = x / x.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
    if cfg.phase > 0:
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, Y, dtype=torch.float64),
                                torch.linspace(-1, 1, X, dtype=torch.float64), indexing="ij")
        a, b, c = (torch.rand(3, generator=generator, dtype=torch.float64) - 0.5) * 2
        ph = cfg.phase * (0.5 * a * yy + 0.5 * b * xx + c * (xx ** 2 + yy ** 2) / 2)
        x = x * torch.exp(1j * ph)
    maps = coil_maps(cfg.coils, (Y, X), dtype=torch.complex128)
    k = fftc(x[:, :, None] * maps, dim=(-2, -1))
    if cfg.noise > 0:
        k = k + cfg.noise * randn(k.shape, dtype=k.dtype, generator=generator)
    accel = cfg.accel
    m = np.stack([sampling_mask(cfg.pattern, T, (Y, X), accel, acs=cfg.acs, generator=generator).numpy()
                  for _ in range(N)])
    k = k.numpy() * m[:, :, None]
    return {"kspace": (k.astype(np.complex64), "N,T,C,Y,X"), "mask": (m.astype(np.uint8), "N,T,Y,X"),
            "image_ref": (x.numpy().astype(np.complex64) if cfg.phase > 0 else x.abs().numpy().astype(np.float32),
                          "N,T,Y,X")}
