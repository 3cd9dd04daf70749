"""Subspace estimators for uniform linear arrays: covariance, AIC/MDL, MUSIC, root-MUSIC, (unitary) ESPRIT."""
import math

import pytest
import torch

import sensekit as sk

S = sk.solvers
C128, F64 = torch.complex128, torch.float64
ESTIMATORS = {"music": S.music, "root_music": S.root_music, "unitary_esprit": S.unitary_esprit,
              "esprit": S.esprit}


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _tones(freqs, M, L, *, trials=None, snr_db=None, seed=0):
    """Snapshots (trials, L, M) of K tones with unit-power Gaussian amplitudes and circular noise."""
    g = _g(seed)
    f = torch.tensor(freqs, dtype=F64)
    A = torch.exp(2j * math.pi * f[:, None] * torch.arange(M, dtype=F64))       # (K, M)
    shape = (trials or 1, L, len(freqs))
    amp = torch.randn(shape, dtype=C128, generator=g)
    X = amp @ A
    if snr_db is not None:
        X = X + 10 ** (-snr_db / 20) * torch.randn(X.shape, dtype=C128, generator=g)
    return (X if trials else X[0]), amp


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("M", [10, 11])
def test_noiseless_tones_exact(name, M):
    f = [-0.23, 0.1, 0.31]
    X, _ = _tones(f, M, 40, trials=3)
    est = ESTIMATORS[name](S.sample_covariance(X), 3)
    assert est.shape == (3, 3) and est.dtype == F64
    # root-MUSIC finds a double root of a polynomial: about sqrt(eps) accuracy
    tol = 1e-7 if name == "root_music" else 1e-10
    assert float((est - torch.tensor(f, dtype=F64)).abs().max()) < tol


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_single_snapshot_coherent_tones_with_smoothing(name):
    f = [-0.3, 0.05, 0.2]
    X, _ = _tones(f, 16, 1)
    R = S.sample_covariance(X, subarray=9, fb=True)
    assert R.shape == (9, 9)
    est = ESTIMATORS[name](R, 3)
    tol = 1e-7 if name == "root_music" else 1e-10
    assert float((est - torch.tensor(f, dtype=F64)).abs().max()) < tol


@pytest.mark.parametrize("name,upper", [("music", 1.25), ("root_music", 1.25), ("unitary_esprit", 2.1),
                                        ("esprit", 2.1)])
def test_noisy_tones_close_to_crb(name, upper):
    """Two tones 0.35 apart, M=12, L=20, SNR 10 dB per tone, 400 trials in one batch.

    RMSE / sqrt(deterministic CRB) must lie in [0.85, upper]: MUSIC and root-MUSIC are
    nearly efficient here (measured ≈1.06), LS-ESPRIT on maximal-overlap subarrays is
    not (measured ≈1.7).
    """
    f, M, L, snr = [-0.2, 0.15], 12, 20, 10.0
    X, amp = _tones(f, M, L, trials=400, snr_db=snr, seed=1)
    est = ESTIMATORS[name](S.sample_covariance(X), 2)
    rmse = ((est - torch.tensor(f, dtype=F64)) ** 2).mean(0).sqrt()
    # CRB of a tone's frequency (cycles/sample) with L snapshots: 6σ² / ((2π)² Σ_l|s_l|² M(M²−1))
    s2 = 10 ** (-snr / 10)
    crb = (6 * s2 / ((2 * math.pi) ** 2 * (amp.abs() ** 2).sum(1) * M * (M * M - 1))).mean(0)
    ratio = rmse / crb.sqrt()
    assert bool((ratio > 0.85).all()) and bool((ratio < upper).all()), ratio


def test_unitary_esprit_has_forward_backward_built_in():
    X, _ = _tones([-0.1, 0.27], 9, 5, trials=4, snr_db=5.0, seed=2)
    R = S.sample_covariance(X)
    assert torch.allclose(S.unitary_esprit(R, 2), S.unitary_esprit(S.forward_backward(R), 2), atol=1e-12)


def test_batch_equals_items_and_angles():
    X, _ = _tones([-0.2, 0.1], 8, 30, trials=3, snr_db=15.0, seed=3)
    R = S.sample_covariance(X)
    for fn in ESTIMATORS.values():
        batch = fn(R, 2)
        for i in range(3):
            assert torch.allclose(batch[i], fn(R[i], 2), atol=1e-12)
    ang = S.root_music(R, 2, spacing=0.5)
    assert torch.allclose(ang, torch.asin(S.root_music(R, 2) / 0.5))


def test_covariance_helpers():
    X, _ = _tones([0.1, -0.2], 7, 4, snr_db=10.0, seed=4)
    R = S.sample_covariance(X)
    assert torch.allclose(R, R.mH) and torch.allclose(R, X.T @ X.conj() / 4)
    Rfb = S.forward_backward(R)
    J = torch.eye(7, dtype=C128).flip(-1)
    assert torch.allclose(Rfb, J @ Rfb.conj() @ J)  # persymmetric
    Rs = S.spatial_smoothing(R, 5)
    assert torch.allclose(Rs, (R[:5, :5] + R[1:6, 1:6] + R[2:, 2:]) / 3)
    with pytest.raises(ValueError):
        S.spatial_smoothing(R, 8)
    with pytest.raises(ValueError):
        S.music(R, 7)


@pytest.mark.parametrize("criterion,min_rate", [("mdl", 0.97), ("aic", 0.8)])
def test_model_order_selection(criterion, min_rate):
    """3 tones, M=8, L=100, SNR 5 dB, 300 trials: MDL (consistent) ≥ 97 % correct, AIC ≥ 80 %."""
    X, _ = _tones([-0.2, 0.05, 0.3], 8, 100, trials=300, snr_db=5.0, seed=5)
    ev = torch.linalg.eigvalsh(S.sample_covariance(X))
    k = S.model_order(ev, 100, criterion=criterion)
    assert k.shape == (300,) and k.dtype == torch.long
    assert float((k == 3).double().mean()) >= min_rate
    # pure noise: zero sources
    noise, _ = _tones([0.0], 8, 100, trials=50, snr_db=None, seed=6)
    noise = torch.randn(noise.shape, dtype=C128, generator=_g(7))
    k0 = S.model_order(torch.linalg.eigvalsh(S.sample_covariance(noise)), 100, criterion=criterion)
    assert float((k0 == 0).double().mean()) >= min_rate


def test_music_spectrum_peaks_at_tones():
    X, _ = _tones([-0.25, 0.125], 10, 50, snr_db=20.0, seed=8)
    grid = torch.arange(512, dtype=F64) / 512 - 0.5
    P = S.music_spectrum(S.sample_covariance(X), 2, grid)
    top = grid[torch.topk(P, 2).indices].sort().values
    assert torch.allclose(top, torch.tensor([-0.25, 0.125], dtype=F64), atol=2.0 / 512)


@pytest.mark.cuda
def test_subspace_on_cuda():
    X, _ = _tones([-0.23, 0.1, 0.31], 10, 40, trials=3)
    R = S.sample_covariance(X.cuda())
    for name, fn in ESTIMATORS.items():
        est = fn(R, 3)
        assert est.device.type == "cuda"
        tol = 1e-7 if name == "root_music" else 1e-10
        assert float((est.cpu() - torch.tensor([-0.23, 0.1, 0.31], dtype=F64)).abs().max()) < tol
