"""``rpcanet``: a deep unfolded RPCA network for video foreground masks (after RPCANet / RPCANet++).

Reconstructed from the verified description of RPCANet (Wu et al., WACV 2024, arXiv:2311.00917) and
RPCANet++ (arXiv:2508.04190): the relaxed RPCA model ``D = B + T`` (background B, sparse target T) is
unrolled into K stages of three modules,

* BAM (background approximation):  ``B = (D − T) + Φ_B([D − T, P])``
* OEM (object extraction):         ``x = T + D − B;  T = x − ε·Φ_T(x)``  (ε learnable, 0.01 at start)
* IRM (image restoration):         ``D = (B + T) + Φ_D(B + T)``

with ``T₀ = 0``, Φ_B and Φ_D conv(3×3)+BN+ReLU stacks, Φ_T a conv+ReLU stack without BN.  The loss is
SoftIoU(σ(T_K), mask) + 0.01·MSE(D_K, D).  Choices of ours, for video: Φ_B also sees a robust
background prior ``P`` (the temporal median of the clip) as a second input channel — a single frame
does not say what is background in a video, the clip does; the IRM is written in residual form; pixels
whose ground truth is not scored (85, 170) are left out of the loss.  The mask is ``T_K > 0``.
Training (phase 2) goes through the platform's training loop on :func:`synthetic_batch`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from sensekit.learned.io import register_model
from sensekit.sim import video_sequence


def _cbr(cin, cout, bn=True):
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


def _stack(cin, width, depth, bn=True):
    layers = _cbr(cin, width, bn)
    for _ in range(depth):
        layers += _cbr(width, width, bn)
    layers.append(nn.Conv2d(width, 1, 3, padding=1))
    return nn.Sequential(*layers)


class Stage(nn.Module):
    """One unrolled stage: BAM, OEM, IRM."""

    def __init__(self, width: int = 32, depth_b: int = 3, depth_t: int = 6):
        super().__init__()
        self.phi_b = _stack(2, width, depth_b, bn=True)
        self.phi_t = _stack(1, width, depth_t, bn=False)
        self.phi_d = _stack(1, width, depth_b, bn=True)
        self.eps = nn.Parameter(torch.tensor(0.01))

    def forward(self, D, T, P):
        R = D - T
        B = R + self.phi_b(torch.cat([R, P], dim=1))
        x = T + D - B
        T = x - self.eps * self.phi_t(x)
        S = B + T
        D = S + self.phi_d(S)
        return D, B, T


class RPCANet(nn.Module):
    """Deep unfolded RPCA: frames and a background prior in, background, target map and restored frame out.

    Parameters
    ----------
    stages : int
        Unrolled stages K (6 in RPCANet).
    width : int
        Feature channels of every module (32 in RPCANet).
    depth_b, depth_t : int
        Hidden conv layers of Φ_B/Φ_D and of Φ_T (3 and 6 in RPCANet).

    Forward: ``D`` (N, 1, H, W) frames, ``P`` (N, 1, H, W) background prior →
    ``{"background": B, "target": T (logits: mask = T > 0), "restored": D_K}``, each (N, 1, H, W).
    """

    def __init__(self, stages: int = 6, width: int = 32, depth_b: int = 3, depth_t: int = 6):
        super().__init__()
        self.config = {"stages": int(stages), "width": int(width), "depth_b": int(depth_b), "depth_t": int(depth_t)}
        self.stages = nn.ModuleList(Stage(width, depth_b, depth_t) for _ in range(stages))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, D: torch.Tensor, P: torch.Tensor) -> dict:
        if D.ndim != 4 or D.shape[1] != 1 or P.shape != D.shape:
            raise ValueError(f"RPCANet: frames and prior must both be (N, 1, H, W), got {tuple(D.shape)} "
                             f"and {tuple(P.shape)}")
        T = torch.zeros_like(D)
        X = D
        B = D
        for st in self.stages:
            X, B, T = st(X, T, P)
        return {"background": B, "target": T, "restored": X}


register_model("rpcanet", "sensekit.apps.rpca_video.rpcanet:RPCANet")


def soft_iou_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                  smooth: float = 1.0) -> torch.Tensor:
    """1 − mean over samples of (Σ σ(T)·y + s) / (Σ σ(T) + Σ y − Σ σ(T)·y + s), over the valid pixels."""
    p = torch.sigmoid(logits)
    if valid is not None:
        p, target = p * valid, target * valid
    dims = tuple(range(1, p.ndim))
    inter = (p * target).sum(dims)
    union = p.sum(dims) + target.sum(dims) - inter
    return 1 - ((inter + smooth) / (union + smooth)).mean()


def rpcanet_loss(out: dict, frames: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                 gamma: float = 0.01) -> torch.Tensor:
    """SoftIoU(T_K, mask) + γ·MSE(D_K, D) (γ = 0.01, as RPCANet)."""
    return soft_iou_loss(out["target"], target, valid) + gamma * torch.mean((out["restored"] - frames) ** 2)


def synthetic_batch(batch: int, *, shape=(48, 64), frames: int = 40, generator: torch.Generator | None = None,
                    dtype=torch.float32) -> dict:
    """Training samples from :func:`sensekit.sim.video_sequence` scenes with random settings.

    Each sample is one random frame of a fresh grey scene (1–4 objects of random size and speed, noise
    0–0.03, illumination drift, waving-leaves texture in half of them, camera jitter in a quarter),
    with the temporal median of its ``frames`` frames as the background prior.

    Returns ``{"frames", "prior", "target" (0/1 float), "valid" (bool: scored pixels)}``, each (N, 1, H, W).
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    D, P, Y, V = [], [], [], []
    for _ in range(batch):
        r = torch.rand(6, generator=g).tolist()
        X, gt = video_sequence(frames, shape, generator=g, dtype=dtype, objects=1 + int(4 * r[0]) % 4,
                               noise=0.03 * r[1], drift=0.15 * r[2], texture=0.2 if r[3] < 0.5 else 0.0,
                               jitter=1.0 if r[4] < 0.25 else 0.0, sizes=(0.06, 0.22), speeds=(0.5, 2.5))
        t = int(r[5] * frames) % frames
        D.append(X[t])
        P.append(X.median(dim=0).values)
        Y.append((gt[t] == 255).to(dtype))
        V.append((gt[t] == 255) | (gt[t] == 0))
    st = lambda xs: torch.stack(xs)[:, None]  # noqa: E731
    return {"frames": st(D), "prior": st(P), "target": st(Y), "valid": st(V)}


@torch.no_grad()
def apply(model: RPCANet, frames: torch.Tensor, prior: torch.Tensor | None = None, *, batch: int = 16) -> dict:
    """Run a model over a clip (T, H, W) or (T, H, W, 3); colour channels go through the net one by one.

    ``prior`` defaults to the clip's temporal median.  Returns ``background``, ``foreground`` (frames −
    background) in the frames' shape and ``mask`` (T, H, W): target logit > 0 in any channel.
    """
    model.eval()
    if prior is None:
        prior = frames.median(dim=0).values
    X = frames if frames.ndim == 4 else frames[..., None]
    Pc = prior if prior.ndim == 3 else prior[..., None]
    Tn, H, W, C = X.shape
    B = torch.empty_like(X)
    logit = torch.full((Tn, H, W), -float("inf"), dtype=X.dtype, device=X.device)
    for c in range(C):
        p = Pc[..., c][None, None]
        for i in range(0, Tn, batch):
            d = X[i:i + batch, ..., c][:, None]
            out = model(d, p.expand_as(d))
            B[i:i + batch, ..., c] = out["background"][:, 0]
            logit[i:i + batch] = torch.maximum(logit[i:i + batch], out["target"][:, 0])
    B = B if frames.ndim == 4 else B[..., 0]
    return {"background": B, "foreground": frames - B, "mask": logit > 0}
