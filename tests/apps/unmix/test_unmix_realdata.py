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
#: the best multiple of Qian et al.'s l1/2 weight on Samson (grid in samson_scores)
L12_BEST = 3.0
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
    # l1/2-NMF at its best: multiples of Qian's data-driven weight measured on this scene (SAD°, RMSE):
    # x0.1 3.29/0.0433, x0.3 3.14/0.0412, x1 2.67/0.0349, x3 1.77/0.0277, x10 1.85/0.0547 -> x3
    res["l12nmf-best"] = _run(scene, "l12nmf", lam_l12=L12_BEST)[0]
    for m, s in res.items():
        print(f"samson {m:12s} SAD {s['sad_mean_deg']:.2f} deg  RMSE {s['rmse_abundance']:.4f} "
              f"(raw {s['rmse_abundance_raw']:.4f})")
    return res


def test_samson_every_method_is_scored(samson_scores):
    for m, s in samson_scores.items():
        assert np.isfinite(s["sad_mean_deg"]) and np.isfinite(s["rmse_abundance"]), m
        assert s["sad_mean_deg"] < 10.0 and s["rmse_abundance"] < 0.15, (m, s)


def test_samson_rrlbs_beats_vca_fcls_and_l12nmf_at_its_default(samson_scores):
    r = samson_scores["rrlbs"]
    for peer in ("vca-fcls", "nfindr-fcls", "nmf", "l12nmf"):
        p = samson_scores[peer]
        assert r["sad_mean_deg"] < p["sad_mean_deg"], (peer, r, p)
        assert r["rmse_abundance"] < p["rmse_abundance"], (peer, r, p)


def test_samson_rrlbs_beats_l12nmf_at_its_best(samson_scores):
    """Measured: rrlbs at its default (balance weight, band prior, l2,1 refit) 1.60 deg / RMSE 0.0228; l1/2-NMF at
    3x Qian's weight 1.77 / 0.0277 (before the balance rule, prior and refit rrlbs was 2.06 / 0.0313)."""
    r, p = samson_scores["rrlbs"], samson_scores["l12nmf-best"]
    assert r["sad_mean_deg"] < 1.7 and r["rmse_abundance"] < 0.025, r
    assert r["sad_mean_deg"] < p["sad_mean_deg"] and r["rmse_abundance"] < p["rmse_abundance"], (r, p)


#: the best mvnmf volume weight on Samson (grid, 60 it, delta_mv=0.1, SAD deg / RMSE): 0 4.71/0.1001,
#: 0.1 (default, the synthetic optimum) 4.62/0.0977, 1 3.95/0.0783, 3 3.06/0.0488, 10 2.25/0.0224,
#: 30 1.73/0.0205, 100 2.22/0.0415, 300 6.99/0.1954; at 30: delta 0.03 2.08/0.0350, 0.3 1.95/0.0294, 1 2.89/0.0681
MV_BEST = {"lam_mv": 30.0, "delta_mv": 0.1}


def test_samson_mvnmf_default_and_best():
    """Samson has pure pixels, so the volume prior of mvnmf only helps when strong: at the default weight it is
    behind VCA+FCLS, at its best (30x) it is the best method measured on Samson."""
    scene = data.samson()
    d = _run(scene, "mvnmf")[0]
    b = _run(scene, "mvnmf", **MV_BEST)[0]
    print(f"samson mvnmf default SAD {d['sad_mean_deg']:.2f} RMSE {d['rmse_abundance']:.4f}; best "
          f"SAD {b['sad_mean_deg']:.2f} RMSE {b['rmse_abundance']:.4f}")
    assert d["sad_mean_deg"] < 5.5 and d["rmse_abundance"] < 0.11, d
    assert b["sad_mean_deg"] < 1.9 and b["rmse_abundance"] < 0.023, b


def _good_band_scores(scene, out, good):
    E = torch.as_tensor(out.outputs["endmembers"]).double().T[good]
    A = torch.as_tensor(out.outputs["abundances"]).double().reshape(-1, scene["endmembers"].shape[0]).T
    Er = torch.from_numpy(scene["endmembers"]).T[good]
    Ar = torch.from_numpy(scene["abundances"].reshape(-1, scene["endmembers"].shape[0])).T
    return U.unmixing_scores(E, A, Er, Ar)


@pytest.fixture(scope="module")
def samson_gross_noise():
    """Samson with 10 % of the bands (16 of 156, seeded) replaced by uniform noise in [0, max].

    SAD is measured on the 140 intact bands (an estimate cannot know the reference at a destroyed band)."""
    scene = dict(data.samson())
    rng = np.random.default_rng(0)
    cube = scene["cube"].copy()
    B = cube.shape[2]
    bad = np.sort(rng.choice(B, int(round(0.1 * B)), replace=False))
    good = np.setdiff1d(np.arange(B), bad)
    cube[:, :, bad] = rng.uniform(0, cube.max(), cube.shape[:2] + (len(bad),))
    noisy = dict(scene, cube=cube)
    out = {"bad": bad}
    # the l2,1 fit (rrlbs with lam = 0: the robust representation alone) and the least-squares fit (nmf, from the
    # same noise-whitened start, max_iter=0 being its start) on the clean and the corrupted cube
    for name, sc in (("clean", scene), ("noisy", noisy)):
        for label, method, opts in (("l21", "rrlbs", {"lam": 0.0}), ("l21plain", "rrlbs", {"lam": 0.0,
                                                                                         "band_prior": False}),
                                    ("rrlbs", "rrlbs", {}), ("vca-fcls", "vca-fcls", {})):
            _, o = _run(sc, method, **opts)
            out[name, label] = _good_band_scores(scene, o, good)
            if (name, label) == ("noisy", "rrlbs"):
                out["weights"] = o.outputs["band_weights"]
        # least squares from the same start as rrlbs
        from sensekit.apps.unmix.app import pixel_scale
        from sensekit.apps.unmix.methods import robust_start
        X = torch.from_numpy(sc["cube"].reshape(-1, B).T.copy())
        Xn = X / pixel_scale(X)[1][None]
        E0, A0 = robust_start(Xn, 3, make_config(APP.Config, {}), torch.Generator().manual_seed(0))
        out[name, "start"] = U.unmixing_scores(E0[good], A0, torch.from_numpy(scene["endmembers"]).T[good],
                                               torch.from_numpy(scene["abundances"].reshape(-1, 3)).T)
        E, A, _ = U.nmf(Xn, E0, A0, max_iter=OPTS["max_iter"])
        out[name, "ls"] = U.unmixing_scores(E[good], U.project_simplex(A),
                                            torch.from_numpy(scene["endmembers"]).T[good],
                                            torch.from_numpy(scene["abundances"].reshape(-1, 3)).T)
    for k, v in out.items():
        if isinstance(k, tuple):
            print(f"samson {k[0]:5s} {k[1]:8s} SAD(good bands) {v['sad_mean_deg']:.2f}  RMSE {v['rmse_abundance']:.4f}")
    return out


def test_gross_noise_robust_start_survives_where_vca_fcls_breaks(samson_gross_noise):
    g = samson_gross_noise
    assert g["noisy", "vca-fcls"]["sad_mean_deg"] > 20 and g["noisy", "vca-fcls"]["rmse_abundance"] > 0.3
    assert g["noisy", "start"]["sad_mean_deg"] < 6.0 and g["noisy", "start"]["rmse_abundance"] < 0.07


def _degrade(g, label):
    return g["noisy", label]["rmse_abundance"] - g["clean", label]["rmse_abundance"]


def test_gross_noise_bands_l21_degrades_far_less_than_ls(samson_gross_noise):
    """The l2,1 fit with the band prior (rrlbs lam=0): measured RMSE change -0.004, least squares from the same
    start +0.069."""
    g = samson_gross_noise
    assert _degrade(g, "l21") < 0.5 * _degrade(g, "ls"), (_degrade(g, "l21"), _degrade(g, "ls"))


def test_gross_noise_bands_rrlbs_degrades_far_less_than_ls(samson_gross_noise):
    """rrlbs at its default: measured 0.0228 -> 0.0267 (+0.004) and SAD on the intact bands 1.60 -> 1.66 deg;
    least squares from the same start +0.069."""
    g = samson_gross_noise
    assert _degrade(g, "rrlbs") < 0.25 * _degrade(g, "ls"), (_degrade(g, "rrlbs"), _degrade(g, "ls"))
    assert g["noisy", "rrlbs"]["rmse_abundance"] < 0.03 and g["noisy", "rrlbs"]["sad_mean_deg"] < 2.0


@pytest.mark.xfail(strict=True, reason="measured: the plain l2,1 norm (band_prior=false, lam=0) loses +0.063 RMSE "
                                       "(0.090 -> 0.153) against least squares' +0.069: under l2,1 every band keeps "
                                       "unit pull, and the pixel normalisation makes the noise bands correlate with "
                                       "the dark (water) abundance, so their fitted endmember rows reach 14 (vs 2.7)")
def test_gross_noise_bands_plain_l21_degrades_far_less_than_ls(samson_gross_noise):
    g = samson_gross_noise
    assert _degrade(g, "l21plain") < 0.5 * _degrade(g, "ls"), (_degrade(g, "l21plain"), _degrade(g, "ls"))


def test_gross_noise_bands_get_small_weights(samson_gross_noise):
    w = samson_gross_noise["weights"].numpy()
    bad = samson_gross_noise["bad"]
    good = np.setdiff1d(np.arange(w.size), bad)
    assert w[bad].max() < np.median(w[good]) * 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_usgs_library_sparse_unmixing_recovers_the_support(seed):
    """A 20 x 20 scene mixed (Dirichlet(1)) from 4 members of the pruned USGS library, 60 dB: CLSUnSAL's support
    (members carrying on average at least 5 % of a pixel) is exactly the true set; measured gap: true members
    >= 0.14, false ones <= 0.015."""
    if not os.path.isfile(data.data_path("hsi/usgs_pruned_10deg.mat")):
        pytest.skip("USGS library absent")
    sim = make_config(APP.SimConfig, {"source": "usgs", "size": 20, "endmembers": 4, "snr_db": 60, "alpha": 1.0})
    arrays, attrs = APP.simulate(sim, torch.Generator().manual_seed(seed))
    inputs = APP.prepare(arrays, attrs, {})
    cfg = make_config(APP.Config, {"method": "sunsal", "collaborative": True})
    out = APP.run(inputs, cfg, generator=torch.Generator().manual_seed(0))
    la = out.outputs["library_abundances"].reshape(-1, arrays["library"].shape[0]).mean(0).numpy()
    found = sorted(np.nonzero(la > 0.05)[0].tolist())
    truth = sorted(attrs["endmembers_ref"]["library_rows"].tolist())
    assert found == truth, (found, truth, np.sort(la)[::-1][:8])
    assert sorted(out.outputs["selected"].tolist()) == truth
    s = APP.score({k: torch.as_tensor(v) for k, v in out.outputs.items()}, inputs)
    assert s["sad_mean_deg"] < 1e-6 and s["rmse_abundance"] < 0.02, s


def _count(rel):
    c = np.asarray(data.read_mat_scene(data.data_path(rel))["cube"], dtype=np.float64)
    return U.count_endmembers(torch.from_numpy(c.reshape(-1, c.shape[2]).T.copy()))


def test_count_endmembers_on_samson_is_3():
    """Measured: the paper's HySime (guard 0) bounds the signal subspace at 70, with guard 2 at 14; the noise-
    whitened spectrum's ratios are 3.4, 77.6, 2.3, 2.3, 2.7, 3.6, ... -> the last decade gap is after 2 -> P = 3."""
    for rel in ("hsi/samson_upc.mat", "hsi/samson_cube.mat", "hsi/samson_original.mat"):
        if not os.path.isfile(data.data_path(rel)):
            continue
        k, info = _count(rel)
        assert k == 3, (rel, k, info["ratios"][:8])
        assert info["hysime"] < 20


def test_count_endmembers_on_muufl_is_5_within_1():
    """Measured: 4 (ratios 2.2, 38.8, 10.9, 1.7, 2.1, ...: the third gap is only just a decade; the reference's
    5 classes are not all separated by a decade in this scene's spectrum)."""
    if not os.path.isfile(data.data_path("hsi/muufl_gulfport_90x90.mat")):
        pytest.skip("MUUFL absent")
    c = np.asarray(data.muufl()["cube"], dtype=np.float64)
    k, info = U.count_endmembers(torch.from_numpy(c.reshape(-1, c.shape[2]).T.copy()))
    assert k is not None and abs(k - 5) <= 1, (k, info["ratios"][:8])


def test_muufl_is_unmixed_and_reported():
    p = data.data_path("hsi/muufl_gulfport_90x90.mat")
    if not os.path.isfile(p):
        pytest.skip("MUUFL absent")
    scene = data.muufl()
    s, _ = _run(scene, "vca-fcls")
    print(f"muufl vca-fcls SAD {s['sad_mean_deg']:.2f} RMSE {s['rmse_abundance']:.4f}")
    assert np.isfinite(s["sad_mean_deg"]) and s["rmse_abundance"] < 0.5
