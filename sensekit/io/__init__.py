"""Input and output: the HDF5 contract (and readers for other formats as apps need them).

Attributes are imported lazily so that the CLI's light commands stay fast.
"""
import importlib

from .errors import InputError, ConfigError

_ATTRS = {name: "hdf5" for name in ("DatasetSpec", "H5Input", "write_h5", "read_group_attrs", "atomic_path",
                                     "resolve_layouts")}

__all__ = ["InputError", "ConfigError"] + sorted(_ATTRS)


def __getattr__(name):
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
