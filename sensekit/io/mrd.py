"""ISMRMRD raw data (the ISMRM raw data format) through the optional ``ismrmrd`` package.

Install it with ``pip install "sensekit[ismrmrd]"``.  Cartesian 2-D
acquisitions are sorted into a k-space grid ``(N, T, C, Y, X)``: slices N,
frames T (repetition × cardiac phase × contrast × set, in that order, over the
values present), coils C, phase-encode lines Y (``kspace_encode_step_1``
placed so that the header's encoding centre lands at index Y//2) and readout X
(``center_sample`` at X//2, i.e. the centred convention of the HDF5 contract).
Repeated averages are averaged.  Noise, navigator, phase-correction, dummy and
feedback acquisitions are skipped; parallel-imaging calibration lines are kept
as samples at their k-space positions.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np

from .errors import InputError

_NS = "{http://www.ismrm.org/ISMRMRD}"


def _find(node, path):
    for part in path.split("/"):
        if node is None:
            return None
        node = node.find(_NS + part) if node.find(_NS + part) is not None else node.find(part)
    return node


def _int(node, path, default=None):
    n = _find(node, path)
    try:
        return int(float(n.text)) if n is not None and n.text is not None else default
    except ValueError:
        return default


def parse_ismrmrd_header(xml: str | bytes) -> dict:
    """The facts sensekit uses from an ISMRMRD XML header (first encoding).

    Returns
    -------
    dict with ``encoded_matrix`` and ``recon_matrix`` (x, y, z), ``ky`` limits
    ``(min, max, center)`` or None, ``trajectory`` (str) and ``coils`` (int or None).
    Raises InputError when the text is not XML.
    """
    if isinstance(xml, (bytes, np.bytes_)):
        xml = bytes(xml).decode("utf-8", errors="replace")
    try:
        root = ET.fromstring(str(xml))
    except ET.ParseError as e:
        raise InputError(f"ismrmrd_header is not valid XML ({e})") from None
    enc = _find(root, "encoding")

    def matrix(which):
        return tuple(_int(enc, f"{which}/matrixSize/{a}", 1) for a in ("x", "y", "z"))

    ky = None
    if _find(enc, "encodingLimits/kspace_encoding_step_1") is not None:
        ky = tuple(_int(enc, f"encodingLimits/kspace_encoding_step_1/{k}", 0) for k in ("minimum", "maximum", "center"))
    traj = _find(enc, "trajectory")
    return {
        "encoded_matrix": matrix("encodedSpace"),
        "recon_matrix": matrix("reconSpace"),
        "ky": ky,
        "trajectory": (traj.text or "").strip() if traj is not None else "",
        "coils": _int(root, "acquisitionSystemInformation/receiverChannels"),
    }


def _require_ismrmrd():
    try:
        import ismrmrd
    except ModuleNotFoundError:
        raise InputError("reading ISMRMRD raw data needs the optional 'ismrmrd' package: "
                         "pip install \"sensekit[ismrmrd]\"") from None
    return ismrmrd


_SKIP_FLAGS = ("ACQ_IS_NOISE_MEASUREMENT", "ACQ_IS_NAVIGATION_DATA", "ACQ_IS_PHASECORR_DATA",
               "ACQ_IS_DUMMYSCAN_DATA", "ACQ_IS_RTFEEDBACK_DATA", "ACQ_IS_HPFEEDBACK_DATA",
               "ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA", "ACQ_IS_PHASE_STABILIZATION",
               "ACQ_IS_PHASE_STABILIZATION_REFERENCE")


def is_ismrmrd(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file laid out as ISMRMRD raw data (a group with ``data`` and ``xml``).

    Returns
    -------
    bool
        True for an ISMRMRD file (False for anything unreadable).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return any(isinstance(f[g], h5py.Group) and "data" in f[g] and "xml" in f[g] for g in f)
    except Exception:
        return False


def read_ismrmrd(path, *, dataset: str = "dataset") -> dict:
    """Cartesian k-space from an ISMRMRD raw-data file.

    Parameters
    ----------
    path : str or path-like
    dataset : str
        The HDF5 group holding the acquisitions (ISMRMRD's default ``dataset``).

    Returns
    -------
    dict
        ``kspace`` complex64 (N, T, C, Y, X); ``mask`` bool (N, T, Y, X);
        ``header`` (str, the XML); ``info`` (:func:`parse_ismrmrd_header` plus counts).
    """
    ismrmrd = _require_ismrmrd()
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InputError(f"{p}: file not found")
    import h5py

    if not h5py.is_hdf5(p):
        raise InputError(f"{p}: not an HDF5 file, expected ISMRMRD raw data")
    with h5py.File(p, "r") as f:
        if dataset not in f or "data" not in f[dataset]:
            raise InputError(f"{p}: no ISMRMRD group '{dataset}' with acquisitions ('{dataset}/data')")
        if "xml" not in f[dataset]:
            raise InputError(f"{p}: ISMRMRD group '{dataset}' has no XML header ('{dataset}/xml')")
        # the ismrmrd package reads these itself: check them first, so that nothing outside the file is read
        # and no absurd declared size is allocated
        from .hdf5 import local_object
        from .source import check_declared_size
        for name in (f"{dataset}/data", f"{dataset}/xml"):
            obj = local_object(f, name, p)
            if isinstance(obj, h5py.Dataset):
                check_declared_size(p, name, obj.shape, obj.dtype)
    try:
        dset = ismrmrd.Dataset(p, dataset, create_if_needed=False, mode="r")
    except TypeError:  # older package versions have no mode argument
        dset = ismrmrd.Dataset(p, dataset, create_if_needed=False)
    except Exception as e:
        raise InputError(f"{p}: cannot open as ISMRMRD ({str(e)[:120]})") from None
    try:
        xml = dset.read_xml_header()
        info = parse_ismrmrd_header(xml)
        acqs = _read_acquisitions(p, dset, ismrmrd)
    finally:
        dset.close()
    return _grid(p, acqs, info, xml)


def _read_acquisitions(p, dset, ismrmrd):
    skip = 0
    for name in _SKIP_FLAGS:
        bit = getattr(ismrmrd, name, None)
        if bit is not None:
            skip |= 1 << (bit - 1)
    reverse_bit = 1 << (ismrmrd.ACQ_IS_REVERSE - 1)
    n = dset.number_of_acquisitions()
    if n == 0:
        raise InputError(f"{p}: the ISMRMRD file holds no acquisitions")
    out = []
    for i in range(n):
        a = dset.read_acquisition(i)
        flags = int(a.flags)
        if flags & skip:
            continue
        if int(a.trajectory_dimensions) > 0:
            raise InputError(f"{p}: acquisition {i} has a trajectory (non-Cartesian); "
                             "mri-recon reads Cartesian data only")
        data = np.asarray(a.data)
        if flags & reverse_bit:
            data = data[:, ::-1]
        idx = a.idx
        out.append((int(idx.slice), (int(idx.repetition), int(idx.phase), int(idx.contrast), int(idx.set)),
                    int(idx.kspace_encode_step_1), int(idx.kspace_encode_step_2), int(a.center_sample), data))
    if not out:
        raise InputError(f"{p}: no imaging acquisitions (all are noise/navigator/calibration-only scans)")
    return out


def _grid(p, acqs, info, xml):
    coils = {a[5].shape[0] for a in acqs}
    if len(coils) != 1:
        raise InputError(f"{p}: acquisitions have different numbers of coils {sorted(coils)}")
    C = coils.pop()
    if len({a[3] for a in acqs}) > 1 or info["encoded_matrix"][2] > 1:
        raise InputError(f"{p}: 3-D Cartesian data (kspace_encode_step_2) is not supported; mri-recon is 2-D")
    ns = max(a[5].shape[1] for a in acqs)
    X = max(info["encoded_matrix"][0], ns)
    Y = info["encoded_matrix"][1]
    ky_center = info["ky"][2] if info["ky"] is not None else Y // 2
    slices = sorted({a[0] for a in acqs})
    frames = sorted({a[1] for a in acqs})
    s_of, t_of = {s: i for i, s in enumerate(slices)}, {t: i for i, t in enumerate(frames)}
    k = np.zeros((len(slices), len(frames), C, Y, X), np.complex128)
    count = np.zeros((len(slices), len(frames), Y, X), np.int32)
    for s, t, ky, _, centre, data in acqs:
        row = ky - ky_center + Y // 2
        col0 = X // 2 - centre
        if not (0 <= row < Y) or col0 < 0 or col0 + data.shape[1] > X:
            raise InputError(f"{p}: line ky={ky} (centre {ky_center}) with {data.shape[1]} samples "
                             f"centred at {centre} does not fit the encoded matrix {Y}×{X}")
        k[s_of[s], t_of[t], :, row, col0:col0 + data.shape[1]] += data
        count[s_of[s], t_of[t], row, col0:col0 + data.shape[1]] += 1
    mask = count > 0
    k = np.where(mask[:, :, None], k / np.maximum(count, 1)[:, :, None], 0)
    info = dict(info, slices=len(slices), frames=len(frames), coils_found=C)
    return {"kspace": k.astype(np.complex64), "mask": mask, "header": str(xml), "info": info}
