"""us-subsample: masks over elements, CS recovery (FISTA, wavelet or Fourier prior), the learned model,
and the imaging chain (IQ demodulation → DAS → B-mode) shared by run, tests and benchmarks."""
from __future__ import annotations

import dataclasses
import os
import sys

import torch

import sensekit.learned  # noqa: F401  (SHIPPED below)
from sensekit.io.errors import ConfigError, InputError
from sensekit.linop.base import LinOp
from sensekit.linop.ultrasound import DASPlan, bmode, image_grid, rf2iq

AXIS_DIM = {"frames": 0, "elements": 1, "samples": 2}
SHIPPED = os.path.join(os.path.dirname(os.path.abspath(sys.modules["sensekit.learned"].__file__)), "weights",
                       "us_dps_elements_r025")


# ----------------------------------------------------------------------------- masks
def n_keep(n: int, rate: float) -> int:
    return max(1, min(n, int(round(rate * n))))


def uniform_mask(n: int, m: int) -> torch.Tensor:
    """m entries evenly spread over n (centred)."""
    idx = torch.round((torch.arange(m, dtype=torch.float64) + 0.5) * n / m - 0.5).to(torch.long).clamp(0, n - 1)
    out = torch.zeros(n, dtype=torch.bool)
    out[idx] = True
    return out


def random_mask(n: int, m: int, generator: torch.Generator) -> torch.Tensor:
    out = torch.zeros(n, dtype=torch.bool)
    out[torch.randperm(n, generator=generator)[:m]] = True
    return out


def lowpass_mask(n: int, m: int) -> torch.Tensor:
    """The central m entries (a small contiguous aperture / the first-order low-pass pattern)."""
    out = torch.zeros(n, dtype=torch.bool)
    s = (n - m) // 2
    out[s:s + m] = True
    return out


# ----------------------------------------------------------------------------- CS recovery
class _MaskedSynthesis(LinOp):
    """c ↦ M · Re(Wᴴ c) for a unitary transform W over the last two axes of (E, S) channel data."""

    def __init__(self, shape, mask: torch.Tensor, prior: str, wavelet: str = "db4"):
        super().__init__(shape, shape)
        self.register_buffer("m", mask.to(torch.float32))
        self.prior = prior
        if prior == "wavelet":
            from sensekit.linop.wavelet import Wavelet
            self.W = Wavelet(shape, wavelet=wavelet)
        else:
            from sensekit.linop.fourier import FFT
            self.W = FFT(shape, axes=(-2, -1), centered=False)      # orthonormal 2-D DFT (f-k domain)

    def synth(self, c):
        x = self.W.H(c)
        return x.real if x.is_complex() else x

    def analysis(self, x):
        return self.W(x)

    def _forward(self, c):
        return self.m.to(c.real.dtype) * self.synth(c)

    def _adjoint(self, r):
        return self.analysis(self.m.to(r.dtype) * r)

    def norm_bound(self):
        return 1.0


def cs_recover(rf: torch.Tensor, rowmask: torch.Tensor, *, prior: str = "fourier", lam: float = 0.01,
               iterations: int = 100, wavelet: str = "db4") -> tuple[torch.Tensor, int]:
    """FISTA on min_c ½‖M Re(Wᴴc) − y‖² + lam·max|W Mᵀy|·‖c‖₁ per frame of ``rf`` (F, E, S); x̂ = Re(Wᴴ ĉ).

    ``rowmask``: bool (E,) over elements or (E, S) over the channel data.

    ``prior``: "fourier" (2-D orthonormal FFT over elements × fast time: plane-wave channel data are
    compressible in the f–k domain) or "wavelet" (2-D orthonormal DWT).  The observed rows are kept as
    measured (data consistency) and only the missing ones are filled in.
    """
    from sensekit.prox import L1
    from sensekit.solvers import LeastSquares, fista

    if prior not in ("fourier", "wavelet"):
        raise ConfigError(f"option 'prior': {prior!r} is not one of fourier, wavelet")
    F, E, S = rf.shape
    mask = rowmask.to(rf.device)
    if mask.ndim == 1:
        mask = mask[:, None].expand(E, S)
    A = _MaskedSynthesis((E, S), mask, prior, wavelet).to(rf.device)
    y = rf.to(torch.float32) * mask.to(torch.float32)[None]
    scale = float(A.H(y).abs().amax()) or 1.0
    res = fista(LeastSquares(A, y), L1(lam * scale), max_iter=iterations, tol=0.0, step=1.0)
    x = A.synth(res.x)
    return torch.where(mask[None], y, x), res.iterations


# ----------------------------------------------------------------------------- learned model
def load_dps(path: str, device=None):
    """The SubsampleNet saved by ``sensekit train us-subsample`` (folder or stem; '' = the shipped model)."""
    from sensekit.learned.io import load_model
    p = path or SHIPPED
    try:
        model, card = load_model(p, map_location=device or "cpu")
    except FileNotFoundError as e:
        if not path:
            raise ConfigError(f"method 'dps': the shipped model {SHIPPED}.pt is missing; train one with "
                              "`sensekit train us-subsample -o DIR` and pass --set model=DIR") from None
        raise ConfigError(f"option 'model': {e}") from None
    except (ValueError, RuntimeError, KeyError) as e:
        raise ConfigError(f"option 'model': {p}: {e}") from None
    return model, card


def dps_image(model, imager: "Imager", rf: torch.Tensor, *, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(B-mode dB (F, Z, X) of the learned mask's elements refined by the model, zero-filled RF (F, E, S)).

    Only the kept channels are demodulated and beamformed (:meth:`DASPlan.subset`: the same image as DAS of
    the zero-filled data, at a quarter of the cost for rate 0.25)."""
    mask = model.mask().to(rf.device)
    zf = rf.to(torch.float32) * mask[None, :, None]
    kept = mask.nonzero().reshape(-1)
    sub = dataclasses.replace(imager, plan=imager.plan.subset(kept))
    m = mask.to(torch.float32)
    out = []
    with torch.no_grad():
        for i in range(0, rf.shape[0], batch):
            img = sub.iq_image(zf[i:i + batch, kept], batch=batch)
            est = model.refine_image(img, m).clamp(0.0, 1.0)
            out.append((est - 1.0) * model.dynamic_range)
    return torch.cat(out), zf


# ----------------------------------------------------------------------------- imaging chain
@dataclasses.dataclass
class Imager:
    """IQ demodulation + DAS + B-mode for one geometry (``from_attrs``)."""

    plan: DASPlan
    fs: float
    fc: float
    t0: float
    dynamic_range: float

    @classmethod
    def from_attrs(cls, attrs: dict, E: int, S: int, *, fnumber: float = 1.0, dx: float = 2e-4, dz: float = 1e-4,
                   x_range: tuple | None = None, z_range: tuple | None = None, dynamic_range: float = 60.0,
                   angle: float = 0.0, device=None) -> "Imager":
        fs, fc, pitch, c = (float(attrs[k]) for k in ("fs_hz", "fc_hz", "pitch_m", "c_mps"))
        t0 = float(attrs.get("t0_s", 0.0))
        half = (E - 1) / 2 * pitch
        xr = x_range or (-half, half)
        zr = z_range or (max(c * t0 / 2, 1e-3) + 1e-3, c * (t0 + (S - 1) / fs) / 2 - 1e-3)
        if not (xr[1] > xr[0] and zr[1] > zr[0]):
            raise InputError(f"rf: the image region x {xr} m, z {zr} m is empty for these attributes")
        nx = max(2, int(round((xr[1] - xr[0]) / dx)) + 1)
        nz = max(2, int(round((zr[1] - zr[0]) / dz)) + 1)
        x, z = image_grid(xr, zr, nx, nz)
        plan = DASPlan.create(n_elements=E, n_samples=S, fs=fs, fc=fc, pitch=pitch, c=c, x=x, z=z, t0=t0,
                              angle=angle, fnumber=fnumber, device=device)
        return cls(plan=plan, fs=fs, fc=fc, t0=t0, dynamic_range=dynamic_range)

    def iq_image(self, rf: torch.Tensor, *, batch: int = 16) -> torch.Tensor:
        out = []
        for i in range(0, rf.shape[0], batch):
            iq = rf2iq(rf[i:i + batch].to(torch.float32), self.fs, self.fc, t0=self.t0)
            out.append(self.plan(iq))
        return torch.cat(out)

    def bmode(self, rf: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        """B-mode in dB; ``ref`` (F, 1, 1) envelope normalisation (default: each image's own maximum)."""
        return bmode(self.iq_image(rf), dynamic_range=self.dynamic_range, ref=ref)


def bmode_scores(img: torch.Tensor, ref: torch.Tensor, dynamic_range: float) -> dict:
    """PSNR and SSIM of B-mode dB images (F, Z, X) against ``ref`` with data range = the dynamic range."""
    from sensekit.metrics import psnr, ssim
    ps = [psnr(a.double(), b.double(), data_range=dynamic_range) for a, b in zip(img, ref)]
    ss = [ssim(a.double(), b.double(), data_range=dynamic_range) for a, b in zip(img, ref)]
    return {"psnr": float(sum(ps) / len(ps)), "ssim": float(sum(ss) / len(ss))}
