"""The fused execution plan of a composition (sensekit/linop/fuse.py) and the fast paths it relies on."""
import pytest
import torch

import sensekit as sk
from sensekit.linop.fourier import fftc, ifftc


def _shifted_fftc(x, dim):
    return torch.fft.fftshift(torch.fft.fftn(torch.fft.ifftshift(x, dim=dim), dim=dim, norm="ortho"), dim=dim)


def _shifted_ifftc(x, dim):
    return torch.fft.fftshift(torch.fft.ifftn(torch.fft.ifftshift(x, dim=dim), dim=dim, norm="ortho"), dim=dim)


@pytest.mark.parametrize("shape,dim", [((3, 8, 6), (-2, -1)), ((4, 6, 10), (0, 2)), ((5, 7), (-2, -1)),
                                       ((5, 6), (-2, -1))])
def test_centred_fft_equals_the_shifted_definition(shape, dim):
    x = torch.randn(shape, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(fftc(x, dim), _shifted_fftc(x, dim), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ifftc(x, dim), _shifted_ifftc(x, dim), rtol=1e-12, atol=1e-12)


def _sense_model(Y=8, X=6, T=3, C=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randn(C, Y, X, dtype=torch.complex128, generator=g)
    mask = torch.rand(T, 1, Y, X, generator=g) < 0.5
    E = sk.linop.Compose(sk.linop.Mask(mask, (T, C, Y, X)), sk.linop.FFT((T, C, Y, X)), sk.linop.Sense(maps, (T, Y, X)))
    return E, maps, mask, g


def test_mask_fft_sense_is_fused_and_equal_to_the_chain():
    E, maps, mask, g = _sense_model()
    x = torch.randn(3, 8, 6, dtype=torch.complex128, generator=g)
    y = torch.randn(3, 2, 8, 6, dtype=torch.complex128, generator=g)
    assert [type(op).__name__ for op in E._plan(x)] == ["Diag", "FFT", "Sense"]
    want = torch.where(mask, _shifted_fftc(x.unsqueeze(-3) * maps, (-2, -1)), torch.zeros((), dtype=x.dtype))
    torch.testing.assert_close(E(x), want, rtol=1e-12, atol=1e-12)
    want_h = (maps.conj() * _shifted_ifftc(torch.where(mask, y, torch.zeros((), dtype=y.dtype)), (-2, -1))).sum(-3)
    torch.testing.assert_close(E.H(y), want_h, rtol=1e-12, atol=1e-12)
    # batched input, and the public structure is untouched
    torch.testing.assert_close(E(torch.stack([x, 2 * x])), torch.stack([E(x), 2 * E(x)]))
    assert [type(op).__name__ for op in E.ops] == ["Mask", "FFT", "Sense"]


def test_plan_follows_an_in_place_change_of_a_buffer():
    E, maps, mask, g = _sense_model()
    x = torch.randn(3, 8, 6, dtype=torch.complex128, generator=g)
    before = E(x)
    E.ops[0].mask.logical_not_()
    after = E(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, torch.where(E.ops[0].mask, _shifted_fftc(x.unsqueeze(-3) * maps, (-2, -1)),
                                                  torch.zeros((), dtype=x.dtype)), rtol=1e-12, atol=1e-12)


def test_odd_axes_and_lone_ffts_are_not_fused():
    odd = sk.linop.Compose(sk.linop.Mask(torch.ones(5, 7, dtype=torch.bool)), sk.linop.FFT((5, 7)))
    assert odd._plan(torch.zeros(5, 7, dtype=torch.complex64)) is odd.ops
    lone = sk.linop.Compose(sk.linop.FFT((4, 6)), sk.linop.Roll((4, 6), (1, 1), (0, 1)))
    assert lone._plan(torch.zeros(4, 6, dtype=torch.complex64)) is lone.ops


def test_diag_fft_diag_fused_passes_the_contract():
    g = torch.Generator().manual_seed(3)
    d1 = torch.randn(6, 8, dtype=torch.complex128, generator=g)
    d2 = torch.rand(6, 8, dtype=torch.float64, generator=g)
    A = sk.linop.Diag(d2) @ sk.linop.FFT((6, 8)) @ sk.linop.Diag(d1)
    x = torch.randn(6, 8, dtype=torch.complex128, generator=g)
    assert [type(op).__name__ for op in A._plan(x)] == ["Diag", "FFT", "Diag"]
    torch.testing.assert_close(A(x), d2 * _shifted_fftc(d1 * x, (-2, -1)), rtol=1e-12, atol=1e-12)
    y = torch.randn(6, 8, dtype=torch.complex128, generator=g)
    lhs, rhs = torch.vdot(A(x).flatten(), y.flatten()), torch.vdot(x.flatten(), A.H(y).flatten())
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_neumann_fast_path_matches_the_autograd_path():
    x = torch.randn(3, 5, 4, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    for axes in ((-2, -1), (-3,), (0, 1, 2)):
        D = sk.linop.FiniteDiff(x.shape, axes=axes, boundary="neumann")
        y = torch.randn(D.out_shape, dtype=x.dtype, generator=torch.Generator().manual_seed(2))
        fast, fast_h = D(x), D.H(y)
        xg, yg = x.clone().requires_grad_(), y.clone().requires_grad_()
        torch.testing.assert_close(fast, D(xg).detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fast_h, D.H(yg).detach(), rtol=1e-12, atol=1e-12)
    one = sk.linop.FiniteDiff((1, 4), axes=(0, 1), boundary="neumann")
    torch.testing.assert_close(one.H(torch.ones(2, 1, 4)), torch.tensor([[-1.0, 0.0, 0.0, 1.0]]))


def test_squared_l2_closed_form_conj_prox_is_moreau():
    g = torch.Generator().manual_seed(4)
    b = torch.randn(7, dtype=torch.complex128, generator=g)
    v = torch.randn(7, dtype=torch.complex128, generator=g)
    for lam, bb in ((0.7, b), (2.0, None)):
        f = sk.prox.SquaredL2(lam, bb)
        torch.testing.assert_close(f.conj_prox(v, 0.3), sk.prox.Prox.conj_prox(f, v, 0.3), rtol=1e-12, atol=1e-12)
    assert torch.equal(sk.prox.SquaredL2(0.0, b).conj_prox(v, 0.3), torch.zeros_like(v))


def test_plan_follows_a_replaced_buffer():
    E, maps, mask, g = _sense_model()
    x = torch.randn(3, 8, 6, dtype=torch.complex128, generator=g)
    E(x)
    E.ops[0].mask = ~E.ops[0].mask     # a new tensor (it may reuse the freed one's id)
    torch.testing.assert_close(E(x), torch.where(E.ops[0].mask, _shifted_fftc(x.unsqueeze(-3) * maps, (-2, -1)),
                                                 torch.zeros((), dtype=x.dtype)), rtol=1e-12, atol=1e-12)
