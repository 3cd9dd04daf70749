"""Readers of video inputs: image folders, video files, MATLAB clips, the Wallflower layout.

Every reader is a *source* with ``shape`` (T, H, W) or (T, H, W, 3) (T may be None for a video file
whose length is not known before decoding), ``dtype`` (uint8 or float), ``read(start, stop) -> ndarray``
and ``blocks(size) -> iterator of ndarrays`` (consecutive frames, read lazily, so a long video never
sits in memory), plus ``frames()`` for the whole clip.  :func:`open_video` picks the source by path.
Bad input raises :class:`sensekit.io.errors.InputError` naming the file and what was expected.

Image folders need Pillow and video files PyAV (the optional extra ``sensekit[video]``); both are
imported only when such an input is opened.
"""
from __future__ import annotations

import os
import pathlib
import re

import numpy as np

from sensekit.io.errors import InputError

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm")
VIDEO_EXT = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv")


def _need(module: str, extra: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{what} needs the optional package '{module}': pip install 'sensekit[{extra}]'") from None


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class _Source:
    shape: tuple
    dtype: np.dtype
    path: str

    def read(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def blocks(self, size: int):
        if size < 1:
            raise ValueError(f"blocks: size must be >= 1, got {size}")
        T = self.shape[0]
        for i in range(0, T, size):
            yield self.read(i, min(i + size, T))

    def frames(self) -> np.ndarray:
        out = np.concatenate(list(self.blocks(256)))
        if out.shape[0] == 0:
            raise InputError(f"{self.path}: no frames")
        return out

    def _check_range(self, start, stop):
        T = self.shape[0]
        if not 0 <= start <= stop <= T:
            raise IndexError(f"{self.path}: frames {start}:{stop} outside 0:{T}")


def _as_frame(img: np.ndarray, path: str) -> np.ndarray:
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if img.ndim == 3 and img.shape[-1] == 3 and (img[..., 0] == img[..., 1]).all() and \
            (img[..., 1] == img[..., 2]).all():
        img = img[..., 0]                       # grey stored as three equal channels
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] != 3):
        raise InputError(f"{path}: expected a grey or RGB image, got an array of shape {img.shape}")
    return img


class ImageFolder(_Source):
    """The image files of a folder, in natural name order (``img2`` before ``img10``), grey or RGB.

    Parameters
    ----------
    path : folder
    pattern : str, optional
        A glob (e.g. ``"b*.bmp"``) restricting the files; default: every image file.
    gray : bool, optional
        Force grey (mean of RGB) or, with False, RGB; default: grey when every
        checked frame has equal channels, else RGB (decided from the first frame).
    """

    def __init__(self, path, *, pattern: str | None = None, gray: bool | None = None):
        self.path = os.fspath(path)
        p = pathlib.Path(self.path)
        if not p.is_dir():
            raise InputError(f"{self.path}: not a folder of images")
        files = sorted((f for f in (p.glob(pattern) if pattern else p.iterdir())
                        if f.is_file() and f.suffix.lower() in IMAGE_EXT), key=lambda f: _natural_key(f.name))
        if not files:
            raise InputError(f"{self.path}: no image files ({', '.join(IMAGE_EXT)})"
                             + (f" matching {pattern!r}" if pattern else ""))
        self.files = files
        first = self._load(files[0])
        if gray is None:
            gray = first.ndim == 2
        self.gray = bool(gray)
        self.frame_shape = first.shape[:2]
        self.dtype = np.dtype(np.uint8) if first.dtype == np.uint8 else np.dtype(np.float32)
        self.shape = (len(files),) + tuple(self.frame_shape) + (() if self.gray else (3,))

    def _load(self, f):
        Image = _need("PIL.Image", "video", "reading image files")
        try:
            with Image.open(f) as im:
                if im.mode not in ("L", "RGB", "RGBA", "I;16", "I", "F", "P", "LA"):
                    im = im.convert("RGB")
                if im.mode == "P":
                    im = im.convert("RGB")
                if im.mode == "LA":
                    im = im.convert("L")
                arr = np.asarray(im)
        except Exception as e:
            raise InputError(f"{f}: cannot read as an image ({type(e).__name__}: {e})") from None
        return _as_frame(arr, str(f))

    def read(self, start, stop):
        self._check_range(start, stop)
        out = []
        for f in self.files[start:stop]:
            img = self._load(f)
            if img.shape[:2] != tuple(self.frame_shape):
                raise InputError(f"{f}: frame size {img.shape[:2]} differs from the first frame's "
                                 f"{tuple(self.frame_shape)}")
            if self.gray and img.ndim == 3:
                img = img.mean(-1).astype(self.dtype) if self.dtype != np.uint8 else \
                    np.round(img.mean(-1)).astype(np.uint8)
            elif not self.gray and img.ndim == 2:
                img = np.repeat(img[..., None], 3, -1)
            out.append(img.astype(self.dtype, copy=False))
        if not out:
            return np.zeros((0,) + self.shape[1:], self.dtype)
        return np.stack(out)


class VideoFile(_Source):
    """A video file (.avi, .mp4, …) decoded by PyAV (FFmpeg inside its wheel), frame by frame.

    The frame count is only known after a decoding pass (a container's count can be off: the
    LRSLibrary escalator.avi says 200 and decodes 198), so ``shape[0]`` is None until
    :meth:`count` has run; :meth:`blocks` decodes sequentially without knowing it.
    Grey videos (three equal channels) come back as (H, W) frames unless ``gray=False``.
    """

    def __init__(self, path, *, gray: bool | None = None):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"{self.path}: file not found")
        if os.path.getsize(self.path) == 0:
            raise InputError(f"{self.path}: file is empty, expected a video")
        first = None
        for first in self._decode(limit=1):
            break
        if first is None:
            raise InputError(f"{self.path}: the video holds no decodable frame")
        self.gray = (first.ndim == 2) if gray is None else bool(gray)
        self.dtype = np.dtype(np.uint8)
        self._T = None
        H, W = first.shape[:2]
        self.shape = (None, H, W) + (() if self.gray else (3,))

    def _decode(self, limit=None):
        av = _need("av", "video", "reading video files")
        try:
            container = av.open(self.path)
        except Exception as e:
            raise InputError(f"{self.path}: cannot open as a video ({type(e).__name__}: {e})") from None
        try:
            if not container.streams.video:
                raise InputError(f"{self.path}: no video stream in the file")
            n = 0
            try:
                for fr in container.decode(video=0):
                    yield _as_frame(fr.to_ndarray(format="rgb24"), self.path)
                    n += 1
                    if limit is not None and n >= limit:
                        return
            except InputError:
                raise
            except Exception as e:
                raise InputError(f"{self.path}: decoding failed after {n} frames ({type(e).__name__}: {e}); "
                                 "is the file truncated?") from None
        finally:
            container.close()

    def _fix(self, img):
        if self.gray and img.ndim == 3:
            return np.round(img.mean(-1)).astype(np.uint8)
        if not self.gray and img.ndim == 2:
            return np.repeat(img[..., None], 3, -1)
        return img

    def count(self) -> int:
        """Decode once to count the frames; sets ``shape[0]``."""
        if self._T is None:
            self._T = sum(1 for _ in self._decode())
            self.shape = (self._T,) + self.shape[1:]
        return self._T

    def blocks(self, size: int):
        if size < 1:
            raise ValueError(f"blocks: size must be >= 1, got {size}")
        buf = []
        for img in self._decode():
            buf.append(self._fix(img))
            if len(buf) == size:
                yield np.stack(buf)
                buf = []
        if buf:
            yield np.stack(buf)

    def read(self, start, stop):
        if not 0 <= start <= stop:
            raise IndexError(f"{self.path}: frames {start}:{stop}")
        out = []
        for i, img in enumerate(self._decode(limit=stop)):
            if i >= start:
                out.append(self._fix(img))
        if len(out) < stop - start:
            raise IndexError(f"{self.path}: frames {start}:{stop} beyond the video's {start + len(out)} frames")
        return np.stack(out) if out else np.zeros((0,) + self.shape[1:], np.uint8)

    def frames(self):
        out = np.concatenate(list(self.blocks(256)))
        self._T = out.shape[0]
        self.shape = (self._T,) + self.shape[1:]
        return out


class ArraySource(_Source):
    """Frames already in memory (T, H, W) or (T, H, W, 3), served as a source."""

    def __init__(self, frames: np.ndarray, path: str = "<array>"):
        self.path = path
        self._x = frames
        self.shape = tuple(frames.shape)
        self.dtype = frames.dtype

    def read(self, start, stop):
        self._check_range(start, stop)
        return self._x[start:stop]


def read_mat_clip(path, *, variable: str | None = None) -> ArraySource:
    """A clip from a MATLAB .mat file in one of the two common layouts.

    * LRSLibrary: a struct ``video`` with ``frames(k).cdata`` (H, W) or (H, W, 3) uint8.
    * GoDec: a matrix ``M`` (pixels × frames) with scalars ``m``, ``n`` (frame height and width),
      frames stacked column-major (``M[:, k].reshape(m, n, order="F")``).
    * Or any 3-D/4-D numeric array variable (T, H, W[, 3]) named by ``variable``.
    """
    from sensekit.io import load_mat

    p = os.fspath(path)
    d = load_mat(p)
    if variable is not None:
        if variable not in d:
            raise InputError(f"{p}: no variable {variable!r} (found: {', '.join(sorted(d))})")
        arr = np.asarray(d[variable])
        if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3) or arr.dtype.kind not in "uif":
            raise InputError(f"{p}: variable {variable!r} must be numeric (T, H, W) or (T, H, W, 3), "
                             f"got {arr.dtype} {arr.shape}")
        return ArraySource(arr, p)
    if "video" in d and isinstance(d["video"], dict) and "frames" in d["video"]:
        fr = d["video"]["frames"]
        fr = fr if isinstance(fr, list) else [fr]
        try:
            imgs = [_as_frame(np.asarray(f["cdata"]), p) for f in fr]
        except (KeyError, TypeError):
            raise InputError(f"{p}: struct video.frames lacks the field 'cdata' (LRSLibrary layout)") from None
        if not imgs or len({i.shape for i in imgs}) != 1:
            raise InputError(f"{p}: video.frames(k).cdata must be non-empty frames of one size")
        return ArraySource(np.stack(imgs), p)
    if "M" in d:
        M = np.asarray(d["M"])
        if M.ndim != 2 or M.dtype.kind not in "uif":
            raise InputError(f"{p}: 'M' must be a numeric pixels × frames matrix, got {M.dtype} {M.shape}")
        try:
            m, n = int(np.asarray(d["m"]).ravel()[0]), int(np.asarray(d["n"]).ravel()[0])
        except (KeyError, IndexError, ValueError):
            raise InputError(f"{p}: GoDec layout needs scalars 'm' and 'n' (frame height, width) beside 'M'") from None
        if m * n != M.shape[0]:
            raise InputError(f"{p}: 'M' has {M.shape[0]} rows but m × n = {m} × {n} = {m * n}")
        return ArraySource(np.ascontiguousarray(M.T.reshape(M.shape[1], n, m).transpose(0, 2, 1)), p)
    raise InputError(f"{p}: no video clip found: expected a struct 'video' with frames(k).cdata (LRSLibrary), "
                     f"a matrix 'M' with 'm', 'n' (GoDec), or pass variable=; found {', '.join(sorted(d))}")


def read_wallflower(folder, *, threshold: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A Wallflower sequence folder: frames ``b*.bmp`` and hand-segmented masks ``hand_segmented_NNNNN.*``.

    Returns
    -------
    frames : ndarray uint8 (T, H, W, 3) or (T, H, W)
    gt_masks : ndarray uint8 (T, H, W) in the CDnet coding: the frames with a hand segmentation get 255
        where it is ≥ ``threshold`` and 0 elsewhere; every other frame is all 85 (not scored).
    """
    p = pathlib.Path(folder)
    src = ImageFolder(p, pattern="b*.bmp")
    frames = src.frames()
    T, H, W = frames.shape[:3]
    gt = np.full((T, H, W), 85, np.uint8)
    found = 0
    for f in p.iterdir():
        m = re.fullmatch(r"hand_segmented_(\d+)\.(bmp|png)", f.name, flags=re.IGNORECASE)
        if not m:
            continue
        k = int(m.group(1))
        if not 0 <= k < T:
            raise InputError(f"{f}: ground truth for frame {k}, but the sequence has {T} frames")
        g = ImageFolder.__new__(ImageFolder)._load(f)
        g = g if g.ndim == 2 else g.max(-1)
        if g.shape != (H, W):
            raise InputError(f"{f}: mask of size {g.shape}, frames are {(H, W)}")
        gt[k] = np.where(g >= threshold, 255, 0).astype(np.uint8)
        found += 1
    if not found:
        raise InputError(f"{p}: no hand_segmented_NNNNN.bmp ground-truth file (Wallflower layout)")
    return frames, gt


def read_gt_folder(folder, n_frames: int, frame_shape, *, threshold: int | None = None) -> np.ndarray:
    """Ground-truth masks from a folder of images in name order (CDnet ``groundtruth/``), uint8 (T, H, W).

    With ``threshold`` None the files are taken as CDnet-coded (0, 50, 85, 170, 255); otherwise binarised
    (255 where ≥ threshold, else 0).  The count and size must match the frames.
    """
    src = ImageFolder(folder, gray=True)
    g = src.frames()
    if g.shape[0] != n_frames or g.shape[1:] != tuple(frame_shape):
        raise InputError(f"{folder}: {g.shape[0]} masks of {g.shape[1:]} for {n_frames} frames of {tuple(frame_shape)}")
    g = g.astype(np.uint8)
    if threshold is not None:
        return np.where(g >= threshold, 255, 0).astype(np.uint8)
    bad = set(np.unique(g).tolist()) - {0, 50, 85, 170, 255}
    if bad:
        raise InputError(f"{folder}: values {sorted(bad)[:5]} are not CDnet codes (0, 50, 85, 170, 255); "
                         "pass threshold= to binarise")
    return g


def open_video(path, **kw) -> _Source:
    """The source for ``path``: a folder of images, a video file or a .mat clip."""
    p = os.fspath(path)
    if os.path.isdir(p):
        return ImageFolder(p, **kw)
    if not os.path.exists(p):
        raise InputError(f"{p}: file or folder not found")
    ext = os.path.splitext(p)[1].lower()
    if ext == ".mat":
        return read_mat_clip(p, **kw)
    if ext in VIDEO_EXT:
        return VideoFile(p, **kw)
    raise InputError(f"{p}: unknown video input; expected a folder of images, a video file "
                     f"({', '.join(VIDEO_EXT)}) or a .mat clip")


def to_float(frames: np.ndarray):
    """uint8 frames → float32 tensor in [0, 1]; float frames as float32 unchanged."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames))
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255
    if not x.is_floating_point():
        return x.to(torch.float32)
    return x.to(torch.float32)
