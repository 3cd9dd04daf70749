"""A dense matrix as an operator, and stacks of operators (vertical, horizontal, block diagonal).

Stacks work on flat vectors of the concatenated (raveled) parts, so that any operators, whatever their
shapes, can be stacked: ``VStack([A, B])`` maps ``x`` to ``[vec(Ax); vec(Bx)]`` (one input, several
outputs, e.g. the data term and a regulariser's operator of a least-squares problem), ``HStack([A, B])``
maps ``[vec(u); vec(v)]`` to ``Au + Bv`` (several inputs, one output, e.g. ``L + S`` models) and
``BlockDiag([A, B])`` maps ``[vec(u); vec(v)]`` to ``[vec(Au); vec(Bv)]``.  Leading batch dimensions are
kept; ``split`` / ``join`` convert between the flat vector and the list of parts.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .base import LinOp, cast_like


class Dense(LinOp):
    """``y = A x`` for a dense ``(m, n)`` matrix acting on the last axis: ``(..., n) -> (..., m)``.

    Parameters
    ----------
    matrix : Tensor, shape (m, n), real or complex

    Examples
    --------
    >>> import torch
    >>> A = Dense(torch.tensor([[1., 2.], [3., 4.], [5., 6.]]))
    >>> A(torch.tensor([1., 1.]))
    tensor([ 3.,  7., 11.])
    >>> A.H(torch.tensor([1., 0., 0.]))
    tensor([1., 2.])
    """

    def __init__(self, matrix: torch.Tensor):
        matrix = torch.as_tensor(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"Dense: matrix must be 2-D (m, n), got shape {tuple(matrix.shape)}")
        super().__init__((matrix.shape[1],), (matrix.shape[0],))
        self.register_buffer("matrix", matrix, persistent=False)

    def _pair(self, x):
        a = cast_like(self.matrix, x)
        dtype = torch.promote_types(a.dtype, x.dtype)
        return a.to(dtype), x.to(dtype)

    def _forward(self, x):
        a, x = self._pair(x)
        return x @ a.transpose(-2, -1)

    def _adjoint(self, y):
        a, y = self._pair(y)
        return y @ a.conj()

    @property
    def norm_bound(self):
        return float(torch.linalg.matrix_norm(self.matrix.to(torch.promote_types(self.matrix.dtype,
                                                                                  torch.float32)), ord=2)) ** 2

    def solve_normal(self, b, shift=0.0):
        a, b = self._pair(b)
        g = a.conj().T @ a
        g = g + shift * torch.eye(g.shape[0], dtype=g.dtype, device=g.device)
        return torch.linalg.solve(g, b.unsqueeze(-1)).squeeze(-1)


def _size(shape) -> int:
    return int(math.prod(shape))


def split(v: torch.Tensor, shapes: Sequence[tuple]) -> list[torch.Tensor]:
    """The parts ``(..., *shape_i)`` of a flat vector ``(..., Σ size_i)``.

    Returns
    -------
    list[torch.Tensor]
        One tensor per shape.
    """
    sizes = [_size(s) for s in shapes]
    parts = torch.split(v, sizes, dim=-1)
    batch = v.shape[:-1]
    return [p.reshape(*batch, *s) for p, s in zip(parts, shapes)]


def join(parts: Sequence[torch.Tensor], shapes: Sequence[tuple]) -> torch.Tensor:
    """The flat vector ``(..., Σ size_i)`` of parts ``(..., *shape_i)``.

    Returns
    -------
    torch.Tensor
        The concatenated flat vector.
    """
    flat = []
    for p, s in zip(parts, shapes):
        batch = p.shape[: p.ndim - len(s)]
        flat.append(p.reshape(*batch, _size(s)))
    dtype = flat[0].dtype
    for f in flat[1:]:
        dtype = torch.promote_types(dtype, f.dtype)
    return torch.cat([f.to(dtype) for f in flat], dim=-1)


def _ops(ops, name) -> list[LinOp]:
    ops = list(ops)
    if not ops:
        raise ValueError(f"{name}: needs at least one operator")
    return ops


class VStack(LinOp):
    """``x -> [vec(A_1 x); …; vec(A_k x)]``: operators with one input shape, outputs concatenated."""

    def __init__(self, ops: Sequence[LinOp]):
        ops = _ops(ops, "VStack")
        for op in ops[1:]:
            if op.in_shape != ops[0].in_shape:
                raise ValueError(f"VStack: every operator must take in_shape {ops[0].in_shape}, got {op.in_shape}")
        self.shapes = [op.out_shape for op in ops]
        super().__init__(ops[0].in_shape, (sum(_size(s) for s in self.shapes),))
        self.ops = torch.nn.ModuleList(ops)

    def _forward(self, x):
        return join([op._forward(x) for op in self.ops], self.shapes)

    def _adjoint(self, y):
        out = None
        for op, part in zip(self.ops, split(y, self.shapes)):
            r = op._adjoint(part)
            out = r if out is None else out + r
        return out

    @property
    def norm_bound(self):
        bs = [op.norm_bound for op in self.ops]
        return None if any(b is None for b in bs) else float(sum(bs))

    @property
    def N(self):
        from .base import Sum
        return Sum(*[op.N for op in self.ops])


class HStack(LinOp):
    """``[vec(u_1); …; vec(u_k)] -> A_1 u_1 + … + A_k u_k``: operators with one output shape."""

    def __init__(self, ops: Sequence[LinOp]):
        ops = _ops(ops, "HStack")
        for op in ops[1:]:
            if op.out_shape != ops[0].out_shape:
                raise ValueError(f"HStack: every operator must give out_shape {ops[0].out_shape}, got {op.out_shape}")
        self.shapes = [op.in_shape for op in ops]
        super().__init__((sum(_size(s) for s in self.shapes),), ops[0].out_shape)
        self.ops = torch.nn.ModuleList(ops)

    def _forward(self, x):
        out = None
        for op, part in zip(self.ops, split(x, self.shapes)):
            r = op._forward(part)
            out = r if out is None else out + r
        return out

    def _adjoint(self, y):
        return join([op._adjoint(y) for op in self.ops], self.shapes)

    @property
    def norm_bound(self):
        bs = [op.norm_bound for op in self.ops]
        return None if any(b is None for b in bs) else float(sum(bs))


class BlockDiag(LinOp):
    """``[vec(u_1); …; vec(u_k)] -> [vec(A_1 u_1); …; vec(A_k u_k)]``."""

    def __init__(self, ops: Sequence[LinOp]):
        ops = _ops(ops, "BlockDiag")
        self.in_shapes = [op.in_shape for op in ops]
        self.out_shapes = [op.out_shape for op in ops]
        super().__init__((sum(_size(s) for s in self.in_shapes),), (sum(_size(s) for s in self.out_shapes),))
        self.ops = torch.nn.ModuleList(ops)
        self.is_unitary = all(op.is_unitary for op in ops)

    def _forward(self, x):
        return join([op._forward(p) for op, p in zip(self.ops, split(x, self.in_shapes))], self.out_shapes)

    def _adjoint(self, y):
        return join([op._adjoint(p) for op, p in zip(self.ops, split(y, self.out_shapes))], self.in_shapes)

    @property
    def norm_bound(self):
        bs = [op.norm_bound for op in self.ops]
        return None if any(b is None for b in bs) else float(max(bs))

    @property
    def N(self):
        return BlockDiag([op.N for op in self.ops])

    @property
    def has_solve_normal(self):
        return all(op.has_solve_normal for op in self.ops)

    def solve_normal(self, b, shift=0.0):
        parts = split(b, self.in_shapes)
        return join([op.solve_normal(p, shift) for op, p in zip(self.ops, parts)], self.in_shapes)
