"""`sensekit batch`: outputs mirror the inputs, match `run`, survive bad files, resume sample by sample."""
import os

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.batch import Interrupted, plan, process_file, summary_table
from sensekit.app.registry import app_names, get_app
from sensekit.cli import main

from toyapp import TEST_APPS, register_toys

from batch_helpers import FAST, contents, multi_sample_file, same_results, tree
from helpers import outside_mri_file, sha256

register_toys()   # the test-only apps join every per-app test (never `sensekit apps`)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """a/x.h5 and b/x.h5 (same name, different folders) and c.h5 with three samples."""
    root = tmp_path_factory.mktemp("in")
    (root / "a").mkdir()
    (root / "b").mkdir()
    outside_mri_file(root / "a" / "x.h5", T=3, C=2, Y=24, X=20, accel=2, seed=1)
    outside_mri_file(root / "b" / "x.h5", T=3, C=2, Y=24, X=20, accel=2, seed=2)
    multi_sample_file(root / "c.h5", 3, seed=10)
    return root


def test_outputs_mirror_inputs_and_equal_run(inputs, tmp_path):
    out = tmp_path / "out"
    r = invoke("batch", "mri-recon", f"{inputs}/**/*.h5", "-o", out, *FAST, "--seed", 4)
    assert r.exit_code == 0, r.output
    assert tree(out) == ["a/x.h5", "b/x.h5", "c.h5"]   # no collision, no work folder or temporary left
    assert "done 3, skipped 0, failed 0 (of 3 files)" in r.output
    assert "c.h5" in r.output and "3/3" in r.output and "psnr=" in r.output
    # each output is exactly what `sensekit run` writes for that file (one per-sample path)
    for rel in ("a/x.h5", "c.h5"):
        single = tmp_path / ("run_" + rel.replace("/", "_"))
        assert invoke("run", "mri-recon", "--input", inputs / rel, "-o", single, *FAST, "--seed", 4,
                      "--quiet").exit_code == 0
        same_results(out / rel, single)
    with h5py.File(out / "c.h5") as f:
        assert f["recon"].shape == (3, 3, 24, 20) and f["recon"].attrs["axes"] == "N,T,Y,X"
        assert f["provenance"].attrs["input"] == str(inputs / "c.h5")
        assert set(f["metrics"].attrs) == {"psnr", "ssim", "nrmse"}


def test_workers_2_match_workers_1(inputs, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert invoke("batch", "mri-recon", inputs / "a", "-o", one, *FAST, "--quiet").exit_code == 0
    r = invoke("batch", "mri-recon", f"{inputs}/**/*.h5", "-o", two, *FAST, "--workers", 2)
    assert r.exit_code == 0, r.output
    assert tree(two) == ["a/x.h5", "b/x.h5", "c.h5"]
    # a folder input takes only its own files; outputs are named relative to it
    assert tree(one) == ["x.h5"]
    # worker processes use their own torch thread count, so agreement is to float32 rounding
    same_results(one / "x.h5", two / "a" / "x.h5", exact=False)


def _task(app, inp, out, **kw):
    from sensekit.app.base import make_config
    cfg = make_config(app.Config, {"max_iter": 8, "check_every": 4, **kw.pop("options", {})})
    return plan(app, str(inp), str(out), cfg, seed=2, **kw)[0]


def test_resume_skips_finished_samples_and_is_byte_identical(inputs, tmp_path):
    app = get_app("mri-recon")
    full = process_file(_task(app, inputs / "c.h5", tmp_path / "full"))
    assert full.status == "done" and full.run == 3

    def stop_after_two(kind, i):   # an interruption (as SIGTERM raises it) after two finished samples
        if kind == "sample" and i == 1:
            raise Interrupted(15)

    task = _task(app, inputs / "c.h5", tmp_path / "cut")
    rep = process_file(task, stop_after_two)
    assert rep.status == "interrupted" and rep.run == 2
    assert not os.path.exists(task.output)   # never a partial output
    assert tree(tmp_path / "cut") == [".sensekit-batch/c.h5.parts/sample-000000.h5",
                                      ".sensekit-batch/c.h5.parts/sample-000001.h5",
                                      ".sensekit-batch/c.h5.parts/task.json"]
    # without --resume the finished samples are discarded; with it they are kept
    resumed = process_file(_task(app, inputs / "c.h5", tmp_path / "cut", resume=True))
    assert resumed.status == "done" and (resumed.resumed, resumed.run) == (2, 1)
    assert tree(tmp_path / "cut") == ["c.h5"]
    same_results(tmp_path / "cut" / "c.h5", tmp_path / "full" / "c.h5")   # bytes of every dataset and metric
    # resuming with other options starts the file over instead of mixing results
    process_file(_task(app, inputs / "c.h5", tmp_path / "mix"), stop_after_two)
    other = process_file(_task(app, inputs / "c.h5", tmp_path / "mix", resume=True, options={"max_iter": 9}))
    assert other.status == "done" and (other.resumed, other.run) == (0, 3) and "restarted" in other.reason


def test_resume_skips_finished_files(inputs, tmp_path):
    out = tmp_path / "out"
    assert invoke("batch", "mri-recon", f"{inputs}/*.h5", "-o", out, *FAST, "--quiet").exit_code == 0
    before = sha256(out / "c.h5")
    r = invoke("batch", "mri-recon", f"{inputs}/*.h5", "-o", out, *FAST, "--resume")
    assert r.exit_code == 0 and "skipped" in r.output and "output exists (--resume)" in r.output
    assert sha256(out / "c.h5") == before and tree(out) == ["c.h5"]


def test_bad_files_are_reported_and_skipped(inputs, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.h5").write_bytes((inputs / "a" / "x.h5").read_bytes())
    (src / "empty.h5").write_bytes(b"")
    (src / "text.h5").write_text("not hdf5")
    data = (inputs / "c.h5").read_bytes()
    (src / "truncated.h5").write_bytes(data[: len(data) // 3])
    multi_sample_file(src / "nan_in_sample_2.h5", 3, seed=20)
    with h5py.File(src / "nan_in_sample_2.h5", "a") as f:   # samples 0 and 1 run before the bad one is read
        k = f["kspace"][()]
        k[2, 0, 0, 0, 0] = np.nan
        f["kspace"][...] = k
    before = {p: sha256(src / p) for p in os.listdir(src)}
    out = tmp_path / "out"
    r = invoke("batch", "mri-recon", src, "-o", out, *FAST)
    assert r.exit_code == 3, r.output   # every failure is bad input
    assert tree(out) == ["good.h5"]     # no partial output, no sample files, no temporaries
    lines = r.output.splitlines()
    for name, why in (("empty.h5", "file is empty"), ("text.h5", "not an HDF5 file"),
                      ("truncated.h5", "truncated"), ("nan_in_sample_2.h5", "NaN or Inf")):
        row = next(ln for ln in lines if ln.startswith(name))
        assert "failed" in row and why in row, row
    assert "done 1, skipped 0, failed 4 (of 5 files)" in r.output
    assert {p: sha256(src / p) for p in os.listdir(src)} == before   # inputs untouched


@pytest.mark.parametrize("args,needle", [
    (["no-such-app", "IN", "-o", "OUT"], "unknown app 'no-such-app'"),
    (["mri-recon", "IN/*.nothing", "-o", "OUT"], "no input files"),
    (["mri-recon", "/no/such/place", "-o", "OUT"], "no such file or folder"),
    (["mri-recon", "IN", "-o", "OUT", "--set", "max_iter=0"], "below the minimum"),
    (["mri-recon", "IN", "-o", "OUT", "--device", "tpu"], "unknown device"),
    (["mri-recon", "IN", "-o", "IN/a/x.h5"], "not a folder"),
])
def test_bad_batch_options_exit_3(args, needle, inputs, tmp_path):
    args = [a.replace("IN", str(inputs)).replace("OUT", str(tmp_path / "out")) for a in args]
    r = CliRunner().invoke(main, ["batch", *args])
    assert r.exit_code == 3, r.output
    assert needle in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_outputs_inside_the_input_tree_are_not_inputs(inputs, tmp_path):
    src = tmp_path / "tree"
    src.mkdir()
    (src / "x.h5").write_bytes((inputs / "a" / "x.h5").read_bytes())
    for again in ((), ("--overwrite",)):   # the second run must not pick up tree/out/x.h5 as an input
        r = invoke("batch", "mri-recon", f"{src}/**/*.h5", "-o", src / "out", *FAST, "--plot", "png", *again)
        assert r.exit_code == 0 and "(of 1 files)" in r.output, r.output
    assert tree(src) == ["out/x.h5", "out/x.png", "x.h5"]
    assert (src / "out" / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_table_lists_every_state():
    from sensekit.app.batch import FileReport
    reps = [FileReport(0, "a.h5", "done", samples=2, run=1, resumed=1, seconds=1.0, metrics={"psnr": 30.0}),
            FileReport(1, "b.h5", "skipped", reason="output exists (--resume)"),
            FileReport(2, "c.h5", "failed", reason="c.h5: not an HDF5 file", error="input"),
            FileReport(3, "d.h5", "interrupted", samples=4, run=2, reason="2 sample(s) kept for --resume"),
            FileReport(4, "e.h5", "not started")]
    text = summary_table(reps)
    assert "2/2 (1 resumed)" in text and "psnr=30" in text and "not an HDF5 file" in text
    assert text.splitlines()[-1] == "done 1, skipped 1, failed 1, interrupted 1, not started 1 (of 5 files)"


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("app_name", app_names() + TEST_APPS)
def test_every_app_batches_its_quick_simulation(app_name, device, tmp_path):
    """Each app joins batch by declaring ``quick_sim`` / ``quick_options``: two simulated files in, two out."""
    src = tmp_path / "in"
    src.mkdir()
    for seed in (0, 1):
        assert invoke("simulate", app_name, "-o", src / f"s{seed}.h5", "--seed", seed,
                      *sum((["--set", f"{k}={v}"] for k, v in get_app(app_name).quick_sim.items()), [])
                      ).exit_code == 0
    app = get_app(app_name)
    sets = sum((["--set", f"{k}={v}"] for k, v in app.quick_options.items()), [])
    out = tmp_path / "out"
    r = invoke("batch", app_name, src, "-o", out, "--device", device, *sets)
    assert r.exit_code == 0, r.output
    assert tree(out) == ["s0.h5", "s1.h5"]
    for name in ("s0.h5", "s1.h5"):
        c = contents(out / name)
        for spec in app.outputs:
            if spec.required:
                assert f"/{spec.name}" in c, (app_name, spec.name)
        assert c["provenance"]["device"].startswith(device)


def test_progress_bar_counts_files_and_samples():
    import io
    from sensekit.app.batch import FileReport
    from sensekit.app.progress import BatchProgress
    buf = io.StringIO()
    bar = BatchProgress(2, stream=buf, enabled=True)
    bar("report", 0, FileReport(0, "bad.h5", "failed"))    # never opened: its sample count is known (none)
    bar("start", 1, 3)
    for i in range(3):
        bar("sample", 1, i)
    bar("report", 1, FileReport(1, "c.h5", "done"))
    assert buf.getvalue().split("\r")[-1].startswith(
        "batch [########################] files 2/2 · samples 3/3 · 1 failed · 0:00")
    assert "samples 0/3+" not in buf.getvalue()
    quiet = io.StringIO()
    BatchProgress(1, stream=quiet)("start", 0, 1)            # not a terminal: nothing drawn
    assert quiet.getvalue() == ""
