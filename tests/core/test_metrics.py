"""Metrics agree with their definitions."""
import math

import numpy as np
import pytest
import torch

from sensekit import metrics


def test_psnr_definition():
    ref = np.zeros((8, 8))
    ref[0, 0] = 1.0
    x = ref + 0.1
    assert metrics.psnr(x, ref, data_range=1.0) == pytest.approx(20.0)
    assert metrics.psnr(ref, ref) == math.inf


def test_ssim_properties():
    rng = np.random.default_rng(0)
    a = rng.random((32, 40))
    assert metrics.ssim(a, a, data_range=1.0) == pytest.approx(1.0)
    b = a + 0.2 * rng.standard_normal(a.shape)
    s = metrics.ssim(b, a, data_range=1.0)
    assert 0 < s < 1
    assert metrics.ssim(b, a, data_range=1.0) == pytest.approx(metrics.ssim(a, b, data_range=1.0))
    # batched = mean of single images
    stack = np.stack([a, b])
    assert metrics.ssim(stack, np.stack([a, a]), data_range=1.0) == pytest.approx((1.0 + s) / 2)
    with pytest.raises(ValueError):
        metrics.ssim(np.ones((5, 5)), np.ones((5, 5)))


def test_ssim_matches_hand_computation_on_constant_images():
    # constant images: SSIM = (2 μx μy + c1) / (μx² + μy² + c1)
    a = np.full((16, 16), 0.5)
    b = np.full((16, 16), 0.25)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5 ** 2 + 0.25 ** 2 + c1)
    assert metrics.ssim(b, a, data_range=1.0) == pytest.approx(expected)


def test_image_series_scores_use_reference_range_and_magnitudes():
    ref = torch.zeros(2, 16, 16)
    ref[:, 4:12, 4:12] = 2.0
    rec = ref * torch.exp(1j * torch.tensor(0.7))  # same magnitude, different phase
    s = metrics.image_series_scores(rec, ref)
    assert s["psnr"] == math.inf and s["ssim"] == pytest.approx(1.0) and s["nrmse"] == pytest.approx(0.0)
    noisy = ref + 0.02
    s = metrics.image_series_scores(noisy, ref)
    assert s["psnr"] == pytest.approx(10 * math.log10(4.0 / 0.02 ** 2))
    assert metrics.nrmse(noisy, ref) == pytest.approx(float((noisy - ref).norm() / ref.norm()))
    with pytest.raises(TypeError):
        metrics.psnr(rec, ref)
