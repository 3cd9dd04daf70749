"""Running an app on one input (file or built-in simulation): open, move, run, score, write.

This is the only place that moves data between devices (DESIGN.md, principle 2).
``sensekit run`` and ``sensekit batch`` share one per-sample path:
:func:`open_samples` (lazy, validated), :func:`run_sample` (one sample on one
device with its own seeded generator) and :func:`assemble` (stack the
samples, average the metrics, fill the provenance), then :func:`write_result`.
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
from ..io.errors import ConfigError
from ..io.hdf5 import H5Input, write_h5, atomic_path
from .base import App, config_dict, to_numpy

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


@dataclasses.dataclass
class SampleResult:
    """The outcome of one sample: outputs as numpy arrays, its metrics, iterations and compute seconds."""

    outputs: dict
    metrics: dict
    iterations: int
    seconds: float


@dataclasses.dataclass
class RunResult:
    outputs: dict            # name -> ndarray (with a leading N when the input had one)
    metrics: dict            # name -> float (mean over samples)
    provenance: dict
    has_n: bool
    n_samples: int
    samples: list            # prepared inputs of each sample (CPU tensors), for figures (may be empty)
    per_sample_outputs: list


class SampleSource:
    """The samples of one input, prepared on demand: ``n_samples``, ``has_n``, ``label``, ``get(i)``."""

    def __init__(self, n_samples: int, has_n: bool, label: str, getter: Callable[[int], dict],
                 close: Callable[[], None] | None = None):
        self.n_samples, self.has_n, self.label = int(n_samples), bool(has_n), label
        self._get, self._close = getter, close

    def get(self, i: int) -> dict:
        """Prepared sample ``i`` (a dict of CPU tensors as returned by ``app.prepare``)."""
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
    return SampleSource(len(samples), has_n, label, samples.__getitem__)


def open_samples(app: App, input_path: str | None, *, seed: int = 0, sim=None) -> SampleSource:
    """The samples of a file (validated on open, read one sample at a time), or of the built-in simulation.

    Raises :class:`~sensekit.io.InputError` for a missing, corrupt or invalid file.
    """
    if input_path is None:
        sim = sim if sim is not None else app.SimConfig()
        arrays, attrs = app.simulate(sim, make_generator(seed))
        layouts = {spec.name: [t.strip() for t in spec.layouts[0].split(",")]
                   for spec in app.inputs if spec.name in arrays}
        return _list_source([app.prepare(arrays, attrs, layouts)], False, "built-in simulation")
    loader = getattr(app, "open_input", None)
    if loader is not None:  # apps that accept other formats (folders, videos) provide their own
        opened = loader(input_path)
        if opened is not None:
            return opened if isinstance(opened, SampleSource) else _list_source(*opened)
    f = H5Input(input_path, app.inputs)
    try:
        attrs = {name: f.attrs(name) for name in f.names}
        layouts = {name: f.layout(name) for name in f.names}
    except BaseException:
        f.close()
        raise
    return SampleSource(f.n_samples, f.has_n, os.path.abspath(input_path),
                        lambda i: app.prepare(f.sample(i), attrs, layouts), f.close)


def sim_config(app: App, *, quick: bool = False, **overrides):
    """The app's SimConfig: defaults, or its declared ``quick_sim`` when ``quick``, then ``overrides``."""
    from .base import make_config
    return make_config(app.SimConfig, {**(app.quick_sim if quick else {}), **overrides}, source="in the simulation")


def simulated_sample(app: App, *, quick: bool = False, seed: int = 0, sim=None) -> dict:
    """The prepared built-in simulation (the input of ``sensekit run APP`` without ``--input``)."""
    with open_samples(app, None, seed=seed, sim=sim if sim is not None else sim_config(app, quick=quick)) as src:
        return src.get(0)


def load_input(app: App, input_path: str | None, *, seed: int = 0, sim=None):
    """All prepared samples at once: ``(samples, has_n, label)`` (see :func:`open_samples`)."""
    with open_samples(app, input_path, seed=seed, sim=sim) as src:
        return [src.get(i) for i in range(src.n_samples)], src.has_n, src.label


def _move(d: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in d.items()}


def run_sample(app: App, sample: dict, config, *, device: torch.device, seed: int = 0, index: int = 0,
               callbacks: Sequence[Callable] = ()) -> SampleResult:
    """Run the app on one prepared sample on ``device`` and score it.

    Sample ``index`` draws from its own generator seeded ``seed + index``, so a
    sample's result does not depend on which process runs it or on the other samples.
    """
    gen = make_generator(seed + index)
    t0 = time.perf_counter()
    res = app.run(_move(sample, device), config, generator=gen, callbacks=list(callbacks))
    out_np = {k: to_numpy(v) for k, v in res.outputs.items()}   # the copy to the host waits for the device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    secs = time.perf_counter() - t0
    for cb in callbacks:
        if hasattr(cb, "close"):
            cb.close()
    metrics = app.score({k: torch.as_tensor(v) for k, v in out_np.items()}, sample)
    return SampleResult(outputs=out_np, metrics=dict(metrics), iterations=int(res.iterations), seconds=secs)


def run_samples(app: App, samples: list, config, *, device: torch.device, seed: int = 0,
                callbacks_factory: Callable | None = None):
    """Run the app on every prepared sample; returns (per-sample outputs, metrics list, iterations, seconds)."""
    results = [run_sample(app, s, config, device=device, seed=seed, index=i,
                          callbacks=callbacks_factory(i, len(samples)) if callbacks_factory else ())
               for i, s in enumerate(samples)]
    return ([r.outputs for r in results], [r.metrics for r in results], sum(r.iterations for r in results),
            sum(r.seconds for r in results))


def _ordered(app: App, outputs: dict) -> dict:
    """Outputs in the app's declared order, then any others in their own order (stable file layout)."""
    names = [s.name for s in app.outputs if s.name in outputs]
    return {k: outputs[k] for k in names + [k for k in outputs if k not in names]}


def assemble(app: App, results: Sequence[SampleResult], *, has_n: bool, config, device, seed: int,
             label: str, samples: list | None = None) -> RunResult:
    """Stack per-sample results into one :class:`RunResult` with mean metrics and provenance.

    The provenance wall time and iteration count are sums over the samples'
    own compute, so a batch file resumed after an interruption reports the same
    iterations as an uninterrupted one (only the measured seconds differ).
    """
    outs = [_ordered(app, r.outputs) for r in results]
    if has_n:
        outputs = {k: np.stack([o[k] for o in outs]) for k in outs[0]}
    else:
        outputs = dict(outs[0])
    mean_metrics = {}
    for k in (results[0].metrics if results else {}):
        vals = [r.metrics[k] for r in results if k in r.metrics]
        mean_metrics[k] = float(np.mean(vals))
    prov = {
        "app": app.name,
        "method": getattr(config, "method", ""),
        "options": json.dumps(config_dict(config), sort_keys=True, default=str),
        "sensekit_version": __version__,
        "torch_version": torch.__version__,
        "device": str(device),
        "wall_time_s": float(sum(r.seconds for r in results)),
        "iterations": int(sum(r.iterations for r in results)),
        "input": label,
        "seed": int(seed),
    }
    return RunResult(outputs=outputs, metrics=mean_metrics, provenance=prov, has_n=has_n,
                     n_samples=len(results), samples=list(samples or []), per_sample_outputs=outs)


def device_of(spec: str) -> torch.device:
    """``--device`` to a torch device; :class:`ConfigError` (exit 3) when unknown or absent."""
    try:
        return resolve_device(spec)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def run_app(app: App, *, input_path: str | None, config, device: str = "auto", seed: int = 0,
            callbacks_factory: Callable | None = None) -> RunResult:
    """Load, run and score (nothing is written; see :func:`write_result`)."""
    dev = device_of(device)
    with open_samples(app, input_path, seed=seed) as src:
        samples, results = [], []
        for i in range(src.n_samples):
            sample = src.get(i)
            samples.append(sample)
            cbs = callbacks_factory(i, src.n_samples) if callbacks_factory else ()
            results.append(run_sample(app, sample, config, device=dev, seed=seed, index=i, callbacks=cbs))
        return assemble(app, results, has_n=src.has_n, config=config, device=dev, seed=seed, label=src.label,
                        samples=samples)


def output_datasets(app: App, outputs: dict, has_n: bool) -> dict:
    """``{name: (array, axes)}`` for :func:`~sensekit.io.write_h5`, axes from the app's declared outputs."""
    datasets = {}
    for name, arr in outputs.items():
        axes = app.output_axes(name)
        if axes and has_n:
            axes = "N," + axes
        datasets[name] = (arr, axes)
    return datasets


def write_result(app: App, result: RunResult, output_path: str) -> None:
    """Write outputs, ``provenance`` and ``metrics`` groups atomically."""
    groups = {"provenance": result.provenance}
    if result.metrics:
        groups["metrics"] = result.metrics
    write_h5(output_path, output_datasets(app, result.outputs, result.has_n), groups=groups)


def figure_format(path: str, what: str = "--plot") -> str:
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
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise ConfigError(f"{what} {p}: folder {folder} does not exist")
        if input_path is not None and os.path.exists(input_path) and os.path.exists(p) \
                and os.path.samefile(p, input_path):
            raise ConfigError(f"{what} {p}: refusing to overwrite the input file")
    if output_path and plot_path and os.path.abspath(output_path) == os.path.abspath(plot_path):
        raise ConfigError("-o and --plot name the same file")
