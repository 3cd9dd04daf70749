"""mri-recon on non-Cartesian (golden-angle radial) input: contract checks, methods, simulation, real data."""
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.io import read_group_attrs
from sensekit.linop import NUFFT
from sensekit.sim.trajectories import golden_angle_radial

from helpers import _loop_coil_maps, rat_cine_images


def run(*args):
    return CliRunner().invoke(main, ["run", "mri-recon", *map(str, args)], catch_exceptions=False)


def radial_file(path, img, *, spokes, coils=8, noise=0.01, seed=0, with_maps=True, shared=False, **extra):
    """An outside script's radial acquisition of images ``img`` (T, Y, X), peak 1: golden-angle spokes of Y
    samples, k-space by a width-8 NUFFT (relative error ~1e-7 of the exact sum: not the app's width-6
    operator), complex Gaussian noise of std ``noise``; ``extra`` datasets / overrides are written as given."""
    T, Y, X = img.shape
    maps = _loop_coil_maps(coils, Y, X)
    traj = golden_angle_radial(1 if shared else T, spokes, Y, (Y, X))
    traj = traj[0] if shared else traj
    A = NUFFT(traj, (T, coils, Y, X) if not shared else (T, coils, Y, X), width=8)
    k = A(torch.from_numpy(img[:, None] * maps[None]).to(torch.complex128)).numpy()
    rng = np.random.default_rng(seed)
    k += noise * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2)
    data = {"kspace": k.astype(np.complex64), "traj": traj.numpy().astype(np.float32),
            "image_ref": img.astype(np.float32)}
    if with_maps:
        data["sens_maps"] = maps.astype(np.complex64)
    data.update(extra)
    with h5py.File(path, "w") as f:
        for name, v in data.items():
            if v is not None:
                f[name] = v
        if "kspace" in f:
            f["kspace"].attrs["image_shape"] = np.array([Y, X])
    return path


def small_series(T=4, n=32, seed=0):
    from sensekit.sim import dynamic_phantom
    img = dynamic_phantom(n, T, generator=torch.Generator().manual_seed(seed)).abs().numpy()
    return img / img.max()


def _scores(tmp_path, src, methods, *opts):
    out = {}
    for m in methods:
        res = tmp_path / f"{m}.h5"
        r = run("--input", src, "-o", res, "--method", m, "--quiet", *opts)
        assert r.exit_code == 0, r.output
        out[m] = read_group_attrs(res, "metrics")
    return out


# Measured (32 x 32 phantom, 4 frames, 8 golden-angle spokes per frame, 4 coils, 1 % noise, known maps; PSNR dB):
# zero-filled (density-compensated gridding at its least-squares scale) 25.13, cg-sense 30.17, tv 39.20,
# llr 35.93 (max_iter 40).
def test_generic_methods_run_on_radial_input_and_beat_gridding(tmp_path):
    src = radial_file(tmp_path / "in.h5", small_series(), spokes=8, coils=4)
    s = _scores(tmp_path, src, ("zero-filled", "cg-sense", "tv", "llr"), "--set", "max_iter=40")
    print({k: round(v["psnr"], 2) for k, v in s.items()})
    for m, margin in (("cg-sense", 3.0), ("tv", 10.0), ("llr", 8.0)):
        assert s[m]["psnr"] > s["zero-filled"]["psnr"] + margin, s
    assert s["tv"]["psnr"] > s["cg-sense"]["psnr"] + 2, s


def test_shared_trajectory_and_estimated_maps(tmp_path):
    """traj (S, 2) shared by the frames, no sens_maps (estimated from the gridded centre), a given dcf."""
    img = small_series()
    spokes = 16
    r = np.linalg.norm(golden_angle_radial(1, spokes, 32)[0].numpy(), axis=-1)
    src = radial_file(tmp_path / "in.h5", img, spokes=spokes, coils=4, shared=True, with_maps=False,
                      dcf=np.maximum(r, 0.25).astype(np.float32))
    s = _scores(tmp_path, src, ("zero-filled", "tv"), "--set", "max_iter=40")
    assert s["tv"]["psnr"] > s["zero-filled"]["psnr"] + 5, s
    with h5py.File(tmp_path / "tv.h5") as f:
        assert f["sens_maps_estimated"].shape == (4, 32, 32)
        assert f["recon"].shape == (4, 32, 32)


def test_simulate_radial_nufft_runs(tmp_path):
    sim = tmp_path / "sim.h5"
    r = CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(sim), "--set", "pattern=radial-nufft",
                                  "--set", "size=32", "--set", "frames=4", "--set", "coils=2", "--set", "accel=2"])
    assert r.exit_code == 0, r.output
    with h5py.File(sim) as f:
        assert f["kspace"].shape == (4, 2, 16 * 32) and f["traj"].shape == (4, 16 * 32, 2)
        assert list(f["kspace"].attrs["axes"].split(",")) == ["T", "C", "S"]
    s = _scores(tmp_path, sim, ("zero-filled", "tv"), "--set", "max_iter=30", "--plot", tmp_path / "fig.png")
    assert s["tv"]["psnr"] > s["zero-filled"]["psnr"] + 3, s
    assert (tmp_path / "fig.png").stat().st_size > 10_000     # --plot: gridding row, tv row, error row


# Issue 10's acceptance: a radial phantom at R = 4 within 1 dB of the same method on the equivalent Cartesian data.
# Measured (64 x 64 phantom, 8 frames, 4 known coils, 1 % noise, tv defaults): golden-angle radial, 16 spokes of
# 64 samples (1024 per frame) 44.62 dB; Cartesian pseudo-radial mask (`radial` pattern, R = 3.87, 1080 samples
# per frame) 45.03 dB.
def test_radial_within_1db_of_cartesian_pseudo_radial(tmp_path):
    from sensekit.sim import dynamic_phantom
    from sensekit.sim.masks import sampling_mask

    from helpers import pattern_acquisition_file
    n, T = 64, 8
    img = dynamic_phantom(n, T, generator=torch.Generator().manual_seed(0)).abs().numpy()
    img = img / img.max()
    radial_file(tmp_path / "rad.h5", img, spokes=n // 4, coils=4)
    mask = sampling_mask("radial", T, (n, n), 4.0, generator=torch.Generator().manual_seed(0)).numpy()
    R = pattern_acquisition_file(tmp_path / "cart.h5", img, mask, coils=4)
    assert 3.5 < R < 4.5
    out = {}
    for f in ("rad", "cart"):
        r = run("--input", tmp_path / f"{f}.h5", "-o", tmp_path / f"{f}-tv.h5", "--method", "tv", "--quiet")
        assert r.exit_code == 0, r.output
        out[f] = read_group_attrs(tmp_path / f"{f}-tv.h5", "metrics")["psnr"]
    assert out["rad"] >= out["cart"] - 1.0, out


def test_rim_refuses_radial_input(tmp_path):
    src = radial_file(tmp_path / "in.h5", small_series(T=2), spokes=8, coils=2)
    r = run("--input", src, "--method", "rim", "--quiet")
    assert r.exit_code == 3 and "method 'rim'" in r.output and "non-Cartesian" in r.output, r.output


@pytest.mark.parametrize("change, name", [
    ({"traj": np.zeros((3, 5, 2), np.float32)}, "traj"),
    ({"traj": np.full((4, 8 * 32, 2), 40.0, np.float32)}, "traj"),
    ({"dcf": np.ones((4, 7), np.float32)}, "dcf"),
    ({"sens_maps": np.ones((2, 16, 16), np.complex64), "image_ref": None}, "sens_maps"),
    ({"mask": np.ones((4, 32, 32), np.uint8)}, "mask"),
    ({"sens_maps": None, "image_ref": None, "_no_shape": True}, "image_shape"),
])
def test_inconsistent_radial_inputs_exit_3_naming_the_dataset(tmp_path, change, name):
    extra = dict(change)
    no_shape = extra.pop("_no_shape", None)
    src = radial_file(tmp_path / "in.h5", small_series(), spokes=8, coils=2, **extra)
    if no_shape:
        with h5py.File(src, "a") as f:
            del f["kspace"].attrs["image_shape"]
    r = run("--input", src, "--quiet")
    assert r.exit_code == 3, r.output
    assert f"'{name}'" in r.output or name in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output


def test_cartesian_3d_kspace_without_traj_is_refused(tmp_path):
    src = tmp_path / "in.h5"
    with h5py.File(src, "w") as f:
        f["kspace"] = np.ones((2, 3, 40), np.complex64)
    r = run("--input", src, "--quiet")
    assert r.exit_code == 3 and "'kspace'" in r.output, r.output


# ----------------------------------------------------------------------------------------------- real data
# The real rat cine (8 frames, magnitude) cropped to its central 128 x 128 pixels (the heart and its
# surroundings; the crop keeps the test near a minute), 4 synthetic loop coils (known maps), golden-angle radial
# sampling with 16 spokes of 128 samples per frame (acceleration 8 by samples; 128·π/2 ≈ 201 spokes would be
# radially fully sampled), 1 % complex noise, k-space by a width-8 NUFFT.  Default weights, max_iter 60.
# Measured (PSNR dB / SSIM): zero-filled (density-compensated gridding at its least-squares scale against the
# samples) 30.72 / 0.744, tv 38.83 / 0.957 (+8.1 dB), llr 37.77 / 0.931 (+7.05 dB); 8 s on an idle core, 62 s
# on the loaded shared machine.  The margins below keep ~2 dB of slack.
@pytest.mark.realdata
def test_rat_cine_radial_tv_and_llr_beat_density_compensated_gridding(tmp_path):
    img = rat_cine_images()
    y0, x0 = (img.shape[1] - 128) // 2, (img.shape[2] - 128) // 2
    src = radial_file(tmp_path / "rat.h5", img[:, y0:y0 + 128, x0:x0 + 128], spokes=16, coils=4)
    s = _scores(tmp_path, src, ("zero-filled", "tv", "llr"), "--set", "max_iter=60")
    print({k: (round(v["psnr"], 2), round(v["ssim"], 4)) for k, v in s.items()})
    assert s["tv"]["psnr"] >= s["zero-filled"]["psnr"] + MARGIN_TV, s
    assert s["llr"]["psnr"] >= s["zero-filled"]["psnr"] + MARGIN_LLR, s
    assert s["tv"]["ssim"] > s["zero-filled"]["ssim"] and s["llr"]["ssim"] > s["zero-filled"]["ssim"], s


MARGIN_TV, MARGIN_LLR = 6.0, 5.0
