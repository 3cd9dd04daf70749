"""mri-recon figure: reference / zero-filled / reconstruction / error for a few frames, and x-t profiles."""
from __future__ import annotations

import numpy as np
import torch

from sensekit.metrics import image_series_scores
from sensekit.plot import pyplot, save, show, to_image

from .methods import resolve
from .model import forward_model


def recon_figure(app, inputs, outputs, path, config, *, fmt="png"):
    plt = pyplot()
    recon = outputs["recon"]
    k = inputs["kspace"].to(torch.complex64)
    maps = app.maps_for(inputs, config, outputs)   # the maps the run saved (not estimated again)
    zf = forward_model(maps, inputs["mask"], k.shape[0]).H(k)
    ref = inputs.get("image_ref")
    T = recon.shape[0]
    method = resolve(config.method, T)
    frames = sorted(set([0, T // 2, T - 1]))[:3]
    rows = [("zero-filled", zf), (method, recon)]
    if ref is not None:
        rows = [("reference", ref)] + rows
    vmax = float(to_image(ref if ref is not None else recon).max())
    ncol = len(frames) + 1
    nrow = len(rows) + (1 if ref is not None else 0)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.6 * nrow), squeeze=False)
    col_y = recon.shape[-1] // 2
    for r, (name, img) in enumerate(rows):
        score = ""
        if ref is not None and name != "reference":
            s = image_series_scores(img, ref)
            score = f"\nPSNR {s['psnr']:.1f} dB, SSIM {s['ssim']:.3f}"
        for c, t in enumerate(frames):
            show(axes[r, c], img[t], f"{name} t={t}{score if c == 0 else ''}", vmax=vmax)
        xt = to_image(img)[:, :, col_y].T  # (Y, T) profile through the middle column
        axes[r, -1].imshow(xt, cmap="gray", aspect="auto", vmin=0, vmax=vmax)
        axes[r, -1].set_title(f"{name}: y-t profile", fontsize=9)
        axes[r, -1].set_xlabel("frame", fontsize=8)
        axes[r, -1].set_yticks([])
    if ref is not None:
        err_zf = np.abs(to_image(zf) - to_image(ref))
        err = np.abs(to_image(recon) - to_image(ref))
        emax = float(err_zf.max()) * 0.5 or 1.0
        for c, t in enumerate(frames):
            show(axes[-1, c], err[t], f"|{method} − ref| t={t}", vmax=emax, cmap="inferno")
        axes[-1, -1].imshow(err[:, :, col_y].T, cmap="inferno", aspect="auto", vmin=0, vmax=emax)
        axes[-1, -1].set_title("error y-t profile", fontsize=9)
        axes[-1, -1].set_yticks([])
    fig.suptitle(f"mri-recon · {method}", fontsize=11)
    save(fig, path, fmt)
