"""How per-sample (and per-block) results reduce: metrics by their declared reduction, solver histories to summaries.

Metrics (``App.metric_reduction``; a metric not listed is ``"mean"``):

``"mean"``
    the average over samples (over the blocks of a streamed sample: weighted by the
    block lengths, i.e. the average over frames when the block's value is a frame average);
``"sum"``
    the total (counts such as detected / missed / false, or sufficient statistics
    such as true-positive pixels); integers stay integers;
``"pooled"``
    recomputed from the totals of the ``"sum"`` metrics by ``App.pool_metrics``
    (an F-measure over all pixels of all frames and samples, not an average of
    per-sample F-measures).
"""
from __future__ import annotations

import json
import math

import numpy as np

from .base import REDUCTIONS


def scalar(v: object) -> int | float:
    """A metric value as a plain Python number (ints stay ints, so counts are written as integers).

    Returns
    -------
    int or float
        The value as a Python ``int`` (integers and booleans) or ``float``.
    """
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    return float(v)


def reduction_of(app, name: str) -> str:
    """The reduction of one of an app's metrics.

    Returns
    -------
    str
        The reduction declared for metric ``name`` (e.g. ``"mean"``).
    """
    r = (getattr(app, "metric_reduction", None) or {}).get(name, "mean")
    if r not in REDUCTIONS:
        raise ValueError(f"{app.name}: metric '{name}' declares reduction {r!r}; expected one of {REDUCTIONS}")
    return r


def reduce_metrics(app, per: list, weights: list | None = None) -> dict:
    """Reduce a list of metric dicts (one per sample or block) by each metric's declared reduction.

    ``weights`` (one per entry) weight the ``"mean"`` metrics; None: every entry counts once.

    Returns
    -------
    dict
        ``{metric: reduced value}``.
    """
    keys: list = []
    for m in per:
        keys += [k for k in m if k not in keys]
    out: dict = {}
    pooled = []
    for k in keys:
        r = reduction_of(app, k)
        idx = [j for j, m in enumerate(per) if k in m]
        vals = [scalar(per[j][k]) for j in idx]
        if r == "sum":
            total = sum(vals)
            out[k] = total if all(isinstance(v, int) for v in vals) else float(total)
        elif r == "mean":
            if weights is None or len({weights[j] for j in idx}) <= 1:
                out[k] = float(np.mean(vals))
            else:
                w = [float(weights[j]) for j in idx]
                out[k] = float(sum(v * wj for v, wj in zip(vals, w)) / sum(w))
        else:
            out[k] = None
            pooled.append(k)
    declared = [k for k, r in (getattr(app, "metric_reduction", None) or {}).items() if r == "pooled"]
    totals = {k: v for k, v in out.items() if reduction_of(app, k) == "sum"}
    if pooled or (declared and totals):
        got = {k: scalar(v) for k, v in (app.pool_metrics(totals) or {}).items()}
        for k in pooled:
            if k not in got:
                raise ValueError(f"{app.name}: metric '{k}' is declared pooled but pool_metrics did not return it")
        for k, v in got.items():
            out[k] = v
    return out


def _finite_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def history_summary(history, iterations: int | None = None) -> dict | None:
    """A small, reproducible summary of a solver history (a list of per-check dicts).

    ``{"checks": n, "first": {...}, "last": {...}}`` with the numeric entries of the first
    and last check (measured ``time`` left out, so that a resumed run records the same
    summary), plus ``iterations`` when given.  None for an empty or missing history.

    Returns
    -------
    dict or None
        The summary, or None when there is no history.
    """
    if not history:
        return None
    if isinstance(history, dict):   # an app may hand over a summary of its own
        return {k: v for k, v in history.items() if k != "time"}

    def clean(rec):
        if not isinstance(rec, dict):
            return {}
        out = {}
        for k, v in rec.items():
            if k == "time":
                continue
            if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
                v = v.item()
            if _finite_number(v):
                out[k] = scalar(v)
        return out

    s = {"checks": len(history), "first": clean(history[0]), "last": clean(history[-1])}
    if iterations is not None:
        s["iterations"] = int(iterations)
    return s


def dumps(v: object) -> str:
    """A value as a reproducible JSON string.

    Returns
    -------
    str
        ``v`` as sorted JSON (non-JSON values as ``str``).
    """
    return json.dumps(v, sort_keys=True, default=str)
