"""
Blind gain calibration: the phase transition of exact recovery
==============================================================

Random-projection measurements ``y[l, i] = d[i] ⟨a[l, i], x⟩`` with unknown positive gains
``d`` (spread ±50 %, mean 1) and an unknown signal ``x`` of fixed length ``n``: the empirical
probability of exact recovery (both relative errors < 1e-6 after the mean(d) = 1 normalisation)
over a grid of snapshots ``p`` and sensors ``m``, for the projected gradient descent of
Cambareri & Jacques (``pgd``) and the Ling–Strohmer linear least squares (``lsq``).  The white
line is the counting bound ``m p = n + m`` (as many measurements as unknowns), the dashed one
``m p = 1.5 (n + m)``; the papers' claim is a transition once ``m p`` grows like ``n + m`` (up to
log factors).  The third panel is ``pgd`` with subspace priors on both unknowns (signal in a random
``k = n/8``-dimensional subspace, gains in ``h = m/4`` low-frequency cosines): it succeeds with far
fewer snapshots.  The script prints the measured 50 % boundary for each ``m`` as the ratio
``m p / (n + m)``.
"""
# %%
# The grid
# --------
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from sensekit.sim.gains import gain_instance
from sensekit.solvers import bilinear as bl

quick = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
if quick:
    n, ms, ps, trials, max_iter = 32, [8, 16], [1, 2, 3, 4, 6, 8, 12], 2, 1500
else:
    n, ms, ps, trials, max_iter = 64, [8, 16, 32, 64], [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20], 5, 2000


def success(method, inst):
    pr = bl.GainCalProblem(inst.sensing, inst.measurements, inst.signal_basis, inst.gain_basis)
    if method.startswith("pgd"):
        d, x, _ = bl.gain_pgd(pr, max_iter=max_iter, check_every=10)
    else:
        d, x, _ = bl.gain_lsq(pr)
    return max(bl.rel_errors(d, x, inst.gains, inst.signal).values()) < 1e-6


rates = {k: np.zeros((len(ms), len(ps))) for k in ("pgd", "lsq", "pgd, subspace priors")}
t0 = time.perf_counter()
for a, m in enumerate(ms):
    for b, p in enumerate(ps):
        for t in range(trials):
            seed = 10000 * m + 100 * p + t
            inst = gain_instance(n, m, p, rho=0.5, generator=torch.Generator().manual_seed(seed))
            sub = gain_instance(n, m, p, rho=0.5, k=n // 8, h=m // 4, generator=torch.Generator().manual_seed(seed))
            for method in rates:
                rates[method][a, b] += success(method, sub if "subspace" in method else inst) / trials
print(f"n = {n}, {trials} trials per cell, {time.perf_counter() - t0:.1f} s")

# %%
# The measured 50 % boundary
# --------------------------
for method, R in rates.items():
    cells = []
    for a, m in enumerate(ms):
        ok = [p for b, p in enumerate(ps) if R[a, b] >= 0.5]
        cells.append(f"m={m}: p={ok[0]} (mp/(n+m)={ok[0] * m / (n + m):.2f})" if ok else f"m={m}: none")
    print(f"{method} 50% boundary  " + "; ".join(cells))

# %%
# The figure
# ----------
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
pg = np.arange(len(ps))
for ax, (method, R) in zip(axes, rates.items()):
    im = ax.imshow(R, origin="lower", cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(pg, [str(p) for p in ps])
    ax.set_yticks(range(len(ms)), [str(m) for m in ms])
    # the counting bound p = (n + m)/m, drawn in grid coordinates (piecewise-linear interpolation in p)
    for c, style in ((1.0, "-"), (1.5, "--")):
        pb = np.array([c * (n + m) / m for m in ms])
        ax.plot(np.interp(pb, ps, pg, left=np.nan, right=np.nan), range(len(ms)), style, color="C1", lw=1.5,
                label=f"mp = {c:g}(n+m)")
    ax.set_xlabel("snapshots p")
    ax.set_title(f"{method}, n = {n}" + (f" (k = {n // 8}, h = m/4)" if "subspace" in method else ""),
                 fontsize=10)
axes[0].set_ylabel("sensors m")
fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=2,
           bbox_to_anchor=(0.45, 0.98))   # above the panels, not over the data
fig.colorbar(im, ax=axes, fraction=0.03, label=f"P(exact recovery), fraction of {trials} trials")
plt.show()
