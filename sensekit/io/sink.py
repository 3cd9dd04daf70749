"""A chunked HDF5 output sink: output datasets written block by block, never held whole in memory.

:class:`ChunkedSink` writes into an open ``h5py.File``; the file itself is a
temporary one made by :func:`sink_file` (temporary name in the target folder,
``os.replace`` onto the target only when everything succeeded), so a streamed
output is as atomic as an in-memory one.  Datasets are created on their first
block, chunked along the streamed axis (at most about 1 MiB per chunk) and gzip
compressed like :func:`~sensekit.io.hdf5.write_h5`'s, with the ``axes``
attribute of the contract.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .hdf5 import atomic_path

#: target bytes of one chunk of a streamed dataset
CHUNK_BYTES = 1 << 20


def chunk_shape(shape: tuple, axis: int, itemsize: int, block: int) -> tuple:
    """Chunks spanning every axis but ``axis``, and up to ``block`` entries (about 1 MiB) along it.

    Returns
    -------
    tuple[int, ...]
        The HDF5 chunk shape.
    """
    slab = int(np.prod([d for j, d in enumerate(shape) if j != axis], dtype=np.int64)) * itemsize
    along = max(1, min(int(block), int(shape[axis]) or 1, CHUNK_BYTES // max(slab, 1)))
    return tuple(along if j == axis else max(1, int(d)) for j, d in enumerate(shape))


class ChunkedSink:
    """Output datasets of one file, written block by block along a streamed axis.

    Parameters
    ----------
    h5 : an ``h5py.File`` (or group) open for writing.
    n_samples : the file's sample count when it has a leading ``N`` axis, else None.
    block : typical block length along the streamed axis (sets the chunk length).

    ``sink.write(name, start, block, axis=..., length=..., axes=..., index=i)``
    writes ``block`` at ``start:start+len`` along ``axis`` of sample ``index``'s
    part of dataset ``name`` (created on first use with ``length`` entries along
    ``axis``); ``sink.put(name, array, axes=..., index=i)`` writes a whole (small)
    per-sample output.  Every write goes straight to the file: memory holds one
    block at a time.
    """

    def __init__(self, h5, *, n_samples: int | None = None, block: int = 64):
        self.h5, self.n_samples, self.block = h5, n_samples, int(block)

    def _dataset(self, name: str, shape: tuple, dtype, axes: str | None, axis: int | None):
        if name in self.h5:
            d = self.h5[name]
            want = ((self.n_samples,) if self.n_samples is not None else ()) + tuple(shape)
            if tuple(d.shape) != want or d.dtype != np.dtype(dtype):
                raise ValueError(f"output '{name}': a block of shape {shape} {np.dtype(dtype)} does not fit the "
                                 f"dataset {tuple(d.shape)} {d.dtype} written by earlier blocks")
            return d
        full = ((self.n_samples,) if self.n_samples is not None else ()) + tuple(shape)
        kw = {}
        if int(np.prod(full, dtype=np.int64)) > 0:
            ax = (axis if axis is not None else 0) + (self.n_samples is not None)
            cs = chunk_shape(full, ax, np.dtype(dtype).itemsize, self.block)
            if self.n_samples is not None:
                cs = (1,) + cs[1:]
            kw = {"chunks": cs}
            if int(np.prod(full, dtype=np.int64)) > 4096:
                kw.update(compression="gzip", compression_opts=4)
        d = self.h5.create_dataset(name, shape=full, dtype=dtype, **kw)
        if axes:
            d.attrs["axes"] = ("N," + axes) if self.n_samples is not None else axes
        return d

    def write(self, name: str, start: int, block, *, axis: int, length: int, axes: str | None = None,
              index: int = 0) -> None:
        block = np.asarray(block)
        shape = list(block.shape)
        shape[axis] = int(length)
        d = self._dataset(name, tuple(shape), block.dtype, axes, axis)
        key = [slice(None)] * block.ndim
        key[axis] = slice(int(start), int(start) + block.shape[axis])
        if self.n_samples is not None:
            key = [index] + key
        d[tuple(key)] = block

    def put(self, name: str, array, *, axes: str | None = None, index: int = 0) -> None:
        array = np.asarray(array)
        d = self._dataset(name, array.shape, array.dtype, axes, None)
        if self.n_samples is not None:
            d[index] = array
        else:
            d[...] = array

    def flush(self) -> None:
        self.h5.flush()


@contextlib.contextmanager
def sink_file(path: str):
    """An ``h5py.File`` at a temporary path beside ``path``, renamed onto it only if the block succeeds.

    Yields
    ------
    h5py.File
        The file open for writing at the temporary path.
    """
    import h5py
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            yield f
            f.flush()


def copy_along(src, dst_sink: ChunkedSink, name: str, *, axis: int, block: int, axes: str | None,
               index: int = 0) -> None:
    """Copy dataset ``src`` (an ``h5py.Dataset`` of one sample) into ``dst_sink`` block by block along ``axis``."""
    n = src.shape[axis]
    if n == 0 or src.ndim == 0:
        dst_sink.put(name, src[()], axes=axes, index=index)
        return
    for s in range(0, n, max(1, block)):
        key = [slice(None)] * src.ndim
        key[axis] = slice(s, min(n, s + block))
        dst_sink.write(name, s, src[tuple(key)], axis=axis, length=n, axes=axes, index=index)
