"""Figure helpers shared by apps and the gallery (matplotlib, Agg backend, imported lazily)."""
from __future__ import annotations

import numpy as np


def pyplot():
    """matplotlib.pyplot with a non-interactive backend."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def to_image(x) -> np.ndarray:
    """Magnitude of a tensor/array as a float numpy array."""
    try:
        import torch
        if torch.is_tensor(x):
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.abs(np.asarray(x)).astype(np.float64)


def show(ax, img, title: str = "", vmax: float | None = None, cmap: str = "gray", vmin: float = 0.0):
    im = ax.imshow(to_image(img), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def save(fig, path: str, fmt: str = "png", dpi: int = 120) -> None:
    fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)


# ----------------------------------------------------------------------------- gallery helpers
def quick() -> bool:
    """True when the gallery runs in smoke mode (``SENSEKIT_GALLERY_QUICK=1``): use small sizes, few iterations."""
    import os
    return os.environ.get("SENSEKIT_GALLERY_QUICK", "") not in ("", "0")


def require(module: str, extra: str):
    """Import an optional package for a gallery script, or skip the script (exit code 77) naming the extra.

    A figure that needs, say, PyAV to decode a video cannot be drawn without it; this says so and lets
    ``sensekit gallery`` report the script as *skipped* rather than failed.
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
