"""One sample's result, and the error naming every app gets from the runner."""
from __future__ import annotations

import dataclasses
import re

import torch

from ..io.errors import ConfigError, InputError


@dataclasses.dataclass
class SampleResult:
    """The outcome of one sample: outputs as numpy arrays, its metrics, iterations and compute seconds.

    ``stop_reason`` and ``history`` (a summary, see :func:`~sensekit.app.reduce.history_summary`) come
    from the app's ``RunOutput.info``, and so does ``method``: the method that actually ran when the
    configured one chooses per input (e.g. mri-recon's ``auto``), else empty.  ``part`` is set for a
    streamed sample whose outputs live in a file (the batch part file) instead of ``outputs``.  ``axes``:
    the run's own output axes labels (``RunOutput.axes``).
    """

    outputs: dict
    metrics: dict
    iterations: int
    seconds: float
    stop_reason: str = ""
    history: dict | None = None
    part: str | None = None
    method: str = ""
    axes: dict = dataclasses.field(default_factory=dict)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _norm(s: str) -> str:
    return re.sub(r"[-_ ]", "", s.lower())


def with_dataset(msg: str, datasets) -> str:
    """``msg`` naming a dataset: as it is when it quotes one of ``datasets``; else the one it mentions as a word
    (``mask``, ``k-space`` for ``kspace``) is quoted in front; else the datasets in play are listed after it.

    Returns
    -------
    str
        The message, naming the dataset(s).
    """
    datasets = [d for d in (datasets or ()) if d]
    if not datasets or any(f"'{d}'" in msg for d in datasets):
        return msg
    words = {_norm(w) for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", msg)}
    hit = [d for d in datasets if _norm(d) in words]
    if hit:
        return f"dataset{'s' if len(hit) > 1 else ''} {', '.join(repr(d) for d in hit)}: {msg}"
    return f"{msg} (datasets {', '.join(repr(d) for d in datasets)})"


def name_input(e: BaseException, path: str | None, where: str = "", datasets=()) -> InputError:
    """``e`` as an :class:`InputError` whose message starts with the file (and the sample / block ``where``).

    A message that already names ``path`` keeps its wording (``where`` is added after the path).  With
    ``datasets`` (the input datasets in play) a message that names none of them gets one (see
    :func:`with_dataset`): every bad-input message names the file and the dataset.

    Returns
    -------
    InputError
        The error to raise (``from e``).
    """
    msg = _one_line(e)
    if path and msg.startswith(f"{path}: "):
        msg = f"{path}: " + with_dataset(msg[len(path) + 2:], datasets)
    else:
        msg = with_dataset(msg, datasets)
    if not path:
        return InputError(f"{where}: {msg}" if where else msg)
    if path in msg:
        if where and where not in msg:
            msg = msg.replace(f"{path}: ", f"{path}: {where}: ", 1) if msg.startswith(f"{path}: ") else msg
        return InputError(msg)
    return InputError(f"{path}: {where + ': ' if where else ''}{msg}")


def prepare_checked(app, arrays: dict, attrs: dict, layouts: dict, *, path: str | None, where: str = "") -> dict:
    """``app.prepare`` with its :class:`InputError` / ``ValueError`` re-raised naming the file (and sample).

    Returns
    -------
    dict
        The prepared sample.
    """
    try:
        return app.prepare(arrays, attrs, layouts)
    except ConfigError:
        raise
    except (InputError, ValueError) as e:
        raise name_input(e, path, where, list(arrays)) from None


def move(d: dict, device: torch.device) -> dict:
    """A dict with every tensor value moved to ``device`` (other values as they are).

    Returns
    -------
    dict
        ``d`` with its tensors moved to ``device``.
    """
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in d.items()}


def changed_options(config: object | None) -> list:
    """``["key=value", ...]`` of the options that differ from their defaults (what the user set).

    Returns
    -------
    list[str]
        ``"key=value"`` per changed option (empty for no config).
    """
    if config is None or not dataclasses.is_dataclass(config):
        return []
    out = []
    for f in dataclasses.fields(config):
        if f.name.startswith("_") or f.name == "method":
            continue
        v = getattr(config, f.name)
        if f.default is not dataclasses.MISSING and v != f.default and not (v != v and f.default != f.default):
            out.append(f"{f.name}={v!r}")
    return out


def _method(app, config) -> str:
    m = getattr(config, "method", "")
    return f"{app.name} method '{m}'" if m else app.name


def numerical_failure(app, config, what: str, *, path: str | None, where: str = "", datasets=()) -> Exception:
    """The error for a method that broke down numerically (non-finite result, a failed factorisation).

    With options set away from their defaults it is a :class:`ConfigError` naming them (the method is
    not well defined there); with the defaults it is an :class:`InputError` naming the file (the data
    are outside what the method handles, e.g. values near the float range).

    Returns
    -------
    Exception
        A :class:`ConfigError` when options were changed, else an :class:`InputError` naming the file.
    """
    changed = changed_options(config)
    if changed:
        return ConfigError(f"{_method(app, config)} {what} with the options {', '.join(changed)}: the method is not "
                           f"well defined there (choose smaller or other values)")
    return name_input(InputError(f"{_method(app, config)} {what} (with the default options)"), path, where,
                      datasets)


def check_finite(app, outputs: dict, config, *, path: str | None, where: str = "", datasets=()) -> None:
    """Refuse a result holding NaN/Inf (outputs listed in ``App.nonfinite_outputs`` may hold them)."""
    import numpy as np
    allowed = set(getattr(app, "nonfinite_outputs", ()) or ())
    bad = [k for k, v in outputs.items() if k not in allowed and np.asarray(v).dtype.kind in "fc"
           and not np.all(np.isfinite(np.asarray(v)))]
    if bad:
        raise numerical_failure(app, config, f"gave non-finite values (NaN/Inf) in {', '.join(map(repr, bad))}",
                                path=path, where=where, datasets=datasets)


def linalg_errors() -> tuple:
    """The exception types of a failed factorisation (numpy/scipy and torch).

    Returns
    -------
    tuple[type, ...]
        The exception classes.
    """
    import numpy as np
    errs = [np.linalg.LinAlgError]
    if hasattr(torch, "linalg") and hasattr(torch.linalg, "LinAlgError"):
        errs.append(torch.linalg.LinAlgError)
    return tuple(errs)
