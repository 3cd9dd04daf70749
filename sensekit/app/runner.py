"""Running an app on one input (file, folder or built-in simulation): open, move, run, score, write.

This is the only place that moves data between devices (DESIGN.md, principle 2).
``sensekit run`` and ``sensekit batch`` share one per-sample path:
:func:`open_samples` (lazy, validated, through the app's :meth:`~sensekit.app.base.App.open_input`
hook for non-HDF5 inputs), :func:`run_sample` (one sample on one device with its own
seeded generator) and :func:`assemble` (stack the samples, pad ragged tables, reduce the
metrics as the app declares, fill the provenance), then :func:`write_result`.
Streamed apps (``App.stream_axis``) go through :func:`stream_run` instead: blocks in,
blocks out, through a chunked sink (see :mod:`sensekit.app.stream`).

Every :class:`~sensekit.io.InputError` or ``ValueError`` raised while preparing a sample,
and every :class:`~sensekit.io.InputError` raised while running it, reaches the user
naming the input file (and the sample of a multi-sample file): the runner adds the path
when the app's message lacks it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Callable, Sequence

import numpy as np
import torch

from .._version import __version__
from ..core.device import resolve_device
from ..core.random import make_generator
from ..io.errors import ConfigError, InputError
from ..io.hdf5 import H5Input, write_h5, atomic_path
from ..io.source import InputSource
from .base import App, config_dict, to_numpy
from .reduce import dumps, history_summary, reduce_metrics, scalar
from .samples import (SampleResult, check_finite, linalg_errors, move as _move, name_input, numerical_failure,
                      prepare_checked)

__all__ = ["SampleResult", "RunResult", "SampleSource", "open_source", "open_samples", "run_sample", "run_samples",
           "assemble", "run_app", "stream_run", "write_result", "output_datasets", "simulated_sample", "sim_config",
           "load_input", "device_of", "check_paths", "write_figure", "write_sample_figure", "figure_format"]

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


@dataclasses.dataclass
class RunResult:
    outputs: dict            # name -> ndarray (with a leading N when the input had one); empty when streamed
    metrics: dict            # name -> number (reduced over samples as the app declares)
    provenance: dict
    has_n: bool
    n_samples: int
    samples: list            # prepared inputs of each sample (CPU tensors), for figures (may be empty)
    per_sample_outputs: list
    parts: list = dataclasses.field(default_factory=list)   # streamed samples: their part files (batch)
    axes: dict = dataclasses.field(default_factory=dict)    # the run's own output axes labels (RunOutput.axes)


class SampleSource:
    """The samples of one input, prepared on demand: ``n_samples``, ``has_n``, ``label``, ``get(i)``.

    ``path`` is the input as the user named it (for messages); ``source`` the underlying
    :class:`~sensekit.io.source.InputSource` (None for the built-in simulation).
    """

    def __init__(self, n_samples: int, has_n: bool, label: str, getter: Callable[[int], dict],
                 close: Callable[[], None] | None = None, *, path: str | None = None,
                 source: InputSource | None = None):
        self.n_samples, self.has_n, self.label = int(n_samples), bool(has_n), label
        self.path, self.source = path, source
        self._get, self._close = getter, close

    def get(self, i: int) -> dict:
        """Prepared sample ``i`` (a dict of CPU tensors as returned by ``app.prepare``).

        Returns
        -------
        dict
            The prepared sample.
        """
        if not 0 <= i < self.n_samples:
            raise IndexError(i)
        return self._get(i)

    def close(self):
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _list_source(samples: list, has_n: bool, label: str) -> SampleSource:
    return SampleSource(len(samples), has_n, label, samples.__getitem__, path=label)


def open_source(app: App, input_path: str):
    """The :class:`~sensekit.io.source.InputSource` of a file or folder: the app's hook, else the HDF5 reader.

    (A hook may still return the older forms, a :class:`SampleSource` or ``(prepared samples, has_n, label)``.)

    Returns
    -------
    InputSource
        The opened source (close it when done).
    """
    opened = app.open_input(input_path)
    if opened is None:
        return H5Input(input_path, app.inputs)
    if isinstance(opened, (InputSource, SampleSource)):
        return opened
    if isinstance(opened, tuple) and len(opened) == 3:
        return _list_source(*opened)
    raise TypeError(f"{app.name}.open_input returned {type(opened).__name__}, expected an InputSource or None")


def open_samples(app: App, input_path: str | None, *, seed: int = 0, sim=None) -> SampleSource:
    """The samples of a file (validated on open, read one sample at a time), or of the built-in simulation.

    Raises :class:`~sensekit.io.InputError` for a missing, corrupt or invalid file; errors of
    ``app.prepare`` name the file (and the sample).

    Returns
    -------
    SampleSource
        The samples, read and prepared on demand.
    """
    if input_path is None:
        sim = sim if sim is not None else app.SimConfig()
        arrays, attrs = app.simulate(sim, make_generator(seed))
        layouts = {spec.name: [t.strip() for t in spec.layouts[0].split(",")]
                   for spec in app.inputs if spec.name in arrays}
        return _list_source([app.prepare(arrays, attrs, layouts)], False, "built-in simulation")
    src = open_source(app, input_path)
    if isinstance(src, SampleSource):
        return src
    try:
        attrs = {name: src.attrs(name) for name in src.names}
        layouts = {name: src.layout(name) for name in src.names}
    except BaseException:
        src.close()
        raise

    def get(i):
        return prepare_checked(app, src.sample(i), attrs, layouts, path=src.path,
                               where=f"sample {i}" if src.has_n else "")

    return SampleSource(src.n_samples, src.has_n, src.label, get, src.close, path=src.path, source=src)


def sim_config(app: App, *, quick: bool = False, **overrides):
    """The app's SimConfig: defaults, or its declared ``quick_sim`` when ``quick``, then ``overrides``.

    Returns
    -------
    object
        An instance of ``app.SimConfig``.
    """
    from .base import make_config
    return make_config(app.SimConfig, {**(app.quick_sim if quick else {}), **overrides}, source="in the simulation")


def simulated_sample(app: App, *, quick: bool = False, seed: int = 0, sim=None) -> dict:
    """The prepared built-in simulation (the input of ``sensekit run APP`` without ``--input``).

    Returns
    -------
    dict
        The prepared sample (tensors by input name).
    """
    with open_samples(app, None, seed=seed, sim=sim if sim is not None else sim_config(app, quick=quick)) as src:
        return src.get(0)


def load_input(app: App, input_path: str | None, *, seed: int = 0, sim=None):
    """All prepared samples at once: ``(samples, has_n, label)`` (see :func:`open_samples`).

    Returns
    -------
    tuple[list[dict], bool, str]
        The prepared samples, whether the file had a sample axis, and the input's label.
    """
    with open_samples(app, input_path, seed=seed, sim=sim) as src:
        return [src.get(i) for i in range(src.n_samples)], src.has_n, src.label


def _short_msg(e: BaseException) -> str:
    return " ".join(str(e).split())[:160]


def run_sample(app: App, sample: dict, config, *, device: torch.device, seed: int = 0, index: int = 0,
               callbacks: Sequence[Callable] = (), path: str | None = None, where: str = "") -> SampleResult:
    """Run the app on one prepared sample on ``device`` and score it.

    Sample ``index`` draws from its own generator seeded ``seed + index``, so a
    sample's result does not depend on which process runs it or on the other samples.
    An :class:`InputError` raised by the app (e.g. a calibration that finds no signal)
    names ``path`` (and ``where``, e.g. ``"sample 2"``).

    Returns
    -------
    SampleResult
        Outputs (NumPy), metrics, iterations, seconds and solver info of the sample.
    """
    gen = make_generator(seed + index)
    t0 = time.perf_counter()
    names = [s.name for s in app.inputs if s.name in sample] or [s.name for s in app.inputs if s.required]
    try:
        res = app.run(_move(sample, device), config, generator=gen, callbacks=list(callbacks))
    except InputError as e:
        if path is None:
            raise
        raise name_input(e, path, where, names) from None
    except linalg_errors() as e:   # a factorisation that broke down (e.g. weights near the float range)
        raise numerical_failure(app, config, f"failed numerically ({type(e).__name__}: {_short_msg(e)})",
                                path=path, where=where, datasets=names) from None
    out_np = {k: to_numpy(v) for k, v in res.outputs.items()}   # the copy to the host waits for the device
    axes = _run_axes(app, res, out_np)
    check_finite(app, out_np, config, path=path, where=where, datasets=names)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    secs = time.perf_counter() - t0
    for cb in callbacks:
        if hasattr(cb, "close"):
            cb.close()
    metrics = app.score({k: torch.as_tensor(v) for k, v in out_np.items()}, sample)
    info = res.info or {}
    return SampleResult(outputs=out_np, metrics={k: scalar(v) for k, v in metrics.items()},
                        iterations=int(res.iterations), seconds=secs,
                        stop_reason=str(info.get("stop_reason", "") or ""),
                        history=history_summary(info.get("history"), res.iterations),
                        method=str(info.get("method", "") or ""), axes=axes)


def _run_axes(app: App, res, outputs: dict) -> dict:
    """The checked ``RunOutput.axes`` of a run: ``{name: label}`` for outputs it returned, each of their rank."""
    axes = dict(getattr(res, "axes", None) or {})
    for name, label in axes.items():
        if name not in outputs:
            raise ValueError(f"{app.name}: RunOutput.axes labels '{name}', which the run did not return")
        if len([t for t in str(label).split(",") if t.strip()]) != np.ndim(outputs[name]):
            raise ValueError(f"{app.name}: RunOutput.axes['{name}'] = {label!r} does not have the rank "
                             f"{np.ndim(outputs[name])} of the output")
    return axes


def run_samples(app: App, samples: list, config, *, device: torch.device, seed: int = 0,
                callbacks_factory: Callable | None = None):
    """Run the app on every prepared sample; returns (per-sample outputs, metrics list, iterations, seconds).

    Returns
    -------
    tuple[list, list, int, float]
        Per-sample outputs, per-sample metrics, total iterations and total seconds.
    """
    results = [run_sample(app, s, config, device=device, seed=seed, index=i,
                          callbacks=callbacks_factory(i, len(samples)) if callbacks_factory else ())
               for i, s in enumerate(samples)]
    return ([r.outputs for r in results], [r.metrics for r in results], sum(r.iterations for r in results),
            sum(r.seconds for r in results))


def _ordered(app: App, outputs: dict) -> dict:
    """Outputs in the app's declared order, then any others in their own order (stable file layout)."""
    names = [s.name for s in app.outputs if s.name in outputs]
    return {k: outputs[k] for k in names + [k for k in outputs if k not in names]}


def pad_ragged(name: str, tables: list) -> tuple:
    """Per-sample tables (P_i, ...) as one (N, P_max, ...) array padded with NaN (0 for int/bool) and counts (N).

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        The padded ``(N, P_max, ...)`` array and the per-sample counts ``(N,)``.
    """
    tables = [np.asarray(t) for t in tables]
    tails = {t.shape[1:] for t in tables}
    if len(tails) != 1:
        raise ValueError(f"ragged output '{name}': per-sample tables differ beyond their row count: {sorted(tails)}")
    counts = np.array([t.shape[0] for t in tables], dtype=np.int64)
    dtype = np.result_type(*tables)
    fill = np.nan if dtype.kind in "fc" else 0
    out = np.full((len(tables), int(counts.max(initial=0))) + tables[0].shape[1:], fill, dtype=dtype)
    for i, t in enumerate(tables):
        out[i, :t.shape[0]] = t
    return out, counts


def _stack(app: App, outs: list) -> dict:
    stacked = {}
    for k in outs[0]:
        spec = app.output_spec(k)
        arrays = [o[k] for o in outs]
        if spec is not None and spec.ragged:
            stacked[k], stacked[spec.counts_name] = pad_ragged(k, arrays)
            continue
        shapes = {np.shape(a) for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"{app.name}: output '{k}' has a different shape in each sample ({sorted(shapes)}); "
                             f"declare it ragged=True in App.outputs if it is a per-sample table")
        stacked[k] = np.stack(arrays)
    return stacked


def provenance(app: App, results: Sequence[SampleResult], *, has_n: bool, config, device, seed: int,
               label: str) -> dict:
    """The ``provenance`` attributes of an output file (CONTRACTS.md), with per-sample stop reasons and histories.

    ``method`` is the method that ran: when the app reports one per sample (``info["method"]``, e.g.
    mri-recon's ``auto`` default), that one (a JSON list of one per sample if they differ); the
    ``options`` JSON keeps the configured value.

    ``stop_reason`` is the sample's reason (a string) in a file without ``N``, a JSON list of one
    reason per sample with ``N``; ``history_summary`` likewise a JSON object or a JSON list of
    objects (see :func:`~sensekit.app.reduce.history_summary`).  Both are present only when the
    app reported them.

    Returns
    -------
    dict
        The provenance attributes.
    """
    prov = {
        "app": app.name,
        "method": getattr(config, "method", ""),
        "options": json.dumps(config_dict(config), sort_keys=True, default=str),
        "sensekit_version": __version__,
        "torch_version": torch.__version__,
        "torch_threads": int(torch.get_num_threads()),   # CPU reductions (and so the last digits) depend on it
        "device": str(device),
        "wall_time_s": float(sum(r.seconds for r in results)),
        "iterations": int(sum(r.iterations for r in results)),
        "input": label,
        "seed": int(seed),
    }
    if any(r.method for r in results):   # the configured method chose per input (options keep what was asked)
        chosen = sorted({r.method for r in results if r.method})
        prov["method"] = chosen[0] if len(chosen) == 1 else dumps([r.method for r in results])
    if any(r.stop_reason for r in results):
        reasons = [r.stop_reason for r in results]
        prov["stop_reason"] = dumps(reasons) if has_n else reasons[0]
    if any(r.history for r in results):
        hist = [r.history or {} for r in results]
        prov["history_summary"] = dumps(hist) if has_n else dumps(hist[0])
    return prov


def assemble(app: App, results: Sequence[SampleResult], *, has_n: bool, config, device, seed: int,
             label: str, samples: list | None = None) -> RunResult:
    """Stack per-sample results into one :class:`RunResult` with reduced metrics and provenance.

    Ragged outputs (``DatasetSpec.ragged``) of a multi-sample file are padded to the largest
    table with NaN rows and get their counts dataset; metrics reduce over samples as
    ``App.metric_reduction`` declares (mean by default).  The provenance wall time and
    iteration count are sums over the samples' own compute, so a batch file resumed after
    an interruption reports the same iterations as an uninterrupted one (only the measured
    seconds differ).

    Returns
    -------
    RunResult
        Stacked outputs, reduced metrics and provenance.
    """
    parts = [r.part for r in results]
    if any(parts):
        outputs, outs = {}, []
    else:
        outs = [_ordered(app, r.outputs) for r in results]
        outputs = (_stack(app, outs) if has_n else dict(outs[0])) if outs else {}
    metrics = reduce_metrics(app, [r.metrics for r in results])
    axes = {}
    for r in results:
        for name, own in (r.axes or {}).items():
            if axes.setdefault(name, own) != own:
                raise ValueError(f"{app.name}: output '{name}' has axes {axes[name]!r} in one sample and {own!r} "
                                 "in another")
    prov = provenance(app, results, has_n=has_n, config=config, device=device, seed=seed, label=label)
    return RunResult(outputs=outputs, metrics=metrics, provenance=prov, has_n=has_n,
                     n_samples=len(results), samples=list(samples or []), per_sample_outputs=outs, parts=parts,
                     axes=axes)


def device_of(spec: str) -> torch.device:
    """``--device`` to a torch device; :class:`ConfigError` (exit 3) when unknown or absent.

    Returns
    -------
    torch.device
        The resolved device.
    """
    try:
        return resolve_device(spec)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def run_app(app: App, *, input_path: str | None, config, device: str = "auto", seed: int = 0,
            callbacks_factory: Callable | None = None) -> RunResult:
    """Load, run and score in memory (nothing is written; see :func:`write_result`, and :func:`stream_run`
    for streamed apps, which the CLI uses for them).

    Returns
    -------
    RunResult
        The outputs, metrics and provenance of the run.
    """
    dev = device_of(device)
    with open_samples(app, input_path, seed=seed) as src:
        samples, results = [], []
        for i in range(src.n_samples):
            sample = src.get(i)
            samples.append(sample)
            cbs = callbacks_factory(i, src.n_samples) if callbacks_factory else ()
            results.append(run_sample(app, sample, config, device=dev, seed=seed, index=i, callbacks=cbs,
                                      path=src.path, where=f"sample {i}" if src.has_n else ""))
        return assemble(app, results, has_n=src.has_n, config=config, device=dev, seed=seed, label=src.label,
                        samples=samples)


def stream_run(app: App, *, input_path: str, config, output_path: str | None = None, plot_path: str | None = None,
               device: str = "auto", seed: int = 0, on_block: Callable | None = None) -> RunResult:
    """Run a streamed app on a file block by block, writing ``output_path`` atomically (see :mod:`.stream`).

    Returns
    -------
    RunResult
        The result of the run (outputs already written to ``output_path``).
    """
    from .stream import stream_run as _stream_run
    return _stream_run(app, input_path=input_path, config=config, output_path=output_path, plot_path=plot_path,
                       device=device, seed=seed, on_block=on_block)


def output_datasets(app: App, outputs: dict, has_n: bool, axes: dict | None = None) -> dict:
    """``{name: (array, axes)}`` for :func:`~sensekit.io.write_h5`; axes: the run's own label (``axes``, from
    ``RunOutput.axes``) when it has one, else the declared layout of the array's rank.

    Returns
    -------
    dict
        ``{name: (array, axes label)}`` of every output.
    """
    own = axes or {}
    counts = {s.counts_name for s in app.outputs if s.ragged}
    datasets = {}
    for name, arr in outputs.items():
        arr = np.asarray(arr)
        if has_n and name in counts:
            datasets[name] = (arr, "N")
            continue
        shape = arr.shape[1:] if has_n else arr.shape
        label = own.get(name) or app.output_axes(name, len(shape), shape)
        if label and has_n:
            label = "N," + label
        datasets[name] = (arr, label)
    return datasets


def _groups(result: RunResult) -> dict:
    groups = {"provenance": result.provenance}
    if result.metrics:
        groups["metrics"] = result.metrics
    return groups


def write_result(app: App, result: RunResult, output_path: str) -> None:
    """Write outputs, ``provenance`` and ``metrics`` groups atomically (streamed parts copied block by block)."""
    if any(result.parts):
        from .stream import write_from_parts
        write_from_parts(app, result, output_path, _groups(result))
        return
    write_h5(output_path, output_datasets(app, result.outputs, result.has_n, result.axes), groups=_groups(result))


def figure_format(path: str, what: str = "--plot") -> str:
    """The figure format of ``path``; :class:`ConfigError` for one matplotlib cannot write.

    Returns
    -------
    str
        The figure format (the file extension without its dot).
    """
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    if ext not in FIGURE_FORMATS:
        raise ConfigError(f"{what} {path}: unsupported figure format '.{ext}'; expected .png, .pdf, .svg or .jpg")
    return ext


def write_sample_figure(app: App, sample: dict, outputs: dict, path: str, config) -> None:
    """Save the app's figure of one sample atomically (format from the extension)."""
    ext = figure_format(path)
    outs = {k: torch.as_tensor(v) for k, v in outputs.items()}
    with atomic_path(path) as tmp:
        app.figure(sample, outs, tmp, config, fmt=ext)


def write_figure(app: App, result: RunResult, path: str, config) -> None:
    """Save the app's figure for the first sample atomically (format from the extension)."""
    figure_format(path)
    write_sample_figure(app, result.samples[0], result.per_sample_outputs[0], path, config)


def check_paths(input_path: str | None, output_path: str | None, plot_path: str | None):
    """Refuse outputs that would overwrite the input or land in a missing folder (exit 3)."""
    for p, what in ((output_path, "-o"), (plot_path, "--plot")):
        if p is None:
            continue
        if os.path.isdir(p):
            raise ConfigError(f"{what} {p}: is an existing folder; expected a file name")
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise ConfigError(f"{what} {p}: folder {folder} does not exist")
        if input_path is not None and os.path.exists(input_path) and os.path.exists(p) \
                and os.path.samefile(p, input_path):
            raise ConfigError(f"{what} {p}: refusing to overwrite the input file")
    if output_path and plot_path and os.path.abspath(output_path) == os.path.abspath(plot_path):
        raise ConfigError("-o and --plot name the same file")
