"""The toy app through the CLI: ragged tables in and out of multi-sample files, metric reductions, axes by
rank, stop reason and history in the provenance, a .npy input through the app's hook, errors naming the file."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main

from batch_helpers import contents, same_results, tree
from toyapp import register_toys

register_toys()


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _simulated(tmp, name, seed, **sets):
    p = tmp / f"{name}.h5"
    args = sum((["--set", f"{k}={v}"] for k, v in sets.items()), [])
    assert invoke("simulate", "toy", "-o", p, "--seed", seed, *args).exit_code == 0
    with h5py.File(p) as f:
        return {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """Three samples with 3, 1 (+3 listed that are not in the signal) and 0 true spikes; written with h5py only."""
    tmp = tmp_path_factory.mktemp("ragged")
    s0 = _simulated(tmp, "s0", 1)
    s1 = _simulated(tmp, "s1", 2, spikes=1)
    s2 = _simulated(tmp, "s2", 3, spikes=0)
    ghost = np.array([[5.0, 1.5], [20.0, 1.5], [40.0, 1.5]])   # listed, never in the signal: missed
    refs = [s0["spikes_ref"], np.concatenate([s1["spikes_ref"], ghost]), s2["spikes_ref"].reshape(0, 2)]
    singles = []
    for i, (s, ref) in enumerate(zip((s0, s1, s2), refs)):
        p = tmp / f"single{i}.h5"
        with h5py.File(p, "w") as f:
            f["signal"], f["clean_ref"], f["spikes_ref"] = s["signal"], s["clean_ref"], ref
        singles.append(p)
    pmax = max(len(r) for r in refs)
    padded = np.full((3, pmax, 2), np.nan)
    for i, r in enumerate(refs):
        padded[i, :len(r)] = r
    files = {}
    for variant in ("counts", "nan_padding"):
        p = tmp / f"multi_{variant}.h5"
        with h5py.File(p, "w") as f:
            f["signal"] = np.stack([s0["signal"], s1["signal"], s2["signal"]])
            f["clean_ref"] = np.stack([s0["clean_ref"], s1["clean_ref"], s2["clean_ref"]])
            f["spikes_ref"] = padded
            if variant == "counts":
                f["spikes_ref_counts"] = np.array([len(r) for r in refs])
        files[variant] = p
    return {"tmp": tmp, "singles": singles, "files": files, "refs": refs}


def _metrics(path):
    with h5py.File(path) as f:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in f["metrics"].attrs.items()}


@pytest.mark.parametrize("variant", ["counts", "nan_padding"])
def test_multi_sample_ragged_tables_read_back_with_plain_h5py(multi, variant, tmp_path):
    out = tmp_path / "out.h5"
    r = invoke("run", "toy", "--input", multi["files"][variant], "-o", out, "--seed", 7)
    assert r.exit_code == 0, r.output
    singles = []
    for i, p in enumerate(multi["singles"]):
        o = tmp_path / f"o{i}.h5"
        assert invoke("run", "toy", "--input", p, "-o", o, "--seed", 7 + i, "--quiet").exit_code == 0
        singles.append(o)
    # plain h5py, as a user without sensekit reads it (docs/CONTRACTS.md, "Ragged tables")
    with h5py.File(out) as f:
        table, counts = f["spikes"][()], f["spike_counts"][()]
        assert f["spikes"].attrs["axes"] == "N,P,2" and f["spike_counts"].attrs["axes"] == "N"
        assert f["clean"].attrs["axes"] == "N,L" and counts.dtype.kind == "i"
        per_sample = [table[i, :counts[i]] for i in range(len(counts))]
        assert table.shape == (3, counts.max(), 2)
        assert all(np.isnan(table[i, counts[i]:]).all() for i in range(3))   # padding rows are NaN
    assert counts[2] == 0 and counts[0] == 3
    for i, o in enumerate(singles):   # sample i of the multi-sample file is what a single-sample run gives
        with h5py.File(o) as f:
            assert f["spikes"].attrs["axes"] == "P,2" and "spike_counts" not in f
            np.testing.assert_array_equal(per_sample[i], f["spikes"][()])
            np.testing.assert_array_equal(np.asarray(h5py.File(out)["clean"][i]), f["clean"][()])


def test_metrics_reduce_as_declared_mean_sum_pooled(multi, tmp_path):
    out = tmp_path / "out.h5"
    assert invoke("run", "toy", "--input", multi["files"]["counts"], "-o", out, "--seed", 7).exit_code == 0
    per = []
    for i, p in enumerate(multi["singles"]):
        o = tmp_path / f"o{i}.h5"
        assert invoke("run", "toy", "--input", p, "-o", o, "--seed", 7 + i, "--quiet").exit_code == 0
        per.append(_metrics(o))
    m = _metrics(out)
    assert m["psnr"] == pytest.approx(np.mean([p["psnr"] for p in per]), rel=1e-12)          # averaged
    for k in ("detected", "missed", "false"):                                                  # summed, integers
        assert m[k] == sum(p[k] for p in per) and isinstance(m[k], int)
    tp, fn, fp = m["detected"], m["missed"], m["false"]
    assert (tp, fn) == (4, 3)
    prec, rec = tp / (tp + fp), tp / (tp + fn)
    assert m["precision"] == pytest.approx(prec) and m["recall"] == pytest.approx(rec)       # pooled
    assert m["f_measure"] == pytest.approx(2 * prec * rec / (prec + rec))
    assert abs(m["f_measure"] - np.mean([p["f_measure"] for p in per])) > 0.01   # not an average of samples


def test_batch_of_a_ragged_file_equals_run_and_resume_keeps_tables(multi, tmp_path):
    out = tmp_path / "out"
    r = invoke("batch", "toy", multi["files"]["counts"], "-o", out, "--seed", 7)
    assert r.exit_code == 0, r.output
    single = tmp_path / "run.h5"
    assert invoke("run", "toy", "--input", multi["files"]["counts"], "-o", single, "--seed", 7,
                  "--quiet").exit_code == 0
    same_results(out / "multi_counts.h5", single)


def test_provenance_has_stop_reason_and_history_per_sample(multi, tmp_path):
    one, many = tmp_path / "one.h5", tmp_path / "many.h5"
    assert invoke("run", "toy", "--input", multi["singles"][0], "-o", one, "--quiet").exit_code == 0
    assert invoke("run", "toy", "--input", multi["files"]["counts"], "-o", many, "--quiet").exit_code == 0
    with h5py.File(one) as f:
        p = dict(f["provenance"].attrs)
        assert p["stop_reason"].startswith("residual<") or p["stop_reason"].startswith("max_iter")
        h = json.loads(p["history_summary"])
        assert h["iterations"] == p["iterations"] and "residual" in h["last"] and "time" not in h["last"]
        for key in ("app", "method", "options", "sensekit_version", "torch_version", "device", "wall_time_s",
                    "iterations", "input"):
            assert key in p
    with h5py.File(many) as f:
        reasons = json.loads(f["provenance"].attrs["stop_reason"])
        hist = json.loads(f["provenance"].attrs["history_summary"])
        assert len(reasons) == len(hist) == 3 and all(reasons)


def test_output_axes_follow_the_rank(tmp_path):
    src = tmp_path / "colour.h5"
    assert invoke("simulate", "toy-stream", "-o", src, "--set", "colour=true", "--set", "frames=9").exit_code == 0
    with h5py.File(src) as f:
        assert f["frames"].attrs["axes"] == "T,H,W,C" and f["frames"].shape[-1] == 3
    out = tmp_path / "out.h5"
    assert invoke("run", "toy-stream", "--input", src, "-o", out, "--quiet").exit_code == 0
    with h5py.File(out) as f:
        assert f["background"].attrs["axes"] == "T,H,W,C" and f["background"].shape == (9, 12, 10, 3)
        assert f["mask"].attrs["axes"] == "T,H,W" and f["background_final"].attrs["axes"] == "H,W,C"


def test_npy_input_through_the_hook_in_run_and_batch(multi, tmp_path):
    sig = np.stack([h5py.File(p)["signal"][()] for p in multi["singles"]])
    np.save(tmp_path / "one.npy", sig[0])
    np.save(tmp_path / "many.npy", sig)
    out = tmp_path / "one.h5"
    r = invoke("run", "toy", "--input", tmp_path / "one.npy", "-o", out, "--seed", 7)
    assert r.exit_code == 0, r.output
    ref = tmp_path / "ref.h5"
    with h5py.File(multi["singles"][0]) as f, h5py.File(tmp_path / "plain.h5", "w") as g:
        g["signal"] = f["signal"][()]
    assert invoke("run", "toy", "--input", tmp_path / "plain.h5", "-o", ref, "--seed", 7, "--quiet").exit_code == 0
    assert contents(out)["/clean"] == contents(ref)["/clean"]
    with h5py.File(out) as f:
        assert f["provenance"].attrs["input"] == str(tmp_path / "one.npy")
    src = tmp_path / "in"
    src.mkdir()
    for name in ("one.npy", "many.npy", "plain.h5"):
        (src / name).write_bytes((tmp_path / name).read_bytes())
    bo = tmp_path / "batch"
    r = invoke("batch", "toy", src, "-o", bo)   # a folder: the .h5 and .npy files it holds
    assert r.exit_code == 0, r.output
    assert tree(bo) == ["many.npy.h5", "one.npy.h5", "plain.h5"]
    with h5py.File(bo / "many.npy.h5") as f:
        assert f["clean"].shape == (3, sig.shape[1]) and f["spike_counts"].shape == (3,)


@pytest.mark.parametrize("case,needle", [
    ("short", "dataset 'signal' has 4 entries, expected at least 8"),    # a ValueError from prepare
    ("ref_outside", "dataset 'spikes_ref' has positions outside the signal"),   # an InputError without the path
    ("bad_counts", "dataset 'spikes_ref_counts' holds counts outside"),
    ("ragged_nan", "dataset 'spikes_ref' contains NaN"),
])
def test_prepare_errors_name_the_file_and_sample(case, needle, tmp_path):
    p = tmp_path / f"{case}.h5"
    with h5py.File(p, "w") as f:
        if case == "short":
            f["signal"] = np.ones((2, 4))
        else:
            f["signal"] = np.ones((2, 16))
            ref = np.full((2, 2, 2), np.nan)
            ref[0, 0] = [3.0, 1.0]
            ref[1, 0] = [30.0 if case == "ref_outside" else 3.0, 1.0]
            if case == "ragged_nan":
                ref[1, 1] = [np.nan, 1.0]       # a partly NaN row is not padding
            f["spikes_ref"] = ref
            if case == "bad_counts":
                f["spikes_ref_counts"] = np.array([1, 5])
    out = tmp_path / "out.h5"
    r = CliRunner().invoke(main, ["run", "toy", "--input", str(p), "-o", str(out)])
    assert r.exit_code == 3, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {p}: ") and needle in lines[0], lines
    if case in ("short", "ref_outside"):
        assert "sample " in lines[0]
    assert not out.exists()


def test_toy_apps_are_registered_for_tests_only():
    from sensekit.app.registry import app_names, get_app
    assert "toy" not in app_names() and "toy" in app_names(hidden=True)
    assert get_app("toy-stream").stream_axis == "T"
    r = invoke("apps")
    assert "toy" not in r.output
    # a subprocess finds them through SENSEKIT_EXTRA_APPS (register exported it), `sensekit apps` still hides them
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    assert "toy=" in env["SENSEKIT_EXTRA_APPS"]
    p = subprocess.run([sys.executable, "-m", "sensekit.cli", "info", "toy"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "spikes_ref" in p.stdout and "ragged" in p.stdout, p.stderr
    p = subprocess.run([sys.executable, "-m", "sensekit.cli", "apps"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "toy" not in p.stdout


def test_bad_extra_apps_variable_is_one_line(monkeypatch):
    monkeypatch.setenv("SENSEKIT_EXTRA_APPS", "nonsense")
    r = CliRunner().invoke(main, ["run", "whatever"])
    assert r.exit_code == 3 and "SENSEKIT_EXTRA_APPS" in r.output
