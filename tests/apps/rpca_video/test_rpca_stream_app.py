"""rpca-video through the runner's stream interface: streamed = in memory, bounded memory, resumable state."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.app.base import make_config
from sensekit.app.registry import get_app
from sensekit.app.runner import simulated_sample
from sensekit.apps.rpca_video import options as O, stream as St
from sensekit.apps.rpca_video.app import METHOD_OPTIONS, method_options
from sensekit.cli import main
from sensekit.core.random import make_generator


@pytest.fixture(scope="module")
def app():
    return get_app("rpca-video")


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("sim") / "sim.h5"
    r = CliRunner().invoke(main, ["simulate", "rpca-video", "-o", str(p), "--set", "frames=70", "--set", "height=24",
                                  "--set", "width=32", "--seed", "2"])
    assert r.exit_code == 0, r.output
    return p


def test_every_method_option_reaches_the_config(app):
    """Each option of each method's class is a Config field (so --set and info reach it)."""
    fields = {f for f in app.Config.__dataclass_fields__}
    for m, (cls, _) in METHOD_OPTIONS.items():
        missing = set(cls.__dataclass_fields__) - fields
        assert not missing, (m, missing)
        opts = method_options(make_config(app.Config, {"method": m}))
        assert opts == cls()                     # the Config defaults are the method's own defaults


@pytest.mark.parametrize("method", ["rsvddpd-stream", "median-stream", "median"])
def test_streamed_file_equals_in_memory_run(app, sim_file, tmp_path, method):
    out = tmp_path / "out.h5"
    r = CliRunner().invoke(main, ["run", "rpca-video", "--input", str(sim_file), "-o", str(out), "--method", method,
                                  "--set", "block=16", "--quiet"])
    assert r.exit_code == 0, r.output
    cfg = make_config(app.Config, {"method": method, "block": 16})
    with h5py.File(sim_file) as f:
        arrays = {k: f[k][()] for k in ("frames", "gt_masks")}
    sample = app.prepare(arrays, {}, {})
    mem = app.run(sample, cfg, generator=make_generator(0)).outputs
    with h5py.File(out) as f:
        assert f["background"].attrs["axes"] == "T,H,W" and f["mask"].dtype == bool
        assert f["threshold"].shape == (70, 1)
        for k in ("background", "foreground", "mask", "threshold"):
            np.testing.assert_allclose(f[k][()], mem[k].numpy(), atol=1e-6, err_msg=k)
        m = dict(f["metrics"].attrs)
    if method != "median":                       # the phase-1 method functions over the clip: the same blocks
        fn, Opt, _ = St.METHODS[method]
        ref, _, ref_info = fn({"frames": sample["frames"]}, Opt(block=16))
        np.testing.assert_array_equal(mem["mask"].numpy(), ref["mask"].numpy())
        np.testing.assert_allclose(mem["background"].numpy(), ref["background"].numpy(), atol=1e-6)
        with h5py.File(out) as f:                # one threshold per block of 16 frames
            thr = f["threshold"][:, 0]
        assert all(len(np.unique(thr[s:s + 16])) == 1 for s in range(0, 70, 16))
        np.testing.assert_allclose(thr[::16], [b[0] for b in ref_info["threshold"]], rtol=1e-6)
    # pooled over the blocks: recomputing F from the summed counts
    assert m["f_measure"] == pytest.approx(2 * m["tp"] / (2 * m["tp"] + m["fp"] + m["fn"]))


def test_stream_state_survives_a_checkpoint(app, tmp_path):
    """The state between blocks is what batch checkpoints: torch.save / load(weights_only=True) round trip."""
    sample = simulated_sample(app, quick=True)
    for method in ("rsvddpd-stream", "median-stream"):
        cfg = make_config(app.Config, {"method": method, "block": 8})
        gen = make_generator(0)
        from sensekit.app.base import StreamInfo
        info = StreamInfo(length=24, block=8, shapes={"frames": tuple(sample["frames"].shape)}, attrs={})
        state = app.start_stream(info, cfg, generator=gen)
        outs, state = app.run_block({"frames": sample["frames"][:8]}, state, cfg, start=0, generator=gen)
        torch.save(state, tmp_path / "s.pt")
        back = torch.load(tmp_path / "s.pt", weights_only=True)
        a, _ = app.run_block({"frames": sample["frames"][8:16]}, state, cfg, start=8, generator=gen)
        b, _ = app.run_block({"frames": sample["frames"][8:16]}, back, cfg, start=8, generator=gen)
        for k in a:
            assert torch.equal(a[k], b[k]), (method, k)


def test_whole_clip_method_refuses_a_clip_over_the_memory_limit(sim_file, tmp_path):
    r = CliRunner().invoke(main, ["run", "rpca-video", "--input", str(sim_file), "--method", "rsvddpd",
                                  "--set", "memory_limit_gb=0.0001", "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3 and "rsvddpd-stream" in r.output and "memory_limit_gb" in r.output, r.output
    assert not (tmp_path / "o.h5").exists()


# VmHWM (this process's own peak RSS), not ru_maxrss: on Linux ru_maxrss also counts the parent's RSS at the fork
_RSS = ("import sys; from sensekit.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0].split()[1]\n"
        "print('MAXRSS', hwm)\n")


def _peak(src, out, method):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-c", _RSS, "run", "rpca-video", "--input", str(src), "-o", str(out),
                        "--quiet", "--method", method], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return int(p.stdout.split("MAXRSS")[1]) * 1024      # KiB


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux) for the peak RSS")
def test_peak_rss_of_a_streamed_run_does_not_grow_with_the_number_of_frames(tmp_path):
    """rsvddpd-stream on 24x32 clips of 400 and 2,000 frames, blocks of 50, in a fresh process each.

    Bound: the 2,000-frame run's peak RSS exceeds the 400-frame run's by less than 6 MiB, while its float32
    background and foreground alone are 12.3 MB; the whole-clip median on the same 2,000 frames (which holds
    them in memory) peaks at least 15 MiB higher, so the measurement does see a clip held whole.
    """
    rss = {}
    for T in (400, 2000):
        src = tmp_path / f"v{T}.h5"
        r = CliRunner().invoke(main, ["simulate", "rpca-video", "-o", str(src), "--set", f"frames={T}",
                                      "--set", "height=24", "--set", "width=32"])
        assert r.exit_code == 0, r.output
        rss[T] = _peak(src, tmp_path / f"o{T}.h5", "rsvddpd-stream")
        with h5py.File(tmp_path / f"o{T}.h5") as f:
            assert f["background"].shape == (T, 24, 32)
            assert f["background"].chunks[0] <= 50
    whole = _peak(tmp_path / "v2000.h5", tmp_path / "m2000.h5", "median")
    print("peak RSS MiB", {k: v / 2 ** 20 for k, v in rss.items()}, "whole-clip median", whole / 2 ** 20)
    assert rss[2000] - rss[400] < 6 << 20, rss
    assert whole - rss[2000] > 15 << 20, (whole, rss)


def test_stream_options_are_checked_per_method(sim_file):
    # rsvddpd takes alpha < 0 (its alpha rule); the streaming one does not
    r = CliRunner().invoke(main, ["run", "rpca-video", "--input", str(sim_file), "--method", "rsvddpd-stream",
                                  "--set", "alpha=-0.5"])
    assert r.exit_code == 3 and "alpha" in r.output and "rsvddpd-stream" in r.output, r.output
    assert O.StreamDPDOptions().block == 50
