"""The us-subsample app: learned (DPS) and fixed sub-sampling of plane-wave RF channel data, recovery, B-mode.

``run`` keeps a fraction ``rate`` of the elements (or fast-time samples) of every frame, recovers the
missing channel data — by the shipped (or given) DPS model for ``dps``, by FISTA with a Fourier or
wavelet prior for the fixed masks — and beamforms full and recovered data to B-mode (IQ demodulation,
plane-wave DAS with F-number apodisation, log compression).

With ``--set axis=frames`` the input is a slow-time ensemble (F = T plane-wave frames): ``run`` keeps a fraction
``rate`` of the frames (dps: the shipped slow-time model ``us_dps_frames_r025`` or ``--set model=DIR`` from
``sensekit train us-subsample --set axis=frames``), forms the power Doppler from them (:mod:`.doppler`:
polynomial clutter filter fitted to the kept frames; ``recovery=cs`` completes the clutter residual over slow
time by FISTA with a slow-time Fourier prior first) and writes ``power_doppler`` / ``power_doppler_full`` with
the metrics ``psnr_doppler`` / ``ssim_doppler``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.app.options import MethodOptions
from sensekit.io.errors import ConfigError, InputError
from sensekit.io.hdf5 import DatasetSpec

from . import methods as M
from .doppler import TrainConfig

METHODS = {
    "dps": "DPS-learned element mask + B-mode refinement CNN trained on the task (shipped model or --set model=DIR); "
           "recovered_rf is the zero-filled data of the kept elements; axis frames: the DPS slow-time mask + "
           "masked clutter filter (power Doppler)",
    "uniform": "every 1/rate-th element (or sample), recovered by FISTA (prior: fourier or wavelet)",
    "random": "a random subset (seeded), recovered by FISTA",
    "lowpass": "the central contiguous block (small aperture / low fast-time band), recovered by FISTA",
}


#: the ``axes`` label of the output ``mask`` for each sub-sampled axis (the letters of rf's layout F, E, S)
MASK_AXES = {"elements": "E", "frames": "F", "samples": "S"}


# ---- options: one frozen class per method (what it reads, its defaults, help and bounds) on top of the shared
# acquisition / imaging options; the flat Config that --set / --config / provenance use is built from them
# (same names, defaults and bounds as before)
@dataclasses.dataclass(frozen=True)
class Shared:
    axis: str = option("elements", "the sub-sampled axis: elements, samples (fast time) or frames (slow time: "
                                   "power Doppler of the ensemble; dps: elements or frames)",
                       choices=("elements", "frames", "samples"))
    rate: float = option(0.25, "kept fraction of the axis (dps: must equal the model's rate)", min=0.01, max=1.0)
    fnumber: float = option(1.0, "receive F-number of the DAS apodisation", min=0.1, max=20.0)
    dx: float = option(2e-4, "lateral pixel size (m)", min=1e-6)
    dz: float = option(1e-4, "axial pixel size (m)", min=1e-6)
    x_min: Optional[float] = option(None, "image left edge (m); unset = the aperture's left edge")
    x_max: Optional[float] = option(None, "image right edge (m); unset = the aperture's right edge")
    z_min: Optional[float] = option(None, "image top (m); unset = the first sampled depth + 1 mm")
    z_max: Optional[float] = option(None, "image bottom (m); unset = the last sampled depth − 1 mm")
    angle: float = option(0.0, "plane-wave steering angle (degrees) when rf has no angle_deg attribute")
    dynamic_range: float = option(60.0, "B-mode dynamic range (dB); also the data range of PSNR/SSIM", min=1.0)
    doppler_order: int = option(1, "axis frames: degree of the polynomial clutter filter (dps: the model's)",
                                min=0, max=8)
    doppler_range: float = option(40.0, "axis frames: power-Doppler dynamic range (dB), also the data range of "
                                        "psnr_doppler/ssim_doppler (dps: the model's)", min=1.0)


@dataclasses.dataclass(frozen=True)
class DPSOptions(Shared):
    model: str = option("", "trained model folder (from `sensekit train us-subsample`); empty = shipped")


@dataclasses.dataclass(frozen=True)
class FixedMaskOptions(Shared):
    recovery: str = option("cs", "cs (FISTA) or zero (zero-filled, no recovery; frames: "
                                 "the clutter filter fitted to the kept frames)",
                           choices=("cs", "zero"))
    prior: str = option("wavelet", "cs: sparsifying transform over elements x fast time: wavelet (2-D DWT) or "
                                   "fourier (2-D FFT, the f-k domain); axis frames: always the slow-time DFT of "
                                   "the clutter residual", choices=("wavelet", "fourier"))
    lam: float = option(0.1, "cs: l1 weight as a fraction of max|W M^T y|", min=0.0)
    max_iter: int = option(100, "cs: FISTA iterations", min=1)


#: The options of every method; ``OPTIONS.of(cfg)`` is the chosen one's (shared ones included).
OPTIONS = MethodOptions(option("dps", "sub-sampling mask and recovery", choices=tuple(METHODS)), Shared,
                        {m: (DPSOptions if m == "dps" else FixedMaskOptions, d) for m, d in METHODS.items()},
                        unused="ignore")

Config = OPTIONS.flat_config("Config", __name__, doc="Options of us-subsample (flat: what --set fills; each "
                                                     "method's own are DPSOptions and FixedMaskOptions).")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    frames: int = option(4, "frames F (independent speckle phantoms unless rotate > 0)", min=1, max=256)
    elements: int = option(128, "array elements E", min=8, max=1024)
    samples: int = option(334, "fast-time samples S", min=16, max=8192)
    scatterers: int = option(10000, "point scatterers per phantom", min=1)
    inclusions: int = option(3, "disc inclusions (cyst / hypo / hyper-echoic) per phantom", min=0)
    rotate: float = option(0.0, "if > 0: one phantom rotating by this angle (degrees) per frame about the image "
                                "centre (a slow-time ensemble)", min=0.0)
    noise: float = option(0.0, "white noise std relative to the RF RMS", min=0.0)


class USSubsample(App):
    """Learned task-driven sub-sampling and recovery of plane-wave ultrasound channel data (DPS)."""

    name = "us-subsample"
    summary = "learned (DPS) and fixed sub-sampling of ultrasound RF channel data, recovery and B-mode"
    Config = Config
    SimConfig = SimConfig
    TrainConfig = TrainConfig
    methods = METHODS
    quick_sim = {"frames": 2, "samples": 96, "scatterers": 1500}
    quick_options = {"max_iter": 10, "dx": 4e-4, "dz": 2e-4}
    inputs = (
        DatasetSpec("rf", ("F,E,S",), ("float", "int"), True,
                    "RF channel data: frames/transmits, elements, fast-time samples; attrs fs_hz, fc_hz, pitch_m, "
                    "c_mps, optional t0_s and angle_deg"),
        DatasetSpec("image_ref", ("F,Z,X",), ("float",), False, "reference B-mode (dB) on the run's image grid"),
    )
    outputs = (
        DatasetSpec("mask", ("E",), ("bool",), True, "kept entries of the sub-sampled axis: axes E (elements), "
                    "F (axis frames) or S (axis samples), labelled per run"),
        DatasetSpec("recovered_rf", ("F,E,S",), ("float",), True, "recovered channel data (float32)"),
        DatasetSpec("image", ("F,Z,X",), ("float",), True, "B-mode (dB) of the recovered data"),
        DatasetSpec("image_full", ("F,Z,X",), ("float",), True, "B-mode (dB) of the fully sampled input"),
        DatasetSpec("power_doppler", ("Z,X",), ("float",), False,
                    "axis frames: power Doppler (dB) of the sub-sampled ensemble"),
        DatasetSpec("power_doppler_full", ("Z,X",), ("float",), False,
                    "axis frames: power Doppler (dB) of the full ensemble (the reference)"),
    )

    # ------------------------------------------------------------------ data
    def simulate(self, sim, generator):
        from sensekit.sim.ultrasound import REAL_DISK_PROBE, ProbeGeometry, simulate_rf, speckle_phantom
        probe = dataclasses.replace(REAL_DISK_PROBE, n_elements=sim.elements, n_samples=sim.samples)
        assert isinstance(probe, ProbeGeometry)
        frames = []
        base = None
        for f in range(sim.frames):
            if sim.rotate > 0:
                if base is None:
                    base = speckle_phantom(probe, n_scatterers=sim.scatterers, n_inclusions=sim.inclusions,
                                           generator=generator)
                x, z, a = base
                zc = float(z.mean())
                th = math.radians(sim.rotate * f)
                r2 = x * x + (z - zc) ** 2
                disk = r2 <= (0.25 * float(x.abs().max())) ** 2
                xr = torch.where(disk, x * math.cos(th) - (z - zc) * math.sin(th), x)
                zr = torch.where(disk, zc + x * math.sin(th) + (z - zc) * math.cos(th), z)
                rf = simulate_rf(probe, xr, zr, a)
            else:
                x, z, a = speckle_phantom(probe, n_scatterers=sim.scatterers, n_inclusions=sim.inclusions,
                                          generator=generator)
                rf = simulate_rf(probe, x, z, a)
            if sim.noise > 0:
                rf = rf + sim.noise * rf.pow(2).mean().sqrt() * torch.randn(rf.shape, generator=generator,
                                                                           dtype=rf.dtype)
            frames.append(rf)
        rf = torch.stack(frames).to(torch.float32).numpy()
        return {"rf": rf}, {"rf": {**probe.attrs(), "angle_deg": 0.0}}

    def prepare(self, arrays, attrs, layouts):
        rf = np.asarray(arrays["rf"])
        if rf.ndim != 3:
            raise InputError(f"dataset 'rf' has shape {rf.shape}, expected (F, E, S)")
        F, E, S = rf.shape
        if E < 2 or S < 8:
            raise InputError(f"dataset 'rf' has {E} elements and {S} samples; need at least 2 and 8")
        a = attrs.get("rf", {})
        missing = [k for k in ("fs_hz", "fc_hz", "pitch_m", "c_mps") if k not in a]
        if missing:
            raise InputError(f"dataset 'rf' lacks attribute(s) {', '.join(missing)}")
        geo = {}
        for k in ("fs_hz", "fc_hz", "pitch_m", "c_mps", "t0_s", "angle_deg"):
            if k in a:
                try:
                    v = float(np.asarray(a[k]).reshape(-1)[0])
                except (TypeError, ValueError, IndexError):
                    raise InputError(f"dataset 'rf': attribute {k} is not a number") from None
                if not math.isfinite(v) or (k in ("fs_hz", "fc_hz", "pitch_m", "c_mps") and v <= 0):
                    raise InputError(f"dataset 'rf': attribute {k} = {v} must be a positive finite number")
                geo[k] = v
        rf32 = rf.astype(np.float32)
        if not np.all(np.isfinite(rf32)):
            raise InputError("dataset 'rf' contains NaN or Inf values")
        if not np.any(rf32 != 0):
            raise InputError("dataset 'rf' is all zero")
        out = {"rf": torch.from_numpy(rf32), "geometry": geo}
        if "image_ref" in arrays:
            out["image_ref"] = torch.from_numpy(np.asarray(arrays["image_ref"], dtype=np.float32))
        return out

    def mat_kind(self, listing):
        """PyMUST/Verasonics RF data: a 3-D ``RF`` beside a ``param`` struct (see readers.py)."""
        if "RF" in listing and len(listing["RF"][0]) == 3 and listing.get("param", ((), ""))[1] == "struct":
            return f"ultrasound RF data (RF {listing['RF'][0]} with a param struct)"
        return None

    def open_input(self, path):
        """A PyMUST/Verasonics .mat file (RF (S, E, F) + param struct) is read directly."""
        if not str(path).lower().endswith(".mat"):
            return None
        from sensekit.io.source import ArraySource
        from .readers import read_mat
        import os
        if not os.path.isfile(path):
            raise InputError(f"{path}: file not found")
        rf, attrs = read_mat(path)
        return ArraySource([{"rf": rf}], {"rf": "F,E,S"}, has_n=False, path=str(path), label=os.path.abspath(path),
                           attrs={"rf": attrs})

    def train(self, config, output, *, seed=0, device="cpu", callbacks=(), resume=False, command=""):
        if config.axis == "frames":
            from .doppler import train_frames
            return train_frames(config, output, seed=seed, device=device, callbacks=callbacks, resume=resume,
                                command=command)
        from .training import train
        return train(config, output, seed=seed, device=device, callbacks=callbacks, resume=resume, command=command)

    # ------------------------------------------------------------------ work
    def imager(self, geo, E, S, config, device=None):
        def pick(v, d):
            return d if v is None else v
        pitch, c, fs = geo["pitch_m"], geo["c_mps"], geo["fs_hz"]
        t0 = geo.get("t0_s", 0.0)
        half = (E - 1) / 2 * pitch
        xr = (pick(config.x_min, -half), pick(config.x_max, half))
        zr = (pick(config.z_min, max(c * t0 / 2, 0.0) + 1e-3), pick(config.z_max, c * (t0 + (S - 1) / fs) / 2 - 1e-3))
        angle = math.radians(geo.get("angle_deg", config.angle))
        return M.Imager.from_attrs(geo, E, S, fnumber=config.fnumber, dx=config.dx, dz=config.dz, x_range=xr,
                                   z_range=zr, dynamic_range=config.dynamic_range, angle=angle, device=device)

    def run(self, inputs, config, *, generator, callbacks=()):
        rf = inputs["rf"]
        F, E, S = rf.shape
        geo = inputs["geometry"]
        if config.axis == "frames":
            from .doppler import run_frames
            return run_frames(self, inputs, config, generator=generator, callbacks=callbacks)
        if config.method == "dps" and config.axis != "elements":
            raise ConfigError("option 'axis': method dps sub-samples elements or frames, not samples")
        iters, info = 0, {}
        if config.method == "dps":
            model, card = M.load_dps(config.model, device=rf.device)
            if not hasattr(model, "refine_image"):
                raise ConfigError(f"option 'model': {config.model} is a {type(model).__name__} (a slow-time model); "
                                  "use it with --set axis=frames")
            if model.config["n"] != E:
                raise ConfigError(f"option 'model': the model was trained for {model.config['n']} elements, "
                                  f"the input has {E}")
            if card.get("rate") is not None and abs(float(card["rate"]) - config.rate) > 1e-9:
                raise ConfigError(f"option 'rate': the dps model keeps a fraction {card['rate']} of the elements, "
                                  f"not {config.rate}; train one with `sensekit train us-subsample --set rate=...`")
            # the CNN works at the pixel size, F-number and dynamic range it was trained with
            config = dataclasses.replace(config, dx=card["dx"], dz=card["dz"], fnumber=card["fnumber"],
                                         dynamic_range=card["dynamic_range"])
            im = self.imager(geo, E, S, config, device=rf.device)
            mask = model.mask().to(rf.device)
            image, rec = M.dps_image(model, im, rf)
            info["model_rate"] = card.get("rate")
            info["grid_from_model"] = {"dx": card["dx"], "dz": card["dz"], "fnumber": card["fnumber"],
                                       "dynamic_range": card["dynamic_range"]}
        else:
            n = E if config.axis == "elements" else S
            m = M.n_keep(n, config.rate)
            mask = {"uniform": lambda: M.uniform_mask(n, m), "lowpass": lambda: M.lowpass_mask(n, m),
                    "random": lambda: M.random_mask(n, m, generator)}[config.method]().to(rf.device)
            full2d = mask[:, None].expand(E, S) if config.axis == "elements" else mask[None, :].expand(E, S)
            o = OPTIONS.of(config)      # the method's own options
            if o.recovery == "zero":
                rec = rf * full2d[None]
            else:
                rec, iters = M.cs_recover(rf, full2d, prior=o.prior, lam=o.lam, iterations=o.max_iter)
            im = self.imager(geo, E, S, config, device=rf.device)
            image = im.bmode(rec)
        for cb in callbacks:
            cb({"iter": max(iters, 1), "stage": "recovered"}, None)
        image_full = im.bmode(rf)
        return RunOutput(outputs={"mask": mask.cpu().numpy().astype(bool), "recovered_rf": rec.to(torch.float32),
                                  "image": image.to(torch.float32), "image_full": image_full.to(torch.float32)},
                         iterations=iters, info={"stop_reason": "done", **info}, axes={"mask": MASK_AXES[config.axis]})

    def score(self, outputs, inputs):
        img = outputs["image"]
        img = img if torch.is_tensor(img) else torch.as_tensor(np.asarray(img))
        ref = inputs.get("image_ref")
        if ref is None:
            ref = outputs["image_full"]
        ref = torch.as_tensor(np.asarray(ref)) if not torch.is_tensor(ref) else ref
        if tuple(ref.shape) != tuple(img.shape):
            raise InputError(f"dataset 'image_ref' has shape {tuple(ref.shape)}, the image grid is {tuple(img.shape)}")
        dr = float(-min(float(ref.min()), -1.0))
        if "power_doppler" in outputs:          # axis frames: the B-mode scores of the frames not kept
            missing = torch.as_tensor(~np.asarray(outputs["mask"]).astype(bool))
            if bool(missing.any()):
                img, ref = img[missing], ref[missing]
        s = M.bmode_scores(img.cpu(), ref.cpu(), dr)
        rec, rf = outputs["recovered_rf"], inputs["rf"]
        rec = rec if torch.is_tensor(rec) else torch.as_tensor(np.asarray(rec))
        s["nrmse_rf"] = float((rec.double().cpu() - rf.double().cpu()).norm() / rf.double().cpu().norm())
        if "power_doppler" in outputs:
            from .doppler import doppler_scores
            pd, full = (torch.as_tensor(np.asarray(outputs[k])) for k in ("power_doppler", "power_doppler_full"))
            s.update(doppler_scores(pd, full, float(-min(float(full.min()), -1.0))))
        return s

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import bmode_figure
        bmode_figure(self, inputs, outputs, path, config, fmt=fmt)
