"""Low-rank recovery: matrix completion, matrix sensing (factored GD), robust sensing (SubGM)."""
import pytest
import torch

import sensekit as sk
from sensekit.core.random import randn

from lowrank_helpers import one_thread, rel as _rel  # noqa: F401 (autouse fixture)

S = sk.solvers


def _slope(errs, iters):
    """Least-squares slope of log10(err) against iteration, and the fit's R²."""
    x = torch.tensor(iters, dtype=torch.float64)
    y = torch.log10(torch.tensor(errs, dtype=torch.float64))
    xc, yc = x - x.mean(), y - y.mean()
    b = float((xc * yc).sum() / (xc * xc).sum())
    r2 = 1 - float(((yc - b * xc) ** 2).sum() / (yc * yc).sum())
    return b, r2


# ----------------------------------------------------------------------------- completion
def _incoherent(m, n, k, *, dtype=torch.float64, seed=0, batch=()):
    g = torch.Generator().manual_seed(seed)
    return randn(batch + (m, k), dtype=dtype, generator=g) @ randn(batch + (k, n), dtype=dtype, generator=g)


@pytest.mark.parametrize("method", ["sketch", "exact"])
def test_complete_recovers_planted_rank_k(method):
    m, n, k = 300, 200, 5
    M = _incoherent(m, n, k)
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(m, n, generator=g) < 0.15        # |Ω| ≈ 9000 ≈ 9·(m+n)k/... (~3.6x the dof (m+n−k)k)
    M_obs = torch.where(mask, M, torch.zeros_like(M))
    Mc = M_obs.clone()
    X = S.complete(M_obs, mask, k, tol=1e-10, method=method, generator=g)
    assert torch.equal(M_obs, Mc)
    assert _rel(X, M) < 1e-6


def test_complete_sketched_and_exact_agree_per_iteration():
    m, n, k = 200, 150, 4
    M = _incoherent(m, n, k, seed=2)
    mask = torch.rand(m, n, generator=torch.Generator().manual_seed(3)) < 0.2
    hist = {}
    for method in ("sketch", "exact"):
        h = []
        S.complete(M, mask, k, tol=0.0, max_iter=8, method=method, generator=torch.Generator().manual_seed(4),
                   callbacks=[lambda info, st: h.append(info["residual"])])
        hist[method] = h
    # the inexact (sketched) least squares do not slow alternating minimisation down
    for a, b in zip(hist["sketch"], hist["exact"]):
        assert a < 1.5 * b
    Xs = S.complete(M, mask, k, tol=1e-12, method="sketch", generator=torch.Generator().manual_seed(4))
    Xe = S.complete(M, mask, k, tol=1e-12, method="exact", generator=torch.Generator().manual_seed(4))
    assert _rel(Xs, Xe) < 1e-8


def test_complete_complex_and_batched():
    m, n, k = 120, 100, 3
    M = _incoherent(m, n, k, dtype=torch.complex128, seed=5, batch=(2,))
    mask = torch.rand(2, m, n, generator=torch.Generator().manual_seed(6)) < 0.3
    X = S.complete(M, mask, k, tol=1e-11, generator=torch.Generator().manual_seed(7))
    assert X.dtype == torch.complex128 and X.shape == M.shape
    assert _rel(X[0], M[0]) < 1e-7 and _rel(X[1], M[1]) < 1e-7


def test_complete_arguments():
    M = torch.zeros(6, 5)
    with pytest.raises(TypeError):
        S.complete(M, torch.ones(6, 5), 2)                  # mask must be bool
    with pytest.raises(ValueError):
        S.complete(M, torch.zeros(6, 5, dtype=torch.bool), 2)
    with pytest.raises(ValueError):
        S.complete(M, torch.ones(6, 5, dtype=torch.bool), 2, method="lsqr")
    with pytest.raises(TypeError):
        S.complete(M, torch.ones(6, 5, dtype=torch.bool), 2, solver="exact")


def test_sketched_least_squares_against_lstsq():
    """One half-step's regressions: sketch-preconditioned CG vs lstsq per column."""
    from sensekit.solvers.completion import completion_problem, solve_targets
    g = torch.Generator().manual_seed(8)
    m, n, k = 400, 30, 6
    U = torch.linalg.qr(torch.randn(m, k, dtype=torch.float64, generator=g)).Q
    mask = torch.rand(m, n, generator=g) < 0.5

    def errors(noise):
        M = U @ torch.randn(k, n, dtype=torch.float64, generator=g) + noise * torch.randn(m, n, dtype=torch.float64,
                                                                                          generator=g)
        ref = torch.stack([torch.linalg.lstsq(U[mask[:, j]], M[mask[:, j], j][:, None]).solution[:, 0]
                           for j in range(n)])
        pb = completion_problem(M, mask, sketch_size=4 * k, generator=g)
        exact = completion_problem(M, mask, generator=g)
        out = {"exact": _rel(solve_targets(exact.cols, U, exact.b_cols, method="exact", inner_iter=0), ref)}
        for it in (0, 1, 3, k):
            out[it] = _rel(solve_targets(pb.cols, U, pb.b_cols, method="sketch", inner_iter=it), ref)
        return out

    e = errors(1e-6)            # nearly consistent systems (as near convergence of noiseless completion)
    assert e["exact"] < 1e-12 and e[3] < 1e-6 and e[k] < 1e-12
    e = errors(1.0)             # residual as large as the signal: PCG contracts, exact after k steps (CG)
    assert e[3] < e[1] < e[0] and e[k] < 1e-10 and e["exact"] < 1e-12


# ----------------------------------------------------------------------------- SubGM
def test_subgm_overestimated_rank_and_outliers_converges_linearly():
    g = torch.Generator().manual_seed(0)
    n, r, m = 20, 2, 600
    A = sk.linop.MatrixSensing.gaussian(n, m, symmetric=True, dtype=torch.float64, generator=g)
    B = torch.randn(n, r, dtype=torch.float64, generator=g)
    X = B @ B.T
    y = A(X)
    idx = torch.randperm(m, generator=g)[:int(0.2 * m)]                 # 20% gross outliers
    y[idx] += 10 * torch.linalg.norm(X) * torch.randn(idx.numel(), dtype=torch.float64, generator=g)
    errs, its = [], []

    def rec(info, st):
        errs.append(_rel(st.x, X))
        its.append(info["iter"])

    res = S.subgm(A, y, 3 * r, max_iter=500, generator=torch.Generator().manual_seed(1), callbacks=[rec])
    assert errs[-1] < 1e-5
    # geometric decay: log-error is a straight line while the error falls from 1e-1 to 1e-5
    sel = [(i, e) for i, e in zip(its, errs) if 1e-5 < e < 1e-1]
    b, r2 = _slope([e for _, e in sel], [i for i, _ in sel])
    assert len(sel) >= 15 and r2 > 0.97
    assert b < -0.01                                     # > 1 decade per 100 iterations (decay 0.96: -0.018)
    assert res.x.shape == (n, n)


# ----------------------------------------------------------------------------- factored GD
@pytest.fixture(scope="module")
def sensing():
    g = torch.Generator().manual_seed(0)
    n, r, m = 20, 2, 400
    U = torch.linalg.qr(torch.randn(n, r, dtype=torch.float64, generator=g)).Q
    M = U @ torch.diag(torch.tensor([1.0, 0.5], dtype=torch.float64)) @ U.T
    A_sym = sk.linop.MatrixSensing.gaussian(n, m, symmetric=True, dtype=torch.float64, generator=g)
    A = sk.linop.MatrixSensing.gaussian(n, m, dtype=torch.float64, generator=g)

    def run(op, k, T, **kw):
        errs = []
        S.factored_gd(op, op(M), k, max_iter=T, tol=0.0, generator=torch.Generator().manual_seed(1),
                      check_every=10, callbacks=[lambda info, st: errs.append(_rel(st.x, M))], **kw)
        return errs                                       # errs[j] is the error after 10(j+1) iterations
    return A_sym, A, run


def test_matrix_sensing_symmetric_exact_vs_overparameterised(sensing):
    A_sym, _, run = sensing
    exact = run(A_sym, 2, 1500, symmetric=True, alpha=0.1)
    over = run(A_sym, 4, 1500, symmetric=True, alpha=0.1)
    assert exact[49] < 1e-10                               # linear: < 1e-10 after 500 iterations
    assert over[-1] > 1e-4                                 # over-parameterised: far from it after 1500
    # sub-linear: doubling the iterations shrinks the error by a bounded factor (1/T² would give 1/4)
    assert over[149] / over[74] > 0.2
    assert over[149] < over[74]


def test_matrix_sensing_asymmetric_rate_depends_on_init_scale_and_one_step_fix(sensing):
    _, A, run = sensing
    big = run(A, 4, 1500, alpha=0.5)
    small = run(A, 4, 1500, alpha=0.05)
    b_big, _ = _slope(big[-60:], list(range(60)))
    b_small, _ = _slope(small[-60:], list(range(60)))
    # linear rate ∝ α²: the larger start converges several times faster (measured ratio ≈ 10)
    assert b_big < 4 * b_small < 0
    assert small[-1] > 1e-3 and big[-1] < 1e-6
    fixed_big = run(A, 4, 1500, alpha=0.5, rebalance_tol=1e-2)
    fixed_small = run(A, 4, 1500, alpha=0.05, rebalance_tol=1e-2)
    # with the one-step modification both reach machine precision, whatever α
    assert fixed_big[-1] < 1e-12 and fixed_small[-1] < 1e-12
    # and faster than plain asymmetric GD from the larger start
    assert fixed_small[49] < 1e-3 * big[49]


def test_factored_gd_rebalance_keeps_product():
    g = torch.Generator().manual_seed(2)
    F, G = torch.randn(10, 4, dtype=torch.float64, generator=g), torch.randn(8, 4, dtype=torch.float64, generator=g)
    F[:, 3] *= 1e-4
    solver = S.FactoredGD(rank=4, beta=2.0)
    F2, G2 = solver.rebalance(None, F, G)
    assert _rel(F2 @ G2.T, F @ G.T) < 1e-12
    assert torch.allclose(torch.linalg.svdvals(F2), torch.full((4,), 2.0, dtype=torch.float64))
    with pytest.raises(ValueError):
        S.FactoredGD(rank=2, symmetric=True, rebalance_at=10)


def test_matrix_sensing_operator_contract():
    op = sk.linop.MatrixSensing.gaussian((5, 4), 30, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    sk.testing.check_linop(op, dtype=torch.complex128)
    op = sk.linop.MatrixSensing.gaussian(5, 30, symmetric=True, dtype=torch.float64)
    sk.testing.check_linop(op, dtype=torch.float64)
    assert torch.allclose(op.A, op.A.mT)
    # near isometry: E‖A(X)‖² = ‖X‖²
    big = sk.linop.MatrixSensing.gaussian(8, 4000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    X = torch.randn(8, 8, dtype=torch.float64)
    assert abs(float(torch.linalg.norm(big(X)) / torch.linalg.norm(X)) - 1) < 0.05


@pytest.mark.cuda
def test_recovery_on_cuda():
    dev = torch.device("cuda")
    M = _incoherent(120, 100, 3).to(dev)
    mask = torch.rand(120, 100, device=dev) < 0.3
    X = S.complete(M, mask, 3, tol=1e-10, generator=torch.Generator(device="cuda").manual_seed(0))
    assert X.device.type == "cuda" and _rel(X, M) < 1e-6
    g = torch.Generator(device="cuda").manual_seed(0)
    A = sk.linop.MatrixSensing.gaussian(10, 300, symmetric=True, dtype=torch.float64, device=dev, generator=g)
    B = torch.randn(10, 1, dtype=torch.float64, device=dev, generator=g)
    res = S.subgm(A, A(B @ B.T), 3, generator=g, max_iter=500)
    assert res.x.device.type == "cuda" and _rel(res.x, B @ B.T) < 1e-5
    res = S.factored_gd(A, A(B @ B.T), 1, symmetric=True, alpha=0.1, generator=g, max_iter=2000)
    assert _rel(res.x, B @ B.T) < 1e-8
