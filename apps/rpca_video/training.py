"""``sensekit train rpca-video``: train the ``rpcanet`` method on synthetic sequences with known masks.

Data: :func:`.rpcanet.synthetic_batch` (random :func:`sensekit.sim.video_sequence` scenes: 1–4 objects,
noise, drift, waving-leaves texture in half, camera jitter in a quarter; one frame of each with the
clip's temporal median as the background prior). Loss: SoftIoU(σ(T_K), mask) + 0.01·MSE(D_K, D) over the
scored pixels (RPCANet's). Adam through the common loop :func:`sensekit.learned.train.train_and_save`
(seeded, resumable, time budget, validation metric ``val_f_measure``). After training the model is
scored (pooled F-measure) on a held-out synthetic clip next to the temporal median on the same clip, and
both numbers go in the card. Files: ``model.pt`` (the state dict, read back with ``weights_only=True``)
and ``model.json`` (the card: architecture, data, steps, time, scores, command), written through the model registry
(kind ``rpcanet``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import torch

from sensekit.app.base import option
from sensekit.io.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    iterations: int = option(300, "optimiser steps", min=1)
    batch: int = option(8, "training frames per step (each from a fresh random scene)", min=1)
    height: int = option(48, "training frame height", min=8)
    width: int = option(64, "training frame width", min=8)
    frames: int = option(40, "frames per training scene (its temporal median is the background prior)", min=2)
    stages: int = option(3, "unrolled stages K", min=1, max=12)
    channels: int = option(16, "feature channels of every module", min=2, max=64)
    depth_b: int = option(2, "hidden conv layers of the background / restoration modules", min=0, max=6)
    depth_t: int = option(3, "hidden conv layers of the object-extraction module", min=0, max=8)
    lr: float = option(3e-3, "Adam learning rate", min=0.0)
    check_every: int = option(10, "record the loss every k steps", min=1)
    max_seconds: float = option(0.0, "stop at a check once this much wall time has passed (0: no limit)", min=0.0)


def _eval(model, device, seed: int = 12345) -> dict:
    from sensekit.metrics import f_measure, pr_counts
    from sensekit.sim import video_sequence

    from . import methods as Me, options as O
    from .rpcanet import apply
    X, gt = video_sequence(60, (48, 64), generator=torch.Generator().manual_seed(seed), objects=3, noise=0.02,
                           drift=0.1, sizes=(0.08, 0.2), speeds=(0.8, 2.0))
    net = apply(model, X.to(device))
    med, _, _ = Me.median({"frames": X}, O.MedianOptions())
    return {"eval_data": f"sensekit.sim.video_sequence(60, (48, 64), seed {seed}, 3 objects, noise 0.02, "
                         f"drift 0.1, sizes 0.08-0.2, speeds 0.8-2.0)",
            "eval_f_measure": f_measure(pr_counts(net["mask"].cpu(), gt))["f_measure"],
            "eval_f_measure_median": f_measure(pr_counts(med["mask"], gt))["f_measure"]}


def _net_f_measure(model, device, seed: int = 12345) -> float:
    """The validation metric: pooled F-measure of the network's mask on the held-out clip of :func:`_eval`."""
    from sensekit.metrics import f_measure, pr_counts
    from sensekit.sim import video_sequence

    from .rpcanet import apply
    X, gt = video_sequence(60, (48, 64), generator=torch.Generator().manual_seed(seed), objects=3, noise=0.02,
                           drift=0.1, sizes=(0.08, 0.2), speeds=(0.8, 2.0))
    return f_measure(pr_counts(apply(model, X.to(device))["mask"].cpu(), gt))["f_measure"]


def train(cfg: TrainConfig, output: str, *, seed=0, device="cpu", callbacks=(), resume=False, command="") -> dict:
    """Train an RPCANet and write ``output/model.pt`` + ``output/model.json`` (the card).

    Runs the common loop :func:`sensekit.learned.train_and_save`: a resumable checkpoint
    ``output/checkpoint`` every ``check_every`` steps (``--resume`` continues from it), the validation
    metric ``val_f_measure`` (the network's F-measure on the held-out clip) on the final model.
    """
    from sensekit.learned.train import Validation, train_and_save

    from .rpcanet import RPCANet, rpcanet_loss, synthetic_batch
    dev = torch.device(device)
    torch.manual_seed(seed)
    model = RPCANet(stages=cfg.stages, width=cfg.channels, depth_b=cfg.depth_b, depth_t=cfg.depth_t).to(dev)
    gen = torch.Generator().manual_seed(seed)

    def sample(g):
        b = synthetic_batch(cfg.batch, shape=(cfg.height, cfg.width), frames=cfg.frames, generator=g)
        return {k: v.to(dev) for k, v in b.items()}

    def loss(m, b):
        return rpcanet_loss(m(b["frames"], b["prior"]), b["frames"], b["target"], b["valid"])

    t0 = time.perf_counter()

    def card(res):
        secs = time.perf_counter() - t0
        doc = {"model": "rpcanet", "method": "rpcanet", "config": model.config,
               "parameters": int(sum(p.numel() for p in model.parameters())),
               "training": dataclasses.asdict(cfg), "seed": int(seed), "device": str(dev),
               "data": "rpcanet.synthetic_batch: random sensekit.sim.video_sequence scenes (1-4 objects, noise "
                       "0-0.03, drift, texture in half, jitter in a quarter), one frame each with the clip's "
                       "temporal median as the prior",
               "loss": "SoftIoU(sigmoid(T_K), mask) + 0.01 MSE(D_K, D) over scored pixels",
               "iterations": int(res.iterations), "stop_reason": res.stop_reason, "train_seconds": round(secs, 2),
               "final_loss": float(res.history[-1]["loss"]) if res.history else float("nan"),
               "history": res.history[-5:], "command": command, "torch_version": torch.__version__}
        doc.update(_eval(model, dev))
        return doc

    _, doc = train_and_save(model, sample, loss, output=output, max_iter=cfg.iterations, card=card,
                            meta={"app": "rpca-video", "training": dataclasses.asdict(cfg), "seed": int(seed)},
                            resume=resume, device=dev, lr=cfg.lr, generator=gen, check_every=cfg.check_every,
                            checkpoint_every=cfg.check_every, callbacks=callbacks,
                            validate=Validation(lambda m: _net_f_measure(m, dev), "val_f_measure"),
                            max_seconds=cfg.max_seconds or None)
    return doc


#: the model shipped with sensekit (package data beside this file): weights and card
SHIPPED = (os.path.join(os.path.dirname(__file__), "rpcanet_model.pt"),
           os.path.join(os.path.dirname(__file__), "rpcanet_model.json"))


def load_rpcanet(path: str, device):
    """A trained RPCANet from a folder (``model.pt`` + ``model.json``), or the shipped one when ``path`` is empty.

    The weights are read with ``weights_only=True`` (no code from the file runs).
    """
    from .rpcanet import RPCANet
    pt, js = (os.path.join(path, "model.pt"), os.path.join(path, "model.json")) if path else SHIPPED
    if not (os.path.isfile(pt) and os.path.isfile(js)):
        if not path:
            raise ConfigError("method rpcanet: the shipped model is missing from this installation; train one with "
                              "`sensekit train rpca-video -o DIR` and pass --set rpcanet_model=DIR")
        raise ConfigError(f"option 'rpcanet_model': {path} holds no model.pt + model.json "
                          f"(from `sensekit train rpca-video -o DIR`)")
    try:
        with open(js) as fh:
            card = json.load(fh)
        model = RPCANet(**card["config"])
        blob = torch.load(pt, map_location="cpu", weights_only=True)
        # the shipped file is a bare state dict; `sensekit train` writes the registry's {"state_dict": ...}
        model.load_state_dict(blob["state_dict"] if "state_dict" in blob else blob)
    except Exception as e:
        raise ConfigError(f"option 'rpcanet_model': cannot load {pt} ({type(e).__name__}: {e})") from None
    return model.to(device).eval(), card
