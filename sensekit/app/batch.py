"""Batch processing: many input files, one output file each, resumable sample by sample.

``sensekit batch APP IN_DIR_OR_GLOB -o OUT_DIR`` plans one :class:`FileTask`
per input and runs :func:`process_file` on each, in this process, in local
worker processes or on a Dask cluster (:mod:`sensekit.app.pool`).

Guarantees
----------
* Outputs mirror the inputs' paths relative to their common folder, so two
  inputs with the same name in different folders never collide
  (``a/x.h5 → OUT/a/x.h5``, ``b/x.h5 → OUT/b/x.h5``); a non-HDF5 input keeps its
  name plus ``.h5`` (``clip.avi → OUT/clip.avi.h5``).
* A finished output appears only by an atomic rename after every sample is
  done: an interrupted or failed file never leaves a partial output.
* Every finished sample is a small file ``OUT/.sensekit-batch/<output>.parts/sample-NNNNNN.h5``
  (written atomically: its presence is the sample's done flag) next to a
  ``task.json`` fingerprint of the app, options, seed, device type, versions, torch
  thread count and input (path, size, mtime).  ``--resume`` skips files whose output exists and,
  inside an unfinished file, samples whose flag exists when the fingerprint
  still matches (otherwise the file starts over).  Sample ``i`` always draws from
  a generator seeded ``seed + i``, and the final file is assembled from the
  sample files in both cases, so a resumed file's datasets and metrics are
  byte-identical to an uninterrupted run's; only ``provenance/wall_time_s``
  (the measured seconds) differs.
* A corrupt or invalid file is reported (with the one-line reason) and skipped;
  the other files go on.
* Non-HDF5 inputs go through the app's ``open_input`` hook; when the app declares
  ``folder_patterns``, a folder holding such files (a folder of frames) is ONE input
  (``clips/a/ → OUT/a.h5``), and ``batch APP clips/`` takes every such subfolder.
* Streamed apps (``App.stream_axis``): a sample's outputs are written block by block
  into ``sample-NNNNNN.h5.partial.h5`` with a checkpoint ``sample-NNNNNN.h5.ckpt.pt``
  after every block; ``--resume`` after a kill continues the sample at its next
  unfinished block (or restarts the sample cleanly when the partial file was left
  unreadable), byte-identical to an uninterrupted run (see :mod:`sensekit.app.stream`).
  The final output is copied from the part files block by block: memory stays bounded.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import hashlib
import json
import os
import shutil
import sys
import time
from typing import Callable

from .._version import __version__
from ..io.errors import ConfigError, InputError

WORK_DIR = ".sensekit-batch"
_HDF5_EXT = (".h5", ".hdf5")


class Interrupted(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT while a batch runs (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


#: set by the batch's signal handler; checked before every sample so that an interruption is never lost
#: (Python prints and drops an exception raised while a weakref callback or ``__del__`` runs)
STOP = {"signum": None}


def check_stop() -> None:
    """Raise :class:`Interrupted` if a stop signal has arrived (a safe point between pieces of work)."""
    if STOP["signum"] is not None:
        raise Interrupted(STOP["signum"])


def stop_handler(signum: int, frame: object) -> None:
    """The SIGTERM/SIGINT handler of a batch process: remember the signal, then interrupt (once)."""
    if STOP["signum"] is None:
        STOP["signum"] = signum
        raise Interrupted(signum)


def _quiet_unraisable(default):
    def hook(unraisable):
        if not isinstance(unraisable.exc_value, Interrupted):   # dropped there, acted on at the next check
            default(unraisable)
    return hook


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...]):
    """Install :func:`stop_handler` for ``signals`` (main thread only); restore everything afterwards.

    Yields
    ------
    dict
        The shared ``STOP`` dict; its ``"signum"`` is set when one of ``signals`` arrives.
    """
    import signal
    import sys
    import threading
    STOP["signum"] = None
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return
    old = {s: signal.signal(s, stop_handler) for s in signals}
    old_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(old_hook)
    try:
        yield STOP
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sys.unraisablehook = old_hook
        STOP["signum"] = None


@dataclasses.dataclass(frozen=True)
class FileTask:
    """One input file's work, plain data so that it pickles to worker processes and Dask workers."""

    index: int
    app: str
    input: str          # absolute path
    output: str         # absolute path of the final output
    workdir: str        # absolute path of this file's per-sample folder
    workroot: str       # OUT_DIR/.sensekit-batch (pruned when empty)
    name: str           # display name (input path relative to the common folder)
    options: dict       # the full Config as {name: value}
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    plot: str | None = None   # figure format written beside the output, or None
    app_target: str = ""      # "module:Class" of the app, so that any worker (Dask too) can load it
    skip: str = ""            # why this input is listed but not processed (a dot-named file)


@dataclasses.dataclass
class FileReport:
    """What happened to one file."""

    index: int
    name: str
    status: str                  # done | skipped | failed | interrupted | not started
    output: str = ""
    samples: int | None = None   # samples in the file (None when it could not be opened)
    run: int = 0                 # samples computed now
    resumed: int = 0             # samples taken from an earlier, interrupted run
    seconds: float = 0.0
    reason: str = ""
    error: str = ""              # input | config | other (for failures)
    metrics: dict = dataclasses.field(default_factory=dict)


# ----------------------------------------------------------------------------- the output folder's lock
@contextlib.contextmanager
def output_lock(out_dir: str, created: bool = False):
    """One batch at a time per output folder: an advisory ``flock`` on ``OUT/.sensekit-batch/lock``.

    Only the owner removes the lock file (while still holding it): a refused batch leaves it alone,
    so that a third batch is refused too.  A lock file removed by its owner between another batch's
    ``open`` and ``flock`` is noticed (the locked file is no longer the one at the path) and retried.
    ``created``: the batch made ``out_dir``; a batch that fails (e.g. no connection to ``--scheduler``)
    removes it again when it is left empty.

    Yields
    ------
    str
        The path of the lock file, held for the duration of the ``with`` block.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    work = os.path.join(out_dir, WORK_DIR)
    path = os.path.join(work, "lock")
    fd = None
    for _ in range(50):
        os.makedirs(work, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:   # the owner removed the work folder just now
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"-o {out_dir}: another batch is writing to this folder") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)   # we locked a file its owner had just removed: try again on the current one
        fd = None
    if fd is None:
        raise ConfigError(f"-o {out_dir}: cannot take the batch lock {path}")
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)   # still locked by us: nobody else owns this file
        os.close(fd)
        with contextlib.suppress(OSError):
            os.rmdir(work)
        if created and sys.exc_info()[0] is not None:
            with contextlib.suppress(OSError):
                os.rmdir(out_dir)   # only when empty


# ----------------------------------------------------------------------------- planning
def _folder_is_input(app, path: str) -> bool:
    """Whether ``path`` is a folder that the app takes as ONE input (it holds files matching ``folder_patterns``)."""
    pats = tuple(getattr(app, "folder_patterns", ()) or ())
    if not pats or not os.path.isdir(path):
        return False
    return any(os.path.isfile(p) for pat in pats for p in glob.glob(os.path.join(glob.escape(path), pat)))


def _component_regex(part: str) -> str:
    """One path component's glob (``*``, ``?``, ``[...]``) as a regex that never crosses ``/``."""
    import re
    out, i = "", 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and "]" in part[i + 2:] + part[i + 1:i + 2]:
            j = part.index("]", i + 2) if part[i + 1:i + 2] == "]" else part.index("]", i + 1)
            inner = part[i + 1:j]
            inner = "^" + inner[1:] if inner.startswith("!") else inner
            out += "[" + inner.replace("\\", "\\\\") + "]"
            i = j
        else:
            out += re.escape(c)
        i += 1
    return out


def _glob_regex(parts: list, *, hidden: bool):
    """A regex for path components ``parts`` (``**`` = any number of components, ``*``/``?``/``[..]`` inside one).

    Like :mod:`glob`, a wildcard does not match a leading dot unless ``hidden``.
    """
    import re
    rx = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            comp = r"[^/]+" if hidden else r"(?!\.)[^/]+"
            rx += f"(?:{comp}/)*" if not last else f"(?:{comp}(?:/{comp})*)?"
            continue
        body = _component_regex(part)
        if not hidden and not part.startswith("."):
            body = r"(?!\.)" + body
        rx += body + ("" if last else "/")
    return re.compile(rx + r"\Z", re.DOTALL)


def walk_glob(spec: str) -> tuple[list, list]:
    """``(matches, hidden)`` of a glob with ``**``, following each real directory once.

    :func:`glob.glob` follows a symlink loop until the path length limit (one file found dozens of
    times; two loops never end).  Here every directory reached by a symlink whose real directory was
    already visited is not entered again.  ``hidden`` are the matches that only a dot-named component
    keeps out (listed as skipped by :func:`plan`, never silently ignored).

    Returns
    -------
    tuple[list, list]
        The matching paths and the hidden entries skipped on the way.
    """
    parts = [p for p in spec.split(os.sep)]
    absolute = spec.startswith(os.sep)
    parts = [p for p in parts if p]
    i = next((j for j, p in enumerate(parts) if glob.has_magic(p)), len(parts))
    base = (os.sep if absolute else "") + os.sep.join(parts[:i]) or "."
    rest = parts[i:]
    if not rest or not os.path.isdir(base):
        return (glob.glob(spec), []) if not rest else ([], [])
    visible, anyname = _glob_regex(rest, hidden=False), _glob_regex(rest, hidden=True)
    seen, found, hidden = set(), [], []
    for d, dirs, files in os.walk(base, followlinks=True):
        try:
            st = os.stat(d)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort(key=lambda x: (os.path.islink(os.path.join(d, x)), x))   # real folders before links to them
        rel_dir = os.path.relpath(d, base)
        for name in sorted(files) + list(dirs):
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            rel_s = rel.replace(os.sep, "/")
            if visible.match(rel_s):
                found.append(os.path.join(d, name))
            elif anyname.match(rel_s):
                hidden.append(os.path.join(d, name))
    return found, hidden


def find_inputs(app, spec: str, out_dir: str | None = None, hidden: list | None = None) -> list[str]:
    """Input files named by a folder (its files matching ``app.batch_patterns``), a glob or one file.

    When the app declares ``folder_patterns`` (a folder of frames is one input), a folder is
    itself one input if it holds such files directly, otherwise its subfolders that do are
    inputs beside its matching files; a glob may name such folders too.  Files inside
    ``out_dir`` are left out (so that a glob over a tree holding the outputs does not pick
    them up again).  :class:`ConfigError` when nothing matches.

    Returns
    -------
    list[str]
        The absolute input paths, sorted, those below ``out_dir`` excluded.
    """
    spec = os.path.expanduser(str(spec))
    skipped: set = set()
    if os.path.isdir(spec):
        if _folder_is_input(app, spec):
            found, where = {spec.rstrip(os.sep) or spec}, spec
        else:
            found = set()
            for pat in app.batch_patterns:
                found.update(p for p in glob.glob(os.path.join(glob.escape(spec), pat)) if os.path.isfile(p))
                if sys.version_info >= (3, 11):
                    skipped.update(p for p in glob.glob(os.path.join(glob.escape(spec), pat), include_hidden=True)
                                   if os.path.isfile(p) and os.path.basename(p).startswith("."))
            found.update(p for p in glob.glob(os.path.join(glob.escape(spec), "*")) if _folder_is_input(app, p))
            where = f"folder {spec} (patterns {', '.join(app.batch_patterns)}" + (
                f"; folders of {', '.join(app.folder_patterns)}" if getattr(app, "folder_patterns", ()) else "") + ")"
    elif glob.has_magic(spec):
        if "**" in spec:
            matches, dots = walk_glob(spec)
        else:
            matches = glob.glob(spec)
            dots = [p for p in glob.glob(spec, include_hidden=True) if p not in set(matches)] \
                if sys.version_info >= (3, 11) else []
        found = {p for p in matches if os.path.isfile(p) or _folder_is_input(app, p)}
        skipped.update(p for p in dots if os.path.isfile(p) or _folder_is_input(app, p))
        where = f"pattern {spec}"
    elif os.path.exists(spec):
        found, where = {spec}, spec
    else:
        raise ConfigError(f"{spec}: no such file or folder")
    paths = sorted({os.path.abspath(p) for p in found})
    dots = sorted({os.path.abspath(p) for p in skipped} - set(paths))
    if out_dir is not None:
        out = os.path.abspath(out_dir) + os.sep
        paths = [p for p in paths if not p.startswith(out)]
        dots = [p for p in dots if not p.startswith(out)]
    if hidden is not None:
        hidden.extend(dots)
    if not paths:
        extra = f" ({len(dots)} dot-named file(s) skipped, e.g. {dots[0]})" if dots else ""
        raise ConfigError(f"no input files in {where}{extra}")
    return paths


def output_names(inputs: list[str]) -> list[str]:
    """Output paths relative to OUT_DIR, mirroring the inputs below their common folder.

    Returns
    -------
    list[str]
        One relative output path per input, in input order.
    """
    root = os.path.commonpath([os.path.dirname(p) for p in inputs])
    rels = []
    for p in inputs:
        rel = os.path.relpath(p, root)
        if os.path.splitext(rel)[1].lower() not in _HDF5_EXT:
            rel += ".h5"
        rels.append(rel)
    return rels


def plan(app, spec: str, out_dir: str, config, *, seed: int = 0, device: str = "auto", resume: bool = False,
         plot: str | None = None) -> list[FileTask]:
    """One :class:`FileTask` per input file (see :func:`find_inputs` and :func:`output_names`).

    Returns
    -------
    list[FileTask]
        One task per input file, in input order.
    """
    from .base import config_dict
    from .registry import app_target
    target = app_target(app.name) or ""
    out_dir = os.path.abspath(out_dir)
    hidden: list = []
    inputs = find_inputs(app, spec, out_dir, hidden)
    skips = {p: "dot-named (hidden) file: not processed; rename it or name it explicitly" for p in hidden}
    inputs = sorted(inputs + hidden)
    root = os.path.commonpath([os.path.dirname(p) for p in inputs])
    tasks = []
    for i, (src, rel) in enumerate(zip(inputs, output_names(inputs))):
        tasks.append(FileTask(index=i, app=app.name, input=src, output=os.path.join(out_dir, rel),
                              workdir=os.path.join(out_dir, WORK_DIR, rel + ".parts"),
                              workroot=os.path.join(out_dir, WORK_DIR),
                              name=os.path.relpath(src, root), options=config_dict(config), seed=int(seed),
                              device=device, resume=bool(resume), plot=plot, app_target=target,
                              skip=skips.get(src, "")))
    return tasks


# ----------------------------------------------------------------------------- one file
@functools.lru_cache(maxsize=None)
def _app(name: str, target: str = ""):
    from .registry import get_app, load_target
    try:
        return get_app(name)
    except ConfigError:
        if not target:
            raise
        return load_target(target)()   # e.g. a test-only app on a Dask worker that lacks the registration


def input_stamp(path: str) -> dict:
    """Size and modification time of an input file, or of every file in an input folder (a frame folder).

    Returns
    -------
    dict
        ``{"size": ..., "mtime_ns": ...}`` (for a folder: total size and a hash of its files' stamps).
    """
    if os.path.isdir(path):
        h = hashlib.sha1()
        size = 0
        for name in sorted(os.listdir(path)):
            st = os.stat(os.path.join(path, name))
            size += st.st_size
            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        return {"size": size, "mtime_ns": h.hexdigest()}
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _fingerprint(task: FileTask, device, n_samples: int, has_n: bool) -> dict:
    import torch
    return {"app": task.app, "options": json.dumps(task.options, sort_keys=True, default=str), "seed": task.seed,
            "device_type": device.type, "input": task.input, **input_stamp(task.input),
            "n_samples": n_samples, "has_n": has_n, "sensekit": __version__, "torch": torch.__version__,
            # the thread count changes the order of CPU reductions (the 7th digit): a resume with another
            # --workers (threads per worker) starts the file over instead of mixing samples of both
            "torch_threads": int(torch.get_num_threads())}


def _write_json(path: str, data: dict) -> None:
    from ..io.hdf5 import atomic_path
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(data, fh, sort_keys=True)


def _open_workdir(task: FileTask, fp: dict) -> str:
    """Make the file's sample folder; keep finished samples only when resuming the same work."""
    note = ""
    if os.path.isdir(task.workdir):
        old = None
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(task.workdir, "task.json")) as fh:
                old = json.load(fh)
        if not task.resume or old != fp:
            if task.resume and old is not None:
                note = "restarted: input or options changed since the interrupted run"
            shutil.rmtree(task.workdir, ignore_errors=True)
    os.makedirs(task.workdir, exist_ok=True)
    if not os.path.exists(os.path.join(task.workdir, "task.json")):
        _write_json(os.path.join(task.workdir, "task.json"), fp)
    return note


def _remove_workdir(task: FileTask) -> None:
    """Delete the file's sample folder and the folders above it that became empty, up to WORK_DIR."""
    shutil.rmtree(task.workdir, ignore_errors=True)
    d = os.path.dirname(task.workdir)
    while len(d) >= len(task.workroot) and d.startswith(task.workroot):
        try:
            os.rmdir(d)
        except OSError:
            break
        d = os.path.dirname(d)


def _part_path(task: FileTask, i: int) -> str:
    return os.path.join(task.workdir, f"sample-{i:06d}.h5")


def write_part(app, path: str, res, index: int) -> None:
    """One finished sample, atomically: its outputs, metrics, iterations and seconds."""
    from ..io.hdf5 import write_h5
    from .runner import output_datasets
    groups = {"sample": {"index": index, "iterations": res.iterations, "seconds": res.seconds, "done": True,
                         "stop_reason": res.stop_reason, "method": res.method,
                         "history_summary": json.dumps(res.history, sort_keys=True) if res.history else ""},
              "metrics": res.metrics}
    write_h5(path, output_datasets(app, res.outputs, False, res.axes), groups=groups)


def _attr(v):
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if hasattr(v, "item") else v


def read_part(path: str):
    """A :class:`~sensekit.app.runner.SampleResult` back from a sample file.

    A streamed sample's outputs stay in the file (``part`` is set, ``outputs`` empty): the final
    output is copied from it block by block.

    Returns
    -------
    SampleResult
        The outputs, metrics, iterations and seconds stored in the part file.
    """
    import h5py
    import numpy as np
    from .runner import SampleResult
    with h5py.File(path, "r") as f:
        s = {k: _attr(v) for k, v in f["sample"].attrs.items()}
        if not bool(s.get("done", False)):
            raise OSError(f"{path}: sample not marked done")
        streamed = bool(s.get("streamed", False))
        outputs = {} if streamed else {k: np.asarray(f[k][()]) for k in f if isinstance(f[k], h5py.Dataset)}
        axes = {} if streamed else {k: _attr(f[k].attrs["axes"]) for k in outputs if "axes" in f[k].attrs}
        metrics = {k: _attr(v) for k, v in f["metrics"].attrs.items()} if "metrics" in f else {}
        hist = s.get("history_summary") or ""
        return SampleResult(outputs=outputs, metrics=metrics, iterations=int(s["iterations"]),
                            seconds=float(s["seconds"]), stop_reason=str(s.get("stop_reason", "") or ""),
                            history=json.loads(hist) if hist else None, part=path if streamed else None,
                            method=str(s.get("method", "") or ""), axes=axes)


def remove_stale_temporaries(task: FileTask) -> list:
    """Delete the hidden ``.NAME.*.tmp`` files a killed run left beside this file's output, figure and samples.

    Safe on ``--resume``: the batch holds the output folder's lock and the workers of a killed batch
    died with it, so no writer owns them.  Returns the removed paths.

    Returns
    -------
    list
        The paths that were removed.
    """
    pats = [os.path.join(glob.escape(os.path.dirname(task.output)), "." + glob.escape(os.path.basename(p)) + ".*.tmp")
            for p in (task.output, *([_figure_path(task)] if task.plot else []))]
    if os.path.isdir(task.workdir):
        pats.append(os.path.join(glob.escape(task.workdir), ".*.tmp"))
    removed = []
    for pat in pats:
        for p in glob.glob(pat):
            with contextlib.suppress(OSError):
                os.remove(p)
                removed.append(p)
    return removed


def _figure_path(task: FileTask) -> str:
    return os.path.splitext(task.output)[0] + "." + task.plot


#: seconds between two ``iter`` events of a batch file (:class:`IterationReport`)
ITER_REPORT_EVERY = 0.5


class IterationReport:
    """Solver callback of a batch file: ``progress("iter", (sample, n_samples, iteration, bound))``, throttled.

    Sent at most every ``every`` seconds (and at the first iteration), so that a worker process does not
    flood the event queue; the batch's progress line shows the file in hand with its iteration and ETA.

    Parameters
    ----------
    progress : callable
        ``progress(event, value)`` of :func:`process_file`.
    sample, n_samples : int
        Which sample of how many in the file.
    bound : int or None
        The iteration bound (``set_total`` resizes it, as for :class:`~sensekit.app.progress.ProgressBar`).
    every : float, optional
        Seconds between two reports (default :data:`ITER_REPORT_EVERY`).
    """

    def __init__(self, progress: Callable, sample: int, n_samples: int, bound: int | None,
                 every: float | None = None):
        self.progress, self.sample, self.n_samples, self.bound = progress, sample, n_samples, bound
        self.every = ITER_REPORT_EVERY if every is None else every
        self._last = None

    def set_total(self, total: int) -> None:
        """Resize the bound once the method chosen for this input is known.

        Parameters
        ----------
        total : int
            The new iteration bound.
        """
        self.bound = int(total)

    def phase(self, name: str) -> None:
        """Report a named setup phase (``progress("phase", (sample, n_samples, name))``, not throttled).

        Parameters
        ----------
        name : str
            The phase, e.g. ``"coil maps (espirit)"``.
        """
        self.progress("phase", (self.sample, self.n_samples, str(name)))

    def __call__(self, info, state=None):
        """Report iteration ``info["iter"]`` (throttled).

        Parameters
        ----------
        info : dict
            Holds ``"iter"``.
        state : object, optional
            The solver's state (unused).
        """
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return
        self._last = now
        self.progress("iter", (self.sample, self.n_samples, int(info.get("iter", 0)), self.bound))


def _iteration_bound(app, cfg) -> int | None:
    if hasattr(app, "expected_iterations"):
        with contextlib.suppress(Exception):
            return int(app.expected_iterations(cfg))
    bound = getattr(cfg, "max_iter", None)
    return int(bound) if isinstance(bound, int) and bound > 0 else None


def process_file(task: FileTask, progress: Callable | None = None) -> FileReport:
    """Run one file to its final output; never raises for a bad file (the report says why).

    ``progress(event, value)`` is called with ``("start", n_samples)``,
    ``("phase", (sample, n_samples, name))`` for its setup phases,
    ``("iter", (sample, n_samples, iteration, bound))`` a few times a second while
    a sample runs (see :class:`IterationReport`) and ``("sample", i)``.  An
    :class:`Interrupted` (SIGTERM) or KeyboardInterrupt gives an ``interrupted`` report:
    the finished samples stay for ``--resume``.

    Returns
    -------
    FileReport
        What happened to the file: status, error kind, reason, metrics and timing.
    """
    import torch
    from .base import make_config
    from .runner import assemble, device_of, open_samples, run_sample, write_result, write_sample_figure

    t0 = time.perf_counter()
    rep = FileReport(index=task.index, name=task.name, status="failed", output=task.output)
    if task.skip:
        rep.status, rep.reason = "skipped", task.skip
        return rep
    try:
        if task.resume:
            remove_stale_temporaries(task)
        if task.resume and os.path.exists(task.output):
            rep.status, rep.reason = "skipped", "output exists (--resume)"
            if os.path.isdir(task.workdir):
                _remove_workdir(task)
            return rep
        app = _app(task.app, task.app_target)
        cfg = make_config(app.Config, task.options, source="in the batch options")
        device = device_of(task.device)
        os.makedirs(os.path.dirname(task.output), exist_ok=True)
        if app.stream_axis is not None:
            result = _process_streamed(app, task, cfg, device, rep, progress)
            rep.status, rep.metrics = "done", dict(result.metrics)
            _remove_workdir(task)
            return rep
        with open_samples(app, task.input, seed=task.seed) as src:
            n = rep.samples = src.n_samples
            if progress:
                progress("start", n)
            rep.reason = _open_workdir(task, _fingerprint(task, device, n, src.has_n))
            for i in range(n):
                check_stop()
                part = _part_path(task, i)
                if os.path.exists(part):
                    rep.resumed += 1
                else:
                    cbs = [IterationReport(progress, i, n, _iteration_bound(app, cfg))] if progress else []
                    res = run_sample(app, src.get(i), cfg, device=device, seed=task.seed, index=i, path=src.path,
                                     where=f"sample {i}" if src.has_n else "", callbacks=cbs)
                    write_part(app, part, res, i)
                    rep.run += 1
                if progress:
                    progress("sample", i)
            check_stop()
            # assemble from the sample files in every case: resumed and fresh files are built alike
            results = [read_part(_part_path(task, i)) for i in range(n)]
            result = assemble(app, results, has_n=src.has_n, config=cfg, device=device, seed=task.seed,
                              label=src.label)
            if task.plot:   # before the output, so that an existing output means the figure is there too
                write_sample_figure(app, src.get(0), results[0].outputs, _figure_path(task), cfg)
            write_result(app, result, task.output)
        rep.status, rep.metrics = "done", dict(result.metrics)
        _remove_workdir(task)
    except (Interrupted, KeyboardInterrupt):
        if rep.status != "done":   # a signal while tidying up after the output was written changes nothing
            rep.status, rep.reason = "interrupted", f"{rep.resumed + rep.run} sample(s) kept for --resume"
            with contextlib.suppress(Exception):
                if _app(task.app, task.app_target).stream_axis is not None:
                    rep.reason += " (and the finished blocks of the sample in progress)"
    except (InputError, ConfigError) as e:
        rep.error = "input" if isinstance(e, InputError) else "config"
        rep.reason = " ".join(str(e).split())
        _remove_workdir(task)   # a bad file's samples are of no use once it is fixed (its fingerprint changes)
    except Exception as e:  # unexpected (e.g. out of memory): keep finished samples for --resume
        rep.error, rep.reason = "other", f"{type(e).__name__}: {' '.join(str(e).split())}"[:300]
        if isinstance(e, torch.cuda.OutOfMemoryError):
            rep.reason += " (finished samples kept for --resume)"
    finally:
        rep.seconds = time.perf_counter() - t0
    return rep


def _process_streamed(app, task: FileTask, cfg, device, rep: FileReport, progress):
    """:func:`process_file` for a streamed app: each sample through :func:`~sensekit.app.stream.stream_part`."""
    from .runner import assemble, write_result
    from .stream import _as_source, _stream_figure, stream_part
    with _as_source(app, task.input) as src:
        n = rep.samples = src.n_samples
        if progress:
            progress("start", n)
        rep.reason = _open_workdir(task, _fingerprint(task, device, n, src.has_n))
        for i in range(n):
            check_stop()
            part = _part_path(task, i)
            if os.path.exists(part):
                rep.resumed += 1
            else:
                stream_part(app, src, i, cfg, device=device, seed=task.seed, part=part, check=check_stop)
                rep.run += 1
            if progress:
                progress("sample", i)
        check_stop()
        results = [read_part(_part_path(task, i)) for i in range(n)]
        result = assemble(app, results, has_n=src.has_n, config=cfg, device=device, seed=task.seed,
                          label=src.label)
        if task.plot:
            import h5py
            with h5py.File(results[0].part, "r") as f:
                _stream_figure(app, src, f, None, _figure_path(task), cfg)
        write_result(app, result, task.output)
    return result


# ----------------------------------------------------------------------------- summary
def exit_code(reports: list[FileReport], signum: int | None = None) -> int:
    """0 all done or skipped; 128+signal when interrupted; 3 when every failure is bad input; else 1.

    Returns
    -------
    int
        The process exit status of the batch.
    """
    if signum:
        return 128 + signum
    failed = [r for r in reports if r.status == "failed"]
    if not failed:
        return 0
    return 3 if all(r.error in ("input", "config") for r in failed) else 1


def summary_table(reports: list[FileReport]) -> str:
    """One plain-text table: file, status, samples, seconds and metrics or the reason.

    Returns
    -------
    str
        The table, one line per file after a header.
    """
    rows = [("file", "status", "samples", "time", "details")]
    for r in sorted(reports, key=lambda r: r.index):
        if r.samples is None:
            samples = "-"
        else:
            samples = f"{r.run + r.resumed}/{r.samples}" + (f" ({r.resumed} resumed)" if r.resumed else "")
        if r.status == "done":
            detail = " ".join(f"{k}={v:.4g}" for k, v in r.metrics.items())
            detail = (detail + ("; " + r.reason if r.reason else "")).strip("; ")
        else:
            detail = r.reason
        secs = f"{r.seconds:.1f}s" if r.status not in ("skipped", "not started") else "-"
        rows.append((r.name, r.status, samples, secs, detail))
    w = [max(len(row[c]) for row in rows) for c in range(4)]
    lines = ["  ".join(f"{v:<{w[c]}}" for c, v in enumerate(row[:4])) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * min(100, max(len(ln) for ln in lines)))
    counts = {s: sum(r.status == s for r in reports) for s in ("done", "skipped", "failed", "interrupted",
                                                                 "not started")}
    tail = ", ".join(f"{k} {v}" for k, v in counts.items() if v or k in ("done", "skipped", "failed"))
    lines.append(f"{tail} (of {len(reports)} files)")
    return "\n".join(line.rstrip() for line in lines)


SUMMARY_FIELDS = ("file", "status", "reason", "seconds", "samples", "output")


def summary_rows(reports: list[FileReport]) -> list[dict]:
    """One plain dict per file (in input order): file, status, reason, seconds, samples, output, metrics.

    Returns
    -------
    list[dict]
        One record per report.
    """
    rows = []
    for r in sorted(reports, key=lambda r: r.index):
        rows.append({"file": r.name, "status": r.status, "reason": r.reason, "seconds": round(float(r.seconds), 4),
                     "samples": r.samples, "output": r.output if r.status == "done" or os.path.exists(r.output)
                     else "", "metrics": {k: float(v) for k, v in r.metrics.items()}})
    return rows


def write_summary(reports: list[FileReport], out_dir: str, *, app: str = "") -> tuple[str, str]:
    """``OUT_DIR/summary.json`` and ``summary.csv`` (atomically): one record / row per input file.

    The JSON holds ``{"app", "counts": {status: n}, "files": [row, ...]}`` with each row's metrics as a
    table; the CSV has the columns :data:`SUMMARY_FIELDS` then one ``metric:NAME`` column per metric
    seen in any file (empty where a file has none).  Returns the two paths.

    Returns
    -------
    tuple[str, str]
        The paths of ``summary.json`` and ``summary.csv``.
    """
    import csv
    from ..io.hdf5 import atomic_path
    rows = summary_rows(reports)
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    jpath, cpath = os.path.join(out_dir, "summary.json"), os.path.join(out_dir, "summary.csv")
    with atomic_path(jpath) as tmp:
        with open(tmp, "w") as fh:
            json.dump({"app": app, "counts": counts, "files": rows}, fh, indent=1, default=str)
            fh.write("\n")
    names = sorted({k for r in rows for k in r["metrics"]})
    with atomic_path(cpath) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*SUMMARY_FIELDS, *(f"metric:{k}" for k in names)])
            for r in rows:
                w.writerow([("" if r[k] is None else r[k]) for k in SUMMARY_FIELDS]
                           + [repr(r["metrics"][k]) if k in r["metrics"] else "" for k in names])
    return jpath, cpath


def task_token(tasks: list[FileTask]) -> str:
    """A short id of a batch (for Dask task keys).

    Returns
    -------
    str
        Twelve hex digits of a hash of the tasks.
    """
    h = hashlib.sha1(json.dumps([dataclasses.astuple(t) for t in tasks], default=str).encode())
    return h.hexdigest()[:12]
