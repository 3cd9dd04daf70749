"""sensekit.sim.ofdm: conventions of the simulated channel and the deterministic CRB."""
import math

import numpy as np
import pytest
import torch

from sensekit.sim.ofdm import C_LIGHT, OFDMGeometry, crb, ofdm_channel, synthesize


def test_isac_sim_sign_conventions():
    geo = OFDMGeometry(4, 5, 6)
    ang, R, v = 20.0, 100.0, 7.0
    H = synthesize(geo.to_freqs([[ang, R, v]]), np.ones((1, 1)), geo.shape)[0].numpy()
    a, k, l = np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing="ij")
    lam = C_LIGHT / geo.carrier_hz
    want = (np.exp(2j * np.pi * 0.5 * a * np.sin(np.deg2rad(ang)))
            * np.exp(-2j * np.pi * k * geo.subcarrier_spacing_hz * 2 * R / C_LIGHT)
            * np.exp(-2j * np.pi * (2 * v / lam) * l * geo.symbol_duration_s))
    np.testing.assert_allclose(H, want, atol=1e-12)
    back = geo.from_freqs(geo.to_freqs([[ang, R, v], [-40.0, 900.0, -50.0]]))
    np.testing.assert_allclose(back, [[ang, R, v], [-40.0, 900.0, -50.0]], atol=1e-9)


def test_isac_sim_noise_level_and_symbols_divided_out():
    geo = OFDMGeometry(8, 32, 16)
    g = torch.Generator().manual_seed(0)
    H, gains, nv = ofdm_channel(geo, [[10.0, 50.0, 3.0]], snr_db=0.0, generator=g)
    clean = synthesize(geo.to_freqs([[10.0, 50.0, 3.0]]), gains, geo.shape)
    w = (H - clean).numpy()
    assert abs(np.mean(np.abs(w) ** 2) / nv - 1) < 0.05
    assert abs(np.mean(w)) < 0.05


def _fd_crb(geo, params, gains, nv):
    P = len(params)

    def model(xi):
        p = xi[:3 * P].reshape(P, 3)
        gg = xi[3 * P:4 * P] + 1j * xi[4 * P:]
        return synthesize(geo.to_freqs(p), gg[None], geo.shape).numpy().ravel()

    xi0 = np.concatenate([np.asarray(params, float).ravel(), gains.real, gains.imag])
    steps = np.concatenate([np.tile([1e-4, 1e-3, 1e-3], P), np.full(2 * P, 1e-6)])
    J = np.stack([(model(xi0 + h * e) - model(xi0 - h * e)) / (2 * h)
                  for h, e in zip(steps, np.eye(len(xi0)))], axis=1)
    F = 2 / nv * np.real(J.conj().T @ J)
    return np.sqrt(np.diag(np.linalg.inv(F))[:3 * P]).reshape(P, 3)


@pytest.mark.parametrize("cp", [0.0, 1 / 14])
def test_isac_crb_matches_finite_difference_fisher(cp):
    geo = OFDMGeometry(6, 8, 5, symbol_duration_s=(1 + cp) / 120e3)
    params = np.array([[10.0, 300.0, 20.0], [-25.0, 340.0, -60.0]])   # partly unresolved pair
    gains = np.array([1.0 + 0.5j, 0.7 * np.exp(1j * 2.0)])
    nv = 0.1
    want = _fd_crb(geo, params, gains, nv)
    got = crb(params, gains[None], geo, nv)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_isac_crb_single_target_closed_form():
    # one harmonic, known-form bound: var(f) = 6 σ² / (4π² |g|² N (M²−1)) per dimension (others orthogonal)
    geo = OFDMGeometry(16, 32, 8)
    f = geo.to_freqs([[0.0, 100.0, 0.0]])[0]
    g = np.array([[2.0]])
    nv = 0.5
    N = 16 * 32 * 8
    std = crb([[0.0, 100.0, 0.0]], g, geo, nv)[0]
    for m, M in enumerate(geo.shape):
        var_f = 6 * nv / (4 * math.pi ** 2 * 4.0 * N * (M ** 2 - 1))
        jac = abs(geo.param_jacobian([[0.0, 100.0, 0.0]])[0, m])
        assert std[m] == pytest.approx(math.sqrt(var_f) * jac, rel=1e-9)
    assert np.isfinite(f).all()


@pytest.mark.parametrize("ns", [(2, 9, 9), (9, 2, 9), (9, 9, 2)])
def test_isac_contract_matches_einsum(ns):
    from sensekit.apps.isac.methods import contract
    g = torch.Generator().manual_seed(0)
    H = torch.randn(2, 5, 6, 7, dtype=torch.complex128, generator=g)
    mats = [torch.randn(M, n, dtype=torch.complex128, generator=g) for M, n in zip((5, 6, 7), ns)]
    want = torch.einsum("sakl,ai,kj,lm->sijm", H, *[m.conj() for m in mats])
    torch.testing.assert_close(contract(H, mats), want)


def test_isac_block_average_compression_with_demodulation():
    import numpy as np
    from sensekit.apps.isac.methods import compress
    g = torch.Generator().manual_seed(0)
    H = torch.randn(2, 6, 14, 9, dtype=torch.complex128, generator=g)
    fac, sh = (2, 3, 2), (0.1, 0.2, -0.05)
    X, nf = compress(H, fac, "average", sh)
    n = [torch.arange(M, dtype=torch.float64) for M in H.shape[1:]]
    ph = torch.exp(2j * np.pi * (sh[0] * n[0][:, None, None] + sh[1] * n[1][None, :, None]
                                 + sh[2] * n[2][None, None, :]))
    want = (H * ph)[:, :6, :12, :8].reshape(2, 3, 2, 4, 3, 4, 2).mean(dim=(2, 4, 6))
    torch.testing.assert_close(X, want)
    assert nf == 12.0
