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
        tol = dict(rtol=1e-6, atol=1e-3 * np.abs(iq).max())
        got = plan(torch.from_numpy(iq), elements=torch.ones(E, dtype=torch.float64)).numpy()   # gather path
        np.testing.assert_allclose(got, ref, **tol)
        np.testing.assert_allclose(plan(torch.from_numpy(iq)).numpy(), ref, **tol)             # sparse, 1 frame
        batch = torch.from_numpy(np.stack([iq] * 5))                    # sparse-matrix path, batches of 2
        np.testing.assert_allclose(plan(batch, batch=2).numpy(), np.stack([ref] * 5), **tol)
        # float32 plan and data (the app's precision) agree with the float64 reference to float32 accuracy
        p32 = DASPlan.create(n_elements=E, n_samples=S, fs=fs, fc=fc, pitch=pitch, c=c, x=torch.tensor(x),
                             z=torch.tensor(z), t0=t0, angle=angle, fnumber=1.2, apod="boxcar")
        got32 = p32(torch.from_numpy(np.stack([iq] * 3)).to(torch.complex64)).numpy()
        np.testing.assert_allclose(got32, np.stack([ref] * 3), rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_das_plan_cache_and_sparse_operator():
    """The plan is cached per geometry; its real CSR operator equals the gather formulation (Hann apodisation,
    steered, many pixels with no data)."""
    E, S = 16, 300
    kw = dict(n_elements=E, n_samples=S, fs=20e6, fc=5e6, pitch=3e-4, c=1540.0, x=torch.linspace(-3e-3, 3e-3, 9),
              z=torch.linspace(2e-3, 1.4e-2, 23), t0=2e-6, angle=math.radians(5), fnumber=1.0)
    p1 = DASPlan.create(**kw)
    assert DASPlan.create(**kw) is p1
    assert DASPlan.create(**kw, cache=False) is not p1
    assert DASPlan.create(**{**kw, "fnumber": 1.5}) is not p1
    g = torch.Generator().manual_seed(3)
    iq = torch.randn(7, E, S, 2, generator=g)
    iq = torch.complex(iq[..., 0], iq[..., 1])
    ref = p1(iq, elements=torch.ones(E))
    got = p1(iq, batch=3)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    R = p1._sparse(torch.complex64)
    assert R.shape == (2 * 9 * 23, E * S) and R.crow_indices().dtype == torch.int32


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


def test_das_plan_subset_equals_zero_filled_full_plan():
    """Beamforming only the kept channels with ``subset`` gives the image of the full plan on zero-filled data."""
    E, S = 12, 200
    plan = DASPlan.create(n_elements=E, n_samples=S, fs=20e6, fc=5e6, pitch=3e-4, c=1540.0,
                          x=torch.linspace(-2e-3, 2e-3, 6), z=torch.linspace(3e-3, 7e-3, 8), cache=False)
    g = torch.Generator().manual_seed(5)
    iq = torch.complex(torch.randn(4, E, S, generator=g), torch.randn(4, E, S, generator=g))
    keep = torch.tensor([1, 4, 5, 9])
    zf = torch.zeros_like(iq)
    zf[:, keep] = iq[:, keep]
    sub = plan.subset(keep)
    assert plan.subset(keep) is sub
    ref = plan(zf)
    torch.testing.assert_close(sub(iq[:, keep]), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    mask = torch.zeros(E, dtype=torch.bool)
    mask[keep] = True
    torch.testing.assert_close(plan.subset(mask)(iq[:, keep]), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
