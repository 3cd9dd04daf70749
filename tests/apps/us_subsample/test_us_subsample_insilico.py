"""The DPS paper's in-silico experiment: partial Fourier measurements of sparse pulse trains.

At the same rate (32 of 128 DFT coefficients) the DPS-learned mask with its recovery network must beat
the same network trained on a fixed random mask and on a low-pass mask (NMSE on a fixed test set).
"""
import torch

from sensekit.apps.us_subsample.insilico import run_experiment


def test_dps_mask_beats_random_and_lowpass_on_nmse():
    torch.set_num_threads(1)
    r = run_experiment(N=128, m=32, k=6, steps=150, batch=32, seed=0, n_test=128)
    learned = r["dps+net"]
    # measured (seed 0, 300 steps): dps+net 0.0012, random+net 0.034, lowpass+net 0.66
    assert learned < 0.5 * r["random+net"], r
    assert learned < 0.5 * r["lowpass+net"], r
    # FISTA with the exact pulse basis is reported, not asserted: 6-sparse in a known basis from 32 random
    # Fourier samples is a textbook compressed-sensing case (measured 150 steps: random+fista 6.0e-4 beats
    # dps+net 2.6e-3; see HANDOFF.md).  The mask comparison under the same recovery is the DPS claim.
    print({k: v for k, v in r.items() if k != "masks"})
    # the same comparison of masks under FISTA (λ tuned per mask over 1e-4 … 0.1)
    assert r["dps+fista"] < r["random+fista"] < r["lowpass+fista"], r
    for name in ("dps", "random"):
        assert r[f"{name}+fista_lam"] not in (1e-4, 0.1), r     # the best λ is inside the grid
    # the learned pattern sits on the signal band (|f| around 0.2 cycles/sample), not at DC
    f = torch.fft.fftfreq(128).abs()[r["masks"]["dps"]]
    assert float(((f > 0.1) & (f < 0.3)).float().mean()) > 0.8
