"""Tensor reshapes used by low-rank models: mode-n unfolding and its inverse."""
from __future__ import annotations

import math

from .base import LinOp, Identity, _shape


class Unfold(LinOp):
    """Mode-``mode`` unfolding (matricisation) of the trailing ``shape``.

    Output ``(shape[mode], prod(other dims))`` with the other dims in their
    original order.  Unitary (a permutation followed by a reshape), so the
    nuclear norm of an unfolding has the exact prox ``Uᴴ · SVT · U``.
    """

    is_unitary = True

    def __init__(self, shape, mode: int):
        shape = _shape(shape)
        mode = int(mode) % len(shape)
        rest = math.prod(shape) // shape[mode]
        super().__init__(shape, (shape[mode], rest))
        self.mode = mode

    def _forward(self, x):
        nb = x.ndim - len(self.in_shape)
        x = x.movedim(nb + self.mode, nb)
        return x.reshape(*x.shape[:nb], *self.out_shape)

    def _adjoint(self, y):
        nb = y.ndim - 2
        moved = (self.in_shape[self.mode],) + tuple(s for i, s in enumerate(self.in_shape) if i != self.mode)
        y = y.reshape(*y.shape[:nb], *moved)
        return y.movedim(nb, nb + self.mode)

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)
