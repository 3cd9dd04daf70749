"""sensekit.linop.NUFFT: the operator contract, accuracy against the exact non-uniform DFT, density compensation."""
import math

import pytest
import torch

from sensekit.linop import NUFFT, fftc, nudft, opnorm, pipe_menon_dcf
from sensekit.sim.trajectories import golden_angle_radial
from sensekit.testing import check_linop


def _random_traj(shape, Y, X, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, 2, generator=g, dtype=torch.float64) - 0.5) * torch.tensor([Y, X], dtype=torch.float64)


def _exact_adjoint(y, traj, Y, X):
    M = nudft(torch.eye(Y * X, dtype=torch.complex128).reshape(Y * X, Y, X), traj).T   # (S, Y·X)
    return (y @ M.conj()).reshape(*y.shape[:-1], Y, X)


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_nufft_operator_contract(dtype):
    """Dot test <Ax, y> = <x, Aᴴy>, linearity, batching, autograd = adjoint, per-frame trajectories, coils."""
    T, C, Y, X = 3, 2, 16, 12
    A = NUFFT(_random_traj((T, 90), Y, X), (T, C, Y, X))
    check_linop(A, dtype=dtype)
    check_linop(NUFFT(_random_traj((70,), Y, X), (C, Y, X)), dtype=dtype, batch=(2, 3))


# Measured relative errors against the exact sum (24 x 20 image, 300 random samples): width 4: 6.1e-4
# (adjoint 6.4e-4); width 6: 7.0e-6 (adjoint 6.9e-6).  The stated accuracy: < 1e-3 at width 4, < 1e-4 at 6.
@pytest.mark.parametrize("width, tol", [(4, 1e-3), (6, 1e-4)])
def test_nufft_matches_exact_ndft(width, tol):
    Y, X, S = 24, 20, 300
    traj = _random_traj((S,), Y, X, seed=1)
    A = NUFFT(traj, (Y, X), width=width)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, Y, X, dtype=torch.complex128, generator=g)
    y = torch.randn(3, S, dtype=torch.complex128, generator=g)
    ref, ref_h = nudft(x, traj), _exact_adjoint(y, traj, Y, X)
    assert float((A(x) - ref).norm() / ref.norm()) < tol
    assert float((A.H(y) - ref_h).norm() / ref_h.norm()) < tol


def test_nufft_per_frame_trajectories_match_exact_ndft():
    T, C, Y, X = 3, 2, 16, 18
    traj = _random_traj((T, 120), Y, X, seed=3)
    A = NUFFT(traj, (T, C, Y, X))
    x = torch.randn(T, C, Y, X, dtype=torch.complex128, generator=torch.Generator().manual_seed(4))
    y = A(x)
    for t in range(T):
        assert float((y[t] - nudft(x[t], traj[t])).norm() / y[t].norm()) < 1e-4


def test_nufft_on_grid_is_the_centred_fft():
    Y, X = 16, 15
    ky, kx = torch.meshgrid(torch.arange(Y) - Y // 2., torch.arange(X) - X // 2., indexing="ij")
    A = NUFFT(torch.stack([ky, kx], -1).reshape(-1, 2), (Y, X))
    x = torch.randn(Y, X, dtype=torch.complex128, generator=torch.Generator().manual_seed(5))
    assert float((A(x) - fftc(x).reshape(-1)).norm() / x.norm()) < 1e-4


def test_weighted_nufft_and_norm_with_pipe_menon_dcf():
    """diag(√w)·A with Pipe–Menon weights: adjoint-consistent, and AᴴWA close to a multiple of I on radial."""
    Y = X = 32
    traj = golden_angle_radial(1, 48, Y)[0]
    A = NUFFT(traj, (Y, X))
    w = pipe_menon_dcf(A, 10)
    assert w.shape == (48 * Y,) and bool((w > 0).all())
    # radial density grows with |k|^-1: the weights grow with |k| (outer half vs inner tenth of the radius)
    r = traj.norm(dim=-1)
    assert float(w[r > Y / 4].mean()) > 3 * float(w[r < Y / 20].mean())
    Aw = A.with_weights(w.sqrt())
    check_linop(Aw, dtype=torch.complex128, check_autograd=False)
    # with density compensation the gridding of a point source is a sharp peak (most energy in the centre)
    x = torch.zeros(Y, X, dtype=torch.complex128)
    x[Y // 2, X // 2] = 1
    psf = Aw.H(Aw(x))
    assert float(psf.abs()[Y // 2, X // 2]) > 5 * float(psf.abs().flatten().topk(2).values[1])
    assert math.isfinite(opnorm(Aw, dtype=torch.complex128))


@pytest.mark.cuda
def test_nufft_cuda_matches_cpu():
    T, C, Y, X = 2, 3, 20, 20
    traj = _random_traj((T, 100), Y, X, seed=6)
    A = NUFFT(traj, (T, C, Y, X))
    x = torch.randn(T, C, Y, X, dtype=torch.complex64, generator=torch.Generator().manual_seed(7))
    y = A(x)
    Ac = A.to("cuda")
    yc = Ac(x.cuda())
    assert yc.device.type == "cuda"
    assert float((yc.cpu() - y).norm() / y.norm()) < 1e-5
    assert float((Ac.H(yc).cpu() - A.H(y)).norm() / A.H(y).norm()) < 1e-5
    check_linop(A, dtype=torch.complex64, device="cuda")
