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

#: Model kinds by short name -> "module:Class" (imported when a model of that kind is saved or loaded).
MODELS: dict[str, str] = {"rim": "sensekit.learned.rim:RIM",
                          "dps_subsample": "sensekit.learned.sampling:SubsampleNet",
                          "dps_bmode": "sensekit.learned.sampling:BModeDPS"}


def register_model(name: str, target: str) -> None:
    """Let :func:`save_model` / :func:`load_model` handle ``target`` (``"package.module:Class"``) as ``name``.

    Models defined inside sensekit (an app's unrolled network, say) need no registration: their card
    stores ``"module:Class"`` and loads as long as the module is under ``sensekit.``.  A model defined
    elsewhere (a plugin) must be registered in the loading process, so that a model file can never make
    sensekit import a module it does not already trust.
    """
    if ":" not in target:
        raise ValueError(f"register_model: target {target!r} is not 'package.module:Class'")
    MODELS[name] = target


def _import(target: str):
    import importlib
    mod, _, attr = target.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def model_class(kind: str, *, source: str = "model"):
    """The ``torch.nn.Module`` class that a card's ``"model"`` entry names (a registered name or
    ``"sensekit.….module:Class"``); ``ValueError`` naming ``source`` otherwise.

    Returns
    -------
    type
        The model class.
    """
    target = MODELS.get(kind)
    if target is None:
        if not (isinstance(kind, str) and ":" in kind and kind.startswith("sensekit.")):
            raise ValueError(f"{source}: unknown model kind {kind!r}; known: {', '.join(MODELS)} or "
                             "'sensekit.<module>:<Class>' (register others with register_model)")
        target = kind
    try:
        cls = _import(target)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{source}: model kind {kind!r} cannot be imported ({e})") from None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ValueError(f"{source}: model kind {kind!r} is not a torch.nn.Module class")
    return cls


def _kind_of(model) -> str:
    cls = type(model)
    for name, target in MODELS.items():
        try:
            if _import(target) is cls:
                return name
        except (ImportError, AttributeError):
            continue
    if cls.__module__.startswith("sensekit."):
        return f"{cls.__module__}:{cls.__qualname__}"
    raise TypeError(f"cannot save a {cls.__name__}: register it first with "
                    "sensekit.learned.register_model(name, 'module:Class')")


def model_paths(path: str | os.PathLike) -> tuple[str, str]:
    """The (.pt, .json) pair that ``path`` names: a folder, a ``.pt`` or ``.json`` file, or a stem.

    Returns
    -------
    tuple[str, str]
        The ``.pt`` and ``.json`` paths.
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        p = os.path.join(p, "model")
    stem = p[:-3] if p.endswith(".pt") else p[:-5] if p.endswith(".json") else p
    return stem + ".pt", stem + ".json"


def save_model(model: torch.nn.Module, path: str | os.PathLike, *, meta: dict | None = None,
               extra_state: dict | None = None) -> tuple[str, str]:
    """Write ``model`` as ``<path>.pt`` (state dict, CPU tensors) and ``<path>.json`` (config + ``meta``).

    ``model`` must have a ``config`` property (its constructor arguments) and be a registered kind
    (:data:`MODELS`) or a ``torch.nn.Module`` defined inside sensekit.  ``extra_state`` (e.g. an optimiser's
    state for resuming) is stored next to the weights under the key ``"extra"``.
    Both files are written atomically.  Returns the two paths.

    Returns
    -------
    tuple[str, str]
        The written ``.pt`` and ``.json`` paths.
    """
    kind = _kind_of(model)
    pt, js = model_paths(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {"state_dict": state, **({"extra": extra_state} if extra_state is not None else {})}
    doc = {"model": kind, "format": FORMAT, "config": model.config, **(meta or {})}
    with atomic_path(pt, suffix=".pt") as tmp:
        torch.save(blob, tmp)
    with atomic_path(js, suffix=".json") as tmp, open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2, default=str)
        fh.write("\n")
    return pt, js


def read_model_card(path: str | os.PathLike) -> dict:
    """The JSON document of a saved model (config, training record, evaluation).

    Returns
    -------
    dict
        The card.
    """
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

    Returns
    -------
    tuple
        ``(model, card)``, or ``(model, card, extra)`` with ``with_extra``.
    """
    pt, _ = model_paths(path)
    card = read_model_card(path)
    if not os.path.isfile(pt):
        raise FileNotFoundError(f"model weights {pt} not found")
    cls = model_class(card["model"], source=pt)
    try:
        blob = torch.load(pt, map_location=map_location, weights_only=True)
    except Exception as e:   # a pickle asking for code (refused by weights_only), a truncated or foreign file
        why = "refused: it holds objects other than tensors (code would run on loading)" \
            if "weights only" in str(e).lower() or "weightsunpickler" in str(e).lower() else \
            f"not a torch weights file ({type(e).__name__})"
        raise ValueError(f"{pt}: {why}") from None
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ValueError(f"{pt}: not a sensekit model file (no state_dict)")
    if not isinstance(card["config"], dict):
        raise ValueError(f"{pt}: the model config must be a JSON object of constructor arguments")
    model = cls(**card["config"])
    model.load_state_dict(blob["state_dict"])
    model.to(map_location).eval()
    if with_extra:
        return model, card, blob.get("extra")
    return model, card
