"""Tensor operators (mode products, Kronecker, Khatri–Rao, unfold/fold) and decompositions (HOSVD, HOOI, CP-ALS)."""
import itertools

import pytest
import torch

import sensekit as sk
from sensekit.testing import check_linop

L = sk.linop
S = sk.solvers
C128, F64 = torch.complex128, torch.float64


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- operators
def _ops():
    g = _g()
    return {
        "mode_product_complex": L.ModeProduct((3, 4, 5), torch.randn(6, 4, dtype=C128, generator=g), 1),
        "mode_product_last": L.ModeProduct((3, 4, 5), torch.randn(2, 5, dtype=C128, generator=g), -1),
        "kron3": L.Kron([torch.randn(m, n, dtype=C128, generator=g) for m, n in ((3, 4), (5, 2), (2, 3))]),
        "kron_flat": L.Kron([torch.randn(m, n, dtype=C128, generator=g) for m, n in ((6, 4), (5, 5))], flat=True),
        "kron_of_unfold": L.Unfold((5, 2, 3), 1) @ L.Kron([torch.randn(5, 4, dtype=C128, generator=g),
                                                          torch.randn(2, 2, dtype=C128, generator=g),
                                                          torch.randn(3, 3, dtype=C128, generator=g)]),
    }


def _real_ops():
    g = _g(1)
    return {
        "mode_product_real": L.ModeProduct((3, 4, 5), torch.randn(7, 3, dtype=F64, generator=g), 0),
        "kron_real": L.Kron([torch.randn(m, n, dtype=F64, generator=g) for m, n in ((3, 4), (5, 2))]),
    }


OPS, REAL_OPS = _ops(), _real_ops()


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [C128, torch.complex64])
def test_contract_complex(name, dtype):
    check_linop(OPS[name], dtype=dtype)


@pytest.mark.parametrize("name", sorted(REAL_OPS))
@pytest.mark.parametrize("dtype", [F64, torch.float32, C128])
def test_contract_real(name, dtype):
    check_linop(REAL_OPS[name], dtype=dtype)


def test_kron_matches_dense_kron():
    g = _g(2)
    mats = [torch.randn(m, n, dtype=C128, generator=g) for m, n in ((3, 4), (2, 5), (4, 3))]
    dense = torch.kron(torch.kron(mats[0], mats[1]), mats[2])
    x = torch.randn(2, 60, dtype=C128, generator=g)
    K = L.Kron(mats, flat=True)
    assert _rel(K(x), x @ dense.T) < 1e-13
    y = torch.randn(2, 24, dtype=C128, generator=g)
    assert _rel(K.H(y), y @ dense.conj()) < 1e-13
    # tensor form equals the row-major reshape of the flat form
    assert _rel(L.Kron(mats)(x.reshape(2, 4, 5, 3)).reshape(2, -1), x @ dense.T) < 1e-13


def test_kron_solve_normal_pseudo_inverse():
    g = _g(3)
    mats = [torch.randn(3, 4, dtype=C128, generator=g), torch.randn(5, 2, dtype=C128, generator=g)]
    K = L.Kron(mats, flat=True)
    dense = torch.kron(mats[0], mats[1])
    b = torch.randn(8, dtype=C128, generator=g)
    ref = torch.linalg.pinv(dense.mH @ dense) @ b     # singular normal matrix: pseudo-inverse
    assert _rel(K.solve_normal(b), ref) < 1e-8


def test_unfold_fold_round_trip_and_op():
    g = _g(4)
    x = torch.randn(2, 3, 4, 5, dtype=C128, generator=g)
    for mode in range(3):
        m = L.unfold(x, mode, ndim=3)
        assert m.shape == (2, x.shape[1 + mode], 60 // x.shape[1 + mode])
        assert torch.equal(L.fold(m, mode, (3, 4, 5)), x)
        assert torch.equal(m, L.Unfold((3, 4, 5), mode)(x))
    # no-batch default and negative modes
    assert torch.equal(L.unfold(x[0], -1), L.unfold(x[0], 2))


def test_unfolding_of_cp_tensor_is_factor_times_khatri_rao():
    g = _g(5)
    A = [torch.randn(n, 3, dtype=C128, generator=g) for n in (4, 5, 6)]
    T = S.cp_to_tensor(torch.ones(3, dtype=F64), A)
    for n in range(3):
        others = [A[m] for m in range(3) if m != n]
        assert _rel(L.unfold(T, n), A[n] @ L.khatri_rao(others).T) < 1e-13


def test_khatri_rao_columns_are_kronecker_products():
    g = _g(6)
    a, b, c = (torch.randn(n, 4, dtype=C128, generator=g) for n in (2, 3, 5))
    k = L.khatri_rao([a, b, c])
    assert k.shape == (30, 4)
    for r in range(4):
        assert torch.allclose(k[:, r], torch.kron(torch.kron(a[:, r], b[:, r]), c[:, r]))
    # batched and mixed real/complex
    kb = L.khatri_rao([a.real.expand(2, 2, 4), c.expand(2, 5, 4)])
    assert kb.shape == (2, 10, 4) and kb.is_complex()


def test_mode_dot_matches_einsum():
    g = _g(7)
    x = torch.randn(2, 3, 4, 5, dtype=C128, generator=g)
    m = torch.randn(6, 4, dtype=C128, generator=g)
    assert _rel(L.mode_dot(x, m, 2), torch.einsum("bijk,lj->bilk", x, m)) < 1e-14
    assert _rel(L.mode_dot(x, m, 1, ndim=3), torch.einsum("bijk,lj->bilk", x, m)) < 1e-14
    # batched matrices broadcast over the leading dims
    mb = torch.randn(2, 1, 6, 4, dtype=C128, generator=g)
    assert _rel(L.mode_dot(x, mb, 2), torch.einsum("bijk,blj->bilk", x, mb[:, 0])) < 1e-14
    # real tensor × complex matrix promotes; precision follows x
    xr = x.real.to(torch.float32)
    out = L.mode_dot(xr, m, 2)
    assert out.dtype == torch.complex64
    assert _rel(out.to(C128), torch.einsum("bijk,lj->bilk", xr.to(F64).to(C128), m)) < 1e-6
    # adjoint multi-mode product
    mats = [torch.randn(3, 3, dtype=C128, generator=g), None, torch.randn(2, 5, dtype=C128, generator=g)]
    y = torch.randn(2, 3, 4, 2, dtype=C128, generator=g)
    ref = torch.einsum("bijk,ip,kq->bpjq", y, mats[0].conj(), mats[2].conj())
    assert _rel(L.multi_mode_dot(y, mats, ndim=3, adjoint=True), ref) < 1e-14
    with pytest.raises(ValueError):
        L.mode_dot(x, m, 3)


# ----------------------------------------------------------------------------- decompositions
def _orth(n, r, g, dtype=C128):
    return torch.linalg.qr(torch.randn(n, r, dtype=dtype, generator=g))[0]


def _planted_tucker(shape, ranks, seed=0, dtype=C128):
    g = _g(seed)
    U = [_orth(n, r, g, dtype) for n, r in zip(shape, ranks)]
    core = torch.randn(*ranks, dtype=dtype, generator=g)
    return S.tucker_to_tensor(core, U), U


def _subspace_gap(U, V):
    """1 − smallest cosine of the principal angles between span U and span V."""
    return float(1 - torch.linalg.svdvals(U.mH @ V).min())


def test_hosvd_exact_and_all_orthogonal():
    T = torch.randn(4, 5, 6, dtype=C128, generator=_g(8))
    core, U = S.hosvd(T)
    assert [u.shape for u in U] == [(4, 4), (5, 5), (6, 6)]
    assert _rel(S.tucker_to_tensor(core, U), T) < 1e-13
    for n, u in enumerate(U):
        assert _rel(u.mH @ u, torch.eye(u.shape[1], dtype=C128)) < 1e-13
        # all-orthogonality: slices of the core along mode n are orthogonal with decreasing norms
        cn = L.unfold(core, n)
        gram = cn @ cn.mH
        off = gram - torch.diag(torch.diagonal(gram))
        assert float(off.abs().max()) < 1e-10 * float(gram.abs().max())
        d = torch.diagonal(gram).real
        assert bool((d[:-1] >= d[1:] - 1e-10).all())


@pytest.mark.parametrize("dtype", [C128, F64])
def test_truncated_hosvd_exact_for_exact_multilinear_rank(dtype):
    T, U = _planted_tucker((8, 9, 10), (2, 3, 4), seed=9, dtype=dtype)
    core, V = S.truncated_hosvd(T, (2, 3, 4))
    assert core.shape == (2, 3, 4) and core.dtype == dtype
    assert _rel(S.tucker_to_tensor(core, V), T) < 1e-12
    assert max(_subspace_gap(u, v) for u, v in zip(U, V)) < 1e-12


def test_tucker_recovers_planted_multilinear_rank():
    T, U = _planted_tucker((10, 11, 12), (2, 3, 4), seed=10)
    core, V = S.tucker(T, (2, 3, 4))
    assert _rel(S.tucker_to_tensor(core, V), T) < 1e-12
    assert max(_subspace_gap(u, v) for u, v in zip(U, V)) < 1e-12
    for v in V:
        assert _rel(v.mH @ v, torch.eye(v.shape[1], dtype=C128)) < 1e-12


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_hooi_fit_at_least_truncated_hosvd_on_noisy_tensor(seed):
    T, _ = _planted_tucker((9, 10, 11), (3, 3, 3), seed=seed)
    g = _g(100 + seed)
    Tn = T + 0.5 * T.norm() / T.numel() ** 0.5 * torch.randn(T.shape, dtype=C128, generator=g)
    ranks = (2, 3, 2)  # lower than the planted ranks: truncation genuinely matters
    c0, U0 = S.truncated_hosvd(Tn, ranks)
    c1, U1 = S.tucker(Tn, ranks)
    e0 = _rel(S.tucker_to_tensor(c0, U0), Tn)
    e1 = _rel(S.tucker_to_tensor(c1, U1), Tn)
    assert e1 <= e0 + 1e-12
    # HOOI is a stationary point: one more sweep does not improve the fit
    c2, U2 = S.tucker(Tn, ranks, max_iter=200, tol=0.0)
    assert abs(_rel(S.tucker_to_tensor(c2, U2), Tn) - e1) < 1e-6


def test_partial_tucker_over_snapshot_axis():
    T, U = _planted_tucker((10, 11, 12), (2, 3, 12), seed=14)
    core, V = S.tucker(T, (2, 3), axes=(0, 1))
    assert core.shape == (2, 3, 12) and len(V) == 2
    assert _rel(S.tucker_to_tensor(core, V, axes=(0, 1)), T) < 1e-12


def _congruence(A, B):
    """Best |cos| between matched columns, over all permutations (small R)."""
    An, Bn = A / A.norm(dim=0), B / B.norm(dim=0)
    G = (An.mH @ Bn).abs()
    R = G.shape[0]
    return max(min(float(G[i, p[i]]) for i in range(R)) for p in itertools.permutations(range(R)))


def test_cp_als_recovers_planted_complex_rank3():
    g = _g(15)
    A = [torch.randn(n, 3, dtype=C128, generator=g) for n in (8, 9, 10)]
    w_true = torch.tensor([3.0, 2.0, 1.0], dtype=F64)
    T = S.cp_to_tensor(w_true, A)
    w, F = S.cp_als(T, 3)
    assert w.dtype == F64 and all(f.dtype == C128 for f in F)
    assert bool((w[:-1] >= w[1:]).all())
    assert _rel(S.cp_to_tensor(w, F), T) < 1e-8
    for a, f in zip(A, F):
        assert 1 - _congruence(a, f) < 1e-8
        assert _rel(f.norm(dim=0), torch.ones(3, dtype=F64)) < 1e-12
    # weights = products of the planted column norms (up to the permutation)
    w_ref = w_true * A[0].norm(dim=0) * A[1].norm(dim=0) * A[2].norm(dim=0)
    assert _rel(torch.sort(w).values, torch.sort(w_ref).values) < 1e-8


def test_cp_als_real_random_init_is_reproducible():
    g = _g(16)
    A = [torch.randn(n, 3, dtype=F64, generator=g) for n in (6, 7, 8, 5)]  # a 4-way tensor
    T = S.cp_to_tensor(torch.ones(3, dtype=F64), A)
    w1, F1 = S.cp_als(T, 3, init="random", generator=_g(1))
    w2, F2 = S.cp_als(T, 3, init="random", generator=_g(1))
    assert torch.equal(w1, w2) and all(torch.equal(a, b) for a, b in zip(F1, F2))
    assert _rel(S.cp_to_tensor(w1, F1), T) < 1e-8
    assert all(1 - _congruence(a, f) < 1e-8 for a, f in zip(A, F1))


def test_cp_als_rank_above_a_dimension_and_float32():
    g = _g(17)
    A = [torch.randn(n, 4, dtype=torch.float32, generator=g) for n in (3, 6, 7)]
    T = S.cp_to_tensor(torch.ones(4), A)
    w, F = S.cp_als(T, 4, generator=_g(2), tol=1e-7, max_iter=2000)
    assert w.dtype == torch.float32 and F[0].shape == (3, 4)
    assert _rel(S.cp_to_tensor(w, F), T) < 1e-3


def test_bad_arguments():
    T = torch.randn(3, 4, 5)
    with pytest.raises(ValueError):
        S.tucker(T, (2, 5, 2))
    with pytest.raises(ValueError):
        S.cp_als(T, 0)
    with pytest.raises(ValueError):
        S.cp_als(T, 2, init="nope")
    with pytest.raises(TypeError):
        S.cp_als(T, 2, lam=1.0)


@pytest.mark.cuda
def test_tensor_on_cuda():
    T, U = _planted_tucker((8, 9, 10), (2, 3, 4), seed=18)
    core, V = S.tucker(T.cuda(), (2, 3, 4))
    assert core.device.type == "cuda" and _rel(S.tucker_to_tensor(core, V).cpu(), T) < 1e-10
    g = _g(19)
    A = [torch.randn(n, 3, dtype=C128, generator=g) for n in (8, 9, 10)]
    Tc = S.cp_to_tensor(torch.ones(3, dtype=F64), A)
    w, F = S.cp_als(Tc.cuda(), 3)
    assert w.device.type == "cuda" and _rel(S.cp_to_tensor(w, F).cpu(), Tc) < 1e-8
    for op in list(_ops().values()):
        check_linop(op, device="cuda")
