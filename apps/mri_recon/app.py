"""The mri-recon app: configuration, datasets, simulation, run, scores and figure."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.io.errors import InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.metrics import image_series_scores
from sensekit.sim.masks import PATTERNS

from . import calib, methods, noncart
from .checks import maps_and_reference
from .convert import ConvertConfig
from .options import OPTIONS
from .training import TrainConfig
from .model import forward_model, zero_unobserved


#: The flat options of ``--set`` / ``--config``: the method, the shared coil-map options and every method's options
#: (built from the per-method classes in options.py; an option of several methods defaults to None = the chosen
#: method's default when their defaults differ).  ``OPTIONS.of(cfg)`` is the chosen method's own options object.
Config = OPTIONS.flat_config("Config", __name__, doc="Options of mri-recon (flat: what --set fills; see options.py "
                                                     "for the per-method classes)")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    size: int = option(128, "image size (Y = X)", min=16, max=1024)
    frames: int = option(20, "number of frames T", min=1, max=512)
    coils: int = option(8, "number of receive coils C", min=1, max=64)
    accel: float = option(6.0, "acceleration (fully sampled lines / sampled lines per frame)", min=1.0)
    acs: int = option(8, "fully sampled central phase-encode lines in every frame", min=0)
    noise: float = option(0.01, "complex Gaussian noise std relative to the peak image magnitude", min=0.0)
    cycles: float = option(1.0, "heart beats over the series", min=0.0)
    pattern: str = option("vd-lines", "sampling pattern: " + "; ".join(f"{k}: {v}" for k, v in PATTERNS.items())
                          + "".join(f"; {k}: {v}" for k, v in noncart.SIM_PATTERNS.items()),
                          choices=tuple(PATTERNS) + tuple(noncart.SIM_PATTERNS))


class MRIRecon(App):
    """Dynamic (and static) MRI reconstruction from undersampled Cartesian multi-coil k-space.

    Model: k-space = M · F · S · x + noise with per-frame sampling masks M, the
    centred orthonormal 2-D FFT F and coil sensitivities S (supplied, or
    estimated from the time-averaged centre of k-space).
    """

    name = "mri-recon"
    summary = "dynamic (and static) MRI reconstruction from undersampled Cartesian multi-coil k-space"
    Config = Config
    SimConfig = SimConfig
    methods = {k: v[1] for k, v in methods.METHODS.items()}
    # a small input and short runs for batch / device tests, benchmarks' and the gallery's quick modes
    quick_sim = {"size": 32, "frames": 4, "coils": 2, "accel": 3.0}  # 10 lines: room for 8 ACS lines (ESPIRiT)
    quick_options = {"max_iter": 20}
    inputs = (
        DatasetSpec("kspace", ("T,C,Y,X", "T,C,S", "C,S"), ("complex",), True,
                    "centred k-space (DC at index n//2, orthonormal FFT), zero where not sampled; or, with "
                    "traj, S non-Cartesian samples per frame (attribute image_shape = (Y, X))"),
        DatasetSpec("traj", ("T,S,2", "S,2"), ("float",), False,
                    "non-Cartesian: (ky, kx) of every sample in cycles per field of view (grid units, within "
                    "[-Y/2, Y/2] x [-X/2, X/2]); per frame or shared"),
        DatasetSpec("dcf", ("T,S", "S"), ("float",), False,
                    "non-Cartesian: density compensation weights; default: Pipe-Menon's iteration"),
        DatasetSpec("mask", ("T,Y,X", "T,Y,1", "Y,X"), ("bool", "int", "float"), False,
                    "1 where sampled; default: the non-zero entries of kspace"),
        DatasetSpec("sens_maps", ("C,Y,X",), ("complex",), False,
                    "coil sensitivities; estimated from the data when absent"),
        DatasetSpec("image_ref", ("T,Y,X",), ("complex", "float"), False, "reference images for metrics"),
        DatasetSpec("reference_recon", ("T,S,Y,X",), ("complex", "float"), False,
                    "a reconstruction shipped with the data (e.g. BART's; S = map sets; `convert --set "
                    "reference=...`): shown beside ours by --plot, never scored (not ground truth)"),
    )
    outputs = (DatasetSpec("recon", ("T,Y,X",), ("complex",), True, "reconstructed image series (complex64)"),
               DatasetSpec("sens_maps_estimated", ("C,Y,X",), ("complex",), False,
                           "coil sensitivities estimated from the data (complex64; only when the input has no "
                           "sens_maps; coil_method and calib say how)"))

    # ------------------------------------------------------------------ data
    def simulate(self, sim: SimConfig, generator):
        if sim.pattern in noncart.SIM_PATTERNS:
            return noncart.simulate(sim, generator)
        from sensekit.sim import coil_maps, dynamic_phantom, sampling_mask
        from sensekit.linop import fftc

        img = dynamic_phantom(sim.size, sim.frames, cycles=sim.cycles, generator=generator)
        maps = coil_maps(sim.coils, (sim.size, sim.size))
        mask = sampling_mask(sim.pattern, sim.frames, (sim.size, sim.size), sim.accel, acs=sim.acs,
                             generator=generator)
        k = fftc(img[:, None] * maps[None], dim=(-2, -1))
        if sim.noise > 0:
            from sensekit.core.random import randn
            k = k + sim.noise * float(img.abs().max()) * randn(k.shape, dtype=k.dtype, generator=generator)
        k = k * mask[:, None]
        arrays = {
            "kspace": k.numpy().astype(np.complex64),
            "mask": mask.numpy(),
            "image_ref": img.numpy().astype(np.complex64),
        }
        return arrays, {}

    def prepare(self, arrays, attrs, layouts):
        if noncart.is_noncartesian(arrays):
            return noncart.prepare(arrays, attrs)
        k = np.asarray(arrays["kspace"])
        if k.ndim != 4:
            raise InputError(f"dataset 'kspace' has shape {k.shape}, expected (T, C, Y, X)"
                             + (" (or a 'traj' dataset for non-Cartesian samples)" if k.ndim < 4 else ""))
        T, C, Y, X = k.shape
        kspace = torch.from_numpy(k.astype(np.complex64 if k.dtype != np.complex128 else np.complex128))
        if "mask" in arrays:
            m = np.asarray(arrays["mask"])
            if m.dtype.kind in "fiu" and not np.all((m == 0) | (m == 1)):
                raise InputError("dataset 'mask' must hold only 0 and 1 values")
            m = m != 0
            lay = "".join(layouts.get("mask", []))
            if m.ndim == 2:      # (Y, X) shared by all frames
                m = np.broadcast_to(m[None], (T, Y, X))
            elif lay == "TY1":
                m = np.broadcast_to(m, (T, Y, X))
            if m.shape != (T, Y, X):
                raise InputError(f"dataset 'mask' has shape {np.asarray(arrays['mask']).shape}, "
                                 f"expected (T, Y, X) = {(T, Y, X)}, (T, Y, 1) or (Y, X)")
            mask = torch.from_numpy(np.array(m, dtype=bool))
        else:
            mask = torch.from_numpy(np.any(k != 0, axis=1))
        if not bool(mask.any()):
            raise InputError("no sampled k-space locations (mask is all zero)")
        out = {"kspace": kspace * mask[:, None], "mask": mask}
        maps_and_reference(arrays, out, C, T, Y, X)
        if "reference_recon" in arrays:
            r = np.asarray(arrays["reference_recon"])
            if r.ndim != 4 or r.shape[0] not in (1, T) or r.shape[-2:] != (Y, X):
                raise InputError(f"dataset 'reference_recon' has shape {r.shape}, expected (T, S, Y, X) with "
                                 f"T = {T} (or 1) and (Y, X) = {(Y, X)}")
            out["reference_recon"] = torch.from_numpy(r)
        return out

    def open_input(self, path):
        """fastMRI-layout and ISMRMRD files read directly (slices become samples N); None for contract files."""
        from .readers import open_input
        return open_input(self, path)

    ConvertConfig = ConvertConfig
    TrainConfig = TrainConfig

    def mat_kind(self, listing):
        """MATLAB variables that mark this app's data (``convert`` refuses other apps' files by them)."""
        from .convert import mat_kind
        return mat_kind(listing)

    def convert(self, src, fmt, config, generator):
        from .convert import convert
        return convert(src, fmt, config, generator)

    def train(self, config, output, *, seed=0, device="cpu", callbacks=(), resume=False, command=""):
        """Train the ``rim`` method's model into the folder ``output`` (see training.py)."""
        from .training import train
        return train(config, output, seed=seed, device=device, callbacks=callbacks, resume=resume,
                     command=command)

    # ------------------------------------------------------------------ work
    def expected_iterations(self, cfg) -> int:
        """The iteration bound of the configured method (for progress bars; rim: its model's steps)."""
        method = methods.resolve(cfg.method, 2)   # auto: the dynamic default's (the static one resizes the bar)
        o = OPTIONS.of(cfg, method)
        if method == "rim":
            from .rim import load_rim
            return int(load_rim(o.rim_model, torch.device("cpu")).steps)
        return int(getattr(o, "max_iter", 1))     # zero-filled: one step

    def maps_for(self, inputs, cfg, outputs=None):
        """The coil maps of a run: the input's, else those the run saved in ``outputs``, else estimated now."""
        if "sens_maps" in inputs:
            return inputs["sens_maps"].to(torch.complex64)
        if outputs is not None and "sens_maps_estimated" in outputs:
            return torch.as_tensor(outputs["sens_maps_estimated"]).to(torch.complex64)
        if noncart.is_noncartesian(inputs):
            return noncart.estimate_maps(inputs, cfg)
        k = inputs["kspace"].to(torch.complex64)
        if cfg.coil_method == "espirit":
            return calib.espirit_maps(k, inputs["mask"], calib=cfg.calib, kernel=cfg.espirit_kernel,
                                      thresh=cfg.espirit_thresh, crop=cfg.espirit_crop)
        return calib.lowres_maps(k, inputs["mask"], calib=cfg.calib)

    def run(self, inputs, config, *, generator, callbacks=()):
        if noncart.is_noncartesian(inputs):
            return noncart.run(self, inputs, config, callbacks=callbacks)
        from sensekit.app.progress import phase
        k = inputs["kspace"].to(torch.complex64)
        mask = inputs["mask"]
        if "sens_maps" not in inputs:
            phase(callbacks, f"coil maps ({config.coil_method})")
        maps = self.maps_for(inputs, config)
        phase(callbacks, "model")
        E = forward_model(maps, mask, k.shape[0])
        # scale-aware: normalise so that the zero-filled image has unit peak magnitude
        scale = float(E.H(k).abs().max())
        if scale == 0:
            raise InputError("k-space is zero at every sampled location")
        fn = methods.METHODS[config.method][0]
        phase(callbacks, methods.resolve(config.method, k.shape[0]))
        x, iters, info = fn(E, k / scale, config, callbacks=callbacks)
        x = zero_unobserved(x, maps)
        outputs = {"recon": (x * scale).to(torch.complex64)}
        if "sens_maps" not in inputs:   # what the run estimated, saved for the user (and for --plot)
            outputs["sens_maps_estimated"] = maps.to(torch.complex64)
        return RunOutput(outputs=outputs, iterations=iters,
                         info={"maps": maps, "scale": scale, "method": methods.resolve(config.method, k.shape[0]),
                               **{k: v for k, v in info.items() if k == "stop_reason"}})

    def score(self, outputs, inputs):
        if "image_ref" not in inputs:
            return {}
        return image_series_scores(outputs["recon"], inputs["image_ref"])

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import recon_figure
        recon_figure(self, inputs, outputs, path, config, fmt=fmt)
