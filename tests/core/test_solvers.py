"""Generic solvers converge to known solutions and agree with each other."""

import pytest
import torch

import sensekit as sk
from sensekit.solvers import (CG, PDHG, LeastSquares, LinearSystem, MaxIter,
                              PrimalDual, RelChange, Residual, Timeout, solve)

L, P, S = sk.linop, sk.prox, sk.solvers


class Matrix(L.LinOp):
    """A dense matrix as an operator (test helper)."""

    def __init__(self, M):
        super().__init__((M.shape[1],), (M.shape[0],))
        self.register_buffer("M", M)

    def _forward(self, x):
        return x @ self.M.T

    def _adjoint(self, y):
        return y @ self.M.conj()


def _problem(seed=0, m=40, n=25, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, n, dtype=dtype, generator=g)
    y = torch.randn(m, dtype=dtype, generator=g)
    return A, y


def test_matrix_helper_contract():
    A, _ = _problem(dtype=torch.complex128)
    sk.testing.check_linop(Matrix(A))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_cg_matches_lstsq(dtype):
    A, y = _problem(dtype=dtype)
    op = Matrix(A)
    ref = torch.linalg.lstsq(A, y[:, None]).solution[:, 0]
    res = S.cg(op.N, op.H(y), max_iter=200, tol=1e-13)
    assert S.base._rel_change(res.x, ref) < 1e-10
    assert res.stop_reason.startswith("residual")
    assert res.history[-1]["residual"] < 1e-13


def test_cg_warm_start_and_callbacks():
    A, y = _problem()
    op = Matrix(A)
    seen = []
    res = S.cg(op.N, op.H(y), x0=torch.ones(25, dtype=torch.float64), max_iter=7, tol=0.0,
               callbacks=[lambda info, st: seen.append(info["iter"])], check_every=3)
    assert seen == [3, 6, 7]
    assert res.iterations == 7 and res.stop_reason == "max_iter=7"


def _lasso_reference(A, y, lam):
    # a long FISTA run as reference, checked against the KKT conditions
    f = LeastSquares(Matrix(A), y)
    x = S.fista(f, P.L1(lam), max_iter=20000, tol=1e-15).x
    grad = A.T @ (A @ x - y)
    on = x.abs() > 1e-8
    assert torch.allclose(grad[on], -lam * torch.sign(x[on]), atol=1e-7)
    assert torch.all(grad[~on].abs() <= lam + 1e-7)
    return x


def test_lasso_solvers_agree():
    A, y = _problem(1)
    lam = 2.0
    ref = _lasso_reference(A, y, lam)
    f = LeastSquares(Matrix(A), y)
    ista = S.fista(f, P.L1(lam), max_iter=20000, tol=1e-14, momentum=False).x
    restart = S.fista(f, P.L1(lam), max_iter=5000, tol=1e-14, restart=True).x
    admm = S.admm(f, [(P.L1(lam), L.Identity(25))], rho=5.0, inner_iter=60, max_iter=5000, tol=1e-14).x
    pdhg = S.pdhg(f, [(P.L1(lam), L.Identity(25))], max_iter=30000, tol=1e-15).x
    for name, x in [("ista", ista), ("restart", restart), ("admm", admm), ("pdhg", pdhg)]:
        assert (x - ref).norm() / ref.norm() < 1e-6, name


def test_tv_denoising_pdhg_equals_admm():
    g = torch.Generator().manual_seed(2)
    truth = torch.zeros(24, 24, dtype=torch.float64)
    truth[6:18, 8:20] = 1.0
    y = truth + 0.2 * torch.randn(24, 24, dtype=torch.float64, generator=g)
    D = L.FiniteDiff((24, 24), axes=(0, 1), boundary="neumann")
    f = LeastSquares(L.Identity((24, 24)), y)
    tv = P.L21(0.15, axes=(-3,))  # isotropic TV
    x1 = S.pdhg(f, [(tv, D)], max_iter=4000, tol=1e-12).x
    x2 = S.admm(f, [(tv, D)], rho=2.0, inner_iter=40, max_iter=1500, tol=1e-12).x
    assert (x1 - x2).norm() / x1.norm() < 1e-4
    assert (x1 - truth).norm() < 0.6 * (y - truth).norm()  # denoises
    obj = PrimalDual(f, [(tv, D)]).objective
    assert float(obj(x1)) <= float(obj(y))


def test_pdhg_with_closed_form_data_prox():
    # single-coil Cartesian MRI: mask·FFT has a closed-form normal solve, so f is proxed exactly
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(16, 16, dtype=torch.complex128)
    x[4:12, 5:11] = 1.0
    mask = torch.rand(16, 16, generator=g) > 0.4
    A = L.Mask(mask) @ L.FFT((16, 16))
    y = A(x)
    f = LeastSquares(A, y)
    D = L.FiniteDiff((16, 16), axes=(0, 1))
    res = S.pdhg(f, [(P.L21(1e-3, axes=(-3,)), D)], max_iter=3000, tol=1e-10)
    assert (res.x - x).norm() / x.norm() < 0.02
    assert PDHG.split(PrimalDual(f, [(P.L1(1.0), D)]))[0] is f  # no split needed


def test_least_squares_prox_exact_and_cg():
    A, y = _problem(4, m=20, n=10)
    op = Matrix(A)
    v = torch.randn(10, dtype=torch.float64)
    step = 0.3
    ref = torch.linalg.solve(A.T @ A + torch.eye(10, dtype=torch.float64) / step, A.T @ y + v / step)
    f = LeastSquares(op, y, inner_iter=50)
    assert torch.allclose(f.prox(v, step), ref, atol=1e-8)
    assert abs(f.lipschitz() / 1.01 - float(torch.linalg.matrix_norm(A, 2)) ** 2) < 1e-3 * f.lipschitz()


def test_stop_criteria_compose():
    info = {"iter": 5, "time": 0.1, "rel_change": 1e-3, "residual": 1e-9}
    assert (MaxIter(10) | RelChange(1e-2)).check(info) == "rel_change<0.01"
    assert (MaxIter(10) & RelChange(1e-2)).check(info) is None
    assert (MaxIter(5) & Residual(1e-6)).check(info) == "max_iter=5 & residual<1e-06"
    assert (MaxIter(10) | MaxIter(3)).max_iter() == 3
    assert Timeout(0.05).check(info)
    with pytest.raises(ValueError, match="no iteration bound"):
        solve(CG(), LinearSystem(L.Identity(2), torch.ones(2)), stop=RelChange(1e-3))
    with pytest.raises(ValueError):
        MaxIter(0)


def test_history_and_objective():
    A, y = _problem(5)
    f = LeastSquares(Matrix(A), y)
    res = S.fista(f, P.L1(1.0), max_iter=50, tol=0, record_objective=True, check_every=10)
    assert [h["iter"] for h in res.history] == [10, 20, 30, 40, 50]
    objs = [h["objective"] for h in res.history]
    assert objs[-1] <= objs[0]
    assert res.wall_time > 0


def test_non_finite_iterates_stop_with_a_reason():
    A, y = _problem(7)
    y = y.clone()
    y[3] = float("nan")
    res = S.fista(LeastSquares(Matrix(A), y), P.L1(0.1), max_iter=200, tol=0, check_every=5)
    assert res.stop_reason.startswith("non-finite") and res.iterations == 5
    # a diverging step: the iterate overflows to Inf, the run stops at the next check instead of going on
    A, y = _problem(8)
    res = S.fista(LeastSquares(Matrix(A), y), None, step=1e3, max_iter=5000, tol=0, check_every=10)
    assert res.stop_reason.startswith("non-finite") and res.iterations < 5000
    res = solve(CG(), LinearSystem(L.Identity(2), torch.tensor([1.0, float("inf")])), stop=MaxIter(50))
    assert res.stop_reason.startswith("non-finite")


def test_a_callers_stop_keeps_the_hqs_continuation_guard():
    y = torch.tensor([3.0, -0.5, 1.5], dtype=torch.float64)
    f = LeastSquares(L.Identity(3), y)
    terms = [(P.L1(1.0), L.Identity(3))]
    res = S.hqs(f, terms, beta=1.0, growth=2.0, beta_max=16.0, inner_iter=3, max_iter=400,
                stop=MaxIter(400) | RelChange(1e-2))
    assert res.history[-1]["beta"] == 16.0 and res.iterations < 400   # not at β = 1 after two steps
    res = S.hqs(f, terms, beta=1.0, growth=2.0, beta_max=16.0, inner_iter=3, stop=MaxIter(4))
    assert res.iterations == 4  # the iteration bound still holds


def test_solvers_do_not_mutate_inputs():
    A, y = _problem(6)
    y0, x0 = y.clone(), torch.ones(25, dtype=torch.float64)
    x0c = x0.clone()
    f = LeastSquares(Matrix(A), y)
    S.fista(f, P.L1(1.0), x0=x0, max_iter=5)
    S.pdhg(f, [(P.L1(1.0), L.Identity(25))], x0=x0, max_iter=5)
    S.admm(f, [(P.L1(1.0), L.Identity(25))], x0=x0, max_iter=5)
    S.cg(Matrix(A).N, Matrix(A).H(y), x0=x0, max_iter=5)
    assert torch.equal(y, y0) and torch.equal(x0, x0c)


def test_lowrank_plus_sparse_planted():
    # fully sampled: L+S must separate a low-rank series from sparse spikes
    g = torch.Generator().manual_seed(7)
    T, n = 12, 10
    U = torch.randn(n * n, 2, dtype=torch.complex128, generator=g)
    V = torch.randn(2, T, dtype=torch.complex128, generator=g)
    Lt = (U @ V).T.reshape(T, n, n)
    St = torch.zeros(T, n, n, dtype=torch.complex128)
    idx = torch.randperm(T * n * n, generator=g)[:20]
    St.view(-1)[idx] = 5.0
    A = L.Identity((T, n, n))
    Lh, Sh, res = S.lowrank_plus_sparse(A, Lt + St, unfold=L.Unfold((T, n, n), 0), lam_l=0.5, lam_s=0.15,
                                        max_iter=3000, tol=1e-10)
    assert (Lh + Sh - Lt - St).norm() / (Lt + St).norm() < 0.05
    assert torch.linalg.matrix_rank(L.Unfold((T, n, n), 0)(Lh), atol=1e-3 * float(Lh.abs().max())) <= 3
    assert (Sh - St).norm() / St.norm() < 0.3


@pytest.mark.cuda
def test_solvers_on_cuda():
    A, y = _problem(8)
    op = Matrix(A.cuda())
    f = LeastSquares(op, y.cuda())
    x = S.fista(f, P.L1(1.0), max_iter=300, check_every=10).x
    assert x.device.type == "cuda"
    xc = S.fista(LeastSquares(Matrix(A), y), P.L1(1.0), max_iter=300, check_every=10).x
    assert torch.allclose(x.cpu(), xc, atol=1e-8)
