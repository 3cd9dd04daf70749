"""
k-t sampling masks
==================

The variable-density Cartesian masks of the simulated acquisitions: fully sampled central lines plus random
phase-encode lines drawn anew in every frame, so that aliasing differs from frame to frame and low-rank /
sparse-in-time methods can undo it. Shown for three accelerations: the phase-encode × time pattern, one
frame's 2-D mask and how often each line is sampled.
"""
# %%
import torch
import matplotlib.pyplot as plt

from sensekit.core.random import make_generator
from sensekit.sim import acceleration, cartesian_mask

# Masks cost nothing to draw: the quick mode keeps the full sizes (at 64 lines, acceleration 8 would keep
# only the 8 autocalibration lines and show no random lines at all).
T, N = 20, 128
fig, axes = plt.subplots(3, 3, figsize=(9, 8.5))
for r, accel in enumerate((4.0, 6.0, 8.0)):
    mask = cartesian_mask(T, (N, N), accel, acs=8, generator=make_generator(r))
    lines = mask[:, :, 0]                       # (T, Y): which phase-encode lines each frame keeps
    axes[r, 0].imshow(lines.T, cmap="gray", aspect="auto", interpolation="nearest")
    axes[r, 0].set_title(f"acceleration {acceleration(mask):.1f}: ky × t (white = sampled)", fontsize=9)
    axes[r, 0].set_xlabel("frame")
    axes[r, 0].set_ylabel("phase encode ky")
    axes[r, 1].imshow(mask[0], cmap="gray", interpolation="nearest")
    axes[r, 1].set_title("frame 0 (ky × kx; white = sampled)", fontsize=9)
    axes[r, 1].set_xticks([])
    axes[r, 1].set_yticks([])
    axes[r, 2].bar(torch.arange(N) - N // 2, lines.float().mean(0), width=1.0)
    axes[r, 2].set_title("fraction of frames sampling each line", fontsize=9)
    axes[r, 2].set_xlabel("ky")
    axes[r, 2].set_ylim(0, 1.05)
fig.tight_layout()
plt.show()
