"""mri-recon --plot: robust window, colorbars with units, series metrics labelled, no temporal panel when static."""
import numpy as np
import torch

from sensekit.plot import object_box, robust_max


def test_robust_window_and_crop():
    x = np.zeros((40, 60))
    x[10:20, 30:45] = 1.0
    x[12, 33] = 100.0   # one hot pixel does not set the window
    assert robust_max(x, 99.5) == 1.0
    sy, sx = object_box(x, margin=0.0)
    assert (sy.start, sy.stop, sx.start, sx.stop) == (10, 20, 30, 45)
    full = np.ones((40, 60))
    assert object_box(full) == (slice(0, 40), slice(0, 60))
    assert robust_max(np.zeros((4, 4))) == 1.0


def _figure(T, monkeypatch, tmp_path):
    from sensekit.apps.mri_recon import figures
    from sensekit.app.registry import get_app
    from sensekit.app.runner import simulated_sample
    app = get_app("mri-recon")
    sample = simulated_sample(app, quick=True)
    if T == 1:
        sample = {k: (v[:1] if k in ("kspace", "mask", "image_ref") else v) for k, v in sample.items()}
    cfg = app.Config(max_iter=5)
    res = app.run(sample, cfg, generator=torch.Generator().manual_seed(0))
    kept = {}
    monkeypatch.setattr(figures, "save", lambda fig, path, fmt: kept.setdefault("fig", fig))
    figures.recon_figure(app, sample, res.outputs, str(tmp_path / "f.png"), cfg)
    return kept["fig"]


def test_static_figure_has_no_temporal_panel(monkeypatch, tmp_path):
    fig = _figure(1, monkeypatch, tmp_path)
    images = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert len(images) == 4 and len(bars) == 4            # reference, zero-filled, tv, error: one column each
    assert all("frame" not in a.get_xlabel() for a in images)
    assert "tv" in fig._suptitle.get_text() and "1 frame" in fig._suptitle.get_text()
    assert all(b.get_ylabel() for b in bars) and "input units" in bars[-1].get_ylabel()


def test_dynamic_figure_labels_series_metrics(monkeypatch, tmp_path):
    fig = _figure(4, monkeypatch, tmp_path)
    images = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(images) == 4 * 4                            # 3 frames + the y-t profile, 4 rows
    labels = [a.get_ylabel() for a in images if a.get_ylabel()]
    assert any("mean over 4 frames" in s and "PSNR" in s for s in labels)
    assert "llr-tv" in fig._suptitle.get_text()


def test_stored_reference_recon_gets_its_own_row(monkeypatch, tmp_path):
    import pytest
    from sensekit.apps.mri_recon import figures
    from sensekit.app.registry import get_app
    from sensekit.app.runner import simulated_sample
    from sensekit.io.errors import InputError
    app = get_app("mri-recon")
    s = simulated_sample(app, quick=True)
    T, C, Y, X = s["kspace"].shape
    arrays = {"kspace": s["kspace"].numpy(), "mask": s["mask"].numpy(),
              "reference_recon": 3.0 * s["image_ref"].numpy()[:, None]}
    lay = {"kspace": list("TCYX"), "mask": list("TYX"), "reference_recon": list("TSYX")}
    sample = app.prepare(arrays, {}, lay)
    assert sample["reference_recon"].shape == (T, 1, Y, X)
    cfg = app.Config(max_iter=3)
    res = app.run(sample, cfg, generator=torch.Generator().manual_seed(0))
    kept = {}
    monkeypatch.setattr(figures, "save", lambda fig, path, fmt: kept.setdefault("fig", fig))
    figures.recon_figure(app, sample, res.outputs, str(tmp_path / "f.png"), cfg)
    fig = kept["fig"]
    labels = [a.get_ylabel() for a in fig.axes if a.get_label() != "<colorbar>" and a.get_ylabel()]
    assert labels[-1].startswith("stored recon") and "not scored" in labels[-1]
    bars = [a.get_ylabel() for a in fig.axes if a.get_label() == "<colorbar>"]
    assert "its own units" in bars[-1]
    with pytest.raises(InputError, match="reference_recon"):
        app.prepare({**arrays, "reference_recon": np.zeros((T, 1, Y + 1, X), np.complex64)}, {}, lay)
