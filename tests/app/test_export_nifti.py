"""`sensekit export OUT.h5 -o FILE.nii.gz`: NIfTI through the `nifti` extra (nibabel), round trip and affine."""
import builtins
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.export import from_nifti, nifti_affine, to_nifti
from sensekit.cli import main

from helpers import outside_mri_file

nibabel = pytest.importorskip("nibabel")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    d = tmp_path_factory.mktemp("res")
    src, out = d / "in.h5", d / "out.h5"
    outside_mri_file(src, T=3, C=2, Y=24, X=20, accel=2)
    r = invoke("run", "mri-recon", "--input", src, "-o", out, "--method", "zero-filled", "--quiet")
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        recon, axes = f["recon"][()], f["recon"].attrs["axes"]
    return out, recon, str(axes.decode() if isinstance(axes, bytes) else axes)


@pytest.mark.parametrize("name", ["r.nii.gz", "r.nii"])
def test_round_trip_of_a_series_with_1mm_voxels(result, tmp_path, name):
    out, recon, axes = result
    assert axes == "T,Y,X"
    r = invoke("export", out, "-o", tmp_path / name)
    assert r.exit_code == 0, r.output
    img = nibabel.load(tmp_path / name)
    T, Y, X = recon.shape
    assert img.shape == (X, Y, 1, T)   # i = X, j = Y, a singleton slice, frames on the 4th axis
    data = np.asarray(img.dataobj)
    assert data.dtype == np.float32
    back = from_nifti(data, axes, recon.shape)
    np.testing.assert_array_equal(back, np.abs(recon).astype(np.float32))   # magnitudes, bit for bit
    assert np.allclose(img.header.get_zooms(), (1, 1, 1, 1))
    # row 0 of the image is at the top (largest y): j runs downwards in world space
    np.testing.assert_allclose(img.affine, nifti_affine((1, 1, 1), Y))
    assert img.affine[1, 1] < 0 and img.affine[1, 3] == Y - 1
    assert int(img.header["qform_code"]) == int(img.header["sform_code"]) == 1
    assert img.header.get_xyzt_units() == ("mm", "sec")


def test_voxel_size_and_frame_time_from_attributes(result, tmp_path):
    out, recon, _ = result
    mine = tmp_path / "vox.h5"
    shutil.copy(out, mine)
    with h5py.File(mine, "a") as f:
        f["recon"].attrs["voxel_size_mm"] = np.array([2.5, 0.8])   # (dy, dx): the array's spatial axes, in order
        f.attrs["frame_time_s"] = 0.04
    assert invoke("export", mine, "-o", tmp_path / "v.nii.gz").exit_code == 0
    img = nibabel.load(tmp_path / "v.nii.gz")
    np.testing.assert_allclose(img.header.get_zooms(), (0.8, 2.5, 1.0, 0.04), rtol=1e-6)
    np.testing.assert_allclose(np.diag(img.affine)[:3], (0.8, -2.5, 1.0))
    with h5py.File(mine, "a") as f:
        f["recon"].attrs["voxel_size_mm"] = np.array([1.0, 1.0, 1.0])   # three sizes for two spatial axes
    r = invoke("export", mine, "-o", tmp_path / "w.nii.gz")
    assert r.exit_code == 3 and "voxel_size_mm" in r.output and "Y,X" in r.output
    assert not (tmp_path / "w.nii.gz").exists()


def test_named_axes_go_to_nifti_dimensions():
    a = np.arange(2 * 3 * 4 * 5 * 6).reshape(2, 3, 4, 5, 6)
    data, names = to_nifti(a, "N,T,Z,Y,X")
    assert names == ["X", "Y", "Z", "T", "N"] and data.shape == (6, 5, 4, 3, 2)
    assert np.array_equal(from_nifti(data, "N,T,Z,Y,X", a.shape), a)
    data, names = to_nifti(a[0, 0], "")   # unnamed: (..., Y, X); the leading axis after a singleton slice
    assert names == ["X", "Y", "Z", "axis0"] and data.shape == (6, 5, 1, 4)
    assert np.array_equal(from_nifti(data, "", (4, 5, 6)), a[0, 0])


def test_without_nibabel_a_one_line_exit_3(result, tmp_path, monkeypatch):
    out, _, _ = result
    real = builtins.__import__

    def no_nibabel(name, *a, **k):
        if name == "nibabel" or name.startswith("nibabel."):
            raise ImportError("No module named 'nibabel'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_nibabel)
    r = invoke("export", out, "-o", tmp_path / "x.nii.gz")
    assert r.exit_code == 3
    msg = r.output.strip()
    assert len(msg.splitlines()) == 1 and "nibabel" in msg and "sensekit[nifti]" in msg and "x.nii.gz" in msg
    assert not (tmp_path / "x.nii.gz").exists()
