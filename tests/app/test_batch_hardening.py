"""Batch concurrency and faults (issue 17): the lock, workers of a killed parent, stale temporaries,
symlink loops and dot-named inputs, an unreachable or silent Dask cluster."""
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from sensekit.app.batch import WORK_DIR, output_lock
from sensekit.cli import main

from batch_helpers import multi_sample_file, tree
from toyapp import register_toys

register_toys()


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("toy") / "s.h5"
    assert CliRunner().invoke(main, ["simulate", "toy", "-o", str(p), "--seed", "1"]).exit_code == 0
    return p


def _batch(*args):
    return CliRunner().invoke(main, ["batch", "toy", *map(str, args), "--quiet"])


def test_refused_batch_leaves_the_owners_lock(toy_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(str(out)) as lock:                 # the first batch, still running
        for _ in range(2):                              # a second and a third: both refused
            r = _batch(toy_file, "-o", out)
            assert r.exit_code == 3 and "another batch is writing" in r.output, r.output
            assert os.path.exists(lock)                  # the refused batch did not delete the owner's lock
    assert not (out / WORK_DIR).exists()                 # the owner removed it


def test_resume_removes_stale_temporaries(toy_file, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "s.h5").write_bytes(toy_file.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".s.h5.k1l2m3.tmp", out / ".s.png.x9y8.tmp"]
    work = out / WORK_DIR / "s.h5.parts"
    work.mkdir(parents=True)
    stale.append(work / ".sample-000000.h5.abc.tmp")
    for p in stale:
        p.write_bytes(b"partial")
    r = _batch(src, "-o", out, "--resume", "--plot", "png")
    assert r.exit_code == 0, r.output
    assert tree(out) == ["s.h5", "s.png"], tree(out)


def test_symlink_loops_are_followed_once_and_dot_files_listed(toy_file, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.h5").write_bytes(toy_file.read_bytes())
    (src / "sub" / "b.h5").write_bytes(toy_file.read_bytes())
    (src / ".hidden.h5").write_bytes(toy_file.read_bytes())
    os.symlink(src, src / "sub" / "loop1")               # two loops: glob.glob would never finish planning
    os.symlink(src / "sub", src / "loop2")
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["batch", "toy", f"{src}/**/*.h5", "-o", str(out)])
    assert time.monotonic() - t0 < 30
    assert r.exit_code == 0, r.output
    assert tree(out) == ["a.h5", "sub/b.h5"], tree(out)   # each file once
    assert ".hidden.h5" in r.output and "dot-named" in r.output and "skipped 1" in r.output, r.output
    r = CliRunner().invoke(main, ["batch", "toy", str(src), "-o", str(tmp_path / "out2")])   # a folder too
    assert r.exit_code == 0 and ".hidden.h5" in r.output and "skipped 1" in r.output, r.output


def test_unreachable_scheduler_leaves_no_empty_output_folder(toy_file, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr("sensekit.app.pool.CONNECT_TIMEOUT", "1s")
    out = tmp_path / "o"
    r = _batch(toy_file, "-o", out, "--scheduler", "tcp://127.0.0.1:9")
    assert r.exit_code == 3 and "cannot connect" in r.output
    assert not out.exists()


def test_silent_cluster_does_not_hang(tmp_path, monkeypatch):
    """A cluster that wrote the output but never returns the report: reported after the result timeout."""
    from sensekit.app import pool
    from sensekit.app.batch import FileTask

    class Fut:
        def __init__(self, key):
            self.key = key

    class Never:    # as_completed of futures that never complete
        def __init__(self, futures, loop=None):
            pass

        def next_batch(self, block=False):
            return []

    class Client:
        status, loop = "running", None

        def cancel(self, futs):
            pass

    out = tmp_path / "x.h5"
    out.write_bytes(b"")
    task = FileTask(index=0, app="toy", input="in.h5", output=str(out), workdir="w", workroot="r", name="x.h5",
                    options={})
    monkeypatch.setenv("SENSEKIT_DASK_RESULT_TIMEOUT", "0.05")
    t0 = time.monotonic()
    got = list(pool._dask_results(Client(), [Fut("k0")], {"k0": 0}, {0: task}, Never, poll=0.01))
    assert time.monotonic() - t0 < 5
    assert [r.status for _, r in got] == ["done"] and "did not return its report" in got[0][1].reason
    Client.status = "closed"                               # the scheduler went away: fail, do not wait
    out.unlink()
    got = list(pool._dask_results(Client(), [Fut("k0")], {"k0": 0}, {0: task}, Never, poll=0.01))
    assert got[0][1].status == "failed" and "lost the connection" in got[0][1].reason


def _group(pgid):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(d))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        multi_sample_file(src / f"s{i}.h5", 3, seed=10 * i, T=4, C=2, Y=32, X=32)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "sensekit.cli", "batch", "mri-recon", str(src), "-o", str(out), "--workers", "2",
           "--set", "max_iter=60", "--set", "check_every=20", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:   # the workers are computing
        if out.exists() and any(f.endswith("task.json") for f in tree(out)):   # a worker started a file
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    assert len(_group(proc.pid)) >= 2                  # parent + workers
    os.kill(proc.pid, signal.SIGKILL)                  # the parent alone, as the OOM killer does
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == [], "workers outlived their parent"
    before = {f: os.stat(out / f).st_mtime_ns for f in tree(out)}
    time.sleep(1.0)
    assert {f: os.stat(out / f).st_mtime_ns for f in tree(out)} == before   # nothing writes any more


def test_thread_count_is_in_provenance_and_resume_fingerprint(toy_file, tmp_path):
    """Results depend on the torch thread count in the last digits: it is recorded, and a resume with another
    count starts the unfinished file over instead of mixing samples of both."""
    import json

    import h5py
    import torch
    from sensekit.app.batch import _fingerprint, plan
    from sensekit.app.registry import get_app
    from sensekit.app.base import make_config
    from sensekit.app.runner import device_of
    src = tmp_path / "in"
    src.mkdir()
    (src / "s.h5").write_bytes(toy_file.read_bytes())
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    app = get_app("toy")
    task = plan(app, str(src), str(out), make_config(app.Config, {}), resume=True)[0]
    try:
        torch.set_num_threads(1)
        fp = _fingerprint(task, device_of("cpu"), 1, False)
        os.makedirs(task.workdir)
        with open(os.path.join(task.workdir, "task.json"), "w") as fh:   # an interrupted run with 1 thread
            json.dump(fp, fh, sort_keys=True)
        torch.set_num_threads(2)
        r = CliRunner().invoke(main, ["batch", "toy", str(src), "-o", str(out), "--resume", "--device", "cpu"])
        assert r.exit_code == 0, r.output
        assert "restarted" in r.output, r.output       # not resumed from samples of the 1-thread run
        assert fp["torch_threads"] == 1
        with h5py.File(out / "s.h5") as f:
            assert f["provenance"].attrs["torch_threads"] == 2
    finally:
        torch.set_num_threads(threads)
