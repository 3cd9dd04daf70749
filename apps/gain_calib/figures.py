"""The gain-calib figure: estimated vs true gains, and the signal."""
from __future__ import annotations

import numpy as np


def calib_figure(inputs, outputs, path, *, fmt="png", title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sensekit.solvers.bilinear import normalise
    import torch

    d = np.asarray(outputs["gains"])
    x = np.asarray(outputs["signal"])
    cplx = np.iscomplexobj(d) or np.iscomplexobj(x)
    show_d = np.abs if cplx else np.real        # complex gains: magnitudes; complex signal: real part
    d, x = show_d(d), np.real(x)
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.4))
    ax = axs[0]
    i = np.arange(d.size)
    if "gains_ref" in inputs:
        dr, xr = inputs["gains_ref"].cpu(), inputs.get("signal_ref")
        if xr is None:
            xr = torch.zeros(x.size, dtype=dr.dtype)
        dr, xr = (v.cpu().numpy() for v in normalise(dr, xr.cpu().to(torch.promote_types(dr.dtype, xr.dtype))))
        dr, xr = show_d(dr), np.real(xr)
        ax.plot(i, dr, "o", mfc="none", color="0.3", label="true")
        if "signal_ref" not in inputs:
            xr = None
    else:
        xr = None
    ax.plot(i, d, ".", color="C3", label="estimated")
    ax.axhline(1.0, color="0.7", lw=0.8)
    ax.set_xlabel("sensor i")
    ax.set_ylabel("|gain d_i| (mean d = 1)" if cplx else "gain d_i (mean 1)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)   # beside, never on a point
    gains_title = "gains"
    if "gains_ref" in inputs:
        err = np.linalg.norm(d - dr) / max(np.linalg.norm(dr), 1e-30)
        gains_title += f"  (relative error ‖d̂ − d‖/‖d‖ = {err:.2e})"
    ax.set_title(gains_title, fontsize=9)
    ax = axs[1]
    j = np.arange(x.size)
    if xr is not None:
        ax.plot(j, xr, color="0.3", lw=1.2, label="true")
    ax.plot(j, x, color="C3", lw=0.8, ls="--", label="estimated")
    sig_title = "signal"
    if xr is not None:   # the error on its own scale: estimate and truth overlap at plotting resolution
        ax.plot(j, x - xr, color="C0", lw=0.8, label="estimated − true")
        err = np.linalg.norm(x - xr) / max(np.linalg.norm(xr), 1e-30)
        sig_title += f"  (relative error {err:.2e})"
    ax.set_xlabel("entry j")
    ax.set_ylabel("Re signal x_j" if cplx else "signal x_j")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(sig_title, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=110)
    plt.close(fig)
