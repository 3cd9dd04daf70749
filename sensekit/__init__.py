"""sensekit: computational sensing and imaging on one torch core.

Submodules are imported lazily so that ``import sensekit`` (and the CLI's
``--help``) stays fast::

    import sensekit as sk
    A = sk.linop.FFT((64, 64), axes=(-2, -1))
    L, S = sk.solvers.pcp(M)
"""
from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = {
    "core", "linop", "prox", "solvers", "sim", "io", "metrics", "app", "learned",
    "plot", "testing", "apps", "host",
}

__all__ = sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'sensekit' has no attribute {name!r}")


def __dir__():
    return __all__
