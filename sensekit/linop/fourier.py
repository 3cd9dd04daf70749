"""Fourier operators."""
from __future__ import annotations

import torch

from .base import LinOp, Identity, _shape


def _neg_axes(axes, ndim):
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} out of range for a {ndim}-d in_shape")
        out.append(a - ndim if a >= 0 else a)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axes in {tuple(axes)}")
    return tuple(out)


def fftc(x: torch.Tensor, dim=(-2, -1)) -> torch.Tensor:
    """Centred orthonormal FFT: ``fftshift(fftn(ifftshift(x)))`` over ``dim``.

    Returns
    -------
    torch.Tensor
        The centred spectrum, shaped like ``x``.
    """
    dim = tuple(dim)
    x = torch.fft.ifftshift(x, dim=dim)
    x = torch.fft.fftn(x, dim=dim, norm="ortho")
    return torch.fft.fftshift(x, dim=dim)


def ifftc(y: torch.Tensor, dim=(-2, -1)) -> torch.Tensor:
    """Inverse (= adjoint) of :func:`fftc`.

    Returns
    -------
    torch.Tensor
        The centred inverse transform, shaped like ``y``.
    """
    dim = tuple(dim)
    y = torch.fft.ifftshift(y, dim=dim)
    y = torch.fft.ifftn(y, dim=dim, norm="ortho")
    return torch.fft.fftshift(y, dim=dim)


class FFT(LinOp):
    """Orthonormal (optionally centred) discrete Fourier transform over chosen axes.

    With ``centered=True`` (default) the zero frequency sits at index ``n // 2``
    of each transformed axis, i.e. ``fftshift(fftn(ifftshift(x), norm="ortho"))``
    — the k-space convention of CONTRACTS.md.  The operator is unitary, so
    ``F.H`` is its inverse and ``F.N`` the identity.

    Parameters
    ----------
    shape : tuple of int
        ``in_shape`` (= ``out_shape``).
    axes : tuple of int
        Axes of ``shape`` to transform (negative counts from the end); default the last two.
    centered : bool
    """

    is_unitary = True

    def __init__(self, shape, axes=(-2, -1), centered: bool = True):
        shape = _shape(shape)
        super().__init__(shape, shape)
        self.axes = _neg_axes(axes, len(shape))
        self.centered = bool(centered)

    def _forward(self, x):
        if not x.is_complex():
            x = x.to(torch.complex128 if x.dtype == torch.float64 else torch.complex64)
        if self.centered:
            return fftc(x, self.axes)
        return torch.fft.fftn(x, dim=self.axes, norm="ortho")

    def _adjoint(self, y):
        if not y.is_complex():
            y = y.to(torch.complex128 if y.dtype == torch.float64 else torch.complex64)
        if self.centered:
            return ifftc(y, self.axes)
        return torch.fft.ifftn(y, dim=self.axes, norm="ortho")

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)

    def extra_repr(self):
        return f"shape={self.in_shape}, axes={self.axes}, centered={self.centered}"
