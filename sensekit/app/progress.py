"""Progress on the CLI's stderr (only on a terminal): elapsed time, rate, ETA and named setup phases.

Drawn by `tqdm <https://tqdm.github.io>`_ (a core dependency): it owns the terminal line, the bar, the
redraw throttle and the clean-up on close; this module keeps sensekit's reporter API on top of it.
The lines look like::

    mri-recon [##########            ] 48/100 · 0:05 elapsed · 9.6 it/s · ETA 0:05
    mri-recon: coil maps… 0:02
    mri-recon [######      ] files 3/10 · samples 3/10+ · 0:42 · ETA 1:38 · now b.h5 it 40/100 ETA 0:03

A solver reports through the callback protocol ``bar(info, state)`` (``info["iter"]``); an app names its
setup phases by calling ``cb.phase("coil maps")`` on the callbacks that have a ``phase`` method
(:func:`phase`), so seven silent seconds before the first iteration say what they are doing.

Off a terminal (a log file, a pipe, ``--quiet``) nothing is drawn at all: no carriage returns in logs.
"""
from __future__ import annotations

import io
import sys
import time

from tqdm import tqdm as _tqdm

#: the bar's characters: plain ``#`` on a space, as in a log-safe ASCII terminal
_ASCII = " #"


def fmt_seconds(s: float) -> str:
    """Format a duration as ``0:07``, ``12:03`` or ``1:02:03``.

    Parameters
    ----------
    s : float
        Seconds (rounded; negative counts as 0).

    Returns
    -------
    str
        ``M:SS``, or ``H:MM:SS`` from one hour on.
    """
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def phase(callbacks, name: str) -> None:
    """Tell every callback that has a ``phase`` method that the setup phase ``name`` starts.

    Parameters
    ----------
    callbacks : iterable of callables or None
        The run's callbacks; those without a ``phase`` method are left alone.
    name : str
        The phase, e.g. ``"coil maps (espirit)"``.
    """
    for cb in callbacks or ():
        fn = getattr(cb, "phase", None)
        if callable(fn):
            fn(name)


def _rate_text(rate: float) -> str:
    return f"{rate:.3g} it/s" if rate >= 1 else f"{1 / rate:.3g} s/it"


class _Tqdm(_tqdm):
    """tqdm with sensekit's own fields in ``bar_format`` (``extra(format_dict) -> dict``); no monitor thread."""

    monitor_interval = 0

    def __init__(self, *args, extra=None, **kwargs):
        self._extra = extra
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self):
        d = super().format_dict
        if self._extra is not None:
            d.update(self._extra(d))
        return d


def _columns(stream) -> int:
    """The line's width: the terminal's less one (a longer line would wrap and defeat the carriage return);
    a terminal that reports no size (0, e.g. a pseudo-terminal of ``script``) or a non-terminal: no limit."""
    import os
    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        cols = 0
    return cols - 1 if cols >= 40 else 10_000


class _Line:
    """One tqdm line on ``stream``, created on first use (nothing is written before there is something to say)."""

    def __init__(self, stream, enabled):
        self.stream = stream or sys.stderr
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self._tq = None

    def _open(self, bar_format: str, total: int | None = None, desc: str = "") -> _Tqdm:
        if self._tq is None:
            self._tq = _Tqdm(total=total, desc=desc, file=self.stream, leave=False, ascii=_ASCII, bar_format=bar_format,
                             mininterval=0.1, miniters=1, smoothing=0, dynamic_ncols=False, position=0,
                             ncols=_columns(self.stream), nrows=100, extra=self._fields)   # one line at position 0;
            # nrows given: a terminal that reports no size (0 rows) would otherwise hide the line
        else:
            self._tq.bar_format = bar_format
        return self._tq

    def _fields(self, d: dict) -> dict:
        return {}

    def clear(self) -> None:
        """Remove the line from the terminal (it is drawn anew on the next report)."""
        if self._tq is not None:
            self._tq.close()
            self._tq = None


class ProgressBar(_Line):
    """Solver callback ``(info, state)`` drawing ``label [#####     ] it/total · elapsed · rate · ETA``.

    A training loop's ``info`` also shows its last ``loss`` and validation metric (keys ``val_*``).

    Parameters
    ----------
    total : int
        The iteration bound (:meth:`set_total` resizes it).
    label : str
        Shown first on the line (the app's name).
    stream : file-like, optional
        Where to draw (default: stderr).
    enabled : bool, optional
        Draw at all; default: only when ``stream`` is a terminal.
    width : int
        Characters of the bar.
    t0 : float, optional
        ``time.monotonic()`` that the elapsed time counts from (e.g. the command's start); default: now.
    """

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool | None = None, width: int = 30,
                 t0: float | None = None):
        super().__init__(stream, enabled)
        self.total, self.label, self.width = max(1, int(total)), label, width
        self.t0 = time.monotonic() if t0 is None else t0   # elapsed counts from t0 (e.g. the command's start)
        self._start = None        # (time, iteration) of the first report: the rate leaves setup time out
        self._phase = None        # (name, start time) of the current setup phase
        self._shown: dict = {}    # training: the last loss and validation metric (``val_*``) reported

    def set_total(self, total: int) -> None:
        """Resize the bar once the real bound is known (e.g. a method chosen per input).

        Parameters
        ----------
        total : int
            The new iteration bound.
        """
        self.total = max(1, int(total))
        if self._tq is not None and self._start is not None:
            self._tq.total = self.total

    def phase(self, name: str) -> None:
        """Show that a named setup phase starts (until the first iteration).

        Parameters
        ----------
        name : str
            The phase, e.g. ``"model"``.
        """
        self._phase = (name, time.monotonic())
        if self.enabled and self._start is None:
            tq = self._open("{desc}: {phase}… {elapsed_t0}", desc=self.label)
            tq.set_description_str(self.label, refresh=False)
            tq.refresh()

    def _fields(self, d: dict) -> dict:
        now = time.monotonic()
        out = {"elapsed_t0": fmt_seconds(now - self.t0), "phase": self._phase[0] if self._phase else "",
               "rate_eta": ""}
        if self._start is not None:
            # tqdm's average rate since the first iteration (smoothing=0: (n - initial) / elapsed)
            rate = d.get("rate") or ((d["n"] - d["initial"]) / d["elapsed"] if d["elapsed"] > 0 else 0)
            if rate > 0:
                out["rate_eta"] = f" · {_rate_text(rate)} · ETA {fmt_seconds(max(0, self.total - d['n']) / rate)}"
        out["shown"] = "".join(f" · {k} {v:.4g}" for k, v in self._shown.items())
        return out

    def __call__(self, info, state=None):
        """Report iteration ``info["iter"]`` (the solver callback protocol).

        Parameters
        ----------
        info : dict
            Holds ``"iter"``, the iterations done.
        state : object, optional
            The solver's state (unused).
        """
        if not self.enabled:
            return
        it = int(info.get("iter", 0))
        self._shown.update({k: float(v) for k, v in info.items()
                            if (k == "loss" or k.startswith("val_")) and isinstance(v, (int, float))})
        if self._start is None:
            self._start = (time.monotonic(), it)
        fmt = "{desc} [{bar:%d}] {n}/{total} · {elapsed_t0} elapsed{rate_eta}{shown}" % self.width
        if self._tq is None or self._tq.bar_format != fmt:   # first iteration: the rate starts now
            tq = self._open(fmt, self.total, desc=self.label)
            tq.reset(total=self.total)
            tq.start_t = tq.last_print_t = tq._time() - (time.monotonic() - self._start[0])
            tq.initial = tq.n = tq.last_print_n = self._start[1]
            tq.set_description_str(self.label, refresh=False)
            tq.update(it - tq.n)
            tq.refresh()
            return
        tq = self._tq
        if tq.total != self.total:
            tq.total = self.total
        if tq.desc != self.label:
            tq.set_description_str(self.label, refresh=False)
        tq.update(it - tq.n)   # tqdm redraws at most every 0.1 s
        if it >= self.total:
            tq.refresh()

    def close(self):
        """Remove the line (the run's summary follows)."""
        self.clear()


class BatchProgress(_Line):
    """``on_event`` of the batch runners: files and samples done, ETA, and the files in hand.

    ``batch [####   ] files 3/10 · samples 17/40 · 1 failed · 0:42 · ETA 1:38 · now b.h5 it 40/100 ETA 0:03``

    Sample totals grow as files are opened (a file's sample count is known only then); the ETA follows
    the finished samples' rate once every file's count is known, else the finished files' rate.  The
    workers' ``iter`` events (``(sample, n_samples, iteration, bound)``, sent at most a few times a second)
    show the iteration, rate and ETA of the file in hand: a long file is not a frozen line.

    Parameters
    ----------
    n_files : int
        Files in the batch.
    label : str
        Shown first on the line (the app's name).
    stream : file-like, optional
        Where to draw (default: stderr).
    enabled : bool, optional
        Draw at all; default: only when ``stream`` is a terminal.
    width : int
        Characters of the bar.
    """

    def __init__(self, n_files: int, label: str = "batch", stream=None, enabled: bool | None = None,
                 width: int = 24):
        super().__init__(stream, enabled)
        self.n_files, self.label, self.width = max(1, n_files), label, width
        self.files_done, self.failed = 0, 0
        self.samples_total, self.samples_done = 0, 0
        self._known: set = set()   # files whose sample count is known (opened, or finished either way)
        self.t0 = time.monotonic()
        self.names: dict = {}      # file index -> display name (set by the caller, for the in-hand part)
        self._inhand: dict = {}    # file index -> [sample, n_samples, iter, bound, first (time, iter), last time]

    def __call__(self, kind: str, index: int, value) -> None:
        """Take one runner event.

        Parameters
        ----------
        kind : str
            ``start`` (value: the file's samples), ``sample`` (a sample finished), ``phase`` (value:
            ``(sample, n_samples, name)``), ``iter`` (value: ``(sample, n_samples, iteration, bound)``)
            or ``report`` (value: the file's report).
        index : int
            The file's index in the batch.
        value : object
            As ``kind`` says.
        """
        if kind == "start":
            self.samples_total += int(value)
            self._known.add(index)
        elif kind == "sample":
            self.samples_done += 1
            self._inhand.pop(index, None)
        elif kind == "iter":
            self._iter(index, value)
        elif kind == "phase":
            sample, n, name = value
            now = time.monotonic()
            self._inhand[index] = [sample, n, None, name, (now, 0), now]
        elif kind == "report":
            self.files_done += 1
            self.failed += value.status == "failed"
            self._known.add(index)
            self.names.setdefault(index, value.name)
            self._inhand.pop(index, None)
        self.draw(force=kind == "report")

    def _iter(self, index, value) -> None:
        sample, n, it, bound = value
        now = time.monotonic()
        cur = self._inhand.get(index)
        if cur is None or cur[0] != sample or cur[2] is None or it < cur[2]:
            cur = self._inhand[index] = [sample, n, it, bound, (now, it), now]
        cur[1:4], cur[5] = [n, it, bound], now

    def inhand_text(self, now: float) -> str:
        """The part of the line about the files in hand (the most recently reported one first).

        Parameters
        ----------
        now : float
            ``time.monotonic()``.

        Returns
        -------
        str
            ``""`` when no file reported iterations.
        """
        if not self._inhand:
            return ""
        index, (sample, n, it, bound, (t1, i1), _) = max(self._inhand.items(), key=lambda kv: kv[1][5])
        name = self.names.get(index, f"file {index + 1}")
        msg = f" · now {name}" + (f" sample {sample + 1}/{n}" if n > 1 else "")
        if it is None:   # a setup phase (bound holds its name)
            return msg + f": {bound}…" + (f" (+{len(self._inhand) - 1} more)" if len(self._inhand) > 1 else "")
        msg += f" it {it}/{bound}" if bound else f" it {it}"
        if it > i1 and now > t1:
            rate = (it - i1) / (now - t1)
            msg += f" {_rate_text(rate)}" + (f" ETA {fmt_seconds(max(0, bound - it) / rate)}" if bound else "")
        if len(self._inhand) > 1:
            msg += f" (+{len(self._inhand) - 1} more)"
        return msg

    def text(self, now: float) -> str:
        """The line's text after the bar: files, samples, failures, elapsed time, ETA, the file in hand.

        Parameters
        ----------
        now : float
            ``time.monotonic()``.

        Returns
        -------
        str
            E.g. ``files 3/10 · samples 17/40 · 0:42 · ETA 1:38``.
        """
        known = len(self._known) >= self.n_files
        tot = str(self.samples_total) if known else f"{self.samples_total}+"
        msg = f"files {self.files_done}/{self.n_files} · samples {self.samples_done}/{tot}" + \
              (f" · {self.failed} failed" if self.failed else "")
        elapsed = now - self.t0
        msg += f" · {fmt_seconds(elapsed)}"
        if known and self.samples_done and self.samples_total > self.samples_done:
            msg += f" · ETA {fmt_seconds(elapsed / self.samples_done * (self.samples_total - self.samples_done))}"
        elif not known and self.files_done:
            msg += f" · ETA {fmt_seconds(elapsed / self.files_done * (self.n_files - self.files_done))}"
        return msg + self.inhand_text(now)

    def _fields(self, d: dict) -> dict:
        return {"status": self.text(time.monotonic())}

    def draw(self, force: bool = False) -> None:
        """Redraw the line (at most every 0.1 s unless ``force``).

        Parameters
        ----------
        force : bool
            Redraw now (a file finished).
        """
        if not self.enabled:
            return
        tq = self._tq
        if tq is None:
            tq = self._open("{desc} [{bar:%d}] {status}" % self.width, self.n_files, desc=self.label)
            tq.set_description_str(self.label, refresh=False)
        tq.total = self.n_files
        if self.files_done != tq.n:
            tq.n = self.files_done
        now = tq._time()
        if force or now - tq.last_print_t >= tq.mininterval:
            tq.refresh()
            tq.last_print_t = now

    def close(self) -> None:
        """Remove the line (the summary table follows)."""
        self.clear()
