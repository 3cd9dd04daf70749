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


from sensekit.app.base import option
from sensekit.io.errors import InputError


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    variable: str = option("", "the cube variable of a .mat file (default: the largest 3-D array, else Y / V)")
    endmembers: str = option("", "the reference-endmember variable (default: GT, M, EndMembers)")
    abundances: str = option("", "the reference-abundance variable (default: S_GT, A, label)")
    library: str = option("", "a .mat spectral library to attach as dataset 'library' (same bands)")
    n_endmembers: int = option(0, "n_endmembers attribute of the cube (0 = the reference's count, if any)",
                               min=0, max=64)


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
    else:
        raise InputError(f"{src}: format {fmt} is not convertible to unmix; expected a .mat file or an ENVI .hdr")
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
