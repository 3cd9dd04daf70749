"""mri-recon on non-Cartesian golden-angle spiral input: simulation, methods vs gridding, spiral vs radial, maps."""
import json

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.apps.mri_recon import noncart
from sensekit.apps.mri_recon.app import Config
from sensekit.cli import main
from sensekit.io import read_group_attrs
from sensekit.linop import NUFFT
from sensekit.sim.trajectories import golden_angle_radial, golden_angle_spiral

from helpers import _loop_coil_maps, rat_cine_images


def run(*args):
    return CliRunner().invoke(main, ["run", "mri-recon", *map(str, args)], catch_exceptions=False)


def simulate(path, *sets):
    args = ["simulate", "mri-recon", "-o", str(path)]
    for s in sets:
        args += ["--set", s]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return path


def traj_file(path, img, traj, *, coils=4, noise=0.01, seed=0, with_maps=True):
    """An outside script's acquisition of images ``img`` (T, Y, X), peak 1, on the trajectory ``traj`` (T, S, 2):
    synthetic loop coils, k-space by a width-8 NUFFT (not the app's width-6 operator), complex noise of std
    ``noise``."""
    T, Y, X = img.shape
    maps = _loop_coil_maps(coils, Y, X)
    A = NUFFT(traj, (T, coils, Y, X), width=8)
    k = A(torch.from_numpy(img[:, None] * maps[None]).to(torch.complex128)).numpy()
    rng = np.random.default_rng(seed)
    k += noise * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2)
    with h5py.File(path, "w") as f:
        f["kspace"] = k.astype(np.complex64)
        f["kspace"].attrs["image_shape"] = np.array([Y, X])
        f["traj"] = traj.numpy().astype(np.float32)
        f["image_ref"] = img.astype(np.float32)
        if with_maps:
            f["sens_maps"] = maps.astype(np.complex64)
    return path


def phantom(n, T, seed=0):
    from sensekit.sim import dynamic_phantom
    img = dynamic_phantom(n, T, generator=torch.Generator().manual_seed(seed)).abs().numpy()
    return img / img.max()


def _scores(tmp_path, src, methods, *opts, tag=""):
    out = {}
    for m in methods:
        res = tmp_path / f"{tag}{m}.h5"
        r = run("--input", src, "-o", res, "--method", m, "--quiet", *opts)
        assert r.exit_code == 0, r.output
        out[m] = read_group_attrs(res, "metrics")
    return out


def test_spiral_interleaves_match_the_cartesian_sample_count():
    for n, R in ((32, 2), (64, 4), (128, 6), (32, 8)):
        N, S = noncart.spiral_interleaves(n, R)
        assert N == max(1, round(n / (4 * R))) and abs(N * S - n * n / R) <= N / 2 + 1e-9, (n, R, N, S)


def test_info_lists_spiral_pattern():
    r = CliRunner().invoke(main, ["info", "mri-recon"])
    assert r.exit_code == 0 and "spiral-nufft" in r.output and "radial-nufft" in r.output, r.output


# Measured (simulate: 32 x 32, 4 frames, 4 coils, accel 2 = 4 interleaves of 128 samples per frame, 1 % noise,
# maps estimated from the jointly gridded centre; max_iter 30; PSNR dB): zero-filled (density-compensated
# gridding) 25.62, tv 41.56 (+15.9), llr 37.24 (+11.6).
def test_simulate_spiral_nufft_then_tv_and_llr_beat_gridding(tmp_path):
    sim = simulate(tmp_path / "sim.h5", "pattern=spiral-nufft", "size=32", "frames=4", "coils=4", "accel=2")
    with h5py.File(sim) as f:
        assert f["kspace"].shape == (4, 4, 4 * 128) and f["traj"].shape == (4, 4 * 128, 2)
        assert f["kspace"].attrs["axes"] == "T,C,S" and f["image_ref"].shape == (4, 32, 32)
        assert json.loads(f["kspace"].attrs["image_shape"]) == [32, 32]
        tr = f["traj"][()]
    assert np.abs(tr).max() < 16 and np.abs(tr[0, 0]).max() == 0     # inside the extent, centre-out
    assert not np.allclose(tr[0], tr[1])                                # rotates from frame to frame
    s = _scores(tmp_path, sim, ("zero-filled", "tv", "llr"), "--set", "max_iter=30")
    print({k: round(v["psnr"], 2) for k, v in s.items()})
    assert s["tv"]["psnr"] >= s["zero-filled"]["psnr"] + 12, s
    assert s["llr"]["psnr"] >= s["zero-filled"]["psnr"] + 9, s
    with h5py.File(tmp_path / "tv.h5") as f:
        assert f["recon"].shape == (4, 32, 32) and f["sens_maps_estimated"].shape == (4, 32, 32)


# Issue 10's acceptance for spiral: a phantom at R = 4 within 1 dB of the same method on golden-angle radial data of
# the same sample count.  Measured (32 x 32 phantom, 8 frames, 4 known coils, 1 % noise, tv defaults; PSNR dB):
# spiral (2 interleaves of 128, density 1.5) 40.39, radial (8 spokes of 32) 40.39; at 64 x 64 (4 interleaves of 256
# vs 16 spokes of 64) 45.07 vs 44.62.
def test_spiral_within_1db_of_radial_at_the_same_sample_count(tmp_path):
    n, T, R = 32, 6, 4
    img = phantom(n, T)
    N, S = noncart.spiral_interleaves(n, R)
    assert N * S == n * n // R
    traj_file(tmp_path / "sp.h5", img, golden_angle_spiral(T, N, S, (n, n)))
    traj_file(tmp_path / "rad.h5", img, golden_angle_radial(T, n // R, n, (n, n)))
    out = {f: _scores(tmp_path, tmp_path / f"{f}.h5", ("tv",), tag=f)["tv"]["psnr"] for f in ("sp", "rad")}
    print(out)
    assert out["sp"] >= out["rad"] - 1.0, out
    assert out["sp"] > 35, out


# The coil maps of spiral data are estimated from the samples of all frames gridded jointly (one Pipe-Menon
# weighting on their union, noncart.gridded_kspace).  Measured (64 x 64 sim phantom, 8 frames, 4 coils, accel 4;
# mean residual |s - P_est s| of the true maps in the object): ESPIRiT 0.030 on spiral and 0.026 on radial; the
# former per-frame average of griddings gave 0.068 on spiral (tv 42.38 dB instead of 44.44).  Here (32 x 32,
# 8 frames, accel 4): 0.037 on spiral, 0.029 on radial; the per-frame average 0.059 on spiral (so the bound 0.05).
@pytest.mark.parametrize("pattern", ["spiral-nufft", "radial-nufft"])
def test_gridded_centre_maps_on_spiral_match_the_true_maps(tmp_path, pattern):
    from sensekit.sim import coil_maps
    sim = simulate(tmp_path / "sim.h5", f"pattern={pattern}", "size=32", "frames=8", "coils=4", "accel=4")
    with h5py.File(sim) as f:
        arrays = {k: f[k][()] for k in ("kspace", "traj", "image_ref")}
        attrs = {"kspace": dict(f["kspace"].attrs)}
    inp = noncart.prepare(arrays, attrs)
    true = coil_maps(4, (32, 32)).to(torch.complex64)
    est = noncart.estimate_maps(inp, Config())
    p = (est.conj() * true).sum(0) / (est.abs() ** 2).sum(0).clamp_min(1e-12)
    res = (true - est * p).norm(dim=0)
    obj = inp["image_ref"].abs().mean(0) > 0.05 * float(inp["image_ref"].abs().max())
    print(pattern, float(res[obj].mean()))
    assert float(res[obj].mean()) < 0.05, float(res[obj].mean())


# ----------------------------------------------------------------------------------------------- real data
# The real rat cine (8 frames, magnitude) cropped to its central 96 x 96 pixels, 4 synthetic loop coils (known
# maps), golden-angle spiral at R = 8 by samples (3 interleaves of 384 samples per frame, density 2), 1 % complex
# noise, k-space by a width-8 NUFFT; max_iter 60.  Measured (PSNR dB / SSIM): zero-filled 24.86 / 0.593, tv
# 37.40 / 0.948 (+12.5 dB), llr 35.30 / 0.889 (+10.4 dB).  Golden-angle radial with the same samples (12 spokes
# of 96) on the same crop: zero-filled 28.81, tv 37.94, llr 36.25 (spiral trails radial by 0.5-1 dB here; with
# density 1.5 it trailed by 2.1 dB in tv).  The margins keep 2.4-3.5 dB of slack.
@pytest.mark.realdata
def test_rat_cine_spiral_tv_and_llr_beat_density_compensated_gridding(tmp_path):
    img = rat_cine_images()
    c = 96
    y0, x0 = (img.shape[1] - c) // 2, (img.shape[2] - c) // 2
    img = img[:, y0:y0 + c, x0:x0 + c]
    N, S = noncart.spiral_interleaves(c, 8)
    src = traj_file(tmp_path / "rat.h5", img, golden_angle_spiral(img.shape[0], N, S, (c, c)))
    s = _scores(tmp_path, src, ("zero-filled", "tv", "llr"), "--set", "max_iter=60")
    print({k: (round(v["psnr"], 2), round(v["ssim"], 4)) for k, v in s.items()})
    assert s["tv"]["psnr"] >= s["zero-filled"]["psnr"] + MARGIN_TV, s
    assert s["llr"]["psnr"] >= s["zero-filled"]["psnr"] + MARGIN_LLR, s
    assert s["tv"]["ssim"] > s["zero-filled"]["ssim"] and s["llr"]["ssim"] > s["zero-filled"]["ssim"], s


MARGIN_TV, MARGIN_LLR = 9.0, 8.0
