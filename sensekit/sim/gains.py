"""Random-projection sensing with unknown positive sensor gains (the gain-calib model).

``y[l, i] = d[i] · ⟨a[l, i], x⟩ + noise`` for snapshots ``l < p`` and sensors ``i < m``; the
sensing vectors ``a[l, i] ∈ R^n`` are i.i.d. (Gaussian or Bernoulli ±1, unit variance entries,
a fresh draw per snapshot), the gains are positive with mean 1, the signal is Gaussian (or
``x = B z`` in a random ``k``-dimensional subspace), the gains may lie in an ``h``-dimensional
subspace that contains the constant vector (low-frequency cosines: smooth gain profiles).
"""
from __future__ import annotations

import dataclasses
import math

import torch


@dataclasses.dataclass
class GainInstance:
    sensing: torch.Tensor            # (p, m, n)
    measurements: torch.Tensor       # (p, m)
    gains: torch.Tensor              # (m,), mean 1
    signal: torch.Tensor             # (n,)
    signal_basis: torch.Tensor | None = None   # (n, k)
    gain_basis: torch.Tensor | None = None     # (m, h)
    noise_std: float = 0.0


def cosine_basis(m: int, h: int, dtype=torch.float64) -> torch.Tensor:
    """The first ``h`` DCT-II vectors of length ``m`` (orthonormal; column 0 is constant).

    Returns
    -------
    torch.Tensor
        The ``(m, h)`` basis.
    """
    i = torch.arange(m, dtype=dtype)
    cols = [torch.cos(math.pi * (i + 0.5) * k / m) for k in range(h)]
    B = torch.stack(cols, 1)
    return B / torch.linalg.vector_norm(B, dim=0)


def sensing_stack(p: int, m: int, n: int, *, kind: str = "gaussian", generator=None,
                  dtype=torch.float64) -> torch.Tensor:
    """i.i.d. sensing vectors (p, m, n) with unit-variance entries: ``gaussian`` or ``bernoulli`` (±1);
    a complex ``dtype`` gives circular complex Gaussian entries (``gaussian``) or random ±1, ±i (``bernoulli``).

    Returns
    -------
    torch.Tensor
        The ``(p, m, n)`` sensing vectors.
    """
    if dtype.is_complex:
        real = torch.float64 if dtype == torch.complex128 else torch.float32
        if kind == "gaussian":
            re = torch.randn((p, m, n), generator=generator, dtype=real)
            im = torch.randn((p, m, n), generator=generator, dtype=real)
            return torch.complex(re, im) / math.sqrt(2)
        if kind == "bernoulli":
            k = torch.randint(0, 4, (p, m, n), generator=generator)
            return torch.polar(torch.ones((p, m, n), dtype=real), (math.pi / 2) * k.to(real))
        raise ValueError(f"sensing kind must be 'gaussian' or 'bernoulli', got {kind!r}")
    if kind == "gaussian":
        return torch.randn((p, m, n), generator=generator, dtype=dtype)
    if kind == "bernoulli":
        return (torch.randint(0, 2, (p, m, n), generator=generator) * 2 - 1).to(dtype)
    raise ValueError(f"sensing kind must be 'gaussian' or 'bernoulli', got {kind!r}")


def gain_instance(n: int, m: int, p: int, *, rho: float = 0.5, noise: float = 0.0, kind: str = "gaussian",
                  k: int = 0, h: int = 0, phase: float | None = None, generator=None,
                  dtype=torch.float64) -> GainInstance:
    """One random instance.

    Parameters
    ----------
    n, m, p : signal length, sensors, snapshots.
    rho : gain spread: without a gain subspace the gains are uniform in ``[1 − ρ, 1 + ρ]`` then
        shifted to mean 1 (``ρ < 1``); with ``h`` they are ``1 + C e`` scaled so that
        ``max |d − 1| = ρ`` (complex ``e`` when ``phase`` is set).
    noise : Gaussian noise std relative to the rms of the clean measurements.
    kind : ``gaussian`` or ``bernoulli`` sensing.
    k : signal subspace dimension (0: none), a random Gaussian basis (n, k).
    h : gain subspace dimension (0: none), low-frequency cosines (m, h), the first one constant.
    phase : complex gains (None: real): the gains' magnitudes as above times ``exp(iφ_i)`` with φ_i uniform
        in ``[−phase, phase]``, rescaled to a complex mean of 1; sensing and signal are then complex
        (circular Gaussian) too.

    Returns
    -------
    GainInstance
        The sensing vectors, measurements, true gains and signal, bases and noise level.
    """
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
    A = sensing_stack(p, m, n, kind=kind, generator=generator, dtype=cdt if phase is not None else dtype)
    B = C = None

    def draw(*shape):
        v = torch.randn(shape, generator=generator, dtype=dtype)
        if phase is not None:
            v = torch.complex(v, torch.randn(shape, generator=generator, dtype=dtype)) / math.sqrt(2)
        return v

    if k:
        B = torch.randn((n, k), generator=generator, dtype=dtype) / math.sqrt(n)
        x = B.to(A.dtype) @ draw(k)
    else:
        x = draw(n)
    x = x / torch.linalg.vector_norm(x) * math.sqrt(n)                # unit rms entries
    if h:
        C = cosine_basis(m, h, dtype)
        if h > 1:
            dev = C[:, 1:].to(A.dtype) @ draw(h - 1)
            dev = dev - dev.mean()
            d = 1 + rho * dev / dev.abs().max().clamp_min(1e-30)
        else:
            d = torch.ones(m, dtype=dtype)
    else:
        d = 1 + rho * (2 * torch.rand(m, generator=generator, dtype=dtype) - 1)
        d = d / d.mean()
    if phase is not None and not h:   # (with a gain basis the complex coefficients above already set the phases)
        phi = phase * (2 * torch.rand(m, generator=generator, dtype=dtype) - 1)
        d = torch.polar(d, phi)
        d = d / d.mean()
    clean = d[None, :] * (A.reshape(p * m, n) @ x).reshape(p, m)
    sigma = 0.0
    y = clean
    if noise > 0:
        sigma = float(noise * clean.abs().pow(2).mean().sqrt())
        y = clean + sigma * draw(p, m)
    return GainInstance(sensing=A, measurements=y, gains=d, signal=x, signal_basis=B, gain_basis=C,
                        noise_std=sigma)
