"""The App base class; the option machinery behind ``--set``, ``info`` and provenance is in :mod:`.options`.

An app declares a frozen ``Config`` dataclass whose fields are made with
:func:`option` (default, help text, choices, bounds), or, with several methods,
one frozen options class per method composed by
:class:`~sensekit.app.options.MethodOptions`: that one declaration feeds the
CLI's ``--set``, ``sensekit info``, the HDF5 provenance and the gallery defaults.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable, Sequence

import numpy as np
import torch

from ..io.errors import InputError
from ..io.hdf5 import DatasetSpec
# the option machinery, re-exported here where apps and tests have always imported it from
from .options import (MethodOptions, _convert, _field_type, _strict_int, config_dict, config_fields,  # noqa: F401
                      describe_fields, make_config, option)


@dataclasses.dataclass
class RunOutput:
    """What :meth:`App.run` (or :meth:`App.finish_stream`) returns for one sample.

    ``info`` may hold ``stop_reason`` (str) and ``history`` (the solver's list of
    per-check dicts): the runner records them in the output's provenance as
    ``stop_reason`` and ``history_summary``; a ``metrics`` dict in the ``info``
    of :meth:`App.finish_stream` adds to (and overrides) the per-block scores.

    ``axes`` labels outputs whose axes this run chooses (``{name: "F"}``, without ``N``; e.g. a mask over
    the axis an option picks): it replaces the declared layout of :attr:`App.outputs` in the file's
    ``axes`` attribute (run, batch, and the :meth:`App.finish_stream` outputs of a streamed run); each
    label must have the output's rank.
    """

    outputs: dict                # name -> Tensor or ndarray
    iterations: int = 0
    info: dict = dataclasses.field(default_factory=dict)
    axes: dict = dataclasses.field(default_factory=dict)   # name -> axes label of this run (overrides the layout)


@dataclasses.dataclass(frozen=True)
class StreamInfo:
    """What :meth:`App.start_stream` knows before the first block.

    Attributes
    ----------
    length : entries along the streamed axis (e.g. frames T).
    block : entries per block (the last block may be shorter).
    shapes : ``{name: shape}`` of every input dataset of the sample (raw, without ``N``).
    attrs : ``{name: {attr: value}}`` of the input datasets.
    """

    length: int
    block: int
    shapes: dict
    attrs: dict


#: metric reductions an app may declare in :attr:`App.metric_reduction`
REDUCTIONS = ("mean", "sum", "pooled")


class App:
    """Base class of a sensekit domain app.

    Subclasses set ``name``, ``summary``, ``Config``, ``SimConfig``,
    ``inputs`` and ``outputs`` (lists of :class:`~sensekit.io.DatasetSpec`)
    and implement :meth:`simulate`, :meth:`prepare`, :meth:`run`,
    :meth:`score` and optionally :meth:`figure`.

    Notes
    -----
    Declarations read by the runner and batch (all optional):

    Ragged tables
        A :class:`~sensekit.io.DatasetSpec` with ``ragged=True`` (input or output) is a
        per-sample table whose row count differs between samples: ``run`` returns it
        as a (P, ...) array per sample; a multi-sample file stores it NaN-padded as
        (N, P_max, ...) with the counts dataset ``spec.counts_name`` (N).
    Metric reduction (:attr:`metric_reduction`, :meth:`pool_metrics`)
        How each metric that :meth:`score` returns reduces over the samples of a
        file (and over the blocks of a streamed sample): ``"mean"`` (the default;
        streamed blocks are weighted by their length), ``"sum"`` (counts) or
        ``"pooled"``: recomputed by :meth:`pool_metrics` from the totals of the
        ``"sum"`` metrics (e.g. an F-measure over all pixels from summed TP/FP/FN).
    Output axes by rank
        An output spec may list one layout per rank (``("T,H,W", "T,H,W,C")``): the
        written ``axes`` attribute is the layout whose rank matches the array.
    Non-HDF5 inputs (:meth:`open_input`, :attr:`folder_patterns`)
        :meth:`open_input` returns an :class:`~sensekit.io.source.InputSource` for a
        path the app reads itself (a folder of images, a video, a .mat), or None for
        a contract HDF5 file. ``run --input`` and ``batch`` both go through it; a
        folder holding files that match :attr:`folder_patterns` is ONE input in
        ``batch`` (so ``batch APP clips/`` processes each frame folder in clips/).
    Streaming (:attr:`stream_axis`, :meth:`start_stream`, :meth:`run_block`, :meth:`finish_stream`)
        An app whose input may not fit in memory sets :attr:`stream_axis` (an axis
        token of its inputs, e.g. ``"T"``) and implements the three block methods
        instead of :meth:`run` (the default :meth:`run` composes them in memory).
        The runner then reads file inputs by blocks of :meth:`stream_block_size`
        entries along that axis (:class:`~sensekit.io.source.LazyArray`), calls
        :meth:`prepare` on each block, :meth:`run_block` on the prepared block and
        writes the block's outputs straight to a chunked HDF5 sink
        (:class:`~sensekit.io.sink.ChunkedSink`): peak memory is one block, whatever
        the length. ``batch`` checkpoints after every block (the block outputs, the
        ``state`` dict, the generator state and the metric totals), so ``--resume``
        after a kill continues a streamed sample at the next unfinished block, with
        the result byte-identical to an uninterrupted run.
    """

    name: str = ""
    summary: str = ""
    Config: type = None
    SimConfig: type = None
    inputs: tuple = ()
    outputs: tuple = ()
    #: method name -> one-line description (the choices of Config.method)
    methods: dict = {}
    #: options of ``sensekit convert`` (None: the app has no converter)
    ConvertConfig: type = None
    #: options of ``sensekit train`` (None: the app has nothing to train)
    TrainConfig: type = None

    # -- declarations read by the shared machinery (batch, device tests, benchmarks, gallery quick mode);
    #    an app joins all of them by setting these, with no change to the machinery
    #: file-name patterns that ``sensekit batch APP IN_DIR`` picks up in a folder
    batch_patterns: tuple = ("*.h5", "*.hdf5")
    #: file-name patterns that make a folder ONE input (a folder of frames), read by :meth:`open_input`;
    #: empty: folders are never inputs
    folder_patterns: tuple = ()
    #: SimConfig overrides giving a small input that runs in about a second on one CPU thread
    quick_sim: dict = {}
    #: Config overrides that keep a run on the quick input short (e.g. ``{"max_iter": 20}``)
    quick_options: dict = {}
    #: metric name -> "mean" | "sum" | "pooled" (metrics not listed: "mean"); see the class docstring
    metric_reduction: dict = {}
    #: axis token of the inputs that is read and written in blocks (None: the app is not streamed)
    stream_axis: str | None = None
    #: default block length along :attr:`stream_axis` (:meth:`stream_block_size` may read it from the options)
    stream_block: int = 256

    # -- data
    def simulate(self, sim, generator: torch.Generator) -> tuple[dict, dict]:
        """A synthetic input: ``({dataset: ndarray}, {dataset: {attr: value}})``.

        Returns
        -------
        tuple[dict, dict]
            The datasets ``{name: ndarray}`` and their attributes ``{name: {attr: value}}``.
        """
        raise NotImplementedError

    def prepare(self, arrays: dict, attrs: dict, layouts: dict) -> dict:
        """Validate one sample beyond the declared specs and turn it into tensors (CPU).

        The runner names the file (and the sample) in any :class:`InputError` or
        ``ValueError`` raised here. A streamed app's ``prepare`` receives one block
        at a time (the streamed datasets sliced, the others whole) and must keep the
        streamed datasets' names and the position of the streamed axis.

        Returns
        -------
        dict
            The prepared sample: ``{name: tensor or value}`` on the CPU.
        """
        raise NotImplementedError

    def mat_kind(self, listing: dict) -> str | None:
        """What makes a MATLAB file plainly this app's kind of data (for ``convert``'s refusal of others').

        Parameters
        ----------
        listing : dict
            ``{variable: (shape, MATLAB class)}`` (:func:`sensekit.io.matlab.list_mat`).

        Returns
        -------
        str or None
            A short description of what was found (e.g. ``"hyperspectral variables lines, cols"``), or None.
        """
        return None

    def recognizes(self, src: str, fmt: str) -> str | None:
        """A description when ``src`` is plainly this app's kind of data, else None (see :mod:`sensekit.app.kinds`).

        Parameters
        ----------
        src : str
            The file.
        fmt : str
            Its format (:func:`sensekit.io.detect_format`).

        Returns
        -------
        str or None
            What was found; the default reads a MATLAB file's listing through :meth:`mat_kind` and a
            sensekit HDF5 file by its root datasets (all of this app's required inputs).
        """
        if fmt in ("mat-v5", "mat-v7.3"):
            from ..io.matlab import list_mat
            return self.mat_kind(list_mat(src))
        if fmt == "sensekit" and os.path.isfile(src):
            import h5py
            need = [s.name for s in self.inputs if s.required]
            try:
                with h5py.File(src, "r") as f:
                    if need and all(isinstance(f.get(n, getlink=False), h5py.Dataset) for n in need):
                        return f"a sensekit input with the datasets {', '.join(need)}"
            except OSError:
                return None
        return None

    def open_input(self, path: str):
        """Open ``path`` if it is not a contract HDF5 file: an :class:`~sensekit.io.source.InputSource`, or None.

        The source gives the raw contract datasets (``frames``, ``kspace``, ...) of
        each sample; the runner validates them with :meth:`prepare` like those of an
        HDF5 file. Read lazily where the format allows it
        (:class:`~sensekit.io.images.ImageFolder` reads one image per frame asked for).
        """
        return None

    def convert(self, src: str, fmt: str, config, generator: torch.Generator) -> tuple[dict, dict]:
        """Another format's file as contract datasets: ``({name: (array, axes)}, {root attr: value})``.

        ``fmt`` is the name :func:`sensekit.io.detect_format` gave the source.

        Returns
        -------
        tuple[dict, dict]
            The datasets ``{name: (array, axes)}`` and the root attributes.
        """
        raise NotImplementedError(f"{self.name} has no converter")

    def train(self, config, output: str, *, seed: int = 0, device="cpu", callbacks: Sequence[Callable] = (),
              resume: bool = False, command: str = "") -> dict:
        """Train the app's learned method into the folder ``output``; returns the model card (a dict).

        Returns
        -------
        dict
            The model card of the trained model.
        """
        raise NotImplementedError(f"{self.name} has nothing to train")

    # -- work
    def run(self, inputs: dict, config, *, generator: torch.Generator, callbacks: Sequence[Callable] = ()) -> RunOutput:
        """Process one prepared sample. A streamed app inherits this: its block methods over the whole sample.

        Returns
        -------
        RunOutput
            The outputs, iterations and solver info of the sample.
        """
        if self.stream_axis is None:
            raise NotImplementedError
        from .stream import run_blocks_in_memory
        return run_blocks_in_memory(self, inputs, config, generator=generator, callbacks=callbacks)

    def score(self, outputs: dict, inputs: dict) -> dict:
        """Metrics against the ``*_ref`` inputs present (empty dict if none).

        Return the sufficient statistics of pooled metrics too (declared ``"sum"``),
        e.g. ``{"tp": .., "fp": .., "fn": .., "f_measure": ..}``.

        Returns
        -------
        dict
            ``{metric: value}`` (empty when no reference is present).
        """
        return {}

    def pool_metrics(self, totals: dict) -> dict:
        """The ``"pooled"`` metrics from ``totals`` (the summed ``"sum"`` metrics of the samples / blocks).

        Returns
        -------
        dict
            ``{metric: value}`` of the pooled metrics (empty by default).
        """
        return {}

    def figure(self, inputs: dict, outputs: dict, path: str, config, *, fmt: str = "png") -> None:
        """Write a figure of one sample to ``path`` in format ``fmt``.

        For a streamed app the runner passes :class:`~sensekit.io.source.LazyArray` handles
        (inputs and written outputs): index the frames to show instead of reading everything.
        """
        raise NotImplementedError(f"{self.name} has no figure yet")

    # -- streaming (see the class docstring)
    def stream_block_size(self, config) -> int:
        """Entries per block along :attr:`stream_axis`: the option ``block`` when the Config has one (> 0), else
        :attr:`stream_block`.

        Returns
        -------
        int
            The block length.
        """
        b = getattr(config, "block", None)
        return int(b) if b else int(self.stream_block)

    def start_stream(self, info: StreamInfo, config, *, generator: torch.Generator) -> dict:
        """The state before the first block (a dict of tensors, numbers, strings, lists/dicts of them:
        it is checkpointed with ``torch.save`` and read back with ``weights_only=True``).

        Returns
        -------
        dict
            The initial state (empty by default).
        """
        return {}

    def run_block(self, block: dict, state: dict, config, *, start: int, generator: torch.Generator,
                  callbacks: Sequence[Callable] = ()) -> tuple[dict, dict]:
        """Process one prepared block: ``(outputs, new_state)``.

        ``block`` holds the streamed inputs' entries ``start:start+b`` along :attr:`stream_axis`
        (on the run's device) and the other inputs whole. Every output returned here must
        carry the streamed axis (with the block's length); whole outputs come from
        :meth:`finish_stream`. Do not mutate ``state``: return a new dict.

        Returns
        -------
        tuple[dict, dict]
            The block's outputs and the new state.
        """
        raise NotImplementedError

    def finish_stream(self, state: dict, config) -> RunOutput:
        """After the last block: outputs without the streamed axis, iterations and info (stop reason, history).

        Returns
        -------
        RunOutput
            The non-streamed outputs, iterations and info (no outputs by default).
        """
        return RunOutput(outputs={})

    # -- helpers
    def output_spec(self, name: str):
        """The :class:`~sensekit.io.hdf5.DatasetSpec` of output ``name``.

        Returns
        -------
        DatasetSpec or None
            The declared spec, or None when ``name`` is not a declared output.
        """
        for spec in self.outputs:
            if spec.name == name:
                return spec
        return None

    def output_axes(self, name: str, ndim: int | None = None, shape: tuple | None = None) -> str | None:
        """The ``axes`` label of output ``name``: its declared layout of rank ``ndim`` (the first when None).

        Returns
        -------
        str or None
            The axes label, or None when the output is not declared or no layout fits.
        """
        spec = self.output_spec(name)
        if spec is None:
            return None
        if ndim is None:
            return spec.layouts[0]
        return spec.layout_for(ndim, shape)

    def input_spec(self, name: str) -> DatasetSpec:
        """The :class:`~sensekit.io.hdf5.DatasetSpec` of input ``name``.

        Returns
        -------
        DatasetSpec
            The declared spec.
        """
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def streamed_inputs(self) -> dict:
        """``{name: [layouts]}`` of the inputs whose layouts carry :attr:`stream_axis`.

        Returns
        -------
        dict
            ``{input name: list of layouts}`` (empty for an app that does not stream).
        """
        if self.stream_axis is None:
            return {}
        return {s.name: s.layouts for s in self.inputs
                if any(self.stream_axis in [t.strip() for t in lay.split(",")] for lay in s.layouts)}


def to_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor or array-like as a NumPy array.

    Returns
    -------
    numpy.ndarray
        ``x`` as a NumPy array (a tensor is detached and copied to the host).
    """
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def require_finite(name: str, arr: np.ndarray, path: str = "input"):
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: dataset '{name}' contains NaN or Inf values")


def dumps_config(cfg: object) -> str:
    """A config dataclass as a JSON string.

    Returns
    -------
    str
        The options of ``cfg`` as sorted, compact JSON (non-JSON values as ``str``).
    """
    return json.dumps(config_dict(cfg), sort_keys=True, default=str)
