"""Tensor algebra: unfold/fold, mode-n products, Kronecker and Khatri–Rao products.

Plain functions (:func:`unfold`, :func:`fold`, :func:`mode_dot`,
:func:`multi_mode_dot`, :func:`khatri_rao`) and operators (:class:`Unfold`,
:class:`ModeProduct`, :class:`Kron`).  Conventions, shared by every tensor
routine in sensekit:

* vectorisation is row-major (C order, the last index varies fastest), so
  ``(A₁ ⊗ A₂ ⊗ … ⊗ A_D) vec(X) = vec(X ×₁ A₁ ×₂ A₂ … ×_D A_D)``;
* the mode-n unfolding ``X_(n)`` has shape ``(I_n, ∏_{m≠n} I_m)`` with the
  other modes in their original order (again row-major), so that for a CP
  tensor ``X_(n) = A_n (⊙_{m≠n} A_m)ᵀ`` with :func:`khatri_rao` taking the
  first matrix as the slowest index;
* batch dimensions lead; the tensor occupies the trailing ``ndim`` dimensions.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .base import LinOp, Identity, _shape, cast_like


# ----------------------------------------------------------------------------- plain functions
def _mode_axis(x: torch.Tensor, mode: int, ndim: int | None) -> int:
    nd = x.ndim if ndim is None else int(ndim)
    if nd > x.ndim or nd < 1:
        raise ValueError(f"tensor order ndim={nd} does not fit an input with {x.ndim} dimensions")
    if not -nd <= mode < nd:
        raise ValueError(f"mode {mode} out of range for a tensor of order {nd}")
    return x.ndim - nd + (mode % nd)


def unfold(x: torch.Tensor, mode: int, *, ndim: int | None = None) -> torch.Tensor:
    """Mode-``mode`` unfolding (matricisation) of the trailing ``ndim`` dimensions.

    Parameters
    ----------
    x : Tensor, shape ``(*batch, I_1, ..., I_D)``, any dtype
    mode : int
        Mode of the tensor (0-based, negative counts from the last mode).
    ndim : int, optional
        Order D of the tensor; the leading ``x.ndim - D`` dimensions are batch.
        Defaults to ``x.ndim`` (no batch).

    Returns
    -------
    Tensor, shape ``(*batch, I_mode, ∏_{m≠mode} I_m)``

    Examples
    --------
    >>> import torch
    >>> from sensekit.linop.tensor import unfold, fold
    >>> x = torch.arange(24.).reshape(2, 3, 4)
    >>> unfold(x, 1).shape
    torch.Size([3, 8])
    >>> torch.equal(fold(unfold(x, 1), 1, (2, 3, 4)), x)
    True
    """
    ax = _mode_axis(x, mode, ndim)
    nb = x.ndim - (x.ndim if ndim is None else int(ndim))
    x = x.movedim(ax, nb)
    return x.reshape(*x.shape[:nb + 1], -1)


def fold(m: torch.Tensor, mode: int, shape: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`unfold`: ``(*batch, I_mode, rest)`` back to ``(*batch, *shape)``.

    Returns
    -------
    torch.Tensor
        The tensor ``(*batch, *shape)``.
    """
    shape = _shape(shape)
    d = len(shape)
    mode = mode % d
    nb = m.ndim - 2
    moved = (shape[mode],) + tuple(s for i, s in enumerate(shape) if i != mode)
    return m.reshape(*m.shape[:nb], *moved).movedim(nb, nb + mode)


def _promote(x: torch.Tensor, a: torch.Tensor):
    """Cast ``a`` to ``x``'s precision and make both complex if either is."""
    a = cast_like(a, x)
    if a.is_complex() and not x.is_complex():
        x = x.to(a.dtype)
    elif x.is_complex() and not a.is_complex():
        a = a.to(x.dtype)
    return x, a


def mode_dot(x: torch.Tensor, matrix: torch.Tensor, mode: int, *, ndim: int | None = None) -> torch.Tensor:
    """Mode-n product ``x ×_n matrix``: multiply every mode-n fibre by ``matrix``.

    Parameters
    ----------
    x : Tensor, shape ``(*batch, I_1, ..., I_D)``, real or complex
    matrix : Tensor, shape (J, I_mode) or ``(*mbatch, J, I_mode)``, real or complex
        Leading dimensions of a batched matrix broadcast (from the right, as in
        :func:`torch.matmul`) against ``x.shape[:axis]``, the dimensions before
        the multiplied one.
    mode : int
        Mode of the tensor (0-based, negative from the end).
    ndim : int, optional
        Order of the tensor (trailing dims); default ``x.ndim``.

    Returns
    -------
    Tensor, shape ``(*batch, I_1, ..., J, ..., I_D)``
        Complex if either input is; precision of ``x``.

    Notes
    -----
    ``(x ×_n M)[…, i_1, …, j, …, i_D] = Σ_{i_n} M[j, i_n] x[…, i_1, …, i_n, …, i_D]``;
    computed as one matrix product on a reshaped view, with no permutation copy.

    Examples
    --------
    >>> import torch
    >>> from sensekit.linop.tensor import mode_dot
    >>> x = torch.randn(2, 3, 4, dtype=torch.float64)
    >>> m = torch.randn(5, 3, dtype=torch.float64)
    >>> torch.allclose(mode_dot(x, m, 1), torch.einsum('ijk,lj->ilk', x, m))
    True
    """
    ax = _mode_axis(x, mode, ndim)
    if matrix.ndim < 2 or matrix.shape[-1] != x.shape[ax]:
        raise ValueError(f"mode_dot: matrix of shape {tuple(matrix.shape)} cannot multiply mode {mode} "
                         f"of size {x.shape[ax]}")
    x, matrix = _promote(x, matrix)
    lead, rest = x.shape[:ax], x.shape[ax + 1:]
    out = torch.matmul(matrix, x.reshape(*lead, x.shape[ax], math.prod(rest)))
    return out.reshape(*out.shape[:-2], matrix.shape[-2], *rest)


def multi_mode_dot(x: torch.Tensor, matrices: Sequence[torch.Tensor | None], *, modes=None,
                   ndim: int | None = None, adjoint: bool = False) -> torch.Tensor:
    """Successive mode products ``x ×_{m_1} M_1 ×_{m_2} M_2 …`` (``None`` skips a mode).

    ``modes`` defaults to ``0, 1, …, len(matrices) − 1``; with ``adjoint=True``
    each matrix is replaced by its conjugate transpose ``Mᴴ``.

    Returns
    -------
    torch.Tensor
        The product tensor.
    """
    modes = range(len(matrices)) if modes is None else modes
    for m, a in zip(modes, matrices):
        if a is None:
            continue
        x = mode_dot(x, a.mH if adjoint else a, m, ndim=ndim)
    return x


def khatri_rao(matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    """Column-wise Kronecker product ``A_1 ⊙ A_2 ⊙ … ⊙ A_D``.

    Parameters
    ----------
    matrices : sequence of Tensor, shapes ``(*batch, I_d, R)``
        Same number of columns; batch dimensions broadcast.

    Returns
    -------
    Tensor, shape ``(*batch, ∏ I_d, R)``
        Row ``(i_1, …, i_D)`` (row-major, ``i_1`` slowest) holds ``∏_d A_d[i_d, r]``.

    Examples
    --------
    >>> import torch
    >>> from sensekit.linop.tensor import khatri_rao
    >>> a, b = torch.randn(3, 2), torch.randn(4, 2)
    >>> k = khatri_rao([a, b])
    >>> torch.allclose(k[:, 1], torch.kron(a[:, 1], b[:, 1]))
    True
    """
    if not matrices:
        raise ValueError("khatri_rao needs at least one matrix")
    r = matrices[0].shape[-1]
    if any(m.shape[-1] != r for m in matrices):
        raise ValueError(f"khatri_rao: all matrices need {r} columns, got {[tuple(m.shape) for m in matrices]}")
    out = matrices[0]
    for m in matrices[1:]:
        if m.is_complex() and not out.is_complex():
            out = out.to(m.dtype)
        prod = out.unsqueeze(-2) * m.to(out.dtype).unsqueeze(-3)
        out = prod.reshape(*prod.shape[:-3], -1, r)
    return out


# ----------------------------------------------------------------------------- operators
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
        return unfold(x, self.mode, ndim=len(self.in_shape))

    def _adjoint(self, y):
        return fold(y, self.mode, self.in_shape)

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)


def _gram_solve(gram: torch.Tensor, shift: float) -> torch.Tensor:
    """(G + shift·I)⁻¹ for a Hermitian PSD G (a pseudo-inverse when singular)."""
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    return torch.linalg.pinv(gram + shift * eye, hermitian=True)


class ModeProduct(LinOp):
    """The mode-n product ``x ↦ x ×_mode M`` as an operator.

    Parameters
    ----------
    shape : tuple of int
        Trailing tensor shape of the input ``(I_1, …, I_D)``.
    matrix : Tensor, shape (J, I_mode), real or complex
    mode : int
        Mode (0-based, negative from the end).

    Notes
    -----
    Output shape: ``shape`` with ``I_mode`` replaced by ``J``.  Adjoint:
    ``y ×_mode Mᴴ``; normal operator ``x ×_mode MᴴM``; ``solve_normal`` applies
    ``(MᴴM + shift·I)⁻¹`` along the mode (a pseudo-inverse when singular).
    """

    def __init__(self, shape, matrix: torch.Tensor, mode: int):
        shape = _shape(shape)
        mode = int(mode) % len(shape)
        matrix = torch.as_tensor(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != shape[mode]:
            raise ValueError(f"ModeProduct: matrix of shape {tuple(matrix.shape)} does not act on mode {mode} "
                             f"of size {shape[mode]}")
        out = list(shape)
        out[mode] = matrix.shape[0]
        super().__init__(shape, tuple(out))
        self.mode = mode
        self.register_buffer("matrix", matrix, persistent=False)

    def _forward(self, x):
        return mode_dot(x, self.matrix, self.mode, ndim=len(self.in_shape))

    def _adjoint(self, y):
        return mode_dot(y, self.matrix.mH, self.mode, ndim=len(self.out_shape))

    @property
    def N(self):
        return ModeProduct(self.in_shape, self.matrix.mH @ self.matrix, self.mode)

    def solve_normal(self, b, shift=0.0):
        m = self.matrix
        return mode_dot(b, _gram_solve(m.mH @ m, shift), self.mode, ndim=len(self.in_shape))


class Kron(LinOp):
    """The Kronecker product ``A_1 ⊗ A_2 ⊗ … ⊗ A_D``, never formed.

    Applied as successive mode products: on a tensor ``X`` of shape
    ``(N_1, …, N_D)`` it returns ``X ×₁ A₁ ×₂ A₂ … ×_D A_D`` of shape
    ``(M_1, …, M_D)``, which equals ``(A₁ ⊗ … ⊗ A_D) vec(X)`` in row-major
    order.  With ``flat=True`` the operator acts on the vectors
    ``(∏ N_d,) → (∏ M_d,)`` instead.

    Parameters
    ----------
    matrices : sequence of Tensor, shapes (M_d, N_d), real or complex
    flat : bool
        Act on vectorised inputs/outputs.

    Notes
    -----
    Cost ``O(∏N · Σ M_d)`` per product instead of ``O(∏M ∏N)`` for the dense
    matrix.  The normal operator is ``Kron([A_dᴴA_d])`` and ``solve_normal``
    uses the per-factor eigendecompositions ``A_dᴴA_d = V_d Λ_d V_dᴴ``:
    ``(⊗A_dᴴA_d + s·I)⁻¹ = (⊗V_d) (⊗Λ_d + s)⁻¹ (⊗V_d)ᴴ``.

    Examples
    --------
    >>> import torch, sensekit as sk
    >>> a, b = torch.randn(3, 4, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    >>> K = sk.linop.Kron([a, b], flat=True)
    >>> x = torch.randn(8, dtype=torch.float64)
    >>> torch.allclose(K(x), torch.kron(a, b) @ x)
    True
    """

    def __init__(self, matrices: Sequence[torch.Tensor], *, flat: bool = False):
        mats = [torch.as_tensor(m) for m in matrices]
        if not mats or any(m.ndim != 2 for m in mats):
            raise ValueError("Kron needs a non-empty sequence of matrices")
        self.tensor_in = tuple(int(m.shape[1]) for m in mats)
        self.tensor_out = tuple(int(m.shape[0]) for m in mats)
        self.flat = bool(flat)
        if self.flat:
            super().__init__((math.prod(self.tensor_in),), (math.prod(self.tensor_out),))
        else:
            super().__init__(self.tensor_in, self.tensor_out)
        for i, m in enumerate(mats):
            self.register_buffer(f"matrix{i}", m, persistent=False)

    @property
    def matrices(self) -> list:
        return [getattr(self, f"matrix{i}") for i in range(len(self.tensor_in))]

    def _run(self, x, shape_in, shape_out, adjoint):
        b = x.shape[: x.ndim - len(self.in_shape if not adjoint else self.out_shape)]
        if self.flat:
            x = x.reshape(*b, *shape_in)
        x = multi_mode_dot(x, self.matrices, ndim=len(shape_in), adjoint=adjoint)
        return x.reshape(*b, -1) if self.flat else x

    def _forward(self, x):
        return self._run(x, self.tensor_in, self.tensor_out, False)

    def _adjoint(self, y):
        return self._run(y, self.tensor_out, self.tensor_in, True)

    @property
    def N(self):
        return Kron([m.mH @ m for m in self.matrices], flat=self.flat)

    def solve_normal(self, b, shift=0.0):
        evs, vecs = zip(*(torch.linalg.eigh(m.mH @ m) for m in self.matrices))
        lam = evs[0]
        for e in evs[1:]:
            lam = (lam.unsqueeze(-1) * e).reshape(-1)
        lam = lam.reshape(self.tensor_in) + shift
        cut = torch.finfo(lam.dtype).eps * math.prod(self.tensor_in) * lam.abs().max()
        inv = torch.where(lam.abs() > cut, 1.0 / torch.where(lam.abs() > cut, lam, torch.ones_like(lam)),
                          torch.zeros_like(lam))
        nb = b.ndim - len(self.in_shape)
        z = b.reshape(*b.shape[:nb], *self.tensor_in) if self.flat else b
        z = multi_mode_dot(z, vecs, ndim=len(self.tensor_in), adjoint=True)
        z = z * cast_like(inv, z)
        z = multi_mode_dot(z, vecs, ndim=len(self.tensor_in))
        return z.reshape(*b.shape[:nb], -1) if self.flat else z
