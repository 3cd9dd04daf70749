"""Synthetic plane-wave ultrasound RF of speckle phantoms (point scatterers, linear array, no downloads).

The model is first-order (Born) scattering without attenuation or element directivity: a scatterer of
amplitude a at (x, z) adds ``a · p(t − τ_tx(x, z) − τ_rx,e(x, z))`` to element e, with the transmit and
receive delays of :mod:`sensekit.linop.ultrasound` and a Gaussian-modulated pulse
``p(t) = exp(−t² / (2σ²)) cos(2π fc t)``, ``σ`` set by the fractional −6 dB bandwidth.  The RF is
sampled at ``t0 + n / fs`` (band-pass sampling below 2 fc is reproduced as a real system does it).

Phantoms: uniform speckle (scatterer density ``density`` per resolution cell) whose echogenicity is
modulated by random discs (anechoic cysts, hypo- and hyper-echoic inclusions), optionally a rotating
disk whose scatterers move between slow-time frames (a Doppler ensemble like the real rotating-disk file).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..linop.ultrasound import element_positions

__all__ = ["ProbeGeometry", "speckle_phantom", "simulate_rf", "REAL_DISK_PROBE"]


@dataclasses.dataclass(frozen=True)
class ProbeGeometry:
    n_elements: int = 128
    pitch: float = 0.298e-3
    fs: float = 20e6 / 3.0
    fc: float = 5e6
    c: float = 1480.0
    t0: float = 9.95e-6
    n_samples: int = 334
    bandwidth: float = 0.6        # fractional −6 dB bandwidth of the pulse

    def attrs(self) -> dict:
        return {"fs_hz": self.fs, "fc_hz": self.fc, "pitch_m": self.pitch, "c_mps": self.c, "t0_s": self.t0}


#: the geometry of the real rotating-disk file (Verasonics L11-4v-like array, 128 elements)
REAL_DISK_PROBE = ProbeGeometry()


def speckle_phantom(probe: ProbeGeometry, *, n_scatterers: int = 10000, n_inclusions: int = 3,
                    x_extent: float | None = None, z_range: tuple | None = None,
                    generator: torch.Generator | None = None, dtype=torch.float64):
    """Random scatterers (x (K,), z (K,), amplitude (K,)) of a speckle phantom with disc inclusions.

    Inclusion echogenicity is drawn from {0 (cyst), 0.3, 3}; scatterers fill the lateral span of the array
    (``x_extent`` half-width, default half the aperture) and the depth range seen by the samples.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, torch.Tensor]
        The positions ``x``, ``z`` and amplitudes of the ``K`` scatterers.
    """
    g = generator
    half = x_extent if x_extent is not None else probe.n_elements * probe.pitch / 2
    if z_range is None:
        zmin = probe.c * probe.t0 / 2 + 1e-3
        zmax = probe.c * (probe.t0 + (probe.n_samples - 1) / probe.fs) / 2 - 1e-3
    else:
        zmin, zmax = z_range
    u = torch.rand(3, n_scatterers, generator=g, dtype=dtype)
    x = (2 * u[0] - 1) * half
    z = zmin + (zmax - zmin) * u[1]
    amp = torch.randn(n_scatterers, generator=g, dtype=dtype)
    gain = torch.ones(n_scatterers, dtype=dtype)
    levels = torch.tensor([0.0, 0.3, 3.0], dtype=dtype)
    for _ in range(n_inclusions):
        v = torch.rand(4, generator=g, dtype=dtype)
        cx, cz = (2 * v[0] - 1) * half * 0.8, zmin + (zmax - zmin) * (0.15 + 0.7 * v[1])
        r = (1.5e-3 + 5e-3 * v[2])
        lev = levels[int(v[3] * 3) % 3]
        inside = (x - cx) ** 2 + (z - cz) ** 2 <= r * r
        gain = torch.where(inside, lev.expand_as(gain), gain)
    return x, z, amp * gain


def simulate_rf(probe: ProbeGeometry, x: torch.Tensor, z: torch.Tensor, amp: torch.Tensor, *,
                angle: float = 0.0, chunk: int = 512) -> torch.Tensor:
    """RF channel data (E, S) float64 of the scatterers for one plane-wave transmit at ``angle`` (radians).

    Returns
    -------
    torch.Tensor
        The ``(E, S)`` RF data.
    """
    E, S = probe.n_elements, probe.n_samples
    xe = element_positions(E, probe.pitch, dtype=torch.float64, device=x.device)
    sigma = math.sqrt(2 * math.log(2)) / (math.pi * probe.bandwidth * probe.fc)   # −6 dB full width
    L = int(math.ceil(4 * sigma * probe.fs))                                        # half support (samples)
    offs = torch.arange(-L, L + 1, device=x.device)
    s, co = math.sin(angle), math.cos(angle)
    rf = torch.zeros(E * S, dtype=torch.float64, device=x.device)
    base = (torch.arange(E, device=x.device) * S)[:, None, None]
    for k0 in range(0, x.numel(), chunk):
        xs, zs, a = x[k0:k0 + chunk], z[k0:k0 + chunk], amp[k0:k0 + chunk]
        tx = (xs * s + zs * co - float((xe * s).min())) / probe.c
        tau = tx[None] + torch.sqrt((xs[None] - xe[:, None]) ** 2 + zs[None] ** 2) / probe.c   # (E, K)
        pos = (tau - probe.t0) * probe.fs
        n = torch.round(pos).to(torch.int64)[..., None] + offs                                # (E, K, 2L+1)
        t = n / probe.fs - (tau[..., None] - probe.t0)
        val = a[None, :, None] * torch.exp(-t * t / (2 * sigma * sigma)) * torch.cos(2 * math.pi * probe.fc * t)
        ok = (n >= 0) & (n < S)
        rf.index_add_(0, (base + n.clamp(0, S - 1)).reshape(-1), (val * ok).reshape(-1))
    return rf.reshape(E, S)
