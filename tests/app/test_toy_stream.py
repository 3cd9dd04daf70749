"""Streaming through the toy-stream app: block outputs equal the in-memory run, memory does not grow with the
number of frames, a kill in the middle of a streamed output resumes at the next block, a folder of PNG frames
is one input."""
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.batch import plan, process_file
from sensekit.app.registry import get_app
from sensekit.cli import main

from batch_helpers import contents, tree
from toyapp import register_toys, toy_video

register_toys()


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def video_file(path, frames, H=16, W=16, *, block=500, colour=False, with_ref=True, n=None):
    """A toy video written block by block (the test never holds it whole either)."""
    with h5py.File(path, "w") as f:
        lead = (n,) if n else ()
        d = f.create_dataset("frames", shape=lead + (frames, H, W) + ((3,) if colour else ()), dtype=np.uint8,
                             chunks=lead and (1,) + (min(frames, 64), H, W) + ((3,) if colour else ()) or None)
        m = f.create_dataset("mask_ref", shape=lead + (frames, H, W), dtype=np.uint8) if with_ref else None
        for k in range(n or 1):
            for s in range(0, frames, block):
                e = min(frames, s + block)
                fr, mk = toy_video(e - s, H, W, colour=colour, start=s, seed=k * 1000 + s)
                if n:
                    d[k, s:e] = fr
                    if m is not None:
                        m[k, s:e] = mk
                else:
                    d[s:e] = fr
                    if m is not None:
                        m[s:e] = mk
    return path


def test_streamed_file_equals_the_in_memory_run(tmp_path):
    from sensekit.app.runner import run_app, write_result
    from sensekit.app.base import make_config
    app = get_app("toy-stream")
    src = video_file(tmp_path / "v.h5", 70, colour=True)
    out = tmp_path / "streamed.h5"
    assert invoke("run", "toy-stream", "--input", src, "-o", out, "--set", "block=16", "--set", "dither=0.01",
                  "--quiet").exit_code == 0
    cfg = make_config(app.Config, {"block": 16, "dither": 0.01})
    mem = tmp_path / "memory.h5"
    write_result(app, run_app(app, input_path=str(src), config=cfg, device="cpu"), str(mem))
    a, b = contents(out), contents(mem)
    for k in ("/background", "/mask", "/background_final"):
        assert a[k] == b[k], k            # bytes, dtypes, shapes and axes
    for k in ("tp", "fp", "fn", "scored_pixels"):
        assert a["metrics"][k] == b["metrics"][k]
    assert a["metrics"]["mean_abs_fg"] == pytest.approx(b["metrics"]["mean_abs_fg"], rel=1e-6)   # frame-weighted
    with h5py.File(out) as f:
        assert f["background"].chunks is not None and f["background"].chunks[0] <= 16


def test_multi_sample_streamed_file_and_pooled_pixels(tmp_path):
    src = video_file(tmp_path / "n.h5", 30, n=3)
    out = tmp_path / "out.h5"
    assert invoke("run", "toy-stream", "--input", src, "-o", out, "--set", "block=8", "--quiet").exit_code == 0
    singles = []
    with h5py.File(src) as f:
        for i in range(3):
            p = tmp_path / f"s{i}.h5"
            with h5py.File(p, "w") as g:
                g["frames"], g["mask_ref"] = f["frames"][i], f["mask_ref"][i]
            o = tmp_path / f"o{i}.h5"
            assert invoke("run", "toy-stream", "--input", p, "-o", o, "--set", "block=8", "--seed", i,
                          "--quiet").exit_code == 0
            singles.append(contents(o))
    c = contents(out)
    with h5py.File(out) as f:
        assert f["background"].shape == (3, 30, 16, 16) and f["background"].attrs["axes"] == "N,T,H,W"
        for i in range(3):
            np.testing.assert_array_equal(f["mask"][i], np.frombuffer(singles[i]["/mask"][3], bool).reshape(30, 16, 16))
    tp, fp, fn = (sum(s["metrics"][k] for s in singles) for k in ("tp", "fp", "fn"))
    assert (c["metrics"]["tp"], c["metrics"]["fp"], c["metrics"]["fn"]) == (tp, fp, fn)
    assert c["metrics"]["precision"] == pytest.approx(tp / (tp + fp))
    assert c["metrics"]["recall"] == pytest.approx(tp / (tp + fn))


def _peak_traced(app, src, tmp_path, tag):
    from sensekit.app.base import make_config
    from sensekit.app.runner import stream_run
    cfg = make_config(app.Config, {"block": 16})
    tracemalloc.start()
    try:
        res = stream_run(app, input_path=str(src), config=cfg, output_path=str(tmp_path / f"{tag}.h5"), device="cpu")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, res


#: the stated bound: the traced (numpy / h5py / Python) peak of a streamed run over 32x32 uint8 frames in blocks of
#: 16 frames stays under 4 MiB, for 1,000 as for 5,000 frames (the 5,000-frame run holds 5 MB of input frames and
#: would allocate 20 MB of float32 background at once if it were not streamed)
STREAM_PEAK_BOUND = 4 << 20


def test_peak_memory_does_not_grow_with_the_number_of_frames(tmp_path):
    app = get_app("toy-stream")
    peaks = {}
    for T in (1000, 5000):
        src = video_file(tmp_path / f"v{T}.h5", T, H=32, W=32)
        peaks[T], res = _peak_traced(app, src, tmp_path, f"o{T}")
        assert res.provenance["iterations"] == T
        with h5py.File(tmp_path / f"o{T}.h5") as f:
            assert f["background"].shape == (T, 32, 32)
    assert peaks[5000] < STREAM_PEAK_BOUND and peaks[1000] < STREAM_PEAK_BOUND, peaks
    assert peaks[5000] < 1.25 * peaks[1000] + (256 << 10), peaks   # independent of the frame count


_RSS = ("import resource, sys, toyapp; toyapp.register_toys(); from sensekit.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")


def test_peak_rss_of_the_cli_does_not_grow_with_the_number_of_frames(tmp_path):
    """The whole process (torch tensors included, which tracemalloc does not see): 48x48 frames, block 16.

    Bound: the 5,000-frame run's peak RSS exceeds the 1,000-frame run's by less than 16 MiB, while its
    float32 background alone is 46 MB.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.path.dirname(os.path.dirname(__file__))]))
    rss = {}
    for T in (1000, 5000):
        src = video_file(tmp_path / f"v{T}.h5", T, H=48, W=48)
        p = subprocess.run([sys.executable, "-c", _RSS, "run", "toy-stream", "--input", str(src), "-o",
                            str(tmp_path / f"o{T}.h5"), "--quiet", "--set", "block=16"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        rss[T] = int(p.stdout.split("MAXRSS")[1]) * 1024   # ru_maxrss is in KiB on Linux
    assert rss[5000] - rss[1000] < 16 << 20, rss


def test_a_folder_of_png_frames_is_one_input_in_run_and_batch(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    frames, masks = toy_video(25, 12, 10, seed=3)
    clips = tmp_path / "clips"
    for clip in ("a", "b"):
        (clips / clip).mkdir(parents=True)
        for t in range(25):   # natural order: frame2 before frame10
            Image.fromarray(frames[t]).save(clips / clip / f"frame{t}.png")
    h5 = tmp_path / "same.h5"
    with h5py.File(h5, "w") as f:
        f["frames"] = frames
    out_png, out_h5 = tmp_path / "png.h5", tmp_path / "h5.h5"
    r = invoke("run", "toy-stream", "--input", clips / "a", "-o", out_png, "--seed", 2)
    assert r.exit_code == 0, r.output
    assert invoke("run", "toy-stream", "--input", h5, "-o", out_h5, "--seed", 2, "--quiet").exit_code == 0
    a, b = contents(out_png), contents(out_h5)
    assert all(a[k] == b[k] for k in ("/background", "/mask", "/background_final"))
    with h5py.File(out_png) as f:
        assert f["provenance"].attrs["input"] == str(clips / "a")
    (clips / "c.h5").write_bytes(h5.read_bytes())
    out = tmp_path / "out"
    r = invoke("batch", "toy-stream", clips, "-o", out, "--plot", "png")
    assert r.exit_code == 0, r.output
    assert tree(out) == ["a.h5", "a.png", "b.h5", "b.png", "c.h5", "c.png"]
    assert contents(out / "a.h5")["/mask"] == a["/mask"]
    one = tmp_path / "one"
    assert invoke("batch", "toy-stream", clips / "b", "-o", one, "--quiet").exit_code == 0   # the folder itself
    assert tree(one) == ["b.h5"]
    # a frame of another size names the file
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(clips / "a" / "frame99.png")
    # (with -o: without it a streamed run warns "result not saved" before it starts reading frames)
    r = CliRunner().invoke(main, ["run", "toy-stream", "--input", str(clips / "a"), "-o", str(tmp_path / "bad.h5")])
    assert r.exit_code == 3 and "frame99.png" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad.h5").exists()


# ------------------------------------------------------------------------------ kill in the middle of a stream
OPTS = ["--set", "block=16", "--set", "dither=0.01", "--set", "delay=0.05", "--seed", "5"]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")


def _trace(path):
    return [tuple(map(int, ln.split())) for ln in path.read_text().splitlines()] if path.exists() else []


def test_sigkill_in_the_middle_of_a_streamed_output_resumes_at_the_next_block(tmp_path):
    src = video_file(tmp_path / "long.h5", 400)   # 25 blocks of 16 frames, 50 ms each
    trace = tmp_path / "trace.txt"
    opts = OPTS + ["--set", f"trace={trace}"]
    ref = tmp_path / "ref"
    assert invoke("batch", "toy-stream", src, "-o", ref, *opts, "--quiet").exit_code == 0
    assert len(_trace(trace)) == 25
    trace.unlink()

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sensekit.cli", "batch", "toy-stream", str(src), "-o", str(out), *opts]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    work = out / ".sensekit-batch" / "long.h5.parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        # block 8 has started (its trace line is written before its 50 ms sleep) and block 7 is checkpointed
        if len(_trace(trace)) >= 9 and (work / "sample-000000.h5.ckpt.pt").exists():
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the batch finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "long.h5").exists()                       # never a partial output
    assert {"sample-000000.h5.partial.h5", "sample-000000.h5.ckpt.pt"} <= set(os.listdir(work))
    done_before = len(_trace(trace)) - 1                        # blocks finished before the kill (at least 8)

    trace.write_text("")
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # the killed batch's thread count: another count would start the file over
    try:
        r = invoke("batch", "toy-stream", src, "-o", out, *opts, "--resume")
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    resumed = _trace(trace)
    assert resumed[0][0] >= 16 * (done_before - 1) > 0          # continued, not restarted
    assert resumed[-1] == (384, 400) and len(resumed) <= 25 - (done_before - 1)
    assert tree(out) == ["long.h5"]                              # work folder gone
    assert contents(out / "long.h5") == contents(ref / "long.h5")   # byte-identical datasets, metrics, provenance


def test_unreadable_partial_output_restarts_the_sample_cleanly(tmp_path):
    from sensekit.app.base import make_config
    from sensekit.app.batch import Interrupted
    app = get_app("toy-stream")
    src = video_file(tmp_path / "v.h5", 100)
    trace = tmp_path / "trace.txt"
    cfg = make_config(app.Config, {"block": 10, "dither": 0.01, "trace": str(trace)})
    ref = process_file(plan(app, str(src), str(tmp_path / "ref"), cfg, seed=1)[0])
    assert ref.status == "done"

    task = plan(app, str(src), str(tmp_path / "out"), cfg, seed=1)[0]
    import sensekit.app.stream as stream
    real_save = stream.Checkpoint.save
    calls = []

    def save_then_stop(self, data):      # an interruption (as SIGTERM raises it) after the 4th block
        real_save(self, data)
        calls.append(data["next"])
        if len(calls) == 4:
            raise Interrupted(15)

    stream.Checkpoint.save = save_then_stop
    try:
        rep = process_file(task)
    finally:
        stream.Checkpoint.save = real_save
    assert rep.status == "interrupted" and "finished blocks" in rep.reason
    partial = os.path.join(task.workdir, "sample-000000.h5.partial.h5")
    trace.write_text("")
    resumed = process_file(plan(app, str(src), str(tmp_path / "out"), cfg, seed=1, resume=True)[0])
    assert resumed.status == "done" and _trace(trace)[0] == (40, 50)   # the SIGTERM case resumes at block 5
    assert contents(tmp_path / "out" / "v.h5") == contents(tmp_path / "ref" / "v.h5")

    # now the same interruption, then a partial file a kill left unreadable: the sample starts over, still identical
    out2 = tmp_path / "out2"
    task = plan(app, str(src), str(out2), cfg, seed=1)[0]
    calls.clear()
    stream.Checkpoint.save = save_then_stop
    try:
        assert process_file(task).status == "interrupted"
    finally:
        stream.Checkpoint.save = real_save
    partial = os.path.join(task.workdir, "sample-000000.h5.partial.h5")
    with open(partial, "r+b") as fh:
        fh.truncate(200)
    trace.write_text("")
    again = process_file(plan(app, str(src), str(out2), cfg, seed=1, resume=True)[0])
    assert again.status == "done" and _trace(trace)[0] == (0, 10)
    assert contents(out2 / "v.h5") == contents(tmp_path / "ref" / "v.h5")


def test_nan_in_a_late_block_names_the_file_and_leaves_nothing(tmp_path):
    src = tmp_path / "nan.h5"
    frames, _ = toy_video(50, 8, 8)
    f32 = frames.astype(np.float32) / 255
    f32[37, 2, 2] = np.nan
    with h5py.File(src, "w") as f:
        f["frames"] = f32
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["batch", "toy-stream", str(src), "-o", str(out), "--set", "block=8"])
    assert r.exit_code == 3 and "NaN" in r.output and "nan.h5" in r.output, r.output
    assert tree(out) == []
    r = CliRunner().invoke(main, ["run", "toy-stream", "--input", str(src), "-o", str(tmp_path / "x.h5")])
    assert r.exit_code == 3 and str(src) in r.output and not (tmp_path / "x.h5").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []   # no temporary left
