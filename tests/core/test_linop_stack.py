"""Dense matrices and stacks of operators: the operator contract, and agreement with the explicit matrices."""
import math

import pytest
import torch

import sensekit.linop as L
from sensekit.testing import check_linop


def _mat(m, n, seed, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, n, dtype=dtype, generator=g)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_dense_contract_and_normal_solve(dtype):
    A = L.Dense(_mat(7, 5, 0, dtype))
    check_linop(A, dtype=dtype)
    check_linop(A, dtype=torch.complex128)  # a real matrix on complex input
    b = _mat(1, 5, 1, dtype)[0]
    x = A.solve_normal(b, 0.3)
    assert torch.allclose(A.H(A(x)) + 0.3 * x, b, atol=1e-10)
    assert abs(A.norm_bound - float(torch.linalg.matrix_norm(A.matrix, ord=2)) ** 2) < 1e-8


def test_stacks_match_their_explicit_matrices():
    A1, A2 = _mat(4, 3, 2), _mat(6, 3, 3)
    B1, B2 = _mat(4, 2, 4), _mat(6, 5, 5)
    V = L.VStack([L.Dense(A1), L.Dense(A2)])
    H = L.HStack([L.Dense(A1), L.Dense(B1)])
    D = L.BlockDiag([L.Dense(A1), L.Dense(B2)])
    for op in (V, H, D):
        check_linop(op)
    x = _mat(1, 3, 6)[0]
    assert torch.allclose(V(x), torch.cat([A1 @ x, A2 @ x]))
    u = _mat(1, 5, 7)[0]
    assert torch.allclose(H(u), A1 @ u[:3] + B1 @ u[3:])
    w = _mat(1, 8, 8)[0]
    assert torch.allclose(D(w), torch.cat([A1 @ w[:3], B2 @ w[3:]]))
    assert torch.allclose(V.N(x), (A1.conj().T @ A1 + A2.conj().T @ A2) @ x)
    y = D.solve_normal(w, 0.5)
    assert torch.allclose(D.N(y) + 0.5 * y, w, atol=1e-10)


def test_stacks_of_shaped_operators_and_shape_errors():
    F = L.FFT((4, 6))
    G = L.FiniteDiff((4, 6), axes=(-2, -1))
    V = L.VStack([F, G])
    assert V.out_shape == (24 + math.prod(G.out_shape),)
    check_linop(V)
    parts = L.split(V(torch.ones(2, 4, 6, dtype=torch.complex128)), [F.out_shape, G.out_shape])
    assert parts[0].shape == (2, 4, 6) and parts[1].shape == (2,) + G.out_shape
    with pytest.raises(ValueError, match="in_shape"):
        L.VStack([F, L.FFT((3, 3))])
    with pytest.raises(ValueError, match="out_shape"):
        L.HStack([F, L.FFT((3, 3))])
