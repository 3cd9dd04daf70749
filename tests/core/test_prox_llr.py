"""Locally low-rank prox: matches a naive per-block loop, is the exact prox (optimality), shifts, padding."""
import pytest
import torch

from sensekit.prox import LocallyLowRank, block_casorati


def _series(T=5, Y=13, X=11, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, Y, X, dtype=dtype, generator=g)


def _naive(x, lam, block, shift):
    """Loop over tiles of the zero-padded, offset grid; SVT each (by·bx) × T Casorati matrix."""
    by, bx = block
    T, Y, X = x.shape
    sy, sx = shift
    Yp, Xp = -(-(Y + sy) // by) * by, -(-(X + sx) // bx) * bx
    xp = torch.zeros(T, Yp, Xp, dtype=x.dtype)
    xp[:, sy:sy + Y, sx:sx + X] = x
    out = torch.zeros_like(xp)
    for i in range(0, Yp, by):
        for j in range(0, Xp, bx):
            tile = xp[:, i:i + by, j:j + bx]
            C = tile.reshape(T, -1).T                     # pixels × frames
            U, s, Vh = torch.linalg.svd(C, full_matrices=False)
            C = (U * torch.clamp(s - lam, min=0).to(U.dtype)) @ Vh
            out[:, i:i + by, j:j + bx] = C.T.reshape(T, by, bx)
    value = sum(torch.linalg.svdvals(xp[:, i:i + by, j:j + bx].reshape(T, -1).T).sum()
                for i in range(0, Yp, by) for j in range(0, Xp, bx))
    return out[:, sy:sy + Y, sx:sx + X], lam * value


@pytest.mark.parametrize("block, shift", [((4, 4), (0, 0)), ((4, 3), (2, 1)), ((5, 5), (4, 0)), ((13, 11), (0, 0))])
def test_llr_prox_matches_naive_loop(block, shift):
    x = _series()
    g = LocallyLowRank(0.7, block=block, shift=shift)
    ref, val = _naive(x, 0.7 * 0.5, block, shift)
    assert torch.allclose(g.prox(x, 0.5), ref, atol=1e-10)
    assert torch.allclose(g(x), val / 0.5, rtol=1e-8)


def test_llr_casorati_shape_and_roundtrip():
    x = _series(T=3, Y=10, X=9)
    M, padded = block_casorati(x, (4, 4), (1, 3))
    assert padded == (12, 12) and M.shape == (9, 16, 3)
    assert torch.allclose(torch.linalg.vector_norm(M), torch.linalg.vector_norm(x))  # padding is an isometry
    g = LocallyLowRank(0.0, block=4, shift=(1, 3))
    assert torch.allclose(g.prox(x, 1.0), x)                                           # lam 0: identity


def test_llr_prox_optimality():
    """p = prox(x) minimises g(z) + ‖z − x‖²/(2·step): no random perturbation does better, and the
    subgradient condition (x − p)/step ∈ ∂g(p) holds blockwise (‖·‖₂ ≤ lam, equality on the range of p)."""
    x = _series(seed=1)
    lam, step = 0.9, 0.8
    g = LocallyLowRank(lam, block=(4, 4), shift=(1, 2))
    p = g.prox(x, step)
    obj = lambda z: float(g(z) + torch.sum((z - x).abs() ** 2) / (2 * step))  # noqa: E731
    f0 = obj(p)
    gen = torch.Generator().manual_seed(3)
    for eps in (1e-1, 1e-2, 1e-3):
        for _ in range(20):
            d = torch.randn(x.shape, dtype=x.dtype, generator=gen)
            assert obj(p + eps * d) >= f0 - 1e-9
    G, _ = block_casorati((x - p) / step, g.block, g.shift)
    assert float(torch.linalg.matrix_norm(G, ord=2).max()) <= lam * (1 + 1e-9)
    # ⟨G_b, P_b⟩ = lam ‖P_b‖_* on every block (G is a subgradient of the block nuclear norm at P)
    P, _ = block_casorati(p, g.block, g.shift)
    inner = torch.sum((G.conj() * P).real, dim=(-2, -1))
    assert torch.allclose(inner, lam * torch.linalg.svdvals(P).sum(-1), atol=1e-9)


def test_llr_random_shifts_are_reproducible_and_vary():
    x = _series(T=4, Y=16, X=16)
    a = LocallyLowRank(0.5, block=4, generator=torch.Generator().manual_seed(7))
    b = LocallyLowRank(0.5, block=4, generator=torch.Generator().manual_seed(7))
    shifts = []
    for _ in range(12):
        pa, pb = a.prox(x, 1.0), b.prox(x, 1.0)
        assert torch.equal(pa, pb)
        ref, _ = _naive(x, 0.5, a.block, a.shift)       # each call is the exact prox on its own grid
        assert torch.allclose(pa, ref, atol=1e-10)
        shifts.append(a.shift)
    assert len(set(shifts)) > 3


def test_llr_batched_and_float32():
    x = torch.stack([_series(seed=s, dtype=torch.complex64) for s in range(2)])   # (2, T, Y, X)
    g = LocallyLowRank(0.3, block=4, shift=(2, 2))
    p = g.prox(x, 1.0)
    for i in range(2):
        assert torch.allclose(p[i], g.prox(x[i], 1.0), atol=1e-5)


def test_llr_rejects_bad_blocks():
    with pytest.raises(ValueError):
        LocallyLowRank(1.0, block=0)
    with pytest.raises(ValueError):
        LocallyLowRank(1.0, block=4, shift=(4, 0))
