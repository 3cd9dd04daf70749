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
    from the app's ``RunOutput.info``.  ``part`` is set for a streamed sample whose outputs live in a
    file (the batch part file) instead of ``outputs``.
    """

    outputs: dict
    metrics: dict
    iterations: int
    seconds: float
    stop_reason: str = ""
    history: dict | None = None
    part: str | None = None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _norm(s: str) -> str:
    return re.sub(r"[-_ ]", "", s.lower())


def with_dataset(msg: str, datasets) -> str:
    """``msg`` naming a dataset: as it is when it quotes one of ``datasets``; else the one it mentions as a word
    (``mask``, ``k-space`` for ``kspace``) is quoted in front; else the datasets in play are listed after it."""
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
    """``app.prepare`` with its :class:`InputError` / ``ValueError`` re-raised naming the file (and sample)."""
    try:
        return app.prepare(arrays, attrs, layouts)
    except ConfigError:
        raise
    except (InputError, ValueError) as e:
        raise name_input(e, path, where, list(arrays)) from None


def move(d: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in d.items()}
