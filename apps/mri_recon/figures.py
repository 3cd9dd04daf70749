"""mri-recon figure: reference / zero-filled / reconstruction / error for a few frames, and y-t profiles.

Reading the figure
------------------
* Every image row shares one grey window, black = 0, white = the 99.5th percentile of the reference's
  magnitude (of the reconstruction's without a reference), stated on the row's colorbar in the input's
  intensity units (arbitrary units of the k-space scaling).
* The error row is ``|recon − reference|`` on its own window, white = the 99.5th percentile of the
  zero-filled error, so the reconstruction's error reads against the zero-filled one; its colorbar says so.
* PSNR / SSIM on the left of a row are series metrics (the mean over all frames, as in the output file).
* A reconstruction stored in the input (``reference_recon``, e.g. BART's) gets its own row on its own
  window (its intensity scale is its software's), labelled as not ground truth and not scored.
* A static input (T = 1) has no y-t profile panel.  When the object fills little of the field of view
  the panels are cropped to it (the crop is named in the title).
"""
from __future__ import annotations

import numpy as np
import torch

from sensekit.metrics import image_series_scores
from sensekit.plot import colorbar, object_box, pyplot, robust_max, save, to_image

from .methods import resolve
from .model import forward_model

WINDOW_PERCENTILE = 99.5


def recon_figure(app, inputs, outputs, path, config, *, fmt="png"):
    from matplotlib.ticker import MaxNLocator
    plt = pyplot()
    recon = outputs["recon"]
    k = inputs["kspace"].to(torch.complex64)
    maps = app.maps_for(inputs, config, outputs)   # the maps the run saved (not estimated again)
    if "traj" in inputs:   # non-Cartesian: the density-compensated gridding
        from .noncart import zero_filled_image
        zf = zero_filled_image(inputs, maps, config)
    else:
        zf = forward_model(maps, inputs["mask"], k.shape[0]).H(k)
    ref = inputs.get("image_ref")
    T, Y, X = recon.shape
    method = resolve(config.method, T)
    frames = sorted(set([0, T // 2, T - 1]))[:3]
    dynamic = T > 1
    rows = [("zero-filled", zf), (method, recon)]
    stored = inputs.get("reference_recon")
    if stored is not None:   # set 0 of the stored reconstruction, frames broadcast when it has one
        stored = stored[:, 0]
        stored = stored.expand(T, -1, -1) if stored.shape[0] == 1 else stored
        rows = rows + [("stored recon\n(shipped with the data;\nown window, not scored)", stored)]
    if ref is not None:
        rows = [("reference", ref)] + rows
    base = ref if ref is not None else recon
    vmax = robust_max(base, WINDOW_PERCENTILE)
    sy, sx = object_box(base)
    cropped = (sy.stop - sy.start, sx.stop - sx.start) != (Y, X)
    n_img = len(frames)
    ncol = n_img + (1 if dynamic else 0)
    nrow = len(rows) + (1 if ref is not None else 0)
    h, w = sy.stop - sy.start, sx.stop - sx.start
    cell = 2.4
    fig, axes = plt.subplots(nrow, ncol, figsize=(cell * ncol * max(0.6, w / h) + 1.2, cell * nrow + 0.6),
                             squeeze=False, layout="constrained")
    col_x = sx.start + (sx.stop - sx.start) // 2   # the y-t profile runs through the middle column of the crop
    n_frames_note = f"mean over {T} frames" if dynamic else "1 frame"

    def panel(ax, img2d, title, lo, hi, cmap):
        im = ax.imshow(img2d[sy, sx], cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        return im

    unit = f"|image| (input units; white = p{WINDOW_PERCENTILE:g})"
    for r, (name, img) in enumerate(rows):
        mag = to_image(img)
        label = name
        own = name.startswith("stored recon")
        hi = robust_max(mag, WINDOW_PERCENTILE) if own else vmax
        if ref is not None and name != "reference" and not own:
            s = image_series_scores(img, ref)
            label += f"\nPSNR {s['psnr']:.1f} dB\nSSIM {s['ssim']:.3f}\n({n_frames_note})"
        im = None
        for c, t in enumerate(frames):
            im = panel(axes[r, c], mag[t], f"t={t}" if dynamic else "", 0, hi, "gray")
        axes[r, 0].set_ylabel(label, fontsize=9)
        if dynamic:
            ax = axes[r, -1]
            ax.imshow(mag[:, sy, col_x].T, cmap="gray", aspect="auto", vmin=0, vmax=hi,
                      interpolation="nearest", extent=(-0.5, T - 0.5, sy.stop - 0.5, sy.start - 0.5))
            ax.set_title(f"y-t at x={col_x}", fontsize=9)
            ax.set_xlabel("frame", fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # frames are whole numbers
            ax.tick_params(labelsize=7)
            ax.set_yticks([])
        colorbar(fig, im, list(axes[r, :]), f"|image| (its own units; white = p{WINDOW_PERCENTILE:g})" if own
                 else unit if r == 0 else "|image| (same window)")
    if ref is not None:
        err_zf = np.abs(to_image(zf) - to_image(ref))
        err = np.abs(to_image(recon) - to_image(ref))
        emax = robust_max(err_zf, WINDOW_PERCENTILE)
        im = None
        for c, t in enumerate(frames):
            im = panel(axes[-1, c], err[t], f"|{method} − ref|" + (f" t={t}" if dynamic else ""), 0, emax,
                       "inferno")
        axes[-1, 0].set_ylabel(f"error\n(white = p{WINDOW_PERCENTILE:g}\nof zero-filled error)", fontsize=9)
        if dynamic:
            ax = axes[-1, -1]
            ax.imshow(err[:, sy, col_x].T, cmap="inferno", aspect="auto", vmin=0, vmax=emax,
                      interpolation="nearest", extent=(-0.5, T - 0.5, sy.stop - 0.5, sy.start - 0.5))
            ax.set_title(f"error y-t at x={col_x}", fontsize=9)
            ax.set_xlabel("frame", fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # frames are whole numbers
            ax.tick_params(labelsize=7)
            ax.set_yticks([])
        colorbar(fig, im, list(axes[-1, :]), f"|error| (input units), 0–{emax:.3g}")
    where = f" · crop y {sy.start}:{sy.stop}, x {sx.start}:{sx.stop}" if cropped else ""
    fig.suptitle(f"mri-recon · {method} · {T} frame{'s' if T > 1 else ''}, {inputs['kspace'].shape[1]} coils"
                 f"{where}", fontsize=10)
    save(fig, path, fmt)
