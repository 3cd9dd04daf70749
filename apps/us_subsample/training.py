"""``sensekit train us-subsample``: DPS element mask + B-mode recovery network, trained jointly on the task.

Training frames: the frames of the given RF files (``rf``, ``frames``) and ``phantoms`` synthetic
speckle phantoms simulated at the first file's geometry (:mod:`sensekit.sim.ultrasound`).  Every step
draws ``batch`` frames, a DPS mask per frame (Gumbel top-k, straight-through), beamforms the kept
elements (DAS, linear in the element weights) and refines the sub-aperture B-mode with the CNN; the
loss is the MSE against the full-aperture B-mode (dB / dynamic range), the DPS task loss.  Training goes
through the common loop :func:`sensekit.learned.train.train_and_save` (seeded, resumable from
``output/checkpoint``, time budget, progress); its validation metric ``val_bmode_psnr`` is the PSNR of the
refined B-mode of the deployed top-M mask on ``VAL_PHANTOMS`` (1) phantom of its own seed.

The refinement CNN is not an unrolled solver (the B-mode is not linear in anything the net could take a
data-consistency step on); the unrolled recovery net of the channel-data variant (``SubsampleNet``) is
:class:`sensekit.learned.sampling.UnrolledProxGrad`, built on :class:`sensekit.learned.unrolled.Unrolled`.

Why the image domain: recovering the missing elements' RF first (``SubsampleNet``, an unrolled
proximal-gradient net on channel data trained on RF MSE) did not learn on this data (see HANDOFF.md):
under plane-wave insonification the echo of diffuse speckle is spatially incoherent beyond ≈ λz/W
(van Cittert–Zernike; ≈ 0.2 mm here, less than the 0.298 mm pitch), so missing channels are not
predictable from their neighbours, while the B-mode they form is.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import time

import numpy as np
import torch

from sensekit.app.base import option
from sensekit.io.errors import ConfigError


#: synthetic speckle phantoms (own seed) on which the validation metric is scored
VAL_PHANTOMS = 1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    rate: float = option(0.25, "kept fraction of the elements", min=0.01, max=1.0)
    rf: str = option("", "RF files (comma-separated; contract HDF5 with 'rf', or PyMUST .mat with RF/param) "
                         "whose frames join training; empty = synthetic phantoms only")
    frames: str = option("", "frames of the RF files used in training, e.g. 0-15 (empty = all)")
    phantoms: int = option(8, "number of simulated speckle phantoms (simulated once at the start; 0 = none)",
                           min=0)
    iterations: int = option(300, "optimiser steps", min=1)
    batch: int = option(2, "frames per step", min=1)
    features: int = option(12, "channels of the refinement CNN", min=1, max=256)
    layers: int = option(3, "conv layers of the refinement CNN", min=2, max=12)
    kernel: int = option(3, "conv kernel side", min=1, max=15)
    lr: float = option(2e-3, "Adam learning rate of the network", min=0.0)
    logit_lr: float = option(5e-2, "Adam learning rate of the DPS logits (DPS uses a larger one)", min=0.0)
    tau: float = option(2.0, "Gumbel-softmax temperature (constant; 2 in the DPS configs)", min=1e-3)
    entropy: float = option(1e-3, "weight of the entropy penalty on softmax(logits)", min=0.0)
    learn_mask: bool = option(True, "learn the mask (DPS); False = train the network on a fixed mask")
    fixed_mask: str = option("random", "mask when learn_mask is False: random, uniform or lowpass",
                             choices=("random", "uniform", "lowpass"))
    fnumber: float = option(1.0, "receive F-number of the DAS", min=0.1)
    dx: float = option(2e-4, "lateral pixel size (m) of the training images (run uses the model's)", min=1e-6)
    dz: float = option(1e-4, "axial pixel size (m) of the training images (run uses the model's)", min=1e-6)
    x_half: float = option(1.25e-2, "training images span x in [-x_half, x_half] (m)", min=1e-4)
    z_min: float = option(1e-2, "training images start at this depth (m)", min=0.0)
    z_max: float = option(3.5e-2, "training images end at this depth (m)", min=1e-4)
    dynamic_range: float = option(60.0, "B-mode dynamic range (dB)", min=1.0)
    ssim_weight: float = option(0.05, "weight of (1 − SSIM) of the normalised B-mode added to its MSE", min=0.0)
    max_seconds: float = option(0.0, "stop after this wall time in seconds (0 = no limit)", min=0.0)
    check_every: int = option(10, "report the mean loss every k steps", min=1)


def _sim_bank(attrs: dict, E: int, S: int, n: int, generator: torch.Generator) -> list:
    from sensekit.sim.ultrasound import ProbeGeometry, simulate_rf, speckle_phantom
    probe = ProbeGeometry(n_elements=E, pitch=attrs["pitch_m"], fs=attrs["fs_hz"], fc=attrs["fc_hz"],
                          c=attrs["c_mps"], t0=attrs.get("t0_s", 0.0), n_samples=S)
    out = []
    for _ in range(n):
        x, z, a = speckle_phantom(probe, generator=generator)
        out.append(simulate_rf(probe, x, z, a).to(torch.float32))
    return out


def _ssim(x: torch.Tensor, y: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Differentiable SSIM (Gaussian window, data range 1) of (B, Z, X) images, mean over the valid region."""
    r = int(3.5 * sigma + 0.5)
    k = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    w = torch.exp(-0.5 * (k / sigma) ** 2)
    w = w / w.sum()

    def filt(a):
        a = torch.nn.functional.conv2d(a[:, None], w.view(1, 1, -1, 1))
        return torch.nn.functional.conv2d(a, w.view(1, 1, 1, -1))[:, 0]

    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx * mx, filt(y * y) - my * my, filt(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))).mean()


def training_record(res, *, config, seed: int, command: str, device, t_start: float, **fields) -> dict:
    """The ``training`` part of a us-subsample model card (both axes): options, seed, command, environment,
    the app's ``fields`` (data), history, iterations, stop reason and times of the :class:`TrainResult` ``res``."""
    return {"config": dataclasses.asdict(config), "seed": seed, "command": command, "device": str(device),
            "threads": torch.get_num_threads(), **fields,
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "history": res.history, "iterations": res.iterations,
            "stop_reason": "iterations" if res.stop_reason == "max_iter" else res.stop_reason,
            "train_seconds": res.seconds, "wall_seconds": time.perf_counter() - t_start}


def card_tail(model: torch.nn.Module, res) -> dict:
    """The last entries of a us-subsample model card: parameter count, method, iterations, time, final loss."""
    return {"parameters": int(sum(p.numel() for p in model.parameters())), "method": "dps",
            "iterations": res.iterations, "train_seconds": round(res.seconds, 1),
            "final_loss": res.history[-1]["loss"] if res.history else float("nan")}


def train(config: TrainConfig, output: str, *, seed: int = 0, device="cpu", callbacks=(), resume: bool = False,
          command: str = "") -> dict:
    from sensekit.learned.sampling import BModeDPS, dps_entropy_penalty, dps_param_groups
    from sensekit.learned.train import Validation, train_and_save
    from sensekit.sim.ultrasound import REAL_DISK_PROBE
    from .methods import Imager, lowpass_mask, n_keep, random_mask, uniform_mask
    from .readers import parse_frames, read_rf

    if config.z_max <= config.z_min:
        raise ConfigError("options 'z_min'/'z_max': empty depth range")
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    frames, files = [], []
    attrs = REAL_DISK_PROBE.attrs()
    E, S = REAL_DISK_PROBE.n_elements, REAL_DISK_PROBE.n_samples
    for i, p in enumerate([s.strip() for s in config.rf.split(",") if s.strip()]):
        rf, at = read_rf(p)
        if i == 0:
            attrs, E, S = at, rf.shape[1], rf.shape[2]
        elif rf.shape[1:] != (E, S):
            raise ConfigError(f"option 'rf': {p} has (E, S) = {rf.shape[1:]}, the first file {(E, S)}")
        sel = parse_frames(config.frames, rf.shape[0])
        frames += [torch.from_numpy(rf[j]) for j in sel]
        with open(p, "rb") as fh:
            files.append({"path": os.path.abspath(p), "sha256": hashlib.sha256(fh.read()).hexdigest(),
                          "frames": sel})
    frames += _sim_bank(attrs, E, S, config.phantoms, g)
    if not frames:
        raise ConfigError("nothing to train on: give rf files or phantoms > 0")
    im = Imager.from_attrs(attrs, E, S, fnumber=config.fnumber, dx=config.dx, dz=config.dz,
                           x_range=(-config.x_half, config.x_half), z_range=(config.z_min, config.z_max),
                           dynamic_range=config.dynamic_range, device=device)
    from sensekit.linop.ultrasound import rf2iq
    iqs = [rf2iq(f.to(device), im.fs, im.fc, t0=im.t0) for f in frames]
    m = n_keep(E, config.rate)
    fixed = None
    if not config.learn_mask:
        fm = {"random": lambda: random_mask(E, m, torch.Generator().manual_seed(seed)),
              "uniform": lambda: uniform_mask(E, m), "lowpass": lambda: lowpass_mask(E, m)}[config.fixed_mask]()
        fixed = torch.nonzero(fm).ravel().tolist()
    model = BModeDPS(n=E, m=m, tau=config.tau, features=config.features, layers=config.layers,
                     kernel=config.kernel, dynamic_range=config.dynamic_range, learn_mask=config.learn_mask,
                     fixed=fixed).to(device)
    with torch.no_grad():
        targets = [model.normalised_bmode(im.plan(q)[None])[0] for q in iqs]
    shape = im.plan.shape

    def sample(gen):
        idx = torch.randint(len(iqs), (config.batch,), generator=gen).tolist()
        with torch.no_grad():
            D = torch.stack([im.plan(iqs[i], per_element=True) for i in idx])
        return D, torch.stack([targets[i] for i in idx])

    def loss(mod, batch, gen):
        D, target = batch
        est, _ = mod(D, shape, gen)
        value = ((est - target) ** 2).mean()
        if config.ssim_weight > 0:
            value = value + config.ssim_weight * (1.0 - _ssim(est, target))
        return value

    # validation: B-mode PSNR (dB) of the deployed (top-M) mask + CNN on phantoms never trained on
    gv = torch.Generator().manual_seed(seed + 10_000)
    val_iqs = [rf2iq(f.to(device), im.fs, im.fc, t0=im.t0) for f in _sim_bank(attrs, E, S, VAL_PHANTOMS, gv)]
    with torch.no_grad():
        val_D = torch.stack([im.plan(q, per_element=True) for q in val_iqs])
        val_target = torch.stack([model.normalised_bmode(im.plan(q)[None])[0] for q in val_iqs])

    def val_psnr(mod):
        est, _ = mod(val_D, shape)
        return float(10 * torch.log10(1.0 / ((est.clamp(0, 1) - val_target) ** 2).mean().clamp_min(1e-20)))

    def card(res):
        training = training_record(res, config=config, seed=seed, command=command, device=device, t_start=t_start,
                                   files=files, n_frames=len(frames), geometry=attrs, elements=E, samples=S)
        training["validation"] = (f"{VAL_PHANTOMS} speckle phantom(s) of seed {seed + 10_000} (never trained on): "
                                  "PSNR (dB) of the refined B-mode of the top-M mask, data range 1 (= the dynamic "
                                  "range)")
        return {
            "task": "us-subsample: DPS receive-element mask + B-mode refinement CNN, trained on the B-mode MSE",
            "mask": torch.nonzero(model.mask().cpu()).ravel().tolist(),
            "rate": config.rate, "dx": config.dx, "dz": config.dz, "fnumber": config.fnumber,
            "dynamic_range": config.dynamic_range, "training": training, **card_tail(model, res),
        }

    res, doc = train_and_save(
        model, sample, lambda mod, batch: loss(mod, batch, g), output=output, max_iter=config.iterations, card=card,
        meta={"app": "us-subsample", "training": dataclasses.asdict(config), "seed": seed}, resume=resume,
        device=device, generator=g, lr=config.lr, param_groups=dps_param_groups(config.lr, config.logit_lr),
        penalty=dps_entropy_penalty(config.entropy), max_seconds=config.max_seconds or None,
        check_every=config.check_every, checkpoint_every=config.check_every, callbacks=callbacks,
        validate=Validation(val_psnr, "val_bmode_psnr"))
    return doc
