"""The App base class and the option machinery behind ``--set``, ``info`` and provenance.

An app declares a frozen ``Config`` dataclass whose fields are made with
:func:`option` (default, help text, choices, bounds): that one declaration
feeds the CLI's ``--set``, ``sensekit info``, the HDF5 provenance and the
gallery defaults.
"""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Callable, Sequence

import numpy as np
import torch

from ..io.errors import ConfigError, InputError
from ..io.hdf5 import DatasetSpec


def option(default, help: str, *, choices: Sequence | None = None, min: float | None = None,
           max: float | None = None):
    """A Config field with its help text and constraints (stored in field metadata)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": tuple(choices) if choices else None,
                                                        "min": min, "max": max})


def _field_type(cls, f):
    hints = typing.get_type_hints(cls)
    return hints.get(f.name, type(f.default))


def _convert(cls, f, value, source: str):
    typ = _field_type(cls, f)
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin is typing.Union and type(None) in args:  # Optional[X]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        typ = next(a for a in args if a is not type(None))
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
            if not math.isfinite(v):
                raise ValueError
            return v
        if typ is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option '{f.name}' {source}: cannot read {value!r} as {typ.__name__}") from None
    return value


def config_fields(cls) -> list:
    return [f for f in dataclasses.fields(cls) if not f.name.startswith("_")]


def describe_fields(cls) -> list[dict]:
    """[{name, type, default, help, choices, min, max}] for ``info``."""
    out = []
    for f in config_fields(cls):
        typ = _field_type(cls, f)
        tname = getattr(typ, "__name__", str(typ)).replace("typing.", "")
        out.append({"name": f.name, "type": tname, "default": f.default, "help": f.metadata.get("help", ""),
                    "choices": f.metadata.get("choices"), "min": f.metadata.get("min"),
                    "max": f.metadata.get("max")})
    return out


def make_config(cls, values: dict, source: str = "in --set"):
    """Build a Config from ``{key: value}``, converting types and checking constraints.

    Raises :class:`ConfigError` for an unknown key (listing the valid ones), a
    value of the wrong type, a choice not offered, or a number out of range.
    """
    fields = {f.name: f for f in config_fields(cls)}
    kwargs = {}
    for k, v in values.items():
        key = k.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"unknown option '{k}' {source}; expected one of: {', '.join(fields)}")
        f = fields[key]
        v = _convert(cls, f, v, source)
        ch = f.metadata.get("choices")
        if ch and v not in ch:
            raise ConfigError(f"option '{key}' {source}: {v!r} is not one of {', '.join(map(str, ch))}")
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if v is not None and lo is not None and v < lo:
            raise ConfigError(f"option '{key}' {source}: {v} is below the minimum {lo}")
        if v is not None and hi is not None and v > hi:
            raise ConfigError(f"option '{key}' {source}: {v} is above the maximum {hi}")
        kwargs[key] = v
    return cls(**kwargs)


def config_dict(cfg) -> dict:
    return {f.name: getattr(cfg, f.name) for f in config_fields(type(cfg))}


@dataclasses.dataclass
class RunOutput:
    """What :meth:`App.run` returns for one sample."""

    outputs: dict                # name -> Tensor or ndarray
    iterations: int = 0
    info: dict = dataclasses.field(default_factory=dict)


class App:
    """Base class of a sensekit domain app.

    Subclasses set ``name``, ``summary``, ``Config``, ``SimConfig``,
    ``inputs`` and ``outputs`` (lists of :class:`~sensekit.io.DatasetSpec`)
    and implement :meth:`simulate`, :meth:`prepare`, :meth:`run`,
    :meth:`score` and optionally :meth:`figure`.
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
    #: SimConfig overrides giving a small input that runs in about a second on one CPU thread
    quick_sim: dict = {}
    #: Config overrides that keep a run on the quick input short (e.g. ``{"max_iter": 20}``)
    quick_options: dict = {}

    # -- data
    def simulate(self, sim, generator: torch.Generator) -> tuple[dict, dict]:
        """A synthetic input: ``({dataset: ndarray}, {dataset: {attr: value}})``."""
        raise NotImplementedError

    def prepare(self, arrays: dict, attrs: dict, layouts: dict) -> dict:
        """Validate one sample beyond the declared specs and turn it into tensors (CPU)."""
        raise NotImplementedError

    def convert(self, src: str, fmt: str, config, generator: torch.Generator) -> tuple[dict, dict]:
        """Another format's file as contract datasets: ``({name: (array, axes)}, {root attr: value})``.

        ``fmt`` is the name :func:`sensekit.io.detect_format` gave the source.
        """
        raise NotImplementedError(f"{self.name} has no converter")

    def train(self, config, output: str, *, seed: int = 0, device="cpu", callbacks: Sequence[Callable] = (),
              resume: bool = False, command: str = "") -> dict:
        """Train the app's learned method into the folder ``output``; returns the model card (a dict)."""
        raise NotImplementedError(f"{self.name} has nothing to train")

    # -- work
    def run(self, inputs: dict, config, *, generator: torch.Generator, callbacks: Sequence[Callable] = ()) -> RunOutput:
        raise NotImplementedError

    def score(self, outputs: dict, inputs: dict) -> dict:
        """Metrics against the ``*_ref`` inputs present (empty dict if none)."""
        return {}

    def figure(self, inputs: dict, outputs: dict, path: str, config, *, fmt: str = "png") -> None:
        """Write a figure of one sample to ``path`` in format ``fmt``."""
        raise NotImplementedError(f"{self.name} has no figure yet")

    # -- helpers
    def output_axes(self, name: str) -> str | None:
        for spec in self.outputs:
            if spec.name == name:
                return spec.layouts[0]
        return None

    def input_spec(self, name: str) -> DatasetSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)


def to_numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def require_finite(name: str, arr: np.ndarray, path: str = "input"):
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: dataset '{name}' contains NaN or Inf values")


def dumps_config(cfg) -> str:
    return json.dumps(config_dict(cfg), sort_keys=True, default=str)
