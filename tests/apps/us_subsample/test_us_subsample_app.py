"""us-subsample through the CLI: simulate → run (fixed masks, CS), train → run with the trained model, bad inputs."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main

QUICK = ["--set", "frames=2", "--set", "samples=96", "--set", "scatterers=1500"]
FAST = ["--set", "max_iter=10", "--set", "dx=4e-4", "--set", "dz=2e-4"]


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("us") / "sim.h5"
    r = CliRunner().invoke(main, ["simulate", "us-subsample", "-o", str(p), "--seed", "1", *QUICK])
    assert r.exit_code == 0, r.output
    return p


@pytest.mark.parametrize("method", ["uniform", "random", "lowpass"])
def test_fixed_masks_run_and_score(sim_file, tmp_path, method):
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(sim_file), "-o", str(out), "--method", method,
                                  *FAST, "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        mask = f["mask"][()]
        assert mask.dtype == bool and mask.sum() == 32 and mask.shape == (128,)
        assert f["recovered_rf"].shape == (2, 128, 96)
        assert f["image"].shape == f["image_full"].shape
        # kept rows are the measured ones, unchanged
        with h5py.File(sim_file) as g:
            np.testing.assert_allclose(f["recovered_rf"][:, mask], g["rf"][:, mask], rtol=1e-5, atol=1e-5)
        m = dict(f["metrics"].attrs)
        assert 0 < m["psnr"] < 60 and -1 < m["ssim"] < 1 and m["nrmse_rf"] > 0


def test_samples_axis_and_rate_one(sim_file, tmp_path):
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(sim_file), "-o", str(out), "--method",
                                  "uniform", "--set", "axis=samples", "--set", "rate=1.0", *FAST, "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert f["mask"][()].all()
        np.testing.assert_allclose(f["image"][()], f["image_full"][()], atol=1e-4)


def test_train_then_run_with_model(sim_file, tmp_path):
    d = tmp_path / "model"
    r = CliRunner().invoke(main, ["train", "us-subsample", "-o", str(d), "--set", "iterations=2",
                                  "--set", "phantoms=1", "--set", "rf=" + str(sim_file), "--set", "z_min=0.008",
                                  "--set", "z_max=0.012", "--set", "x_half=0.004", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (d / "model.pt").exists() and (d / "model.json").exists()
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(sim_file), "-o", str(out), "--method", "dps",
                                  "--set", f"model={d}", "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert f["mask"][()].sum() == 32
        assert np.isfinite(f["image"][()]).all()


def _write(path, rf, **attrs):
    with h5py.File(path, "w") as f:
        d = f.create_dataset("rf", data=rf)
        d.attrs["axes"] = "F,E,S"
        for k, v in attrs.items():
            d.attrs[k] = v


GOOD = {"fs_hz": 20e6 / 3, "fc_hz": 5e6, "pitch_m": 2.98e-4, "c_mps": 1480.0, "t0_s": 9.95e-6}


@pytest.mark.parametrize("case,needle", [
    ("no_fs", "fs_hz"), ("negative_c", "c_mps"), ("zeros", "all zero"), ("model", "model"),
    ("dps_elements", "elements"), ("dps_axis", "axis"), ("dps_rate", "rate"),
])
def test_bad_inputs_exit_3(tmp_path, case, needle):
    rng = np.random.default_rng(0)
    p = tmp_path / "in.h5"
    rf = rng.standard_normal((1, 128, 64)).astype(np.float32)
    extra = []
    if case == "no_fs":
        _write(p, rf, **{k: v for k, v in GOOD.items() if k != "fs_hz"})
    elif case == "negative_c":
        _write(p, rf, **{**GOOD, "c_mps": -1.0})
    elif case == "zeros":
        _write(p, np.zeros_like(rf), **GOOD)
    elif case == "model":
        _write(p, rf, **GOOD)
        extra = ["--method", "dps", "--set", f"model={tmp_path / 'nothing_here'}"]
    elif case == "dps_elements":
        _write(p, rf[:, :64], **GOOD)
        extra = ["--method", "dps"]
    elif case == "dps_rate":
        _write(p, rf, **GOOD)
        extra = ["--method", "dps", "--set", "rate=0.5"]
    elif case == "dps_axis":
        _write(p, rf, **GOOD)
        extra = ["--method", "dps", "--set", "axis=samples"]
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(p), "-o", str(out), *extra, "--quiet"])
    assert r.exit_code == 3, r.output
    assert needle in r.output
    assert not out.exists()
