"""The unmix app through the CLI: simulate, run every method, metrics, figure, convert, bad inputs."""
import json
import os

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main

DATA = os.environ.get("SENSEKIT_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "..",
                                                         "shared", "data")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    p = tmp_path_factory.mktemp("unmix") / "sim.h5"
    r = invoke("simulate", "unmix", "-o", p, "--seed", 1, "--set", "size=16", "--set", "bands=50",
               "--set", "endmembers=3", "--set", "library=12", "--set", "snr_db=45")
    assert r.exit_code == 0, r.output
    return p


@pytest.mark.parametrize("method", ["rrlbs", "vca-fcls", "nfindr-fcls", "nmf", "l12nmf", "mvnmf", "sunsal"])
def test_every_method_writes_the_contract_and_scores(sim, tmp_path, method):
    out = tmp_path / "out.h5"
    r = invoke("run", "unmix", "--input", sim, "-o", out, "--method", method, "--set", "max_iter=40")
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        E, A = f["endmembers"][()], f["abundances"][()]
        assert E.shape == (3, 50) and A.shape == (16, 16, 3)
        assert f["endmembers"].attrs["axes"] == "P,B" and f["abundances"].attrs["axes"] == "H,W,P"
        assert np.all(A >= 0) and np.allclose(A.sum(-1), 1, atol=1e-4)
        m = dict(f["metrics"].attrs)
        assert f["provenance"].attrs["method"] == method
    # 45 dB, pure-ish Dirichlet(0.5) pixels: every method finds the endmembers within a couple of degrees
    assert m["sad_mean_deg"] < 2.5 and m["rmse_abundance"] < 0.05, m
    if method == "sunsal":
        assert m["sad_mean_deg"] < 1e-4


def test_rrlbs_writes_band_weights_and_guidance(sim, tmp_path):
    out = tmp_path / "out.h5"
    assert invoke("run", "unmix", "--input", sim, "-o", out, "--set", "max_iter=10").exit_code == 0
    with h5py.File(out) as f:
        assert f["band_weights"].shape == (50,) and f["guidance"].shape == (16, 16)
        assert float(f["band_weights"][()].max()) == pytest.approx(1.0)


def test_hysime_sets_the_count_without_the_attribute(sim, tmp_path):
    src = tmp_path / "noattr.h5"
    with h5py.File(sim) as f, h5py.File(src, "w") as g:
        g["cube"] = f["cube"][()]
    out = tmp_path / "out.h5"
    r = invoke("run", "unmix", "--input", src, "-o", out, "--method", "vca-fcls")
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert f["endmembers"].shape[0] == 3


def test_too_many_endmembers_to_guess_is_exit_3(tmp_path):
    rng = np.random.default_rng(0)
    E = rng.uniform(0.05, 1, (25, 60))
    cube = (rng.dirichlet(np.ones(25), 900) @ E + 1e-5 * rng.standard_normal((900, 60))).reshape(30, 30, 60)
    src = tmp_path / "many.h5"
    with h5py.File(src, "w") as g:
        g["cube"] = cube
    r = invoke("run", "unmix", "--input", src, "-o", tmp_path / "o.h5", "--method", "vca-fcls")
    assert r.exit_code == 3 and "n_endmembers" in r.output and "'cube'" in r.output, r.output


def test_plot(sim, tmp_path):
    fig = tmp_path / "fig.png"
    r = invoke("run", "unmix", "--input", sim, "--set", "max_iter=10", "--plot", fig)
    assert r.exit_code == 0, r.output
    assert fig.stat().st_size > 10000


def test_sunsal_without_library_is_exit_3(tmp_path, sim):
    src = tmp_path / "nolib.h5"
    with h5py.File(sim) as f, h5py.File(src, "w") as g:
        g["cube"] = f["cube"][()]
        g["cube"].attrs["n_endmembers"] = 3
    r = invoke("run", "unmix", "--input", src, "--method", "sunsal")
    assert r.exit_code == 3 and "'library'" in r.output and str(src) in r.output, r.output


@pytest.mark.parametrize("case,needle", [("attr", "n_endmembers"), ("ref", "abundances_ref"),
                                         ("zero", "cube")])
def test_bad_inputs_are_exit_3(tmp_path, sim, case, needle):
    src = tmp_path / f"{case}.h5"
    with h5py.File(sim) as f, h5py.File(src, "w") as g:
        for k in f:
            f.copy(k, g)
        if case == "attr":
            g["cube"].attrs["n_endmembers"] = 0
        elif case == "ref":
            del g["abundances_ref"]
            g["abundances_ref"] = np.zeros((16, 15, 3))
        else:
            del g["cube"]
            g["cube"] = np.zeros((16, 16, 50))
    r = invoke("run", "unmix", "--input", src)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 3 and len(lines) == 1 and needle in lines[0] and str(src) in lines[0], r.output


def test_convert_envi(tmp_path):
    rng = np.random.default_rng(0)
    cube = rng.uniform(0, 1, (6, 7, 5)).astype(np.float32)           # H, W, B
    cube.transpose(0, 2, 1).tofile(tmp_path / "img.img")             # BIL: line, band, sample
    (tmp_path / "img.hdr").write_text("ENVI\nsamples = 7\nlines = 6\nbands = 5\nheader offset = 0\n"
                                      "data type = 4\ninterleave = bil\nbyte order = 0\n"
                                      "wavelength = {400, 500,\n 600, 700, 800}\n")
    out = tmp_path / "c.h5"
    r = invoke("convert", "unmix", tmp_path / "img.hdr", "-o", out)
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        np.testing.assert_allclose(f["cube"][()], cube)
        np.testing.assert_allclose(f["wavelengths"][()], [400, 500, 600, 700, 800])


@pytest.mark.realdata
@pytest.mark.parametrize("name,P,shape", [("samson_upc.mat", 3, (95, 95, 156)), ("samson_cube.mat", 3, (95, 95, 156)),
                                          ("samson_original.mat", 0, (95, 95, 156)),
                                          ("muufl_gulfport_90x90.mat", 5, (90, 90, 64))])
def test_convert_the_shipped_mat_layouts(tmp_path, name, P, shape):
    src = os.path.join(DATA, "hsi", name)
    if not os.path.isfile(src):
        pytest.skip(f"{src} absent")
    out = tmp_path / "c.h5"
    r = invoke("convert", "unmix", src, "-o", out)
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert f["cube"].shape == shape
        if P:
            assert f["cube"].attrs["n_endmembers"] == P
            assert f["endmembers_ref"].shape == (P, shape[2]) and f["abundances_ref"].shape == shape[:2] + (P,)
    if name == "samson_cube.mat":
        from scipy.io import loadmat
        with h5py.File(out) as f:
            np.testing.assert_array_equal(f["cube"][()], loadmat(src)["SamSon"])
            assert json.loads(f["endmembers_ref"].attrs["names"]) == ["1-rock", "2-Tree", "3-water"]
    if name == "samson_upc.mat":   # the bands x pixels layout is column-major: the same cube as samson_cube
        from scipy.io import loadmat
        with h5py.File(out) as f:
            ref = loadmat(os.path.join(DATA, "hsi", "samson_cube.mat"))["SamSon"]
            np.testing.assert_array_equal(f["cube"][()], ref)


@pytest.mark.realdata
def test_convert_with_a_library_then_sunsal(tmp_path):
    src = os.path.join(DATA, "hsi", "samson_upc.mat")
    lib = os.path.join(DATA, "hsi", "samson_endmember_bundles.mat")
    if not (os.path.isfile(src) and os.path.isfile(lib)):
        pytest.skip("Samson files absent")
    conv = tmp_path / "c.h5"
    r = invoke("convert", "unmix", src, "-o", conv, "--set", f"library={lib}")
    assert r.exit_code == 0, r.output
    out = tmp_path / "o.h5"
    fig = tmp_path / "o.png"
    r = invoke("run", "unmix", "--input", conv, "-o", out, "--method", "sunsal", "--plot", fig)
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        m = dict(f["metrics"].attrs)
        sel = f["selected"][()]
    # one bundle member of each material (rows 0-29 soil, 30-59 tree, 60-104 water) is picked
    assert sorted(int(s) // 30 if s < 60 else 2 for s in sel) == [0, 1, 2], sel
    assert m["sad_mean_deg"] < 8, m
