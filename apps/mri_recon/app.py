"""The mri-recon app: configuration, datasets, simulation, run, scores and figure."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.io.errors import InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.metrics import image_series_scores
from sensekit.sim.masks import PATTERNS

from . import calib, methods, noncart, params
from .convert import ConvertConfig
from .training import TrainConfig
from .model import forward_model, zero_unobserved


@dataclasses.dataclass(frozen=True)
class Config:
    method: str = option("auto", "reconstruction method; auto = " + methods.AUTO["dynamic"] + " for a dynamic "
                                 "series (T >= 2), " + methods.AUTO["static"] + " for a static image (T = 1)",
                         choices=tuple(methods.METHODS))
    max_iter: Optional[int] = option(None, "maximum number of iterations; " + params.defaults_help("max_iter"),
                                     min=1)
    tol: float = option(1e-4, "stop when the relative change of the iterate (or the CG residual for "
                              "cg-sense) falls below this (0 = run max_iter iterations)", min=0.0)
    lam_tv: Optional[float] = option(None, "rdledm/tv/kt-slr: isotropic spatial TV weight, a fraction of the "
                                           "zero-filled peak; " + params.defaults_help("lam_tv"), min=0.0)
    lam_tt: Optional[float] = option(None, "rdledm/tv/kt-slr: temporal TV weight, a fraction of the zero-filled "
                                           "peak; " + params.defaults_help("lam_tt"), min=0.0)
    lam_nuc: Optional[float] = option(None, "rdledm/kt-slr: Casorati (T x YX) nuclear-norm weight, a fraction "
                                            "of its largest singular value at the zero-filled series; "
                                            + params.defaults_help("lam_nuc"), min=0.0)
    lam_nuc2: Optional[float] = option(None, "rdledm: X x (T*Y) unfolding nuclear-norm weight, a fraction of "
                                             "its largest singular value; " + params.defaults_help("lam_nuc2"),
                                       min=0.0)
    beta: Optional[float] = option(None, "rdledm: weight of the image-domain error term (beta/2)||E||^2 "
                                         "(large = no error component); " + params.defaults_help("beta"),
                                   min=0.0)
    p: float = option(1.0, "kt-slr: Schatten-p exponent of the Casorati penalty (1 = nuclear norm, convex; "
                           "< 1 non-convex as in the paper)", min=0.05, max=1.0)
    lam_w: Optional[float] = option(None, "wavelet: l1 weight of the wavelet detail coefficients, a fraction "
                                          "of the zero-filled peak; " + params.defaults_help("lam_w"), min=0.0)
    wavelet: str = option("db4", "wavelet: PyWavelets orthogonal family of the 2-D DWT",
                          choices=("haar", "db2", "db4", "db6", "db8", "sym4", "sym8", "coif2"))
    spin: int = option(2, "wavelet: cycle spinning, circular shifts 0..spin-1 along each image axis averaged "
                          "(spin² transforms; 1 = the plain decimated DWT)", min=1, max=8)
    lam_l: float = option(0.03, "ls: nuclear-norm weight, as a fraction of the zero-filled Casorati "
                                "matrix's largest singular value", min=0.0)
    lam_s: float = option(0.003, "ls: temporal-Fourier l1 weight, as a fraction of the zero-filled series' "
                                "largest temporal-Fourier coefficient", min=0.0)
    momentum: bool = option(False, "ls: FISTA momentum (False = the paper's proximal-gradient iteration)")
    lam: float = option(0.01, "cg-sense: Tikhonov weight relative to the operator norm (0 = none; then the "
                             "iteration count regularises)", min=0.0)
    lam_llr: Optional[float] = option(None, "llr: weight of the block Casorati nuclear norms, a fraction of the "
                                            "largest singular value over the zero-filled series' blocks; "
                                            + params.defaults_help("lam_llr"), min=0.0)
    block: int = option(8, "llr: side B of the B x B spatial blocks (tiles larger than the image are clipped "
                           "to it)", min=1)
    coil_method: str = option("espirit", "coil maps when sens_maps is absent: espirit (eigenvector maps from the "
                                         "autocalibration region) or lowres (smoothed low-resolution coil images)",
                              choices=tuple(calib.COIL_METHODS))
    calib: int = option(24, "side of the k-space centre used to estimate coil maps when sens_maps is absent "
                            "(espirit grows it along fully sampled directions when it holds too few patches)", min=4)
    espirit_kernel: int = option(6, "espirit: k-space kernel side", min=2)
    espirit_thresh: float = option(0.02, "espirit: keep calibration singular vectors above this fraction of the "
                                         "largest singular value", min=0.0, max=1.0)
    espirit_crop: float = option(0.9, "espirit: zero the maps where the largest eigenvalue is below this",
                                 min=0.0, max=1.0)
    check_every: int = option(5, "evaluate stop criteria and progress every k iterations (fewer GPU syncs)",
                              min=1)
    rim_model: str = option("", "rim: trained model (.pt with its .json, or a folder from `sensekit train "
                                "mri-recon`); empty = the model shipped with sensekit")
    # --- non-Cartesian input (a `traj` dataset; see noncart.py) ---
    nufft_width: int = option(6, "non-Cartesian input: Kaiser-Bessel kernel width of the NUFFT, in oversampled "
                                 "grid points (4: faster, ~1e-3 relative accuracy; 6: ~1e-5)", min=2, max=12)
    nufft_oversamp: float = option(2.0, "non-Cartesian input: NUFFT grid oversampling factor", min=1.25, max=4.0)
    dcf_iter: int = option(10, "non-Cartesian input without a dcf dataset: Pipe-Menon density-compensation "
                               "iterations (the weights of the density-weighted data term)", min=1)
    # --- end non-Cartesian ---


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
                          + "; " + noncart.SIM_PATTERN + ": " + noncart.SIM_PATTERN_DOC,
                          choices=tuple(PATTERNS) + (noncart.SIM_PATTERN,))


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
        if sim.pattern == noncart.SIM_PATTERN:
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
        if "sens_maps" in arrays:
            s = np.asarray(arrays["sens_maps"])
            if s.shape != (C, Y, X):
                raise InputError(f"dataset 'sens_maps' has shape {s.shape}, expected (C, Y, X) = {(C, Y, X)}")
            if not np.any(s != 0):
                raise InputError("dataset 'sens_maps' is all zero")
            out["sens_maps"] = torch.from_numpy(s.astype(np.complex64))
        if "image_ref" in arrays:
            r = np.asarray(arrays["image_ref"])
            if r.shape != (T, Y, X):
                raise InputError(f"dataset 'image_ref' has shape {r.shape}, expected (T, Y, X) = {(T, Y, X)}")
            out["image_ref"] = torch.from_numpy(r)
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
        if method == "rim":
            from .rim import load_rim
            return int(load_rim(cfg.rim_model, torch.device("cpu")).steps)
        return int(params.value(cfg, method, "max_iter"))

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
