"""The static app registry: name -> ("module:Class", one-line summary), imported lazily.

Third-party apps join through the entry-point group ``sensekit.apps``
(``name = "package.module:Class"``).
"""
from __future__ import annotations

import importlib

from ..io.errors import ConfigError

#: Built-in apps. Summaries live here so that ``sensekit apps`` imports nothing heavy.
APPS: dict[str, tuple[str, str]] = {
    "mri-recon": ("sensekit.apps.mri_recon.app:MRIRecon",
                  "dynamic (and static) MRI reconstruction from undersampled Cartesian multi-coil k-space"),
}


def _entry_points() -> dict:
    try:
        from importlib.metadata import entry_points
        eps = entry_points(group="sensekit.apps")
    except Exception:  # pragma: no cover - broken metadata must not break the CLI
        return {}
    return {ep.name: ep for ep in eps if ep.name not in APPS}


def app_names() -> list[str]:
    return list(APPS) + sorted(_entry_points())


def app_summaries() -> list[tuple[str, str]]:
    out = [(n, s) for n, (_, s) in APPS.items()]
    for name, ep in sorted(_entry_points().items()):
        try:
            out.append((name, getattr(ep.load(), "summary", "")))
        except Exception as e:  # a broken plugin is listed, not fatal
            out.append((name, f"(plugin failed to load: {type(e).__name__})"))
    return out


def get_app(name: str):
    """Instantiate the app called ``name``; :class:`ConfigError` if there is none."""
    if name in APPS:
        mod, cls = APPS[name][0].split(":")
        return getattr(importlib.import_module(mod), cls)()
    eps = _entry_points()
    if name in eps:
        return eps[name].load()()
    raise ConfigError(f"unknown app '{name}'; expected one of: {', '.join(app_names())}")
