"""Where batch tasks run: in this process, in local worker processes, or on a Dask cluster.

All three run the same :func:`~sensekit.app.batch.process_file` per file and
report through ``on_event(kind, index, value)`` with kinds ``start`` (value:
number of samples), ``phase`` (value: ``(sample, n_samples, name)``, a setup
phase of a sample), ``iter`` (value: ``(sample, n_samples, iteration, bound)``,
a few times a second while a sample runs), ``sample`` (value: sample index) and
``report`` (value: the :class:`~sensekit.app.batch.FileReport`).  Dask workers
send ``report`` only.

Signals: while a batch runs, SIGTERM and SIGINT raise
:class:`~sensekit.app.batch.Interrupted` in the main thread (once; repeated
signals are ignored so that cleanup finishes).  Local workers get SIGTERM from
the parent and stop the same way; files in flight report ``interrupted`` and
keep their finished samples for ``--resume``; files never started report
``not started``.
"""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from typing import Callable

from ..io.errors import ConfigError
from .batch import FileReport, FileTask, Interrupted, check_stop, process_file, stop_on_signals, task_token

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: how long ``--scheduler`` waits to reach the cluster
CONNECT_TIMEOUT = "20s"
#: seconds to wait for a file's report once its output exists (``$SENSEKIT_DASK_RESULT_TIMEOUT``)
RESULT_TIMEOUT = 120.0


def interruptible():
    """Turn the first SIGTERM/SIGINT into :class:`Interrupted` in the main thread; ignore repeats.

    Yields a dict whose ``"signum"`` is set when a signal arrived.  Does
    nothing outside the main thread (signal handlers can only be set there).

    Returns
    -------
    contextlib.AbstractContextManager
        The context of :func:`~sensekit.app.batch.stop_on_signals`; it yields a dict whose ``"signum"``
        is set when a signal arrived.
    """
    return stop_on_signals(_SIGNALS)


def _not_started(task: FileTask) -> FileReport:
    return FileReport(index=task.index, name=task.name, status="not started", output=task.output,
                      reason="batch interrupted before this file started")


# ----------------------------------------------------------------------------- in this process
def run_inline(tasks: list[FileTask], on_event: Callable, state: dict) -> list[FileReport]:
    """Run the tasks one after another in this process.

    Returns
    -------
    list[FileReport]
        One report per task, in task order (not-started reports for the rest after a stop).
    """
    reports = {}
    try:
        for task in tasks:
            check_stop()
            rep = process_file(task, lambda kind, v, i=task.index: on_event(kind, i, v))
            reports[task.index] = rep
            on_event("report", task.index, rep)
    except Interrupted:   # between files or in a progress callback: the file in hand keeps its report
        pass
    return [reports.get(t.index) or _not_started(t) for t in tasks]


# ----------------------------------------------------------------------------- local processes
def die_with_parent(parent: int | None) -> str:
    """Make this process end when ``parent`` (the batch process) ends, even by SIGKILL (the OOM killer).

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere (or if that fails) a daemon thread that
    polls the parent pid twice a second.  A parent already gone ends this process at once.  Without
    this, workers of a killed batch would go on writing without the lock and race a ``--resume``.
    Returns how ("prctl" or "watchdog").

    Returns
    -------
    str
        How the tie was made: ``"prctl"`` or ``"watchdog"``.
    """
    import sys
    import threading
    how = "watchdog"
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:   # 1 = PR_SET_PDEATHSIG
                how = "prctl"
    if parent is not None and os.getppid() != parent:   # died before the prctl took effect
        os._exit(1)
    if how == "watchdog" and parent is not None:
        def watch():
            while True:
                time.sleep(0.5)
                if os.getppid() != parent:
                    os._exit(1)
        threading.Thread(target=watch, name="sensekit-parent-watchdog", daemon=True).start()
    return how


def _worker_main(wid: int, tasks, events, threads: int | None, device_index: int | None, parent: int | None = None):
    """A worker process: take tasks until the sentinel; SIGTERM/SIGINT stop it after reporting; dies with its parent."""
    die_with_parent(parent)
    with stop_on_signals(_SIGNALS):
        _worker_loop(wid, tasks, events, threads, device_index)


def _worker_loop(wid, tasks, events, threads, device_index):
    try:
        import torch

        from ..host import keep_freed_memory
        keep_freed_memory()     # as the parent command did (validated there)
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        while True:
            check_stop()
            task = tasks.get()
            if task is None:
                break
            if device_index is not None and task.device == "cuda":
                task = _with_device(task, f"cuda:{device_index}")
            events.put(("begin", wid, task.index, None))
            rep = process_file(task, lambda kind, v, i=task.index: events.put((kind, wid, i, v)))
            events.put(("report", wid, task.index, rep))
            if rep.status == "interrupted":
                break
    except (Interrupted, KeyboardInterrupt):
        pass
    finally:
        with contextlib.suppress(Exception):
            events.close()
            events.join_thread()   # flush what this worker reported before it exits


def _with_device(task: FileTask, device: str) -> FileTask:
    import dataclasses
    return dataclasses.replace(task, device=device)


def _cuda_count(device: str) -> int:
    if device != "cuda":
        return 0
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_processes(tasks: list[FileTask], workers: int, on_event: Callable, state: dict) -> list[FileReport]:
    """Local worker processes (spawned, so that no torch state is forked).

    Each worker uses cpu_count // workers torch threads, unless ``OMP_NUM_THREADS`` is set (then that,
    as in the parent: the same thread count gives the same arithmetic).

    With ``--device cuda`` and several GPUs, worker k uses ``cuda:(k mod count)``.
    A worker that dies (e.g. killed for memory) fails its file and is replaced.

    Returns
    -------
    list[FileReport]
        One report per task, in task order (not-started reports for the rest after a stop).
    """
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    task_q, ev_q = ctx.Queue(), ctx.Queue()
    for t in tasks:
        task_q.put(t)
    threads = None if os.environ.get("OMP_NUM_THREADS") else max(1, (os.cpu_count() or 1) // workers)
    ngpu = _cuda_count(tasks[0].device) if tasks else 0
    by_index = {t.index: t for t in tasks}
    procs, busy, reports = {}, {}, {}
    next_wid = [0]

    def start():
        wid = next_wid[0]
        next_wid[0] += 1
        p = ctx.Process(target=_worker_main, args=(wid, task_q, ev_q, threads, wid % ngpu if ngpu > 1 else None,
                                                   os.getpid()), daemon=True, name=f"sensekit-batch-{wid}")
        p.start()
        procs[wid] = p

    def handle(ev):
        kind, wid, idx, value = ev
        if kind == "begin":
            busy[wid] = idx
        elif kind == "report":
            busy.pop(wid, None)
            reports[idx] = value
            on_event("report", idx, value)
        else:
            on_event(kind, idx, value)

    idle_deaths = 0
    n_workers = min(workers, len(tasks))
    for _ in range(n_workers):
        task_q.put(None)
    try:
        for _ in range(n_workers):
            start()
        while len(reports) < len(tasks):
            check_stop()
            try:
                handle(ev_q.get(timeout=0.2))
                continue
            except queue.Empty:
                pass
            for wid, p in list(procs.items()):
                if p.is_alive() or p.exitcode is None:
                    continue
                del procs[wid]
                idx = busy.pop(wid, None)
                if p.exitcode != 0:
                    if idx is not None and idx not in reports:
                        t = by_index[idx]
                        rep = FileReport(index=idx, name=t.name, status="failed", output=t.output, error="other",
                                         reason=f"worker process died (exit code {p.exitcode}); "
                                                f"finished samples kept for --resume")
                        reports[idx] = rep
                        on_event("report", idx, rep)
                    else:
                        idle_deaths += 1   # died before taking a file: the environment is broken
                    if idle_deaths < 3:
                        start()   # the dead worker never took its sentinel: a replacement will
            if not procs and len(reports) < len(tasks):
                while True:   # drain what the last workers reported before exiting
                    try:
                        handle(ev_q.get(timeout=0.5))
                    except queue.Empty:
                        break
                for t in tasks:
                    if t.index not in reports:
                        reports[t.index] = FileReport(index=t.index, name=t.name, status="failed", output=t.output,
                                                      error="other", reason="worker processes exited before "
                                                      "this file (they died on start: see their stderr)")
                break
    except Interrupted:
        for p in procs.values():
            if p.is_alive():
                p.terminate()     # SIGTERM: the worker stops its file and reports it
        deadline = time.monotonic() + 30
        while any(p.is_alive() for p in procs.values()) and time.monotonic() < deadline:
            try:   # keep reading: a worker flushing its report into a full pipe could not exit otherwise
                handle(ev_q.get(timeout=0.1))
            except (queue.Empty, OSError, EOFError):
                pass
        for p in procs.values():
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
        while True:
            try:
                handle(ev_q.get(timeout=0.5))
            except (queue.Empty, OSError, EOFError):
                break
        for wid, idx in busy.items():
            if idx not in reports:
                t = by_index[idx]
                reports[idx] = FileReport(index=idx, name=t.name, status="interrupted", output=t.output,
                                          reason="worker stopped; finished samples kept for --resume")
    finally:
        for p in procs.values():
            if p.is_alive():
                p.kill()
        for q in (task_q, ev_q):
            q.cancel_join_thread()
            q.close()
    return [reports.get(t.index) or _not_started(t) for t in tasks]


# ----------------------------------------------------------------------------- Dask
def run_dask(tasks: list[FileTask], scheduler: str, on_event: Callable, state: dict) -> list[FileReport]:
    """The same per-file tasks on a Dask cluster (``pip install 'sensekit[distributed]'``).

    Workers must see the input and output folders at the same paths (a shared
    file system) and have sensekit installed.  Progress is reported per file.

    Returns
    -------
    list[FileReport]
        One report per task, in task order (not-started reports for the rest after a stop).
    """
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: pip install 'sensekit[distributed]'") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as e:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({' '.join(str(e).split())[:160]})") from None
    by_index = {t.index: t for t in tasks}
    reports = {}
    token = task_token(tasks)
    futures = []
    try:
        futures = client.map(process_file, tasks, key=[f"sensekit-batch-{token}-{t.index}" for t in tasks],
                             pure=False, retries=0)
        idx_of = {f.key: t.index for f, t in zip(futures, tasks)}
        for idx, rep in _dask_results(client, futures, idx_of, by_index, as_completed):
            reports[idx] = rep
            on_event("report", idx, rep)
            check_stop()
    except Interrupted:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        for t in tasks:
            if t.index not in reports:
                reports[t.index] = FileReport(index=t.index, name=t.name, status="interrupted", output=t.output,
                                              reason="cancelled on the cluster; finished samples kept for --resume")
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return [reports.get(t.index) or _not_started(t) for t in tasks]


def result_timeout() -> float:
    """Seconds ``--scheduler`` waits for a file's report once its output exists ($SENSEKIT_DASK_RESULT_TIMEOUT).

    Returns
    -------
    float
        The timeout in seconds.
    """
    raw = os.environ.get("SENSEKIT_DASK_RESULT_TIMEOUT", "").strip()
    if not raw:
        return RESULT_TIMEOUT
    try:
        v = float(raw)
        if not v > 0 or v == float("inf"):
            raise ValueError
    except ValueError:
        raise ConfigError(f"$SENSEKIT_DASK_RESULT_TIMEOUT={raw!r}: expected a positive number of seconds") from None
    return v


def _dask_results(client, futures, idx_of, by_index, as_completed, poll: float = 1.0):
    """``(index, FileReport)`` as the cluster returns them, with a heartbeat instead of waiting for ever.

    Every ``poll`` seconds: a lost scheduler connection fails the files still out (finished samples
    stay for ``--resume``); a file whose output already exists but whose report has not come back
    within :func:`result_timeout` seconds is reported done with that note (the output is final: it
    appears only by an atomic rename), so that a cluster that cannot return results never hangs the batch.
    """
    def failed(idx, why):
        t = by_index[idx]
        return FileReport(index=idx, name=t.name, status="failed", output=t.output, error="other", reason=why)

    ac = as_completed(futures, loop=client.loop)
    pending = {f.key: f for f in futures}
    written: dict = {}
    limit = result_timeout()
    while pending:
        got = False
        for fut in ac.next_batch(block=False):
            got = True
            pending.pop(fut.key, None)
            idx = idx_of[fut.key]
            try:
                rep = fut.result()
            except Exception as e:   # the worker died or the task could not run
                rep = failed(idx, f"dask: {type(e).__name__}: {' '.join(str(e).split())[:200]}")
            yield idx, rep
        if got or not pending:
            continue
        time.sleep(poll)
        check_stop()
        if client.status not in ("running", "connecting"):
            for key in list(pending):
                pending.pop(key)
                yield idx_of[key], failed(idx_of[key], f"dask: lost the connection to the scheduler (client "
                                          f"{client.status}); finished samples kept for --resume")
            return
        now = time.monotonic()
        for key in list(pending):
            t = by_index[idx_of[key]]
            if not os.path.exists(t.output):
                continue
            since = written.setdefault(key, now)
            if now - since >= limit:
                pending.pop(key)
                with contextlib.suppress(Exception):
                    client.cancel([futures[[f.key for f in futures].index(key)]])
                yield t.index, FileReport(index=t.index, name=t.name, status="done", output=t.output,
                                          reason=f"output written, but the cluster did not return its report "
                                                 f"within {limit:g} s (metrics not shown)")


def run_tasks(tasks: list[FileTask], *, workers: int = 1, scheduler: str | None = None,
              on_event: Callable = lambda *a: None):
    """Run every task; returns ``(reports, signum)`` with ``signum`` set when interrupted by a signal.

    Returns
    -------
    tuple[list[FileReport], int | None]
        The reports in task order and the signal number that stopped the batch (None when none did).
    """
    reports = None
    with interruptible() as state:
        try:
            if scheduler:
                reports = run_dask(tasks, scheduler, on_event, state)
            elif workers > 1 and len(tasks) > 1:
                reports = run_processes(tasks, workers, on_event, state)
            else:
                reports = run_inline(tasks, on_event, state)
        except Interrupted:   # a signal outside the runners' own handling (e.g. while starting up)
            pass
        finally:
            signum = state["signum"]
    return reports or [_not_started(t) for t in tasks], signum
