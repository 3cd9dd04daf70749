"""`sensekit export`: .mat, .cfl, .npy, .png and .gif round trips against the HDF5 result."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.export import WHITE_PERCENTILE, from_bart, to_bart
from sensekit.cli import main
from sensekit.io.cfl import read_cfl

from helpers import outside_mri_file


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    d = tmp_path_factory.mktemp("res")
    src, out = d / "in.h5", d / "out.h5"
    outside_mri_file(src, T=3, C=2, Y=24, X=20, accel=2)
    r = invoke("run", "mri-recon", "--input", src, "-o", out, "--method", "cg-sense", "--set", "max_iter=5",
               "--quiet")
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        recon = f["recon"][()]
        maps = f["sens_maps_estimated"][()] if "sens_maps_estimated" in f else None
        psnr = float(f["metrics"].attrs["psnr"])
    return out, recon, maps, psnr


def test_npy_round_trip(result, tmp_path):
    out, recon, _, _ = result
    r = invoke("export", out, "-o", tmp_path / "r.npy")
    assert r.exit_code == 0, r.output
    back = np.load(tmp_path / "r.npy")
    assert back.dtype == recon.dtype == np.complex64 and np.array_equal(back, recon)


def test_mat_round_trip(result, tmp_path):
    import scipy.io
    out, recon, maps, psnr = result
    assert invoke("export", out, "-o", tmp_path / "r.mat").exit_code == 0
    m = scipy.io.loadmat(tmp_path / "r.mat", squeeze_me=False)
    assert m["recon"].shape == recon.shape and np.array_equal(m["recon"], recon)
    assert str(m["axes"]["recon"][0, 0][0]) == "T,Y,X"
    assert float(m["metrics"]["psnr"][0, 0].ravel()[0]) == psnr
    if maps is not None:
        assert np.array_equal(m["sens_maps_estimated"], maps)
    # one dataset only
    assert invoke("export", out, "-o", tmp_path / "one.mat", "--dataset", "recon").exit_code == 0
    one = scipy.io.loadmat(tmp_path / "one.mat")
    assert "recon" in one and "sens_maps_estimated" not in one


def test_cfl_round_trip_and_bart_dimensions(result, tmp_path):
    out, recon, _, _ = result
    r = invoke("export", out, "-o", tmp_path / "r.cfl")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.hdr").exists()
    back = read_cfl(tmp_path / "r")
    T, Y, X = recon.shape
    assert back.shape == (X, Y) + (1,) * 8 + (T,)   # BART: readout 0, phase 1, time 10
    assert np.array_equal(back[:, :, 0, 0, 0, 0, 0, 0, 0, 0, 1], recon[1].T)
    assert np.array_equal(from_bart(back, "T,Y,X"), recon)


def test_bart_mapping_inverts_for_unnamed_axes():
    a = np.arange(24).reshape(2, 3, 4) + 0j
    assert np.array_equal(from_bart(to_bart(a, ""), ""), a)
    assert np.array_equal(from_bart(to_bart(a, "C,Y,X"), "C,Y,X"), a)
    assert to_bart(a, "C,Y,X").shape == (4, 3, 1, 2)


def test_png_series_and_gif(result, tmp_path):
    from PIL import Image
    out, recon, _, _ = result
    r = invoke("export", out, "-o", tmp_path / "r.png")
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in tmp_path.glob("r-*.png"))
    assert files == ["r-0000.png", "r-0001.png", "r-0002.png"]
    mag = np.abs(recon)
    white = np.percentile(mag, WHITE_PERCENTILE)
    expect = np.round(np.clip(mag / white, 0, 1) * 255)
    for t in range(3):
        img = np.asarray(Image.open(tmp_path / f"r-{t:04d}.png"))
        assert img.shape == recon.shape[1:] and img.dtype == np.uint8
        assert np.abs(img.astype(float) - expect[t]).max() <= 1
    assert invoke("export", out, "-o", tmp_path / "r.gif").exit_code == 0
    gif = Image.open(tmp_path / "r.gif")
    assert gif.n_frames == 3 and gif.size == (recon.shape[2], recon.shape[1])
    gif.seek(1)
    assert np.abs(np.asarray(gif.convert("L")).astype(float) - expect[1]).max() <= 1


def test_bad_requests_exit_3_with_one_line(result, tmp_path):
    out = result[0]
    for args, why in (((out, "-o", tmp_path / "x.tiff"), "unknown export format"),
                      ((out, "-o", tmp_path / "x.npy", "--dataset", "nope"), "--dataset nope"),
                      ((tmp_path / "missing.h5", "-o", tmp_path / "x.npy"), "no such file"),
                      ((out, "-o", tmp_path / "no" / "x.npy"), "does not exist")):
        r = invoke("export", *args)
        assert r.exit_code == 3 and why in r.output and len(r.output.strip().splitlines()) == 1, r.output
    text = tmp_path / "t.h5"
    text.write_text("no")
    r = invoke("export", text, "-o", tmp_path / "x.npy")
    assert r.exit_code == 3 and "not an HDF5 file" in r.output
