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
