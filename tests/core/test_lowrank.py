"""Low-rank decompositions: randomised SVD, PCP, GoDec, rSVDdpd on planted solutions."""

import pytest
import torch

import sensekit as sk
from sensekit.core.random import randn

from lowrank_helpers import one_thread, rel as _rel  # noqa: F401 (autouse fixture)

S = sk.solvers


def _planted_lowrank(m, n, r, *, dtype=torch.float64, seed=0, batch=()):
    g = torch.Generator().manual_seed(seed)
    return randn(batch + (m, r), dtype=dtype, generator=g) @ randn(batch + (r, n), dtype=dtype, generator=g)


def _planted_rpca(n, r, frac, *, dtype=torch.float64, seed=0):
    """Candès et al.'s model: L = X Yᵀ with N(0, 1/n) factors, S = unit-modulus entries on a random support."""
    g = torch.Generator().manual_seed(seed)
    L0 = randn((n, r), dtype=dtype, generator=g) @ randn((r, n), dtype=dtype, generator=g) / n ** 0.5
    S0 = torch.zeros(n, n, dtype=dtype)
    idx = torch.randperm(n * n, generator=g)[:int(frac * n * n)]
    v = randn((idx.numel(),), dtype=dtype, generator=g)
    S0.view(-1)[idx] = v / v.abs()
    return L0, S0


# ----------------------------------------------------------------------------- rsvd
def test_rsvd_recovers_planted_rank_k_float64():
    A = _planted_lowrank(120, 90, 7)
    U, s, Vh = S.rsvd(A, 7, generator=torch.Generator().manual_seed(1))
    assert _rel(U * s[None] @ Vh, A) < 1e-10
    assert torch.allclose(U.mT @ U, torch.eye(7, dtype=A.dtype), atol=1e-12)
    assert torch.allclose(Vh @ Vh.mT, torch.eye(7, dtype=A.dtype), atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_rsvd_matches_truncated_svd_of_noisy_matrix(dtype):
    g = torch.Generator().manual_seed(2)
    m, n, k = 300, 200, 10
    Uq = torch.linalg.qr(randn((m, k), dtype=dtype, generator=g)).Q
    Vq = torch.linalg.qr(randn((n, k), dtype=dtype, generator=g)).Q
    sv = torch.linspace(10, 1, k, dtype=torch.float64)
    A = (Uq * sv.to(dtype)[None]) @ Vq.mH + 1e-3 * randn((m, n), dtype=dtype, generator=g)
    U, s, Vh = S.rsvd(A, k, oversample=10, power_iters=2, generator=g)
    U0, s0, Vh0 = torch.linalg.svd(A, full_matrices=False)
    # singular values and the rank-k approximation agree with the exact truncated SVD
    assert float((s - s0[:k]).abs().max() / s0[0]) < 1e-10
    assert _rel(U * s.to(dtype)[None] @ Vh, U0[:, :k] * s0[:k].to(dtype)[None] @ Vh0[:k]) < 1e-8


def test_rsvd_batched_and_wide():
    A = _planted_lowrank(40, 70, 4, batch=(3, 2))
    U, s, Vh = S.rsvd(A, 4, generator=torch.Generator().manual_seed(0))
    assert U.shape == (3, 2, 40, 4) and s.shape == (3, 2, 4) and Vh.shape == (3, 2, 4, 70)
    assert _rel(U * s[..., None, :] @ Vh, A) < 1e-10
    for i in range(3):  # each batch item equals its own decomposition
        s_i = S.rsvd(A[i, 1], 4, generator=torch.Generator().manual_seed(5))[1]
        assert torch.allclose(s_i, s[i, 1], rtol=1e-10)


def test_rsvd_arguments():
    A = _planted_lowrank(20, 10, 2)
    with pytest.raises(ValueError):
        S.rsvd(A, 11)
    with pytest.raises(TypeError):
        S.rsvd(A, 2, oversampling=3)
    U, s, Vh = S.rsvd(A, 10, oversample=50)  # sketch capped at min(m, n)
    assert s.shape == (10,)


# ----------------------------------------------------------------------------- PCP
def test_pcp_recovers_rank5_plus_5pct_sparse_200():
    L0, S0 = _planted_rpca(200, 5, 0.05)
    M = L0 + S0
    M_copy = M.clone()
    L, Sp = S.pcp(M)
    assert torch.equal(M, M_copy)  # pure
    assert _rel(L, L0) < 1e-6
    assert _rel(Sp, S0) < 1e-6
    assert int(torch.linalg.matrix_rank(L, atol=1e-6 * float(torch.linalg.matrix_norm(L, ord=2)))) == 5


def test_pcp_complex():
    L0, S0 = _planted_rpca(120, 4, 0.05, dtype=torch.complex128, seed=3)
    L, Sp = S.pcp(L0 + S0)
    assert L.dtype == torch.complex128
    assert _rel(L, L0) < 1e-6 and _rel(Sp, S0) < 1e-6


def test_pcp_batched_equals_single_and_default_lam():
    a = _planted_rpca(60, 2, 0.05, seed=4)
    b = _planted_rpca(60, 3, 0.05, seed=5)
    M = torch.stack([a[0] + a[1], 3 * (b[0] + b[1])])
    L, Sp = S.pcp(M, tol=1e-9)
    L1, _ = S.pcp(M[1], tol=1e-9)
    assert _rel(L[0], a[0]) < 1e-6 and _rel(L[1], 3 * b[0]) < 1e-6
    assert _rel(L[1], L1) < 1e-7
    # lam defaults to 1/sqrt(max(m, n)): passing it explicitly changes nothing
    La, _ = S.pcp(M[0], lam=1 / 60 ** 0.5, tol=1e-9)
    assert _rel(La, L[0]) < 1e-9


def test_pcp_driver_history():
    L0, S0 = _planted_rpca(50, 2, 0.05, seed=6)
    seen = []
    S.pcp(L0 + S0, callbacks=[lambda info, st: seen.append(info["residual"])], check_every=5)
    assert seen[-1] < 1e-7 <= seen[0]


# ----------------------------------------------------------------------------- GoDec
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_godec_recovers_planted_l_plus_s(dtype):
    g = torch.Generator().manual_seed(7)
    m, n, r, card = 150, 100, 4, 600
    L0 = _planted_lowrank(m, n, r, dtype=dtype, seed=8)
    S0 = torch.zeros(m, n, dtype=dtype)
    idx = torch.randperm(m * n, generator=g)[:card]
    S0.view(-1)[idx] = 10 * randn((card,), dtype=dtype, generator=g)
    L, Sp = S.godec(L0 + S0, r, card, generator=g, tol=1e-13, max_iter=500)
    assert _rel(L, L0) < 1e-8
    assert _rel(Sp, S0) < 1e-8


def test_hard_threshold_card():
    from sensekit.solvers.rpca import hard_threshold_card
    R = torch.tensor([[[1.0, -5.0], [3.0, 0.5]], [[2.0, 0.0], [-1.0, 4.0]]])
    out = hard_threshold_card(R, 2)
    assert torch.equal(out, torch.tensor([[[0.0, -5.0], [3.0, 0.0]], [[2.0, 0.0], [0.0, 4.0]]]))


# ----------------------------------------------------------------------------- rSVDdpd
def _outlier_matrix(seed=0):
    g = torch.Generator().manual_seed(seed)
    m, n = 100, 80
    U0 = torch.linalg.qr(torch.randn(m, 2, dtype=torch.float64, generator=g)).Q
    V0 = torch.linalg.qr(torch.randn(n, 2, dtype=torch.float64, generator=g)).Q
    L0 = U0 @ torch.diag(torch.tensor([30.0, 15.0], dtype=torch.float64)) @ V0.T
    X = L0 + 0.01 * torch.randn(m, n, dtype=torch.float64, generator=g)
    idx = torch.randperm(m * n, generator=g)[:int(0.05 * m * n)]   # 5% gross outliers, ~60x the entry scale
    X.view(-1)[idx] += 20 * torch.sign(torch.randn(idx.numel(), dtype=torch.float64, generator=g))
    return L0, X


@pytest.mark.parametrize("sigma_update", [True, False])
def test_rsvd_dpd_beats_svd_under_gross_outliers(sigma_update):
    L0, X = _outlier_matrix()
    Xc = X.clone()
    U, s, Vh = S.rsvd_dpd(X, 2, generator=torch.Generator().manual_seed(0), sigma_update=sigma_update)
    assert torch.equal(X, Xc)
    err_dpd = _rel(U * s[None] @ Vh, L0)
    U0, s0, Vh0 = torch.linalg.svd(X, full_matrices=False)
    err_svd = _rel(U0[:, :2] * s0[None, :2] @ Vh0[:2], L0)
    # measured: svd 3.8, dpd 0.068 (sigma update) / 0.025 (sigma = 1 as in the authors' code)
    assert err_svd > 1.0
    assert err_dpd < 0.1
    assert torch.allclose(s, torch.tensor([30.0, 15.0], dtype=torch.float64), rtol=0.02)
    assert torch.allclose(U.mT @ U, torch.eye(2, dtype=torch.float64), atol=1e-8)


def test_rsvd_dpd_alpha_zero_is_svd_and_batched():
    A = _planted_lowrank(40, 30, 2, seed=9) + 0.01 * _planted_lowrank(40, 30, 30, seed=10)
    U, s, Vh = S.rsvd_dpd(A, 2, alpha=0.0, tol=1e-10, max_iter=500, generator=torch.Generator().manual_seed(0))
    s0 = torch.linalg.svdvals(A)[:2]
    assert torch.allclose(s, s0, rtol=1e-6)
    Ub, sb, Vhb = S.rsvd_dpd(torch.stack([A, 2 * A]), 2, alpha=0.0, tol=1e-10, max_iter=500,
                             generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sb[1], 2 * s0, rtol=1e-6) and Ub.shape == (2, 40, 2)


def test_rsvd_dpd_rejects_complex():
    with pytest.raises(TypeError):
        S.rsvd_dpd(torch.zeros(4, 3, dtype=torch.complex64), 1)


# ----------------------------------------------------------------------------- doctests and CUDA
@pytest.mark.cuda
def test_lowrank_decompositions_on_cuda():
    dev = torch.device("cuda")
    A = _planted_lowrank(80, 60, 3).to(dev)
    U, s, Vh = S.rsvd(A, 3, generator=torch.Generator(device="cuda").manual_seed(0))
    assert U.device.type == "cuda" and _rel(U * s[None] @ Vh, A) < 1e-10
    L0, S0 = _planted_rpca(100, 3, 0.05)
    L, Sp = S.pcp((L0 + S0).to(dev))
    assert L.device.type == "cuda" and _rel(L.cpu(), L0) < 1e-6
    L, Sp = S.godec((L0 + S0).to(dev), 3, 500, generator=torch.Generator(device="cuda").manual_seed(0),
                    tol=1e-12, max_iter=300)
    assert L.device.type == "cuda"
    L0, X = _outlier_matrix()
    U, s, Vh = S.rsvd_dpd(X.to(dev), 2, generator=torch.Generator(device="cuda").manual_seed(0))
    assert s.device.type == "cuda" and _rel((U * s[None] @ Vh).cpu(), L0) < 0.1
