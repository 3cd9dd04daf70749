"""
Background, foreground and mask of three real clips by rSVDdpd
==============================================================

The LRSLibrary demo (cars on a road), escalator and shop clips, decoded from their AVI files (PyAV), as
grey pixels × frames matrices; background by the rank-one robust SVD with density power divergence
(α = 0.5, as in the paper's video runs), foreground = frame − background, mask by the automatic rule
(absolute residual above 3 σ̂, σ̂ the MAD of the residual; 3×3 opening).  The threshold used is in each row's title.
"""
# %%
import matplotlib.pyplot as plt
import torch

from sensekit.apps.rpca_video import methods as Me, options as O, readers as R
from sensekit.plot import colorbar, data_file, quick, require

require("av", "video")  # the clips are AVI files

torch.set_num_threads(1)
QUICK = quick()
clips = {"lrslibrary_demo.avi": 30, "escalator.avi": 100, "shop.avi": 80}
fig, axes = plt.subplots(len(clips), 4, figsize=(11, 2.7 * len(clips)), layout="constrained")
for row, (name, t) in enumerate(clips.items()):
    X = R.to_float(R.open_video(data_file(f"video/{name}")).frames())
    if QUICK:
        X = X[: min(X.shape[0], 60)]
        t = min(t, X.shape[0] - 1)
    res, _, info = Me.rsvddpd({"frames": X}, O.RSVDDPDOptions())
    thr = info["threshold"][0] * 255
    panels = [(X[t] * 255, f"{name.split('.')[0]}, frame {t}", "gray", (0, 255)),
              (res["background"][t] * 255, "background (rSVDdpd)", "gray", (0, 255)),
              (res["foreground"][t].abs() * 255, "|foreground|", "magma", (0, 0.4 * 255)),
              (res["mask"][t], f"mask (binary, white = moving):\n|r| > {thr:.1f} grey levels", "gray", (0, 1))]
    ims = []
    for ax, (img, title, cmap, (lo, hi)) in zip(axes[row], panels):
        ims.append(ax.imshow(img.float().numpy(), cmap=cmap, vmin=lo, vmax=hi))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    colorbar(fig, ims[0], list(axes[row, :2]), "grey level (0–255)")
    colorbar(fig, ims[2], axes[row, 2], "|foreground| (grey levels)")
plt.show()
