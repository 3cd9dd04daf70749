"""Sampling-mask generators: accelerations, autocalibration, per-frame variation, determinism."""
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.sim.masks import GOLDEN_ANGLE_DEG
from sensekit.sim import (PATTERNS, acceleration, equispaced_lines, golden_angle_spokes, sampling_mask,
                          variable_density_points)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("accel", [3.0, 6.0])
def test_acceleration_and_frames_differ(pattern, accel):
    m = sampling_mask(pattern, 6, (96, 80), accel, acs=8, generator=gen())
    assert m.shape == (6, 96, 80) and m.dtype == torch.bool
    for f in m:
        a = acceleration(f)
        if pattern == "radial":    # whole spokes: at most one spoke (≤ 2·max(Y, X) points) past the target
            assert accel * (1 - 2 * 96 * accel / (96 * 80)) <= a <= accel
        else:
            assert abs(a - accel) / accel < 0.01, (pattern, a)
    assert all(not torch.equal(m[t], m[t + 1]) for t in range(5))


@pytest.mark.parametrize("pattern", ["vd-lines", "equispaced"])
def test_line_patterns_keep_acs_and_full_readout(pattern):
    m = sampling_mask(pattern, 4, (64, 40), 4, acs=10, generator=gen())
    assert torch.all(m[:, 27:37, :])                             # 10 central lines, centre at 64 // 2
    assert torch.all(m.all(dim=-1) == m.any(dim=-1))            # whole readout lines


def test_points_keep_acs_block():
    m = variable_density_points(3, (48, 40), 5, acs=10, generator=gen())
    assert torch.all(m[:, 19:29, 15:25])
    assert not torch.all(m.all(dim=-1) == m.any(dim=-1))        # genuinely 2-D, not lines
    # density falls off with the distance from the centre
    r = torch.sqrt(((torch.arange(48) - 24.0) / 24)[:, None] ** 2 + ((torch.arange(40) - 20.0) / 20)[None] ** 2)
    inner, outer = m[:, (r > 0.3) & (r < 0.6)].float().mean(), m[:, r > 0.9].float().mean()
    assert inner > 2 * outer


def test_equispaced_lattice_is_exact_without_acs():
    m = equispaced_lines(4, 96, 4, acs=0)
    for t in range(4):
        idx = torch.nonzero(m[t]).flatten()
        assert torch.all(torch.diff(idx) == 4) and int(idx[0]) == t % 4    # shifted by one line per frame
    assert torch.equal(equispaced_lines(3, 96, 4, acs=0, interleave=False)[0],
                       equispaced_lines(3, 96, 4, acs=0, interleave=False)[2])


def test_golden_angle_spokes_rotate_and_cross_the_centre():
    m = golden_angle_spokes(5, (64, 64), 8)
    assert torch.all(m[:, 32, 32])
    # the centre is far denser than the edge (radial density ∝ 1/r)
    assert m[:, 28:37, 28:37].float().mean() > 3 * m[:, :8, :].float().mean()
    # frame t continues the golden sequence: no two frames share their spokes
    assert all(not torch.equal(m[0], m[t]) for t in range(1, 5))
    # pseudo-radial: every sampled point of frame 0 lies within a pixel of one of its first golden-angle spokes
    py, px = torch.nonzero(m[0], as_tuple=True)
    py, px = py.double() - 32, px.double() - 32
    th = torch.deg2rad(torch.arange(12, dtype=torch.float64) * GOLDEN_ANGLE_DEG)
    dist = (py[:, None] * torch.cos(th)[None] - px[:, None] * torch.sin(th)[None]).abs().min(dim=1).values
    assert float(dist.max()) < 0.75


@pytest.mark.parametrize("pattern", ["vd-lines", "vd-points"])
def test_random_patterns_are_deterministic_with_a_generator(pattern):
    a = sampling_mask(pattern, 3, (40, 32), 4, acs=6, generator=gen(5))
    b = sampling_mask(pattern, 3, (40, 32), 4, acs=6, generator=gen(5))
    c = sampling_mask(pattern, 3, (40, 32), 4, acs=6, generator=gen(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown sampling pattern"):
        sampling_mask("spiral", 1, (8, 8), 2)
    with pytest.raises(ValueError, match=">= 1"):
        golden_angle_spokes(1, (8, 8), 0.5)
    with pytest.raises(TypeError):
        equispaced_lines(1, 16, 2, generator=gen())             # deterministic: takes no generator


def test_simulate_pattern_option(tmp_path):
    out = tmp_path / "s.h5"
    r = CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(out), "--set", "pattern=radial",
                                  "--set", "size=32", "--set", "frames=3", "--set", "coils=2", "--set", "accel=4"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        m = f["mask"][()].astype(bool)
    assert m.shape == (3, 32, 32) and not np.array_equal(m[0], m[1])
    assert abs(m[0].size / m[0].sum() - 4) < 0.6
    r = CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(out), "--set", "pattern=spiral"])
    assert r.exit_code == 3 and "not one of" in r.output
