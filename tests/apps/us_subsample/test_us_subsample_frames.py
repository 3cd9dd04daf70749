"""us-subsample with --set axis=frames (slow-time sub-sampling → power Doppler) through the CLI: fixed masks with
and without CS, train → run with the trained model, the shipped model on the held-out half of the real ensemble,
bad inputs."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import require_data
from sensekit.cli import main

SIM = ["--set", "frames=10", "--set", "rotate=3", "--set", "samples=96", "--set", "scatterers=1500"]
FAST = ["--set", "axis=frames", "--set", "max_iter=10", "--set", "dx=4e-4", "--set", "dz=2e-4"]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    p = tmp_path_factory.mktemp("usf") / "ens.h5"
    r = CliRunner().invoke(main, ["simulate", "us-subsample", "-o", str(p), "--seed", "2", *SIM])
    assert r.exit_code == 0, r.output
    return p


@pytest.mark.parametrize("method,recovery", [("uniform", "zero"), ("random", "cs"), ("lowpass", "zero")])
def test_fixed_frame_masks_give_power_doppler(ensemble, tmp_path, method, recovery):
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(out), "--method", method,
                                  "--set", f"recovery={recovery}", "--set", "rate=0.4", *FAST, "--plot",
                                  str(tmp_path / "pd.png"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "pd.png").stat().st_size > 1000
    with h5py.File(out) as f:
        mask = f["mask"][()]
        assert mask.shape == (10,) and mask.sum() == 4
        pd, full = f["power_doppler"][()], f["power_doppler_full"][()]
        assert pd.shape == full.shape == f["image"].shape[1:]
        assert pd.max() == 0 and pd.min() >= -40 and np.isfinite(pd).all()
        assert f["recovered_rf"].shape == (10, 128, 96)
        with h5py.File(ensemble) as g:
            np.testing.assert_allclose(f["recovered_rf"][mask], g["rf"][mask], rtol=1e-5, atol=1e-5)
            assert not f["recovered_rf"][~mask].any()
        # the B-mode of kept frames is that of the full data
        np.testing.assert_allclose(f["image"][mask], f["image_full"][mask], atol=1e-3)
        m = dict(f["metrics"].attrs)
        assert 0 < m["psnr_doppler"] < 100 and -1 < m["ssim_doppler"] <= 1
        assert np.isfinite(m["psnr"]), m      # B-mode scored on the frames not kept (kept ones are exact)


def test_all_frames_reproduce_the_full_power_doppler(ensemble, tmp_path):
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(out), "--method",
                                  "uniform", "--set", "recovery=zero", "--set", "rate=1.0", *FAST, "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        np.testing.assert_allclose(f["power_doppler"][()], f["power_doppler_full"][()], atol=1e-3)


def test_train_frames_then_run_with_model(ensemble, tmp_path):
    d = tmp_path / "model"
    r = CliRunner().invoke(main, ["train", "us-subsample", "-o", str(d), "--set", "axis=frames", "--set",
                                  f"rf={ensemble}", "--set", "rate=0.4", "--set", "iterations=3", "--set", "batch=2",
                                  "--set", "z_min=0.008", "--set", "z_max=0.012", "--set", "x_half=0.004", "--quiet"])
    assert r.exit_code == 0, r.output
    import json
    card = json.loads((d / "model.json").read_text())
    assert card["axis"] == "frames" and len(card["mask"]) == 4 and card["training"]["files"][0]["region"] == "left"
    assert set(card["evaluation_held_out"]["psnr_doppler"]) >= {"dps", "uniform", "random_mean"}
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(out), "--method", "dps",
                                  "--set", f"model={d}", "--set", "rate=0.4", *FAST, "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert sorted(np.flatnonzero(f["mask"][()]).tolist()) == card["mask"]
        assert np.isfinite(f["power_doppler"][()]).all()
    # an element model is not a slow-time model, and the shipped slow-time model wants 32 frames
    for extra, needle in ((["--set", "model="], "32 frames"), (["--set", "model=" + str(d), "--set", "rate=0.25"],
                                                                  "rate")):
        r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(tmp_path / "x.h5"),
                                      "--method", "dps", *FAST, "--set", "rate=0.4", *extra, "--quiet"])
        assert r.exit_code == 3 and needle in r.output, r.output
    # a slow-time model given to the element path
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(tmp_path / "y.h5"),
                                  "--method", "dps", "--set", f"model={d}", "--quiet"])
    assert r.exit_code == 3 and "axis=frames" in r.output, r.output


def test_bad_frame_options_exit_3(ensemble, tmp_path):
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(tmp_path / "o.h5"),
                                  "--method", "uniform", "--set", "rate=0.1", *FAST, "--quiet"])
    assert r.exit_code == 3 and "rate" in r.output, r.output
    r = CliRunner().invoke(main, ["train", "us-subsample", "-o", str(tmp_path / "m"), "--set", "axis=frames",
                                  "--quiet"])
    assert r.exit_code == 3 and "rf" in r.output, r.output


@pytest.mark.realdata
def test_shipped_frames_model_on_the_held_out_half_of_the_real_ensemble(tmp_path):
    """End to end on the rotating disk: the image grid is the right half (x >= 0) the model never saw."""
    p = require_data("us/rotating_disk_planewave_rf.mat")
    grid = ["--set", "axis=frames", "--set", "x_min=0.0", "--set", "x_max=0.0125", "--set", "z_min=0.01",
            "--set", "z_max=0.035"]
    got = {}
    for method in ("dps", "uniform"):
        out = tmp_path / f"{method}.h5"
        r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(p), "-o", str(out), "--method", method,
                                      "--set", "recovery=zero", *grid, "--quiet"])
        assert r.exit_code == 0, r.output
        with h5py.File(out) as f:
            got[method] = dict(f["metrics"].attrs)
            assert f["mask"][()].sum() == 8
    print(got)
    assert got["dps"]["psnr_doppler"] > got["uniform"]["psnr_doppler"] + 1.0, got
    assert got["dps"]["ssim_doppler"] > got["uniform"]["ssim_doppler"], got


def _frames_train(ensemble, out, *extra):
    tiny = ["--set", "axis=frames", "--set", f"rf={ensemble}", "--set", "rate=0.4", "--set", "iterations=6",
            "--set", "check_every=2", "--set", "batch=2", "--set", "z_min=0.008", "--set", "z_max=0.012",
            "--set", "x_half=0.004", "--seed", "3"]
    r = CliRunner().invoke(main, ["train", "us-subsample", "-o", str(out), *tiny, *extra])
    assert r.exit_code == 0, r.output
    import json
    return json.loads((out / "model.json").read_text()), r.output


def _same_weights(a, b):
    import torch
    sa = torch.load(a / "model.pt", weights_only=True)["state_dict"]
    sb = torch.load(b / "model.pt", weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_train_frames_time_budget_or_exception_then_resume_equals_an_uninterrupted_run(ensemble, tmp_path):
    """axis=frames trains through the common loop: checkpoint in OUT/checkpoint, --resume, validation metric."""
    full, text = _frames_train(ensemble, tmp_path / "full")
    assert "val_psnr_doppler=" in text
    assert full["val_metric"] == "val_psnr_doppler"
    assert full["val_psnr_doppler"] == full["evaluation_held_out"]["psnr_doppler"]["dps"]
    assert full["iterations"] == 6 and full["training"]["stop_reason"] == "iterations"
    # stopped by the time budget at the first check (iteration 2), then resumed
    cut, _ = _frames_train(ensemble, tmp_path / "cut", "--set", "max_seconds=1e-9", "--quiet")
    assert cut["iterations"] == 2 and cut["training"]["stop_reason"] == "max_seconds"
    done, _ = _frames_train(ensemble, tmp_path / "cut", "--resume", "--quiet")
    assert done["iterations"] == 6 and done["mask"] == full["mask"]
    assert [h["iter"] for h in done["training"]["history"]] == [2, 4, 6]
    assert _same_weights(tmp_path / "full", tmp_path / "cut")
    # stopped by an exception after the checkpoint of iteration 4, then resumed
    from sensekit.app.registry import get_app
    from sensekit.app.base import make_config
    app = get_app("us-subsample")
    cfg = make_config(app.TrainConfig, {"axis": "frames", "rf": str(ensemble), "rate": 0.4, "iterations": 6,
                                        "check_every": 2, "batch": 2, "z_min": 0.008, "z_max": 0.012,
                                        "x_half": 0.004})

    def boom(info, model):
        if info["iter"] == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        app.train(cfg, str(tmp_path / "boom"), seed=3, callbacks=[boom])
    assert (tmp_path / "boom" / "checkpoint.pt").exists() and not (tmp_path / "boom" / "model.pt").exists()
    app.train(cfg, str(tmp_path / "boom"), seed=3, resume=True)
    assert _same_weights(tmp_path / "full", tmp_path / "boom")
    # no checkpoint to resume from: one-line error, exit 3
    r = CliRunner().invoke(main, ["train", "us-subsample", "-o", str(tmp_path / "none"), "--set", "axis=frames",
                                  "--set", f"rf={ensemble}", "--resume", "--quiet"])
    assert r.exit_code == 3 and "checkpoint" in r.output, r.output


@pytest.mark.parametrize("axis,label,n", [("frames", "F", 10), ("elements", "E", 128), ("samples", "S", 96)])
def test_mask_axes_label_follows_the_sub_sampled_axis(ensemble, tmp_path, axis, label, n):
    """RunOutput.axes: the file labels the mask over the axis the run chose (run and batch alike)."""
    grid = ["--set", "dx=4e-4", "--set", "dz=2e-4", "--set", "rate=0.4"]
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "us-subsample", "--input", str(ensemble), "-o", str(out), "--method",
                                  "uniform", "--set", "recovery=zero", "--set", f"axis={axis}", *grid, "--quiet"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        assert f["mask"].shape == (n,) and f["mask"].attrs["axes"] == label
        assert f["recovered_rf"].attrs["axes"] == "F,E,S" and f["image"].attrs["axes"] == "F,Z,X"
    if axis == "frames":
        r = CliRunner().invoke(main, ["batch", "us-subsample", str(ensemble), "-o", str(tmp_path / "b"), "--method",
                                      "uniform", "--set", "recovery=zero", "--set", f"axis={axis}", *grid])
        assert r.exit_code == 0, r.output
        (res,) = [p for p in (tmp_path / "b").rglob("*.h5")]
        with h5py.File(res) as f:
            assert f["mask"].attrs["axes"] == "F" and f["recovered_rf"].attrs["axes"] == "F,E,S"


def test_run_output_axes_must_name_a_returned_output_of_its_rank():
    from sensekit.app.base import RunOutput
    from sensekit.app.registry import get_app
    from sensekit.app.runner import _run_axes
    app, outs = get_app("us-subsample"), {"mask": np.ones(4, bool)}
    assert _run_axes(app, RunOutput(outputs=outs, axes={"mask": "F"}), outs) == {"mask": "F"}
    for bad in ({"mask": "F,E"}, {"image": "F,Z,X"}):
        with pytest.raises(ValueError, match="axes"):
            _run_axes(app, RunOutput(outputs=outs, axes=bad), outs)
