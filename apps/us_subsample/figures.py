"""us-subsample figure: full-data and recovered B-mode images side by side, with the element mask."""
from __future__ import annotations

import numpy as np

from sensekit.plot import colorbar, pyplot, save


def doppler_figure(app, inputs, outputs, path, config, *, fmt="png"):
    """axis frames: power Doppler of the full and of the sub-sampled ensemble side by side."""
    plt = pyplot()
    full, pd = np.asarray(outputs["power_doppler_full"]), np.asarray(outputs["power_doppler"])
    mask = np.asarray(outputs["mask"]).astype(bool)
    scores = app.score(outputs, inputs)
    dr = float(-min(float(full.min()), -1.0))
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 4.4), squeeze=False)
    for a, im, title in ((axes[0, 0], full, f"full ensemble ({mask.size} frames)"),
                         (axes[0, 1], pd, f"{config.method} ({mask.sum()}/{mask.size} frames)")):
        a.imshow(im, cmap="hot", vmin=-dr, vmax=0, aspect="auto")
        a.set_title(title, fontsize=9)
        a.set_xticks([])
        a.set_yticks([])
    fig.text(0.5, 0.01, "kept: " + "".join("|" if m else "." for m in mask) +
             f"\nPSNR {scores['psnr_doppler']:.2f} dB  SSIM {scores['ssim_doppler']:.3f}",
             ha="center", fontsize=7, family="monospace")
    fig.suptitle("us-subsample: power Doppler (dB) of the full vs slow-time sub-sampled ensemble", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    save(fig, path, fmt)


def bmode_figure(app, inputs, outputs, path, config, *, fmt="png"):
    if "power_doppler" in outputs:
        return doppler_figure(app, inputs, outputs, path, config, fmt=fmt)
    plt = pyplot()
    full = np.asarray(outputs["image_full"])
    img = np.asarray(outputs["image"])
    mask = np.asarray(outputs["mask"]).astype(bool)
    scores = app.score(outputs, inputs)
    frames = sorted(set([0, full.shape[0] - 1]))
    fig, axes = plt.subplots(len(frames), 2, figsize=(8.3, 3.6 * len(frames) + 0.8), squeeze=False,
                             layout="constrained")   # room for the colorbars and the bottom text
    dr = float(config.dynamic_range)
    for r, f in enumerate(frames):
        axes[r, 0].imshow(full[f], cmap="gray", vmin=-dr, vmax=0, aspect="auto")
        axes[r, 0].set_title(f"full data, frame {f}", fontsize=9)
        im = axes[r, 1].imshow(img[f], cmap="gray", vmin=-dr, vmax=0, aspect="auto")
        axes[r, 1].set_title(f"{config.method} ({mask.sum()}/{mask.size} {config.axis}), frame {f}", fontsize=9)
        for a in axes[r]:
            a.set_xticks([])
            a.set_yticks([])
        axes[r, 0].set_ylabel("depth ↓", fontsize=8)
        colorbar(fig, im, list(axes[r]), f"B-mode (dB re. max; {dr:g} dB range)")
    fig.text(0.5, -0.005, "kept: " + "".join("|" if m else "." for m in mask[:160]) +
             f"\nPSNR {scores['psnr']:.2f} dB  SSIM {scores['ssim']:.3f}  NRMSE(rf) {scores['nrmse_rf']:.3f}",
             ha="center", va="top", fontsize=7, family="monospace")
    fig.suptitle("us-subsample: B-mode (dB) of full vs sub-sampled channel data", fontsize=10)
    save(fig, path, fmt)
