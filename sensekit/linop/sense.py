"""Coil sensitivity (SENSE) expansion."""
from __future__ import annotations

import torch

from .base import LinOp, _shape, cast_like
from .basic import Diag


class Sense(LinOp):
    """Multiply an image by each coil's sensitivity: ``y[..., c, :] = S_c ⊙ x``.

    Parameters
    ----------
    maps : Tensor, shape ``(C, *spatial)``, complex
        Coil sensitivity maps.
    in_shape : tuple of int, optional
        Image shape ``(*extra, *spatial)``; defaults to ``spatial``.  For a
        dynamic series use ``(T, Y, X)``; the output is then ``(T, C, Y, X)``.

    Notes
    -----
    ``SᴴS = diag(Σ_c |S_c|²)``, so :attr:`N` is diagonal and
    :meth:`solve_normal` is closed form.
    """

    def __init__(self, maps: torch.Tensor, in_shape=None):
        maps = torch.as_tensor(maps)
        if maps.ndim < 2:
            raise ValueError(f"Sense: maps must be (C, *spatial), got shape {tuple(maps.shape)}")
        spatial = tuple(maps.shape[1:])
        in_shape = _shape(spatial if in_shape is None else in_shape)
        if tuple(in_shape[len(in_shape) - len(spatial):]) != spatial:
            raise ValueError(f"Sense: in_shape {in_shape} must end with the maps' spatial shape {spatial}")
        extra = in_shape[: len(in_shape) - len(spatial)]
        super().__init__(in_shape, extra + (maps.shape[0],) + spatial)
        self.register_buffer("maps", maps, persistent=False)
        self._caxis = -len(spatial) - 1

    @property
    def n_coils(self) -> int:
        return self.maps.shape[0]

    def _forward(self, x):
        return x.unsqueeze(self._caxis) * cast_like(self.maps, x)

    def _adjoint(self, y):
        s = cast_like(self.maps, y)
        return torch.sum((s.conj() if s.is_complex() else s) * y, dim=self._caxis)

    def _rss2(self):
        m = self.maps
        return torch.sum(m.abs() ** 2 if m.is_complex() else m * m, dim=0)

    @property
    def norm_bound(self):
        return float(self._rss2().max())

    @property
    def N(self):
        return Diag(self._rss2(), self.in_shape)

    def solve_normal(self, b, shift=0.0):
        d = cast_like(self._rss2(), b) + shift
        return torch.where(d != 0, b / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(b))
