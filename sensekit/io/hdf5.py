"""HDF5 input and output per CONTRACTS.md.

Reading is lazy (datasets are validated from their metadata on open and read
one sample at a time); writing is atomic (a temporary file in the target
folder, then ``os.replace``), so a failed run never leaves a partial file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from typing import Sequence

import numpy as np

from .errors import InputError
from .source import InputSource, LazyArray, _short, check_declared_size

_UMASK = os.umask(0o022)   # read once, at import (os.umask can only be read by setting it)
os.umask(_UMASK)

_KINDS = {"complex": "c", "float": "f", "int": "iu", "bool": "b"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset of an app's input or output.

    Parameters
    ----------
    name : dataset name at the file root.
    layouts : accepted axis layouts, e.g. ``("T,C,Y,X",)``; a token that is an
        integer is a fixed size (``"T,Y,1"``).  A leading ``N`` (samples) is
        always allowed in addition.
    kinds : accepted dtype kinds among ``complex``, ``float``, ``int``, ``bool``.
    required : whether the dataset must be present.
    doc : one line for ``sensekit info``.
    ragged : the first axis of the layout (e.g. ``P`` in ``"P,4"``) is a per-sample
        length that differs between samples (a variable-length table such as isac's
        ``targets``). In a file without a sample axis the dataset is the table itself
        (P, ...); with a leading ``N`` it is (N, P_max, ...) padded with NaN rows
        (0 / False for integer and boolean tables) and the int64 dataset
        :attr:`counts_name` (N) gives each sample's row count. On input the counts
        dataset may be omitted: trailing rows that are entirely NaN are padding.
        A table may have zero rows. See docs/CONTRACTS.md, "Ragged tables".
    counts : name of the companion counts dataset (default ``<name>_counts``).
    """

    name: str
    layouts: tuple
    kinds: tuple = ("float",)
    required: bool = True
    doc: str = ""
    ragged: bool = False
    counts: str = ""

    @property
    def counts_name(self) -> str:
        """The dataset holding each sample's row count of a ragged table in a multi-sample file."""
        return self.counts or f"{self.name}_counts"

    def layout_for(self, ndim: int, shape: tuple | None = None) -> str | None:
        """The declared layout with ``ndim`` axes (no ``N``); fixed sizes must match ``shape`` when given.

        Several layouts of one rank: the first whose fixed sizes fit. None when no layout has that rank.

        Returns
        -------
        str or None
            The first fitting layout, or None when none fits.
        """
        fits = [lay for lay in self.layouts if len(_tokens(lay)) == ndim]
        if shape is not None:
            exact = [lay for lay in fits
                     if all(not t.isdigit() or int(t) == d for t, d in zip(_tokens(lay), shape))]
            fits = exact or fits
        return fits[0] if fits else None

    def describe(self) -> str:
        """One line describing the dataset (for ``sensekit info``).

        Returns
        -------
        str
            The name, layouts, kinds, whether required or ragged, and the help text.
        """
        req = "required" if self.required else "optional"
        rag = "; ragged: rows differ per sample, N-files pad with NaN + " + self.counts_name if self.ragged else ""
        return f"{self.name} ({' | '.join(self.layouts)}; {'/'.join(self.kinds)}; {req}{rag}): {self.doc}"


def _tokens(layout: str):
    return [t.strip() for t in layout.split(",") if t.strip()]


@dataclasses.dataclass
class Resolved:
    name: str
    layout: list       # tokens without N
    has_n: bool
    shape: tuple


def _only_rows_empty(shape, spec) -> bool:
    """A ragged table may have zero rows (its row axis is the first after an optional N), nothing else may be 0."""
    ncols = len(_tokens(spec.layouts[0])) - 1
    return all(d > 0 for d in shape[len(shape) - ncols:]) if ncols else True


def _dtype_ok(dtype: np.dtype, kinds) -> bool:
    if dtype.names is not None and set(dtype.names) == {"real", "imag"}:  # MATLAB-style compound complex
        return "complex" in kinds
    return any(dtype.kind in _KINDS[k] for k in kinds)


def resolve_layouts(path: str, specs: Sequence[DatasetSpec], shapes: dict, dtypes: dict,
                    axes_attrs: dict) -> dict:
    """Match each present dataset to a layout; check dtypes and that named axes agree.

    Returns ``{name: Resolved}``; raises :class:`InputError` with a one-line
    message naming the file, the dataset and what was expected.  Without ``axes``
    attributes a rank can be ambiguous (a colour video (T,H,W,3) or N grey videos
    (N,T,H,W)): the reading without a sample axis is tried first, then the one with N
    where that is the only one under which every dataset fits.

    Returns
    -------
    dict
        ``{dataset name: layout}`` of the present datasets.
    """
    try:
        return _resolve(path, specs, shapes, dtypes, axes_attrs, prefer_n=False)
    except InputError as first:
        try:
            return _resolve(path, specs, shapes, dtypes, axes_attrs, prefer_n=True)
        except InputError:
            raise first from None


def _resolve(path, specs, shapes, dtypes, axes_attrs, *, prefer_n: bool) -> dict:
    out: dict = {}
    file_has_n = None
    sizes: dict = {}
    for spec in specs:
        if spec.name not in shapes:
            if spec.required:
                raise InputError(f"{path}: missing dataset '{spec.name}' (expected {' or '.join(spec.layouts)})")
            continue
        shape, dtype = shapes[spec.name], dtypes[spec.name]
        if not _dtype_ok(dtype, spec.kinds):
            raise InputError(f"{path}: dataset '{spec.name}' has dtype {dtype}, expected {'/'.join(spec.kinds)}")
        if int(np.prod(shape)) == 0 and not (spec.ragged and _only_rows_empty(shape, spec)):
            raise InputError(f"{path}: dataset '{spec.name}' is empty (shape {shape})")
        attr = axes_attrs.get(spec.name)
        # every layout without N before any with N: a (T,H,W,3) colour video is not N (T,H,W) grey videos
        cands = [(_tokens(lay), prefer_n) for lay in spec.layouts] + \
            [(_tokens(lay), not prefer_n) for lay in spec.layouts]
        if attr is not None:
            want = _tokens(attr)
            chosen = [(t, n) for t, n in cands if (["N"] + t if n else t) == want]
            if not chosen:
                raise InputError(f"{path}: dataset '{spec.name}' has axes attribute '{attr}', expected "
                                 f"{' or '.join(spec.layouts)} (optionally with a leading N)")
        else:
            chosen = [(t, n) for t, n in cands if len(t) + n == len(shape)]
            if file_has_n is not None:  # prefer agreeing with the file's sample axis
                chosen.sort(key=lambda c: c[1] != file_has_n)
        res = None
        for toks, has_n in chosen:
            if len(toks) + has_n != len(shape):
                continue
            dims = shape[1:] if has_n else shape
            if any(t.isdigit() and int(t) != d for t, d in zip(toks, dims)):
                continue
            res = Resolved(spec.name, toks, has_n, tuple(shape))
            break
        if res is None:
            raise InputError(f"{path}: dataset '{spec.name}' has shape {tuple(shape)}, expected "
                             f"{' or '.join('(' + l + ')' for l in spec.layouts)} (optionally with a leading N)")
        if res.has_n:
            if file_has_n is False and out:
                first = next(iter(out))
                raise InputError(f"{path}: dataset '{spec.name}' has a leading sample axis N but '{first}' has none")
            file_has_n = True
            nsz = shape[0]
            if sizes.setdefault("N", nsz) != nsz:
                raise InputError(f"{path}: dataset '{spec.name}' has {nsz} samples, expected {sizes['N']}")
        elif file_has_n is None:
            file_has_n = False
        dims = shape[1:] if res.has_n else shape
        for j, (t, d) in enumerate(zip(res.layout, dims)):
            if t.isdigit() or (spec.ragged and j == 0):   # a ragged row count is per sample, not a shared size
                continue
            if t in sizes and sizes[t] != d:
                raise InputError(f"{path}: dataset '{spec.name}' has {t}={d}, but another dataset has {t}={sizes[t]}")
            sizes.setdefault(t, d)
        out[spec.name] = res
    return out


def local_object(f, name: str, path: str):
    """The object ``name`` of the open file ``f``, or None when absent; refuses data stored outside the file.

    Every component of ``name`` is followed link by link: an external link (or a soft link that
    reaches one, i.e. leaves the file), a dangling soft link, a virtual dataset mapping another
    file and a dataset whose raw data live in external files raise :class:`InputError` naming the
    file and the dataset.  Nothing outside ``path`` is opened (issue 17).

    Returns
    -------
    h5py.Group or h5py.Dataset or None
        The object, or None when ``name`` is absent.
    """
    import h5py

    todo = [p for p in name.split("/") if p]
    cur: list = []
    hops = 0
    while todo:
        part = todo.pop(0)
        at = "/" + "/".join(cur + [part])
        try:
            link = f.get(at, getlink=True)
        except Exception as e:
            raise InputError(f"{path}: cannot read the link '{at}' of dataset '{name}' ({_short(e)}); "
                             f"is the file corrupt?") from None
        if link is None:
            if hops:
                raise InputError(f"{path}: dataset '{name}' is a soft link to '{at}', which does not exist "
                                 f"in the file (a dangling link)")
            return None
        if isinstance(link, h5py.ExternalLink):
            raise InputError(f"{path}: dataset '{name}' is an external link to {link.filename}:{link.path} "
                             f"(a link leaving the file); datasets must be stored in the input file")
        if isinstance(link, h5py.SoftLink):
            hops += 1
            if hops > 64:
                raise InputError(f"{path}: dataset '{name}' is a soft link that loops")
            target = [p for p in str(link.path).split("/") if p]
            if ".." in target:
                raise InputError(f"{path}: dataset '{name}' is a soft link to '{link.path}' (outside the file's "
                                 f"groups); datasets must be stored in the input file")
            cur = target if str(link.path).startswith("/") else cur + target
            todo = cur + todo
            cur = []
            continue
        cur.append(part)
    try:
        obj = f["/" + "/".join(cur)] if cur else f["/"]
    except Exception as e:
        raise InputError(f"{path}: cannot open dataset '{name}' ({_short(e)}); is the file corrupt?") from None
    if isinstance(obj, h5py.Dataset):
        if obj.is_virtual:
            others = sorted({vs.file_name for vs in obj.virtual_sources() if vs.file_name != "."})
            if others:
                raise InputError(f"{path}: dataset '{name}' is a virtual dataset mapping another file "
                                 f"({', '.join(others)[:160]}); datasets must be stored in the input file")
        if obj.external:
            raise InputError(f"{path}: dataset '{name}' stores its data in external file(s) "
                             f"({', '.join(str(e[0]) for e in obj.external)[:160]}); datasets must be stored "
                             f"in the input file")
    return obj


class H5Input(InputSource):
    """Lazy, validated reader of an app input file (an :class:`~sensekit.io.source.InputSource`).

    ``with H5Input(path, specs) as f: f.n_samples; f.sample(i)`` — ``sample``
    returns ``{name: ndarray}`` for one sample (the ``N`` axis removed), checked
    for NaN/Inf; ``lazy(i)`` returns the same datasets as
    :class:`~sensekit.io.source.LazyArray` handles read by slices.  Ragged
    tables (:attr:`DatasetSpec.ragged`) come back with their own row count.
    The file is opened read-only and never modified.
    """

    def __init__(self, path: str, specs: Sequence[DatasetSpec]):
        import h5py

        self.path, self.specs = str(path), list(specs)
        self.label = os.path.abspath(self.path)
        if not os.path.exists(self.path):
            raise InputError(f"{self.path}: file not found")
        if os.path.isdir(self.path):
            raise InputError(f"{self.path}: is a directory, expected an HDF5 file")
        if os.path.getsize(self.path) == 0:
            raise InputError(f"{self.path}: file is empty, expected an HDF5 file")
        try:
            if not h5py.is_hdf5(self.path):
                raise InputError(f"{self.path}: not an HDF5 file")
            self._f = h5py.File(self.path, "r")
        except InputError:
            raise
        except Exception as e:  # truncated or corrupt files
            raise InputError(f"{self.path}: cannot open as HDF5 ({_short(e)}); is the file truncated?") from None
        try:
            shapes, dtypes, attrs = {}, {}, {}
            self._d = {}
            for spec in self.specs:
                d = local_object(self._f, spec.name, self.path)
                if d is None:
                    continue
                if not hasattr(d, "shape"):
                    raise InputError(f"{self.path}: '{spec.name}' is a group, expected a dataset")
                try:
                    shapes[spec.name], dtypes[spec.name] = tuple(d.shape), d.dtype
                    a = d.attrs.get("axes")
                except Exception as e:   # corrupt metadata (bit flips)
                    raise InputError(f"{self.path}: cannot read the metadata of dataset '{spec.name}' "
                                     f"({_short(e)}); is the file corrupt?") from None
                self._d[spec.name] = d
                if a is not None:
                    attrs[spec.name] = a.decode() if isinstance(a, bytes) else str(a)
            self.resolved = resolve_layouts(self.path, self.specs, shapes, dtypes, attrs)
            ns = [r.shape[0] for r in self.resolved.values() if r.has_n]
            self.has_n = bool(ns)
            self.n_samples = ns[0] if ns else 1
            self._counts = {spec.name: self._read_counts(spec) for spec in self.specs
                            if spec.ragged and spec.name in self.resolved and self.resolved[spec.name].has_n}
        except Exception:
            self._f.close()
            raise

    def _read_counts(self, spec: DatasetSpec):
        """Row counts of a ragged table in a multi-sample file (None: inferred from NaN padding per sample)."""
        cname = spec.counts_name
        c = local_object(self._f, cname, self.path)
        if c is None:
            return None
        n, pmax = self.resolved[spec.name].shape[:2]
        if not hasattr(c, "shape") or c.dtype.kind not in "iu" or tuple(c.shape) != (n,):
            raise InputError(f"{self.path}: dataset '{cname}' (row counts of '{spec.name}') must be integer "
                             f"with shape ({n},), got {getattr(c, 'dtype', 'a group')} {getattr(c, 'shape', '')}")
        check_declared_size(self.path, cname, c.shape, c.dtype, "as row counts")
        counts = np.asarray(c[()], dtype=np.int64)
        if counts.min() < 0 or counts.max() > pmax:
            raise InputError(f"{self.path}: dataset '{cname}' holds counts outside 0..{pmax} "
                             f"(the rows of '{spec.name}')")
        return counts

    def close(self):
        with contextlib.suppress(Exception):
            self._f.close()

    @property
    def names(self):
        return list(self.resolved)

    def attrs(self, name: str) -> dict:
        out = {}
        try:
            items = list(self._d[name].attrs.items())
        except Exception as e:   # corrupt metadata
            raise InputError(f"{self.path}: cannot read the attributes of dataset '{name}' ({_short(e)}); "
                             f"is the file corrupt?") from None
        for k, v in items:
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    def layout(self, name: str) -> list:
        return self.resolved[name].layout

    def _spec(self, name: str) -> DatasetSpec:
        return next(s for s in self.specs if s.name == name)

    def _rows(self, name: str, i: int) -> int:
        """Rows of sample ``i`` of a ragged table: from the counts dataset, else the table without NaN padding."""
        res = self.resolved[name]
        counts = self._counts.get(name) if res.has_n else None
        if counts is not None:
            return int(counts[i])
        check_declared_size(self.path, name, res.shape[1:] if res.has_n else res.shape, self._d[name].dtype,
                            "as a table")
        table = np.asarray(self._d[name][i] if res.has_n else self._d[name][()])
        if table.dtype.kind not in "fc" or table.shape[0] == 0:
            return table.shape[0]
        pad = np.all(np.isnan(table.reshape(table.shape[0], -1)), axis=1)
        n = table.shape[0]
        while n and pad[n - 1]:
            n -= 1
        return n

    def lazy(self, i: int) -> dict:
        if not 0 <= i < self.n_samples:
            raise IndexError(i)
        out = {}
        for name, res in self.resolved.items():
            d = self._d[name]
            shape = res.shape[1:] if res.has_n else res.shape
            if self._spec(name).ragged:
                shape = (self._rows_checked(name, i),) + tuple(shape[1:])
            out[name] = LazyArray(shape, d.dtype, _reader(d, i if res.has_n else None), name=name, path=self.path)
            if self._spec(name).ragged:   # a view limited to the sample's rows
                out[name] = _rows_view(out[name], shape)
        return out

    def _rows_checked(self, name: str, i: int) -> int:
        try:
            return self._rows(name, i)
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"{self.path}: cannot read dataset '{name}' ({_short(e)}); "
                             f"is the file truncated?") from None


def _reader(d, i: int | None):
    """Read a normalised key from dataset ``d`` (of sample ``i`` when the file has an N axis)."""
    if i is not None:
        return lambda key: d[(i,) + key]
    return lambda key: d[key] if key else d[()]


def _rows_view(full: LazyArray, shape: tuple) -> LazyArray:
    """The first ``shape[0]`` rows of a padded table, as a LazyArray of that shape (tables are small: read whole)."""
    def reader(key):
        table = np.asarray(full._reader((slice(None),) * full.ndim))[:shape[0]]
        return table[key]
    return LazyArray(shape, full.dtype, reader, name=full.name, path=full.path)


def _jsonable(v):
    if isinstance(v, str):  # str subclasses (e.g. torch's TorchVersion) become plain str
        return str(v)
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return v


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ".h5"):
    """Yield a temporary path next to ``path``; rename onto it only on success.

    Yields
    ------
    str
        The temporary path to write.
    """
    path = os.path.abspath(str(path))
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"{path}: output folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp's 0600 would make every output private
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_h5(path: str, datasets: dict, *, attrs: dict | None = None, groups: dict | None = None,
             dataset_attrs: dict | None = None) -> None:
    """Write datasets (and attribute-only groups) atomically.

    Parameters
    ----------
    datasets : {name: (array, axes)} with ``axes`` a string such as ``"T,Y,X"``
        (or None); written at the root with an ``axes`` attribute.
    attrs : root attributes.
    groups : {group name: {attr: scalar}} (e.g. ``provenance``, ``metrics``).
    dataset_attrs : {dataset name: {attr: value}} extra attributes.
    """
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, (arr, axes) in datasets.items():
                arr = np.asarray(arr)
                kw = {"compression": "gzip", "compression_opts": 4} if arr.size > 4096 else {}
                d = f.create_dataset(name, data=arr, **kw)
                if axes:
                    d.attrs["axes"] = axes
                for k, v in (dataset_attrs or {}).get(name, {}).items():
                    d.attrs[k] = _jsonable(v)
            for k, v in (attrs or {}).items():
                f.attrs[k] = _jsonable(v)
            write_groups(f, groups or {})
            f.flush()


def write_groups(f, groups: dict) -> None:
    """Attribute-only groups (``{group: {attr: scalar}}``) into an open file, replacing any of the same name."""
    for g, items in groups.items():
        if g in f:
            del f[g]
        grp = f.create_group(g)
        for k, v in items.items():
            grp.attrs[k] = _jsonable(v)


def read_group_attrs(path: str, group: str) -> dict:
    """Attributes of a group as plain Python values.

    Returns
    -------
    dict
        ``{name: value}``, bytes decoded and NumPy scalars as Python values.
    """
    import h5py

    with h5py.File(path, "r") as f:
        out = {}
        for k, v in f[group].attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out
