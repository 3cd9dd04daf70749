"""unmix figure: abundance maps (reference above estimate when given) and endmember spectra."""
from __future__ import annotations

import numpy as np
import torch

from sensekit.plot import pyplot, save
from sensekit.solvers.unmixing import match_endmembers, unmixing_scores


def _np(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def _wavelength_label(wl) -> str:
    """The wavelength axis label: the unit read off the range (the contract leaves the unit free)."""
    lo, hi = float(np.min(wl)), float(np.max(wl))
    if 0.1 <= lo and hi <= 20:
        return "wavelength (µm)"
    if 100 <= lo and hi <= 20000:
        return "wavelength (nm)"
    return "wavelength (the input's unit)"


def unmix_figure(app, inputs, outputs, path, config, *, fmt="png"):
    plt = pyplot()
    E = _np(outputs["endmembers"]).astype(np.float64)            # (P, B)
    A = _np(outputs["abundances"]).astype(np.float64)            # (H, W, P)
    P, B = E.shape
    Er = inputs.get("endmembers_ref")
    Ar = inputs.get("abundances_ref")
    wl = inputs.get("wavelengths")
    x = _np(wl) if wl is not None else np.arange(B)
    xlabel = _wavelength_label(x) if wl is not None else "band"
    names = [f"endmember {i + 1}" for i in range(P)]
    order = list(range(P))
    ref_names = inputs.get("endmembers_ref_names")
    if config.method == "sunsal" and "selected" in outputs and inputs.get("library_names"):
        names = [inputs["library_names"][int(i)] for i in _np(outputs["selected"])]
    title = f"unmix · {config.method}"
    if Er is not None:
        ei, ri = match_endmembers(torch.as_tensor(E.T), torch.as_tensor(_np(Er)).T)
        order = ei + [i for i in range(P) if i not in ei]
        if ref_names and config.method != "sunsal":
            for i, j in zip(ei, ri):
                names[i] = ref_names[j]
        s = unmixing_scores(torch.as_tensor(E.T), torch.as_tensor(A.reshape(-1, P).T),
                            torch.as_tensor(_np(Er)).T,
                            torch.as_tensor(_np(Ar).reshape(-1, _np(Ar).shape[-1])).T if Ar is not None else None)
        title += f"   mean SAD {s['sad_mean_deg']:.2f}°"
        if "rmse_abundance" in s:
            title += f", abundance RMSE {s['rmse_abundance']:.4f}"
    rows = 2 if Ar is not None and Er is not None else 1
    fig, axes = plt.subplots(rows + 1, P, figsize=(2.4 * P, 2.4 * (rows + 1) + 0.4), squeeze=False)
    for c, i in enumerate(order):
        if rows == 2:
            j = ri[ei.index(i)] if i in ei else None
            ax = axes[0, c]
            if j is not None:
                ax.imshow(_np(Ar)[:, :, j], vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
                ax.set_title(f"reference: {ref_names[j] if ref_names else f'endmember {j + 1}'}"[:40], fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[rows - 1, c]
        im = ax.imshow(A[:, :, i], vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_title(f"estimate: {names[i]}"[:40], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[:rows].ravel().tolist(), shrink=0.8, label="abundance (fraction, 0–1)")
    gs = axes[rows, 0].get_gridspec()
    for ax in axes[rows]:
        ax.remove()
    ax = fig.add_subplot(gs[rows, :])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, i in enumerate(order):
        col = colours[c % len(colours)]
        ax.plot(x, E[i] / max(np.abs(E[i]).max(), 1e-12), color=col, lw=1.4, label=f"{names[i]}"[:40])
        if Er is not None and i in ei:
            r = _np(Er)[ri[ei.index(i)]]
            ax.plot(x, r / max(np.abs(r).max(), 1e-12), color=col, lw=0.9, ls="--")
    if "band_weights" in outputs:
        bw = _np(outputs["band_weights"])
        ax.fill_between(x, 0, bw * 0.15, color="0.6", alpha=0.5, step="mid", label="l2,1 band weight (x0.15)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("peak-normalised reflectance")
    ax.legend(fontsize=7, ncol=1, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title="solid: estimate, dashed: reference" if Er is not None else None, title_fontsize=7)
    fig.suptitle(title, fontsize=10)
    save(fig, path, fmt)
