"""``sensekit convert unmix``: .mat scenes (cubes, bands × pixels matrices) and ENVI headers into the contract.

Recognised .mat layouts (see ``data.read_mat_scene``): an (H, W, B) cube (Samson's ``SamSon``, MUUFL's ``Y``),
a bands × pixels matrix ``Y``/``V`` with ``lines``/``cols`` or ``nRow``/``nCol`` (column-major pixels, the
UPC / Borsoi layout), reference endmembers ``GT``/``M``/``EndMembers`` and abundances ``S_GT``/``A``/``label``.
An ENVI image is converted from its ``.hdr`` (the data file beside it). A spectral library from another
.mat file (USGS ``datalib``, pruned ``M`` + ``names``, endmember bundles ``lib1..``) is attached with
``--set library=PATH``; it must have the cube's number of bands.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np


from sensekit.app.base import option
from sensekit.io.errors import ConfigError, InputError


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    variable: str = option("", "the cube variable of a .mat file (default: the largest 3-D array, else Y / V)")
    endmembers: str = option("", "the reference-endmember variable (default: GT, M, EndMembers)")
    abundances: str = option("", "the reference-abundance variable (default: S_GT, A, label)")
    library: str = option("", "a .mat spectral library to attach as dataset 'library' (same bands)")
    matlab_order: str = option("auto", "image axes of the .mat cube and abundance maps: HW (the default, "
                                       "MATLAB's size = [rows, columns, bands], the scene as imagesc shows it) or "
                                       "WH (columns first, as row-major writers leave arrays); auto = HW",
                               choices=("auto", "HW", "WH"))
    n_endmembers: int = option(0, "n_endmembers attribute of the cube (0 = the reference's count, if any)",
                               min=0, max=64)


#: variable names that only hyperspectral files use (the layouts above, spectral libraries)
_HSI_NAMES = ("lines", "cols", "nRow", "nCol", "nBand", "GT", "S_GT", "EndMembers", "SamSon", "cood",
              "material_names", "wavlen", "wavelengths", "datalib", "lib1")


def mat_kind(listing: dict) -> str | None:
    """A description when a ``.mat`` listing (``{name: (shape, class)}``) is plainly a hyperspectral scene.

    By the variable names of the layouts above, or a 3-D cube beside a 2-D matrix ``M`` with as many rows
    or columns as the cube has bands (MUUFL's ``Y`` and ``M``).
    """
    hits = [k for k in _HSI_NAMES if k in listing]
    if hits:
        return f"hyperspectral variables {', '.join(hits)}"
    m = listing.get("M", ((), ""))[0]
    cubes = sorted((k for k, (shape, _) in listing.items() if len(shape) == 3 and len(m) == 2 and shape[2] in m),
                   key=lambda k: -int(np.prod(listing[k][0])))   # the largest: the cube, not an abundance stack
    return f"a hyperspectral cube {cubes[0]} {listing[cubes[0]][0]} with endmembers M {m}" if cubes else None


def convert(src, fmt, cfg, generator):
    from .data import read_envi, read_library, read_mat_scene
    if fmt == "cfl":   # a .hdr is taken by detect_format as BART's; an ENVI header starts with "ENVI"
        hdr = src if src.lower().endswith(".hdr") else src + ".hdr"
        if not os.path.isfile(hdr):
            raise InputError(f"{src}: no header {hdr}")
        with open(hdr, errors="replace") as fh:
            first = fh.readline().strip().upper()
        if first != "ENVI":
            raise InputError(f"{src}: a BART .cfl/.hdr pair is not a hyperspectral input; unmix converts .mat "
                             f"files and ENVI headers")
        scene = read_envi(hdr)
        kind = "ENVI image"
    elif fmt in ("mat-v5", "mat-v7.3"):
        scene = read_mat_scene(src, variable=cfg.variable, endmembers=cfg.endmembers, abundances=cfg.abundances)
        kind = "MATLAB scene"
        from sensekit.io.matlab import swap_hw
        if swap_hw(cfg.matlab_order, "HW"):   # the file's first image axis runs along the width
            scene = {k: (v.transpose(1, 0, 2).copy() if k in ("cube", "abundances") else v) for k, v in scene.items()}
    else:
        raise InputError(f"{src}: format {fmt} is not convertible to unmix; expected a .mat file or an ENVI .hdr")
    if fmt == "cfl" and cfg.matlab_order != "auto":
        raise ConfigError(f"option 'matlab_order' in --set: {src} is not a MATLAB file")
    cube = scene["cube"]
    H, W, B = cube.shape
    out = {"cube": (cube, "H,W,B")}
    dattrs: dict = {"cube": {}}
    if "wavelengths" in scene:
        out["wavelengths"] = (scene["wavelengths"], "B")
    if "endmembers" in scene:
        out["endmembers_ref"] = (scene["endmembers"], "P,B")
        if scene.get("names"):
            dattrs["endmembers_ref"] = {"names": scene["names"]}
    if "abundances" in scene:
        out["abundances_ref"] = (scene["abundances"], "H,W,P")
    P = cfg.n_endmembers or (scene["endmembers"].shape[0] if "endmembers" in scene else
                             scene["abundances"].shape[2] if "abundances" in scene else 0)
    if P:
        dattrs["cube"]["n_endmembers"] = int(P)
    if cfg.library:
        lib = read_library(cfg.library)
        if lib["library"].shape[1] != B:
            raise InputError(f"{cfg.library}: library has {lib['library'].shape[1]} bands, the cube {B}")
        out["library"] = (lib["library"], "L,B")
        if lib.get("names"):
            dattrs["library"] = {"names": lib["names"]}
        if "wavelengths" not in out and "wavelengths" in lib:
            out["wavelengths"] = (lib["wavelengths"], "B")
    attrs = {"acquisition": f"real ({kind}, {os.path.basename(src)})", "simulated": False,
             "dataset_attrs": dattrs,
             "descriptions": {"cube": f"{kind} {H} x {W} x {B} from {os.path.abspath(src)}"}}
    return out, attrs
