"""mri-recon saves the coil maps it estimated (sens_maps_estimated) and --plot reuses them."""
import h5py
import numpy as np
import torch
from click.testing import CliRunner

from sensekit.cli import main

from helpers import outside_mri_file


def run(*args):
    return CliRunner().invoke(main, ["run", "mri-recon", *map(str, args)], catch_exceptions=False)


def test_estimated_maps_saved_and_reused_by_plot(tmp_path, monkeypatch):
    from sensekit.apps.mri_recon import calib
    src, out, fig = tmp_path / "in.h5", tmp_path / "o.h5", tmp_path / "f.png"
    outside_mri_file(src, T=2, C=3, Y=32, X=32, accel=2)
    calls = []
    real = calib.espirit_maps

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(calib, "espirit_maps", counted)
    r = run("--input", src, "-o", out, "--plot", fig, "--method", "cg-sense", "--set", "max_iter=5", "--quiet")
    assert r.exit_code == 0, r.output
    assert len(calls) == 1 and fig.stat().st_size > 0   # the figure did not estimate the maps again
    with h5py.File(out) as f, h5py.File(src) as g:
        maps = f["sens_maps_estimated"][()]
        assert maps.dtype == np.complex64 and maps.shape == (3, 32, 32)
        assert f["sens_maps_estimated"].attrs["axes"] == "C,Y,X"
        k, m = torch.from_numpy(g["kspace"][()]), torch.from_numpy(g["mask"][()].astype(bool))
    again = real(k, m, calib=24, kernel=6, thresh=0.02, crop=0.9)
    assert np.allclose(maps, again.numpy(), atol=1e-6)


def test_no_estimated_maps_when_supplied(tmp_path):
    src, out = tmp_path / "in.h5", tmp_path / "o.h5"
    outside_mri_file(src, T=2, C=3, Y=32, X=32, accel=2, with_maps=True)
    assert run("--input", src, "-o", out, "--method", "zero-filled", "--quiet").exit_code == 0
    with h5py.File(out) as f:
        assert "sens_maps_estimated" not in f and "recon" in f
