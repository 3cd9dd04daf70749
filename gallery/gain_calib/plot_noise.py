"""
Blind gain calibration under noise: error against noise level
=============================================================

Relative errors of the gains and of the signal (after the mean(d) = 1 normalisation) against the
relative noise level, for ``pgd``, ``lsq``, ``spectral`` and the back-projection initialiser
alone, at ``m p ≈ 3 (n + m)``: the three calibration methods degrade gracefully (errors
proportional to the noise, the dotted line is error = noise), the initialiser is limited by its
own bias.
"""
# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from sensekit.sim.gains import gain_instance
from sensekit.solvers import bilinear as bl

quick = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
n, m, p = (32, 8, 12) if quick else (64, 16, 15)
levels = [1e-3, 1e-2, 1e-1] if quick else [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
trials = 2 if quick else 5
methods = {
    "pgd": lambda pr: bl.gain_pgd(pr, check_every=10)[:2],
    "lsq": lambda pr: bl.gain_lsq(pr)[:2],
    "spectral": lambda pr: bl.gain_spectral(pr)[:2],
    "init (baseline)": lambda pr: bl.gain_backprojection(pr),
}
err = {k: np.zeros((len(levels), 2)) for k in methods}
for a, s in enumerate(levels):
    for t in range(trials):
        inst = gain_instance(n, m, p, noise=s, generator=torch.Generator().manual_seed(t))
        pr = bl.GainCalProblem(inst.sensing, inst.measurements)
        for name, fn in methods.items():
            d, x = fn(pr)
            e = bl.rel_errors(d, x, inst.gains, inst.signal)
            err[name][a] += np.array([e["rel_err_gains"], e["rel_err_signal"]]) / trials
for name, E in err.items():
    print(f"{name:16s} error/noise (gains) " + " ".join(f"{v:.2f}" for v in E[:, 0] / levels))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for j, (ax, what) in enumerate(zip(axes, ("gains", "signal"))):
    for name, E in err.items():
        ax.loglog(levels, E[:, j], "o-" if "init" not in name else "s--", ms=4, label=name)
    ax.loglog(levels, levels, ":", color="0.5", label="error = noise")
    ax.set_xlabel("relative noise level")
    ax.set_title(f"relative error of the {what}, n={n} m={m} p={p}", fontsize=9)
axes[0].set_ylabel("relative error (mean of trials)")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()
