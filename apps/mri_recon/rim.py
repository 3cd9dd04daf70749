"""The ``rim`` method of mri-recon: a recurrent inference machine trained by ``sensekit train mri-recon``.

The shipped model (``sensekit/learned/weights/mri_rim_indrnn``) was trained by
this project's own code on synthetic phantoms and image frames (see
``sensekit/learned/README.md`` for its card and its scores on data it did not
see); ``--set rim_model=PATH`` selects another one.  Nothing is downloaded.
"""
from __future__ import annotations

import os

import torch

from sensekit.io.errors import ConfigError

from .model import normal_bound

SHIPPED = "mri_rim_indrnn"
_CACHE: dict = {}


def model_location(spec: str) -> str:
    """Path stem of the model that ``rim_model`` names ('' = the shipped model)."""
    from sensekit.learned import model_paths, weights_path
    stem = weights_path(SHIPPED) if not spec else spec
    pt, js = model_paths(stem)
    for f in (pt, js):
        if not os.path.isfile(f):
            raise ConfigError(f"option 'rim_model': {f} not found (a model is a .pt + .json pair written by "
                              f"`sensekit train mri-recon`, or a folder holding model.pt and model.json)")
    return pt


def load_rim(spec: str, device: torch.device):
    """The RIM named by ``rim_model`` on ``device`` (cached per file, modification time and device)."""
    from sensekit.learned import load_model
    pt = model_location(spec)
    key = (os.path.abspath(pt), os.path.getmtime(pt), str(device))
    if key not in _CACHE:
        try:
            model, card = load_model(pt, map_location=device)
        except (ValueError, RuntimeError, KeyError, TypeError) as e:
            raise ConfigError(f"option 'rim_model': cannot load {pt}: {' '.join(str(e).split())[:200]}") from None
        if card.get("app", "mri-recon") != "mri-recon" or card["model"] != "rim":
            raise ConfigError(f"option 'rim_model': {pt} is a {card['model']} model for {card.get('app')}, "
                              f"not a mri-recon RIM")
        _CACHE.clear()
        _CACHE[key] = model
    return _CACHE[key]


def rim(E, y, cfg, *, callbacks=()):
    """Recurrent inference machine (Lønning et al. 2019; Karkalousos et al. 2020): a learned iterative
    solver fed with the data-consistency gradient Eᴴ(Ex − y) at every step.

    Frames are reconstructed as a batch, each seeing its neighbouring frames
    (the model's ``context``); the number of steps is the model's.
    """
    from .options import OPTIONS
    model = load_rim(OPTIONS.of(cfg, "rim").rim_model, y.device)
    with torch.no_grad():
        xs = model(E, y, lipschitz=normal_bound(E.ops[-1].maps))
    return xs[-1], len(xs), {}
