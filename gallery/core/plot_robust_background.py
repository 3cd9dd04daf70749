"""
Background of a tampered clip: SVD, rSVDdpd, PCP and GoDec
==========================================================

A synthetic 40-frame clip (a smooth static background with a global brightness drift, a moving bright
square, and four frames "tampered" by large random corruption) stacked as a pixels × frames matrix.
The rank-1 truncated SVD is pulled towards the outliers; the robust SVD by density power divergence
(``sensekit.solvers.rsvd_dpd``) is not; principal component pursuit (``pcp``) and GoDec (``godec``) recover
the background of the clean frames but, with half of a tampered frame's pixels corrupted, explain those
frames by a rescaled background plus a sparse part (errors quoted for all frames / the clean frames).
"""
# %%
import os
import time

import matplotlib.pyplot as plt
import torch

import sensekit as sk
from sensekit.plot import colorbar

torch.set_num_threads(1)
QUICK = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
H = W = 24 if QUICK else 48
T = 40
g = torch.Generator().manual_seed(0)
yy, xx = torch.meshgrid(torch.linspace(0, 1, H, dtype=torch.float64), torch.linspace(0, 1, W, dtype=torch.float64),
                        indexing="ij")
bg = 0.5 + 0.3 * torch.sin(3 * xx) * torch.cos(2 * yy)
gain = 1 + 0.1 * torch.sin(torch.linspace(0, 3, T, dtype=torch.float64))
frames = bg[None] * gain[:, None, None]
truth = frames.clone()
s = H // 6
for t in range(T):                                   # moving foreground square
    x0 = int((W - s) * t / (T - 1))
    frames[t, H // 2 - s // 2:H // 2 + s // 2, x0:x0 + s] = 1.5
tampered = [8, 9, 25, 31]
for t in tampered:                                   # covered / corrupted frames
    frames[t] += 2.0 * (torch.rand(H, W, dtype=torch.float64, generator=g) > 0.5)
X = frames.reshape(T, H * W).T                       # pixels x frames
L_true = truth.reshape(T, H * W).T

# %%
methods = {}
t0 = time.perf_counter()
U, sv, Vh = torch.linalg.svd(X, full_matrices=False)
methods["SVD rank 1"] = (U[:, :1] * sv[:1] @ Vh[:1], time.perf_counter() - t0)
t0 = time.perf_counter()
U, sv, Vh = sk.solvers.rsvd_dpd(X, 1, alpha=0.3, generator=g)
methods["rSVDdpd rank 1"] = (U * sv[None] @ Vh, time.perf_counter() - t0)
t0 = time.perf_counter()
methods["PCP"] = (sk.solvers.pcp(X, tol=1e-6)[0], time.perf_counter() - t0)
t0 = time.perf_counter()
card = int(((X - L_true).abs() > 1e-9).sum())
methods["GoDec rank 1"] = (sk.solvers.godec(X, 1, card, generator=g, tol=1e-8, max_iter=200)[0],
                           time.perf_counter() - t0)

clean = [t for t in range(T) if t not in tampered]
fig, axes = plt.subplots(2, 5, figsize=(14, 5.6), layout="constrained")
show_t = [tampered[0], 20]
for row, t in enumerate(show_t):
    axes[row, 0].imshow(frames[t].numpy(), cmap="gray", vmin=0, vmax=2)
    axes[row, 0].set_title(f"frame {t}" + (" (tampered)" if t in tampered else ""), fontsize=9)
    for ax, (name, (L, sec)) in zip(axes[row, 1:], methods.items()):
        err = float(torch.linalg.norm(L - L_true) / torch.linalg.norm(L_true))
        err_c = float(torch.linalg.norm((L - L_true)[:, clean]) / torch.linalg.norm(L_true[:, clean]))
        im = ax.imshow(L[:, t].reshape(H, W).numpy(), cmap="gray", vmin=0, vmax=2)
        ax.set_title(f"{name}, {sec:.2f} s\nerr {err:.3f} / {err_c:.3f}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
colorbar(fig, im, list(axes.ravel()), "intensity (a.u.)")
fig.suptitle("background estimates; relative error over all frames / over the clean frames")
plt.show()
