"""Saving and loading learned models: a ``torch.save`` state dict plus a JSON config (DESIGN.md, "Learned").

A model ``NAME`` is the pair ``NAME.pt`` (the state dict) and ``NAME.json``::

    {"model": "rim", "config": {...constructor arguments...}, "format": 1, ...anything else (training, card)}

A folder stands for ``folder/model.pt`` + ``folder/model.json``.
"""
from __future__ import annotations

import json
import os

import torch

from ..io.hdf5 import atomic_path

FORMAT = 1


def _registry() -> dict:
    from .rim import RIM
    from .sampling import BModeDPS, SubsampleNet
    return {"rim": RIM, "dps_subsample": SubsampleNet, "dps_bmode": BModeDPS}


def model_paths(path: str | os.PathLike) -> tuple[str, str]:
    """The (.pt, .json) pair that ``path`` names: a folder, a ``.pt`` or ``.json`` file, or a stem."""
    p = os.fspath(path)
    if os.path.isdir(p):
        p = os.path.join(p, "model")
    stem = p[:-3] if p.endswith(".pt") else p[:-5] if p.endswith(".json") else p
    return stem + ".pt", stem + ".json"


def save_model(model: torch.nn.Module, path: str | os.PathLike, *, meta: dict | None = None,
               extra_state: dict | None = None) -> tuple[str, str]:
    """Write ``model`` as ``<path>.pt`` (state dict, CPU tensors) and ``<path>.json`` (config + ``meta``).

    ``model`` must have a ``config`` property (its constructor arguments) and be
    one of the registered kinds (``rim``).  ``extra_state`` (e.g. an optimiser's
    state for resuming) is stored next to the weights under the key ``"extra"``.
    Both files are written atomically.  Returns the two paths.
    """
    kinds = {cls: name for name, cls in _registry().items()}
    if type(model) not in kinds:
        raise TypeError(f"cannot save a {type(model).__name__}; known models: {', '.join(kinds.values())}")
    pt, js = model_paths(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {"state_dict": state, **({"extra": extra_state} if extra_state is not None else {})}
    doc = {"model": kinds[type(model)], "format": FORMAT, "config": model.config, **(meta or {})}
    with atomic_path(pt, suffix=".pt") as tmp:
        torch.save(blob, tmp)
    with atomic_path(js, suffix=".json") as tmp, open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2, default=str)
        fh.write("\n")
    return pt, js


def read_model_card(path: str | os.PathLike) -> dict:
    """The JSON document of a saved model (config, training record, evaluation)."""
    _, js = model_paths(path)
    if not os.path.isfile(js):
        raise FileNotFoundError(f"model config {js} not found")
    with open(js) as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or "model" not in doc or "config" not in doc:
        raise ValueError(f"{js}: not a sensekit model config (needs 'model' and 'config')")
    return doc


def load_model(path: str | os.PathLike, *, map_location: str | torch.device = "cpu",
               with_extra: bool = False):
    """Rebuild a model saved by :func:`save_model`; returns ``(model, card)`` (or ``(model, card, extra)``).

    The weights are loaded with ``weights_only=True`` (no code from the file is
    executed) onto ``map_location``; the model is put in eval mode.
    """
    pt, _ = model_paths(path)
    card = read_model_card(path)
    if not os.path.isfile(pt):
        raise FileNotFoundError(f"model weights {pt} not found")
    reg = _registry()
    if card["model"] not in reg:
        raise ValueError(f"{pt}: unknown model kind {card['model']!r}; known: {', '.join(reg)}")
    blob = torch.load(pt, map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ValueError(f"{pt}: not a sensekit model file (no state_dict)")
    model = reg[card["model"]](**card["config"])
    model.load_state_dict(blob["state_dict"])
    model.to(map_location).eval()
    if with_extra:
        return model, card, blob.get("extra")
    return model, card
