"""The solver driver: composable stop criteria, history, callbacks.

A solver holds hyper-parameters only and exposes ``init(problem, x0) -> state``
and ``step(problem, state) -> state``; states are dataclasses (values, never
mutated).  :func:`solve` runs any solver::

    res = solve(FISTA(), problem, stop=MaxIter(200) | RelChange(1e-6), check_every=5)
    res.x, res.history, res.stop_reason

Stop criteria are evaluated every ``check_every`` iterations (and at the last
one), so a CUDA run synchronises with the host only then.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Iterable

import torch


# ----------------------------------------------------------------------------- stop criteria
class Stop:
    """A stop criterion: ``check(info) -> reason or None``; combine with ``|`` and ``&``."""

    def check(self, info: dict) -> str | None:
        """Whether to stop, given a check's ``info`` (iteration, relative change, ...).

        Returns
        -------
        str or None
            The stop reason, or None to go on.
        """
        raise NotImplementedError

    def max_iter(self) -> int | None:
        """The iteration at which this criterion surely stops (None if unbounded).

        Returns
        -------
        int or None
            The iteration bound, or None.
        """
        return None

    def __or__(self, other: "Stop") -> "Stop":
        return AnyOf(self, other)

    def __and__(self, other: "Stop") -> "Stop":
        return AllOf(self, other)


class AnyOf(Stop):
    """Stops when any of its criteria does (``a | b``); the first reason is reported."""

    def __init__(self, *crits: Stop):
        self.crits = [c for crit in crits for c in (crit.crits if isinstance(crit, AnyOf) else [crit])]

    def check(self, info):
        for c in self.crits:
            r = c.check(info)
            if r:
                return r
        return None

    def max_iter(self):
        ms = [m for m in (c.max_iter() for c in self.crits) if m is not None]
        return min(ms) if ms else None

    def __repr__(self):
        return " | ".join(map(repr, self.crits))


class AllOf(Stop):
    """Stops when all of its criteria do at the same check (``a & b``); the reasons are joined."""

    def __init__(self, *crits: Stop):
        self.crits = list(crits)

    def check(self, info):
        rs = [c.check(info) for c in self.crits]
        return " & ".join(rs) if all(rs) else None

    def max_iter(self):
        ms = [c.max_iter() for c in self.crits]
        return None if any(m is None for m in ms) else max(ms)

    def __repr__(self):
        return " & ".join(map(repr, self.crits))


class MaxIter(Stop):
    """Stop after ``n`` iterations."""

    def __init__(self, n: int):
        if int(n) < 1:
            raise ValueError(f"MaxIter needs n >= 1, got {n}")
        self.n = int(n)

    def check(self, info):
        return f"max_iter={self.n}" if info["iter"] >= self.n else None

    def max_iter(self):
        return self.n

    def __repr__(self):
        return f"MaxIter({self.n})"


class _Threshold(Stop):
    key = ""

    def __init__(self, tol: float):
        self.tol = float(tol)

    def check(self, info):
        v = info.get(self.key)
        return f"{self.key}<{self.tol:g}" if v is not None and v < self.tol else None

    def __repr__(self):
        return f"{type(self).__name__}({self.tol:g})"


class RelChange(_Threshold):
    """Stop when ‖x_k − x_{k−1}‖ / ‖x_k‖ < tol."""

    key = "rel_change"


class Residual(_Threshold):
    """Stop when the solver's own residual measure (e.g. CG's ‖r‖/‖b‖) < tol."""

    key = "residual"


class Timeout(Stop):
    """Stop after ``seconds`` of wall time."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)

    def check(self, info):
        return f"timeout={self.seconds:g}s" if info["time"] >= self.seconds else None


# ----------------------------------------------------------------------------- result and driver
@dataclasses.dataclass
class Result:
    """What :func:`solve` returns."""

    x: torch.Tensor
    state: Any
    history: list
    stop_reason: str
    iterations: int
    wall_time: float


#: the last (x, prev, their versions, value) of :func:`_rel_change`: a solver's ``measure`` that asks for the
#: same change as the driver just did (SBL's γ change) gets it without a second evaluation and host sync;
#: :func:`solve` clears it after each check's ``measure``
_LAST_CHANGE: list = [None]


def _rel_change(x, prev):
    """‖x − prev‖ / ‖x‖ over one tensor or a tuple of them, with a single host synchronisation."""
    last = _LAST_CHANGE[0]
    if last is not None and last[0] is x and last[1] is prev and last[2] == _versions(x, prev):
        return last[3]
    if isinstance(x, (tuple, list)):
        num2 = sum(_norm(a - b) ** 2 for a, b in zip(x, prev))
        den2 = sum(_norm(a) ** 2 for a in x)
        sq = torch.stack([num2, den2])
    else:   # one tensor: the same values as the sums above (0 + v is v), fewer dispatches
        sq = torch.stack([_norm(x - prev), _norm(x)]) ** 2
    num, den = (v ** 0.5 for v in sq.tolist())
    if not (math.isfinite(num) and math.isfinite(den)):
        value = float("nan")  # the iterate holds NaN or Inf: solve() stops with a "non-finite" reason
    else:
        value = num / den if den > 0 else (0.0 if num == 0 else float("inf"))
    _LAST_CHANGE[0] = (x, prev, _versions(x, prev), value)
    return value


def _norm(t: torch.Tensor) -> torch.Tensor:
    """‖t‖₂ over all entries; a complex tensor as its real view (the same norm; torch's complex
    ``vector_norm`` was 18x slower on CPU, measured on an (8, 96, 96) complex64 array, 1 thread)."""
    if t.is_complex():
        t = torch.view_as_real(t.resolve_conj()) if t.is_conj() else torch.view_as_real(t)
    return torch.linalg.vector_norm(t)


def _versions(x, prev):
    """In-place modification counters of the tensors (a cached change is stale once one moved)."""
    if isinstance(x, (tuple, list)):
        return tuple(t._version for t in x) + tuple(t._version for t in prev)
    return (x._version, prev._version)


def solve(solver, problem, *, x0=None, stop: Stop | None = None,
          callbacks: Iterable[Callable[[dict, Any], None]] = (), check_every: int = 1,
          record_objective: bool = False) -> Result:
    """Run ``solver`` on ``problem`` until ``stop`` says so.

    Parameters
    ----------
    solver : object with ``init(problem, x0)`` and ``step(problem, state)``;
        optional ``measure(problem, state, prev) -> dict`` (extra history
        entries such as ``residual``), ``objective(problem, state)`` and
        ``default_stop()``, and ``guard_stop(stop) -> Stop`` (wraps a caller's criterion so that the
        solver's own guards still hold).
    problem : the problem object the solver understands.
    x0 : Tensor, optional
        Starting point (the solver's default otherwise).
    stop : Stop, optional
        Defaults to ``solver.default_stop()``.
    callbacks : callables ``cb(info, state)`` run at every check.
    check_every : int
        Evaluate criteria and callbacks every k iterations (and at the last).
    record_objective : bool
        Add the objective value to the history (costs an evaluation per check).

    Returns
    -------
    Result
        ``stop_reason`` starts with ``"non-finite"`` when the iterate (or the recorded objective) became
        NaN or Inf; the run stops at that check whatever ``stop`` says.
    """
    if stop is None:
        stop = solver.default_stop() if hasattr(solver, "default_stop") else MaxIter(100)
    elif hasattr(solver, "guard_stop"):
        # a solver's own guard (e.g. HQS: not before its continuation ends) survives a caller's criterion
        stop = solver.guard_stop(stop)
    limit = stop.max_iter()
    if limit is None:
        raise ValueError(f"stop criterion {stop!r} has no iteration bound; combine it with MaxIter(n)")
    check_every = max(1, int(check_every))
    callbacks = list(callbacks)
    measure = getattr(solver, "measure", None)
    objective = getattr(solver, "objective", None) if record_objective else None
    step, check, perf = solver.step, stop.check, time.perf_counter
    t0 = perf()
    state = solver.init(problem, x0)
    history: list = []
    it, reason = 0, ""
    try:
        while True:
            prev = state
            state = step(problem, state)
            it += 1
            if it % check_every and it < limit:
                continue
            info = {"iter": it, "time": perf() - t0, "rel_change": _rel_change(state.x, prev.x)}
            if measure is not None:
                info.update(measure(problem, state, prev))
            _LAST_CHANGE[0] = None      # the cache serves this check's measure only (holds no iterate after)
            if objective is not None:
                info["objective"] = float(objective(problem, state))
            history.append(info)
            for cb in callbacks:
                cb(info, state)
            if math.isnan(info["rel_change"]) or not math.isfinite(info.get("objective", 0.0)):
                # never iterate on (or hand back without saying so) a NaN/Inf iterate: the caller sees the reason
                reason = f"non-finite iterate (NaN or Inf) at iteration {it}"
                break
            r = check(info)
            if r:
                reason = r
                break
            if it >= limit:  # guard for criteria combined with &
                reason = f"max_iter={limit}"
                break
    finally:
        _LAST_CHANGE[0] = None      # hold no iterate after the run
    return Result(x=state.x, state=state, history=history, stop_reason=reason, iterations=it,
                  wall_time=perf() - t0)


def default_stop(max_iter: int, tol: float | None) -> Stop:
    """``MaxIter(max_iter) | RelChange(tol)``, or ``MaxIter(max_iter)`` alone when ``tol`` is None or 0.

    Returns
    -------
    Stop
        The stopping rule.
    """
    s = MaxIter(max_iter)
    return s if tol is None or tol <= 0 else s | RelChange(tol)
