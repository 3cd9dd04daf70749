"""The ultrasound imaging chain against independent NumPy loop references (small cases)."""
import math

import numpy as np
import scipy.signal
import torch

from sensekit.linop.ultrasound import (DASPlan, analytic_signal, bmode, clutter_filter_svd, compound,
                                       power_doppler, rf2iq)


def _das_loop(iq, fs, fc, pitch, c, t0, x, z, angle, fnumber):
    """Plain loops: per pixel, per element, linear interpolation of IQ, re-modulation, boxcar aperture."""
    E, S = iq.shape
    xe = (np.arange(E) - (E - 1) / 2) * pitch
    out = np.zeros((len(z), len(x)), complex)
    for iz, zz in enumerate(z):
        for ix, xx in enumerate(x):
            acc = 0j
            for e in range(E):
                if abs(xx - xe[e]) > zz / (2 * fnumber):
                    continue
                tau = (xx * math.sin(angle) + zz * math.cos(angle) - min(xe * math.sin(angle))) / c \
                    + math.hypot(xx - xe[e], zz) / c
                p = (tau - t0) * fs
                if p < 0 or p > S - 1:
                    continue
                lo = min(int(math.floor(p)), S - 2)
                f = p - lo
                v = iq[e, lo] * (1 - f) + iq[e, lo + 1] * f
                acc += v * np.exp(2j * math.pi * fc * tau)
            out[iz, ix] = acc
    return out


def test_das_matches_loop_reference_steered():
    rng = np.random.default_rng(0)
    E, S, fs, fc, pitch, c, t0 = 8, 200, 20e6, 5e6, 3e-4, 1540.0, 1e-6
    iq = rng.standard_normal((E, S)) + 1j * rng.standard_normal((E, S))
    x = np.linspace(-1e-3, 1e-3, 4)
    z = np.linspace(4e-3, 8e-3, 5)
    for angle in (0.0, math.radians(10), math.radians(-7)):
        ref = _das_loop(iq, fs, fc, pitch, c, t0, x, z, angle, 1.2)
        plan = DASPlan.create(n_elements=E, n_samples=S, fs=fs, fc=fc, pitch=pitch, c=c, x=torch.tensor(x),
                              z=torch.tensor(z), t0=t0, angle=angle, fnumber=1.2, apod="boxcar",
                              dtype=torch.float64)
        # the plan gives a pixel with no element in its aperture a tiny weight on its nearest element
        got = plan(torch.from_numpy(iq)).numpy()                       # gather path (one frame)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-3 * np.abs(iq).max())
        batch = torch.from_numpy(np.stack([iq] * 4))                    # sparse-matrix path (batch of 4)
        np.testing.assert_allclose(plan(batch).numpy(), np.stack([ref] * 4), rtol=1e-6, atol=1e-3 * np.abs(iq).max())


def test_analytic_signal_matches_scipy_hilbert():
    x = np.random.default_rng(1).standard_normal((3, 101))
    for n in (101, 100):
        np.testing.assert_allclose(analytic_signal(torch.from_numpy(x[:, :n])).numpy(),
                                   scipy.signal.hilbert(x[:, :n], axis=-1), atol=1e-10)


def test_rf2iq_band_pass_sampled_tone():
    """A 5.2 MHz echo sampled at 6.67 MHz (below 2 fc, as the rotating-disk data) demodulates to 0.2 MHz."""
    fs, fc, t0 = 20e6 / 3, 5e6, 3e-6
    t = t0 + np.arange(400) / fs
    rf = np.cos(2 * np.pi * 5.2e6 * t + 0.3)
    iq = rf2iq(torch.from_numpy(rf), fs, fc, t0=t0).numpy()
    expect = np.exp(1j * (2 * np.pi * 0.2e6 * t + 0.3))
    mid = slice(50, 350)
    np.testing.assert_allclose(iq[mid], expect[mid], atol=0.05)


def test_bmode_range_and_compound():
    img = torch.randn(2, 16, 12, dtype=torch.complex64)
    b = bmode(img, dynamic_range=40)
    assert float(b.max()) == 0.0 and float(b.min()) >= -40
    plan = DASPlan.create(n_elements=4, n_samples=50, fs=20e6, fc=5e6, pitch=3e-4, c=1540, x=torch.zeros(1),
                          z=torch.tensor([2e-3]))
    iq = torch.randn(2, 4, 50, dtype=torch.complex64)
    torch.testing.assert_close(compound(iq, [plan, plan]), plan(iq[0]) + plan(iq[1]))


def test_svd_clutter_filter_keeps_moving_part():
    """Static tissue (rank one in slow time) is removed; a blinking pixel survives in power Doppler."""
    g = torch.Generator().manual_seed(0)
    T, Z, X = 16, 8, 8
    tissue = torch.randn(1, Z, X, generator=g, dtype=torch.float64) * 10
    ens = tissue.expand(T, Z, X).to(torch.complex128).clone()
    ens[:, 3, 4] += 0.5 * torch.exp(2j * math.pi * 0.3 * torch.arange(T))
    f = clutter_filter_svd(ens, n_clutter=1)
    static = torch.ones(Z, X, dtype=torch.bool)
    static[3, 4] = False
    assert float(f.abs().amax(dim=0)[static].max()) < 0.01 * float(tissue.abs().max())   # tissue gone
    pd = power_doppler(ens, n_clutter=1)
    assert tuple(np.unravel_index(int(pd.argmax()), pd.shape)) == (3, 4)
    pdh = power_doppler(ens, method="highpass", n_clutter=1)
    assert tuple(np.unravel_index(int(pdh.argmax()), pdh.shape)) == (3, 4)
