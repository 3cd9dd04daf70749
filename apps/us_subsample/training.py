"""``sensekit train us-subsample``: DPS element mask + unrolled recovery network, trained jointly.

Training problems: crops (all elements × ``crop`` fast-time samples) of RF frames, drawn half from the
frames of the given RF files (``rf``, ``frames``) and half from synthetic speckle phantoms simulated at
the first file's geometry (:mod:`sensekit.sim.ultrasound`; only phantoms without files).  Each frame is
scaled by the RMS of its observed rows (as ``run`` does).  Loss: MSE of the recovered channel data
against the full data, over all rows (the observed ones are re-inserted by ``run``).
"""
from __future__ import annotations

import dataclasses
import os
import platform
import time

import numpy as np
import torch

from sensekit.app.base import option
from sensekit.io.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    rate: float = option(0.25, "kept fraction of the elements", min=0.01, max=1.0)
    rf: str = option("", "RF files (comma-separated; contract HDF5 with 'rf', or PyMUST .mat with RF/param) "
                         "whose frames join training; empty = synthetic phantoms only")
    frames: str = option("", "frames of the RF files used in training, e.g. 0-15 (empty = all)")
    sim_fraction: float = option(0.5, "fraction of training crops from simulated phantoms (1 when no rf file)",
                                 min=0.0, max=1.0)
    phantoms: int = option(16, "number of simulated speckle phantoms (simulated once at the start)", min=1)
    iterations: int = option(600, "optimiser steps", min=1)
    batch: int = option(8, "crops per step", min=1)
    crop: int = option(64, "fast-time samples per crop", min=8)
    features: int = option(16, "channels of the proximal CNNs", min=1, max=256)
    layers: int = option(3, "conv layers per proximal step", min=2, max=12)
    kernel: int = option(5, "conv kernel side", min=1, max=15)
    unroll: int = option(4, "unrolled proximal-gradient steps", min=1, max=32)
    lr: float = option(2e-3, "Adam learning rate of the network", min=0.0)
    logit_lr: float = option(5e-2, "Adam learning rate of the DPS logits (DPS uses a larger one)", min=0.0)
    tau: float = option(2.0, "Gumbel-softmax temperature (constant; 2 in the DPS configs)", min=1e-3)
    entropy: float = option(1e-3, "weight of the entropy penalty on softmax(logits)", min=0.0)
    learn_mask: bool = option(True, "learn the mask (DPS); False = train the network on a fixed mask")
    fixed_mask: str = option("random", "mask when learn_mask is False: random, uniform or lowpass",
                             choices=("random", "uniform", "lowpass"))
    max_seconds: float = option(0.0, "stop after this wall time in seconds (0 = no limit)", min=0.0)
    check_every: int = option(20, "report the mean loss every k steps", min=1)


def _sim_bank(attrs: dict, E: int, S: int, n: int, generator: torch.Generator) -> torch.Tensor:
    from sensekit.sim.ultrasound import ProbeGeometry, simulate_rf, speckle_phantom
    probe = ProbeGeometry(n_elements=E, pitch=attrs["pitch_m"], fs=attrs["fs_hz"], fc=attrs["fc_hz"],
                          c=attrs["c_mps"], t0=attrs.get("t0_s", 0.0), n_samples=S)
    out = []
    for _ in range(n):
        x, z, a = speckle_phantom(probe, generator=generator)
        out.append(simulate_rf(probe, x, z, a).to(torch.float32))
    return torch.stack(out)


def train(config: TrainConfig, output: str, *, seed: int = 0, device="cpu", callbacks=(), resume: bool = False,
          command: str = "") -> dict:
    from sensekit.learned.io import save_model
    from sensekit.learned.sampling import SubsampleNet, train_dps
    from sensekit.sim.ultrasound import REAL_DISK_PROBE
    from .methods import lowpass_mask, n_keep, random_mask, uniform_mask
    from .readers import parse_frames, read_rf

    if resume:
        raise ConfigError("us-subsample training has no resume (runs are minutes long); start it again")
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    real, files = [], []
    attrs = REAL_DISK_PROBE.attrs()
    E, S = REAL_DISK_PROBE.n_elements, REAL_DISK_PROBE.n_samples
    for i, p in enumerate([s.strip() for s in config.rf.split(",") if s.strip()]):
        rf, at = read_rf(p)
        if i == 0:
            attrs, E, S = at, rf.shape[1], rf.shape[2]
        elif rf.shape[1] != E:
            raise ConfigError(f"option 'rf': {p} has {rf.shape[1]} elements, the first file {E}")
        sel = parse_frames(config.frames, rf.shape[0])
        real.append(torch.from_numpy(rf[sel]))
        import hashlib
        with open(p, "rb") as fh:
            files.append({"path": os.path.abspath(p), "sha256": hashlib.sha256(fh.read()).hexdigest(),
                          "frames": sel})
    real = torch.cat(real) if real else None
    if config.crop > S:
        raise ConfigError(f"option 'crop': {config.crop} exceeds the {S} fast-time samples")
    sim_fraction = config.sim_fraction if real is not None else 1.0
    sims = _sim_bank(attrs, E, S, config.phantoms, g) if sim_fraction > 0 else None
    m = n_keep(E, config.rate)
    fixed = None
    if not config.learn_mask:
        fm = {"random": lambda: random_mask(E, m, torch.Generator().manual_seed(seed)),
              "uniform": lambda: uniform_mask(E, m), "lowpass": lambda: lowpass_mask(E, m)}[config.fixed_mask]()
        fixed = torch.nonzero(fm).ravel().tolist()
    model = SubsampleNet(n=E, m=m, tau=config.tau, features=config.features, layers=config.layers,
                         kernel=config.kernel, iterations=config.unroll, learn_mask=config.learn_mask,
                         fixed=fixed).to(device)

    def sample(gen):
        crops = []
        for _ in range(config.batch):
            use_sim = sims is not None and (real is None or float(torch.rand(1, generator=gen)) < sim_fraction)
            bank = sims if use_sim else real
            i = int(torch.randint(bank.shape[0], (1,), generator=gen))
            s0 = int(torch.randint(S - config.crop + 1, (1,), generator=gen))
            x = bank[i, :, s0:s0 + config.crop]
            if float(torch.rand(1, generator=gen)) < 0.5:
                x = x.flip(0)                                  # mirror the aperture
            crops.append(x / x.pow(2).mean().sqrt().clamp_min(1e-12))
        return torch.stack(crops)[:, None].to(device)

    def loss(mod, x, gen):
        xh, mask = mod(x, gen)
        # scale by the observed rows' RMS as run does (the mask differs per batch element)
        return ((xh - x) ** 2).mean()

    info = train_dps(model, sample, loss, iterations=config.iterations, lr=config.lr, logit_lr=config.logit_lr,
                     entropy=config.entropy, generator=g, max_seconds=config.max_seconds or None,
                     check_every=config.check_every, callbacks=callbacks)
    mask = model.mask().cpu()
    card = {
        "task": "us-subsample element sub-sampling (DPS mask + unrolled proximal-gradient recovery)",
        "mask": torch.nonzero(mask).ravel().tolist(),
        "rate": config.rate,
        "training": {"config": dataclasses.asdict(config), "seed": seed, "command": command,
                     "device": str(device), "threads": torch.get_num_threads(), "files": files,
                     "geometry": attrs, "elements": E, "samples": S,
                     "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
                     "history": info["history"], "iterations": info["iterations"],
                     "stop_reason": info["stop_reason"], "train_seconds": info["seconds"],
                     "wall_seconds": time.perf_counter() - t_start},
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    os.makedirs(output, exist_ok=True)
    save_model(model.cpu(), os.path.join(output, "model"), meta=card)
    return card
