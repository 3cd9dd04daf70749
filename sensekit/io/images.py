"""A folder of image files as one lazily read input (frames in name order), through Pillow.

Pillow comes with matplotlib (a core dependency); the ``images`` extra names it
explicitly.  Use it from an app's :meth:`~sensekit.app.base.App.open_input` hook::

    def open_input(self, path):
        if os.path.isdir(path):
            return ImageFolder(path, dataset="frames")
        return None
"""
from __future__ import annotations

import glob
import os
import re

import numpy as np

from .errors import InputError
from .source import InputSource, LazyArray, _short

#: image file patterns read by default
IMAGE_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.bmp", "*.tif", "*.tiff")


def natural_key(name: str):
    """Sort key putting ``frame2`` before ``frame10``.

    Returns
    -------
    list
        The key: digit runs as ints, other text lower-cased.
    """
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise InputError("reading image files needs Pillow: pip install 'sensekit[images]'") from None
    return Image


def read_image(path: str) -> np.ndarray:
    """One image as (H, W) (grey, 8 or 16 bit) or (H, W, 3) (colour; alpha and palettes converted to RGB).

    Returns
    -------
    numpy.ndarray
        The image as ``(H, W)`` or ``(H, W, 3)`` (uint8 for colour) in the dtype Pillow reads.
    """
    Image = _pil()
    try:
        with Image.open(path) as im:
            if im.mode in ("L", "I;16", "I;16B", "I;16L", "I", "F", "1"):
                arr = np.asarray(im.convert("L") if im.mode == "1" else im)
            else:
                arr = np.asarray(im.convert("RGB"))
    except Exception as e:
        raise InputError(f"{path}: cannot read as an image ({_short(e)})") from None
    return np.array(arr)


def image_files(folder: str, patterns=IMAGE_PATTERNS) -> list:
    """The image files directly inside ``folder`` matching ``patterns``, in natural name order.

    Returns
    -------
    list[str]
        The matching paths in natural order.
    """
    found = set()
    for pat in patterns:
        found.update(p for p in glob.glob(os.path.join(glob.escape(folder), pat)) if os.path.isfile(p))
        found.update(p for p in glob.glob(os.path.join(glob.escape(folder), pat.upper())) if os.path.isfile(p))
    return sorted(found, key=lambda p: natural_key(os.path.basename(p)))


class ImageFolder(InputSource):
    """A folder of images as ONE sample: dataset ``dataset`` of shape (T, H, W) or (T, H, W, 3).

    Frames are the folder's image files in natural name order; every frame must have the
    first one's size and colour mode.  Reading is lazy: ``lazy(0)[dataset][s:e]`` opens
    only images ``s..e-1``, so a streamed app reads a long sequence block by block.

    Parameters
    ----------
    path : the folder.
    dataset : the contract dataset the frames stand for (e.g. ``"frames"``).
    patterns : image file patterns.
    """

    def __init__(self, path: str, *, dataset: str = "frames", patterns=IMAGE_PATTERNS):
        self.path, self.dataset = str(path), dataset
        self.label = os.path.abspath(self.path)
        if not os.path.isdir(self.path):
            raise InputError(f"{self.path}: not a folder of images")
        self.files = image_files(self.path, patterns)
        if not self.files:
            raise InputError(f"{self.path}: no image files ({', '.join(patterns)}) in the folder")
        first = read_image(self.files[0])
        self.frame_shape, self.dtype = first.shape, first.dtype
        self.n_samples, self.has_n = 1, False

    @property
    def names(self):
        return [self.dataset]

    def layout(self, name):
        return ["T", "H", "W"] + (["C"] if len(self.frame_shape) == 3 else [])

    def attrs(self, name):
        return {"source_files": len(self.files)}

    def _read(self, key: tuple) -> np.ndarray:
        idx = range(len(self.files))[key[0]]
        single = isinstance(idx, int)
        frames = []
        for j in ([idx] if single else idx):
            im = read_image(self.files[j])
            if im.shape != self.frame_shape or im.dtype != self.dtype:
                raise InputError(f"{self.files[j]}: image of shape {im.shape} {im.dtype}, expected "
                                 f"{self.frame_shape} {self.dtype} like {os.path.basename(self.files[0])}")
            frames.append(im[key[1:]])
        if single:
            return frames[0]
        if not frames:
            return np.zeros((0,) + np.empty(self.frame_shape, self.dtype)[key[1:]].shape, self.dtype)
        return np.stack(frames)

    def lazy(self, i):
        if i != 0:
            raise IndexError(i)
        shape = (len(self.files),) + tuple(self.frame_shape)
        return {self.dataset: LazyArray(shape, self.dtype, self._read, name=self.dataset, path=self.path)}
