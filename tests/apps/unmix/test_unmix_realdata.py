"""Real-data acceptance of unmix on $SENSEKIT_DATA/hsi (Samson, MUUFL, USGS library); one thread.

Every number asserted here was measured with these exact settings (HANDOFF.md lists them); thresholds leave a
margin for BLAS differences only. Samson's reference endmembers are peak-normalised, so abundances are scored
in the reference's endmember scale (``rmse_abundance``, see ``unmixing_scores``).
"""
import os

import numpy as np
import pytest
import torch

from sensekit.apps.unmix import data
from sensekit.apps.unmix.app import Unmix
from sensekit.app.base import make_config
from sensekit.solvers import unmixing as U

torch.set_num_threads(1)

SAMSON = data.data_path("hsi/samson_upc.mat")
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not os.path.isfile(SAMSON), reason=f"{SAMSON} not found (set SENSEKIT_DATA)")]

#: the options of every Samson run (one seed; the benchmark reports the spread over seeds)
OPTS = {"max_iter": 60}
APP = Unmix()


def _run(scene, method, seed=0, **opts):
    arrays = {"cube": scene["cube"], "endmembers_ref": scene["endmembers"], "abundances_ref": scene["abundances"]}
    inputs = APP.prepare(arrays, {"cube": {"n_endmembers": scene["endmembers"].shape[0]}}, {})
    cfg = make_config(APP.Config, {"method": method, **OPTS, **opts})
    out = APP.run(inputs, cfg, generator=torch.Generator().manual_seed(seed))
    return APP.score({k: torch.as_tensor(v) for k, v in out.outputs.items()}, inputs), out


@pytest.fixture(scope="module")
def samson_scores():
    scene = data.samson()
    res = {m: _run(scene, m)[0] for m in ("rrlbs", "vca-fcls", "nfindr-fcls", "nmf", "l12nmf")}
    for m, s in res.items():
        print(f"samson {m:12s} SAD {s['sad_mean_deg']:.2f} deg  RMSE {s['rmse_abundance']:.4f} "
              f"(raw {s['rmse_abundance_raw']:.4f})")
    return res


def test_samson_every_method_is_scored(samson_scores):
    for m, s in samson_scores.items():
        assert np.isfinite(s["sad_mean_deg"]) and np.isfinite(s["rmse_abundance"]), m
        assert s["sad_mean_deg"] < 10.0 and s["rmse_abundance"] < 0.15, (m, s)


def test_samson_rrlbs_beats_vca_fcls_and_l12nmf(samson_scores):
    r = samson_scores["rrlbs"]
    for peer in ("vca-fcls", "l12nmf"):
        p = samson_scores[peer]
        assert r["sad_mean_deg"] < p["sad_mean_deg"], (peer, r, p)
        assert r["rmse_abundance"] < p["rmse_abundance"], (peer, r, p)


@pytest.fixture(scope="module")
def samson_gross_noise():
    """Samson with 10 % of the bands (16 of 156, seeded) replaced by uniform noise in [0, max]."""
    scene = dict(data.samson())
    rng = np.random.default_rng(0)
    cube = scene["cube"].copy()
    B = cube.shape[2]
    bad = np.sort(rng.choice(B, int(round(0.1 * B)), replace=False))
    cube[:, :, bad] = rng.uniform(0, cube.max(), cube.shape[:2] + (len(bad),))
    scene["cube"] = cube
    out = {}
    # the l2,1 fit (rrlbs with lam = 0: no sparsity, only the robust representation) and the least-squares fit
    # (nmf) start from the same robustly extracted endmembers; rrlbs at its default too
    out["l21"], o = _run(scene, "rrlbs", lam=0.0)
    out["rrlbs"], o2 = _run(scene, "rrlbs")
    out["ls"], _ = _run(scene, "nmf", init="vca")
    out["vca-fcls"], _ = _run(scene, "vca-fcls")
    out["bad"] = bad
    out["weights"] = o2.outputs["band_weights"]
    for k in ("l21", "rrlbs", "ls", "vca-fcls"):
        print(f"samson+gross {k:8s} SAD {out[k]['sad_mean_deg']:.2f}  RMSE {out[k]['rmse_abundance']:.4f}")
    return out


def test_gross_noise_bands_l21_degrades_far_less_than_ls(samson_scores, samson_gross_noise):
    g = samson_gross_noise
    clean = samson_scores["rrlbs"]["rmse_abundance"]
    d_l21 = g["l21"]["rmse_abundance"] - clean
    d_ls = g["ls"]["rmse_abundance"] - samson_scores["nmf"]["rmse_abundance"]
    assert d_ls > 0.1, g["ls"]
    assert d_l21 < 0.25 * d_ls, (d_l21, d_ls)
    assert g["rrlbs"]["rmse_abundance"] < 0.1


def test_gross_noise_bands_get_small_weights(samson_gross_noise):
    w = samson_gross_noise["weights"].numpy()
    bad = samson_gross_noise["bad"]
    good = np.setdiff1d(np.arange(w.size), bad)
    assert w[bad].max() < np.median(w[good]) * 0.5


def test_usgs_library_sparse_unmixing_recovers_the_support():
    if not os.path.isfile(data.data_path("hsi/usgs_pruned_10deg.mat")):
        pytest.skip("USGS library absent")
    sim = make_config(APP.SimConfig, {"source": "usgs", "size": 20, "endmembers": 4, "snr_db": 60, "alpha": 1.0})
    arrays, attrs = APP.simulate(sim, torch.Generator().manual_seed(0))
    inputs = APP.prepare(arrays, attrs, {})
    cfg = make_config(APP.Config, {"method": "sunsal", "collaborative": True})
    out = APP.run(inputs, cfg, generator=torch.Generator().manual_seed(0))
    la = out.outputs["library_abundances"].reshape(-1, arrays["library"].shape[0]).mean(0).numpy()
    found = sorted(np.nonzero(la > 0.01)[0].tolist())
    truth = sorted(attrs["endmembers_ref"]["library_rows"].tolist())
    assert found == truth, (found, truth, np.sort(la)[::-1][:8])
    s = APP.score({k: torch.as_tensor(v) for k, v in out.outputs.items()}, inputs)
    assert s["sad_mean_deg"] < 1e-6 and s["rmse_abundance"] < 0.02, s


def test_muufl_is_unmixed_and_reported():
    p = data.data_path("hsi/muufl_gulfport_90x90.mat")
    if not os.path.isfile(p):
        pytest.skip("MUUFL absent")
    scene = data.muufl()
    s, _ = _run(scene, "vca-fcls")
    print(f"muufl vca-fcls SAD {s['sad_mean_deg']:.2f} RMSE {s['rmse_abundance']:.4f}")
    assert np.isfinite(s["sad_mean_deg"]) and s["rmse_abundance"] < 0.5
