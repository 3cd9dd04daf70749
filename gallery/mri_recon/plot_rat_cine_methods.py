"""
Methods side by side on a real rat cardiac cine
===============================================

Every mri-recon method on a retrospectively undersampled real rat heart cine (8 cardiac phases; simulated
8-coil acquisition, a new variable-density line pattern in every frame, acceleration 4), with error maps
against the fully sampled series (on a window five times narrower than the images') and PSNR / SSIM over
the whole series, computed as ``sensekit run`` scores them.
"""
# %%
# The data: a real, coil-combined magnitude cine (``mri/rat_cardiac_cine_8frames.mat`` under
# ``$SENSEKIT_DATA``). The acquisition is simulated from it: smooth coil sensitivities, the centred
# orthonormal FFT of the contract, complex Gaussian noise and a k-t sampling mask.
import numpy as np
import scipy.io
import torch
import matplotlib.pyplot as plt

from sensekit.app import get_app, make_config
from sensekit.app.runner import run_sample
from sensekit.core.random import make_generator, randn
from sensekit.linop import fftc
from sensekit.plot import data_file, quick, robust_max, show
from sensekit.sim import cartesian_mask, coil_maps

torch.set_num_threads(1)
QUICK = quick()
cine = scipy.io.loadmat(data_file("mri/rat_cardiac_cine_8frames.mat"))["image0"]   # (x, y, frame)
img = torch.from_numpy(np.ascontiguousarray(cine.transpose(2, 1, 0)))              # (T, Y, X)
if QUICK:
    img = img[:, 80:176, 40:136]   # 96 × 96 around the heart
img = (img / img.max()).to(torch.complex64)
T, Y, X = img.shape
gen = make_generator(0)
maps = coil_maps(4 if QUICK else 8, (Y, X))
mask = cartesian_mask(T, (Y, X), 4.0, acs=8, generator=gen)
k = fftc(img[:, None] * maps[None], dim=(-2, -1))
k = (k + 0.005 * randn(k.shape, dtype=k.dtype, generator=gen)) * mask[:, None]

# %%
# Reconstruct with every method the app offers (``sensekit info mri-recon``), through the same
# per-sample path as ``sensekit run``; coil maps are estimated from the data.
app = get_app("mri-recon")
layouts = {"kspace": ["T", "C", "Y", "X"], "mask": ["T", "Y", "X"], "image_ref": ["T", "Y", "X"]}
inputs = app.prepare({"kspace": k.numpy(), "mask": mask.numpy(), "image_ref": img.abs().numpy()}, {}, layouts)
results = {}
for method in app.methods:
    if method == "auto":   # the default picks ls for a series: already in the list
        continue
    opts = {"method": method, **(app.quick_options if QUICK else {})}
    cfg = make_config(app.Config, opts, source="in the gallery")
    results[method] = run_sample(app, inputs, cfg, device=torch.device("cpu"), seed=0)

# %%
# Two cardiac phases per method and the error of each. Images share one window (white = the 99.5th
# percentile of the reference); errors use a window five times narrower so that structure is visible.
frames = [0, T // 2]
view = (slice(None), slice(None)) if QUICK else (slice(72, 184), slice(36, 148))   # zoom on the heart
ref = img.abs().numpy()[(slice(None),) + view]
vmax = robust_max(ref, 99.5)
nrow, ncol = len(results) + 1, 2 * len(frames)
fig = plt.figure(figsize=(2.2 * ncol + 1.6, 2.3 * nrow), layout="constrained")
gs = fig.add_gridspec(nrow, ncol + 1, width_ratios=[1] * ncol + [0.07])
axes = np.array([[fig.add_subplot(gs[r, c]) for c in range(ncol)] for r in range(nrow)])
for c, t in enumerate(frames):
    im = show(axes[0, 2 * c], ref[t], f"reference, phase {t}", vmax=vmax)
    axes[0, 2 * c + 1].axis("off")
cb = fig.colorbar(im, cax=fig.add_subplot(gs[0, -1]))   # its own column: no overlap with the panels
cb.set_label("|image| (ref. max = 1)\nwhite = p99.5, all rows", fontsize=8)
cb.ax.tick_params(labelsize=7)
for r, (method, res) in enumerate(results.items(), start=1):
    rec = np.abs(res.outputs["recon"])[(slice(None),) + view]
    m = res.metrics
    for c, t in enumerate(frames):
        show(axes[r, 2 * c], rec[t], f"{method}, phase {t}\nseries PSNR {m['psnr']:.1f} dB, SSIM {m['ssim']:.3f}"
             if c == 0 else f"{method}, phase {t}", vmax=vmax)
        err = show(axes[r, 2 * c + 1], np.abs(rec[t] - ref[t]), "|error| (window ÷ 5)", vmax=vmax / 5, cmap="inferno")
cb = fig.colorbar(err, cax=fig.add_subplot(gs[1:, -1]))
cb.set_label(f"|error| (same units as |image|), window 0–{vmax / 5:.3g} = image window / 5", fontsize=8)
cb.ax.tick_params(labelsize=7)
fig.suptitle(f"rat cine, 4× k-t undersampling, {maps.shape[0]} simulated coils")
plt.show()
