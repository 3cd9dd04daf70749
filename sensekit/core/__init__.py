"""Device and dtype helpers, seeded generators, small shared utilities."""
from .device import resolve_device, real_dtype, complex_dtype, is_complex, as_tensor
from .random import make_generator, randn_like, randn
from .util import check_kwargs, vdot, norm, rel_err

__all__ = [
    "resolve_device", "real_dtype", "complex_dtype", "is_complex", "as_tensor",
    "make_generator", "randn_like", "randn", "check_kwargs", "vdot", "norm", "rel_err",
]
