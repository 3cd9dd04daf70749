"""Input sources: the samples of one input, read lazily, whatever the file format.

An :class:`InputSource` is what the runner reads: the contract HDF5 reader
(:class:`~sensekit.io.hdf5.H5Input`), an app's non-HDF5 hook (a folder of images,
a video file, a MATLAB file: :meth:`sensekit.app.base.App.open_input`) and
in-memory arrays (:class:`ArraySource`) all give the same interface:

``n_samples``, ``has_n``, ``names``, ``layout(name)``, ``attrs(name)``,
``sample(i)`` (every dataset of sample ``i`` as numpy arrays, the ``N`` axis
removed, checked for NaN/Inf) and ``lazy(i)`` (the same datasets as
:class:`LazyArray` handles that read only the slices asked for; streaming apps
read their long inputs this way, block by block).
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Callable

import numpy as np

from .errors import ConfigError, InputError

#: environment variable: the most bytes one read of an input dataset may declare (e.g. ``512M``, ``8G``)
MAX_BYTES_ENV = "SENSEKIT_MAX_INPUT_BYTES"
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux MemAvailable, else free physical pages), or None."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    return None


def max_input_bytes() -> int:
    """The declared-size limit of one read of an input dataset.

    ``$SENSEKIT_MAX_INPUT_BYTES`` (bytes, or with a K/M/G/T binary suffix) when set; otherwise a
    quarter of the memory available now (the prepared sample, its device copy and the method's
    work arrays need several times the raw size), at least 256 MiB (8 GiB where the available
    memory cannot be read).  A file declaring more is refused before anything is read.

    Returns
    -------
    int
        The limit in bytes ($SENSEKIT_MAX_INPUT_BYTES, else a quarter of the available memory).
    """
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if raw:
        m = re.fullmatch(r"(\d+)\s*([KMGT]?)(?:i?B)?", raw, flags=re.IGNORECASE)
        if not m or int(m.group(1)) <= 0:
            raise ConfigError(f"${MAX_BYTES_ENV}={raw!r}: expected a positive number of bytes, e.g. 512M or 8G")
        return int(m.group(1)) * _UNITS[m.group(2).upper()]
    avail = _available_memory()
    return max(256 * 2 ** 20, avail // 4) if avail else 8 * 2 ** 30


def human_bytes(n: int) -> str:
    """A byte count in human units.

    Returns
    -------
    str
        ``n`` as e.g. ``"1.5 GiB"``.
    """
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_declared_size(path: str, name: str, shape: tuple, dtype, what: str = "") -> None:
    """:class:`InputError` naming file, dataset and size when reading ``shape`` x ``dtype`` exceeds the limit."""
    nbytes = int(np.prod([int(d) for d in shape], dtype=object)) * np.dtype(dtype).itemsize
    limit = max_input_bytes()
    if nbytes > limit:
        raise InputError(f"{path}: dataset '{name}' declares {human_bytes(nbytes)} {what or 'to read'} "
                         f"(shape {tuple(int(d) for d in shape)}, {np.dtype(dtype)}), above the input limit of "
                         f"{human_bytes(limit)} (set ${MAX_BYTES_ENV} to change it)")


def _selection_shape(key: tuple, shape: tuple) -> tuple:
    out = []
    for k, d in zip(key, shape):
        if isinstance(k, slice):
            out.append(len(range(*k.indices(d))))
        elif isinstance(k, (int, np.integer)):
            continue
        else:
            out.append(int(np.size(k)) if not np.ndim(k) == 0 else 1)
    return tuple(out)


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:160]


def _normalise_key(key, ndim: int) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(j for j, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1:]
    return key + (slice(None),) * (ndim - len(key))


def finite_or_raise(arr: np.ndarray, path: str, name: str, where: str = "") -> np.ndarray:
    """``arr`` (compound real/imag turned complex); :class:`InputError` naming file and dataset on NaN/Inf.

    Returns
    -------
    numpy.ndarray
        ``arr``, complex when it was stored as a real/imag compound.
    """
    arr = np.asarray(arr)
    if arr.dtype.names is not None and set(arr.dtype.names) == {"real", "imag"}:
        arr = arr["real"] + 1j * arr["imag"]
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: dataset '{name}' contains NaN or Inf values{where}")
    return arr


class LazyArray:
    """One dataset of one sample, read by slices (never whole unless asked).

    ``a[key]`` reads the selection (basic indexing: integers and slices) and
    checks it for NaN/Inf; ``a.read()`` reads everything; ``shape``, ``dtype``,
    ``ndim`` and ``nbytes`` come from the metadata without reading.

    Parameters
    ----------
    shape, dtype : of the dataset (without the sample axis).
    reader : ``reader(key) -> ndarray`` for a normalised key (a tuple with one
        entry per axis).
    name, path : for error messages.
    """

    def __init__(self, shape: tuple, dtype, reader: Callable[[tuple], np.ndarray], *, name: str, path: str):
        self.shape, self.dtype, self.name, self.path = tuple(int(d) for d in shape), np.dtype(dtype), name, path
        self._reader = reader

    @classmethod
    def from_array(cls, arr: np.ndarray, *, name: str, path: str = "input") -> "LazyArray":
        arr = np.asarray(arr)
        return cls(arr.shape, arr.dtype, lambda key: arr[key], name=name, path=path)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        key = _normalise_key(key, self.ndim)
        check_declared_size(self.path, self.name, _selection_shape(key, self.shape), self.dtype)
        try:
            arr = self._reader(key)
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"{self.path}: cannot read dataset '{self.name}' ({_short(e)}); "
                             f"is the file truncated?") from None
        return finite_or_raise(arr, self.path, self.name)

    def read(self) -> np.ndarray:
        """Read the whole array.

        Returns
        -------
        numpy.ndarray
            The whole array.
        """
        return self[()]

    def take(self, axis: int, start: int, stop: int) -> np.ndarray:
        """Entries ``start:stop`` along ``axis``.

        Returns
        -------
        numpy.ndarray
            The entries read.
        """
        key = [slice(None)] * self.ndim
        key[axis] = slice(start, stop)
        return self[tuple(key)]

    def __repr__(self):
        return f"LazyArray({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class InputSource:
    """The samples of one input (base class; see the module docstring).

    Subclasses set ``path`` (as the user gave it, for messages), ``label``
    (recorded as ``provenance/input``), ``n_samples`` and ``has_n``, and
    implement :meth:`names`, :meth:`layout`, :meth:`attrs` and :meth:`lazy`;
    :meth:`sample` reads every lazy array whole.
    """

    path: str = "input"
    label: str = "input"
    n_samples: int = 1
    has_n: bool = False

    @property
    def names(self) -> list:
        raise NotImplementedError

    def layout(self, name: str) -> list:
        """Axis tokens of dataset ``name`` without ``N`` (e.g. ``["T", "H", "W"]``).

        Returns
        -------
        list[str]
            The axis tokens.
        """
        raise NotImplementedError

    def attrs(self, name: str) -> dict:
        """The attributes of dataset ``name``.

        Returns
        -------
        dict
            ``{attr: value}`` (empty by default).
        """
        return {}

    def lazy(self, i: int) -> dict:
        """``{name: LazyArray}`` of sample ``i``.

        Returns
        -------
        dict
            ``{name: LazyArray}``.
        """
        raise NotImplementedError

    def sample(self, i: int) -> dict:
        """``{name: ndarray}`` of sample ``i`` (read whole, checked for NaN/Inf).

        Returns
        -------
        dict
            ``{name: ndarray}``.
        """
        if not 0 <= i < self.n_samples:
            raise IndexError(i)
        return {k: a.read() for k, a in self.lazy(i).items()}

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ArraySource(InputSource):
    """Samples held in memory: a list of ``{name: ndarray}`` (for hooks that decode a whole file).

    Parameters
    ----------
    samples : one dict of raw arrays per sample (the contract datasets, before ``prepare``).
    layouts : ``{name: "T,C,Y,X"}`` (or token lists), the layout of each dataset without ``N``.
    has_n : whether the input had a sample axis (outputs then keep a leading ``N``).
    path : the input as the user named it; ``label`` defaults to it.
    attrs : ``{name: {attr: value}}`` shared by every sample.
    """

    def __init__(self, samples: list, layouts: dict, *, has_n: bool | None = None, path: str = "input",
                 label: str | None = None, attrs: dict | None = None):
        if not samples:
            raise InputError(f"{path}: holds no samples")
        self._samples = [dict(s) for s in samples]
        self._layouts = {k: (v.split(",") if isinstance(v, str) else list(v)) for k, v in layouts.items()}
        self._layouts = {k: [t.strip() for t in v] for k, v in self._layouts.items()}
        self._attrs = dict(attrs or {})
        self.path, self.label = str(path), str(label if label is not None else path)
        self.n_samples = len(self._samples)
        self.has_n = bool(has_n if has_n is not None else self.n_samples > 1)

    @property
    def names(self):
        return list(self._samples[0])

    def layout(self, name):
        return self._layouts.get(name, [])

    def attrs(self, name):
        return dict(self._attrs.get(name, {}))

    def lazy(self, i):
        if not 0 <= i < self.n_samples:
            raise IndexError(i)
        return {k: LazyArray.from_array(v, name=k, path=self.path) for k, v in self._samples[i].items()}


def close_quietly(src: InputSource) -> None:
    with contextlib.suppress(Exception):
        src.close()
