"""rpca-video methods on synthetic video with known masks, tampering robustness, mask rule, streaming."""
import pytest
import torch

from sensekit.apps.rpca_video import methods as Me, options as O, stream as St
from sensekit.apps.rpca_video.masks import foreground_mask
from sensekit.io.errors import InputError
from sensekit.metrics import add_counts, f_measure, pr_counts
from sensekit.sim import video_sequence

ALL = {**Me.METHODS, **St.METHODS}


@pytest.fixture(scope="module")
def synth():
    return video_sequence(80, (40, 56), generator=torch.Generator().manual_seed(3), objects=3, noise=0.02,
                          drift=0.1, sizes=(0.08, 0.2), speeds=(0.8, 2.0))


@pytest.fixture(scope="module")
def synth_scores(synth):
    X, gt = synth
    out = {}
    for name, (fn, Opt, _) in ALL.items():
        res, it, info = fn({"frames": X}, Opt(), generator=torch.Generator().manual_seed(0))
        assert res["background"].shape == X.shape and res["foreground"].shape == X.shape
        assert res["mask"].shape == gt.shape and res["mask"].dtype == torch.bool
        out[name] = f_measure(add_counts(*[pr_counts(m, g) for m, g in zip(res["mask"], gt)]))
    return out


# F-measure on the synthetic clip (80 frames 40x56, 3 objects, noise 0.02, drift 0.1), pooled over frames.
# measured F: rsvddpd 0.997 (0.978 with the authors' fixed sigma), pcp 0.882, godec 0.990, median 0.996,
# svd 0.943, rsvddpd-stream 0.962 (0.905 fixed sigma), median-stream 0.813 (causal 50-frame window: slow
# objects leak into it); thresholds a little below
MIN_F = {"rsvddpd": 0.98, "pcp": 0.85, "godec": 0.95, "median": 0.97, "svd": 0.9, "rsvddpd-stream": 0.93,
         "median-stream": 0.78}


@pytest.mark.parametrize("name", list(ALL))
def test_synthetic_f_measure(synth_scores, name):
    s = synth_scores[name]
    print(name, s)
    assert s["f_measure"] > MIN_F[name], s


def test_pooled_counts_equal_whole_clip(synth):
    X, gt = synth
    res, _, _ = Me.median({"frames": X}, O.MedianOptions())
    pooled = add_counts(*[pr_counts(m, g) for m, g in zip(res["mask"], gt)])
    assert pooled == pr_counts(res["mask"], gt)
    ign = gt.clone()
    ign[:, :5] = 85
    c = pr_counts(res["mask"], ign)
    assert c["tp"] + c["fp"] + c["fn"] + c["tn"] == int(((ign == 0) | (ign == 255)).sum())


def test_colour_gives_one_mask_and_per_channel_background():
    X, gt = video_sequence(40, (32, 40), generator=torch.Generator().manual_seed(1), colour=True)
    res, _, info = Me.rsvddpd({"frames": X}, O.RSVDDPDOptions())
    assert res["background"].shape == X.shape and res["mask"].shape == gt.shape
    assert len(info["sigma"]) == 3 and len(info["singular_values"]) == 3
    assert f_measure(res["mask"], gt)["f_measure"] > 0.6     # measured 0.661 (small colour clip)


def _tampered(X, frac=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = X.shape[0]
    idx = torch.randperm(T, generator=g)[:max(1, int(round(frac * T)))]
    Y = X.clone()
    for k, t in enumerate(idx.tolist()):
        Y[t] = torch.rand(X.shape[1:], generator=g) if k % 2 == 0 else 0.0
    clean = torch.ones(T, dtype=torch.bool)
    clean[idx] = False
    return Y, clean


@pytest.fixture(scope="module")
def tamper_errors(synth):
    """5 % of the frames replaced by noise / black: background of the clean frames vs the untampered run."""
    X, _ = synth
    Y, clean = _tampered(X)
    errs = {}
    runs = {"rsvddpd": ("rsvddpd", {}), "rsvddpd-fixed-sigma": ("rsvddpd", {"sigma": "fixed"}),
            "svd": ("svd", {}), "median": ("median", {})}
    for key, (name, kw) in runs.items():
        fn, Opt, _ = Me.METHODS[name]
        ref = fn({"frames": X}, Opt(**kw))[0]["background"][clean]
        got = fn({"frames": Y}, Opt(**kw))[0]["background"][clean]
        errs[key] = float(torch.linalg.norm(got - ref) / torch.linalg.norm(ref))
    print("tampering rel. error of the clean frames' background", errs)
    return errs


def test_tampering_rsvddpd_less_damaged_than_svd(tamper_errors):
    # measured: rsvddpd 0.00126 (sigma estimated), with the authors' fixed sigma 0.0125, svd 0.0168,
    # median 0.0032 (relative L2 error of the clean frames' background)
    assert tamper_errors["rsvddpd"] < 0.003
    assert tamper_errors["rsvddpd-fixed-sigma"] < 0.85 * tamper_errors["svd"]
    assert tamper_errors["median"] < 0.005


def test_tampering_rsvddpd_three_times_less_damaged(tamper_errors):
    # measured 13x (0.00126 vs 0.0168); the authors' fixed sigma = 1 in IQR units gives only 1.3x: the weights
    # exp(-a r^2/2) barely down-weight a uniform-noise frame whose residuals are about one IQR
    assert tamper_errors["svd"] > 3 * tamper_errors["rsvddpd"]
    assert tamper_errors["svd"] < 1.5 * tamper_errors["rsvddpd-fixed-sigma"]


def test_threshold_rule_and_morphology():
    g = torch.Generator().manual_seed(0)
    R = 0.01 * torch.randn(10, 30, 30, generator=g)
    R[:, 10:16, 10:16] += 0.5
    m, info = foreground_mask(R, threshold=3.0, morph="open")
    assert abs(info["sigma"][0] - 0.01) < 0.002
    assert m[:, 10:16, 10:16].all() and int(m.sum()) == 10 * 36
    raw, _ = foreground_mask(R, threshold=3.0, morph="none")
    assert int(raw.sum()) > int(m.sum())          # isolated noise pixels removed by the opening


def test_stream_memory_state_is_bounded_and_matches_blocks():
    X, _ = video_sequence(60, (24, 32), generator=torch.Generator().manual_seed(5))
    s = St.DPDStream(O.StreamDPDOptions(block=20))
    outs = list(St.run_stream(s, (X[i:i + 20] for i in range(0, 60, 20))))
    assert len(outs) == 3 and all(o["mask"].shape == (20, 24, 32) for o in outs)
    st = s.start(X[:20])
    st, _ = s.step(st, X[:20])
    assert st.dpd.c.shape == (1, 24 * 32) and st.frames == 20   # state: a few images, not the frames


def test_bad_input():
    with pytest.raises(InputError, match="expected shape"):
        Me.median({"frames": torch.zeros(4, 5)}, O.MedianOptions())
    bad = torch.zeros(4, 5, 5)
    bad[1, 2, 2] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        Me.rsvddpd({"frames": bad}, O.RSVDDPDOptions())
    with pytest.raises(InputError, match="at least 2 frames"):
        Me.pcp({"frames": torch.zeros(1, 5, 5)}, O.PCPOptions())
