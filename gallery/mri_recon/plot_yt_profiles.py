"""
y-t profiles of the reconstructions
===================================

A vertical line through the beating heart of the built-in cardiac phantom (the input of ``sensekit run
mri-recon``), followed over time for the reference, the zero-filled baseline, CG-SENSE and L+S: temporal
blurring and aliasing show up as streaks along the frame axis.
"""
# %%
# The built-in simulation: 20 frames, 8 coils, acceleration 6, a new mask per frame (small in quick mode).
import numpy as np
import torch
import matplotlib.pyplot as plt

from sensekit.app import get_app, make_config
from sensekit.app.runner import run_sample, simulated_sample
from sensekit.plot import colorbar, quick, robust_max

torch.set_num_threads(1)
QUICK = quick()
app = get_app("mri-recon")
inputs = simulated_sample(app, quick=QUICK)
ref = inputs["image_ref"].abs().numpy()
mean = ref.mean(axis=0)
col = int(np.unravel_index(np.argmax(mean), mean.shape)[1])   # through the brightest spot: the blood pool

# %%
# Reconstruct and cut the same column out of every frame.
rows = {"reference": ref}
for method in ("zero-filled", "cg-sense", "ls"):
    opts = {"method": method, **(app.quick_options if QUICK else {})}
    res = run_sample(app, inputs, make_config(app.Config, opts), device=torch.device("cpu"), seed=0)
    rows[f"{method}\n(series PSNR {res.metrics['psnr']:.1f} dB)"] = np.abs(res.outputs["recon"])

vmax = robust_max(ref, 99.5)
fig, axes = plt.subplots(1, len(rows) + 1, figsize=(2.6 * (len(rows) + 1) + 1.0, 3.4), layout="constrained")
axes[0].imshow(ref[0], cmap="gray", vmin=0, vmax=vmax)
axes[0].axvline(col, color="tab:orange", lw=1)
axes[0].set_title("frame 0 and the profile line", fontsize=9)
for ax, (name, series) in zip(axes[1:], rows.items()):
    im = ax.imshow(series[:, :, col].T, cmap="gray", aspect="auto", vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("frame")
for ax in axes:
    ax.set_yticks([])
axes[0].set_xticks([])
colorbar(fig, im, list(axes), "|image| (phantom units; white = p99.5)")
plt.show()
