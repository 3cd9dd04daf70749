"""OFDM sensing scenes (monostatic ISAC) and the deterministic Cramér–Rao bound of their model.

Conventions (``docs/CONTRACTS.md``, isac; antenna a = 0..A−1, subcarrier k = 0..K−1, OFDM
symbol l = 0..L−1, wavelength λ = c/f_c, element spacing d in wavelengths, symbol duration
T_s including the cyclic prefix, subcarrier spacing Δf): a point target at angle θ (from
broadside, positive towards increasing antenna index), range R and radial velocity v (positive =
receding) contributes to the per-resource-element channel

    g · exp(+j2π·d·a·sin θ) · exp(−j2π·k·Δf·2R/c) · exp(−j2π·(2v/λ)·l·T_s).

Each dimension is therefore a harmonic ``exp(j2π f n)`` with the normalised frequencies
(cycles per sample)

    f_angle = d sin θ,   f_range = −2 Δf R / c,   f_velocity = −2 v T_s / λ,

unambiguous for R ∈ [0, c/(2Δf)) and v ∈ [−λ/(4T_s), λ/(4T_s)). :class:`OFDMGeometry` converts
between the two. The noise is circular complex Gaussian with variance σ² per resource element
(E|w|² = σ²); "SNR per resource element" is |g|²/σ².
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

C_LIGHT = 299_792_458.0


@dataclasses.dataclass(frozen=True)
class OFDMGeometry:
    """Sizes and physical constants of an OFDM channel tensor (A antennas × K subcarriers × L symbols)."""

    antennas: int
    subcarriers: int
    symbols: int
    carrier_hz: float = 28e9
    subcarrier_spacing_hz: float = 120e3
    symbol_duration_s: float = (1 + 1 / 14) / 120e3
    antenna_spacing_wavelengths: float = 0.5

    @property
    def shape(self):
        return (self.antennas, self.subcarriers, self.symbols)

    @property
    def wavelength(self):
        return C_LIGHT / self.carrier_hz

    @property
    def max_range(self):
        """Unambiguous range c/(2Δf) in metres."""
        return C_LIGHT / (2 * self.subcarrier_spacing_hz)

    @property
    def max_speed(self):
        """Unambiguous speed λ/(4T_s) in m/s (velocities in [−max_speed, max_speed))."""
        return self.wavelength / (4 * self.symbol_duration_s)

    @property
    def resolution(self):
        """One FFT resolution cell: (sin θ, range m, velocity m/s)."""
        return (1 / (self.antennas * self.antenna_spacing_wavelengths),
                C_LIGHT / (2 * self.subcarriers * self.subcarrier_spacing_hz),
                self.wavelength / (2 * self.symbols * self.symbol_duration_s))

    def freq_scale(self):
        """d f / d(parameter) per dimension at the parameter (angle handled in :meth:`to_freqs`)."""
        return (self.antenna_spacing_wavelengths, -2 * self.subcarrier_spacing_hz / C_LIGHT,
                -2 * self.symbol_duration_s / self.wavelength)

    def to_freqs(self, params) -> np.ndarray:
        """(P, 3) [angle_deg, range_m, velocity_mps] -> (P, 3) normalised frequencies, wrapped to [−½, ½)."""
        p = np.asarray(params, dtype=np.float64).reshape(-1, 3)
        s = self.freq_scale()
        f = np.stack([s[0] * np.sin(np.deg2rad(p[:, 0])), s[1] * p[:, 1], s[2] * p[:, 2]], axis=1)
        return wrap(f)

    def from_freqs(self, freqs) -> np.ndarray:
        """(P, 3) normalised frequencies -> (P, 3) [angle_deg, range_m, velocity_mps] in the unambiguous intervals.

        An angle frequency beyond ±d (no real angle) is clipped to ±90°.
        """
        f = wrap(np.asarray(freqs, dtype=np.float64).reshape(-1, 3))
        d = self.antenna_spacing_wavelengths
        ang = np.rad2deg(np.arcsin(np.clip(f[:, 0] / d, -1.0, 1.0)))
        rng = np.mod(-f[:, 1], 1.0) * self.max_range
        rng = np.where(rng >= self.max_range, 0.0, rng)
        vel = -f[:, 2] * self.wavelength / (2 * self.symbol_duration_s)
        return np.stack([ang, rng, vel], axis=1)

    def param_jacobian(self, params) -> np.ndarray:
        """(P, 3) d parameter / d frequency (deg, m, m/s per cycle/sample) at ``params``."""
        p = np.asarray(params, dtype=np.float64).reshape(-1, 3)
        d = self.antenna_spacing_wavelengths
        cos = np.maximum(np.cos(np.deg2rad(p[:, 0])), 1e-12)
        s = self.freq_scale()
        return np.stack([np.rad2deg(1.0 / (d * cos)), np.full(len(p), 1 / s[1]), np.full(len(p), 1 / s[2])], axis=1)


def wrap(f: np.typing.ArrayLike) -> np.ndarray:
    """Wrap normalised frequencies to [−½, ½).

    Returns
    -------
    numpy.ndarray
        The wrapped frequencies (float64).
    """
    return np.mod(np.asarray(f, dtype=np.float64) + 0.5, 1.0) - 0.5


def steering(f, M: int, *, derivative: bool = False, dtype=torch.complex128, device=None) -> torch.Tensor:
    """(M, P) Vandermonde factor ``exp(j2π n f_p)`` (or its derivative ``j2π n exp(j2π n f_p)`` in f).

    Returns
    -------
    torch.Tensor
        The ``(M, P)`` matrix.
    """
    f = torch.as_tensor(f, dtype=torch.float64, device=device).reshape(-1)
    n = torch.arange(M, dtype=torch.float64, device=device)[:, None]
    V = torch.exp(2j * math.pi * n * f[None, :])
    if derivative:
        V = V * (2j * math.pi * n)
    return V.to(dtype)


def synthesize(freqs: np.typing.ArrayLike, gains: np.typing.ArrayLike, shape: tuple[int, int, int]) -> torch.Tensor:
    """Noiseless channel ``Σ_p g_{s,p} a_p ∘ d_p ∘ v_p``: (S, A, K, L) from (P, 3) freqs and (S, P) gains.

    Returns
    -------
    torch.Tensor
        The ``(S, A, K, L)`` channel.
    """
    f = torch.as_tensor(np.asarray(freqs, dtype=np.float64).reshape(-1, 3))
    g = torch.as_tensor(np.asarray(gains)).to(torch.complex128).reshape(-1, f.shape[0])
    A, D, V = (steering(f[:, m], shape[m]) for m in range(3))
    return torch.einsum("sp,ap,kp,lp->sakl", g, A, D, V)


def _mode_grams(freqs, shape):
    """Per mode m: (V_mᴴV_m, V'_mᴴV_m, V'_mᴴV'_m) with V' the derivative in f (closed-form sums)."""
    out = []
    for m in range(3):
        V = steering(freqs[:, m], shape[m])
        Vd = steering(freqs[:, m], shape[m], derivative=True)
        out.append((V.mH @ V, Vd.mH @ V, Vd.mH @ Vd))
    return out


def model_grams(freqs: np.typing.ArrayLike, shape: tuple[int, int, int]):
    """``(KᴴK (P×P), DᴴK (3P×P), DᴴD (3P×3P))`` of the Khatri–Rao model at the frequencies ``freqs`` (P, 3).

    K = A ⊙ D ⊙ V holds the P atoms; D = [D_angle, D_range, D_velocity] the derivative atoms (the
    factor of one mode replaced by its derivative in f). All Grams are Hadamard products of per-mode
    Grams, so nothing of size A·K·L is formed.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, torch.Tensor]
        ``KᴴK``, ``DᴴK`` and ``DᴴD``.
    """
    f = torch.as_tensor(np.asarray(freqs, dtype=np.float64).reshape(-1, 3))
    G = _mode_grams(f, shape)
    P = f.shape[0]
    Gkk = G[0][0] * G[1][0] * G[2][0]
    Gdk = torch.zeros(3 * P, P, dtype=torch.complex128)
    Gdd = torch.zeros(3 * P, 3 * P, dtype=torch.complex128)
    for s in range(3):
        Gdk[s * P:(s + 1) * P] = math.prod(G[m][1] if m == s else G[m][0] for m in range(3))
        for t in range(3):
            blk = 1
            for m in range(3):
                if m == s and m == t:
                    blk = blk * G[m][2]
                elif m == s:
                    blk = blk * G[m][1]
                elif m == t:
                    blk = blk * G[m][1].mH
                else:
                    blk = blk * G[m][0]
            Gdd[s * P:(s + 1) * P, t * P:(t + 1) * P] = blk
    return Gkk, Gdk, Gdd


def projected_derivative_gram(freqs: np.typing.ArrayLike, shape: tuple[int, int, int]) -> torch.Tensor:
    """``Dᴴ P⊥_K D`` (3P × 3P complex), see :func:`model_grams`.

    Returns
    -------
    torch.Tensor
        The ``(3P, 3P)`` matrix.
    """
    Gkk, Gdk, Gdd = model_grams(freqs, shape)
    return Gdd - Gdk @ torch.linalg.solve(Gkk, Gdk.mH)


def frequency_fisher(freqs, gains, shape, noise_var: float) -> np.ndarray:
    """Fisher information (3P × 3P, real) of the frequencies, gains (S, P) unknown (projected out).

    ``F = (2/σ²) Σ_s Re{ diag(ḡ_s) (Dᴴ P⊥_K D) diag(g_s) }`` with g repeated for the three types;
    rows/columns ordered [angle freqs (P), range freqs (P), velocity freqs (P)].

    Returns
    -------
    numpy.ndarray
        The ``(3P, 3P)`` Fisher information.
    """
    M = projected_derivative_gram(freqs, shape)
    g = torch.as_tensor(np.asarray(gains)).to(torch.complex128)
    g = g.reshape(-1, M.shape[0] // 3)
    gt = torch.cat([g, g, g], dim=1)                       # (S, 3P)
    F = (gt.conj()[:, :, None] * M[None] * gt[:, None, :]).sum(0).real
    return (2.0 / noise_var) * F.numpy()


def crb(params, gains, geometry: OFDMGeometry, noise_var: float) -> np.ndarray:
    """Deterministic CRB standard deviations (P, 3): angle (deg), range (m), velocity (m/s).

    The joint bound over all 3P parameters and the complex gains (nuisance), for one or several
    snapshots (``gains`` (S, P), the same targets in every snapshot), in the CONTRACTS conventions
    (delay 2R/c with R in metres). Not the per-type "approximate" bound of the PLAIN demo, which
    ignores the information coupling between angle, range and velocity.

    Returns
    -------
    numpy.ndarray
        The ``(P, 3)`` standard deviations.
    """
    p = np.asarray(params, dtype=np.float64).reshape(-1, 3)
    f = geometry.to_freqs(p)
    F = frequency_fisher(f, gains, geometry.shape, noise_var)
    cov = np.linalg.inv(F)
    var_f = np.diag(cov).reshape(3, -1).T                   # (P, 3)
    return np.sqrt(np.maximum(var_f, 0.0)) * np.abs(geometry.param_jacobian(p))


def random_targets(geometry: OFDMGeometry, n: int, *, generator: torch.Generator, max_range: float,
                   max_speed: float, max_angle_deg: float = 60.0, min_range: float = 5.0,
                   min_sep_cells: float = 2.0, tries: int = 200) -> np.ndarray:
    """``n`` targets (n, 3) drawn uniformly, every pair at least ``min_sep_cells`` FFT cells apart in every
    dimension (rejection sampling; raises ValueError when the region is too small).

    Returns
    -------
    numpy.ndarray
        The ``(n, 3)`` target parameters (angle, range, velocity).
    """
    res = geometry.resolution
    out = []
    for _ in range(tries):                       # restarts: an unlucky early placement can block the rest
        out = []
        for _ in range(50 * max(n, 1)):
            if len(out) == n:
                break
            u = torch.rand(3, generator=generator, dtype=torch.float64).numpy()
            s = (2 * u[0] - 1) * math.sin(math.radians(max_angle_deg))
            cand = np.array([math.degrees(math.asin(s)), min_range + u[1] * (max_range - min_range),
                             (2 * u[2] - 1) * max_speed])
            ok = True
            for t in out:
                ds = abs(math.sin(math.radians(cand[0])) - math.sin(math.radians(t[0]))) / res[0]
                if min(ds, abs(cand[1] - t[1]) / res[1], abs(cand[2] - t[2]) / res[2]) < min_sep_cells:
                    ok = False
                    break
            if ok:
                out.append(cand)
        if len(out) == n:
            break
    if len(out) < n:
        raise ValueError(f"cannot place {n} targets {min_sep_cells} cells apart in every dimension in the "
                         f"region (range <= {max_range} m, |velocity| <= {max_speed} m/s)")
    return np.array(out).reshape(-1, 3)


def ofdm_channel(geometry: OFDMGeometry, params, *, snr_db: float, snapshots: int = 1,
                 generator: torch.Generator, modulation: str = "qpsk", path_loss: bool = False,
                 dtype=torch.complex128):
    """Per-RE channel estimate of a monostatic OFDM scene: ``(H (S, A, K, L), gains (S, P), noise_var)``.

    Random data symbols X (QPSK or BPSK, unit modulus) are transmitted, the echo
    ``Y = X ∘ H_true + W`` is received with W ~ CN(0, σ²), and the channel estimate is ``Y / X``.
    Gains have unit modulus and random phases (independent per snapshot); with ``path_loss`` their
    amplitude falls as (R_min/R)² (radar equation, relative to the nearest target); σ² = 10^(−snr_db/10),
    so ``snr_db`` is the per-RE SNR of a unit-gain (the nearest) target.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor, float]
        The channel estimate ``(S, A, K, L)``, the gains ``(S, P)`` and the noise variance.
    """
    p = np.asarray(params, dtype=np.float64).reshape(-1, 3)
    P = p.shape[0]
    S = int(snapshots)
    shape = geometry.shape
    phase = 2 * math.pi * torch.rand(S, P, generator=generator, dtype=torch.float64)
    amp = torch.ones(P, dtype=torch.float64)
    if path_loss and P:
        r = torch.as_tensor(np.maximum(p[:, 1], 1.0))
        amp = (r.min() / r) ** 2
    gains = amp[None, :] * torch.exp(1j * phase)
    H = synthesize(geometry.to_freqs(p), gains, shape) if P else torch.zeros(S, *shape, dtype=torch.complex128)
    noise_var = 10.0 ** (-snr_db / 10.0)
    full = (S, *shape)
    if modulation == "qpsk":
        bits = torch.randint(0, 4, full, generator=generator)
        X = torch.exp(1j * (math.pi / 4 + math.pi / 2 * bits.double()))
    elif modulation == "bpsk":
        X = (1 - 2 * torch.randint(0, 2, full, generator=generator)).to(torch.complex128)
    else:
        raise ValueError(f"modulation must be qpsk or bpsk, got {modulation!r}")
    W = math.sqrt(noise_var / 2) * torch.complex(torch.randn(full, generator=generator, dtype=torch.float64),
                                                 torch.randn(full, generator=generator, dtype=torch.float64))
    Y = X * H + W
    return (Y / X).to(dtype), gains, noise_var
