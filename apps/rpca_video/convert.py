"""``sensekit convert rpca-video SRC -o OUT.h5``: clips in other layouts as contract files.

Sources
-------
* MATLAB .mat (v5 or v7.3): the LRSLibrary struct ``video.frames(k).cdata``, the GoDec matrix ``M``
  (pixels × frames, column-major frames, with ``m``, ``n``), or a numeric (T, H, W[, 3]) ``variable``.
* A folder of image files (frames in natural name order, ``pattern`` to select them), with an optional
  ground-truth folder ``gt`` in the CDnet coding (or binary images with ``gt_threshold``). A Wallflower
  sequence folder (``b*.bmp`` with ``hand_segmented_NNNNN.bmp``) is recognised: its hand-segmented
  frames become 0 / 255 ground truth (thresholded at 128, as its masks hold a few stray values) and
  every other frame 85 (not scored).
* A video file (.avi, .mp4, ...; the ``video`` extra), with an optional ``gt`` folder.

Output datasets: ``frames`` (uint8 as in the source, or float for GoDec's float matrix) and
``gt_masks`` uint8 (T, H, W) when there is ground truth.
"""
from __future__ import annotations

import os
import re

import numpy as np

from sensekit.io.errors import ConfigError, InputError

from . import readers as R


def _colour(frames: np.ndarray, mode: str) -> np.ndarray:
    if mode == "grey" and frames.ndim == 4:
        g = frames.astype(np.float64).mean(-1)
        return np.round(g).astype(np.uint8) if frames.dtype == np.uint8 else g.astype(frames.dtype)
    if mode == "rgb" and frames.ndim == 3:
        return np.repeat(frames[..., None], 3, -1)
    return frames


def _is_wallflower(folder: str) -> bool:
    return any(re.fullmatch(r"hand_segmented_\d+\.(bmp|png)", f, flags=re.IGNORECASE) for f in os.listdir(folder))


def _gray_flag(mode: str):
    return {"auto": None, "grey": True, "rgb": False}[mode]


def mat_kind(listing: dict) -> str | None:
    """A description when a ``.mat`` listing (``{name: (shape, class)}``) is plainly a video clip, else None.

    The LRSLibrary struct ``video`` or GoDec's pixels × frames matrix ``M`` with the scalars ``m``, ``n``.
    """
    if "video" in listing and listing["video"][1] == "struct":
        return "the LRSLibrary struct video (frames(k).cdata)"
    if {"M", "m", "n"} <= set(listing) and len(listing["M"][0]) == 2 and \
            all(listing[k][0] in ((1, 1), (1,), ()) for k in ("m", "n")):
        return f"GoDec's frame matrix M {listing['M'][0]} with the frame size m, n"
    return None


def convert(src: str, fmt: str, cfg) -> tuple[dict, dict]:
    """``({name: (array, axes)}, attrs)`` for the contract file (see the module docstring)."""
    gt = None
    if fmt in ("mat-v5", "mat-v7.3"):
        frames = _colour(np.asarray(R.read_mat_clip(src, variable=cfg.variable or None).frames()), cfg.colour)
        kind = "MATLAB clip"
        from sensekit.io.matlab import swap_hw
        if swap_hw(cfg.matlab_order, "HW"):   # (T, W, H[, 3]) in the file: the frames' columns first
            frames = np.ascontiguousarray(frames.swapaxes(1, 2))
    elif fmt == "folder":
        if _is_wallflower(src) and not cfg.pattern and not cfg.gt:
            frames, gt = R.read_wallflower(src)
            frames = _colour(frames, cfg.colour)
            kind = "Wallflower sequence (hand-segmented frames scored, others 85)"
        else:
            frames = R.ImageFolder(src, pattern=cfg.pattern or None, gray=_gray_flag(cfg.colour)).frames()
            kind = "image folder"
    elif fmt == "video":
        frames = R.VideoFile(src, gray=_gray_flag(cfg.colour)).frames()
        kind = "video file"
    elif fmt == "sensekit":
        raise InputError(f"{src}: already an HDF5 file; run it directly with `sensekit run rpca-video --input`")
    else:
        raise InputError(f"{src}: cannot convert a {fmt} file to rpca-video; expected a .mat clip, a folder "
                         f"of images or a video file")
    if fmt not in ("mat-v5", "mat-v7.3") and cfg.matlab_order != "auto":
        raise ConfigError(f"option 'matlab_order' in --set: {src} is not a MATLAB file")
    if frames.ndim not in (3, 4) or frames.shape[0] < 1:
        raise InputError(f"{src}: no frames found (array of shape {frames.shape})")
    if frames.dtype.kind == "f" and not np.all(np.isfinite(frames)):
        raise InputError(f"{src}: the frames contain NaN or Inf values")
    if cfg.gt:
        thr = None if cfg.gt_threshold < 0 else cfg.gt_threshold
        gt = R.read_gt_folder(cfg.gt, frames.shape[0], frames.shape[1:3], threshold=thr)
    out = {"frames": (frames, "T,H,W" if frames.ndim == 3 else "T,H,W,3")}
    desc = {"frames": f"frames of {os.path.basename(os.path.normpath(src))} ({kind})"}
    if gt is not None:
        out["gt_masks"] = (gt.astype(np.uint8), "T,H,W")
        desc["gt_masks"] = "ground truth, CDnet coding (0 background, 255 foreground, 85/170/50 not scored)"
    attrs = {"acquisition": kind, "source": os.path.abspath(src), "source_format": fmt, "descriptions": desc}
    return out, attrs
