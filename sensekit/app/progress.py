"""A dependency-free progress bar for the CLI (stderr, only on a terminal)."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """Callable solver callback ``(info, state)`` drawing ``label [#####     ] it/total``."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool | None = None, width: int = 30):
        self.total, self.label, self.width = max(1, int(total)), label, width
        self.stream = stream or sys.stderr
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self._last = 0.0

    def set_total(self, total: int) -> None:
        """Resize the bar once the real bound is known (e.g. a method chosen per input)."""
        self.total = max(1, int(total))

    def __call__(self, info, state=None):
        if not self.enabled:
            return
        now = time.monotonic()
        it = int(info.get("iter", 0))
        if now - self._last < 0.1 and it < self.total:
            return
        self._last = now
        frac = min(1.0, it / self.total)
        bar = "#" * int(frac * self.width)
        self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {it}/{self.total}")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + self.width + 24) + "\r")
            self.stream.flush()


class BatchProgress:
    """``on_event`` for the batch runners: one line ``batch [####   ] files 3/10 · samples 17/40 · 1 failed``.

    Sample totals grow as files are opened (a file's sample count is known only then).
    """

    def __init__(self, n_files: int, label: str = "batch", stream=None, enabled: bool | None = None,
                 width: int = 24):
        self.n_files, self.label, self.width = max(1, n_files), label, width
        self.stream = stream or sys.stderr
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self.files_done, self.failed = 0, 0
        self.samples_total, self.samples_done = 0, 0
        self._known: set = set()   # files whose sample count is known (opened, or finished either way)
        self._last = 0.0

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

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = self.files_done / self.n_files
        bar = "#" * int(frac * self.width)
        tot = str(self.samples_total) if len(self._known) >= self.n_files else f"{self.samples_total}+"
        msg = f"\r{self.label} [{bar:<{self.width}}] files {self.files_done}/{self.n_files} · samples " \
              f"{self.samples_done}/{tot}" + (f" · {self.failed} failed" if self.failed else "")
        self.stream.write(msg)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
