"""isac figure: range–velocity map (antenna-summed periodogram) and angle–range view, estimates vs truth."""
from __future__ import annotations

import numpy as np
import torch

from sensekit.plot import pyplot, save


def targets_figure(inputs, outputs, path, *, fmt="png"):
    plt = pyplot()
    geo = inputs["geometry"]
    H = inputs["channel"].cpu()
    est = np.asarray(outputs["targets"], dtype=np.float64).reshape(-1, 4)
    ref = inputs.get("targets_ref")
    ref = None if ref is None else np.asarray(ref, dtype=np.float64).reshape(-1, 3)
    S, A, K, L = H.shape
    pk, pl = 2 * K, 2 * L
    X = torch.fft.fft2(H, s=(pk, pl), dim=(2, 3))                 # per antenna: peak at f = i/N
    rd = (X.abs() ** 2).sum(dim=(0, 1)).numpy()
    fk = np.arange(pk) / pk
    fl = (np.arange(pl) / pl + 0.5) % 1.0 - 0.5
    rng = np.mod(-fk, 1.0) * geo.max_range
    vel = -fl * geo.wavelength / (2 * geo.symbol_duration_s)
    ordk, ordl = np.argsort(rng), np.argsort(vel)
    img = 10 * np.log10(rd[ordk][:, ordl] / rd.max() + 1e-12)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    im = ax1.imshow(img.T, origin="lower", aspect="auto", cmap="viridis", vmin=-40, vmax=0,
                    extent=(rng[ordk][0], rng[ordk][-1], vel[ordl][0], vel[ordl][-1]))
    from sensekit.plot import colorbar
    colorbar(fig, im, ax1, "power (dB re. the peak)")
    ax1.set_xlabel("range (m)")
    ax1.set_ylabel("radial velocity (m/s, + receding)")
    ax1.set_title("range-velocity periodogram (dB), all antennas")
    if ref is not None and len(ref):
        ax1.plot(ref[:, 1], ref[:, 2], "o", mfc="none", mec="w", ms=10, label="truth")
        ax2.plot(ref[:, 0], ref[:, 1], "o", mfc="none", mec="k", ms=10, label="truth")
    if len(est):
        ax1.plot(est[:, 1], est[:, 2], "x", color="r", ms=8, label="estimate")
        ax2.plot(est[:, 0], est[:, 1], "x", color="r", ms=8, label="estimate")
    pts = [p for p in (ref, est) if p is not None and len(p)]
    if pts:
        allp = np.concatenate([p[:, :3] for p in pts])
        r0, r1 = allp[:, 1].min(), allp[:, 1].max()
        v0, v1 = allp[:, 2].min(), allp[:, 2].max()
        pad_r = max(0.15 * (r1 - r0), 5 * geo.resolution[1])
        pad_v = max(0.15 * (v1 - v0), 5 * geo.resolution[2])
        ax1.set_xlim(max(r0 - pad_r, 0), r1 + pad_r)
        ax1.set_ylim(v0 - pad_v, v1 + pad_v)
    ax1.legend(loc="upper right", fontsize=8)
    ax2.set_xlim(-90, 90)
    ax2.set_xlabel("angle (deg from broadside)")
    ax2.set_ylabel("range (m)")
    ax2.set_title(f"angle-range: {len(est)} estimated" + (f", {len(ref)} true" if ref is not None else ""))
    ax2.grid(alpha=0.3)
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    save(fig, path, fmt=fmt)
