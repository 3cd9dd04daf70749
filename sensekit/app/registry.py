"""The app registry: name -> ("module:Class", one-line summary), imported lazily.

Three ways in:

* the static table :data:`APPS` (the built-in apps; listed by ``sensekit apps``);
* the entry-point group ``sensekit.apps`` (``name = "package.module:Class"``) for plugins (listed);
* extra apps, not listed by ``sensekit apps`` (tests, local experiments): :func:`register` in
  this process, or the environment variable ``SENSEKIT_EXTRA_APPS`` for subprocesses, a
  comma-separated list of ``name=target`` where ``target`` is ``package.module:Class`` or
  ``/path/to/file.py:Class``.  ``register`` also exports the entry to the environment, so
  that batch worker processes (spawned) find the app too.

``get_app(name)`` looks in that order; :func:`app_names` lists the built-in and plugin apps,
``app_names(hidden=True)`` the extra ones too.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from ..io.errors import ConfigError

#: Built-in apps. Summaries live here so that ``sensekit apps`` imports nothing heavy.
APPS: dict[str, tuple[str, str]] = {
    "mri-recon": ("sensekit.apps.mri_recon.app:MRIRecon",
                  "dynamic (and static) MRI reconstruction from undersampled Cartesian multi-coil k-space"),
    "gain-calib": ("sensekit.apps.gain_calib.app:GainCalib",
                   "blind gain calibration: unknown sensor gains and signal from random-projection measurements"),
    "isac": ("sensekit.apps.isac.app:ISAC",
             "ISAC multi-dimensional parameter estimation (angle, range, velocity) from an OFDM channel tensor"),
    "us-subsample": ("sensekit.apps.us_subsample.app:USSubsample",
                     "learned (DPS) and fixed sub-sampling of ultrasound RF channel data, recovery and B-mode"),
    "unmix": ("sensekit.apps.unmix.app:Unmix", "hyperspectral unmixing: endmembers and abundances"),
    "rpca-video": ("sensekit.apps.rpca_video.app:RPCAVideo", "video background / foreground separation"),
}

#: environment variable naming extra (unlisted) apps: "name=module:Class,name2=/path/file.py:Class"
ENV = "SENSEKIT_EXTRA_APPS"


def _entry_points() -> dict:
    try:
        from importlib.metadata import entry_points
        eps = entry_points(group="sensekit.apps")
    except Exception:  # pragma: no cover - broken metadata must not break the CLI
        return {}
    return {ep.name: ep for ep in eps if ep.name not in APPS}


def _extra() -> dict:
    """``{name: target}`` from ``SENSEKIT_EXTRA_APPS`` (read at every call, so a test may set it late)."""
    out = {}
    for item in os.environ.get(ENV, "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, target = item.partition("=")
        if not sep or ":" not in target:
            raise ConfigError(f"{ENV}: entry {item!r} is not NAME=module:Class or NAME=/path/file.py:Class")
        out[name.strip()] = target.strip()
    return out


def register(name: str, target: str) -> None:
    """Make ``get_app(name)`` load ``target`` (``"package.module:Class"`` or ``"/path/file.py:Class"``).

    The app is not listed by ``sensekit apps``.  The entry is written to ``SENSEKIT_EXTRA_APPS``
    (replacing an earlier one of the same name) so that child processes see it.
    """
    if ":" not in target:
        raise ValueError(f"register({name!r}, {target!r}): expected 'module:Class' or '/path/file.py:Class'")
    if "," in target or "=" in name or "," in name:
        raise ValueError(f"register({name!r}, {target!r}): names and targets may not hold ',' or '='")
    entries = _extra()
    entries[name] = target
    os.environ[ENV] = ",".join(f"{k}={v}" for k, v in entries.items())


def unregister(name: str) -> None:
    """Forget an app added with :func:`register` (or through the environment)."""
    entries = _extra()
    entries.pop(name, None)
    if entries:
        os.environ[ENV] = ",".join(f"{k}={v}" for k, v in entries.items())
    else:
        os.environ.pop(ENV, None)


def app_names(hidden: bool = False) -> list[str]:
    """Names of the listed apps (built-in, then plugins); with ``hidden`` the extra apps as well.

    Returns
    -------
    list[str]
        The app names.
    """
    names = list(APPS) + sorted(_entry_points())
    if hidden:
        names += [n for n in _extra() if n not in names]
    return names


def app_summaries() -> list[tuple[str, str]]:
    """``[(name, one-line summary)]`` of the built-in and plugin apps, without importing them.

    Returns
    -------
    list[tuple[str, str]]
        ``(name, summary)`` per app.
    """
    out = [(n, s) for n, (_, s) in APPS.items()]
    for name, ep in sorted(_entry_points().items()):
        try:
            out.append((name, getattr(ep.load(), "summary", "")))
        except Exception as e:  # a broken plugin is listed, not fatal
            out.append((name, f"(plugin failed to load: {type(e).__name__})"))
    return out


def load_target(target: str):
    """The class named by ``"package.module:Class"`` or ``"/path/file.py:Class"``.

    Returns
    -------
    type
        The class (imported on demand).
    """
    mod, _, cls = target.rpartition(":")
    if mod.endswith(".py") or os.sep in mod:
        key = "sensekit_extra_app_" + "".join(c if c.isalnum() else "_" for c in os.path.abspath(mod))
        module = sys.modules.get(key)
        if module is None:
            spec = importlib.util.spec_from_file_location(key, mod)
            if spec is None or spec.loader is None:
                raise ConfigError(f"app target {target!r}: cannot load {mod}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[key] = module
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(mod)
    return getattr(module, cls)


def app_target(name: str) -> str | None:
    """The ``"module:Class"`` (or file) target of an app, None for a plugin known only by its entry point.

    Returns
    -------
    str or None
        The target string, or None.
    """
    if name in APPS:
        return APPS[name][0]
    extra = _extra()
    if name in extra:
        return extra[name]
    ep = _entry_points().get(name)
    return ep.value if ep is not None else None


def get_app(name: str):
    """Instantiate the app called ``name``; :class:`ConfigError` if there is none.

    Returns
    -------
    App
        A new instance of the app.
    """
    if name in APPS:
        return load_target(APPS[name][0])()
    eps = _entry_points()
    if name in eps:
        return eps[name].load()()
    extra = _extra()
    if name in extra:
        return load_target(extra[name])()
    raise ConfigError(f"unknown app '{name}'; expected one of: {', '.join(app_names())}")
