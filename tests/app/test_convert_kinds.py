"""`sensekit convert APP SRC` refuses another app's kind of data (one line, exit 3, naming it); --matlab-order."""
import h5py
import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner

from sensekit.app.kinds import looks_like
from sensekit.app.registry import app_names, get_app
from sensekit.cli import main
from sensekit.io.matlab import list_mat

from conftest import require_data


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _v73(path, **arrays):
    """A MATLAB v7.3 file (user block with the text header, reversed dimensions, MATLAB_class)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, a in arrays.items():
            d = f.create_dataset(name, data=np.asarray(a).T)
            d.attrs["MATLAB_class"] = np.bytes_(b"double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: test, Created by: sensekit tests HDF5 schema 1.00 .".ljust(116))


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """One small MATLAB file of each app's kind: {app: path}."""
    d = tmp_path_factory.mktemp("kinds")
    rng = np.random.default_rng(0)
    files = {"unmix": d / "hsi.mat", "rpca-video": d / "clip.mat", "us-subsample": d / "rf.mat",
             "mri-recon": d / "ksp.mat"}
    sio.savemat(files["unmix"], {"Y": rng.random((12, 30)), "lines": 5, "cols": 6, "GT": rng.random((3, 12))})
    sio.savemat(files["rpca-video"], {"M": rng.random((20, 6)), "m": 4, "n": 5})
    sio.savemat(files["us-subsample"], {"RF": rng.standard_normal((40, 8, 3)),
                                        "param": {"fs": 2e7, "fc": 5e6, "pitch": 3e-4, "c": 1540.0}})
    sio.savemat(files["mri-recon"], {"raw": rng.standard_normal((16, 12, 1, 2)) + 1j})
    return files


def test_every_registered_app_refuses_the_other_apps_data(kinds, tmp_path):
    names = app_names()
    assert set(kinds) <= set(names)
    for app in names:
        for kind, src in kinds.items():
            out = tmp_path / f"{app}-{kind}.h5"
            r = invoke("convert", app, src, "-o", out)
            msg = r.output.strip()
            if get_app(app).ConvertConfig is None:
                assert r.exit_code == 3 and "has no converter" in msg, (app, kind, msg)
                continue
            if kind == app:
                assert "looks like" not in msg, (app, kind, msg)
                continue
            assert r.exit_code == 3, (app, kind, msg)
            assert len(msg.splitlines()) == 1 and str(src) in msg, msg
            assert f"looks like {kind} data, not {app}'s" in msg and "found " in msg, msg
            assert not out.exists()
    # what was found is said: the variables that gave it away
    r = invoke("convert", "mri-recon", kinds["unmix"], "-o", tmp_path / "x.h5")
    assert "hyperspectral variables lines, cols, GT" in r.output and "sensekit convert unmix" in r.output
    r = invoke("convert", "unmix", kinds["us-subsample"], "-o", tmp_path / "x.h5")   # no converter: run it
    assert "sensekit run us-subsample --input" in r.output


def test_a_sensekit_input_of_another_app_is_refused(tmp_path):
    src = tmp_path / "unmix_in.h5"
    assert invoke("simulate", "unmix", "-o", src).exit_code == 0
    assert looks_like(str(src), "sensekit") == [("unmix", "a sensekit input with the datasets cube")]
    r = invoke("convert", "mri-recon", src, "-o", tmp_path / "x.h5")
    assert r.exit_code == 3 and "looks like unmix data" in r.output and "sensekit run unmix --input" in r.output


def test_v73_listing_matches_v5(tmp_path):
    a = np.arange(24.0).reshape(2, 3, 4)
    sio.savemat(tmp_path / "v5.mat", {"SamSon": a, "s": {"x": 1.0}})
    _v73(tmp_path / "v73.mat", SamSon=a)
    assert list_mat(tmp_path / "v5.mat") == {"SamSon": ((2, 3, 4), "double"), "s": ((1, 1), "struct")}
    assert list_mat(tmp_path / "v73.mat") == {"SamSon": ((2, 3, 4), "double")}
    r = invoke("convert", "rpca-video", tmp_path / "v73.mat", "-o", tmp_path / "x.h5")
    assert r.exit_code == 3 and "looks like unmix data" in r.output


@pytest.mark.realdata
def test_a_real_hyperspectral_cube_is_not_an_mri_series(tmp_path):
    src = require_data("hsi/samson_cube.mat")
    r = invoke("convert", "mri-recon", src, "-o", tmp_path / "x.h5")
    assert r.exit_code == 3 and "SamSon" in r.output and "looks like unmix data" in r.output, r.output


# ---------------------------------------------------------------------------------------------- --matlab-order
def _image(H=24, W=20):
    yy, xx = np.mgrid[:H, :W]
    return (1.0 + yy + 0.1 * xx) * (yy < H - 4)   # rows differ from columns, no symmetry


def test_mri_recon_matlab_order(tmp_path):
    img = _image()
    sio.savemat(tmp_path / "img.mat", {"img": img})      # MATLAB's size(img) = [24 rows, 20 columns]
    ref = {}
    for order in ("auto", "HW", "WH"):
        out = tmp_path / f"{order}.h5"
        r = invoke("convert", "mri-recon", tmp_path / "img.mat", "-o", out, "--matlab-order", order,
                   "--set", "coils=2")
        assert r.exit_code == 0, r.output
        with h5py.File(out) as f:
            ref[order] = f["image_ref"][()][0]
            assert f["provenance"].attrs["matlab_order"] == ("WH" if order == "auto" else order)
    np.testing.assert_allclose(ref["HW"], img / img.max(), rtol=1e-6)     # as imagesc shows it
    np.testing.assert_allclose(ref["WH"], (img / img.max()).T, rtol=1e-6)  # the default: x (readout) first
    np.testing.assert_array_equal(ref["auto"], ref["WH"])
    r = invoke("convert", "mri-recon", tmp_path / "img.mat", "-o", tmp_path / "x.h5", "--matlab-order", "HW",
               "--set", "dims=Y,X")
    assert r.exit_code == 3 and "matlab_order" in r.output and "dims" in r.output
    r = invoke("convert", "mri-recon", tmp_path / "img.mat", "-o", tmp_path / "x.h5", "--matlab-order", "HW",
               "--set", "matlab_order=WH")
    assert r.exit_code == 3 and "disagree" in r.output


def test_unmix_and_rpca_video_matlab_order(tmp_path):
    rng = np.random.default_rng(3)
    cube = rng.random((6, 5, 12))
    sio.savemat(tmp_path / "cube.mat", {"SamSon": cube})
    for order, want in (("HW", cube), ("WH", cube.transpose(1, 0, 2))):
        out = tmp_path / f"u{order}.h5"
        assert invoke("convert", "unmix", tmp_path / "cube.mat", "-o", out, "--matlab-order", order).exit_code == 0
        with h5py.File(out) as f:
            np.testing.assert_allclose(f["cube"][()], want)
    frames = rng.integers(0, 255, (4, 6, 5)).astype(np.uint8)   # (T, H, W)
    sio.savemat(tmp_path / "clip.mat", {"clip": frames})
    for order, want in (("auto", frames), ("WH", frames.transpose(0, 2, 1))):
        out = tmp_path / f"v{order}.h5"
        r = invoke("convert", "rpca-video", tmp_path / "clip.mat", "-o", out, "--matlab-order", order,
                   "--set", "variable=clip")
        assert r.exit_code == 0, r.output
        with h5py.File(out) as f:
            np.testing.assert_array_equal(f["frames"][()], want)
    r = invoke("convert", "isac", tmp_path / "clip.mat", "-o", tmp_path / "x.h5", "--matlab-order", "HW")
    assert r.exit_code == 3 and "no converter" in r.output
