"""
CP and Tucker decompositions of a noisy three-way tensor
========================================================

A rank-3 tensor with smooth factors (a Gaussian bump, a damped sinusoid and a
ramp per mode) is buried in noise.  CP-ALS (``sk.solvers.cp_als``) recovers the
three components up to order and scale; Tucker by HOOI (``sk.solvers.tucker``)
is compared with the truncated HOSVD over a range of multilinear ranks.
"""
# %%
# A planted rank-3 tensor plus noise
# ----------------------------------
import os

import matplotlib.pyplot as plt
import torch

import sensekit as sk

quick = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
shape = (20, 24, 28) if quick else (40, 50, 60)


def smooth_factors(n):
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    return torch.stack([torch.exp(-((t - 0.3) / 0.1) ** 2),
                        torch.exp(-2 * t) * torch.sin(6 * torch.pi * t),
                        t], dim=1)


factors = [smooth_factors(n) for n in shape]
weights = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
T = sk.solvers.cp_to_tensor(weights, factors)
noise = 0.2 * T.norm() / T.numel() ** 0.5
Tn = T + noise * torch.randn(shape, dtype=torch.float64, generator=g)

# %%
# CP-ALS with the default SVD initialisation
# ------------------------------------------
w, F = sk.solvers.cp_als(Tn, 3)
est = sk.solvers.cp_to_tensor(w, F)
print(f"relative error to the noisy tensor {float((est - Tn).norm() / Tn.norm()):.3f}, "
      f"to the clean tensor {float((est - T).norm() / T.norm()):.4f}")

fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for mode, ax in enumerate(axes):
    true = factors[mode] / factors[mode].norm(dim=0)
    for r in range(3):
        # match each true component with the most similar estimated one, fix the sign
        cos = F[mode].T @ true[:, r]
        k = int(cos.abs().argmax())
        ax.plot(true[:, r], "k--", lw=1)
        ax.plot(torch.sign(cos[k]) * F[mode][:, k], lw=1.5, label=f"component {r + 1}")
    ax.set_title(f"mode {mode + 1} factors (dashed: truth)", fontsize=9)
    ax.set_xlabel(f"index along mode {mode + 1}")
axes[0].set_ylabel("factor entry (unit-norm columns)")
axes[0].legend(fontsize=7)
fig.tight_layout()

# %%
# Tucker: HOOI against the truncated HOSVD
# ----------------------------------------
# HOOI starts from the truncated HOSVD and never fits worse; the gain is
# largest when the ranks cut into the signal.
ranks = range(1, 7)
err_hosvd, err_hooi = [], []
for r in ranks:
    core, U = sk.solvers.truncated_hosvd(Tn, (r, r, r))
    err_hosvd.append(float((sk.solvers.tucker_to_tensor(core, U) - Tn).norm() / Tn.norm()))
    core, U = sk.solvers.tucker(Tn, (r, r, r))
    err_hooi.append(float((sk.solvers.tucker_to_tensor(core, U) - Tn).norm() / Tn.norm()))

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(list(ranks), err_hosvd, "o-", label="truncated HOSVD")
ax.plot(list(ranks), err_hooi, "s--", label="HOOI (tucker)")
ax.set_xlabel("multilinear rank (r, r, r)")
ax.set_ylabel("relative error to the noisy tensor")
ax.legend()
fig.tight_layout()
plt.show()
