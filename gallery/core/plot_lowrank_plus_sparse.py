"""
Low rank plus sparse from incomplete entries
============================================

A planted rank-3 matrix plus 5 % large sparse outliers, observed on 60 % of its entries, split by
``sensekit.solvers.lowrank_plus_sparse`` (nuclear norm + ℓ1, proximal gradient) — the same solver that the
mri-recon L+S method runs through the MRI forward model.
"""
# %%
import torch
import matplotlib.pyplot as plt

import sensekit as sk
from sensekit.core.random import make_generator, randn
from sensekit.plot import colorbar, quick

torch.set_num_threads(1)
QUICK = quick()
m, n, r = (60, 48, 3) if QUICK else (120, 90, 3)
gen = make_generator(1)
L0 = randn((m, r), dtype=torch.float64, generator=gen) @ randn((r, n), dtype=torch.float64, generator=gen)
S0 = torch.zeros(m, n, dtype=torch.float64)
spikes = torch.rand(m, n, generator=gen) < 0.05
S0[spikes] = 8 * torch.sign(randn((int(spikes.sum()),), dtype=torch.float64, generator=gen))
observed = torch.rand(m, n, generator=gen) < 0.6
A = sk.linop.Mask(observed, (m, n))
y = A(L0 + S0)

# %%
# Weights relative to the data: λ_L to the largest singular value of the observed matrix, λ_S per entry.
smax = float(torch.linalg.matrix_norm(y, ord=2))
L, S, res = sk.solvers.lowrank_plus_sparse(A, y, unfold=sk.linop.Identity((m, n)), lam_l=0.02 * smax,
                                           lam_s=0.3, max_iter=300 if QUICK else 600, tol=1e-7)
err_l = float(torch.linalg.vector_norm(L - L0) / torch.linalg.vector_norm(L0))
fig, axes = plt.subplots(2, 3, figsize=(11, 6), layout="constrained")
cmap = plt.get_cmap("RdBu_r").copy()
cmap.set_bad("0.6")
vl, vs = float(L0.abs().max()), float(S0.abs().max())
panels = [("observed L0 + S0 (grey: missing)", torch.where(observed, y, torch.nan), vs), ("recovered L", L, vl),
          ("recovered S", S, vs), ("true L0", L0, vl), ("true S0", S0, vs),
          ("error L − L0 (colour scale ±max|L0| / 10)", L - L0, vl / 10)]
for ax, (name, M, vm) in zip(axes.flat, panels):
    im = ax.imshow(M.numpy(), cmap=cmap, vmin=-vm, vmax=vm, interpolation="nearest")
    colorbar(fig, im, ax, "entry value")
    ax.set_title(name, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"rank {r}, {spikes.float().mean():.0%} outliers, {observed.float().mean():.0%} observed: "
             f"relative error of L {err_l:.3f} after {res.iterations} iterations", fontsize=10)
plt.show()
