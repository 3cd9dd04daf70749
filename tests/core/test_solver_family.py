"""Every ported solver (SBL, Kronecker SBL, HOOI, CP-ALS, OMP, tensor OMP) runs through ``solve()``.

For each: a progress callback sees every check, ``iterations`` and the history agree, the plain wrapper
gives what ``solve()`` gives, and a NaN in the data stops the run with the "non-finite" reason.
"""
import dataclasses

import pytest
import torch

import sensekit as sk

S = sk.solvers
F64 = torch.float64


def _g(seed):
    return torch.Generator().manual_seed(seed)


def _sbl_case():
    g = _g(0)
    A = torch.randn(30, 60, dtype=F64, generator=g) / 30 ** 0.5
    x = torch.zeros(60, dtype=F64)
    x[[3, 20, 44]] = torch.tensor([1.0, -1.5, 2.0], dtype=F64)
    y = A @ x + 1e-3 * torch.randn(30, dtype=F64, generator=g)
    return S.SBL(max_iter=200), S.SBLProblem.build(A, y, 1e-6), x


def _kron_case(mstep):
    g = _g(1)
    As = [torch.randn(8, 10, dtype=F64, generator=g) / 8 ** 0.5 for _ in range(3)]
    xs = [torch.zeros(10, dtype=F64) for _ in range(3)]
    for v, idx in zip(xs, ([1, 7], [0, 4], [3, 9])):
        v[idx] = torch.tensor([1.0, -2.0], dtype=F64)
    X = torch.einsum("i,j,k->ijk", *xs)
    Y = sk.linop.Kron(As)(X) + 1e-3 * torch.randn(8, 8, 8, dtype=F64, generator=g)
    return S.KronSBL(mstep=mstep), S.KronSBLProblem.build(As, Y, 1e-6), X


def _tucker_case():
    g = _g(2)
    U = [torch.linalg.qr(torch.randn(n, 3, dtype=F64, generator=g))[0] for n in (10, 11, 12)]
    T = S.tucker_to_tensor(torch.randn(3, 3, 3, dtype=F64, generator=g), U)
    T = T + 1e-2 * T.norm() / T.numel() ** 0.5 * torch.randn(T.shape, dtype=F64, generator=g)
    return S.HOOI(tol=1e-12, max_iter=30), S.TuckerProblem(T, (3, 3, 3)), T


def _cp_case():
    g = _g(3)
    A = [torch.randn(n, 3, dtype=F64, generator=g) for n in (9, 10, 11)]
    T = S.cp_to_tensor(torch.ones(3, dtype=F64), A)
    T = T + 1e-3 * torch.randn(T.shape, dtype=F64, generator=g)
    return S.CPALS(tol=1e-12, max_iter=100), S.CPProblem(T, 3), T


def _omp_case():
    g = _g(4)
    A = torch.randn(30, 80, dtype=F64, generator=g)
    x = torch.zeros(80, dtype=F64)
    x[[3, 17, 60]] = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    problem, k = S.OMPProblem.build(A, A @ x, 3)
    return S.OMP(k), problem, x


def _tomp_case():
    g = _g(5)
    D = [torch.randn(8, 12, dtype=F64, generator=g) for _ in range(3)]
    X = torch.zeros(12, 12, 12, dtype=F64)
    X[1, 2, 3], X[5, 7, 9] = 2.0, -1.0
    problem, P = S.TensorOMPProblem.build(sk.linop.Kron(D)(X), D, 2)
    return S.TensorOMP(P), problem, X


CASES = {"sbl": _sbl_case, "kron_sbl_am": lambda: _kron_case("am"), "kron_sbl_svd": lambda: _kron_case("svd"),
         "hooi": _tucker_case, "cp_als": _cp_case, "omp": _omp_case, "tensor_omp": _tomp_case}


def _x_of(name, state):
    if name in ("sbl",):
        return state.x.reshape(-1)
    if name.startswith("kron_sbl"):
        return state.x[0]
    if name == "omp":
        return state.x.reshape(-1)
    return state.x


@pytest.mark.parametrize("name", sorted(CASES))
def test_solve_with_progress_callback(name):
    solver, problem, ref = CASES[name]()
    seen = []
    res = S.solve(solver, problem, callbacks=[lambda info, state: seen.append((info["iter"], info))])
    assert res.iterations >= 1 and res.stop_reason and not res.stop_reason.startswith("non-finite")
    assert [i for i, _ in seen] == list(range(1, res.iterations + 1))  # check_every=1: every iteration
    assert len(res.history) == res.iterations and res.history[-1]["iter"] == res.iterations
    assert all("rel_change" in h and "time" in h for h in res.history)
    if name in ("sbl", "kron_sbl_am", "kron_sbl_svd"):
        assert all("gamma_change" in h and "n_active" in h for h in res.history)
        assert res.history[-1]["n_active"] < res.history[0]["n_active"]  # pruned as the support emerged
    if name in ("hooi", "cp_als"):
        assert all("fit_change" in h for h in res.history[1:])
        x = res.x
        rec = (S.tucker_to_tensor(x, res.state.factors) if name == "hooi"
               else S.cp_to_tensor(res.state.x, res.state.factors))
        assert float((rec - ref).norm() / ref.norm()) < 2e-2
    if name in ("omp", "tensor_omp"):
        assert res.iterations == solver.n_atoms and res.history[-1]["residual"] < 1e-10
        assert torch.allclose(_x_of(name, res.state), ref, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_every_and_a_caller_stop(name):
    solver, problem, _ = CASES[name]()
    res = S.solve(solver, problem, stop=S.MaxIter(2), check_every=2)
    assert res.iterations == 2 and len(res.history) == 1 and res.stop_reason == "max_iter=2"


class _Poisoned:
    """The solver, with a NaN put into the iterate of its second step (as a diverging update would)."""

    def __init__(self, solver):
        self.solver = solver

    def __getattr__(self, name):  # default_stop, guard_stop, measure, objective
        return getattr(self.solver, name)

    def init(self, problem, x0=None):
        return self.solver.init(problem, x0)

    def step(self, problem, state):
        new = self.solver.step(problem, state)
        if self.solver_steps(new) == 2:
            x = new.x
            bad = (tuple(v * float("nan") for v in x) if isinstance(x, tuple) else x * float("nan"))
            new = dataclasses.replace(new, x=bad)
        return new

    def solver_steps(self, state):
        self._n = getattr(self, "_n", 0) + 1
        return self._n


@pytest.mark.parametrize("name", sorted(CASES))
def test_non_finite_iterate_stops_with_a_reason(name):
    solver, problem, _ = CASES[name]()
    res = S.solve(_Poisoned(solver), problem, stop=S.MaxIter(solver.n_atoms if hasattr(solver, "n_atoms") else 10))
    assert res.stop_reason.startswith("non-finite"), res.stop_reason
    assert res.iterations == 2 and len(res.history) == 2


def test_wrappers_match_solve_and_report_iterations():
    solver, problem, _ = _sbl_case()
    seen = []
    r = S.sbl(problem.A, problem.Y[0], noise_var=1e-6, max_iter=200, callbacks=[lambda i, s: seen.append(i)])
    res = S.solve(solver, problem)
    assert r.n_iter == res.iterations == len(seen)
    solver, problem, _ = _kron_case("am")
    seen = []
    r = S.kron_sbl(list(problem.mats), problem.Y[0], noise_var=1e-6, callbacks=[lambda i, s: seen.append(i)])
    assert r.n_iter == S.solve(solver, problem).iterations == len(seen) > solver.svd_warmup
    hist = []
    S.tucker(_tucker_case()[2], (3, 3, 3), max_iter=5, tol=0, callbacks=[lambda i, s: hist.append(i["iter"])])
    assert hist == [1, 2, 3, 4, 5]
    hist = []
    S.cp_als(_cp_case()[2], 3, max_iter=4, tol=0, callbacks=[lambda i, s: hist.append(i["iter"])])
    assert hist == [1, 2, 3, 4]
    # OMP without tol checks once (no host synchronisation per atom); with tol at every atom
    _, problem, x = _omp_case()
    hist = []
    S.omp(problem.A, problem.Y[0, 0], 3, callbacks=[lambda i, s: hist.append(i["iter"])])
    assert hist == [3]
    hist = []
    S.omp(problem.A, problem.Y[0, 0], 10, tol=1e-9, callbacks=[lambda i, s: hist.append(i["n_open"])])
    assert hist == [1, 1, 0]
    hist = []
    _, tp, X = _tomp_case()
    r = S.tensor_omp(tp.Y, list(tp.mats), 5, tol=1e-9, callbacks=[lambda i, s: hist.append(i["iter"])])
    assert hist == [1, 2] and r.indices.shape == (2, 3)
