"""Figure helpers shared by apps and the gallery (matplotlib, Agg backend, imported lazily)."""
from __future__ import annotations

import numpy as np


def pyplot():
    """matplotlib.pyplot with a non-interactive backend.

    Returns
    -------
    module
        The ``matplotlib.pyplot`` module.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def to_image(x: np.typing.ArrayLike) -> np.ndarray:
    """Magnitude of a tensor/array as a float numpy array.

    Returns
    -------
    numpy.ndarray
        ``|x|`` as ``float64``.
    """
    try:
        import torch
        if torch.is_tensor(x):
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.abs(np.asarray(x)).astype(np.float64)


def show(ax, img, title: str = "", vmax: float | None = None, cmap: str = "gray", vmin: float = 0.0):
    """Show the magnitude of ``img`` on ``ax`` without ticks, titled ``title``.

    Returns
    -------
    matplotlib.image.AxesImage
        The image drawn on ``ax`` (for a colorbar).
    """
    im = ax.imshow(to_image(img), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def robust_max(x, percentile: float = 99.5) -> float:
    """Display white level: the ``percentile`` of the magnitude (robust to a few bright pixels); 1 if all zero.

    Returns
    -------
    float
        The white level.
    """
    m = to_image(x)
    m = m[np.isfinite(m)]
    v = float(np.percentile(m, percentile)) if m.size else 0.0
    if v <= 0:
        v = float(m.max()) if m.size and m.max() > 0 else 1.0
    return v


def object_box(x, *, level: float = 0.05, margin: float = 0.08, min_fraction: float = 0.7):
    """``(slice_y, slice_x)`` around where the magnitude (max over leading axes) exceeds ``level`` × its
    robust maximum, with a ``margin``; the whole image when the object already fills ``min_fraction`` of it.

    Returns
    -------
    tuple[slice, slice]
        The crop (the whole image when no useful box is found).
    """
    m = to_image(x)
    m = m.reshape((-1,) + m.shape[-2:]).max(axis=0)
    Y, X = m.shape
    ys, xs = np.nonzero(m > level * robust_max(m))
    if ys.size == 0:
        return slice(0, Y), slice(0, X)
    dy, dx = int(margin * Y), int(margin * X)
    y0, y1 = max(0, ys.min() - dy), min(Y, ys.max() + 1 + dy)
    x0, x1 = max(0, xs.min() - dx), min(X, xs.max() + 1 + dx)
    if (y1 - y0) * (x1 - x0) >= min_fraction * Y * X:
        return slice(0, Y), slice(0, X)
    return slice(y0, y1), slice(x0, x1)


def colorbar(fig, im, ax, label: str):
    """A colorbar for the image ``im`` beside ``ax`` (an axes or a list of axes), labelled with its unit.

    Returns
    -------
    matplotlib.colorbar.Colorbar
        The colorbar.
    """
    cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return cb


def save(fig, path: str, fmt: str = "png", dpi: int = 120) -> None:
    fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)


# ----------------------------------------------------------------------------- gallery helpers
def quick() -> bool:
    """True when the gallery runs in smoke mode (``SENSEKIT_GALLERY_QUICK=1``): use small sizes, few iterations.

    Returns
    -------
    bool
        Whether smoke mode is on.
    """
    import os
    return os.environ.get("SENSEKIT_GALLERY_QUICK", "") not in ("", "0")


def require(module: str, extra: str):
    """Import an optional package for a gallery script, or skip the script (exit code 77) naming the extra.

    A figure that needs, say, PyAV to decode a video cannot be drawn without it; this says so and lets
    ``sensekit gallery`` report the script as *skipped* rather than failed.

    Returns
    -------
    module
        The imported module.
    """
    import importlib
    import sys
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"skipped: needs the optional package {module!r}: pip install 'sensekit[{extra}]'")
        sys.exit(77)


def data_file(relpath: str):
    """Path of a real data file under ``$SENSEKIT_DATA`` (default: ``shared/data`` beside the checkout).

    When the file is absent a gallery script cannot draw its figure: this
    prints why and exits with code 77, which ``sensekit gallery`` reports as
    *skipped* (never as a figure of something else).

    Returns
    -------
    pathlib.Path
        The path of the file.
    """
    import os
    import pathlib
    import sys
    base = os.environ.get("SENSEKIT_DATA")
    base = pathlib.Path(base) if base else pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    path = base / relpath
    if not path.exists():
        print(f"skipped: real data {relpath} not found under {base} (set SENSEKIT_DATA)")
        sys.exit(77)
    return path
