"""The ``--plot`` figure of rpca-video: frame / background / |foreground| / mask for a few frames.

Works on prepared tensors (in-memory runs) and on lazy handles (streamed runs: the raw input datasets and
the written outputs), reading only the frames shown. Frames with scored ground truth are preferred (the
mask panel then outlines the true foreground in green); the title states the threshold used.
"""
from __future__ import annotations

import numpy as np
import torch


def _frame(arr, t) -> np.ndarray:
    x = arr[t]
    x = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    return x


def _as_float(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535
    return img.astype(np.float32)


def _scored_frames(gt, limit: int = 4) -> list:
    """Indices of frames whose ground truth scores some pixel (0 or 255), read in chunks."""
    T = gt.shape[0]
    found = []
    for s in range(0, T, 256):
        g = gt[s:min(T, s + 256)]
        g = g.detach().cpu().numpy() if torch.is_tensor(g) else np.asarray(g)
        g = g.astype(np.int32) if g.dtype != np.bool_ else np.where(g, 255, 0)
        fg = (g == 255).reshape(g.shape[0], -1).any(1)
        found += [s + i for i in np.flatnonzero(fg)]
    if len(found) > limit:
        found = [found[i] for i in np.linspace(0, len(found) - 1, limit).round().astype(int)]
    return found


def pick_frames(inputs, n: int = 4) -> list:
    T = inputs["frames"].shape[0]
    picked = _scored_frames(inputs["gt_masks"], n) if "gt_masks" in inputs else []
    if not picked:
        picked = sorted(set(np.linspace(0, T - 1, min(n, T)).round().astype(int).tolist()))
    return [int(t) for t in picked]


def montage(inputs, outputs, path, config, *, fmt: str = "png", frames: list | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    ts = frames if frames is not None else pick_frames(inputs)
    rows = ("frame", "background", "|foreground|", "mask")
    single = len(ts) == 1                    # one frame: its four panels side by side
    shape = (1, len(rows)) if single else (len(rows), len(ts))
    fig, grid = plt.subplots(*shape, figsize=(2.3 * shape[1] + 0.4, 2.0 * shape[0] + 1.0), squeeze=False)
    axs = grid.T if single else grid
    thr_all, panels = [], []
    for t in ts:
        x = _as_float(_frame(inputs["frames"], t))
        b = _frame(outputs["background"], t).astype(np.float32)
        f = np.abs(_frame(outputs["foreground"], t).astype(np.float32))
        m = _frame(outputs["mask"], t).astype(bool)
        if "threshold" in outputs:
            thr_all.append(_frame(outputs["threshold"], t).astype(np.float64))
        panels.append((x, b, f.max(-1) if f.ndim == 3 else f, m))
    # one display scale per row (the shown frames' peak; |foreground|: its 99.5th percentile), so that one
    # colorbar per row states it: frame and background in the input's intensity (uint8 sources: /255)
    hi = max(max(float(p[0].max()) for p in panels), 1e-12)
    fg_hi = max(float(np.percentile(np.concatenate([p[2].ravel() for p in panels]), 99.5)), 1e-6)
    grey = str(getattr(inputs["frames"], "dtype", "")).endswith("uint8")   # shown in the source's grey levels
    unit = "grey level" if grey else "input units"
    labels = {"frame": f"intensity ({unit})", "background": f"intensity ({unit})",
              "|foreground|": f"|foreground| ({unit};\nwhite = p99.5)", "mask": "mask (1 = foreground)"}
    for j, (t, imgs) in enumerate(zip(ts, panels)):
        for i, (name, img) in enumerate(zip(rows, imgs)):
            ax = axs[i, j]
            if name == "|foreground|":
                im = ax.imshow(img, cmap="magma", vmin=0, vmax=fg_hi)
            elif name == "mask":
                im = ax.imshow(img.astype(np.float32), cmap="gray", vmin=0, vmax=1)
            elif img.ndim == 3:
                im = ax.imshow(np.clip(img / hi, 0, 1))   # colour: no colorbar can state three channels
            else:
                im = ax.imshow(img, cmap="gray", vmin=0, vmax=hi)
            if name == "mask" and "gt_masks" in inputs:
                g = _frame(inputs["gt_masks"], t)
                g = np.where(g, 255, 0) if g.dtype == np.bool_ else g.astype(np.int32)
                if (g == 255).any():
                    ax.contour(g == 255, levels=[0.5], colors="lime", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if single:
                ax.set_title(f"frame {t}" if name == "frame" else name, fontsize=9)
            else:
                if i == 0:
                    ax.set_title(f"frame {t}", fontsize=9)
                if j == 0:
                    ax.set_ylabel(name, fontsize=9)
            last = (i == len(rows) - 1) if single else (j == len(ts) - 1)
            if last or single:
                if not (img.ndim == 3 and name != "|foreground|"):
                    cax = ax.inset_axes([1.04, 0.0, 0.05, 1.0])   # beside the panel: every panel keeps its size
                    cb = fig.colorbar(im, cax=cax, ticks=[0, 1] if name == "mask" else None)
                    cb.set_label(labels[name], fontsize=7)
                    cb.ax.tick_params(labelsize=7)
                    if name != "mask" and grey:   # frames were read as grey / 255: label in 0–255
                        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 255:.0f}"))
    title = f"rpca-video {config.method}: mask where |residual − median| > {config.threshold:g}·σ̂"
    if config.method == "rpcanet":
        title = "rpca-video rpcanet: mask = the network's target map > 0 (learned, no residual threshold)"
    elif thr_all:
        thr = np.concatenate([np.atleast_1d(a) for a in thr_all])
        lo, hi = float(thr.min()), float(thr.max())
        span = f"{lo:.4g}" if np.isclose(lo, hi) else f"{lo:.4g}–{hi:.4g}"
        grey = f" ({lo * 255:.1f}/255)" if np.isclose(lo, hi) else f" ({lo * 255:.1f}–{hi * 255:.1f}/255)"
        title += f" = {span}{grey}, then 3×3 {config.morph}" if config.morph != "none" else f" = {span}{grey}"
    if "gt_masks" in inputs:
        title += "\n(green: ground-truth foreground)"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=110)
    plt.close(fig)
