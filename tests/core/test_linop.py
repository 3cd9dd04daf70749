"""Every operator passes the contract checks (dot test, linearity, normal, batching, dtype, autograd)."""
import pytest
import torch

import sensekit as sk
from sensekit.testing import check_linop

L = sk.linop


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def make_ops():
    g = _g()
    maps = torch.randn(4, 8, 6, dtype=torch.complex128, generator=g)
    kmask = torch.rand(3, 1, 8, 6, generator=g) > 0.5
    return {
        "identity": L.Identity((3, 4)),
        "diag_complex": L.Diag(torch.randn(3, 4, dtype=torch.complex128, generator=g)),
        "diag_broadcast_real": L.Diag(torch.randn(4, dtype=torch.float64, generator=g), (3, 4)),
        "mask": L.Mask(torch.rand(3, 4, generator=g) > 0.5),
        "mask_broadcast": L.Mask(torch.rand(3, 1, generator=g) > 0.5, (3, 4)),
        "sample": L.Sample(torch.rand(3, 4, generator=g) > 0.5),
        "reshape": L.Reshape((3, 4), (2, 6)),
        "permute": L.Permute((2, 3, 4), (2, 0, 1)),
        "roll": L.Roll((2, 3, 4), (1, -2), (0, -1)),
        "pad": L.Pad((3, 4), (6, 7)),
        "crop": L.Crop((6, 7), (3, 4)),
        "axis_sum_first": L.AxisSum((2, 3, 4), 0),
        "axis_sum_last": L.AxisSum((2, 3, 4), -1),
        "fft_centred_2d": L.FFT((3, 8, 6), axes=(-2, -1)),
        "fft_plain_axes": L.FFT((3, 8, 5), axes=(0, 2), centered=False),
        "fft_odd": L.FFT((7, 5), axes=(0, 1)),
        "finite_diff_periodic": L.FiniteDiff((3, 8, 6), axes=(-3, -2, -1)),
        "finite_diff_neumann": L.FiniteDiff((3, 8, 6), axes=(-2, -1), boundary="neumann"),
        "finite_diff_temporal": L.FiniteDiff((3, 8, 6), axes=(0,)),
        "sense_static": L.Sense(maps),
        "sense_dynamic": L.Sense(maps, (3, 8, 6)),
        "unfold_mode0": L.Unfold((3, 8, 6), 0),
        "unfold_mode2": L.Unfold((3, 8, 6), 2),
        "mri_model": L.Mask(kmask, (3, 4, 8, 6)) @ L.FFT((3, 4, 8, 6)) @ L.Sense(maps, (3, 8, 6)),
        "sum_scale": L.Diag(torch.randn(3, 4, dtype=torch.complex128, generator=g)) + (2 - 1j) * L.Identity((3, 4))
        - L.Mask(torch.rand(3, 4, generator=g) > 0.5),
        "mask_fft": L.Mask(torch.rand(8, 6, generator=g) > 0.5, (8, 6)) @ L.FFT((8, 6)),
        "fft_diag": L.FFT((8, 6)) @ L.Diag(torch.randn(8, 6, dtype=torch.complex128, generator=g)),
        "unitary_sandwich": L.FFT((8, 6)).H @ L.Mask(torch.rand(8, 6, generator=g) > 0.5, (8, 6)) @ L.FFT((8, 6)),
        "adjoint_of_sense": L.Sense(maps).H,
        "normal_of_model": (L.Mask(kmask[0, 0], (8, 6)) @ L.FFT((8, 6))).N,
    }


OPS = make_ops()


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_contract(name, dtype):
    check_linop(OPS[name], dtype=dtype)


@pytest.mark.parametrize("name", ["diag_broadcast_real", "mask", "reshape", "permute", "pad", "crop",
                                  "axis_sum_first", "finite_diff_periodic", "finite_diff_neumann", "unfold_mode2"])
def test_contract_real(name):
    check_linop(OPS[name], dtype=torch.float64)


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(OPS))
def test_contract_cuda(name):
    check_linop(OPS[name], dtype=torch.complex64, device="cuda")


def test_multi_batch_dims():
    op = OPS["mri_model"]
    check_linop(op, batch=(2, 3))
    check_linop(op, batch=())


def test_shape_errors_are_clear():
    op = L.FFT((8, 6))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 8, 6\)"):
        op(torch.zeros(8, 5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="cannot compose"):
        L.FFT((8, 6)) @ L.Identity((3, 3))
    with pytest.raises(ValueError, match="different shapes"):
        L.Identity((2,)) + L.Identity((3,))
    with pytest.raises(ValueError, match="does not broadcast"):
        L.Diag(torch.ones(5), (3, 4))
    with pytest.raises(ValueError):
        L.Pad((5, 5), (4, 6))
    with pytest.raises(ValueError, match="permutation"):
        L.Permute((2, 3), (0, 0))


def test_algebra_matches_definitions():
    g = _g(3)
    A = L.Diag(torch.randn(5, dtype=torch.complex128, generator=g))
    B = L.FFT((5,), axes=(0,))
    x = torch.randn(5, dtype=torch.complex128, generator=g)
    assert torch.allclose((A @ B)(x), A(B(x)))
    assert torch.allclose((A + B)(x), A(x) + B(x))
    assert torch.allclose((A - B)(x), A(x) - B(x))
    assert torch.allclose((2j * A)(x), 2j * A(x))
    assert torch.allclose((-A)(x), -A(x))
    assert torch.allclose((A @ x), A(x))
    assert torch.allclose(A.H.H(x), A(x))
    assert isinstance((B.H @ B).N, L.Identity) or torch.allclose((B.H @ B).N(x), x)


def test_fft_matches_contract_convention():
    g = _g(4)
    img = torch.randn(6, 8, dtype=torch.complex128, generator=g)
    k = L.FFT((6, 8))(img)
    ref = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(img), norm="ortho"))
    assert torch.allclose(k, ref)
    # DC at index n // 2
    assert torch.allclose(L.FFT((6, 8))(torch.ones(6, 8, dtype=torch.complex128))[3, 4], torch.tensor(48 ** 0.5 + 0j,
                                                                                                         dtype=torch.complex128))


def test_fast_normal_paths():
    maps = torch.randn(3, 4, 4, dtype=torch.complex128, generator=_g(5))
    S = L.Sense(maps)
    assert isinstance(S.N, L.Diag)
    assert isinstance(L.FFT((4, 4)).N, L.Identity)
    assert isinstance(L.Mask(torch.ones(4, 4)).N, L.Mask)
    assert (L.Mask(torch.rand(4, 4) > 0.5) @ L.FFT((4, 4))).has_solve_normal
    assert not (L.Mask(torch.rand(3, 4, 4) > 0.5) @ L.FFT((3, 4, 4)) @ L.Sense(maps)).has_solve_normal


def test_opnorm():
    w = torch.tensor([0.5, -3.0, 2.0], dtype=torch.float64)
    est = L.opnorm(L.Diag(w), dtype=torch.float64, max_iter=500, tol=1e-12, generator=_g(1))
    assert abs(est - 3.0) < 1e-6
    D = L.FiniteDiff((16,), axes=(0,))
    assert L.opnorm(D, dtype=torch.float64, max_iter=2000, tol=1e-12, generator=_g(2)) ** 2 <= D.norm_bound + 1e-9


def test_operators_do_not_mutate_inputs():
    x = torch.randn(3, 8, 6, dtype=torch.complex128, generator=_g(6))
    before = x.clone()
    for name, op in OPS.items():
        if op.in_shape == tuple(x.shape[-len(op.in_shape):]) and len(op.in_shape) <= 3:
            op(x)
            op.H(op(x))
    assert torch.equal(x, before)
