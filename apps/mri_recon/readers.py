"""Inputs that ``sensekit run mri-recon --input`` reads besides contract files: fastMRI layout and ISMRMRD."""
from __future__ import annotations

import os

from sensekit.io.errors import InputError

_CONVERT_HINT = "convert it first: sensekit convert mri-recon {p} -o OUT.h5"


def open_input(app, path):
    """An :class:`~sensekit.io.source.ArraySource` for fastMRI/ISMRMRD files; None for sensekit contract files.

    fastMRI slices (and ISMRMRD slices) become samples N, each a static image
    (T = 1) for fastMRI or a series over the ISMRMRD frames.  MATLAB and BART
    files are refused with a hint to convert them (their axis meaning is not
    fixed enough to guess silently).
    """
    import h5py

    from sensekit.io.fastmri import is_fastmri
    from sensekit.io.mrd import is_ismrmrd

    p = os.fspath(path)
    if p.endswith((".cfl", ".hdr")) or (not os.path.exists(p) and os.path.isfile(p + ".hdr")):
        raise InputError(f"{p}: is a BART .cfl/.hdr file, not an HDF5 contract file; " + _CONVERT_HINT.format(p=p))
    if not os.path.isfile(p) or os.path.getsize(p) == 0:
        return None          # the contract reader reports missing and empty files
    with open(p, "rb") as fh:
        if fh.read(6) == b"MATLAB":
            raise InputError(f"{p}: is a MATLAB .mat file, not an HDF5 contract file; " + _CONVERT_HINT.format(p=p))
    if not h5py.is_hdf5(p):
        return None
    fmt = "fastmri" if is_fastmri(p) else "ismrmrd" if is_ismrmrd(p) else None
    if fmt is None:
        return None
    if fmt == "fastmri":
        from sensekit.io.fastmri import read_fastmri
        d = read_fastmri(p)
        per = [({"kspace": d["kspace"][s][None]} | ({"mask": d["mask"]} if d["mask"] is not None else {}))
               for s in range(d["kspace"].shape[0])]
        layouts = {"kspace": ["T", "C", "Y", "X"], "mask": ["Y", "X"]}
    else:  # ismrmrd
        from sensekit.io.mrd import read_ismrmrd
        d = read_ismrmrd(p)
        per = [{"kspace": d["kspace"][s], "mask": d["mask"][s]} for s in range(d["kspace"].shape[0])]
        layouts = {"kspace": ["T", "C", "Y", "X"], "mask": ["T", "Y", "X"]}
    from sensekit.io.source import ArraySource
    # the runner validates each slice with app.prepare and names the file and the sample in its errors
    return ArraySource(per, layouts, has_n=True, path=p, label=os.path.abspath(p))
