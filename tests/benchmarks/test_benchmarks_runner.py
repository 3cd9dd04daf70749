"""`python -m benchmarks`: discovery, results.json, the markdown table with peer ratios and GPU speed-ups."""
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _runner  # noqa: E402

FAKE = '''
def run(quick=False):
    n = "small" if quick else "large"
    return [
        {"benchmark": "fake", "case": n, "method": "ours", "peer": False, "time_s": 0.5, "psnr": 30.0},
        {"benchmark": "fake", "case": n, "method": "otherlib", "peer": True, "time_s": 1.0, "psnr": 29.0},
        {"benchmark": "fake", "case": n, "method": "slowlib", "peer": True, "time_s": 3.0},
        {"benchmark": "fake", "case": n, "method": "missinglib", "peer": True, "skipped": "not installed"},
        {"benchmark": "fake", "case": "dev", "method": "ours", "peer": False, "device": "cpu", "time_s": 2.0},
        {"benchmark": "fake", "case": "dev", "method": "ours", "peer": False, "device": "cuda", "time_s": 0.25},
    ]
'''


@pytest.fixture
def fake_dir(tmp_path):
    d = tmp_path / "mods"
    d.mkdir()
    (d / "fake.py").write_text(FAKE)
    (d / "broken.py").write_text("def run(quick=False):\n    raise RuntimeError('peer crashed')\n")
    (d / "_helper.py").write_text("def run(quick=False):\n    raise AssertionError('never run')\n")
    (d / "no_run.py").write_text("x = 1\n")
    return d


def test_runner_writes_json_and_markdown(fake_dir, tmp_path):
    out = tmp_path / "out"
    code = _runner.main(["--dir", str(fake_dir), "--out", str(out), "--quick"])
    assert code == 1   # broken.py failed: reported, the others still written
    res = json.loads((out / "results.json").read_text())
    assert res["quick"] is True and res["benchmarks"] == ["broken", "fake"]
    assert {"machine", "versions", "date", "rows", "errors"} <= set(res)
    assert res["versions"]["sensekit"] and res["machine"]["cpu_count"]
    assert [r["case"] for r in res["rows"]][:4] == ["small"] * 4
    assert res["errors"][0]["benchmark"] == "broken" and "peer crashed" in res["errors"][0]["error"]
    md = (out / "results.md").read_text()
    assert "| small | ours |  |  | 0.5 | 30 | 2.00× vs otherlib |" in md       # fastest peer / ours
    assert "skipped: not installed" in md
    assert "| fake | dev | ours | 2 | 0.25 | 8.0× |" in md                    # GPU vs CPU
    assert "**broken failed**: RuntimeError: peer crashed" in md


def test_only_and_unknown_names(fake_dir, tmp_path):
    out = tmp_path / "o"
    assert _runner.main(["--dir", str(fake_dir), "--out", str(out), "--only", "fake"]) == 0
    assert json.loads((out / "results.json").read_text())["rows"][0]["case"] == "large"
    with pytest.raises(SystemExit) as e:
        _runner.main(["--dir", str(fake_dir), "--out", str(out), "--only", "nope"])
    assert e.value.code == 2


def test_bad_rows_are_errors(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "bad.py").write_text("def run(quick=False):\n    return [{'case': 'x', 'method': 'y', 'peer': False}]\n")
    assert _runner.main(["--dir", str(d), "--out", str(tmp_path / "o")]) == 1
    assert "numeric time_s" in json.loads((tmp_path / "o" / "results.json").read_text())["errors"][0]["error"]


def test_real_modules_are_discovered_and_linop_agrees_with_numpy(tmp_path):
    mods = _runner.discover()
    assert {"linop", "devices"} <= set(mods)
    assert _runner.main(["--quick", "--only", "linop", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    ours = [r for r in rows if not r["peer"]]
    assert len(ours) == 2 and all(r["rel_err"] < 1e-5 for r in ours)   # float32 FFTs agree to rounding


def test_mri_benchmark_reports_a_missing_deepinv_as_a_skipped_row(monkeypatch):
    """Without DeepInverse (not a dependency, absent in CI) the mri-recon benchmark writes one 'skipped' row
    naming the import error instead of failing or silently dropping the peer."""
    from benchmarks import mri_recon
    for name in ("deepinv", "deepinv.optim", "deepinv.physics"):
        monkeypatch.setitem(sys.modules, name, None)          # makes `import deepinv...` raise ImportError
    rows = mri_recon._deepinv_rows("rat", None, None, [("FISTA 3-D TV l=0.003", "tv", 0.003)])
    assert len(rows) == 1 and rows[0]["peer"] and rows[0]["method"] == "deepinv"
    assert rows[0]["skipped"].startswith("deepinv not importable here") and "psnr" not in rows[0]


def _grid_rows(method, points):
    return [{"method": method, "value": v, **({"value2": w} if w is not None else {}), "psnr": p}
            for v, w, p in points]


def test_best_grid_point_flags_edges_of_one_and_two_axis_grids():
    """A peer's best that sits on the end of its grid is flagged (the grid must then be extended); on a
    2-D grid either axis counts; a weight of 0 at the low end is the end of the range, not an edge."""
    from benchmarks.mri_recon import _best
    inner = _grid_rows("a", [(0.1, None, 30.0), (0.3, None, 31.0), (1.0, None, 29.0)])
    low = _grid_rows("b", [(0.1, None, 32.0), (0.3, None, 31.0), (1.0, None, 29.0)])
    zero = _grid_rows("c", [(0.0, None, 32.0), (0.3, None, 31.0), (1.0, None, 29.0)])
    two = _grid_rows("d", [(a, b, 30.0 + (a == 0.3) + (b == 3.0)) for a in (0.1, 0.3, 1.0) for b in (1.0, 2.0, 3.0)])
    best = {b["method"]: b for b in _best(inner + low + zero + two)}
    assert not best["a"]["best_on_edge"] and best["a"]["value"] == 0.3
    assert best["b"]["best_on_edge"]
    assert not best["c"]["best_on_edge"]
    assert best["d"]["best_on_edge"] and (best["d"]["value"], best["d"]["value2"]) == (0.3, 3.0)
    assert best["d"]["grid"] == "3 x 3 values 0.1..1 x 1..3"


def _v2_row(method, value, psnr, peer, **kw):
    return {"case": "c", "accel": 8.0, "maps": "known", "shape_tcyx": [8, 4, 16, 16], "method": method,
            "peer": peer, "setting": f"v={value}", "value": value, "iterations": 100, "time_s": 1.0, "cpu_s": 1.0,
            "time_per_iter_s": 0.01, "psnr": psnr, "ssim": 0.9, **kw}


def test_v2_floor_ratios_and_same_run_speed_table(tmp_path, monkeypatch):
    """Each timed row's floor is the FFT pair plus the SVD of its block size (LLR methods only), and a case's
    ``--speed`` record becomes the same-run speed table and column."""
    import benchmarks.mri_recon_v2 as v2
    floor = {"fft2x_s": 0.002, "svd_b8_s": 0.003, "svd_b16_s": 0.001}
    rows = v2.with_floor([_v2_row("sensekit tv", 1.0, 30.0, False), _v2_row("bart pics LLR B=16", 0.01, 31.0, True),
                          _v2_row("sensekit default (auto)", 1.0, 32.0, False, setting="llr-tv, its defaults")],
                         floor)
    assert [r["floor_s"] for r in rows] == [0.002, 0.003, 0.005]
    assert [r["iter_over_floor"] for r in rows] == [5.0, 3.3, 2.0]
    speed = {"rounds": 3, "default_method": "llr-tv", "default_iterations": 100, "default_psnr": 32.0,
             "bart": "bart pics LLR B=16, v=0.01", "bart_psnr": 31.0, "bart_iterations": 50, "runs": {},
             "default_cpu_s": 1.25, "default_wall_s": 1.3, "bart_cpu_s": 2.5, "bart_wall_s": 2.6}
    monkeypatch.setattr(v2, "OUT", tmp_path)
    monkeypatch.setattr(v2, "CASES", {"c": ("rat", "radial", 8.0, "known")})
    v2.write_md({"cases": [{"case": "c", "accel": 8.0, "maps": "known", "floor": floor, "rows": rows,
                            "speed": speed}]})
    md = (tmp_path / "results_v2.md").read_text()
    assert "## Speed in one run" in md
    assert ("| c | llr-tv (100) | 32.0 | 1.25 | 1.30 | bart pics LLR B=16, v=0.01 (50) | 31.0 | 2.50 | 2.60 | "
            "2.00 |") in md
    assert "| 1.25, 2.50 |" in md      # the default-vs-BART table's same-run column
