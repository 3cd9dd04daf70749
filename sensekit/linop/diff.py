"""Finite differences (the gradient behind total variation)."""
from __future__ import annotations

import torch

from .base import LinOp, _shape
from .fourier import _neg_axes


def _records(t: torch.Tensor) -> bool:
    """Whether autograd records an operation on ``t``."""
    return torch.is_grad_enabled() and t.requires_grad


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
        if self.boundary == "neumann" and not _records(x):
            return self._forward_neumann(x)
        return torch.stack([self._d(x, ax) for ax in self.axes], dim=-len(self.in_shape) - 1)

    def _adjoint(self, y):
        k = -len(self.in_shape) - 1
        if self.boundary == "neumann" and not _records(y):
            return self._adjoint_neumann(y)
        out = None
        for i, ax in enumerate(self.axes):
            yi = y.select(k, i)
            t = self._dh(yi, ax)
            out = t if out is None else out + t
        return out

    # Neumann fast paths: each component written once into one output (no cat / stack copies); the same
    # values as _d / _dh up to the order of the sums over axes.  Not under autograd (``out=`` has no backward).
    def _forward_neumann(self, x):
        k = -len(self.in_shape) - 1
        nb = x.ndim - len(self.in_shape)
        out = torch.empty(x.shape[:nb] + self.out_shape, dtype=x.dtype, device=x.device)
        for i, ax in enumerate(self.axes):
            o, n = out.select(k, i), x.shape[ax]
            torch.sub(x.narrow(ax, 1, n - 1), x.narrow(ax, 0, n - 1), out=o.narrow(ax, 0, n - 1))
            o.narrow(ax, n - 1, 1).zero_()
        return out

    def _adjoint_neumann(self, y):
        k = -len(self.in_shape) - 1
        out = None
        for i, ax in enumerate(self.axes):
            yi, n = y.select(k, i), y.shape[ax]
            if out is None:
                out = torch.empty(yi.shape, dtype=y.dtype, device=y.device)
                if n == 1:
                    out.zero_()
                    continue
                # (Dᴴy)[0] = −y[0], (Dᴴy)[j] = y[j−1] − y[j] (0 < j < n−1), (Dᴴy)[n−1] = y[n−2]
                torch.neg(yi.narrow(ax, 0, 1), out=out.narrow(ax, 0, 1))
                torch.sub(yi.narrow(ax, 0, n - 2), yi.narrow(ax, 1, n - 2), out=out.narrow(ax, 1, n - 2))
                out.narrow(ax, n - 1, 1).copy_(yi.narrow(ax, n - 2, 1))
            elif n > 1:
                head = yi.narrow(ax, 0, n - 1)
                out.narrow(ax, 1, n - 1).add_(head)
                out.narrow(ax, 0, n - 1).sub_(head)
        return out

    def extra_repr(self):
        return f"shape={self.in_shape}, axes={self.axes}, boundary={self.boundary!r}"
