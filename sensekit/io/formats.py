"""Recognise an input file's format from its content (and, for BART pairs, its name)."""
from __future__ import annotations

import os

from .errors import InputError

#: format name -> one-line description (for messages and ``--help`` texts)
FORMATS = {
    "sensekit": "HDF5 file following the sensekit contract",
    "fastmri": "fastMRI-layout HDF5 (kspace with slices first + ismrmrd_header)",
    "ismrmrd": "ISMRMRD raw data (HDF5 group with acquisitions and an XML header)",
    "mat-v7.3": "MATLAB v7.3 .mat (HDF5)",
    "mat-v5": "MATLAB v4/v5/v7 .mat",
    "cfl": "BART .cfl/.hdr pair",
}


def detect_format(path: str | os.PathLike) -> str:
    """One of :data:`FORMATS` for ``path``; InputError (one line) when none fits.

    BART pairs are recognised by a ``.cfl``/``.hdr`` extension or a sibling
    ``.hdr``; MATLAB v7.3 by its text header in the HDF5 user block; fastMRI by
    ``kspace`` + ``ismrmrd_header`` at the root; ISMRMRD by a group holding
    ``data`` and ``xml``; any other HDF5 file is taken as a sensekit contract file.

    Returns
    -------
    str
        The format name, one of :data:`FORMATS`.
    """
    p = os.fspath(path)
    root, ext = os.path.splitext(p)
    if ext.lower() in (".cfl", ".hdr") or (not os.path.exists(p) and os.path.isfile(p + ".hdr")):
        return "cfl"
    if not os.path.exists(p):
        raise InputError(f"{p}: file not found")
    if os.path.isdir(p):
        raise InputError(f"{p}: is a directory, expected a data file")
    if os.path.getsize(p) == 0:
        raise InputError(f"{p}: file is empty")
    with open(p, "rb") as fh:
        head = fh.read(128)
    if head.startswith(b"MATLAB 7.3 MAT-file"):
        return "mat-v7.3"
    if head.startswith(b"MATLAB 5.0 MAT-file") or head.startswith(b"MATLAB"):
        return "mat-v5"
    import h5py

    if h5py.is_hdf5(p):
        from .fastmri import is_fastmri
        from .mrd import is_ismrmrd

        if is_fastmri(p):
            return "fastmri"
        if is_ismrmrd(p):
            return "ismrmrd"
        return "sensekit"
    if ext.lower() == ".mat":
        from .matlab import mat_version

        mat_version(p)  # raises a clear InputError when it is not a .mat file
        return "mat-v5"
    raise InputError(f"{p}: unrecognised format; expected one of: " + "; ".join(FORMATS.values()))
