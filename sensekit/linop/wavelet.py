"""Orthonormal discrete wavelet transform in torch, on PyWavelets filter banks."""
from __future__ import annotations

import torch

from .base import LinOp, Identity, _shape, cast_like
from .fourier import _neg_axes


def _levels_for(n: int, filt_len: int, cap: int | None) -> int:
    """How many halvings an axis of length n takes (even length at every level)."""
    lev = 0
    while n % 2 == 0 and n // 2 >= max(filt_len // 2, 1) and (cap is None or lev < cap):
        n //= 2
        lev += 1
    return lev


class Wavelet(LinOp):
    """Multi-level orthonormal DWT over two (or more) axes, periodic boundary (unitary).

    The filters come from PyWavelets (``pywt.Wavelet(name).filter_bank``) and
    the transform is computed with torch convolutions, so it runs batched on
    CPU or CUDA, in float or complex precision, and autograd agrees with the
    adjoint.  With PyWavelets' ``mode="periodization"`` the coefficients equal
    ``pywt.wavedec2`` arranged by ``pywt.coeffs_to_array`` (same shape as the
    input, the coarsest approximation in the top-left corner).

    Parameters
    ----------
    shape : tuple of int
        ``in_shape`` (= ``out_shape``), e.g. ``(Y, X)`` or ``(T, Y, X)``.
    wavelet : str
        An orthogonal PyWavelets family name (``"haar"``, ``"db4"``, ``"sym8"``, …).
    levels : int, optional
        Number of decomposition levels (default: as many as every axis allows,
        at most 4).
    axes : tuple of int
        The transformed axes of ``shape`` (default the last two).

    Notes
    -----
    Each level filters the current approximation block along every axis that
    can still be halved: an axis of length n is halved while n is even and
    n/2 is at least half the filter length.  Axes run out of levels on their
    own (a 180 × 230 image gets 2 levels on the first axis and 1 on the
    second), so the operator is square and unitary for any size: WᴴW = WWᴴ = I.

    The analysis step along an axis of length n is, for k = 0 … n/2 − 1,
    ``a[k] = Σ_j h[j] x[(2k + L/2 − j) mod n]`` and ``d[k] = Σ_j g[j] x[(2k + L/2 − j) mod n]``
    with PyWavelets' decomposition low/high-pass filters h, g; the synthesis is
    its adjoint (= inverse).

    References
    ----------
    S. Mallat, "A theory for multiresolution signal decomposition: the wavelet
    representation", IEEE Trans. PAMI 11(7):674–693, 1989.
    G. Lee et al., "PyWavelets: A Python package for wavelet analysis", JOSS 4(36):1237, 2019.
    """

    is_unitary = True

    def __init__(self, shape, wavelet: str = "db4", levels: int | None = None, axes=(-2, -1)):
        import pywt

        shape = _shape(shape)
        super().__init__(shape, shape)
        self.axes = _neg_axes(axes, len(shape))
        w = pywt.Wavelet(wavelet)
        if not w.orthogonal:
            raise ValueError(f"Wavelet: {wavelet!r} is not orthogonal (use e.g. haar, db*, sym*, coif*)")
        self.wavelet = wavelet
        dec_lo, dec_hi = w.filter_bank[0], w.filter_bank[1]
        L = len(dec_lo)
        cap = 4 if levels is None else int(levels)
        if cap < 0:
            raise ValueError(f"Wavelet: levels must be >= 0, got {levels}")
        # levels per transformed axis; the transform has as many levels as the deepest axis
        self.axis_levels = tuple(_levels_for(shape[a], L, cap) for a in self.axes)
        if max(self.axis_levels, default=0) == 0:
            raise ValueError(f"Wavelet: no axis of {shape} (axes {self.axes}) can be halved with a "
                             f"{L}-tap filter")
        self.levels = max(self.axis_levels)
        # conv1d cross-correlates: reverse the filters so that a[k] = Σ_j h[j] x[2k + 1 − j]
        filt = torch.tensor([list(reversed(dec_lo)), list(reversed(dec_hi))], dtype=torch.float64)
        self.register_buffer("filt", filt.unsqueeze(1), persistent=False)  # (2, 1, L)
        # synthesis in polyphase form (a plain convolution is much faster than a transposed one):
        # output phase e of channel c uses the taps w_c[2(h − 1 − r) + e], h = L/2
        h = L // 2
        poly = torch.stack([torch.stack([filt[c, [2 * (h - 1 - r) + e for r in range(h)]] for c in range(2)])
                            for e in range(2)])
        self.register_buffer("pfilt", poly, persistent=False)  # (2 phases, 2 channels, L/2)

    # ----------------------------------------------------------- 1-D pieces
    def _analysis(self, x, ax):
        """(…, n, …) along ax → (…, n, …) with [approx | detail] halves."""
        x = x.movedim(ax, -1)
        lead, n = x.shape[:-1], x.shape[-1]
        sft = self.filt.shape[-1] // 2 - 1
        f = cast_like(self.filt, x.real if x.is_complex() else x)
        v = x.reshape(-1, 1, n)
        if x.is_complex():
            v = torch.cat([v.real, v.imag], dim=0)
        # a[k] = Σ_j h[j] x[(2k + L/2 − j) mod n]: correlate the reversed filter with the signal
        # extended circularly by L/2 − 1 samples on each side
        if sft:
            v = torch.nn.functional.pad(v, (sft, sft), mode="circular")
        out = torch.nn.functional.conv1d(v, f, stride=2)  # (B, 2, n/2)
        if x.is_complex():
            half = out.shape[0] // 2
            out = torch.complex(out[:half], out[half:])
        return out.reshape(*lead, n).movedim(-1, ax)  # [approx (n/2) | detail (n/2)]

    def _synthesis(self, y, ax):
        """Adjoint (= inverse) of :meth:`_analysis` along ax."""
        y = y.movedim(ax, -1)
        lead, n = y.shape[:-1], y.shape[-1]
        L = self.filt.shape[-1]
        v = y.reshape(-1, 2, n // 2)
        if y.is_complex():
            v = torch.cat([v.real, v.imag], dim=0)
        # x[2m + e] = Σ_c Σ_q v_c[m − q] w_c[2q + e] on the periodically extended coefficients
        h = L // 2
        v = torch.nn.functional.pad(v, (h, h), mode="circular")
        out = torch.nn.functional.conv1d(v, cast_like(self.pfilt, v))          # (B, 2 phases, n/2 + h + 1)
        x = out.transpose(1, 2).reshape(out.shape[0], 1, -1)[..., h + 1: h + 1 + n]
        if y.is_complex():
            half = x.shape[0] // 2
            x = torch.complex(x[:half], x[half:])
        return x.reshape(*lead, n).movedim(-1, ax)

    # ----------------------------------------------------------- N-D
    def _blocks(self):
        """Size of the approximation block on each transformed axis before each level."""
        sizes = [self.in_shape[a] for a in self.axes]
        out = []
        for lev in range(self.levels):
            out.append(tuple(sizes))
            sizes = [s // 2 if lev < la else s for s, la in zip(sizes, self.axis_levels)]
        return out

    def _region(self, x, sizes):
        nd = x.ndim
        sl = [slice(None)] * nd
        for a, s in zip(self.axes, sizes):
            sl[nd + a] = slice(0, s)
        return tuple(sl)

    def _forward(self, x):
        out = x.clone()
        for lev, sizes in enumerate(self._blocks()):
            reg = self._region(out, sizes)
            blk = out[reg]
            for a, la in zip(self.axes, self.axis_levels):
                if lev < la:
                    blk = self._analysis(blk, a)
            out[reg] = blk
        return out

    def _adjoint(self, y):
        out = y.clone()
        for lev, sizes in reversed(list(enumerate(self._blocks()))):
            reg = self._region(out, sizes)
            blk = out[reg]
            for a, la in reversed(list(zip(self.axes, self.axis_levels))):
                if lev < la:
                    blk = self._synthesis(blk, a)
            out[reg] = blk
        return out

    @property
    def N(self):
        return Identity(self.in_shape)

    def solve_normal(self, b, shift=0.0):
        return b / (1.0 + shift)

    def approx_mask(self) -> torch.Tensor:
        """Boolean mask over ``out_shape`` of the coarsest approximation coefficients.

        Sparsity penalties usually leave these out (they carry the image's
        low-resolution content, which is not sparse).
        """
        m = torch.zeros(self.in_shape, dtype=torch.bool)
        sizes = [self.in_shape[a] for a in self.axes]
        for s, la in zip(range(len(sizes)), self.axis_levels):
            sizes[s] = sizes[s] >> la
        m[self._region(m, sizes)] = True
        return m

    def extra_repr(self):
        return f"shape={self.in_shape}, wavelet={self.wavelet!r}, levels={self.axis_levels}, axes={self.axes}"
