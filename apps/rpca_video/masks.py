"""Foreground masks from the residual of a background model, with an automatic threshold.

Rule (never tuned on ground truth): for each channel c the residual ``F_c = X_c − B_c`` of the frames
being processed (the whole clip, or one block when streaming) has a robust scale

    σ̂_c = max(1.4826 · median |F_c − median F_c|,  min_sigma · span),

the normal-consistent median absolute deviation (valid while less than half the pixels are
foreground), floored at a fraction of the data range ``span`` so that noise-free or quantised video
does not get a zero threshold.  A pixel is foreground when ``max_c |F_c − median F_c| / σ̂_c >
threshold`` (3 by default: the 0.3 % two-sided tail of a normal).  Optional clean-up: a 3×3 binary
opening per frame (removes isolated pixels) and then a 3×3 closing (fills pin holes).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _dilate(m: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(m, 3, stride=1, padding=1)


def _erode(m: torch.Tensor) -> torch.Tensor:
    return 1 - F.max_pool2d(1 - m, 3, stride=1, padding=1)


def clean_mask(mask: torch.Tensor, morph: str = "open") -> torch.Tensor:
    """3×3 morphological clean-up of a mask (T, H, W) bool, per frame: ``none``, ``open`` or ``open-close``."""
    if morph == "none":
        return mask
    if morph not in ("open", "open-close"):
        raise ValueError(f"clean_mask: morph must be none, open or open-close, got {morph!r}")
    m = mask[:, None].to(torch.float32)
    m = _dilate(_erode(m))
    if morph == "open-close":
        m = _erode(_dilate(m))
    return m[:, 0] > 0.5


def residual_scale(R: torch.Tensor, *, span: float, min_sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel centre and robust scale of a residual (T, H, W) or (T, H, W, C): ``(median, σ̂)``, shape (C,)."""
    Rc = R if R.ndim == 4 else R[..., None]
    flat = Rc.reshape(-1, Rc.shape[-1])
    if flat.shape[0] > 2_000_000:            # a strided subsample keeps the median cheap on long blocks
        flat = flat[:: flat.shape[0] // 1_000_000 + 1]
    med = flat.median(dim=0).values
    mad = (flat - med).abs().median(dim=0).values
    sig = torch.clamp(1.4826 * mad, min=float(min_sigma) * float(span))
    sig = torch.where(sig > 0, sig, torch.ones_like(sig))
    return med, sig


def foreground_mask(R: torch.Tensor, *, threshold: float = 3.0, morph: str = "open", min_sigma: float = 2 / 255,
                    span: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Foreground mask (T, H, W) bool from a residual ``R`` (T, H, W) or (T, H, W, C).

    Returns the mask and ``{"sigma": [σ̂ per channel], "threshold": threshold × σ̂ per channel}`` (in the
    units of R), so that a figure or a report can state the threshold used.
    """
    med, sig = residual_scale(R, span=span, min_sigma=min_sigma)
    if R.ndim == 4:
        z = ((R - med) / sig).abs().amax(dim=-1)
    else:
        z = (R - med[0]).abs() / sig[0]
    mask = clean_mask(z > threshold, morph)
    return mask, {"sigma": sig.tolist(), "threshold": (threshold * sig).tolist()}


def data_span(frames: torch.Tensor) -> float:
    """The data range used by the σ̂ floor: 1 for frames in [0, 1] (or 255 for 0..255 data), else max − min."""
    lo, hi = float(frames.min()), float(frames.max())
    if lo >= 0 and hi <= 1:
        return 1.0
    if lo >= 0 and hi <= 255 and hi > 1:
        return 255.0
    return max(hi - lo, 1e-12)
