"""Running an app on one input (file or built-in simulation): load, move, run, score, write.

This is the only place that moves data between devices (DESIGN.md, principle 2).
The batch runner reuses :func:`run_samples` and :func:`write_result` per file.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Callable

import numpy as np
import torch

from .._version import __version__
from ..core.device import resolve_device
from ..core.random import make_generator
from ..io.errors import ConfigError, InputError
from ..io.hdf5 import H5Input, write_h5, atomic_path
from .base import App, config_dict, to_numpy


@dataclasses.dataclass
class RunResult:
    outputs: dict            # name -> ndarray (with a leading N when the input had one)
    metrics: dict            # name -> float (mean over samples)
    provenance: dict
    has_n: bool
    n_samples: int
    samples: list            # prepared inputs of each sample (CPU tensors), for figures
    per_sample_outputs: list


def load_input(app: App, input_path: str | None, *, seed: int = 0, sim=None):
    """Prepared samples from a file, or from the app's built-in simulation.

    Returns ``(samples, has_n, label)`` where ``samples`` is a list of dicts of
    CPU tensors as returned by ``app.prepare``.
    """
    if input_path is None:
        sim = sim if sim is not None else app.SimConfig()
        arrays, attrs = app.simulate(sim, make_generator(seed))
        layouts = {spec.name: [t.strip() for t in spec.layouts[0].split(",")]
                   for spec in app.inputs if spec.name in arrays}
        return [app.prepare(arrays, attrs, layouts)], False, "built-in simulation"
    loader = getattr(app, "open_input", None)
    if loader is not None:  # apps that accept other formats (folders, videos) provide their own
        opened = loader(input_path)
        if opened is not None:
            return opened
    samples = []
    with H5Input(input_path, app.inputs) as f:
        attrs = {name: f.attrs(name) for name in f.names}
        layouts = {name: f.layout(name) for name in f.names}
        for i in range(f.n_samples):
            samples.append(app.prepare(f.sample(i), attrs, layouts))
        return samples, f.has_n, os.path.abspath(input_path)


def _move(d: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in d.items()}


def run_samples(app: App, samples: list, config, *, device: torch.device, seed: int = 0,
                callbacks_factory: Callable | None = None):
    """Run the app on every prepared sample; returns (per-sample outputs, metrics list, iterations, seconds)."""
    outs, metrics, iters = [], [], 0
    t0 = time.perf_counter()
    for i, sample in enumerate(samples):
        gen = make_generator(seed + i)
        cbs = callbacks_factory(i, len(samples)) if callbacks_factory else []
        dev_sample = _move(sample, device)
        res = app.run(dev_sample, config, generator=gen, callbacks=cbs)
        for cb in cbs:
            if hasattr(cb, "close"):
                cb.close()
        iters += int(res.iterations)
        out_np = {k: to_numpy(v) for k, v in res.outputs.items()}
        outs.append(out_np)
        metrics.append(app.score({k: torch.as_tensor(v) for k, v in out_np.items()}, sample))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return outs, metrics, iters, time.perf_counter() - t0


def run_app(app: App, *, input_path: str | None, config, device: str = "auto", seed: int = 0,
            callbacks_factory: Callable | None = None) -> RunResult:
    """Load, run and score (nothing is written; see :func:`write_result`)."""
    try:
        dev = resolve_device(device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    samples, has_n, label = load_input(app, input_path, seed=seed)
    outs, metrics, iters, secs = run_samples(app, samples, config, device=dev, seed=seed,
                                             callbacks_factory=callbacks_factory)
    if has_n:
        outputs = {k: np.stack([o[k] for o in outs]) for k in outs[0]}
    else:
        outputs = dict(outs[0])
    mean_metrics = {}
    for k in (metrics[0] if metrics else {}):
        vals = [m[k] for m in metrics if k in m]
        mean_metrics[k] = float(np.mean(vals))
    prov = {
        "app": app.name,
        "method": getattr(config, "method", ""),
        "options": json.dumps(config_dict(config), sort_keys=True, default=str),
        "sensekit_version": __version__,
        "torch_version": torch.__version__,
        "device": str(dev),
        "wall_time_s": float(secs),
        "iterations": int(iters),
        "input": label,
        "seed": int(seed),
    }
    return RunResult(outputs=outputs, metrics=mean_metrics, provenance=prov, has_n=has_n,
                     n_samples=len(samples), samples=samples, per_sample_outputs=outs)


def write_result(app: App, result: RunResult, output_path: str) -> None:
    """Write outputs, ``provenance`` and ``metrics`` groups atomically."""
    datasets = {}
    for name, arr in result.outputs.items():
        axes = app.output_axes(name)
        if axes and result.has_n:
            axes = "N," + axes
        datasets[name] = (arr, axes)
    groups = {"provenance": result.provenance}
    if result.metrics:
        groups["metrics"] = result.metrics
    write_h5(output_path, datasets, groups=groups)


def write_figure(app: App, result: RunResult, path: str, config) -> None:
    """Save the app's figure for the first sample atomically (format from the extension)."""
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    if ext not in ("png", "pdf", "svg", "jpg", "jpeg"):
        raise ConfigError(f"--plot {path}: unsupported figure format '.{ext}'; expected .png, .pdf, .svg or .jpg")
    outs = {k: torch.as_tensor(v) for k, v in result.per_sample_outputs[0].items()}
    with atomic_path(path) as tmp:
        app.figure(result.samples[0], outs, tmp, config, fmt=ext)


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
