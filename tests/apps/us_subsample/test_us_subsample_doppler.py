"""Slow-time (Doppler) sub-sampling of the real rotating-disk ensemble (32 plane-wave frames): keep 8 frames,
power Doppler (degree-1 polynomial clutter filter, 40 dB) against the full-ensemble power Doppler.

The DPS slow-time mask is learned with the project's loop (``train_dps``, 300 steps, seed 0) on the left half
of the image (x < 0) and scored on the right half (held-out pixels; the disk turns, so the two halves have
opposite flow).  Peers: the uniform mask (every 4th frame), random masks (mean of 10 draws) and the best of
50 random masks chosen on the training half.  Measured (this machine, CPU): dps 29.18 dB, uniform 26.26,
random mean 26.55, best-of-50 random 29.46 (seeds 100–149; 28.61 with seeds 0–49) — PSNR of the PD dB image,
data range 40 dB.  The learned mask beats uniform and an average random draw, not a random search.
"""
import pytest
import torch

from conftest import require_data

RF = "us/rotating_disk_planewave_rf.mat"
DR, ORDER, M = 40.0, 1, 8


def test_masked_power_doppler_all_frames_equals_library_power_doppler():
    from sensekit.apps.us_subsample.doppler import masked_power_doppler
    from sensekit.linop.ultrasound import power_doppler
    g = torch.Generator().manual_seed(0)
    ens = torch.complex(torch.randn(12, 5, 6, generator=g), torch.randn(12, 5, 6, generator=g))
    ens = ens + 5 * torch.linspace(0, 1, 12)[:, None, None]                     # a slow trend (clutter)
    for order in (0, 1, 2):
        got = masked_power_doppler(ens.reshape(12, -1), torch.ones(12), order=order, dynamic_range=DR)[0]
        ref = power_doppler(ens, method="highpass", n_clutter=order + 1, dynamic_range=DR).reshape(-1)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3)
    # a mask keeping frames equals the filter fitted to those frames only
    keep = torch.tensor([0, 3, 4, 8, 11])
    m = torch.zeros(12)
    m[keep] = 1
    p = masked_power_doppler(ens.reshape(12, -1), m, order=1, db=False)[0]
    t = torch.linspace(-1, 1, 12)[keep]
    B = torch.stack([torch.ones_like(t), t], 1).to(ens.dtype)
    x = ens.reshape(12, -1)[keep]
    r = x - B @ torch.linalg.lstsq(B, x).solution
    torch.testing.assert_close(p, (r.abs() ** 2).mean(0), rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def slow_time_scores():
    from sensekit.apps.us_subsample.doppler import masked_power_doppler, train_slowtime_mask
    from sensekit.apps.us_subsample.methods import Imager, random_mask, uniform_mask
    from sensekit.apps.us_subsample.readers import read_mat
    from sensekit.metrics import psnr
    rf, attrs = read_mat(str(require_data(RF)))
    rf = torch.from_numpy(rf)
    T, E, S = rf.shape
    im = Imager.from_attrs(attrs, E, S, x_range=(-1.25e-2, 1.25e-2), z_range=(1e-2, 3.5e-2), dx=2e-4, dz=1e-4,
                           fnumber=1.0)
    img = im.iq_image(rf)
    X = img.shape[-1]
    tr, te = img[:, :, :X // 2].reshape(T, -1), img[:, :, X // 2:].reshape(T, -1)

    def score(ens, mask):
        full = masked_power_doppler(ens, torch.ones(T), order=ORDER, dynamic_range=DR)[0]
        pd = masked_power_doppler(ens, mask.float(), order=ORDER, dynamic_range=DR)[0]
        return float(psnr(pd.double(), full.double(), data_range=DR))

    model, _ = train_slowtime_mask(tr, M, order=ORDER, dynamic_range=DR, seed=0)
    mask = model.mask()
    assert int(mask.sum()) == M
    rnd = [score(te, random_mask(T, M, torch.Generator().manual_seed(s))) for s in range(10)]
    cands = [random_mask(T, M, torch.Generator().manual_seed(100 + s)) for s in range(50)]
    out = {"dps": score(te, mask), "uniform": score(te, uniform_mask(T, M)), "random_mean": sum(rnd) / len(rnd),
           "random_best_of_50": score(te, max(cands, key=lambda c: score(tr, c)))}
    print(out)
    return out


@pytest.mark.realdata
def test_learned_slow_time_mask_beats_uniform_and_random_on_held_out_pixels(slow_time_scores):
    s = slow_time_scores
    assert s["dps"] > s["uniform"] + 1.0, s          # measured 29.18 vs 26.26
    assert s["dps"] > s["random_mean"] + 1.0, s      # measured 29.18 vs 26.55


@pytest.mark.realdata
@pytest.mark.xfail(strict=True, reason="measured: dps 29.18 dB < 29.46 dB for the best of 50 random masks chosen "
                                       "on the training half (seeds 100-149; seeds 0-49 gave 28.61)")
def test_learned_slow_time_mask_beats_random_search_selected_on_training_pixels(slow_time_scores):
    s = slow_time_scores
    assert s["dps"] > s["random_best_of_50"], s
