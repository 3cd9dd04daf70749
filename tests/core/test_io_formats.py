"""Readers of other formats: BART .cfl/.hdr, MATLAB v5 and v7.3, fastMRI layout, ISMRMRD; format detection."""
import os

import h5py
import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.io import InputError, detect_format, load_mat, read_cfl, write_cfl
from sensekit.io.cfl import read_cfl_dims

from conftest import require_data
from helpers import fft2c, outside_mri_file, sha256


# ------------------------------------------------------------------------------------------------ BART
def test_cfl_round_trip_is_fortran_complex64(tmp_path):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 1, 5)) + 1j * rng.standard_normal((3, 4, 1, 5))).astype(np.complex64)
    write_cfl(tmp_path / "x", a)
    assert read_cfl_dims(tmp_path / "x.cfl") == [3, 4, 1, 5]
    raw = np.fromfile(tmp_path / "x.cfl", np.complex64)
    assert np.array_equal(raw, a.ravel(order="F"))           # first dimension fastest, as BART writes it
    b = read_cfl(tmp_path / "x.hdr")
    assert b.dtype == np.complex64 and b.shape == (3, 4, 1, 5) and np.array_equal(a, b)
    write_cfl(tmp_path / "y.cfl", a[..., 0, 0])                # trailing singletons are dropped on read
    assert read_cfl(tmp_path / "y").shape == (3, 4)
    assert read_cfl(tmp_path / "x", squeeze_trailing=False).shape == (3, 4, 1, 5)


@pytest.mark.parametrize("case,needle", [
    ("no_hdr", "BART header not found"),
    ("no_cfl", "BART data file not found"),
    ("short", "is the file truncated"),
    ("bad_dims", "must hold integers"),
    ("no_dims", "no '# Dimensions' line"),
])
def test_cfl_malformed(tmp_path, case, needle):
    base = tmp_path / "k"
    write_cfl(base, np.ones((4, 4), np.complex64))
    if case == "no_hdr":
        os.remove(f"{base}.hdr")
    elif case == "no_cfl":
        os.remove(f"{base}.cfl")
    elif case == "short":
        data = open(f"{base}.cfl", "rb").read()
        open(f"{base}.cfl", "wb").write(data[:-8])
    elif case == "bad_dims":
        open(f"{base}.hdr", "w").write("# Dimensions\n4 four\n")
    elif case == "no_dims":
        open(f"{base}.hdr", "w").write("hello\n")
    with pytest.raises(InputError) as ei:
        read_cfl(base)
    assert needle in str(ei.value) and "\n" not in str(ei.value)


# ------------------------------------------------------------------------------------------------ MATLAB
def _write_v73(path, **arrays):
    """A MATLAB v7.3 file as MATLAB writes it: 512-byte user block with the text header, reversed
    dimensions, compound {real, imag} complex, MATLAB_class attributes."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, a in arrays.items():
            a = np.asarray(a)
            if a.dtype.kind == "c":
                c = np.empty(a.T.shape, np.dtype([("real", "<f8"), ("imag", "<f8")]))
                c["real"], c["imag"] = a.T.real, a.T.imag
                d = f.create_dataset(name, data=c)
                d.attrs["MATLAB_class"] = np.bytes_(b"double")
            elif a.dtype == bool:
                d = f.create_dataset(name, data=a.T.astype(np.uint8))
                d.attrs["MATLAB_class"] = np.bytes_(b"logical")
            else:
                d = f.create_dataset(name, data=a.T)
                d.attrs["MATLAB_class"] = np.bytes_(b"double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: test, Created by: sensekit tests HDF5 schema 1.00 .".ljust(116))


def test_mat_v5_and_v73_read_the_same(tmp_path):
    rng = np.random.default_rng(1)
    k = rng.standard_normal((6, 5, 1, 3)) + 1j * rng.standard_normal((6, 5, 1, 3))   # MATLAB order
    img = rng.random((7, 4, 2))
    flag = np.array([[True, False, True]])
    sio.savemat(tmp_path / "v5.mat", {"k": k, "img": img, "flag": flag, "s": {"a": 2.0}})
    _write_v73(tmp_path / "v73.mat", k=k, img=img, flag=flag)
    assert detect_format(tmp_path / "v5.mat") == "mat-v5"
    assert detect_format(tmp_path / "v73.mat") == "mat-v7.3"
    a, b = load_mat(tmp_path / "v5.mat"), load_mat(tmp_path / "v73.mat")
    for name in ("k", "img", "flag"):
        assert a[name].shape == b[name].shape, name
        assert np.array_equal(a[name], b[name]), name
    assert b["k"].dtype.kind == "c" and b["flag"].dtype == bool
    assert a["s"] == {"a": np.array([[2.0]])}
    assert set(load_mat(tmp_path / "v73.mat", variables=["img"])) == {"img"}
    with pytest.raises(InputError, match="no variable 'nope'"):
        load_mat(tmp_path / "v5.mat", variables=["nope"])


@pytest.mark.parametrize("case,needle", [
    ("empty", "file is empty"),
    ("text", "not a MATLAB .mat file"),
    ("truncated_v5", "cannot read as a MATLAB v5 file"),
    ("missing", "file not found"),
])
def test_mat_malformed(tmp_path, case, needle):
    p = tmp_path / "bad.mat"
    if case == "empty":
        p.write_bytes(b"")
    elif case == "text":
        p.write_text("this is not a mat file at all, just text\n" * 4)
    elif case == "truncated_v5":
        sio.savemat(p, {"x": np.arange(1000.0)})
        p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(InputError) as ei:
        load_mat(p)
    assert needle in str(ei.value) and str(p) in str(ei.value)


@pytest.mark.realdata
def test_real_mat_files_match_the_manifest():
    brain = load_mat(require_data("mri/brain_16coil_kspace_full.mat"))["raw"]
    assert brain.shape == (96, 96, 1, 16) and brain.dtype == np.complex128        # MATLAB [Nx, Ny, Nz, Nc]
    peak = np.unravel_index(np.abs(brain).argmax(), brain.shape)
    assert abs(np.abs(brain).max() - 2.35e4) < 0.01e4
    assert abs(peak[0] - 48) <= 1 and abs(peak[1] - 48) <= 1                     # k-space centre at N/2
    rat = load_mat(require_data("mri/rat_cardiac_cine_8frames.mat"))["image0"]
    assert rat.shape == (192, 192, 8) and rat.dtype == np.float64
    assert abs(rat.max() - 0.0208) < 1e-4 and rat.min() > 0
    pincat = load_mat(require_data("mri/pincat_phantom_50frames.mat"))["X"]
    assert pincat.shape == (128, 128, 50) and abs(pincat.max() - 689.4) < 0.1 and pincat.min() == 0


@pytest.mark.realdata
def test_real_cfl_matches_the_manifest():
    base = require_data("mri/bart_brain_8coil_undersampled/ksp.cfl")
    k = read_cfl(base)
    assert k.shape == (1, 180, 230, 8) and k.dtype == np.complex64
    sampled = np.abs(k[0, :, :, 0]) > 0
    assert abs(sampled.mean() - 0.127) < 0.001
    assert np.array_equal(np.abs(k[0]) > 0, np.broadcast_to(sampled[..., None], k[0].shape))  # same for all coils
    assert sampled.any(0).all() and sampled.any(1).all()
    assert 4.8e13 < np.abs(k).max() < 5.0e13
    img = read_cfl(base.parent / "img")
    assert img.shape == (1, 180, 230, 1, 2) and np.abs(img).max() < 2.38


# ------------------------------------------------------------------------------------------------ fastMRI
def _fastmri_file(path, *, slices=3, coils=4, H=40, W=32, single_coil=False, with_mask=True):
    """A fastMRI-layout file as the fastMRI scripts write it: kspace (slices, coils, H, W), column mask, header."""
    rng = np.random.default_rng(3)
    yy, xx = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    imgs = np.stack([((yy / 0.8) ** 2 + (xx / (0.5 + 0.1 * s)) ** 2 <= 1) * (1 + 0.5 * yy) for s in range(slices)])
    maps = np.stack([np.exp(1j * c) / (1 + (yy - np.sin(c)) ** 2 + (xx - np.cos(c)) ** 2) for c in range(coils)])
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0))
    k = fft2c(imgs[:, None] * maps[None]) + 1e-4 * rng.standard_normal((slices, coils, H, W))
    cols = np.zeros(W, bool)
    cols[::2] = True
    cols[W // 2 - 4:W // 2 + 4] = True
    if with_mask:
        k = k * cols
    with h5py.File(path, "w") as f:
        f["kspace"] = (k[:, 0] if single_coil else k).astype(np.complex64)
        f["ismrmrd_header"] = np.bytes_(
            b'<?xml version="1.0"?><ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>'
            b'<encodedSpace><matrixSize><x>%d</x><y>%d</y><z>1</z></matrixSize></encodedSpace>'
            b'<reconSpace><matrixSize><x>%d</x><y>%d</y><z>1</z></matrixSize></reconSpace>'
            b'<trajectory>cartesian</trajectory></encoding></ismrmrdHeader>' % (H, W, H // 2, W))
        if with_mask:
            f["mask"] = cols.astype(np.float32)
        f.attrs["acquisition"] = "CORPD_FBK"
    return imgs, maps, cols


def test_fastmri_layout_runs_directly_with_slices_as_samples(tmp_path):
    src = tmp_path / "file1000.h5"
    imgs, maps, cols = _fastmri_file(src)
    assert detect_format(src) == "fastmri"
    before = sha256(src)
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(out), "--method", "cg-sense",
                                  "--set", "coil_method=lowres", "--set", "calib=8"])
    assert r.exit_code == 0, r.output
    assert "samples=3" in r.output and sha256(src) == before
    with h5py.File(out) as f:
        rec = f["recon"][()]
        assert rec.shape == (3, 1, 40, 32) and f["recon"].attrs["axes"] == "N,T,Y,X"
    # fastMRI's k-space convention is ours (centred, orthonormal): no shift, same scale as the objects
    for s in range(3):
        err = np.linalg.norm(np.abs(rec[s, 0]) - imgs[s]) / np.linalg.norm(imgs[s])
        assert err < 0.15, (s, err)


def test_fastmri_single_coil_and_bad_mask(tmp_path):
    src = tmp_path / "sc.h5"
    _fastmri_file(src, single_coil=True, with_mask=False)
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "--method", "zero-filled",
                                  "--set", "coil_method=lowres"])
    assert r.exit_code == 0 and "samples=3" in r.output, r.output
    with h5py.File(src, "a") as f:
        f["mask"] = np.ones(7, np.float32)
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(out)])
    assert r.exit_code == 3 and "dataset 'mask' has shape (7,), expected (32,)" in r.output and not out.exists()


@pytest.mark.parametrize("what,needle", [
    ("mat", "is a MATLAB .mat file, not an HDF5 contract file; convert it first"),
    ("cfl", "is a BART .cfl/.hdr file"),
])
def test_run_points_other_formats_to_convert(tmp_path, what, needle):
    if what == "mat":
        src = tmp_path / "x.mat"
        sio.savemat(src, {"x": np.ones((4, 4))})
    else:
        src = tmp_path / "x.cfl"
        write_cfl(src, np.ones((4, 4)))
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src)])
    assert r.exit_code == 3 and needle in r.output and len(r.output.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ ISMRMRD
def _ismrmrd_file(path, *, T=2, C=3, Y=24, X=32, oversample_lines=()):
    ismrmrd = pytest.importorskip("ismrmrd")
    yy, xx = np.meshgrid(np.linspace(-1, 1, Y), np.linspace(-1, 1, X), indexing="ij")
    imgs = np.stack([((yy / 0.7) ** 2 + (xx / (0.6 + 0.1 * t)) ** 2 <= 1) * (1.0 + 0.3 * xx) for t in range(T)])
    maps = np.stack([np.exp(0.5j * c) / (1 + (yy - np.sin(c)) ** 2 + (xx - np.cos(c)) ** 2) for c in range(C)])
    k = fft2c(imgs[:, None] * maps[None])                                 # (T, C, Y, X)
    xml = ('<?xml version="1.0"?><ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>'
           f'<encodedSpace><matrixSize><x>{X}</x><y>{Y}</y><z>1</z></matrixSize>'
           '<fieldOfView_mm><x>200</x><y>200</y><z>5</z></fieldOfView_mm></encodedSpace>'
           f'<reconSpace><matrixSize><x>{X}</x><y>{Y}</y><z>1</z></matrixSize>'
           '<fieldOfView_mm><x>200</x><y>200</y><z>5</z></fieldOfView_mm></reconSpace>'
           '<encodingLimits><kspace_encoding_step_1><minimum>0</minimum>'
           f'<maximum>{Y - 1}</maximum><center>{Y // 2}</center></kspace_encoding_step_1></encodingLimits>'
           '<trajectory>cartesian</trajectory></encoding></ismrmrdHeader>')
    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dset.write_xml_header(xml)
    noise = ismrmrd.Acquisition.from_array(np.ones((C, X), np.complex64))
    noise.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
    dset.append_acquisition(noise)
    sampled = np.zeros((T, Y), bool)
    for t in range(T):
        for ky in range(t % 2, Y, 2):
            sampled[t, ky] = True
        sampled[t, Y // 2 - 3:Y // 2 + 3] = True
        for ky in np.flatnonzero(sampled[t]):
            acq = ismrmrd.Acquisition.from_array(k[t, :, ky].astype(np.complex64))
            acq.center_sample = X // 2
            acq.idx.kspace_encode_step_1 = int(ky)
            acq.idx.phase = t
            dset.append_acquisition(acq)
    dset.close()
    return imgs, k, sampled


def test_ismrmrd_reader_grids_kspace(tmp_path):
    pytest.importorskip("ismrmrd")
    from sensekit.io import read_ismrmrd
    src = tmp_path / "raw.h5"
    imgs, k, sampled = _ismrmrd_file(src)
    assert detect_format(src) == "ismrmrd"
    d = read_ismrmrd(src)
    assert d["kspace"].shape == (1, 2, 3, 24, 32) and d["mask"].shape == (1, 2, 24, 32)
    assert np.array_equal(d["mask"][0], np.broadcast_to(sampled[:, :, None], (2, 24, 32)))
    assert np.allclose(d["kspace"][0], k * sampled[:, None, :, None], atol=1e-5)   # noise scan skipped
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "--method", "zero-filled",
                                  "--set", "coil_method=lowres", "--set", "calib=6"])
    assert r.exit_code == 0 and "samples=1" in r.output, r.output


def test_ismrmrd_missing_extra_is_a_clear_error(tmp_path, monkeypatch):
    import builtins
    from sensekit.io import read_ismrmrd
    real_import = builtins.__import__

    def no_ismrmrd(name, *a, **kw):
        if name == "ismrmrd":
            raise ModuleNotFoundError("No module named 'ismrmrd'")
        return real_import(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_ismrmrd)
    with pytest.raises(InputError, match=r'pip install "sensekit\[ismrmrd\]"'):
        read_ismrmrd(tmp_path / "x.h5")


def test_detect_format(tmp_path):
    outside_mri_file(tmp_path / "c.h5")
    assert detect_format(tmp_path / "c.h5") == "sensekit"
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(InputError, match="unrecognised format"):
        detect_format(tmp_path / "t.txt")
    with pytest.raises(InputError, match="file not found"):
        detect_format(tmp_path / "none.h5")
