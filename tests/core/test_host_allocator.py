"""sensekit.host: the compute process keeps freed memory in the C heap (glibc), and only when asked to."""
import ctypes
import os
import platform
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
CLEAN = {k: v for k, v in os.environ.items()
         if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "LD_PRELOAD", "SENSEKIT_KEEP_FREED_MEMORY")}


def _child(code, **env):
    r = subprocess.run([sys.executable, "-c", code], env={**CLEAN, **env}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip()


# the blocks glibc maps for one 64 MB array (beyond its largest dynamic mmap threshold, 32 MB), read with
# mallinfo2 (glibc ≥ 2.33): with the setting the array comes from the heap, and once freed, stays there
PROBE = """
import ctypes, torch
from sensekit.host import keep_freed_memory
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MI
applied = keep_freed_memory() if {tune} else False
before = libc.mallinfo2().hblks
a = torch.ones(1 << 23, dtype=torch.complex64)
print(applied, libc.mallinfo2().hblks - before)
"""


def _has_mallinfo2():
    try:
        return hasattr(ctypes.CDLL(None), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not (GLIBC and _has_mallinfo2()), reason="glibc ≥ 2.33 only (mallinfo2)")
def test_freed_arrays_are_reused_from_the_heap():
    applied, mapped = _child(PROBE.format(tune=True)).split()
    assert applied == "True" and int(mapped) == 0
    applied, mapped = _child(PROBE.format(tune=False)).split()     # glibc's default: mapped
    assert applied == "False" and int(mapped) == 1


@pytest.mark.skipif(not GLIBC, reason="glibc only")
@pytest.mark.parametrize("env", [{"SENSEKIT_KEEP_FREED_MEMORY": "0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"},
                                 {"LD_PRELOAD": "libjemalloc.so.2-not-here"}])
def test_left_alone_when_switched_off_or_tuned_by_the_user(env):
    code = "from sensekit.host import keep_freed_memory as k; print(k(), k())"
    assert _child(code, **env) == "False False"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_applied_once_and_idempotent():
    code = "from sensekit.host import keep_freed_memory as k; print(k(), k())"
    assert _child(code) == "True True"


def test_bad_setting_is_refused(monkeypatch):
    from sensekit import host
    monkeypatch.setenv(host.ENV, "yes")
    with pytest.raises(ValueError, match="SENSEKIT_KEEP_FREED_MEMORY='yes': expected 0"):
        host.keep_freed_memory()


def test_cli_refuses_a_bad_setting_with_exit_3(tmp_path):
    out = tmp_path / "o.h5"
    cmd = [sys.executable, "-c", "from sensekit.cli import main; main()", "simulate", "mri-recon", "-o", str(out)]
    env = {**CLEAN, "SENSEKIT_KEEP_FREED_MEMORY": "2"}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3
    assert r.stderr.strip().count("\n") == 0 and "SENSEKIT_KEEP_FREED_MEMORY" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
