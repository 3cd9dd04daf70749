"""
Blind calibration of a random-projection imager with drifting detector gains
============================================================================

A single-pixel-style imager with an array of ``m`` detectors: in each of ``p`` snapshots every
detector ``i`` integrates the image ``x`` against its own random ±1 modulation pattern ``a[l, i]``
and reports ``d[i] ⟨a[l, i], x⟩`` — with unknown detector gains ``d`` (here ±40 % drift, mean 1)
and 0.5 % read noise.  Reconstructing with the nominal gains (least squares with ``d = 1``) leaves
the gain errors in the image as structured noise; the blind methods (``pgd``, ``lsq``) recover
gains and image together from the same measurements, with no calibration source.
"""
# %%
# The imager and its measurements
# -------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from sensekit.plot import colorbar
from sensekit.sim import dynamic_phantom
from sensekit.sim.gains import sensing_stack
from sensekit.solvers import bilinear as bl

quick = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
g = torch.Generator().manual_seed(7)
side, m = (16, 16) if quick else (28, 32)
n = side * side
p = int(np.ceil(3 * (n + m) / m))
img = dynamic_phantom(side, 1, phase=False, generator=g)[0].abs().double()
x = img.reshape(-1)
A = sensing_stack(p, m, n, kind="bernoulli", generator=g)
d = 1 + 0.4 * (2 * torch.rand(m, generator=g, dtype=torch.float64) - 1)
d = d / d.mean()
clean = d[None] * (A.reshape(p * m, n) @ x).reshape(p, m)
y = clean + 0.005 * float(clean.pow(2).mean().sqrt()) * torch.randn(clean.shape, generator=g, dtype=torch.float64)
print(f"image {side}x{side} (n = {n}), m = {m} detectors, p = {p} snapshots")

# %%
# Nominal gains against blind calibration
# ---------------------------------------
A2 = A.reshape(p * m, n)
x_nominal = torch.linalg.lstsq(A2, y.reshape(-1, 1)).solution[:, 0]      # assumes d = 1
pr = bl.GainCalProblem(A, y)
d_pgd, x_pgd, res = bl.gain_pgd(pr, check_every=10)
d_lsq, x_lsq, _ = bl.gain_lsq(pr)
results = {"nominal gains (d = 1)": (torch.ones(m, dtype=torch.float64), x_nominal),
           "blind, pgd": (d_pgd, x_pgd), "blind, lsq": (d_lsq, x_lsq)}
for name, (dh, xh) in results.items():
    e = bl.rel_errors(dh, xh, d, x)
    print(f"{name:22s} rel. error gains {e['rel_err_gains']:.2e}  image {e['rel_err_signal']:.2e}")

fig, axes = plt.subplots(1, 5, figsize=(14, 3.1), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.5]}, layout="constrained")
im = axes[0].imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
axes[0].set_title("true image", fontsize=9)
for ax, (name, (dh, xh)) in zip(axes[1:4], results.items()):
    dn, xn = bl.normalise(dh, xh)
    e = bl.rel_errors(dh, xh, d, x)["rel_err_signal"]
    ax.imshow(xn.reshape(side, side).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name}\nimage error {e:.1e}", fontsize=9)
for ax in axes[:4]:
    ax.axis("off")
colorbar(fig, im, list(axes[:4]), "intensity (a.u.)")
ax = axes[4]
ax.plot(d.numpy(), "o", mfc="none", color="0.3", label="true gains")
ax.plot(bl.normalise(d_pgd, x_pgd)[0].numpy(), ".", color="C3", label="pgd")
ax.plot(bl.normalise(d_lsq, x_lsq)[0].numpy(), "x", color="C0", ms=4, label="lsq")
ax.axhline(1, color="0.7", lw=0.8)
ax.set_xlabel("detector i")
ax.set_title("detector gains (mean 1)", fontsize=9)
ax.legend(fontsize=7)
plt.show()
