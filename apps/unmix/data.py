"""Readers of the hyperspectral .mat layouts in ``$SENSEKIT_DATA/hsi`` (and the common ones elsewhere).

Layout rule of the MATLAB files: a bands × pixels matrix (``Y``/``V``) holds the pixels in column-major
order, so ``cube = Y.T.reshape(H, W, B, order="F")``. Everything returned here is numpy, float64:
``cube`` (H, W, B), ``endmembers`` (P, B), ``abundances`` (H, W, P), ``library`` (L, B).
"""
from __future__ import annotations

import os

import numpy as np

from sensekit.io.errors import InputError


def data_root() -> str:
    base = os.environ.get("SENSEKIT_DATA")
    if base:
        return base
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def data_path(rel: str) -> str:
    return os.path.join(data_root(), rel)


def _names(raw) -> list:
    """Material names from a MATLAB cell of strings or a char matrix (rows of uint8 codes)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw.strip()]
    if isinstance(raw, (list, tuple)):
        out = []
        for r in raw:
            out += _names(r) if isinstance(r, (list, tuple)) else [str(r).strip()]
        return out
    a = np.asarray(raw)
    if a.dtype.kind in "ui" and a.ndim == 2:
        return [bytes(int(c) for c in row if 0 < int(c) < 128).decode().strip() for row in a]
    if a.dtype.kind in "US":
        return [str(s).strip() for s in a.ravel()]
    if a.dtype == object:
        return [str(np.asarray(s).ravel()[0]).strip() if np.asarray(s).size else "" for s in a.ravel()]
    return []


def _scalar(m: dict, *keys):
    for k in keys:
        if k in m:
            v = np.asarray(m[k]).ravel()
            if v.size:
                return int(v[0])
    return None


def read_mat_scene(path: str, *, variable: str = "", endmembers: str = "", abundances: str = "") -> dict:
    """A hyperspectral scene from a .mat file: ``{"cube", "endmembers"?, "abundances"?, "names"?,
    "wavelengths"?, "library"?, "library_names"?}``.

    Recognised layouts: an (H, W, B) cube (``SamSon``, MUUFL's ``Y``), a bands × pixels matrix (``Y``, ``V``)
    with ``lines``/``cols`` or ``nRow``/``nCol``; reference endmembers ``GT`` (P, B) or ``M``/``EndMembers``
    (B, P); reference abundances ``S_GT``/``A``/``label`` (H, W, P) or (P, N); names ``cood`` /
    ``material_names``. Options name the variables explicitly.
    """
    from sensekit.io.matlab import load_mat
    m = load_mat(path)
    num = {k: np.asarray(v) for k, v in m.items() if isinstance(v, np.ndarray) and v.dtype.kind in "fiu"
           and v.size > 1}
    out: dict = {}
    cube = None
    if variable:
        if variable not in num:
            raise InputError(f"{path}: no numeric variable {variable!r} (found: {', '.join(sorted(num))})")
        cand = [variable]
    else:
        cand = [k for k, v in num.items() if v.ndim == 3 and v.shape[2] > 8] + \
               [k for k in ("Y", "V", "X", "data") if k in num and num[k].ndim == 2]
    if not cand:
        raise InputError(f"{path}: no hyperspectral cube found (an (H, W, B) array or a bands x pixels matrix "
                         f"with lines/cols); variables: {', '.join(sorted(num)) or 'none'}")
    key = max(cand, key=lambda k: num[k].size)
    a = num[key].astype(np.float64)
    if a.ndim == 3:
        cube = a
    elif a.ndim == 2:
        H = _scalar(m, "lines", "nRow", "nrow", "rows")
        W = _scalar(m, "cols", "nCol", "ncol", "columns")
        B, N = a.shape
        if H is None or W is None:
            r = int(round(np.sqrt(N)))
            if r * r != N:
                raise InputError(f"{path}: variable {key!r} is {a.shape} (bands x pixels) but the file has no "
                                 f"lines/cols to shape the image")
            H = W = r
        if H * W != N:
            if H * W == B:
                a, (B, N) = a.T, (N, B)
            else:
                raise InputError(f"{path}: variable {key!r} is {a.shape}, not bands x ({H}*{W}) pixels")
        cube = a.T.reshape(H, W, B, order="F")
    else:
        raise InputError(f"{path}: variable {key!r} has shape {a.shape}, expected (H, W, B) or (B, H*W)")
    H, W, B = cube.shape
    out["cube"] = cube
    # reference endmembers
    ekeys = [endmembers] if endmembers else [k for k in ("GT", "M", "EndMembers", "endmembers", "E") if k in num]
    for k in ekeys:
        if k not in num:
            raise InputError(f"{path}: no numeric variable {k!r} for the endmembers")
        e = num[k].astype(np.float64)
        if e.ndim == 2 and e.shape[1] == B and e.shape[0] != B:
            out["endmembers"] = e
        elif e.ndim == 2 and e.shape[0] == B:
            out["endmembers"] = e.T.copy()
        else:
            continue
        break
    akeys = [abundances] if abundances else [k for k in ("S_GT", "A", "label", "abundances", "S") if k in num]
    for k in akeys:
        if k not in num:
            raise InputError(f"{path}: no numeric variable {k!r} for the abundances")
        s = num[k].astype(np.float64)
        if s.ndim == 3 and s.shape[:2] == (H, W):
            out["abundances"] = s
        elif s.ndim == 2 and s.shape[1] == H * W:
            out["abundances"] = s.T.reshape(H, W, -1, order="F")
        else:
            continue
        break
    if "endmembers" in out and "abundances" in out and out["endmembers"].shape[0] != out["abundances"].shape[2]:
        raise InputError(f"{path}: {out['endmembers'].shape[0]} reference endmembers but "
                         f"{out['abundances'].shape[2]} abundance maps")
    names = _names(m.get("cood")) or _names(m.get("material_names")) or _names(m.get("names"))
    P = out.get("endmembers", out.get("abundances", np.zeros((0, 0, 0)))).shape[-1 if "endmembers" not in out
                                                                                 else 0]
    if names and len(names) == P:
        out["names"] = names
    for k in ("wavelengths", "wavlen", "wavelength"):
        if k in num and num[k].size == B:
            out["wavelengths"] = num[k].astype(np.float64).ravel()
    return out


def read_library(path: str) -> dict:
    """A spectral library from a .mat file: ``{"library" (L, B), "names", "wavelengths"?}``.

    Layouts: the USGS ``datalib`` (B × (3 + L), columns 0–2 wavelength / resolution / channel) with ``names``;
    a (B, L) ``M`` or ``A`` with ``names`` / ``material_names`` and ``wavlen``; endmember bundles
    ``lib1``, ``lib2``, ... (each B × n_i, named by ``material_names``: every column is named after its bundle).
    """
    from sensekit.io.matlab import load_mat
    m = load_mat(path)
    if "datalib" in m:
        d = np.asarray(m["datalib"], dtype=np.float64)
        names = _names(m.get("names"))
        lib = d[:, 3:].T.copy()
        names = names[3:] if len(names) == d.shape[1] else names[:lib.shape[0]]
        return {"library": lib, "names": names, "wavelengths": d[:, 0].copy()}
    bundles = sorted((k for k in m if k.startswith("lib") and k[3:].isdigit()), key=lambda k: int(k[3:]))
    if bundles:
        mats = [np.asarray(m[k], dtype=np.float64) for k in bundles]
        groups = _names(m.get("material_names"))
        names = []
        for i, b in enumerate(mats):
            g = groups[i] if i < len(groups) else f"material {i + 1}"
            names += [f"{g} {j + 1}" for j in range(b.shape[1])]
        return {"library": np.concatenate(mats, axis=1).T.copy(), "names": names}
    for k in ("M", "A", "library", "D"):
        if k in m and isinstance(m[k], np.ndarray) and np.asarray(m[k]).ndim == 2:
            a = np.asarray(m[k], dtype=np.float64)
            names = _names(m.get("names")) or _names(m.get("material_names"))
            lib = a.T.copy() if not names or len(names) == a.shape[1] else a.copy()
            out = {"library": lib, "names": names if len(names) == lib.shape[0] else []}
            wl = m.get("wavlen", m.get("wavelengths"))
            if wl is not None and np.asarray(wl).size == lib.shape[1]:
                out["wavelengths"] = np.asarray(wl, dtype=np.float64).ravel()
            return out
    raise InputError(f"{path}: no spectral library found (datalib, lib1.., M or A)")


def read_envi(hdr_path: str) -> dict:
    """An ENVI image from its ``.hdr`` (and the data file beside it): ``{"cube" (H, W, B), "wavelengths"?}``."""
    text = open(hdr_path, errors="replace").read()
    if not text.lstrip().upper().startswith("ENVI"):
        raise InputError(f"{hdr_path}: not an ENVI header (first line is not 'ENVI')")
    fields, key, buf = {}, None, ""
    for line in text.splitlines()[1:]:
        if key is not None:
            buf += " " + line
            if "}" in line:
                fields[key] = buf.strip().strip("{}").strip()
                key = None
            continue
        if "=" not in line:
            continue
        k, v = (s.strip() for s in line.split("=", 1))
        if v.startswith("{") and "}" not in v:
            key, buf = k.lower(), v
        else:
            fields[k.lower()] = v.strip("{}").strip()
    try:
        W, H, B = int(fields["samples"]), int(fields["lines"]), int(fields["bands"])
        code = int(fields.get("data type", "4"))
    except (KeyError, ValueError):
        raise InputError(f"{hdr_path}: ENVI header lacks samples / lines / bands / data type") from None
    dtypes = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}
    if code not in dtypes:
        raise InputError(f"{hdr_path}: ENVI data type {code} not supported (real types only)")
    order = ">" if fields.get("byte order", "0").strip() == "1" else "<"
    base = os.path.splitext(hdr_path)[0]
    data = next((base + e for e in ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip") if os.path.isfile(base + e)),
                None)
    if data is None:
        raise InputError(f"{hdr_path}: no ENVI data file beside the header ({base}[.img|.dat|.raw])")
    off = int(fields.get("header offset", "0") or 0)
    a = np.fromfile(data, dtype=order + dtypes[code], offset=off)
    if a.size != H * W * B:
        raise InputError(f"{data}: {a.size} values, expected samples*lines*bands = {W}*{H}*{B}")
    il = fields.get("interleave", "bsq").lower()
    if il == "bsq":
        cube = a.reshape(B, H, W).transpose(1, 2, 0)
    elif il == "bil":
        cube = a.reshape(H, B, W).transpose(0, 2, 1)
    elif il == "bip":
        cube = a.reshape(H, W, B)
    else:
        raise InputError(f"{hdr_path}: ENVI interleave {il!r}, expected bsq, bil or bip")
    out = {"cube": cube.astype(np.float64)}
    if "wavelength" in fields:
        try:
            wl = np.array([float(v) for v in fields["wavelength"].replace(",", " ").split()])
            if wl.size == B:
                out["wavelengths"] = wl
        except ValueError:
            pass
    return out


# --------------------------------------------------------------------------- the shipped scenes (tests, benchmarks)
def samson() -> dict:
    """Samson (95 × 95 × 156, 3 endmembers: Soil, Tree, Water) with its community reference."""
    s = read_mat_scene(data_path("hsi/samson_upc.mat"))
    s["names"] = ["Soil", "Tree", "Water"]
    return s


def muufl() -> dict:
    """MUUFL Gulfport subset (90 × 90 × 64, 5 endmembers; MUNet's derived labels as abundances)."""
    return read_mat_scene(data_path("hsi/muufl_gulfport_90x90.mat"), endmembers="M", abundances="label")


def usgs_pruned() -> dict:
    """The USGS library pruned to ≥ 10° between members (62 spectra, 224 bands)."""
    return read_library(data_path("hsi/usgs_pruned_10deg.mat"))
