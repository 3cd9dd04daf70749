"""Training the ``rim`` method (``sensekit train mri-recon``): simulated acquisitions of synthetic phantoms and
of image files, drawn at random, fed to :func:`sensekit.learned.fit`.

Every training problem is a short dynamic series (or a single image) with
random size, frames, coils, sampling pattern, acceleration, calibration lines,
noise and image phase.  Its coil maps are the true ones or, half of the time,
estimated from the undersampled data as ``run`` does (ESPIRiT when the centre is
fully sampled, else low-resolution maps); the target is then the image those
maps give from fully sampled data, Sᴴ(S_true x), so that the unavoidable phase
and support of estimated maps is not counted as an error.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import torch

from sensekit.app.base import option
from sensekit.io.errors import ConfigError, InputError
from sensekit.sim.masks import PATTERNS

from .model import forward_model, normal_bound


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    cell: str = option("indrnn", "recurrent cell of the RIM: indrnn, gru or mgu", choices=("indrnn", "gru", "mgu"))
    features: int = option(32, "channels of the RIM's convolutions and hidden states", min=1, max=512)
    steps: int = option(8, "RIM steps (unrolled iterations)", min=1, max=64)
    context: int = option(1, "neighbouring frames on each side given to the network as extra channels "
                             "(0 = frames reconstructed independently)", min=0, max=8)
    iterations: int = option(2400, "optimiser steps (one simulated series per step)", min=1)
    lr: float = option(1e-3, "Adam learning rate (start)", min=0.0)
    lr_min: float = option(5e-5, "learning rate at the end of the half-cosine schedule", min=0.0)
    loss: str = option("mse", "loss averaged over the RIM steps: mse or l1", choices=("mse", "l1"))
    clip: float = option(1.0, "clip the gradient norm to this (0 = no clipping)", min=0.0)
    size_min: int = option(48, "smallest simulated image side", min=16, max=512)
    size_max: int = option(96, "largest simulated image side (larger image files are cropped)", min=16, max=512)
    frames_min: int = option(1, "fewest frames per simulated series", min=1, max=64)
    frames_max: int = option(6, "most frames per simulated series", min=1, max=64)
    coils_min: int = option(4, "fewest simulated coils", min=1, max=64)
    coils_max: int = option(12, "most simulated coils", min=1, max=64)
    accel_min: float = option(2.0, "lowest acceleration drawn", min=1.0)
    accel_max: float = option(10.0, "highest acceleration drawn", min=1.0)
    patterns: str = option(",".join(PATTERNS), "sampling patterns drawn (comma-separated, from "
                                                + ", ".join(PATTERNS) + ")")
    noise_max: float = option(0.02, "largest complex noise std relative to the peak image magnitude", min=0.0)
    estimated_maps: float = option(0.5, "fraction of problems whose coil maps are estimated from the data "
                                        "(as run does) instead of the true ones", min=0.0, max=1.0)
    images: str = option("", "image files (comma-separated: MATLAB .mat image series X,Y[,T], BART .cfl images, "
                             "or sensekit HDF5 files with image_ref) whose frames are simulated acquisitions "
                             "in training besides the synthetic phantoms")
    image_fraction: float = option(0.5, "fraction of problems drawn from the image files (when given)",
                                   min=0.0, max=1.0)
    check_every: int = option(10, "record the mean loss every k steps", min=1)
    checkpoint_every: int = option(100, "write a resumable checkpoint (and score the validation set) every "
                                        "k steps (0 = never)", min=0)
    max_minutes: float = option(0.0, "stop after this many minutes of training (0 = no limit)", min=0.0)


def check_train_config(cfg: TrainConfig) -> list:
    """Cross-option checks; returns the list of sampling patterns."""
    pats = [p.strip() for p in cfg.patterns.split(",") if p.strip()]
    bad = [p for p in pats if p not in PATTERNS]
    if not pats or bad:
        raise ConfigError(f"option 'patterns' in --set: {cfg.patterns!r} must list patterns among "
                          f"{', '.join(PATTERNS)}")
    for lo, hi in (("size_min", "size_max"), ("frames_min", "frames_max"), ("coils_min", "coils_max"),
                   ("accel_min", "accel_max")):
        if getattr(cfg, lo) > getattr(cfg, hi):
            raise ConfigError(f"options '{lo}' ({getattr(cfg, lo)}) and '{hi}' ({getattr(cfg, hi)}): "
                              f"the minimum exceeds the maximum")
    return pats


# ------------------------------------------------------------------------------------------------- images
def load_image_series(path: str) -> np.ndarray:
    """Image frames (F, Y, X), complex128, each series scaled to peak magnitude 1.

    MATLAB files: the largest array, axes X, Y[, T]; BART ``.cfl``: the first
    map set; sensekit HDF5 files: ``image_ref`` (a leading sample axis N is
    folded into the frames — frames of different samples are never mixed in
    one training series only when N = 1).
    """
    from sensekit.io import detect_format
    from .convert import _reference

    if not os.path.exists(path):
        raise ConfigError(f"option 'images': {path}: file not found")
    fmt = detect_format(path)
    if fmt in ("cfl", "mat-v5", "mat-v7.3"):
        a = _reference(path)[:, 0]                      # (T, Y, X): first map set / only channel
    elif fmt == "hdf5":
        import h5py
        with h5py.File(path, "r") as f:
            if "image_ref" not in f:
                raise InputError(f"{path}: no dataset 'image_ref' to train on")
            a = f["image_ref"][()]
        a = a.reshape(-1, *a.shape[-2:])
    else:
        raise InputError(f"{path}: cannot read training images from a {fmt} file")
    a = np.asarray(a).astype(np.complex128)
    if a.ndim != 3 or min(a.shape[-2:]) < 16 or not np.all(np.isfinite(a)):
        raise InputError(f"{path}: training images must be finite frames of at least 16×16, got shape {a.shape}")
    peak = np.abs(a).max()
    if peak == 0:
        raise InputError(f"{path}: the images are all zero")
    return a / peak


@dataclasses.dataclass
class Problem:
    """One training problem: forward model E, data y, target image, Lipschitz bound of EᴴE."""

    E: torch.nn.Module
    y: torch.Tensor
    target: torch.Tensor
    lipschitz: float


class Sampler:
    """Draws random training problems (callable with a ``torch.Generator``)."""

    def __init__(self, cfg: TrainConfig, images: list | None = None, *, device="cpu"):
        self.cfg, self.patterns = cfg, check_train_config(cfg)
        self.images = [torch.from_numpy(a) for a in (images or [])]
        self.device = torch.device(device)

    # random helpers on the generator
    @staticmethod
    def _u(g, lo=0.0, hi=1.0) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))

    @staticmethod
    def _i(g, lo, hi) -> int:
        return int(torch.randint(lo, hi + 1, (), generator=g))

    def _phantom(self, g, n, T):
        from sensekit.sim import dynamic_phantom
        x = dynamic_phantom(n, T, cycles=self._u(g, 0.3, 2.0), phase=False, generator=g, dtype=torch.complex128)
        gamma = self._u(g, 0.6, 1.6)                       # contrast variation
        return (x.abs() ** gamma).to(torch.complex128)

    def _from_images(self, g, n, T):
        src = self.images[self._i(g, 0, len(self.images) - 1)]
        F, Y, X = src.shape
        t0 = self._i(g, 0, max(0, F - T))
        x = src[t0:t0 + min(T, F)]
        while min(x.shape[-2:]) > 2 * n:                   # large images: average-pool by 2
            x = torch.complex(torch.nn.functional.avg_pool2d(x.real[None], 2)[0],
                              torch.nn.functional.avg_pool2d(x.imag[None], 2)[0])
        Y, X = x.shape[-2:]
        cy, cx = min(Y, n), min(X, n)
        y0, x0 = self._i(g, 0, Y - cy), self._i(g, 0, X - cx)
        return x[:, y0:y0 + cy, x0:x0 + cx]

    def __call__(self, g: torch.Generator) -> Problem:
        from sensekit.core.random import randn
        from sensekit.linop import fftc
        from sensekit.sim import coil_maps, sampling_mask
        from .calib import espirit_maps, lowres_maps

        c = self.cfg
        n = self._i(g, c.size_min, c.size_max)
        T = self._i(g, c.frames_min, c.frames_max)
        if self.images and self._u(g) < c.image_fraction:
            x = self._from_images(g, n, T)
        else:
            x = self._phantom(g, n, T)
        # augment: flips, transposition, a smooth random phase for real-valued sources
        if self._u(g) < 0.5:
            x = x.flip(-1)
        if self._u(g) < 0.5:
            x = x.flip(-2)
        if self._u(g) < 0.5:
            x = x.transpose(-1, -2)
        x = x.contiguous()
        T, Y, X = x.shape
        if not bool((x.imag != 0).any()) and self._u(g) < 0.7:
            yy, xx = torch.meshgrid(torch.linspace(-1, 1, Y, dtype=torch.float64),
                                    torch.linspace(-1, 1, X, dtype=torch.float64), indexing="ij")
            a, b, q = (self._u(g, -1, 1) for _ in range(3))
            x = x * torch.exp(1j * math.pi * (0.5 * a * yy + 0.5 * b * xx + 0.5 * q * (xx ** 2 + yy ** 2)))
        x = x / x.abs().max().clamp_min(1e-12)
        C = self._i(g, c.coils_min, c.coils_max)
        maps = coil_maps(C, (Y, X), radius=self._u(g, 1.1, 2.0), falloff=self._u(g, 0.6, 1.6),
                         dtype=torch.complex128)
        if self._u(g) < 0.5:
            maps = maps.flip(-1)
        if self._u(g) < 0.5:
            maps = maps.flip(-2)
        maps = maps * torch.exp(1j * torch.tensor(self._u(g, -math.pi, math.pi)))
        pattern = self.patterns[self._i(g, 0, len(self.patterns) - 1)]
        accel = self._u(g, c.accel_min, c.accel_max)
        acs = self._i(g, 6, 16)
        if pattern == "vd-points":                     # the central block must fit the sample budget
            acs = min(acs, int(math.sqrt(0.5 * Y * X / accel)))
        mask = sampling_mask(pattern, T, (Y, X), accel, acs=acs, generator=g)
        k = fftc(x[:, None] * maps, dim=(-2, -1))
        k = k + self._u(g, 0.0, c.noise_max) * randn(k.shape, dtype=k.dtype, generator=g)
        k = (k * mask[:, None]).to(torch.complex64)
        target = x
        if self._u(g) < c.estimated_maps:
            try:
                est = espirit_maps(k, mask)
            except InputError:                             # no fully sampled centre (e.g. radial)
                est = lowres_maps(k, mask)
            # what the estimated maps give from fully sampled data: Sᴴ(S_true x) / Σ|S|²
            w = (est.abs() ** 2).sum(0).to(torch.float64)
            proj = (est.conj().to(torch.complex128)[None] * (maps[None] * x[:, None])).sum(1)
            target = torch.where(w > 1e-6, proj / w.clamp_min(1e-6), torch.zeros_like(proj))
            maps = est
        maps = maps.to(torch.complex64)
        dev = self.device
        E = forward_model(maps.to(dev), mask.to(dev), T)
        return Problem(E=E, y=k.to(dev), target=target.to(dev, torch.complex64), lipschitz=normal_bound(maps))


def rim_loss(kind: str):
    """``loss(model, problem)`` for :func:`sensekit.learned.fit`: the step-averaged loss of the RIM."""
    from sensekit.learned import step_loss

    def loss(model, p: Problem):
        return step_loss(model(p.E, p.y, lipschitz=p.lipschitz), p.target, kind=kind)
    return loss


def validation_psnr(model, problems) -> float:
    """Mean PSNR (dB, magnitudes, peak of the target) of the final RIM estimate over fixed problems."""
    from sensekit.metrics import psnr
    vals = []
    with torch.no_grad():
        for p in problems:
            x = model(p.E, p.y, lipschitz=p.lipschitz)[-1]
            ref = p.target.abs()
            vals.append(psnr(x.abs().cpu(), ref.cpu(), data_range=float(ref.max())))
    return float(np.mean(vals))


def train(cfg: TrainConfig, output: str, *, seed: int = 0, device="cpu", callbacks=(), resume: bool = False,
          command: str = "") -> dict:
    """Train a RIM for mri-recon and save it as ``output/model.pt`` + ``output/model.json``.

    Runs the common loop :func:`sensekit.learned.train_and_save` (checkpoint every ``checkpoint_every``
    steps in ``output/checkpoint``, ``--resume`` from it; validation PSNR on four fixed simulated
    problems at every checkpoint and at the end).  Returns the model card (the JSON document).
    """
    import time
    import sensekit
    from sensekit.core.random import make_generator
    from sensekit.learned import RIM, Validation, train_and_save
    from .convert import _sha256

    check_train_config(cfg)
    paths = [p.strip() for p in cfg.images.split(",") if p.strip()]
    images = [load_image_series(p) for p in paths]
    sampler = Sampler(cfg, images, device=device)
    val = [sampler(make_generator(10_000 + seed + i)) for i in range(4)]     # fixed, separate stream
    g = make_generator(seed)
    model = RIM(cell=cfg.cell, features=cfg.features, steps=cfg.steps, context=cfg.context,
                generator=make_generator(seed)).to(device)
    data = [{"file": os.path.basename(p), "sha256": _sha256(p), "frames": int(a.shape[0]),
             "shape": list(a.shape[1:])} for p, a in zip(paths, images)]
    meta = {"app": "mri-recon", "method": "rim", "train_config": dataclasses.asdict(cfg), "seed": seed,
            "training_images": data}
    t0, c0 = time.time(), time.process_time()

    def card(res):
        every = cfg.checkpoint_every
        return {**meta, "trained_by": command or "sensekit train mri-recon",
                "sensekit_version": sensekit.__version__,
                "torch_version": torch.__version__, "device": str(device), "iterations": res.iterations,
                "stop_reason": res.stop_reason, "train_seconds": round(time.time() - t0, 1),
                "train_cpu_seconds": round(time.process_time() - c0, 1), "threads": torch.get_num_threads(),
                "final_loss": res.history[-1]["loss"] if res.history else None,
                "val_psnr": res.validation,
                "val_history": [v for v in res.val_history if every and v["iter"] % every == 0],
                "parameters": sum(p.numel() for p in res.model.parameters()),
                "loss_history": [{"iter": h["iter"], "loss": h["loss"]}
                                 for h in res.history[:: max(1, len(res.history) // 50)]]}

    _, doc = train_and_save(model, sampler, rim_loss(cfg.loss), output=output, max_iter=cfg.iterations, card=card,
                            meta=meta, resume=resume, device=device, lr=cfg.lr, lr_schedule="cosine",
                            lr_min=cfg.lr_min, generator=g, clip=cfg.clip or None, check_every=cfg.check_every,
                            callbacks=callbacks, checkpoint_every=cfg.checkpoint_every,
                            validate=Validation(lambda m: validation_psnr(m, val), "val_psnr",
                                                every=cfg.checkpoint_every),
                            max_seconds=cfg.max_minutes * 60 if cfg.max_minutes > 0 else None)
    return doc
