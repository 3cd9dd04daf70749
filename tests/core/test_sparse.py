"""Sparse recovery: OMP, simultaneous OMP, tensor OMP, SBL / M-SBL, Kronecker SBL (AM and SVD M-steps)."""
import importlib
import math

import pytest
import torch

import sensekit as sk
sbl_mod = importlib.import_module("sensekit.solvers.bayes")

L = sk.linop
S = sk.solvers
C128, F64 = torch.complex128, torch.float64


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _nmse(x, ref):
    return float(((x - ref).norm() / ref.norm()) ** 2)


def _coeffs(k, dtype, g):
    """Non-zeros of magnitude in [1, 2] with random sign / phase (bounded away from 0)."""
    mag = 1 + torch.rand(k, dtype=F64, generator=g)
    if dtype.is_complex:
        return (mag * torch.exp(2j * math.pi * torch.rand(k, dtype=F64, generator=g))).to(dtype)
    return (mag * torch.sign(torch.randn(k, dtype=F64, generator=g))).to(dtype)


def _noisy(y0, snr_db, g):
    s2 = float((y0.abs() ** 2).mean()) / 10 ** (snr_db / 10)
    return y0 + s2 ** 0.5 * torch.randn(y0.shape, dtype=y0.dtype, generator=g), s2


def _oracle_ls(A, y, support):
    x = torch.zeros(A.shape[1], dtype=A.dtype)
    x[support] = torch.linalg.lstsq(A[:, support], y[:, None]).solution[:, 0]
    return x


# ----------------------------------------------------------------------------- OMP
@pytest.mark.parametrize("dtype", [F64, C128])
def test_omp_recovers_k_sparse_exactly_batched(dtype):
    g = _g(0)
    M, N, k, B = 40, 120, 6, 5
    A = torch.randn(M, N, dtype=dtype, generator=g)
    X = torch.zeros(B, N, dtype=dtype)
    for b in range(B):  # a different support per batch item
        X[b, torch.randperm(N, generator=g)[:k]] = _coeffs(k, dtype, g)
    x = S.omp(A, X @ A.T, k)
    assert x.shape == X.shape and x.dtype == dtype
    assert _nmse(x, X) < 1e-24
    # asking for more atoms with a residual tolerance stops each item at its own support
    x2 = S.omp(A, X @ A.T, 12, tol=1e-10)
    assert torch.equal(x2 != 0, X != 0) and _nmse(x2, X) < 1e-24


def test_simultaneous_omp_shares_support():
    g = _g(1)
    A = torch.randn(30, 100, dtype=C128, generator=g)
    X = torch.zeros(2, 4, 100, dtype=C128)
    supp = [torch.randperm(100, generator=g)[:5] for _ in range(2)]
    for b in range(2):
        X[b][:, supp[b]] = torch.randn(4, 5, dtype=C128, generator=g)
    x = S.omp(A, X @ A.T, 5, joint=True)
    assert x.shape == (2, 4, 100) and _nmse(x, X) < 1e-24


def _vandermonde(m, grid):
    return torch.exp(2j * math.pi * torch.arange(m, dtype=F64)[:, None] * grid[None, :])


def test_tensor_omp_recovers_paired_atoms():
    g = _g(2)
    # steering dictionaries on 2x-oversampled grids (angle, delay, Doppler), as in PLAIN's fusion stage
    D = [_vandermonde(m, torch.arange(2 * m, dtype=F64) / (2 * m) - 0.5) for m in (8, 10, 12)]
    triples = torch.tensor([[3, 4, 20], [9, 15, 2], [12, 4, 7], [3, 11, 13]])  # shared indices across triples
    gains = _coeffs(4, C128, g)
    X = torch.zeros(16, 20, 24, dtype=C128)
    snaps = torch.exp(2j * math.pi * torch.rand(3, 4, dtype=F64, generator=g))  # 3 snapshots, random phases
    Y = torch.stack([L.Kron(D)(X.index_put(tuple(triples.T), gains * s)) for s in snaps])
    res = S.tensor_omp(Y, D, 4)
    assert sorted(map(tuple, res.indices.tolist())) == sorted(map(tuple, triples.tolist()))
    assert float(res.residual.norm() / Y.norm()) < 1e-10
    # the coefficients of the selected tuples are the planted gains per snapshot
    order = [triples.tolist().index(t) for t in res.indices.tolist()]
    assert torch.allclose(res.coef, (gains * snaps)[:, order], atol=1e-10)
    # with noise at 20 dB the same pairs come out
    Yn, _ = _noisy(Y, 20.0, g)
    res = S.tensor_omp(Yn, D, 4)
    assert sorted(map(tuple, res.indices.tolist())) == sorted(map(tuple, triples.tolist()))


# ----------------------------------------------------------------------------- SBL
@pytest.mark.parametrize("dtype", [F64, C128])
@pytest.mark.parametrize("learn_noise", [False, True])
def test_sbl_recovers_sparse_vector(dtype, learn_noise):
    """N=100, M=40, k=5, SNR 25 dB, 5 trials: exact support, mean NMSE ≤ 2.5 × oracle least squares."""
    g = _g(3)
    M, N, k = 40, 100, 5
    nm, no = [], []
    for _ in range(5):
        A = torch.randn(M, N, dtype=dtype, generator=g) / M ** 0.5
        x = torch.zeros(N, dtype=dtype)
        supp = torch.randperm(N, generator=g)[:k]
        x[supp] = _coeffs(k, dtype, g)
        y, s2 = _noisy(A @ x, 25.0, g)
        res = S.sbl(A, y, noise_var=None if learn_noise else s2)
        assert set(torch.topk(res.x.abs(), k).indices.tolist()) == set(supp.tolist())
        assert res.x.dtype == dtype and res.gamma.shape == (N,)
        if learn_noise:
            assert 0.5 < res.noise_var / s2 < 2.0
        nm.append(_nmse(res.x, x))
        no.append(_nmse(_oracle_ls(A, y, supp), x))
    assert sum(nm) / 5 < 2.5 * sum(no) / 5
    assert sum(nm) / 5 < 1.5e-3


def test_msbl_multiple_snapshots_share_support():
    g = _g(4)
    M, N, k, Ls = 20, 60, 6, 8  # k/M too large for reliable single-vector recovery at this SNR
    A = torch.randn(M, N, dtype=C128, generator=g) / M ** 0.5
    supp = torch.randperm(N, generator=g)[:k]
    X = torch.zeros(Ls, N, dtype=C128)
    X[:, supp] = torch.randn(Ls, k, dtype=C128, generator=g)
    Y, s2 = _noisy(X @ A.T, 20.0, g)
    res = S.sbl(A, Y, noise_var=s2)
    assert res.x.shape == (Ls, N)
    assert set(torch.nonzero(res.gamma > 1e-2 * res.gamma.max()).flatten().tolist()) == set(supp.tolist())
    assert _nmse(res.x, X) < 0.02


def test_kron_posterior_matches_dense_formula():
    """The EVD-based E-step equals Σ = (AᴴA/σ² + Γ⁻¹)⁻¹, μ = ΣAᴴy/σ² computed densely."""
    g = _g(5)
    As = [torch.randn(m, n, dtype=C128, generator=g) for m, n in ((4, 5), (3, 6), (5, 4))]
    gammas = [torch.rand(n, dtype=F64, generator=g) + 0.1 for n in (5, 6, 4)]
    Y = torch.randn(2, 4, 3, 5, dtype=C128, generator=g)
    s2 = 0.3
    mu, sig = sbl_mod._kron_posterior(As, Y, gammas, s2)
    A = torch.kron(torch.kron(As[0], As[1]), As[2])
    gam = torch.kron(torch.kron(gammas[0], gammas[1]), gammas[2])
    Sig = torch.linalg.inv(A.mH @ A / s2 + torch.diag(1 / gam).to(C128))
    mu_ref = (Sig @ A.mH @ Y.reshape(2, -1).T / s2).T
    assert torch.allclose(mu.reshape(2, -1), mu_ref, atol=1e-10)
    assert torch.allclose(sig.reshape(-1), torch.diagonal(Sig).real, atol=1e-10)


def _kron_problem(seed, N=10, Ms=(8, 8, 8), K=2, snr_db=25.0, dtype=C128):
    g = _g(seed)
    As = [torch.randn(m, N, dtype=dtype, generator=g) / m ** 0.5 for m in Ms]
    xs = []
    for _ in Ms:
        v = torch.zeros(N, dtype=dtype)
        v[torch.randperm(N, generator=g)[:K]] = _coeffs(K, dtype, g)
        xs.append(v)
    X = torch.einsum("i,j,k->ijk", *xs)
    Y, s2 = _noisy(L.Kron(As)(X), snr_db, g)
    return As, X, Y, s2


def test_kron_sbl_matches_classic_sbl():
    """Three factors N=10, M=(8,8,8), 2 non-zeros per factor, SNR 25 dB, complex, 3 trials.

    Both KroSBL variants find the exact support and their mean NMSE is at most
    1.5 × that of classic SBL on the dense dictionary, and at most 3 × oracle LS.
    """
    res = {"am": [], "svd": [], "sbl": [], "oracle": []}
    for seed in (6, 7, 8):
        As, X, Y, s2 = _kron_problem(seed)
        supp = torch.nonzero(X.reshape(-1)).flatten()
        for mstep in ("am", "svd"):
            r = S.kron_sbl(As, Y, mstep=mstep, noise_var=s2)
            assert r.x.shape == X.shape
            assert set(torch.topk(r.x.abs().reshape(-1), len(supp)).indices.tolist()) == set(supp.tolist())
            assert [int((gm > 0).sum()) for gm in r.gammas] == [2, 2, 2]  # pruned to the factor supports
            res[mstep].append(_nmse(r.x, X))
        A = torch.kron(torch.kron(As[0], As[1]), As[2])
        res["sbl"].append(_nmse(S.sbl(A, Y.reshape(-1), noise_var=s2).x, X.reshape(-1)))
        res["oracle"].append(_nmse(_oracle_ls(A, Y.reshape(-1), supp), X.reshape(-1)))
    mean = {k: sum(v) / len(v) for k, v in res.items()}
    for mstep in ("am", "svd"):
        assert mean[mstep] <= 1.5 * mean["sbl"], mean
        assert mean[mstep] <= 3 * mean["oracle"], mean


def _gauss_kron_problem(seed, N=15, Ms=(8, 12, 15), K=3, snr_db=20.0):
    """The authors' synthetic setting: Gaussian non-zeros on a random support per factor (so some are weak)."""
    g = _g(seed)
    As = [torch.randn(m, N, dtype=F64, generator=g) / m ** 0.5 for m in Ms]
    xs = []
    for _ in Ms:
        v = torch.zeros(N, dtype=F64)
        v[torch.randperm(N, generator=g)[:K]] = torch.randn(K, dtype=F64, generator=g)
        xs.append(v)
    X = torch.einsum("i,j,k->ijk", *xs)
    Y, s2 = _noisy(L.Kron(As)(X), snr_db, g)
    return As, X, Y, s2


def test_am_kron_sbl_reaches_the_svd_variant():
    """AM-KroSBL within 1.5× SVD-KroSBL's NMSE (each trial within 2×) on N=15³, M=(8,12,15), K=3, 20 dB.

    Seeds 41..45; measured: AM/SVD NMSE ratio 1.00–1.06 per trial.  Before the fix (flat start, prune
    1e-2: the authors' AM-KroSBL, still reachable with ``svd_warmup=0, prune=1e-2``) the benchmark's
    version of this case gave mean NMSE 0.64; here it loses weak true entries (measured: summed NMSE 5.6×
    SVD's), which the last assertion keeps visible.
    """
    am, svd, flat = [], [], []
    for seed in range(41, 46):
        As, X, Y, s2 = _gauss_kron_problem(seed)
        ra = S.kron_sbl(As, Y, mstep="am", noise_var=s2)
        rs = S.kron_sbl(As, Y, mstep="svd", noise_var=s2)
        am.append(_nmse(ra.x, X))
        svd.append(_nmse(rs.x, X))
        assert ra.n_iter > 10  # the stopping rule is not met inside the SVD warm-up: AM ran
        assert am[-1] <= 2 * svd[-1], (seed, am[-1], svd[-1])
        flat.append(_nmse(S.kron_sbl(As, Y, mstep="am", noise_var=s2, svd_warmup=0, prune=1e-2).x, X))
    assert sum(am) <= 1.5 * sum(svd), (am, svd)
    assert max(svd) < 1e-2, svd
    assert sum(flat) > 3 * sum(svd), (flat, svd)  # the root cause, measured 5.6x


def test_kron_sbl_flat_layout_snapshots_and_learned_noise():
    As, X, Y, s2 = _kron_problem(9, dtype=F64)
    g = _g(10)
    # two snapshots with the same support, flat (row-major) layout
    X2 = torch.stack([X, -0.5 * X])
    Y2 = torch.stack([Y, L.Kron(As)(-0.5 * X) + s2 ** 0.5 * torch.randn(Y.shape, dtype=F64, generator=g)])
    r = S.kron_sbl(As, Y2.reshape(2, -1), mstep="svd")
    assert r.x.shape == (2, 1000)
    assert _nmse(r.x, X2.reshape(2, -1)) < 5e-3
    assert 0.5 < r.noise_var / s2 < 2.0


def test_sparse_bad_arguments():
    A = torch.randn(5, 8)
    with pytest.raises(ValueError):
        S.omp(A, torch.randn(4), 2)
    with pytest.raises(ValueError):
        S.omp(A, torch.randn(5), 6)
    with pytest.raises(ValueError):
        S.sbl(A, torch.randn(5), noise_var=-1.0)
    with pytest.raises(ValueError):
        S.kron_sbl([A, A], torch.randn(7), noise_var=1.0)
    with pytest.raises(ValueError):
        S.kron_sbl([A, A], torch.randn(25), mstep="em")
    with pytest.raises(TypeError):
        S.sbl(A, torch.randn(5), lam=1.0)


@pytest.mark.cuda
def test_sparse_on_cuda():
    As, X, Y, s2 = _kron_problem(6)
    r = S.kron_sbl([a.cuda() for a in As], Y.cuda(), noise_var=s2, mstep="svd")
    assert r.x.device.type == "cuda" and _nmse(r.x.cpu(), X) < 1e-2
    A = torch.kron(torch.kron(As[0], As[1]), As[2])
    r = S.sbl(A.cuda(), Y.reshape(-1).cuda(), noise_var=s2)
    assert r.x.device.type == "cuda" and _nmse(r.x.cpu(), X.reshape(-1)) < 1e-2
    x = S.omp(A.cuda(), Y.reshape(-1).cuda(), 8)
    assert x.device.type == "cuda"
