"""mri-recon end to end: contract files written by outside scripts, layouts, static and batched inputs."""
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.io import read_group_attrs

from helpers import outside_mri_file, rat_cine_file as _rat_cine_file


def run(*args):
    r = CliRunner().invoke(main, ["run", "mri-recon", *map(str, args)], catch_exceptions=False)
    return r


def metrics_of(path):
    return read_group_attrs(path, "metrics")


def test_ls_beats_baselines_on_outside_file(tmp_path):
    src = tmp_path / "in.h5"
    outside_mri_file(src, T=8, C=6, Y=64, X=48, accel=4, noise=0.005)
    scores = {}
    for m in ("zero-filled", "cg-sense", "ls"):
        out = tmp_path / f"{m}.h5"
        r = run("--input", src, "-o", out, "--method", m, "--quiet")
        assert r.exit_code == 0, r.output
        scores[m] = metrics_of(out)
    assert scores["ls"]["psnr"] > scores["zero-filled"]["psnr"] + 5
    assert scores["ls"]["psnr"] > scores["cg-sense"]["psnr"] + 1
    assert scores["ls"]["ssim"] > scores["zero-filled"]["ssim"]


@pytest.mark.parametrize("layout", ["T,Y,X", "T,Y,1", "Y,X", None])
def test_mask_layouts_agree(tmp_path, layout):
    src = tmp_path / "in.h5"
    if layout == "Y,X":
        outside_mri_file(src, T=1, mask_layout=layout)
    else:
        outside_mri_file(src, with_mask=layout is not None, mask_layout=layout or "T,Y,X")
    out = tmp_path / "o.h5"
    r = run("--input", src, "-o", out, "--method", "zero-filled", "--quiet")
    assert r.exit_code == 0, r.output
    ref = tmp_path / "ref.h5"
    outside_mri_file(ref, T=1 if layout == "Y,X" else 6)
    run("--input", ref, "-o", tmp_path / "r.h5", "--method", "zero-filled", "--quiet")
    with h5py.File(out) as a, h5py.File(tmp_path / "r.h5") as b:
        assert np.allclose(a["recon"][()], b["recon"][()], atol=1e-5)


def test_static_image_and_ls_needs_frames(tmp_path):
    src = tmp_path / "static.h5"
    outside_mri_file(src, T=1, C=8, accel=2)
    out = tmp_path / "o.h5"
    r = run("--input", src, "-o", out, "--method", "cg-sense", "--set", "lam=0.01")
    assert r.exit_code == 0, r.output
    zf = tmp_path / "zf.h5"
    run("--input", src, "-o", zf, "--method", "zero-filled", "--quiet")
    assert metrics_of(out)["psnr"] > metrics_of(zf)["psnr"] + 3
    r = run("--input", src, "-o", tmp_path / "x.h5", "--method", "ls")
    assert r.exit_code == 3 and "needs a dynamic series" in r.output and not (tmp_path / "x.h5").exists()


def test_supplied_maps_are_used(tmp_path):
    src = tmp_path / "maps.h5"
    outside_mri_file(src, with_maps=True, accel=2, T=4)
    with h5py.File(src, "a") as f:  # maps scaled by 2: the SENSE image halves
        f["sens_maps"][...] = 2 * f["sens_maps"][()]
    out = tmp_path / "o.h5"
    assert run("--input", src, "-o", out, "--method", "cg-sense", "--set", "max_iter=50", "--quiet").exit_code == 0
    with h5py.File(out) as f, h5py.File(src) as g:
        ratio = np.abs(f["recon"][()]).max() / np.abs(g["image_ref"][()]).max()
    assert 0.4 < ratio < 0.6


def test_sample_axis_and_complex128(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    outside_mri_file(a, seed=1, dtype=np.complex128)
    outside_mri_file(b, seed=2, dtype=np.complex128)
    src = tmp_path / "n.h5"
    with h5py.File(a) as fa, h5py.File(b) as fb, h5py.File(src, "w") as f:
        for name in ("kspace", "mask", "image_ref"):
            f.create_dataset(name, data=np.stack([fa[name][()], fb[name][()]]))
        f["kspace"].attrs["axes"] = "N,T,C,Y,X"
    out = tmp_path / "o.h5"
    r = run("--input", src, "-o", out, "--method", "ls", "--set", "max_iter=20")
    assert r.exit_code == 0, r.output and "samples=2" in r.output
    with h5py.File(out) as f:
        assert f["recon"].shape == (2, 6, 48, 40) and f["recon"].attrs["axes"] == "N,T,Y,X"
        assert f["recon"].dtype == np.complex64


def test_default_run_is_the_readme_job(tmp_path):
    # `sensekit run mri-recon` on the built-in simulation prints PSNR/SSIM against the truth
    out = tmp_path / "o.h5"
    r = run("-o", out)
    assert r.exit_code == 0, r.output
    m = metrics_of(out)
    assert "psnr=" in r.output and "ssim=" in r.output
    zf = tmp_path / "zf.h5"
    run("-o", zf, "--method", "zero-filled", "--quiet")
    assert m["psnr"] > metrics_of(zf)["psnr"] + 8


def test_coil_map_estimate_matches_truth():
    from sensekit.apps.mri_recon.calib import lowres_maps
    from sensekit.sim import coil_maps, dynamic_phantom, cartesian_mask
    from sensekit.linop import fftc
    g = torch.Generator().manual_seed(0)
    img = dynamic_phantom(64, 8, generator=g)
    maps = coil_maps(6, (64, 64))
    mask = cartesian_mask(8, (64, 64), 4, acs=12, generator=g)
    k = fftc(img[:, None] * maps[None]) * mask[:, None]
    est = lowres_maps(k, mask)
    # compare after removing the common phase of the object, inside the object
    support = img.abs().mean(0) > 0.2
    rel = (est * maps.conj()).sum(0)
    est_aligned = est * torch.exp(-1j * torch.angle(rel))
    err = (est_aligned - maps).abs()[:, support].mean() / maps.abs()[:, support].mean()
    assert err < 0.1


# ------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
@pytest.mark.parametrize("accel", [6, 8])
def test_rat_cine_ls_beats_baselines(tmp_path, accel):
    src = tmp_path / "rat.h5"
    actual = _rat_cine_file(src, accel=accel)
    assert abs(actual - accel) < 0.5
    scores = {}
    for m in ("zero-filled", "cg-sense", "ls"):
        out = tmp_path / f"{m}.h5"
        r = run("--input", src, "-o", out, "--method", m, "--quiet")
        assert r.exit_code == 0, r.output
        scores[m] = metrics_of(out)
    print({m: round(s["psnr"], 2) for m, s in scores.items()})
    assert scores["ls"]["psnr"] >= scores["zero-filled"]["psnr"] + 5.0
    assert scores["ls"]["psnr"] >= scores["cg-sense"]["psnr"] + 3.0
    assert scores["ls"]["ssim"] > max(scores["zero-filled"]["ssim"], scores["cg-sense"]["ssim"])
