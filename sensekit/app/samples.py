"""One sample's result, and the error naming every app gets from the runner."""
from __future__ import annotations

import dataclasses

import torch

from ..io.errors import ConfigError, InputError


@dataclasses.dataclass
class SampleResult:
    """The outcome of one sample: outputs as numpy arrays, its metrics, iterations and compute seconds.

    ``stop_reason`` and ``history`` (a summary, see :func:`~sensekit.app.reduce.history_summary`) come
    from the app's ``RunOutput.info``, and so does ``method``: the method that actually ran when the
    configured one chooses per input (e.g. mri-recon's ``auto``), else empty.  ``part`` is set for a
    streamed sample whose outputs live in a file (the batch part file) instead of ``outputs``.
    """

    outputs: dict
    metrics: dict
    iterations: int
    seconds: float
    stop_reason: str = ""
    history: dict | None = None
    part: str | None = None
    method: str = ""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def name_input(e: BaseException, path: str | None, where: str = "") -> InputError:
    """``e`` as an :class:`InputError` whose message starts with the file (and the sample / block ``where``).

    A message that already names ``path`` keeps its wording (``where`` is added after the path).
    """
    msg = _one_line(e)
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
        raise name_input(e, path, where) from None


def move(d: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in d.items()}
