"""Elementary operators: diagonal, mask, sampling, reshape, permute, circular shift, pad/crop, axis sums."""
from __future__ import annotations

import math

import torch

from .base import LinOp, Identity, _shape, cast_like


def _broadcast_shape(w_shape, in_shape, name):
    try:
        out = torch.broadcast_shapes(tuple(w_shape), tuple(in_shape))
    except RuntimeError as e:
        raise ValueError(f"{name}: weight of shape {tuple(w_shape)} does not broadcast "
                         f"to in_shape {tuple(in_shape)}") from e
    if tuple(out) != tuple(in_shape):
        raise ValueError(f"{name}: weight of shape {tuple(w_shape)} would enlarge in_shape {tuple(in_shape)}")


class Diag(LinOp):
    """Elementwise multiplication by a fixed tensor: ``y = w ⊙ x``.

    Parameters
    ----------
    weight : Tensor, shape broadcastable to ``in_shape``, real or complex
    in_shape : tuple of int, optional
        Defaults to ``weight.shape``.
    """

    def __init__(self, weight: torch.Tensor, in_shape=None):
        weight = torch.as_tensor(weight)
        in_shape = _shape(weight.shape if in_shape is None else in_shape)
        _broadcast_shape(weight.shape, in_shape, type(self).__name__)
        super().__init__(in_shape, in_shape)
        self.register_buffer("weight", weight, persistent=False)

    def _forward(self, x):
        return x * cast_like(self.weight, x)

    def _adjoint(self, y):
        w = cast_like(self.weight, y)
        return y * (w.conj() if w.is_complex() else w)

    @property
    def norm_bound(self):
        return float(self.weight.abs().max()) ** 2 if self.weight.numel() else 0.0

    @property
    def N(self):
        w = self.weight
        return Diag(w.abs() ** 2 if w.is_complex() else w * w, self.in_shape)

    def solve_normal(self, b, shift=0.0):
        w = self.weight
        d = cast_like(w.abs() ** 2 if w.is_complex() else w * w, b) + shift
        return torch.where(d != 0, b / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(b))


Multiply = Diag


class Mask(LinOp):
    """Keep entries where ``mask`` is True, zero the rest (shape preserving).

    ``Mask`` is an orthogonal projection, so ``M.N = M`` and ``M.H = M``.

    Parameters
    ----------
    mask : Tensor of bool (or 0/1), shape broadcastable to ``in_shape``
    in_shape : tuple of int, optional
    """

    def __init__(self, mask: torch.Tensor, in_shape=None):
        mask = torch.as_tensor(mask) != 0
        in_shape = _shape(mask.shape if in_shape is None else in_shape)
        _broadcast_shape(mask.shape, in_shape, "Mask")
        super().__init__(in_shape, in_shape)
        self.register_buffer("mask", mask, persistent=False)

    def _forward(self, x):
        return torch.where(self.mask, x, torch.zeros((), dtype=x.dtype, device=x.device))

    _adjoint = _forward

    norm_bound = 1.0

    @property
    def N(self):
        return self

    def solve_normal(self, b, shift=0.0):
        # pseudo-inverse on the unsampled part when shift == 0
        if shift == 0:
            return self._forward(b)
        return torch.where(self.mask, b / (1.0 + shift), b / shift)


class Sample(LinOp):
    """Gather the entries where ``mask`` is True into a vector (adjoint scatters back).

    ``in_shape = mask.shape``; ``out_shape = (mask.sum(),)``.
    """

    norm_bound = 1.0

    def __init__(self, mask: torch.Tensor):
        mask = torch.as_tensor(mask) != 0
        idx = torch.nonzero(mask.reshape(-1), as_tuple=False).reshape(-1)
        super().__init__(mask.shape, (idx.numel(),))
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("index", idx, persistent=False)

    def _forward(self, x):
        b = self.batch_shape(x)
        return x.reshape(*b, -1).index_select(-1, self.index)

    def _adjoint(self, y):
        b = y.shape[:-1]
        out = torch.zeros(*b, math.prod(self.in_shape), dtype=y.dtype, device=y.device)
        out = out.index_copy(-1, self.index, y)
        return out.reshape(*b, *self.in_shape)

    @property
    def N(self):
        return Mask(self.mask)

    def solve_normal(self, b, shift=0.0):
        return Mask(self.mask).solve_normal(b, shift)


class Reshape(LinOp):
    """Reshape the trailing ``in_shape`` to ``out_shape`` (unitary)."""

    is_unitary = True

    def __init__(self, in_shape, out_shape):
        in_shape, out_shape = _shape(in_shape), _shape(out_shape)
        if math.prod(in_shape) != math.prod(out_shape):
            raise ValueError(f"Reshape: {in_shape} and {out_shape} have different sizes")
        super().__init__(in_shape, out_shape)

    def _forward(self, x):
        return x.reshape(*self.batch_shape(x), *self.out_shape)

    def _adjoint(self, y):
        b = y.shape[: y.ndim - len(self.out_shape)]
        return y.reshape(*b, *self.in_shape)

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


class Permute(LinOp):
    """Permute the trailing dimensions: ``out_shape[i] = in_shape[perm[i]]`` (unitary)."""

    is_unitary = True

    def __init__(self, in_shape, perm):
        in_shape = _shape(in_shape)
        perm = tuple(int(p) % len(in_shape) for p in perm)
        if sorted(perm) != list(range(len(in_shape))):
            raise ValueError(f"Permute: {perm} is not a permutation of {len(in_shape)} axes")
        super().__init__(in_shape, tuple(in_shape[p] for p in perm))
        self.perm = perm
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        self.inv = tuple(inv)

    def _forward(self, x):
        nb = x.ndim - len(self.in_shape)
        return x.permute(*range(nb), *(nb + p for p in self.perm))

    def _adjoint(self, y):
        nb = y.ndim - len(self.out_shape)
        return y.permute(*range(nb), *(nb + p for p in self.inv))

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


class Roll(LinOp):
    """Circular shift of the trailing dimensions: ``out = torch.roll(x, shifts, dims)`` (unitary).

    ``shifts[i]`` applies to axis ``axes[i]`` of ``in_shape`` (negative axes count from the end).
    """

    is_unitary = True

    def __init__(self, in_shape, shifts, axes):
        in_shape = _shape(in_shape)
        shifts, axes = tuple(int(s) for s in shifts), tuple(int(a) for a in axes)
        if len(shifts) != len(axes):
            raise ValueError(f"Roll: {len(shifts)} shifts for {len(axes)} axes")
        if any(not -len(in_shape) <= a < len(in_shape) for a in axes):
            raise ValueError(f"Roll: axes {axes} out of range for in_shape {tuple(in_shape)}")
        super().__init__(in_shape, in_shape)
        self.shifts = shifts
        self.axes = tuple(a - len(in_shape) if a >= 0 else a for a in axes)   # counted from the end

    def _forward(self, x):
        return torch.roll(x, self.shifts, self.axes)

    def _adjoint(self, y):
        return torch.roll(y, tuple(-s for s in self.shifts), self.axes)

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


def _centre_slices(small, big):
    # centred so that index n//2 of the small array lands on index N//2 of the big one
    return tuple(slice(B // 2 - s // 2, B // 2 - s // 2 + s) for s, B in zip(small, big))


class Pad(LinOp):
    """Centred zero padding from ``in_shape`` to the larger ``out_shape``.

    Centring keeps the DC index ``n // 2`` at ``N // 2``, the convention of the
    centred FFT.  ``Pad.H`` is the matching centred crop and ``Pad.N = I``.
    """

    def __init__(self, in_shape, out_shape):
        in_shape, out_shape = _shape(in_shape), _shape(out_shape)
        if len(in_shape) != len(out_shape) or any(i > o for i, o in zip(in_shape, out_shape)):
            raise ValueError(f"Pad: out_shape {out_shape} must be at least in_shape {in_shape} on every axis")
        super().__init__(in_shape, out_shape)
        self._sl = _centre_slices(in_shape, out_shape)

    def _forward(self, x):
        b = self.batch_shape(x)
        out = x.new_zeros(*b, *self.out_shape)
        out[(Ellipsis, *self._sl)] = x
        return out

    def _adjoint(self, y):
        return y[(Ellipsis, *self._sl)].clone()

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


class Crop(LinOp):
    """Centred crop from ``in_shape`` to the smaller ``out_shape`` (adjoint: zero padding)."""

    def __init__(self, in_shape, out_shape):
        in_shape, out_shape = _shape(in_shape), _shape(out_shape)
        self_pad = Pad(out_shape, in_shape)
        super().__init__(in_shape, out_shape)
        self._sl = self_pad._sl

    def _forward(self, x):
        return x[(Ellipsis, *self._sl)].clone()

    def _adjoint(self, y):
        b = y.shape[: y.ndim - len(self.out_shape)]
        out = y.new_zeros(*b, *self.in_shape)
        out[(Ellipsis, *self._sl)] = y
        return out


class AxisSum(LinOp):
    """Sum over one trailing axis of ``in_shape``; the adjoint broadcasts (copies) back.

    Used e.g. to map stacked blocks ``(2, T, Y, X)`` of a low-rank + sparse
    decomposition to their sum ``(T, Y, X)``.
    """

    def __init__(self, in_shape, axis: int = 0):
        in_shape = _shape(in_shape)
        axis = int(axis) % len(in_shape)
        out_shape = in_shape[:axis] + in_shape[axis + 1:]
        super().__init__(in_shape, out_shape)
        self.axis = axis - len(in_shape)  # negative: counts from the end

    @property
    def norm_bound(self):
        return float(self.in_shape[self.axis])

    def _forward(self, x):
        return x.sum(dim=self.axis)

    def _adjoint(self, y):
        y = y.unsqueeze(self.axis)
        shape = list(y.shape)
        shape[self.axis] = self.in_shape[self.axis]
        return y.expand(*shape).clone()


class Select(LinOp):
    """Pick block ``index`` along one axis of ``in_shape``; the adjoint embeds it among zeros.

    With a stacked variable ``(n_blocks, *shape)`` (e.g. the L and E parts of a
    decomposition), ``Select((2, *shape), axis=0, index=0)`` lets a penalty act
    on one block only.  ``‖Select‖ = 1``.
    """

    norm_bound = 1.0

    def __init__(self, in_shape, axis: int = 0, index: int = 0):
        in_shape = _shape(in_shape)
        axis = int(axis) % len(in_shape)
        if not 0 <= int(index) < in_shape[axis]:
            raise ValueError(f"Select: index {index} out of range for axis of length {in_shape[axis]}")
        super().__init__(in_shape, in_shape[:axis] + in_shape[axis + 1:])
        self.axis = axis - len(in_shape)
        self.index = int(index)

    def _forward(self, x):
        return x.select(self.axis, self.index)

    def _adjoint(self, y):
        parts = [torch.zeros_like(y)] * self.in_shape[self.axis]
        parts[self.index] = y
        return torch.stack(parts, dim=self.axis)

    def extra_repr(self):
        return f"in_shape={self.in_shape}, axis={self.axis}, index={self.index}"
