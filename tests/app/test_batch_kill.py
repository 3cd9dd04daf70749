"""Kill test: SIGTERM a running batch, rerun with --resume, get the uninterrupted run's results.

Compared (see batch_helpers.contents): every output dataset's dtype, shape, attributes and raw bytes, the
metrics, and the provenance except ``wall_time_s``. The interrupted and resumed runs are subprocesses (the
console entry point, signalled as a user or a scheduler would); every run uses one torch thread, so that
the arithmetic is the same in all of them.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from batch_helpers import contents, multi_sample_file, tree

OPTS = ["--set", "max_iter=40", "--set", "check_every=10", "--seed", "3"]
EXPECTED = ["p/s.h5", "q/s.h5"]   # same name in two folders: mirrored, never merged


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill_in")
    for i, sub in enumerate(("p", "q")):
        (root / sub).mkdir()
        multi_sample_file(root / sub / "s.h5", 4, seed=30 + 10 * i, T=4, C=4, Y=48, X=40)
    return root


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")


@pytest.fixture(scope="module")
def reference(src, tmp_path_factory):
    """The uninterrupted run, in this process with one torch thread (as the subprocesses below)."""
    import torch
    from click.testing import CliRunner
    from sensekit.cli import main
    out = tmp_path_factory.mktemp("kill_ref") / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = CliRunner().invoke(main, ["batch", "mri-recon", f"{src}/**/*.h5", "-o", str(out), *OPTS, "--quiet"])
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    assert tree(out) == EXPECTED
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_then_resume_is_identical(src, reference, tmp_path, workers):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sensekit.cli", "batch", "mri-recon", f"{src}/**/*.h5", "-o", str(out), *OPTS,
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    parts = out / ".sensekit-batch"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:   # wait for the first finished sample
        if parts.exists() and any(f.startswith("sample-") for f in (os.path.basename(p) for p in tree(parts))):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, (stdout, stderr)
    assert "interrupted" in stdout and "Traceback" not in stderr
    left = tree(out)
    finished = [f for f in left if not f.startswith(".sensekit-batch")]
    assert set(finished) < set(EXPECTED)          # not everything was done ...
    assert not any(f.endswith(".tmp") or "/." in "/" + f.split("/")[-1] for f in finished)   # ... no temporaries
    kept = [f for f in left if f.endswith(".h5") and "/sample-" in f]
    assert kept, left                               # finished samples of the interrupted file(s) are kept
    for f in finished:                              # whatever finished is already final
        assert contents(out / f) == contents(reference / f)

    p = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env(), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "resumed" in p.stdout
    assert tree(out) == EXPECTED                    # no file lost, none duplicated, work folder gone
    for f in EXPECTED:
        assert contents(out / f) == contents(reference / f), f
