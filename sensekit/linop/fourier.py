"""Fourier operators."""
from __future__ import annotations

import functools

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


@functools.lru_cache(maxsize=64)
def _checkerboard(sizes: tuple, dims: tuple, dtype: torch.dtype, device: torch.device):
    """``(s, c·s)`` with ``s[n] = Π_a (−1)^{n_a}`` over the axes ``dims`` (negative) of lengths ``sizes``
    (all even), broadcastable to the array, and ``c = Π_a (−1)^{sizes_a / 2}``."""
    shape = [1] * max(-d for d in dims)
    s = torch.ones((), dtype=dtype, device=device)
    c = 1.0
    for n, d in zip(sizes, dims):
        v = torch.ones(n, dtype=dtype, device=device)
        v[1::2] = -1
        shape_d = [1] * len(shape)
        shape_d[d] = n
        s = s * v.reshape(shape_d)
        c *= (-1.0) ** (n // 2)
    return s, s * c


def _modulation(x: torch.Tensor, dim: tuple):
    """The pre- and post-factors that make a plain FFT over ``dim`` a centred one (None if an axis is odd).

    For an even length N, ``fftshift(fft(ifftshift(x))) = (−1)^{N/2} · s ⊙ fft(s ⊙ x)`` with
    ``s[n] = (−1)^n`` (and the same for the inverse): two real ±1 multiplications, cheaper than the two
    circular shifts (copies through an index map) and exact (a sign flip rounds nothing).
    """
    if x.ndim == 0 or x.dtype not in (torch.complex64, torch.complex128, torch.float32, torch.float64):
        return None
    dims = tuple(sorted({(d if d < 0 else d - x.ndim) for d in dim}))
    sizes = tuple(x.shape[d] for d in dims)
    if not dims or any(n % 2 for n in sizes):
        return None
    real = x.real.dtype if x.is_complex() else x.dtype
    return _checkerboard(sizes, dims, real, x.device)


def fftc(x: torch.Tensor, dim=(-2, -1)) -> torch.Tensor:
    """Centred orthonormal FFT: ``fftshift(fftn(ifftshift(x)))`` over ``dim``.

    Even-length axes take the shift-free form of :func:`_modulation` (the same transform).

    Returns
    -------
    torch.Tensor
        The centred spectrum, shaped like ``x``.
    """
    dim = tuple(dim)
    mod = _modulation(x, dim)
    if mod is not None:
        return torch.fft.fftn(x * mod[0], dim=dim, norm="ortho").mul_(mod[1])
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
    mod = _modulation(y, dim)
    if mod is not None:
        return torch.fft.ifftn(y * mod[0], dim=dim, norm="ortho").mul_(mod[1])
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
