"""``sensekit convert APP SRC`` refuses data that are plainly another app's kind.

Every registered app says what makes a file plainly its own (:meth:`~sensekit.app.base.App.recognizes`:
MATLAB variables by :meth:`~sensekit.app.base.App.mat_kind`, a sensekit HDF5 file by the app's required
input datasets).  When another app recognises SRC and APP does not, the conversion stops before reading
the data, with one line (exit 3) saying what was found and which app it looks like — a hyperspectral
cube is not turned into a simulated MRI acquisition because it happens to be a 3-D array.
"""
from __future__ import annotations

from ..io.errors import InputError


def looks_like(src: str, fmt: str, *, skip: str = "") -> list:
    """The registered apps that recognise ``src``: ``[(app name, what was found)]`` in registry order.

    Parameters
    ----------
    src : str
        The file (or folder) to convert.
    fmt : str
        Its format name (:func:`sensekit.io.detect_format`, or the app's ``convert_format``).
    skip : str
        An app not to ask (the one converting).

    Returns
    -------
    list of (str, str)
    """
    from .registry import app_names, get_app
    found = []
    for name in app_names():
        if name == skip:
            continue
        what = get_app(name).recognizes(src, fmt)
        if what:
            found.append((name, what))
    return found


def check_kind(app, src: str, fmt: str) -> None:
    """Raise :class:`~sensekit.io.errors.InputError` when ``src`` is plainly another app's data, not ``app``'s.

    Parameters
    ----------
    app : App
        The app converting.
    src : str
        The source.
    fmt : str
        Its format name.
    """
    if fmt not in ("mat-v5", "mat-v7.3", "sensekit") or app.recognizes(src, fmt):
        return
    others = looks_like(src, fmt, skip=app.name)
    if not others:
        return
    other, what = others[0]
    from .registry import get_app
    runs_it = fmt == "sensekit" or get_app(other).ConvertConfig is None   # an app that reads the file itself
    hint = f"sensekit run {other} --input {src}" if runs_it else f"sensekit convert {other} {src} -o OUT.h5"
    raise InputError(f"{src}: found {what}: this looks like {other} data, not {app.name}'s (try `{hint}`)")
