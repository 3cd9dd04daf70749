"""Input and output: the HDF5 contract (lazy sources, ragged tables, a chunked sink for streamed outputs),
image folders, and readers for MATLAB .mat (v5 and v7.3), BART .cfl/.hdr,
fastMRI-layout HDF5 and ISMRMRD raw data (the last through the optional ``ismrmrd`` extra).

Attributes are imported lazily so that the CLI's light commands stay fast.
"""
import importlib

from .errors import InputError, ConfigError

_ATTRS = {name: "hdf5" for name in ("DatasetSpec", "H5Input", "write_h5", "read_group_attrs", "atomic_path",
                                     "resolve_layouts")}
_ATTRS.update({"load_mat": "matlab", "mat_version": "matlab", "read_cfl": "cfl", "write_cfl": "cfl",
               "read_fastmri": "fastmri", "is_fastmri": "fastmri", "read_ismrmrd": "mrd", "is_ismrmrd": "mrd",
               "parse_ismrmrd_header": "mrd", "detect_format": "formats", "FORMATS": "formats",
               "InputSource": "source", "LazyArray": "source", "ArraySource": "source",
               "ImageFolder": "images", "read_image": "images", "ChunkedSink": "sink", "sink_file": "sink"})

__all__ = ["InputError", "ConfigError"] + sorted(_ATTRS)


def __getattr__(name):
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
