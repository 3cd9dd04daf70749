"""`run` without -o warns first; `batch` refuses to overwrite finished outputs; summary.json/.csv; --threads."""
import csv
import json

import torch
from click.testing import CliRunner

from sensekit.cli import main

from batch_helpers import tree
from helpers import outside_mri_file, sha256

FAST = ("--method", "zero-filled")


def invoke(*args, **kw):
    return CliRunner(**kw).invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_run_without_output_says_so_before_starting(tmp_path):
    src = tmp_path / "in.h5"
    outside_mri_file(src, T=2, C=2, Y=24, X=20, accel=2)
    before = sha256(src)
    r = invoke("run", "mri-recon", "--input", src, *FAST)
    assert r.exit_code == 0, r.output
    err = r.stderr if hasattr(r, "stderr") else r.output
    assert "result not saved: add -o OUT.h5" in err
    # the warning comes before the run's summary line, and the input is untouched
    assert r.output.index("result not saved") < r.output.index("mri-recon: method=")
    assert sha256(src) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.h5"]
    r = invoke("run", "mri-recon", "--input", src, *FAST, "-o", tmp_path / "o.h5")
    assert r.exit_code == 0 and "result not saved" not in r.output
    r = invoke("run", "mri-recon", *FAST, "--quiet")   # the built-in demo is not a file's result: no warning
    assert r.exit_code == 0 and "result not saved" not in r.output


def _two_inputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    outside_mri_file(src / "a.h5", T=2, C=2, Y=24, X=20, accel=2, seed=1)
    outside_mri_file(src / "b.h5", T=2, C=2, Y=24, X=20, accel=2, seed=2)
    (src / "bad.h5").write_text("not hdf5")
    return src


def test_rerun_refuses_unless_overwrite_or_resume_and_summary_files(tmp_path):
    src, out = _two_inputs(tmp_path), tmp_path / "out"
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST, "--quiet")
    assert r.exit_code == 3, r.output   # the bad file fails as bad input; the others are done
    assert tree(out) == ["a.h5", "b.h5"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["app"] == "mri-recon" and summary["counts"] == {"done": 2, "failed": 1}
    rows = {f["file"]: f for f in summary["files"]}
    assert rows["a.h5"]["status"] == "done" and set(rows["a.h5"]["metrics"]) == {"psnr", "ssim", "nrmse"}
    assert rows["a.h5"]["seconds"] > 0 and rows["a.h5"]["samples"] == 1
    assert rows["bad.h5"]["status"] == "failed" and "not an HDF5 file" in rows["bad.h5"]["reason"]
    assert rows["bad.h5"]["metrics"] == {} and rows["bad.h5"]["output"] == ""
    with open(out / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [t["file"] for t in table] == ["a.h5", "b.h5", "bad.h5"]
    assert {"file", "status", "reason", "seconds", "metric:psnr", "metric:ssim", "metric:nrmse"} <= set(table[0])
    import h5py
    with h5py.File(out / "a.h5") as f:   # the CSV's metrics are the output file's, exactly
        assert float(table[0]["metric:psnr"]) == float(f["metrics"].attrs["psnr"])
    assert table[2]["metric:psnr"] == "" and table[2]["status"] == "failed"

    before = sha256(out / "a.h5")
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST, "--quiet")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--overwrite" in r.output and "--resume" in r.output and "2 of 3 outputs already exist" in r.output
    assert sha256(out / "a.h5") == before
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST, "--resume", "--overwrite")
    assert r.exit_code == 2 and "exclude each other" in r.output
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST, "--resume", "--quiet")
    assert r.exit_code == 3 and sha256(out / "a.h5") == before
    assert json.loads((out / "summary.json").read_text())["counts"] == {"skipped": 2, "failed": 1}
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST, "--overwrite", "--quiet")
    assert r.exit_code == 3
    assert json.loads((out / "summary.json").read_text())["counts"] == {"done": 2, "failed": 1}


def test_threads_option_is_honoured(tmp_path, monkeypatch):
    old = torch.get_num_threads()
    try:
        r = invoke("run", "mri-recon", *FAST, "--threads", 1)
        assert r.exit_code == 0 and "threads=1" in r.output, r.output
        assert torch.get_num_threads() == 1
        assert invoke("run", "mri-recon", *FAST, "--threads", 0).exit_code == 2   # a usage error
        src = tmp_path / "in"
        src.mkdir()
        outside_mri_file(src / "a.h5", T=2, C=2, Y=24, X=20, accel=2)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        r = invoke("batch", "mri-recon", src, "-o", tmp_path / "out", *FAST, "--threads", 1, "--quiet")
        assert r.exit_code == 0, r.output
        import os
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"   # workers inherit it
    finally:
        torch.set_num_threads(old)


def test_omp_num_threads_is_respected_without_the_option(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "sensekit.cli", "run", "mri-recon", *FAST], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "threads=1" in r.stdout
