"""Non-HDF5 inputs of ``sensekit run rpca-video --input`` and ``batch``: image folders, video files, .mat clips.

* a folder of image files (``folder_patterns``): ONE input, frames in natural name order, read lazily by
  :class:`sensekit.io.images.ImageFolder` (Pillow);
* a video file (.avi, .mp4, ...): :class:`VideoSource`, decoded by PyAV (the optional ``video`` extra)
  sequentially, block after block, so a long video never sits in memory (one counting pass first: the
  frame count in a container's header is not reliable);
* a MATLAB clip (.mat, LRSLibrary ``video.frames(k).cdata`` or GoDec ``M, m, n``): read whole
  (:func:`.readers.read_mat_clip`), as MATLAB files are small clips.

Every source gives the contract dataset ``frames`` (T, H, W) or (T, H, W, 3), uint8 or float.
"""
from __future__ import annotations

import os

import numpy as np

from sensekit.io.errors import InputError
from sensekit.io.source import ArraySource, InputSource, LazyArray

from .readers import VIDEO_EXT, VideoFile, read_mat_clip

#: image files that make a folder one input (``App.folder_patterns``)
FRAME_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.bmp", "*.tif", "*.tiff", "*.pgm", "*.ppm")


def _layout(frame_shape) -> list:
    return ["T", "H", "W"] + (["3"] if len(frame_shape) == 3 else [])


class VideoSource(InputSource):
    """A video file as one sample with the lazy dataset ``frames`` (T, H, W) or (T, H, W, 3) uint8.

    Reads of consecutive frame ranges continue one open decoder (no seek), so streaming a video block by
    block decodes it once (plus the counting pass at open); a read before the decoder's position starts
    decoding again from the first frame (figures of a few frames).
    """

    def __init__(self, path: str):
        self.path = str(path)
        self.label = os.path.abspath(self.path)
        self.video = VideoFile(self.path)        # InputError for a missing, empty or undecodable file
        self.length = self.video.count()
        self.frame_shape = tuple(self.video.shape[1:])
        self.n_samples, self.has_n = 1, False
        self._it, self._pos = None, 0

    @property
    def names(self):
        return ["frames"]

    def layout(self, name):
        return _layout(self.frame_shape)

    def attrs(self, name):
        return {"source_frames": self.length}

    def _restart(self):
        if self._it is not None:
            self._it.close()
        self._it, self._pos = self.video._decode(), 0

    def _next(self):
        try:
            img = next(self._it)
        except StopIteration:
            raise InputError(f"{self.path}: the video ended after {self._pos} frames, "
                             f"{self.length} were counted") from None
        self._pos += 1
        return self.video._fix(img)

    def _read(self, key: tuple) -> np.ndarray:
        idx = range(self.length)[key[0]]
        single = isinstance(idx, int)
        want = [idx] if single else list(idx)
        if not want:
            return np.zeros((0,) + np.empty(self.frame_shape, np.uint8)[key[1:]].shape, np.uint8)
        lo, hi = min(want), max(want)
        if self._it is None or lo < self._pos:
            self._restart()
        while self._pos < lo:
            self._next()
        got = {}
        for j in range(lo, hi + 1):
            got[j] = self._next()
        frames = [got[j][key[1:]] for j in want]
        return frames[0] if single else np.stack(frames)

    def lazy(self, i):
        if i != 0:
            raise IndexError(i)
        return {"frames": LazyArray((self.length,) + self.frame_shape, np.uint8, self._read, name="frames",
                                    path=self.path)}

    def close(self):
        if self._it is not None:
            self._it.close()
            self._it = None


def open_input(path: str):
    """The :class:`~sensekit.io.source.InputSource` of a folder of frames, a video or a .mat clip; None for HDF5."""
    p = os.fspath(path)
    if os.path.isdir(p):
        from sensekit.io.images import ImageFolder
        return ImageFolder(p, dataset="frames", patterns=FRAME_PATTERNS)
    ext = os.path.splitext(p)[1].lower()
    if ext in VIDEO_EXT:
        return VideoSource(p)
    if ext == ".mat":
        if not os.path.isfile(p):
            raise InputError(f"{p}: file not found")
        clip = read_mat_clip(p)
        frames = np.asarray(clip.read(0, clip.shape[0]))
        return ArraySource([{"frames": frames}], {"frames": _layout(frames.shape[1:])}, has_n=False, path=p,
                           label=os.path.abspath(p))
    return None
