"""Every proximal map is optimal (brute force on tiny inputs) and satisfies Moreau's identity."""
import pytest
import torch

import sensekit as sk
from sensekit.testing import check_moreau, check_prox

P = sk.prox


def _g(seed):
    return torch.Generator().manual_seed(seed)


def cases():
    g = _g(1)
    xr = torch.randn(5, dtype=torch.float64, generator=g)
    xc = torch.randn(4, dtype=torch.complex128, generator=g)
    xm = torch.randn(3, 2, dtype=torch.float64, generator=g)
    xg = torch.randn(2, 3, dtype=torch.float64, generator=g)
    xcm = torch.randn(2, 2, dtype=torch.complex128, generator=g)
    fft = sk.linop.FFT((5,), axes=(0,))
    return {
        "l1_real": (P.L1(0.7), xr, None),
        "l1_complex": (P.L1(0.7), xc, None),
        "l21_rows": (P.L21(0.9, axes=(-1,)), xg, None),
        "l21_cols": (P.L21(0.4, axes=(-2,)), xg, None),
        "nuclear_real": (P.Nuclear(0.8), xm, None),
        "nuclear_complex": (P.Nuclear(0.5), xcm, None),
        "squared_l2": (P.SquaredL2(2.0, torch.randn(5, dtype=torch.float64, generator=g)), xr, None),
        "nonneg": (P.NonNeg(), xr, lambda z: z.clamp(min=0)),
        "box": (P.Box(-0.2, 0.3), xr, lambda z: z.clamp(-0.2, 0.3)),
        "simplex": (P.Simplex(), xr, lambda z: P.project_simplex(z)),
        "simplex_radius": (P.Simplex(radius=2.5), xr, lambda z: P.project_simplex(z, radius=2.5)),
        "scaled_l1": (3 * P.L1(), xc, None),
        "zero": (P.Zero(), xr, None),
        "l1_in_fourier": (P.Transformed(P.L1(0.5), fft), xr.to(torch.complex128), None),
        "block_separable": (P.BlockSeparable([P.L1(0.3), P.Nuclear(0.2)], axis=-3),
                            torch.randn(2, 2, 2, dtype=torch.float64, generator=g), None),
    }


CASES = cases()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("step", [0.3, 1.7])
def test_prox_is_optimal(name, step):
    g, x, feasible = CASES[name]
    check_prox(g, x, step, feasible=feasible)


@pytest.mark.parametrize("name", ["l1_real", "l1_complex", "l21_rows", "nuclear_real", "nuclear_complex",
                                  "scaled_l1", "zero", "l1_in_fourier", "block_separable", "squared_l2"])
def test_moreau_identity(name):
    g, x, _ = CASES[name]
    check_moreau(g, x, 0.6)


def test_conjugate_prox_projections():
    g = P.L1(0.5)
    v = torch.tensor([2.0, -0.1, -3.0], dtype=torch.float64)
    assert torch.allclose(g.conj_prox(v, 1.0), torch.tensor([0.5, -0.1, -0.5], dtype=torch.float64))
    n = P.Nuclear(1.0)
    m = torch.diag(torch.tensor([3.0, 0.5], dtype=torch.float64))
    assert torch.allclose(torch.linalg.svdvals(n.conj_prox(m, 1.0)), torch.tensor([1.0, 0.5], dtype=torch.float64))


def test_svt_batched_matches_loop():
    x = torch.randn(4, 6, 3, dtype=torch.complex128, generator=_g(2))
    out = P.svt(x, 0.5)
    for i in range(4):
        assert torch.allclose(out[i], P.svt(x[i], 0.5))


def test_simplex_projection_sums_to_one():
    x = torch.randn(7, 5, dtype=torch.float64, generator=_g(3)) * 3
    p = P.project_simplex(x, axis=0)
    assert torch.all(p >= 0)
    assert torch.allclose(p.sum(0), torch.ones(5, dtype=torch.float64))
    assert float(P.Simplex(axis=0)(p)) == 0.0
    assert float(P.Simplex(axis=0)(x)) == float("inf")


def test_values():
    x = torch.tensor([3.0, -4.0], dtype=torch.float64)
    assert float(P.L1(2.0)(x)) == 14.0
    assert float(P.L21(1.0, axes=(-1,))(x)) == 5.0
    assert float((0.5 * P.L1())(x)) == 3.5
    assert float(P.NonNeg()(x)) == float("inf")
    with pytest.raises(TypeError):
        P.NonNeg().prox(torch.zeros(2, dtype=torch.complex64), 1.0)
    with pytest.raises(ValueError):
        -1.0 * P.L1()


def test_prox_does_not_mutate():
    x = torch.randn(3, 4, dtype=torch.complex128, generator=_g(4))
    before = x.clone()
    for g in (P.L1(0.3), P.L21(0.3), P.Nuclear(0.3), P.SquaredL2(1.0)):
        g.prox(x, 0.5)
        g.conj_prox(x, 0.5)
    assert torch.equal(x, before)


def test_average_is_the_mean_of_proxes_and_firmly_nonexpansive():
    g = torch.Generator().manual_seed(3)
    W = sk.linop.Wavelet((8, 8), wavelet="haar")
    shifted = [sk.prox.Transformed(sk.prox.L1(0.2), W @ sk.linop.Roll((8, 8), (a, b), (-2, -1)) if a or b else W)
               for a in (0, 1) for b in (0, 1)]
    avg = sk.prox.Average(shifted)
    x, z = (torch.randn(8, 8, dtype=torch.float64, generator=g) for _ in range(2))
    ref = sum(p.prox(x, 0.7) for p in shifted) / 4
    assert torch.allclose(avg.prox(x, 0.7), ref)
    # averaged shrinkage is not the plain one (the shifts matter) ...
    assert not torch.allclose(avg.prox(x, 0.7), shifted[0].prox(x, 0.7))
    # ... and stays firmly nonexpansive: ‖Px − Pz‖² ≤ <Px − Pz, x − z>
    d = avg.prox(x, 0.7) - avg.prox(z, 0.7)
    assert float((d * d).sum()) <= float((d * (x - z)).sum()) + 1e-12
    # the reported value is the mean of the values; one prox: exactly that prox
    assert torch.allclose(avg(x), sum(p(x) for p in shifted) / 4)
    assert torch.allclose(sk.prox.Average(shifted[:1]).prox(x, 0.7), shifted[0].prox(x, 0.7))
    with pytest.raises(ValueError):
        sk.prox.Average([])
