"""Fusion of elementwise factors in a composition (an execution plan for :class:`~sensekit.linop.Compose`).

A centred FFT over even-length axes is ``Diag(c·s) · F · Diag(s)`` with ``F`` the plain FFT and ``s`` a
±1 checkerboard (see :func:`sensekit.linop.fourier._modulation`).  In a chain such as
``Mask · FFT · Sense`` (multi-coil Fourier sampling), ``Diag(Nd) · FFT · Diag(...)`` (coded diffraction) the
two sign factors are absorbed into the neighbouring elementwise operators, which are then merged:

    Mask(m) · FFTc · Sense(S)  =  Diag(c·s·m) · F · Sense(s·S)

so the chain costs the FFT and one multiplication on each side, instead of two circular shifts, a select
and a multiplication.  The values are the same as the unfused chain for finite inputs (the factors are
exactly ±1 and 0/1); a masked-out NaN or Inf is multiplied by 0 (NaN) where :class:`Mask` would select 0.
"""
from __future__ import annotations

import torch

from .basic import Diag, Mask
from .fourier import FFT, _checkerboard
from .sense import Sense


def _expand_fft(op: FFT, real, device):
    """``[Diag(c·s), FFT(uncentred), Diag(s)]`` for a centred FFT over even axes, else None."""
    if type(op) is not FFT or not op.centered:
        return None
    sizes = tuple(op.in_shape[a] for a in op.axes)
    if any(n % 2 for n in sizes):
        return None
    dims = tuple(sorted(op.axes))
    sizes = tuple(op.in_shape[a] for a in dims)
    pre, post = _checkerboard(sizes, dims, real, device)
    return [Diag(post, op.in_shape), FFT(op.in_shape, axes=op.axes, centered=False), Diag(pre, op.in_shape)]


def _real_of(op):
    """The real dtype of an operator's weight or maps (float32 if it has none)."""
    w = getattr(op, "weight", None)
    if w is None:
        w = getattr(op, "maps", None)
    if w is not None and (w.is_complex() or w.is_floating_point()):
        return w.real.dtype if w.is_complex() else w.dtype
    return torch.float32


def _weight(op, other):
    """The elementwise factor of a Diag, or a Mask's as 0/1 of the real dtype of its neighbour ``other``."""
    return op.weight if type(op) is Diag else op.mask.to(_real_of(other))


def _merge(left, right):
    """One operator equal to ``left · right`` (``right`` acts first) made of their elementwise factors, or None."""
    if type(left) not in (Diag, Mask) or (type(left) is Mask and type(right) is Mask):
        return None
    if type(right) in (Diag, Mask) and left.in_shape == right.in_shape:
        return Diag(_weight(left, right) * _weight(right, left), left.in_shape)
    if type(right) is Sense and left.in_shape == right.out_shape:
        w, maps = _weight(left, right), right.maps
        if w.ndim <= maps.ndim and tuple(torch.broadcast_shapes(w.shape, maps.shape)) == tuple(maps.shape):
            return Sense(maps * w, right.in_shape)
    return None


def plan(ops, like: torch.Tensor):
    """The fused operator list for ``ops`` (as in ``Compose.ops``), or None when nothing fuses.

    Returns
    -------
    list of LinOp or None
        Operators to apply like ``Compose.ops`` (the last first), equal to the composition.
    """
    real = like.real.dtype if like.is_complex() else (like.dtype if like.is_floating_point() else torch.float32)
    out, expanded = [], False
    for op in ops:
        parts = _expand_fft(op, real, like.device)
        if parts is None:
            out.append(op)
        else:
            out.extend(parts)
            expanded = True
    if not expanded:
        return None
    merged = True
    fused = False
    while merged:
        merged = False
        for i in range(len(out) - 1):
            m = _merge(out[i], out[i + 1])
            if m is not None:
                out[i:i + 2] = [m]
                merged = fused = True
                break
    return out if fused else None


def buffers_key(ops, like: torch.Tensor) -> tuple:
    """What a cached plan depends on: the input's real precision and device, and every buffer of ``ops`` with its
    version (an in-place change of a mask or of the maps, or a new buffer, invalidates the plan).  The key
    holds the buffers themselves, so a new tensor cannot pass for a freed one with the same ``id``.

    Returns
    -------
    tuple
        ``(dtype, device, buffers, versions)``; compare two keys with :func:`same_key`.
    """
    bufs = tuple(b for op in ops for b in op._buffers.values() if b is not None)
    real = like.real.dtype if like.is_complex() else like.dtype     # a real image and its complex k-space share
    return real, like.device, bufs, tuple(b._version for b in bufs)


def same_key(a: tuple | None, b: tuple | None) -> bool:
    """Whether two :func:`buffers_key` keys are equal (buffers compared by identity).

    Returns
    -------
    bool
        True when both keys exist and name the same operators over the very same buffers.
    """
    return (a is not None and b is not None and a[0] == b[0] and a[1] == b[1] and len(a[2]) == len(b[2])
            and all(x is y for x, y in zip(a[2], b[2])) and a[3] == b[3])


__all__ = ["plan", "buffers_key", "same_key"]
