"""Quality metrics: PSNR, SSIM, NRMSE (and the MRI scoring rule of CONTRACTS.md).

All functions take torch tensors or numpy arrays and return Python floats.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _t(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    x = torch.as_tensor(x)
    if x.is_complex():
        raise TypeError("metrics take real arrays; pass magnitudes (x.abs()) for complex data")
    return x.to(torch.float64)


def nrmse(x: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> float:
    """‖x − ref‖ / ‖ref‖ (complex allowed).

    Returns
    -------
    float
        The relative error.
    """
    x = torch.as_tensor(x) if not isinstance(x, np.ndarray) else torch.from_numpy(np.ascontiguousarray(x))
    ref = torch.as_tensor(ref) if not isinstance(ref, np.ndarray) else torch.from_numpy(np.ascontiguousarray(ref))
    x = x.to(torch.complex128 if x.is_complex() or ref.is_complex() else torch.float64)
    ref = ref.to(x.dtype)
    return float(torch.linalg.vector_norm(x - ref) / torch.linalg.vector_norm(ref))


def psnr(x, ref, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: 10·log10(data_range² / MSE).

    ``data_range`` defaults to ``ref.max() − ref.min()``.

    Returns
    -------
    float
        The PSNR in dB (``inf`` for a perfect match).
    """
    x, ref = _t(x), _t(ref)
    if data_range is None:
        data_range = float(ref.max() - ref.min())
    mse = float(torch.mean((x - ref) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range ** 2 / mse)


def _gauss_window(sigma: float = 1.5, truncate: float = 3.5, dtype=torch.float64, device="cpu"):
    r = int(truncate * sigma + 0.5)
    k = torch.arange(-r, r + 1, dtype=dtype, device=device)
    w = torch.exp(-0.5 * (k / sigma) ** 2)
    return w / w.sum()


def ssim(x, ref, *, data_range: float | None = None, sigma: float = 1.5, k1: float = 0.01,
         k2: float = 0.03) -> float:
    """Structural similarity (Wang et al. 2004) of 2-D images in the last two dims.

    Gaussian window (σ = 1.5, 11×11), population covariances, mean over the
    valid region of each image, then over any leading dims — the same
    definition as scikit-image's ``structural_similarity(gaussian_weights=True,
    use_sample_covariance=False, sigma=1.5)``.

    Returns
    -------
    float
        The mean SSIM (over pixels, then over leading dims).
    """
    x, ref = _t(x), _t(ref)
    if x.shape != ref.shape or x.ndim < 2:
        raise ValueError(f"ssim needs two images of equal shape (..., H, W), got {tuple(x.shape)} "
                         f"and {tuple(ref.shape)}")
    if data_range is None:
        data_range = float(ref.max() - ref.min())
    H, W = x.shape[-2:]
    w = _gauss_window(sigma, dtype=x.dtype, device=x.device)
    if H < w.numel() or W < w.numel():
        raise ValueError(f"ssim needs images of at least {w.numel()}×{w.numel()} pixels, got {H}×{W}")
    xb = x.reshape(-1, 1, H, W)
    rb = ref.reshape(-1, 1, H, W)
    wy, wx = w.view(1, 1, -1, 1), w.view(1, 1, 1, -1)

    def filt(img):
        return torch.nn.functional.conv2d(torch.nn.functional.conv2d(img, wy), wx)

    mx, mr = filt(xb), filt(rb)
    sxx = filt(xb * xb) - mx * mx
    srr = filt(rb * rb) - mr * mr
    sxr = filt(xb * rb) - mx * mr
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * mr + c1) * (2 * sxr + c2)) / ((mx * mx + mr * mr + c1) * (sxx + srr + c2))
    return float(s.mean(dim=(-2, -1)).mean())


def image_series_scores(recon: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> dict:
    """Scores of an image series against a reference (CONTRACTS.md, mri-recon).

    Computed on magnitudes over frames ``(..., T, Y, X)`` (a single image is one
    frame); the data range is the reference's maximum over the whole series;
    PSNR and SSIM are averaged over frames; NRMSE is over the whole series.

    Returns
    -------
    dict
        ``{"psnr", "ssim", "nrmse"}``: frame-mean PSNR and SSIM, and the series NRMSE.
    """
    r = torch.as_tensor(recon) if not isinstance(recon, np.ndarray) else torch.from_numpy(recon)
    g = torch.as_tensor(ref) if not isinstance(ref, np.ndarray) else torch.from_numpy(ref)
    r, g = r.abs().to(torch.float64).cpu(), g.abs().to(torch.float64).cpu()
    if r.shape != g.shape:
        raise ValueError(f"recon shape {tuple(r.shape)} differs from reference shape {tuple(g.shape)}")
    rng = float(g.max())
    frames_r = r.reshape(-1, *r.shape[-2:])
    frames_g = g.reshape(-1, *g.shape[-2:])
    ps = [psnr(a, b, data_range=rng) for a, b in zip(frames_r, frames_g)]
    ss = [ssim(a, b, data_range=rng) for a, b in zip(frames_r, frames_g)]
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "nrmse": nrmse(r, g)}


# ----------------------------------------------------------------------------- foreground masks (CDnet coding)
#: CDnet ground-truth codes: only these two are scored; 50 (shadow), 85 (outside the ROI) and 170
#: (unknown) are ignored.
GT_BACKGROUND, GT_FOREGROUND = 0, 255


def pr_counts(mask: np.ndarray | torch.Tensor, gt: np.ndarray | torch.Tensor) -> dict:
    """Confusion counts of a binary mask against a CDnet-coded ground truth, over the scored pixels.

    Parameters
    ----------
    mask : Tensor or ndarray, bool, shape (..., H, W)
        Predicted foreground.
    gt : Tensor or ndarray, uint8, same shape
        CDnet coding: 255 foreground, 0 background; every other value (50 shadow,
        85 outside the region of interest, 170 unknown) is not scored.

    Returns
    -------
    dict
        ``{"tp", "fp", "fn", "tn"}`` as Python ints.  Counts add up: sum them over
        frames, clips or samples and pass the sum to :func:`f_measure` for the
        pooled scores (not an average of per-frame scores).
    """
    m = torch.as_tensor(np.asarray(mask)) if isinstance(mask, np.ndarray) else torch.as_tensor(mask)
    g = torch.as_tensor(np.asarray(gt)) if isinstance(gt, np.ndarray) else torch.as_tensor(gt)
    if m.shape != g.shape:
        raise ValueError(f"mask shape {tuple(m.shape)} differs from ground-truth shape {tuple(g.shape)}")
    m = m.to(torch.bool)
    g = g.to(torch.int32)
    fg, bg = g == GT_FOREGROUND, g == GT_BACKGROUND
    return {"tp": int((m & fg).sum()), "fp": int((m & bg).sum()), "fn": int((~m & fg).sum()),
            "tn": int((~m & bg).sum())}


def add_counts(*counts: dict) -> dict:
    """Sum of several :func:`pr_counts` results (pooling).

    Returns
    -------
    dict
        The summed counts.
    """
    out = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for c in counts:
        for k in out:
            out[k] += int(c[k])
    return out


def f_measure(mask_or_counts: np.ndarray | torch.Tensor | dict,
              gt: np.ndarray | torch.Tensor | None = None) -> dict:
    """Precision, recall and F-measure of a foreground mask (or of pooled counts).

    ``f_measure(mask, gt)`` scores one mask (all its frames pooled);
    ``f_measure(counts)`` scores counts from :func:`pr_counts` / :func:`add_counts`.
    Precision is 0 when nothing is predicted, recall 0 when nothing is true
    (never NaN); F = 2PR/(P+R), 0 when P + R = 0.

    Returns
    -------
    dict
        ``{"precision", "recall", "f_measure"}``.
    """
    c = mask_or_counts if gt is None else pr_counts(mask_or_counts, gt)
    if not isinstance(c, dict) or not {"tp", "fp", "fn"} <= set(c):
        raise TypeError("f_measure takes (mask, gt) or a dict of counts from pr_counts")
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f_measure": f}
