"""Slow-time (Doppler) sub-sampling: keep M of the T frames of a plane-wave ensemble, power Doppler from them.

Power Doppler of the frames kept by a mask ``m`` (T,) ∈ {0, 1} (or its DPS relaxation during training):
a polynomial clutter filter of degree ``order`` fitted to the kept frames by weighted least squares
(``c = (Bᵀ diag m B)⁻¹ Bᵀ diag m x`` per pixel, B the monomial basis on t ∈ [−1, 1] of the full
ensemble's time axis), the residual power averaged over the kept frames, ``PD = Σ m_t |x_t − B c|² / Σ m_t``,
in dB normalised to its maximum and clipped at −``dynamic_range``.  With m ≡ 1 this equals
:func:`sensekit.linop.ultrasound.power_doppler` (method "highpass", n_clutter = order + 1).

Recoveries (``run --set axis=frames``):

* ``zero`` — the masked power Doppler above (no frame is filled in; the estimate uses the kept frames).
* ``cs`` — the clutter residual of the kept frames is completed over slow time by FISTA with an ℓ1 prior on
  its slow-time Fourier coefficients (:class:`sensekit.linop.FFT` over the frame axis, observed frames kept
  as measured), and the power is averaged over all T frames.
* ``dps`` — the learned mask (DPS over the ``frames`` axis, :class:`sensekit.learned.sampling.DPSSampler`)
  with the masked power Doppler, optionally refined by a small residual CNN on the normalised PD image
  (the model's ``refine`` layers; trained jointly with the mask on the task loss: the MSE of the normalised
  power-Doppler image (dB / DR + 1) against the full-ensemble one on the training pixels).

"Reconstructed" set-up: the TUFFC paper's Doppler network is not public; this is the project's design.
"""
from __future__ import annotations

import dataclasses
import os
import time

import torch
from torch import nn

from sensekit.app.base import option
from sensekit.app.options import method_options_of
from sensekit.learned.sampling import DPSSampler, FixedMaskMixin, _Prox, train_dps

from .training import TrainConfig as _ElementsTrainConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig(_ElementsTrainConfig):
    """The training options of ``training.TrainConfig`` plus the sub-sampled axis and the slow-time ones."""

    axis: str = option("elements", "the sub-sampled axis: elements (DPS element mask + B-mode CNN) or frames "
                                   "(DPS slow-time mask on the power Doppler of the rf ensembles)",
                       choices=("elements", "frames"))
    order: int = option(1, "frames: degree of the polynomial clutter filter", min=0, max=8)
    doppler_range: float = option(40.0, "frames: power-Doppler dynamic range (dB)", min=1.0)
    region: str = option("left", "frames: training pixels: left (x < 0) or right (x >= 0) half of the image, "
                                 "or all", choices=("left", "right", "all"))
    refine_features: int = option(0, "frames: channels of the power-Doppler refinement CNN (0 = none, the mask "
                                     "only)", min=0, max=256)


def _basis(T: int, order: int, dtype, device) -> torch.Tensor:
    t = torch.linspace(-1, 1, T, dtype=torch.float64, device=device)
    return torch.stack([t ** k for k in range(order + 1)], dim=1).to(dtype)                 # (T, K)


def clutter_residual(ens: torch.Tensor, m: torch.Tensor, *, order: int = 1) -> torch.Tensor:
    """Residual (B, T, P) of the degree-``order`` polynomial fitted per pixel to the frames weighted by ``m``."""
    T = ens.shape[0]
    if m.ndim == 1:
        m = m[None]
    m = m.to(ens.real.dtype)
    if int((m[0] > 0).sum()) <= order:
        raise ValueError(f"a degree-{order} clutter filter needs more than {order} kept frames")
    basis = _basis(T, order, ens.real.dtype, ens.device)
    G = torch.einsum("bt,tk,tl->bkl", m, basis, basis)
    rhs = torch.einsum("bt,tk,tp->bkp", m.to(ens.dtype), basis.to(ens.dtype), ens)
    coef = torch.linalg.solve(G.to(ens.dtype), rhs)                                          # (B, K, P)
    return ens[None] - torch.einsum("tk,bkp->btp", basis.to(ens.dtype), coef)


def to_db(p: torch.Tensor, dynamic_range: float) -> torch.Tensor:
    """Power (…, P) → dB normalised to its maximum over the last axis, clipped at −``dynamic_range``."""
    tiny = torch.finfo(p.dtype).tiny
    out = 10.0 * torch.log10(p.clamp_min(tiny) / p.amax(dim=-1, keepdim=True).clamp_min(tiny))
    return out.clamp(min=-float(dynamic_range))


def masked_power_doppler(ens: torch.Tensor, m: torch.Tensor, *, order: int = 1, dynamic_range: float = 40.0,
                         db: bool = True) -> torch.Tensor:
    """Power Doppler (B, P) of an IQ ensemble ``ens`` (T, P) from the frames weighted by ``m`` (B, T) or (T,)."""
    if m.ndim == 1:
        m = m[None]
    m = m.to(ens.real.dtype)
    r = clutter_residual(ens, m, order=order)
    p = (m[..., None] * r.abs() ** 2).sum(dim=1) / m.sum(dim=1, keepdim=True)
    return to_db(p, dynamic_range) if db else p


def cs_power_doppler(ens: torch.Tensor, mask: torch.Tensor, *, order: int = 1, dynamic_range: float = 40.0,
                     lam: float = 0.1, iterations: int = 100,
                     db: bool = True) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Power Doppler (P,) from the frames of ``mask`` (T,) bool after completing the slow-time clutter residual.

    The residual r of the kept frames (after the masked polynomial clutter fit) is completed by FISTA on
    ``min_c ½‖M Fᴴ c − r‖² + lam·max|F Mᵀ r|·‖c‖₁`` (F the orthonormal DFT over the frame axis,
    :class:`sensekit.linop.FFT`; M keeps the measured frames); the measured frames are kept as measured.
    Returns (PD, the completed residual (T, P), iterations).
    """
    from sensekit.linop import FFT, Mask
    from sensekit.prox import L1
    from sensekit.solvers import LeastSquares, fista

    T, P = ens.shape
    mask = mask.to(torch.bool).to(ens.device)
    r = clutter_residual(ens, mask.to(ens.real.dtype), order=order)[0] * mask[:, None]
    A = Mask(mask[:, None].expand(T, P), (T, P)) @ FFT((T, P), axes=(0,), centered=False).H
    scale = float(A.H(r).abs().amax()) or 1.0
    res = fista(LeastSquares(A, r), L1(lam * scale), max_iter=iterations, tol=0.0, step=1.0)
    full = FFT((T, P), axes=(0,), centered=False).H(res.x)
    full = torch.where(mask[:, None], r, full)
    p = (full.abs() ** 2).mean(dim=0)
    return (to_db(p, dynamic_range) if db else p), full, res.iterations


class SlowTimeDPS(FixedMaskMixin, nn.Module):
    """DPS over the T frames of an ensemble (keep m) + optional PD refinement CNN; forward gives the
    normalised power Doppler (B, P) (or (B, Z, X) when ``shape`` is given and the CNN is used)."""

    def __init__(self, *, n: int, m: int, tau: float = 2.0, order: int = 1, dynamic_range: float = 40.0,
                 features: int = 0, layers: int = 3, kernel: int = 3, learn_mask: bool = True,
                 fixed: list | None = None):
        super().__init__()
        self._config = dict(n=n, m=m, tau=tau, order=order, dynamic_range=dynamic_range, features=features,
                            layers=layers, kernel=kernel, learn_mask=learn_mask, fixed=fixed)
        self.sampler = DPSSampler(n, m, tau=tau)
        self.order, self.dynamic_range = int(order), float(dynamic_range)
        self.refine = _Prox(1, features, layers, kernel) if features > 0 else None
        self._register_fixed(n, fixed, learn_mask)

    @property
    def config(self) -> dict:
        return dict(self._config)

    def refine_pd(self, pdn: torch.Tensor, shape: tuple | None) -> torch.Tensor:
        """Normalised PD (B, P) → refined (B, P) (identity without the CNN or without an image ``shape``)."""
        if self.refine is None or shape is None:
            return pdn
        B = pdn.shape[0]
        img = pdn.reshape(B, 1, *shape)
        frac = torch.full_like(img, float(self.sampler.m) / self.sampler.n)
        return self.refine(img, frac).reshape(B, -1)

    def forward(self, ens: torch.Tensor, batch: int = 1, generator: torch.Generator | None = None,
                shape: tuple | None = None):
        if self.learn_mask:
            w = self.sampler(batch, generator=generator)
        else:
            w = self.fixed_buffer.to(ens.real.dtype)[None].expand(batch, -1)
        pd = masked_power_doppler(ens, w, order=self.order, dynamic_range=self.dynamic_range)
        return self.refine_pd(pd / self.dynamic_range + 1.0, shape), w

    def power_doppler(self, ens: torch.Tensor, shape: tuple | None = None) -> torch.Tensor:
        """PD in dB (P,) of the ensemble ``ens`` (T, P) from the deployed mask (refined when the model has a CNN)."""
        with torch.no_grad():
            m = self.mask().to(ens.real.dtype)
            pd = masked_power_doppler(ens, m, order=self.order, dynamic_range=self.dynamic_range)
            est = self.refine_pd(pd / self.dynamic_range + 1.0, shape).clamp(0.0, 1.0)
        return ((est - 1.0) * self.dynamic_range)[0]


def slowtime_problem(ens: torch.Tensor, m: int, *, order: int = 1, dynamic_range: float = 40.0, batch: int = 8,
                     seed: int = 0, tau: float = 2.0, features: int = 0, layers: int = 3, kernel: int = 3,
                     shape: tuple | None = None, learn_mask: bool = True, fixed: list | None = None):
    """The seeded training problem of a slow-time mask on the ensemble ``ens`` (T, P) (training pixels only):
    ``(model, generator, loss)`` with ``loss(model, batch)`` the MSE of the normalised power Doppler of
    ``batch`` DPS draws (Gumbel noise from ``generator``) against the full-ensemble one.  Seeds torch with
    ``seed`` before building the :class:`SlowTimeDPS` (its initial logits)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SlowTimeDPS(n=ens.shape[0], m=m, tau=tau, order=order, dynamic_range=dynamic_range,
                        features=features, layers=layers, kernel=kernel, learn_mask=learn_mask, fixed=fixed)
    target = masked_power_doppler(ens, torch.ones(ens.shape[0]), order=order, dynamic_range=dynamic_range)
    target = target / dynamic_range + 1.0

    def loss(model, _batch):
        est, _ = model(ens, batch, g, shape)
        return ((est - target) ** 2).mean()

    return model, g, loss


def train_slowtime_mask(ens: torch.Tensor, m: int, *, order: int = 1, dynamic_range: float = 40.0,
                        iterations: int = 300, batch: int = 8, seed: int = 0, logit_lr: float = 0.2,
                        entropy: float = 0.01, tau: float = 2.0, lr: float = 2e-3, features: int = 0,
                        layers: int = 3, kernel: int = 3, shape: tuple | None = None, learn_mask: bool = True,
                        fixed: list | None = None, check_every: int | None = None, callbacks=(),
                        max_seconds: float | None = None) -> tuple[SlowTimeDPS, dict]:
    """Learn a slow-time mask (and, with ``features`` > 0, a PD refinement CNN on images of ``shape``) on the
    ensemble ``ens`` (T, P) (training pixels only) with the project's loop (:func:`train_dps`), in memory
    (``sensekit train`` goes through :func:`train_frames`: checkpoint, resume, model card)."""
    model, g, loss = slowtime_problem(ens, m, order=order, dynamic_range=dynamic_range, batch=batch, seed=seed,
                                      tau=tau, features=features, layers=layers, kernel=kernel, shape=shape,
                                      learn_mask=learn_mask, fixed=fixed)
    info = train_dps(model, lambda gen: None, lambda mod, b, gen: loss(mod, b), iterations=iterations, lr=lr,
                     logit_lr=logit_lr, entropy=entropy, generator=g,
                     check_every=check_every or max(iterations // 5, 1), callbacks=callbacks, max_seconds=max_seconds)
    return model, info


# ----------------------------------------------------------------------------- run --set axis=frames
SHIPPED_FRAMES = "us_dps_frames_r025"


def shipped_frames_path() -> str:
    from .methods import SHIPPED
    return os.path.join(os.path.dirname(SHIPPED), SHIPPED_FRAMES)


def load_frames_model(path: str, device=None):
    """The :class:`SlowTimeDPS` saved by ``sensekit train us-subsample --set axis=frames`` ('' = shipped)."""
    from sensekit.io.errors import ConfigError
    from .methods import load_dps
    p = path or shipped_frames_path()
    if not path and not os.path.exists(p + ".pt"):
        raise ConfigError(f"method 'dps' (axis frames): the shipped model {p}.pt is missing; train one with "
                          "`sensekit train us-subsample --set axis=frames --set rf=FILE -o DIR` and pass "
                          "--set model=DIR")
    model, card = load_dps(p, device=device)
    if not isinstance(model, SlowTimeDPS):
        raise ConfigError(f"option 'model': {p} is a {type(model).__name__}, not a slow-time (axis=frames) model")
    return model, card


def hold_nearest(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Frames (T, ...) where ``mask`` is False replaced by the nearest kept frame (earlier one on a tie)."""
    kept = mask.nonzero().reshape(-1)
    t = torch.arange(x.shape[0], device=kept.device)
    near = kept[(t[:, None] - kept[None, :]).abs().argmin(dim=1)]
    return x[near]


def run_frames(app, inputs, config, *, generator, callbacks=()):
    """``run --set axis=frames``: slow-time sub-sampling of the ensemble ``rf`` (T, E, S) → power Doppler."""
    from sensekit.app.base import RunOutput
    from sensekit.io.errors import ConfigError, InputError
    from . import methods as M

    rf = inputs["rf"]
    T, E, S = rf.shape
    geo = inputs["geometry"]
    info, iters = {}, 0
    order, dr = config.doppler_order, config.doppler_range
    if config.method == "dps":
        model, card = load_frames_model(config.model, device=rf.device)
        if model.config["n"] != T:
            raise ConfigError(f"option 'model': the slow-time model was trained for ensembles of {model.config['n']} "
                              f"frames, dataset 'rf' has {T}")
        if card.get("rate") is not None and abs(float(card["rate"]) - config.rate) > 1e-9:
            raise ConfigError(f"option 'rate': the dps model keeps a fraction {card['rate']} of the frames, "
                              f"not {config.rate}; train one with `sensekit train us-subsample --set axis=frames "
                              "--set rate=...`")
        order, dr = model.order, model.dynamic_range
        info["doppler_from_model"] = {"order": order, "dynamic_range": dr}
        mask = model.mask().to(rf.device)
    else:
        m = M.n_keep(T, config.rate)
        if T <= order + 1:
            raise InputError(f"dataset 'rf' has {T} frames; axis=frames needs an ensemble of more than "
                             f"{order + 1} frames for a degree-{order} clutter filter")
        if m <= order:
            raise ConfigError(f"option 'rate': {m} of {T} frames kept; a degree-{order} clutter filter needs more "
                              f"than {order}")
        mask = {"uniform": lambda: M.uniform_mask(T, m), "lowpass": lambda: M.lowpass_mask(T, m),
                "random": lambda: M.random_mask(T, m, generator)}[config.method]().to(rf.device)
    im = app.imager(geo, E, S, config, device=rf.device)
    iq = im.iq_image(rf)                                                  # (T, Z, X)
    shape = tuple(iq.shape[-2:])
    ens = iq.reshape(T, -1)
    mf = mask.to(ens.real.dtype)
    if config.method == "dps":
        pd = model.power_doppler(ens, shape)
        rec_iq = hold_nearest(iq, mask)
    elif method_options_of(app.Config).of(config).recovery == "zero":
        pd = masked_power_doppler(ens, mf, order=order, dynamic_range=dr)[0]
        rec_iq = hold_nearest(iq, mask)
    else:
        o = method_options_of(app.Config).of(config)      # the method's own options
        pd, resid, iters = cs_power_doppler(ens * mf[:, None], mask, order=order, dynamic_range=dr,
                                            lam=o.lam, iterations=o.max_iter)
        fit = ens * mf[:, None] - clutter_residual(ens * mf[:, None], mf, order=order)[0]
        rec_iq = torch.where(mask[:, None, None], iq, (fit + resid).reshape(iq.shape))
    pd_full = masked_power_doppler(ens, torch.ones_like(mf), order=order, dynamic_range=dr)[0]
    for cb in callbacks:
        cb({"iter": max(iters, 1), "stage": "recovered"}, None)
    from sensekit.linop.ultrasound import bmode
    out = {"mask": mask.cpu().numpy().astype(bool),
           "recovered_rf": (rf.to(torch.float32) * mf.to(torch.float32)[:, None, None]),
           "image": bmode(rec_iq, dynamic_range=im.dynamic_range).to(torch.float32),
           "image_full": bmode(iq, dynamic_range=im.dynamic_range).to(torch.float32),
           "power_doppler": pd.reshape(shape).to(torch.float32),
           "power_doppler_full": pd_full.reshape(shape).to(torch.float32)}
    info["kept_frames"] = mask.nonzero().reshape(-1).tolist()
    return RunOutput(outputs=out, iterations=iters, info={"stop_reason": "done", **info}, axes={"mask": "F"})


def doppler_scores(pd: torch.Tensor, ref: torch.Tensor, dynamic_range: float) -> dict:
    """PSNR / SSIM of a power-Doppler dB image (Z, X) against the full-ensemble one (data range = DR)."""
    from .methods import bmode_scores
    s = bmode_scores(pd[None].double(), ref[None].double(), dynamic_range)
    return {"psnr_doppler": s["psnr"], "ssim_doppler": s["ssim"]}


# ----------------------------------------------------------------------------- train --set axis=frames
def train_frames(config, output: str, *, seed: int = 0, device="cpu", callbacks=(), resume: bool = False,
                 command: str = "") -> dict:
    """``sensekit train us-subsample --set axis=frames``: a DPS slow-time mask (+ optional PD CNN) learned on
    the training pixels (``region``) of the ensembles in ``rf`` (each file's ``frames`` form one ensemble).

    Trains through the common loop :func:`sensekit.learned.train.train_and_save` (seeded, checkpoint in
    ``output/checkpoint``, ``resume``, time budget, progress); with ``region`` left or right its validation
    metric ``val_psnr_doppler`` is the PSNR (dB, data range = the PD dynamic range) of the masked power
    Doppler of the deployed mask on the other half of the image (never trained on)."""
    import hashlib

    from sensekit.io.errors import ConfigError
    from sensekit.learned.sampling import dps_entropy_penalty, dps_param_groups
    from sensekit.learned.train import Validation, train_and_save
    from sensekit.metrics import psnr
    from .methods import Imager, lowpass_mask, n_keep, random_mask, uniform_mask
    from .readers import parse_frames, read_rf
    from .training import card_tail, training_record
    paths = [s.strip() for s in config.rf.split(",") if s.strip()]
    if not paths:
        raise ConfigError("option 'rf': axis=frames trains on slow-time ensembles; give --set rf=FILE[,FILE]")
    if config.z_max <= config.z_min:
        raise ConfigError("options 'z_min'/'z_max': empty depth range")
    t_start = time.perf_counter()
    ens, held, files, T, shape = [], [], [], None, None
    for p in paths:
        rf, at = read_rf(p)
        sel = parse_frames(config.frames, rf.shape[0])
        if T is None:
            T = len(sel)
        elif len(sel) != T:
            raise ConfigError(f"option 'rf': {p} gives an ensemble of {len(sel)} frames, the first file {T}")
        im = Imager.from_attrs(at, rf.shape[1], rf.shape[2], fnumber=config.fnumber, dx=config.dx, dz=config.dz,
                               x_range=(-config.x_half, config.x_half), z_range=(config.z_min, config.z_max),
                               device=device)
        iq = im.iq_image(torch.from_numpy(rf[sel]).to(device))                  # (T, Z, X)
        X = iq.shape[-1]
        cols = {"left": slice(0, X // 2), "right": slice(X // 2, X), "all": slice(0, X)}[config.region]
        part = iq[:, :, cols]
        if shape is None:
            shape = tuple(part.shape[-2:])
        elif tuple(part.shape[-2:]) != shape:
            raise ConfigError(f"option 'rf': {p} gives training images {tuple(part.shape[-2:])}, the first {shape}")
        ens.append(part.reshape(T, -1))
        if config.region != "all":
            other = {"left": slice(X // 2, X), "right": slice(0, X // 2)}[config.region]
            held.append(iq[:, :, other].reshape(T, -1))
        with open(p, "rb") as fh:
            files.append({"path": os.path.abspath(p), "sha256": hashlib.sha256(fh.read()).hexdigest(),
                          "frames": sel, "region": config.region, "geometry": at})
    m = n_keep(T, config.rate)
    if m <= config.order:
        raise ConfigError(f"option 'rate': {m} of {T} frames kept; a degree-{config.order} clutter filter needs "
                          f"more than {config.order}")
    fixed = None
    if not config.learn_mask:
        fm = {"random": lambda: random_mask(T, m, torch.Generator().manual_seed(seed)),
              "uniform": lambda: uniform_mask(T, m), "lowpass": lambda: lowpass_mask(T, m)}[config.fixed_mask]()
        fixed = torch.nonzero(fm).ravel().tolist()
    data = torch.cat(ens, dim=1) if len(ens) == 1 or config.refine_features == 0 else None
    if data is None:
        raise ConfigError("option 'refine_features': the PD refinement CNN trains on one rf file only")
    model, g, loss = slowtime_problem(
        data, m, order=config.order, dynamic_range=config.doppler_range, batch=config.batch, seed=seed,
        tau=config.tau, features=config.refine_features, layers=config.layers, kernel=config.kernel,
        shape=shape if config.refine_features else None, learn_mask=config.learn_mask, fixed=fixed)
    held_ens = torch.cat(held, dim=1) if held else None
    validate = None
    if held_ens is not None:
        ones = torch.ones(T, device=held_ens.device)
        held_ref = masked_power_doppler(held_ens, ones, order=config.order, dynamic_range=config.doppler_range)[0]

        def val_psnr(mod):
            pd = masked_power_doppler(held_ens, mod.mask().to(held_ens.real.dtype), order=config.order,
                                      dynamic_range=config.doppler_range)[0]
            return float(psnr(pd.double(), held_ref.double(), data_range=config.doppler_range))
        validate = Validation(val_psnr, "val_psnr_doppler")

    def card(res):
        mask = model.mask().cpu()
        evaluation = None
        if held_ens is not None:
            evaluation = held_out_scores(data.cpu(), held_ens.cpu(), mask, order=config.order,
                                         dynamic_range=config.doppler_range)
            evaluation["pixels"] = "the other half of the image (x >= 0)" if config.region == "left" else \
                "the other half of the image (x < 0)"
        training = training_record(res, config=config, seed=seed, command=command, device=device, t_start=t_start,
                                   files=files, ensemble_frames=T, training_pixels=int(data.shape[1]),
                                   image_shape=list(shape))
        return {
            "evaluation_held_out": evaluation,
            "task": "us-subsample (axis frames): DPS slow-time mask" + (" + PD refinement CNN"
                                                                        if config.refine_features else "") +
                    ", trained on the MSE of the normalised power-Doppler image",
            "axis": "frames", "mask": torch.nonzero(mask).ravel().tolist(), "rate": config.rate,
            "order": config.order, "dynamic_range": config.doppler_range, "training": training,
            **card_tail(model, res),
        }

    _, doc = train_and_save(
        model.to(device), lambda gen: None, loss, output=output, max_iter=config.iterations, card=card,
        meta={"app": "us-subsample", "axis": "frames", "training": dataclasses.asdict(config), "seed": seed},
        resume=resume, device=device, generator=g, lr=config.lr,
        param_groups=dps_param_groups(config.lr, config.logit_lr), penalty=dps_entropy_penalty(config.entropy),
        max_seconds=config.max_seconds or None, check_every=config.check_every,
        checkpoint_every=config.check_every, callbacks=callbacks, validate=validate)
    return doc


def held_out_scores(train: torch.Tensor, test: torch.Tensor, mask: torch.Tensor, *, order: int = 1,
                    dynamic_range: float = 40.0, n_random: int = 50, seed: int = 100) -> dict:
    """PSNR (dB, data range = DR) of the masked power Doppler on held-out pixels ``test`` (T, P) for ``mask``,
    the uniform mask, the mean of ``n_random`` random masks and the random mask (of those) that scores best
    on the training pixels ``train`` (a random search with the same data the learned mask saw)."""
    from sensekit.metrics import psnr
    from .methods import random_mask, uniform_mask
    T, m = train.shape[0], int(mask.sum())
    ones = torch.ones(T)
    ref_tr = masked_power_doppler(train, ones, order=order, dynamic_range=dynamic_range)[0].double()
    ref_te = masked_power_doppler(test, ones, order=order, dynamic_range=dynamic_range)[0].double()

    def score(ens, ref, mk):
        pd = masked_power_doppler(ens, mk.to(ens.real.dtype), order=order, dynamic_range=dynamic_range)[0]
        return float(psnr(pd.double(), ref, data_range=dynamic_range))

    cands = [random_mask(T, m, torch.Generator().manual_seed(seed + s)) for s in range(n_random)]
    test_scores = [score(test, ref_te, c) for c in cands]
    best = max(range(n_random), key=lambda i: score(train, ref_tr, cands[i]))
    return {"psnr_doppler": {"dps": score(test, ref_te, mask), "uniform": score(test, ref_te, uniform_mask(T, m)),
                             "random_mean": sum(test_scores) / n_random,
                             f"random_best_of_{n_random}_on_training_pixels": test_scores[best]},
            "random_seeds": [seed, seed + n_random - 1], "kept": m, "frames": T}
