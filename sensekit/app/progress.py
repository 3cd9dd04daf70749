"""Progress on the CLI's stderr (only on a terminal): elapsed time, rate, ETA and named setup phases.

Kept dependency-free on purpose: the core's dependencies are fixed (numpy, scipy, PyWavelets, torch,
h5py, click, matplotlib) and this needs ~100 lines, not a library.  The line looks like::

    mri-recon [##########            ] 48/100 · 0:05 elapsed · 9.6 it/s · ETA 0:05
    mri-recon: coil maps… 0:02

A solver reports through the callback protocol ``bar(info, state)`` (``info["iter"]``); an app names its
setup phases by calling ``cb.phase("coil maps")`` on the callbacks that have a ``phase`` method
(:func:`phase`), so seven silent seconds before the first iteration say what they are doing.
"""
from __future__ import annotations

import sys
import time


def fmt_seconds(s: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``."""
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def phase(callbacks, name: str) -> None:
    """Tell every callback that has a ``phase`` method that the setup phase ``name`` starts."""
    for cb in callbacks or ():
        fn = getattr(cb, "phase", None)
        if callable(fn):
            fn(name)


class _Line:
    def __init__(self, stream, enabled):
        self.stream = stream or sys.stderr
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self._width = 0

    def write(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class ProgressBar(_Line):
    """Callable solver callback ``(info, state)``: ``label [#####     ] it/total · elapsed · rate · ETA``."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool | None = None, width: int = 30,
                 t0: float | None = None):
        super().__init__(stream, enabled)
        self.total, self.label, self.width = max(1, int(total)), label, width
        self.t0 = time.monotonic() if t0 is None else t0   # elapsed counts from t0 (e.g. the command's start)
        self._last = 0.0
        self._start = None        # (time, iteration) of the first report: the rate leaves setup time out
        self._phase = None        # (name, start time) of the current setup phase

    def set_total(self, total: int) -> None:
        """Resize the bar once the real bound is known (e.g. a method chosen per input)."""
        self.total = max(1, int(total))

    def phase(self, name: str) -> None:
        """A named setup phase starts (shown until the first iteration)."""
        self._phase = (name, time.monotonic())
        if self.enabled:
            self.write(f"{self.label}: {name}… {fmt_seconds(time.monotonic() - self.t0)}")

    def text(self, it: int, now: float) -> str:
        frac = min(1.0, it / self.total)
        bar = "#" * int(frac * self.width)
        msg = f"{self.label} [{bar:<{self.width}}] {it}/{self.total} · {fmt_seconds(now - self.t0)} elapsed"
        if self._start is not None and it > self._start[1] and now > self._start[0]:
            rate = (it - self._start[1]) / (now - self._start[0])
            msg += f" · {rate:.3g} it/s" if rate >= 1 else f" · {1 / rate:.3g} s/it"
            msg += f" · ETA {fmt_seconds((self.total - it) / rate)}"
        return msg

    def __call__(self, info, state=None):
        if not self.enabled:
            return
        now = time.monotonic()
        it = int(info.get("iter", 0))
        if self._start is None:
            self._start = (now, it)
        if now - self._last < 0.1 and it < self.total:
            return
        self._last = now
        self.write(self.text(it, now))

    def close(self):
        self.clear()


class BatchProgress(_Line):
    """``on_event`` for the batch runners: ``batch [####   ] files 3/10 · samples 17/40 · 1 failed · 0:42 · ETA 1:38``.

    Sample totals grow as files are opened (a file's sample count is known only then); the ETA follows
    the finished samples' rate once every file's count is known, else the finished files' rate.
    """

    def __init__(self, n_files: int, label: str = "batch", stream=None, enabled: bool | None = None,
                 width: int = 24):
        super().__init__(stream, enabled)
        self.n_files, self.label, self.width = max(1, n_files), label, width
        self.files_done, self.failed = 0, 0
        self.samples_total, self.samples_done = 0, 0
        self._known: set = set()   # files whose sample count is known (opened, or finished either way)
        self._last = 0.0
        self.t0 = time.monotonic()

    def __call__(self, kind: str, index: int, value) -> None:
        if kind == "start":
            self.samples_total += int(value)
            self._known.add(index)
        elif kind == "sample":
            self.samples_done += 1
        elif kind == "report":
            self.files_done += 1
            self.failed += value.status == "failed"
            self._known.add(index)
        self.draw(force=kind == "report")

    def text(self, now: float) -> str:
        frac = self.files_done / self.n_files
        bar = "#" * int(frac * self.width)
        known = len(self._known) >= self.n_files
        tot = str(self.samples_total) if known else f"{self.samples_total}+"
        msg = f"{self.label} [{bar:<{self.width}}] files {self.files_done}/{self.n_files} · samples " \
              f"{self.samples_done}/{tot}" + (f" · {self.failed} failed" if self.failed else "")
        elapsed = now - self.t0
        msg += f" · {fmt_seconds(elapsed)}"
        if known and self.samples_done and self.samples_total > self.samples_done:
            msg += f" · ETA {fmt_seconds(elapsed / self.samples_done * (self.samples_total - self.samples_done))}"
        elif not known and self.files_done:
            msg += f" · ETA {fmt_seconds(elapsed / self.files_done * (self.n_files - self.files_done))}"
        return msg

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self.write(self.text(now))

    def close(self) -> None:
        self.clear()
