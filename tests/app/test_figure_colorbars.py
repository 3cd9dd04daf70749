"""Every app's `--plot` figure states the display scale of every image panel with a labelled colorbar."""
import matplotlib.figure
import pytest
from click.testing import CliRunner

from sensekit.app.registry import app_names, get_app
from sensekit.cli import main


def _scale(im):
    return (round(float(im.norm.vmin), 9), round(float(im.norm.vmax), 9), im.get_cmap().name)


@pytest.mark.parametrize("name", app_names())
def test_every_image_panel_has_a_labelled_colorbar(name, tmp_path, monkeypatch):
    app = get_app(name)
    figs = []
    real = matplotlib.figure.Figure.savefig

    def keep(fig, *a, **k):
        figs.append(fig)
        return real(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    src = tmp_path / "in.h5"
    r = CliRunner().invoke(main, ["simulate", name, "-o", str(src),
                                  *[f"--set={k}={v}" for k, v in app.quick_sim.items()]], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["run", name, "--input", str(src), "--plot", str(tmp_path / "f.png"), "--quiet",
                                  *[f"--set={k}={v}" for k, v in app.quick_options.items()]], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert figs, "no figure written"
    fig = figs[-1]
    axes = list(fig.axes) + [c for ax in fig.axes for c in ax.child_axes]   # inset colorbars are children
    bars = [ax._colorbar for ax in axes if getattr(ax, "_colorbar", None) is not None]
    stated = {_scale(cb.mappable): cb.ax.get_ylabel() or cb.ax.get_xlabel() for cb in bars}
    assert all(stated.values()), f"{name}: a colorbar without a label (unit): {stated}"
    panels = [ax for ax in axes if ax.images and getattr(ax, "_colorbar", None) is None]
    unstated = []
    for ax in panels:
        for im in ax.images:
            if im.get_array() is not None and im.get_array().ndim == 3:
                continue   # an RGB(A) image: its colours are the data, there is no scale to state
            if _scale(im) not in stated:
                unstated.append(ax.get_title() or ax.get_ylabel() or "(untitled)")
    assert not unstated, f"{name}: image panels whose scale no colorbar states: {unstated}"
