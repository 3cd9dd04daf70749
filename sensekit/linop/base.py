"""Linear operator base class and its algebra.

A :class:`LinOp` is a :class:`torch.nn.Module` acting on tensors of shape
``(*batch, *in_shape)`` and returning ``(*batch, *out_shape)``.  ``A @ B``
composes, ``A + B`` sums, ``c * A`` scales, ``A.H`` is the adjoint and ``A.N``
the normal operator ``AᴴA`` (with fast paths where a subclass knows one).
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch

from ..core.device import complex_dtype, real_dtype

Shape = tuple


def _shape(s) -> tuple:
    if isinstance(s, int):
        return (int(s),)
    return tuple(int(v) for v in s)


def cast_like(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cast an operator buffer ``w`` to the precision of the input ``x``.

    The result of ``w * x`` then has ``x``'s precision: a complex64 input stays
    complex64 even if the operator stores complex128, and a real input times a
    complex buffer becomes complex of the input's precision.  Device is left
    alone: a mismatch is an error the caller must see.

    Returns
    -------
    torch.Tensor
        ``w`` in the precision (real or complex) matching ``x`` (``w`` itself when no cast is needed).
    """
    if w.dtype == torch.bool:
        return w
    if x.is_complex():
        target = x.dtype if w.is_complex() else real_dtype(x.dtype)
    elif x.is_floating_point():
        target = complex_dtype(x.dtype) if w.is_complex() else x.dtype
    else:
        return w
    return w if w.dtype == target else w.to(dtype=target)


class LinOp(torch.nn.Module):
    """Base class of linear operators.

    Subclasses implement ``_forward`` and ``_adjoint`` on tensors whose trailing
    dimensions are ``in_shape`` / ``out_shape``; any leading dimensions are batch.

    Parameters
    ----------
    in_shape, out_shape : tuple of int
        Trailing shape of inputs and outputs.
    """

    #: True when AᴴA = AAᴴ = I (orthonormal FFT, permutations, reshapes).
    is_unitary: bool = False

    def __init__(self, in_shape, out_shape):
        super().__init__()
        self.in_shape: Shape = _shape(in_shape)
        self.out_shape: Shape = _shape(out_shape)

    # ------------------------------------------------------------------ apply
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D401
        """Apply the operator to ``x`` of shape ``(*batch, *in_shape)``.

        Returns
        -------
        torch.Tensor
            ``A x`` of shape ``(*batch, *out_shape)``.
        """
        self._check(x, self.in_shape, "input")
        return self._forward(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint to ``y`` of shape ``(*batch, *out_shape)``.

        Returns
        -------
        torch.Tensor
            ``Aᴴ y`` of shape ``(*batch, *in_shape)``.
        """
        self._check(y, self.out_shape, "adjoint input")
        return self._adjoint(y)

    def _forward(self, x):
        raise NotImplementedError

    def _adjoint(self, y):
        raise NotImplementedError

    def _check(self, x, shape, what):
        n = len(shape)
        if not torch.is_tensor(x):
            raise TypeError(f"{type(self).__name__}: {what} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim < n or tuple(x.shape[x.ndim - n:]) != shape:
            raise ValueError(f"{type(self).__name__}: {what} has shape {tuple(x.shape)}, "
                             f"expected (..., {', '.join(map(str, shape))})")

    def batch_shape(self, x: torch.Tensor) -> tuple:
        """The batch shape of an input ``x``.

        Returns
        -------
        tuple
            The leading dims of ``x`` before ``in_shape``.
        """
        return tuple(x.shape[: x.ndim - len(self.in_shape)])

    # --------------------------------------------------------------- algebra
    @property
    def H(self) -> "LinOp":
        """The adjoint operator."""
        return Adjoint(self)

    @property
    def N(self) -> "LinOp":
        """The normal operator AᴴA (subclasses override with fast paths)."""
        return Compose(Adjoint(self), self)

    def solve_normal(self, b: torch.Tensor, shift: float = 0.0) -> torch.Tensor:
        """Solve (AᴴA + shift·I) x = b in closed form, where one exists.

        Raises ``NotImplementedError`` otherwise; iterative solvers then use CG.

        Returns
        -------
        torch.Tensor
            ``x``, shaped like ``b``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no closed-form normal solve")

    @property
    def has_solve_normal(self) -> bool:
        return type(self).solve_normal is not LinOp.solve_normal

    @property
    def norm_bound(self) -> float | None:
        """An upper bound on ‖A‖² known without iterating (None when unknown).

        Unitary operators give 1; compositions multiply their factors' bounds;
        solvers fall back to power iteration (:func:`~sensekit.linop.opnorm`)
        when this is None.
        """
        return 1.0 if self.is_unitary else None

    def __matmul__(self, other):
        if isinstance(other, LinOp):
            return Compose(self, other)
        if torch.is_tensor(other):
            return self(other)
        return NotImplemented

    def __add__(self, other):
        if isinstance(other, LinOp):
            return Sum(self, other)
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, LinOp):
            return Sum(self, Scale(-1.0, other))
        return NotImplemented

    def __mul__(self, c):
        if isinstance(c, numbers.Number) or (torch.is_tensor(c) and c.ndim == 0):
            return Scale(c, self)
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self):
        return Scale(-1.0, self)

    def extra_repr(self) -> str:
        """The shapes, for the module's ``repr``.

        Returns
        -------
        str
            ``"in_shape=..., out_shape=..."``.
        """
        return f"in_shape={self.in_shape}, out_shape={self.out_shape}"


class Adjoint(LinOp):
    """The adjoint Aᴴ of an operator."""

    def __init__(self, op: LinOp):
        super().__init__(op.out_shape, op.in_shape)
        self.op = op
        self.is_unitary = op.is_unitary

    def _forward(self, x):
        return self.op._adjoint(x)

    def _adjoint(self, y):
        return self.op._forward(y)

    @property
    def H(self):
        return self.op

    @property
    def norm_bound(self):
        return self.op.norm_bound

    @property
    def N(self):
        if self.op.is_unitary:
            return Identity(self.in_shape)
        return Compose(self.op, Adjoint(self.op))


class Compose(LinOp):
    """Composition ``ops[0] @ ops[1] @ … @ ops[-1]`` (the last one acts first)."""

    def __init__(self, *ops: LinOp):
        for left, right in zip(ops[:-1], ops[1:]):
            if left.in_shape != right.out_shape:
                raise ValueError(f"cannot compose {type(left).__name__} (in_shape {left.in_shape}) with "
                                 f"{type(right).__name__} (out_shape {right.out_shape})")
        flat = []
        for op in ops:
            if isinstance(op, Compose):
                flat.extend(op.ops)
            elif not isinstance(op, Identity):
                flat.append(op)
        if not flat:  # all identities
            flat = [ops[-1]]
        super().__init__(flat[-1].in_shape, flat[0].out_shape)
        self.ops = torch.nn.ModuleList(flat)
        self.is_unitary = all(op.is_unitary for op in flat)

    def _plan(self, like):
        """The operators to apply: ``self.ops``, or their fused equivalent (see :mod:`sensekit.linop.fuse`:
        a centred FFT's sign factors absorbed into neighbouring Diag / Mask / Sense operators), cached per
        input dtype, device and buffer versions."""
        from . import fuse
        key = fuse.buffers_key(self.ops, like)
        cache = self.__dict__.get("_fused")
        if cache is None or not fuse.same_key(cache[0], key):
            cache = (key, fuse.plan(list(self.ops), like))
            self.__dict__["_fused"] = cache
        return cache[1] if cache[1] is not None else self.ops

    def _forward(self, x):
        for op in reversed(self._plan(x)):
            x = op._forward(x)
        return x

    def _adjoint(self, y):
        for op in self._plan(y):
            y = op._adjoint(y)
        return y

    def _rest(self, ops):
        return ops[0] if len(ops) == 1 else Compose(*ops)

    @property
    def norm_bound(self):
        b = 1.0
        for op in self.ops:
            nb = op.norm_bound
            if nb is None:
                return None
            b *= float(nb)
        return b

    @property
    def N(self):
        if len(self.ops) == 1:
            return self.ops[0].N
        if self.is_unitary:
            return Identity(self.in_shape)
        ops = list(self.ops)
        if ops[0].is_unitary:  # (U A)ᴴ(U A) = AᴴA
            return self._rest(ops[1:]).N
        last = ops[-1]
        return Compose(Adjoint(last), self._rest(ops[:-1]).N, last)

    @property
    def has_solve_normal(self):
        ops = list(self.ops)
        if len(ops) == 1:
            return ops[0].has_solve_normal
        if ops[0].is_unitary:
            return self._rest(ops[1:]).has_solve_normal
        if ops[-1].is_unitary:
            return self._rest(ops[:-1]).has_solve_normal
        return False

    def solve_normal(self, b, shift=0.0):
        ops = list(self.ops)
        if len(ops) == 1:
            return ops[0].solve_normal(b, shift)
        if ops[0].is_unitary:
            return self._rest(ops[1:]).solve_normal(b, shift)
        if ops[-1].is_unitary:  # (A U)ᴴ(A U) + s = Uᴴ(AᴴA + s)U
            u = ops[-1]
            return u._adjoint(self._rest(ops[:-1]).solve_normal(u._forward(b), shift))
        raise NotImplementedError("no closed-form normal solve for this composition")


class Sum(LinOp):
    """Sum of operators with equal shapes."""

    def __init__(self, *ops: LinOp):
        flat = []
        for op in ops:
            flat.extend(op.ops if isinstance(op, Sum) else [op])
        for op in flat[1:]:
            if op.in_shape != flat[0].in_shape or op.out_shape != flat[0].out_shape:
                raise ValueError("cannot add operators with different shapes: "
                                 f"{flat[0].in_shape}->{flat[0].out_shape} and {op.in_shape}->{op.out_shape}")
        super().__init__(flat[0].in_shape, flat[0].out_shape)
        self.ops = torch.nn.ModuleList(flat)

    @property
    def norm_bound(self):
        bs = [op.norm_bound for op in self.ops]
        return None if any(b is None for b in bs) else sum(float(b) ** 0.5 for b in bs) ** 2

    def _forward(self, x):
        out = self.ops[0]._forward(x)
        for op in self.ops[1:]:
            out = out + op._forward(x)
        return out

    def _adjoint(self, y):
        out = self.ops[0]._adjoint(y)
        for op in self.ops[1:]:
            out = out + op._adjoint(y)
        return out


class Scale(LinOp):
    """``c · A`` for a scalar ``c`` (real or complex)."""

    def __init__(self, c, op: LinOp):
        super().__init__(op.in_shape, op.out_shape)
        self.c = complex(c) if isinstance(c, complex) or (torch.is_tensor(c) and c.is_complex()) else float(c)
        self.op = op

    def _forward(self, x):
        return self.c * self.op._forward(x)

    def _adjoint(self, y):
        c = self.c.conjugate() if isinstance(self.c, complex) else self.c
        return c * self.op._adjoint(y)

    @property
    def norm_bound(self):
        b = self.op.norm_bound
        return None if b is None else abs(self.c) ** 2 * float(b)

    @property
    def N(self):
        return Scale(abs(self.c) ** 2, self.op.N)

    @property
    def has_solve_normal(self):
        return self.op.has_solve_normal

    def solve_normal(self, b, shift=0.0):
        a2 = abs(self.c) ** 2
        return self.op.solve_normal(b / a2, shift / a2)


class Identity(LinOp):
    """The identity on ``shape``."""

    is_unitary = True

    def __init__(self, shape):
        super().__init__(shape, shape)

    def _forward(self, x):
        return x

    def _adjoint(self, y):
        return y

    @property
    def N(self):
        return self

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


def stack_shapes(batch: Sequence[int], shape: Sequence[int]) -> tuple:
    """The shape of a batch of arrays of shape ``shape``.

    Returns
    -------
    tuple
        ``(*batch, *shape)``.
    """
    return tuple(batch) + tuple(shape)
