"""Finite differences (the gradient behind total variation)."""
from __future__ import annotations

import torch

from .base import LinOp, _shape
from .fourier import _neg_axes


class FiniteDiff(LinOp):
    """Forward differences along chosen axes, stacked on a new leading axis.

    ``in_shape = shape``, ``out_shape = (len(axes), *shape)``; component ``i`` is
    ``x[n+1] − x[n]`` along ``axes[i]``.  Use it for spatial TV (``axes=(-2, -1)``),
    temporal TV (``axes=(-3,)`` on ``(T, Y, X)``) or both.

    Parameters
    ----------
    shape : tuple of int
    axes : tuple of int
    boundary : {"periodic", "neumann"}
        ``periodic`` wraps around (natural for cardiac cycles in time);
        ``neumann`` sets the difference at the last sample to zero.

    Notes
    -----
    ‖D‖² ≤ 4 · len(axes) (see :attr:`norm_bound`), which fixes safe step sizes
    for primal–dual TV solvers without a power iteration.
    """

    def __init__(self, shape, axes=(-2, -1), boundary: str = "periodic"):
        shape = _shape(shape)
        if boundary not in ("periodic", "neumann"):
            raise ValueError(f"FiniteDiff: boundary must be 'periodic' or 'neumann', got {boundary!r}")
        self.axes = _neg_axes(axes, len(shape))
        super().__init__(shape, (len(self.axes),) + shape)
        self.boundary = boundary

    @property
    def norm_bound(self) -> float:
        """An upper bound on ‖D‖² (the squared operator norm)."""
        return 4.0 * len(self.axes)

    def _d(self, x, ax):
        if self.boundary == "periodic":
            return torch.roll(x, shifts=-1, dims=ax) - x
        n = x.shape[ax]
        d = x.narrow(ax, 1, n - 1) - x.narrow(ax, 0, n - 1)
        return torch.cat([d, torch.zeros_like(x.narrow(ax, 0, 1))], dim=ax)

    def _dh(self, y, ax):
        if self.boundary == "periodic":
            return torch.roll(y, shifts=1, dims=ax) - y
        n = y.shape[ax]
        head = y.narrow(ax, 0, n - 1)  # the last component is ignored by the forward map
        zero = torch.zeros_like(y.narrow(ax, 0, 1))
        return torch.cat([zero, head], dim=ax) - torch.cat([head, zero], dim=ax)

    def _forward(self, x):
        return torch.stack([self._d(x, ax) for ax in self.axes], dim=-len(self.in_shape) - 1)

    def _adjoint(self, y):
        k = -len(self.in_shape) - 1
        out = None
        for i, ax in enumerate(self.axes):
            yi = y.select(k, i)
            t = self._dh(yi, ax)
            out = t if out is None else out + t
        return out

    def extra_repr(self):
        return f"shape={self.in_shape}, axes={self.axes}, boundary={self.boundary!r}"
