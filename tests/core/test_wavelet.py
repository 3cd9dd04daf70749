"""The orthonormal torch DWT: operator contract, agreement with PyWavelets, perfect reconstruction."""
import numpy as np
import pytest
import pywt
import torch

from sensekit.linop import Wavelet
from sensekit.testing import check_linop


@pytest.mark.parametrize("name", ["haar", "db2", "db4", "sym8", "coif2"])
def test_contract(name):
    check_linop(Wavelet((3, 32, 24), name), dtype=torch.complex128)
    check_linop(Wavelet((32, 24), name), dtype=torch.float32)
    check_linop(Wavelet((8, 16, 32), name, axes=(-3, -2, -1)), dtype=torch.complex64, batch=(2,))


@pytest.mark.parametrize("name,levels", [("haar", 3), ("db2", 2), ("db4", 2), ("sym4", 2), ("coif2", 1)])
def test_matches_pywavelets_periodization(name, levels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 48)) + 1j * rng.standard_normal((64, 48))
    W = Wavelet((64, 48), name, levels=levels)
    assert W.axis_levels == (levels, levels)
    ref, _ = pywt.coeffs_to_array(pywt.wavedec2(x, name, mode="periodization", level=levels))
    got = W(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() < 1e-12 * np.abs(ref).max()
    # pywt's own inverse of our coefficients gives x back
    coeffs = pywt.array_to_coeffs(got, pywt.coeffs_to_array(pywt.wavedec2(x, name, mode="periodization",
                                                                          level=levels))[1], output_format="wavedec2")
    assert np.allclose(pywt.waverec2(coeffs, name, mode="periodization"), x, atol=1e-12)


@pytest.mark.parametrize("shape", [(180, 230), (96, 96), (7, 64, 40), (12, 18)])
def test_perfect_reconstruction_any_size(shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, dtype=torch.complex128, generator=g)
    W = Wavelet(shape, "db4")
    y = W(x)
    assert torch.allclose(W.H(y), x, atol=1e-12)
    assert abs(float(torch.linalg.vector_norm(y)) - float(torch.linalg.vector_norm(x))) < 1e-10 * float(
        torch.linalg.vector_norm(x))
    assert W.approx_mask().sum() == np.prod(shape[:-2]) * np.prod([s >> lv for s, lv in zip(shape[-2:], W.axis_levels)])


def test_batched_and_input_untouched():
    x = torch.randn(4, 2, 32, 32)
    keep = x.clone()
    W = Wavelet((32, 32), "sym4")
    y = W(x)
    assert torch.equal(x, keep)
    assert torch.allclose(y[1, 0], W(x[1, 0]), atol=1e-6)


def test_sparsity_of_a_smooth_image():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    img = torch.exp(-(xx ** 2 + yy ** 2) / 0.3).double()
    c = Wavelet((64, 64), "db4")(img).abs().flatten()
    energy = torch.sort(c ** 2, descending=True).values.cumsum(0) / (c ** 2).sum()
    assert int((energy < 0.9999).sum()) < 0.05 * c.numel()   # 99.99 % of the energy in < 5 % of coefficients


def test_rejects_non_orthogonal_and_tiny():
    with pytest.raises(ValueError, match="not orthogonal"):
        Wavelet((32, 32), "bior2.2")
    with pytest.raises(ValueError, match="can be halved"):
        Wavelet((5, 7), "db4")


@pytest.mark.cuda
def test_cuda():
    W = Wavelet((16, 32, 32), "db4").cuda()
    x = torch.randn(16, 32, 32, dtype=torch.complex64, device="cuda")
    y = W(x)
    assert y.device.type == "cuda" and y.dtype == torch.complex64
    assert torch.allclose(W.H(y), x, atol=1e-5)
