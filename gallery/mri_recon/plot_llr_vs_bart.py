"""
sensekit llr-tv, llr and tv against BART's locally low rank
===========================================================

One frame of PINCAT (8 frames, 96 x 96, 4 known coil maps, 1 % noise, golden-angle radial lines at R 7.55),
reconstructed in 50 iterations by sensekit ``llr-tv`` (the default for a series: locally low rank + spatial
and temporal TV), ``llr`` (B = 8) and ``tv`` and by BART ``pics -R L:7:7:λ -b 8``,
each at the best weight of its grid (``benchmarks/mri_recon_v2.py``); the bottom row is the magnitude error
against the reference.  The images are those the benchmark stored (``benchmarks/mri/llr_vs_bart_images.npz``),
so this figure needs neither BART nor a rerun; ``python benchmarks/mri_recon_v2.py "pincat radial R8"``
regenerates them.
"""
# %%
# gallery: no quick mode (it draws stored benchmark images: nothing to make smaller, and it never needs BART)
import pathlib
import sys

import matplotlib.pyplot as plt
import numpy as np

store = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "mri" / "llr_vs_bart_images.npz"
if not store.exists():
    print(f"skipped: benchmark images of real data not found at {store}; run benchmarks/mri_recon_v2.py first")
    sys.exit(77)
d = np.load(store)
ref = d["reference"]
methods = [m for m in ("sensekit llr-tv", "sensekit llr B=8", "sensekit tv", "bart pics LLR B=8") if m in d.files]

# %%
# Magnitudes share one grey scale (the reference peak); errors share one colour scale.
vmax = float(ref.max())
errs = {m: np.abs(d[m] - ref) for m in methods}
emax = max(float(np.percentile(e, 99.5)) for e in errs.values())
fig, axes = plt.subplots(2, len(methods) + 1, figsize=(3.4 * (len(methods) + 1), 6.6))
im = axes[0, 0].imshow(ref, cmap="gray", vmin=0, vmax=vmax)
axes[0, 0].set_title(f"reference\nframe {int(d['frame'])}", fontsize=8)
for j, m in enumerate(methods, start=1):
    axes[0, j].imshow(d[m], cmap="gray", vmin=0, vmax=vmax)
    setting = str(d[m + ' setting']).split(" (")[0]     # llr-tv: its scale of the default weights
    setting = setting.replace("scale=", "default weights × ")
    axes[0, j].set_title(f"{m}\n{setting}\nPSNR {float(d[m + ' psnr']):.2f} dB (all frames)", fontsize=8)
    ie = axes[1, j].imshow(errs[m], cmap="magma", vmin=0, vmax=emax)
    axes[1, j].set_title(f"|error| of this frame\nRMSE {np.sqrt(np.mean(errs[m] ** 2)) / vmax:.4f}", fontsize=8)
fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="magnitude (series peak = 1)")
fig.colorbar(ie, ax=axes[1, :].tolist(), shrink=0.8, label="|x − reference| (series peak = 1)")
axes[1, 0].axis("off")
axes[1, 0].text(0.02, 0.5, f"case: {d['case']}\n50 iterations each\nweights: best of each\nmethod's grid",
                fontsize=9, va="center")
for a in axes.ravel():
    a.set_xticks([])
    a.set_yticks([])
plt.show()
