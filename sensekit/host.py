"""The host (CPU) memory allocator of a compute process.

An iterative solver on CPU allocates and frees the same few arrays every iteration (k-space of a
multi-coil series: megabytes each).  glibc's ``malloc`` serves blocks that large with ``mmap`` and hands
them back with ``munmap`` on ``free`` (or trims the heap top), so the next iteration's array is fresh
memory that the kernel must fault in and zero page by page.  Measured on the mri-recon default
(``sensekit run mri-recon`` on its built-in phantom, 100 llr-tv iterations, one thread): 2.1 s of 13.9 s
was system time, nearly all of it page faults; keeping freed memory in the heap cut the system time to
0.55 s and the peak resident size did not grow (666 → 616 MB).  PyTorch's own CPU tuning guide gives
the same advice as a swap of allocator (jemalloc or TCMalloc through ``LD_PRELOAD``); this is the
in-process equivalent that needs nothing installed.

:func:`keep_freed_memory` is called by the ``sensekit`` command (and each ``batch`` worker), not on
``import sensekit``: a library must not change the allocator of the program that imports it.  Opt out
with ``SENSEKIT_KEEP_FREED_MEMORY=0``.  The call changes nothing when the user already tunes malloc
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``GLIBC_TUNABLES``) or
preloads another allocator, and nothing off glibc (macOS, musl, Windows).
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys

#: the env variable that turns the setting off ("0") or on ("1", the default)
ENV = "SENSEKIT_KEEP_FREED_MEMORY"
#: bytes: blocks smaller than this come from the heap (not mmap), and up to this much freed memory stays in it
KEEP_BYTES = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3     # glibc <malloc.h>
_USER_TUNED = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_state: dict = {}


def _setting() -> bool:
    v = os.environ.get(ENV, "1").strip()
    if v not in ("0", "1"):
        raise ValueError(f"environment variable {ENV}={v!r}: expected 0 (off) or 1 (on, the default)")
    return v == "1"


def keep_freed_memory(limit: int = KEEP_BYTES) -> bool:
    """Keep freed blocks of up to ``limit`` bytes in the C heap for reuse instead of returning them to the OS.

    Sets glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to ``limit`` (``mallopt``), once per process.
    See the module notes for why and what it changes.

    Parameters
    ----------
    limit : int
        Bytes; 1 GiB by default.

    Returns
    -------
    bool
        True when the setting is in effect in this process (set now or by an earlier call), False when it was
        not applied: switched off by ``SENSEKIT_KEEP_FREED_MEMORY=0``, malloc already tuned by the user, another
        allocator preloaded, or a C library other than glibc.

    Raises
    ------
    ValueError
        ``SENSEKIT_KEEP_FREED_MEMORY`` set to something other than 0 or 1.
    """
    on = _setting()
    if "applied" in _state:
        return _state["applied"]
    ok = False
    if on and sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" \
            and not any(k in os.environ for k in _USER_TUNED) \
            and not any(a in os.environ.get("LD_PRELOAD", "") for a in ("jemalloc", "tcmalloc", "mimalloc")):
        try:
            libc = ctypes.CDLL(None)
            n = ctypes.c_int(int(min(limit, 2 ** 31 - 1)))
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, n)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, n))
        except (OSError, AttributeError):
            ok = False
    _state["applied"] = ok
    return ok


__all__ = ["keep_freed_memory", "ENV", "KEEP_BYTES"]
