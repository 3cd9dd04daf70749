"""Timing helper shared by the benchmark modules."""
from __future__ import annotations

import time


def best_time(fn, *, repeat: int = 5, warmup: int = 1, device=None) -> tuple[float, object]:
    """The fastest of ``repeat`` calls of ``fn()`` after ``warmup`` untimed calls, and the last result.

    With a CUDA ``device`` the clock stops only after the device has finished (one synchronisation per
    call, outside the timed code's own loop).
    """
    sync = None
    if device is not None and getattr(device, "type", str(device)).startswith("cuda"):
        import torch
        sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
    out = None
    for _ in range(warmup):
        out = fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best, out
