"""sensekit.sim.trajectories: golden-angle radial and spiral trajectories (shape, range, rotation, sampling rule)."""
import math

import numpy as np
import pytest
import torch

from sensekit.linop import NUFFT, pipe_menon_dcf
from sensekit.sim.trajectories import (GOLDEN_ANGLE, GOLDEN_ANGLE_SPIRAL, golden_angle_radial, golden_angle_spiral,
                                       spiral_turns)


def _as_complex(t):
    """(…, 2) (k_y, k_x) → complex k_x + i k_y."""
    return t[..., 1] + 1j * t[..., 0]


@pytest.mark.parametrize("shape", [(32, 32), (40, 24)])
def test_spiral_shape_range_and_readout_spacing(shape):
    T, N, S = 3, 4, 200
    Y, X = shape
    t = golden_angle_spiral(T, N, S, shape)
    assert t.shape == (T, N * S, 2) and t.dtype == torch.float64
    assert float(t[..., 0].abs().max()) < Y / 2 and float(t[..., 1].abs().max()) < X / 2
    il = t.reshape(T * N, S, 2)
    assert float(il[:, 0].abs().max()) == 0.0                       # centre-out: every interleaf starts at DC
    # the radius grows along every interleaf and reaches the edge (the last sample within one step of n/2)
    r = (il / torch.tensor([Y, X], dtype=torch.float64)).norm(dim=-1)
    assert bool((r[:, 1:] > r[:, :-1]).all())
    assert 0.5 - float(r[:, -1].min()) < 1.0 / max(Y, X)
    if Y == X:      # the default turns: samples one grid unit (1/FOV) of arc apart along the readout (the chord
        step = il.diff(dim=1).norm(dim=-1)      # is shorter only on the tight first turns near the centre)
        outer = step[r[:, 1:] > 0.1]
        assert 0.99 < float(outer.min()) and float(step.max()) < 1.0 + 1e-6, (outer.min(), step.max())


def test_spiral_interleaves_advance_by_the_golden_angle_across_frames():
    T, N, S = 3, 2, 64
    t = golden_angle_spiral(T, N, S, (16, 16))
    z = _as_complex(t.reshape(T * N, S, 2)).numpy()
    rot = np.exp(1j * GOLDEN_ANGLE_SPIRAL)
    for j in range(T * N - 1):      # frame boundaries included (j = 1, 3)
        np.testing.assert_allclose(z[j + 1], z[j] * rot, atol=1e-9)
    assert abs(math.degrees(GOLDEN_ANGLE_SPIRAL) - 137.508) < 1e-3
    # first = 5 continues the same sequence: frame 0 of it is interleaves 5, 6 of the long sequence
    long = golden_angle_spiral(4, N, S, (16, 16)).reshape(4 * N, S, 2)
    np.testing.assert_allclose(golden_angle_spiral(1, N, S, (16, 16), first=5).reshape(N, S, 2), long[5:7],
                               atol=1e-9)
    # and the frames differ (the trajectory rotates from frame to frame)
    assert float((t[1] - t[0]).abs().max()) > 1.0


@pytest.mark.parametrize("density", [1.0, 1.5, 2.0])
def test_spiral_turns_and_edge_gap_follow_the_documented_rule(density):
    n, S = 32, 1024
    w = spiral_turns(S, n, density)
    assert abs(w - (density + 1) * S / (math.pi * n)) / w < 0.01        # w ≈ (α + 1) S / (π n)
    # measured gap between the last turn and the one before it, along the same angle
    z = _as_complex(golden_angle_spiral(1, 1, S, (n, n), density=density)[0]).numpy()
    th, r = np.unwrap(np.angle(z[1:])), np.abs(z[1:])
    gap = r[-1] - np.interp(th[-1] - 2 * math.pi, th, r)
    rule = math.pi * density * n * n / (2 * (density + 1) * S)          # π α n² / (2 (α + 1) N S), N = 1
    assert abs(gap - rule) / rule < 0.03, (gap, rule)
    # a larger density exponent: denser centre (more samples inside a tenth of the radius)
    inner = (np.abs(z) < n / 20).mean()
    uniform = (np.abs(_as_complex(golden_angle_spiral(1, 1, S, (n, n), density=1.0)[0]).numpy()) < n / 20).mean()
    assert inner >= uniform if density == 1.0 else inner > 2 * uniform


def test_spiral_default_image_shape_is_nyquist_for_the_frame():
    N, S = 8, 128
    t = golden_angle_spiral(1, N, S)
    n = int(math.floor(math.sqrt(2 * 3 * N * S / (math.pi * 2))))       # α = 2
    assert torch.equal(t, golden_angle_spiral(1, N, S, (n, n)))
    assert float(t.abs().max()) < n / 2


def test_spiral_rejects_bad_arguments():
    for args, kw in (((0, 1, 10), {}), ((1, 0, 10), {}), ((1, 1, 1), {}), ((1, 1, 10), {"density": 0.5}),
                     ((1, 1, 10), {"turns": 0.0})):
        with pytest.raises(ValueError):
            golden_angle_spiral(*args, image_shape=(16, 16), **kw)


def test_radial_spokes_span_the_extent_and_advance_by_the_golden_angle():
    T, P, n = 2, 3, 16
    t = golden_angle_radial(T, P, n, (n, n))
    assert t.shape == (T, P * n, 2) and float(t.abs().max()) <= n / 2
    sp = _as_complex(t.reshape(T * P, n, 2)).numpy()
    np.testing.assert_allclose(sp[1], sp[0] * np.exp(1j * GOLDEN_ANGLE), atol=1e-9)


# Measured (32 x 32, 16 interleaves of 76 / 91 samples: 1.5 x the Nyquist count of the rule; Gaussian blob of
# std 4 px): gridding with Pipe-Menon weights, least-squares scaled, relative error 0.051 (α = 1) / 0.049
# (α = 1.5); without weights 0.72 / 0.64.  Weights of the outer half over the inner tenth of the radius 3.98 / 3.90.
@pytest.mark.parametrize("density", [1.0, 1.5])
def test_pipe_menon_dcf_compensates_a_spiral(density):
    n, N = 32, 16
    S = int(math.ceil(1.5 * math.pi * density * n * n / (2 * (density + 1)) / N))
    traj = golden_angle_spiral(1, N, S, (n, n), density=density)[0]
    A = NUFFT(traj, (n, n))
    w = pipe_menon_dcf(A, 10)
    r = traj.norm(dim=-1)
    assert float(w[r > n / 4].mean()) > 2.5 * float(w[r < n / 20].mean())     # density falls off with |k|
    yy, xx = torch.meshgrid(torch.arange(n) - n // 2.0, torch.arange(n) - n // 2.0, indexing="ij")
    x = torch.exp(-(yy ** 2 + xx ** 2) / (2 * 4.0 ** 2)).to(torch.complex128)

    def err(g):
        c = torch.vdot(g.reshape(-1), x.reshape(-1)).real / torch.vdot(g.reshape(-1), g.reshape(-1)).real
        return float((c * g - x).norm() / x.norm())
    e_dcf, e_none = err(A.with_weights(w).H(A(x))), err(A.H(A(x)))
    assert e_dcf < 0.08 and e_none > 5 * e_dcf, (e_dcf, e_none)
