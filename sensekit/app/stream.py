"""Streamed samples: an app's block methods over a lazy input, written to a chunked sink, resumable by block.

An app opts in by setting ``App.stream_axis`` and implementing ``start_stream``,
``run_block`` and ``finish_stream`` (see :class:`~sensekit.app.base.App`).  For one
sample :func:`stream_sample`

1. reads the non-streamed inputs whole and the streamed ones block by block
   (:meth:`~sensekit.io.source.LazyArray.take`: ``block`` entries along the
   streamed axis at a time, never the whole dataset),
2. validates each block with ``app.prepare`` (errors name the file, the sample
   and the block's range),
3. runs ``app.run_block`` on the run's device with the sample's own generator
   (seeded ``seed + i``, carried across blocks),
4. scores the block (``app.score``) and writes its outputs straight into the
   :class:`~sensekit.io.sink.ChunkedSink` along the streamed axis,
5. with a :class:`Checkpoint` (``sensekit batch``), saves after every block the
   next block's start, the app's state, the generator state, the per-block
   metrics and the compute seconds.

Resume: a ``batch --resume`` after a kill reopens the sample's partial output
file and its checkpoint and continues at the next unfinished block; the state
and generator come back exactly, so the result is byte-identical to an
uninterrupted run.  When the partial file or the checkpoint cannot be read
(a kill in the middle of an HDF5 write can corrupt the file), or they disagree
with the input (length, block size), the sample restarts cleanly from its
first block.  Peak memory is one block of inputs and outputs plus the app's
state, whatever the length.
"""
from __future__ import annotations

import json
import contextlib
import os
import time
from typing import Callable, Sequence

import numpy as np
import torch

from ..core.random import make_generator
from ..io.errors import InputError
from .base import RunOutput, StreamInfo, to_numpy
from .reduce import history_summary, reduce_metrics, scalar
from .samples import SampleResult, check_finite, linalg_errors, move, name_input, numerical_failure, prepare_checked


def _tokens(layout) -> list:
    return [t.strip() for t in (layout.split(",") if isinstance(layout, str) else layout)]


def stream_axes(app, layouts: dict) -> dict:
    """``{name: axis index}`` of the present inputs whose layout carries ``app.stream_axis``.

    Returns
    -------
    dict
        ``{input name: axis index}``.
    """
    tok = app.stream_axis
    streamed = app.streamed_inputs()
    return {n: _tokens(lay).index(tok) for n, lay in layouts.items() if n in streamed and tok in _tokens(lay)}


def output_axis(app, name: str, shape: tuple) -> tuple:
    """``(axis index, axes label)`` of a block output along ``app.stream_axis``; ValueError if it has none.

    Returns
    -------
    tuple[int, str]
        The axis index and the output's axes label.
    """
    shape = tuple(shape)
    axes = app.output_axes(name, len(shape), shape)
    if not axes or app.stream_axis not in _tokens(axes):
        raise ValueError(f"{app.name}: block output '{name}' of shape {shape} has no declared layout with the "
                         f"streamed axis {app.stream_axis} (declare it in App.outputs, or return it from "
                         f"finish_stream)")
    return _tokens(axes).index(app.stream_axis), axes


def blocks(length: int, block: int):
    """``(start, stop)`` of each block.

    Returns
    -------
    list[tuple[int, int]]
        The ``(start, stop)`` pairs covering ``range(length)``.
    """
    block = max(1, int(block))
    return [(s, min(length, s + block)) for s in range(0, max(length, 0), block)]


def run_blocks_in_memory(app, inputs: dict, config, *, generator, callbacks: Sequence[Callable] = ()) -> RunOutput:
    """``App.run`` of a streamed app: its block methods over prepared in-memory tensors (same blocks as a file).

    Returns
    -------
    RunOutput
        The concatenated block outputs plus the finishing outputs.
    """
    layouts = {}
    for name, v in inputs.items():
        if name in app.streamed_inputs() and torch.is_tensor(v):
            lay = app.input_spec(name).layout_for(v.ndim, tuple(v.shape))
            if lay:
                layouts[name] = lay
    axes = stream_axes(app, layouts)
    if not axes:
        raise ValueError(f"{app.name}: no input carries the streamed axis {app.stream_axis}")
    lengths = {inputs[n].shape[a] for n, a in axes.items()}
    if len(lengths) != 1:
        raise InputError(f"streamed inputs differ in length along {app.stream_axis}: {sorted(lengths)}")
    length = lengths.pop()
    b = app.stream_block_size(config)
    info = StreamInfo(length=length, block=b, shapes={k: tuple(v.shape) for k, v in inputs.items()
                                                      if torch.is_tensor(v)}, attrs={})
    state = app.start_stream(info, config, generator=generator)
    parts: dict = {}
    for s, e in blocks(length, b):
        blk = {k: (v.narrow(axes[k], s, e - s) if k in axes else v) for k, v in inputs.items()}
        out, state = app.run_block(blk, state, config, start=s, generator=generator, callbacks=callbacks)
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
    outputs = {}
    for k, vs in parts.items():
        ax, _ = output_axis(app, k, tuple(vs[0].shape))
        outputs[k] = torch.cat(list(vs), dim=ax) if torch.is_tensor(vs[0]) else np.concatenate(vs, axis=ax)
    fin = app.finish_stream(state, config)
    return RunOutput(outputs={**outputs, **fin.outputs}, iterations=fin.iterations, info=dict(fin.info),
                     axes=dict(fin.axes))


class Checkpoint:
    """The resume point of a streamed sample: one file written atomically after every block (``torch.save``).

    Holds ``next`` (the next block's start), ``length``, ``block``, ``state`` (the app's), ``generator``
    (its state), ``metrics`` and ``weights`` (per finished block) and ``seconds``; read back with
    ``weights_only=True``.
    """

    def __init__(self, path: str):
        self.path = str(path)

    def load(self) -> dict | None:
        if not os.path.exists(self.path):
            return None
        try:
            data = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:   # unreadable: the sample restarts cleanly
            return None
        return data if isinstance(data, dict) and "next" in data else None

    def save(self, data: dict) -> None:
        from ..io.hdf5 import atomic_path
        with atomic_path(self.path, suffix=".pt") as tmp:
            torch.save(data, tmp)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.remove(self.path)


def stream_sample(app, src, i: int, config, *, device: torch.device, seed: int, sink, index: int = 0,
                  checkpoint: Checkpoint | None = None, callbacks: Sequence[Callable] = (),
                  on_block: Callable | None = None, check: Callable | None = None) -> SampleResult:
    """Stream sample ``i`` of the input source ``src`` through the app into ``sink`` (see the module docstring).

    Parameters
    ----------
    src : :class:`~sensekit.io.source.InputSource` of the input file.
    sink : :class:`~sensekit.io.sink.ChunkedSink` receiving the outputs at sample ``index``.
    checkpoint : resume point (``batch``); None: no checkpoints (``run``).
    on_block : ``on_block(stop, length)`` after every block (progress).
    check : called before every block (``batch``'s stop-signal check).

    Returns
    -------
    SampleResult with empty ``outputs`` (they are in the sink), the reduced block metrics,
    iterations, compute seconds (summed over resumed sessions), stop reason and history summary.
    """
    lazy = src.lazy(i)
    layouts = {n: src.layout(n) for n in lazy}
    attrs = {n: src.attrs(n) for n in lazy}
    where = f"sample {i}" if src.has_n else ""
    axes = stream_axes(app, layouts)
    if not axes:
        raise InputError(f"{src.path}: {where + ': ' if where else ''}no dataset carries the streamed axis "
                         f"{app.stream_axis} (expected one of {', '.join(app.streamed_inputs())})")
    lengths = {lazy[n].shape[a] for n, a in axes.items()}
    if len(lengths) != 1:
        raise InputError(f"{src.path}: {where + ': ' if where else ''}streamed datasets "
                         f"{', '.join(axes)} differ in length along {app.stream_axis}: {sorted(lengths)}")
    length = lengths.pop()
    b = app.stream_block_size(config)
    whole = {n: lazy[n].read() for n in lazy if n not in axes}
    gen = make_generator(seed + i)
    ck = checkpoint.load() if checkpoint is not None else None
    if ck is not None and ck.get("length") == length and ck.get("block") == b:
        state, start = ck["state"], int(ck["next"])
        gen.set_state(ck["generator"])
        per_block, weights, seconds = list(ck["metrics"]), list(ck["weights"]), float(ck["seconds"])
    else:
        info = StreamInfo(length=length, block=b, shapes={n: a.shape for n, a in lazy.items()}, attrs=attrs)
        try:
            state = app.start_stream(info, config, generator=gen)
        except InputError as e:
            raise name_input(e, src.path, where, list(lazy)) from None
        start, per_block, weights, seconds = 0, [], [], 0.0
    tok = app.stream_axis
    for s, e in blocks(length, b):
        if s < start:
            continue
        if check is not None:
            check()
        t0 = time.perf_counter()
        raw = dict(whole)
        raw.update({n: lazy[n].take(a, s, e) for n, a in axes.items()})
        block = prepare_checked(app, raw, attrs, layouts, path=src.path,
                                where=(where + ", " if where else "") + f"{tok} {s}:{e}")
        try:
            out, state = app.run_block(move(block, device), state, config, start=s, generator=gen,
                                       callbacks=list(callbacks))
        except InputError as err:   # e.g. a calibration that finds no signal in this block
            raise name_input(err, src.path, (where + ", " if where else "") + f"{tok} {s}:{e}", list(lazy)) from None
        except linalg_errors() as err:
            raise numerical_failure(app, config, f"failed numerically ({type(err).__name__})", path=src.path,
                                    where=(where + ", " if where else "") + f"{tok} {s}:{e}",
                                    datasets=list(lazy)) from None
        out_np = {k: to_numpy(v) for k, v in out.items()}
        check_finite(app, out_np, config, path=src.path, where=(where + ", " if where else "") + f"{tok} {s}:{e}",
                     datasets=list(lazy))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - t0
        m = app.score({k: torch.as_tensor(v) for k, v in out_np.items()}, block)
        per_block.append({k: scalar(v) for k, v in m.items()})
        weights.append(e - s)
        for name, arr in out_np.items():
            ax, label = output_axis(app, name, arr.shape)
            if arr.shape[ax] != e - s:
                raise ValueError(f"{app.name}: run_block returned '{name}' with {arr.shape[ax]} entries along "
                                 f"{tok} for a block of {e - s}")
            sink.write(name, s, arr, axis=ax, length=length, axes=label, index=index)
        sink.flush()
        if checkpoint is not None:
            checkpoint.save({"next": e, "length": length, "block": b, "state": state,
                             "generator": gen.get_state(), "metrics": per_block, "weights": weights,
                             "seconds": seconds})
        if on_block is not None:
            on_block(e, length)
    t0 = time.perf_counter()
    try:
        fin = app.finish_stream(state, config)
    except InputError as err:
        raise name_input(err, src.path, where, list(lazy)) from None
    for name, v in fin.outputs.items():
        arr = to_numpy(v)
        check_finite(app, {name: arr}, config, path=src.path, where=where, datasets=list(lazy))
        sink.put(name, arr, axes=(fin.axes or {}).get(name) or app.output_axes(name, arr.ndim, arr.shape),
                 index=index)
    seconds += time.perf_counter() - t0
    metrics = reduce_metrics(app, per_block, weights) if per_block else {}
    metrics.update({k: scalar(v) for k, v in (fin.info.get("metrics") or {}).items()})
    return SampleResult(outputs={}, metrics=metrics, iterations=int(fin.iterations), seconds=seconds,
                        stop_reason=str(fin.info.get("stop_reason", "") or ""),
                        history=history_summary(fin.info.get("history"), fin.iterations))


# ----------------------------------------------------------------------------- files
def h5_lazy(ds, index: int | None, *, name: str, path: str):
    """An ``h5py.Dataset`` (sample ``index`` of it, or all when None) as a :class:`~sensekit.io.source.LazyArray`.

    Returns
    -------
    LazyArray
        A lazy view reading the dataset on demand.
    """
    from ..io.source import LazyArray
    shape = ds.shape[1:] if index is not None else ds.shape
    if index is not None:
        return LazyArray(shape, ds.dtype, lambda key: ds[(index,) + key], name=name, path=path)
    return LazyArray(shape, ds.dtype, lambda key: ds[key] if key else ds[()], name=name, path=path)


def _stream_figure(app, src, h5, index, path, config):
    from .runner import figure_format
    from ..io.hdf5 import atomic_path
    ext = figure_format(path)
    inputs = src.lazy(0)
    outputs = {k: h5_lazy(h5[k], index, name=k, path=path) for k in h5 if hasattr(h5[k], "shape")}
    with atomic_path(path) as tmp:
        app.figure(inputs, outputs, tmp, config, fmt=ext)


def _as_source(app, input_path):
    from ..io.source import InputSource
    from .runner import open_source
    src = open_source(app, input_path)
    if not isinstance(src, InputSource):
        src.close()
        raise TypeError(f"{app.name} streams its input: open_input must return an InputSource (lazy), not "
                        f"prepared samples")
    return src


def stream_run(app, *, input_path: str, config, output_path: str | None = None, plot_path: str | None = None,
               device: str = "auto", seed: int = 0, on_block: Callable | None = None):
    """``sensekit run`` of a streamed app on a file: blocks in, blocks out, into ``output_path`` atomically.

    Without ``output_path`` the outputs go to a temporary file that is deleted afterwards (metrics and the
    figure are still made). Returns the :class:`~sensekit.app.runner.RunResult` (no outputs in memory).

    Returns
    -------
    RunResult
        The run's result (outputs written to ``output_path``).
    """
    import shutil
    import tempfile
    from ..io.hdf5 import write_groups
    from ..io.sink import ChunkedSink, sink_file
    from .runner import _groups, assemble, device_of
    dev = device_of(device)
    tmpdir = None
    target = output_path
    if target is None:
        tmpdir = tempfile.mkdtemp(prefix="sensekit-run-")
        target = os.path.join(tmpdir, "out.h5")
    try:
        with _as_source(app, input_path) as src, sink_file(target) as h5:
            sink = ChunkedSink(h5, n_samples=src.n_samples if src.has_n else None,
                               block=app.stream_block_size(config))
            results = []
            for i in range(src.n_samples):
                cb = (lambda stop, length, i=i: on_block(i, src.n_samples, stop, length)) if on_block else None
                results.append(stream_sample(app, src, i, config, device=dev, seed=seed, sink=sink,
                                             index=i if src.has_n else 0, on_block=cb))
            result = assemble(app, results, has_n=src.has_n, config=config, device=dev, seed=seed,
                              label=src.label)
            if plot_path:
                _stream_figure(app, src, h5, 0 if src.has_n else None, plot_path, config)
            write_groups(h5, _groups(result))
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return result


def stream_part(app, src, i: int, config, *, device, seed: int, part: str, check: Callable | None = None):
    """Stream sample ``i`` into the batch part file ``part``, resumably (see the module docstring).

    Work files beside ``part``: ``<part>.partial.h5`` (the outputs so far, written block by block)
    and ``<part>.ckpt.pt`` (the :class:`Checkpoint`). When the sample is done, its ``sample`` and
    ``metrics`` groups are written into the partial file, which is renamed onto ``part`` (its
    presence is the sample's done flag) and the checkpoint removed.

    Returns
    -------
    SampleResult
        The sample's result.
    """
    import h5py
    from ..io.hdf5 import write_groups
    from ..io.sink import ChunkedSink
    partial, ck = part + ".partial.h5", Checkpoint(part + ".ckpt.pt")
    h5 = None
    if ck.load() is not None and os.path.exists(partial):
        try:
            h5 = h5py.File(partial, "a")
        except Exception:   # a kill in the middle of an HDF5 write: restart the sample cleanly
            h5 = None
    if h5 is None:
        ck.remove()
        with contextlib.suppress(OSError):
            os.remove(partial)
        h5 = h5py.File(partial, "w")
    try:
        sink = ChunkedSink(h5, n_samples=None, block=app.stream_block_size(config))
        res = stream_sample(app, src, i, config, device=device, seed=seed, sink=sink, checkpoint=ck, check=check)
        groups = {"sample": {"index": i, "iterations": res.iterations, "seconds": res.seconds, "done": True,
                             "streamed": True, "stop_reason": res.stop_reason,
                             "history_summary": json.dumps(res.history, sort_keys=True) if res.history else ""},
                  "metrics": res.metrics}
        write_groups(h5, groups)
        h5.flush()
    finally:
        h5.close()
    os.replace(partial, part)
    ck.remove()
    return res


def write_from_parts(app, result, output_path: str, groups: dict) -> None:
    """The final output of a streamed file, copied block by block from its samples' part files."""
    import h5py
    from ..io.hdf5 import write_groups
    from ..io.sink import ChunkedSink, copy_along, sink_file
    n = len(result.parts)
    with sink_file(output_path) as out:
        sink = ChunkedSink(out, n_samples=n if result.has_n else None)
        for i, part in enumerate(result.parts):
            with h5py.File(part, "r") as f:
                for name, ds in f.items():
                    if not isinstance(ds, h5py.Dataset):
                        continue
                    axes = ds.attrs.get("axes")
                    axes = axes.decode() if isinstance(axes, bytes) else axes
                    toks = _tokens(axes) if axes else []
                    idx = i if result.has_n else 0
                    if app.stream_axis in toks:
                        copy_along(ds, sink, name, axis=toks.index(app.stream_axis), block=sink.block,
                                   axes=axes, index=idx)
                    else:
                        sink.put(name, ds[()], axes=axes, index=idx)
        write_groups(out, groups)
