"""gain-calib through the CLI: simulate/run/info, contract outputs, metrics, bad inputs (exit 3), --plot."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main


def _sim(path, *sets, seed=1):
    args = ["simulate", "gain-calib", "-o", str(path), "--seed", str(seed)]
    for s in sets:
        args += ["--set", s]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _sim(tmp_path_factory.mktemp("gc") / "small.h5", "n=48", "m=12", "p=12")


def _run(inp, out, *args):
    return CliRunner().invoke(main, ["run", "gain-calib", "--input", str(inp), "-o", str(out), *args])


def test_listed_and_info():
    r = CliRunner().invoke(main, ["apps"])
    assert "gain-calib" in r.output
    r = CliRunner().invoke(main, ["info", "gain-calib"])
    assert r.exit_code == 0
    for word in ("pgd", "lsq", "spectral", "sensing", "measurements", "gain_basis", "signal_basis", "gains"):
        assert word in r.output


@pytest.mark.parametrize("method", ["pgd", "lsq", "spectral"])
def test_run_contract_output(small, tmp_path, method):
    out = tmp_path / "out.h5"
    r = _run(small, out, "--method", method)
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f, h5py.File(small) as src:
        d, x = f["gains"][()], f["signal"][()]
        assert d.shape == (12,) and x.shape == (48,)
        assert f["gains"].attrs["axes"] == "M" and f["signal"].attrs["axes"] == "S"
        assert abs(d.mean() - 1) < 1e-12
        assert f["metrics"].attrs["rel_err_gains"] < 1e-6 and f["metrics"].attrs["rel_err_signal"] < 1e-6
        assert f["provenance"].attrs["method"] == method
        # the estimate explains the data
        A, y = src["sensing"][()], src["measurements"][()]
        pred = d[None] * np.einsum("lmn,n->lm", A, x)
        assert np.linalg.norm(pred - y) / np.linalg.norm(y) < 1e-6


def test_default_run_without_input(tmp_path):
    r = CliRunner().invoke(main, ["run", "gain-calib", "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 0, r.output
    assert "rel_err_gains" in r.output


def test_subspace_file_pgd_and_lsq_refusal(tmp_path):
    inp = _sim(tmp_path / "sub.h5", "n=64", "m=16", "p=2", "signal_dim=8", "gain_dim=4")
    r = _run(inp, tmp_path / "o.h5")
    assert r.exit_code == 0, r.output
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["metrics"].attrs["rel_err_gains"] < 1e-6
    r = _run(inp, tmp_path / "o2.h5", "--method", "lsq")
    assert r.exit_code == 3 and "gain_basis" in r.output
    r = _run(inp, tmp_path / "o3.h5", "--method", "lsq", "--set", "ignore_gain_basis=true")
    assert r.exit_code == 0, r.output      # p·m = 32 ≥ k + m = 24: lsq with the signal basis alone recovers
    with h5py.File(tmp_path / "o3.h5") as f:
        assert f["metrics"].attrs["rel_err_gains"] < 1e-6


@pytest.mark.parametrize("method", ["pgd", "lsq", "spectral"])
def test_complex_gains_file(tmp_path, method):
    inp = _sim(tmp_path / "c.h5", "n=32", "m=8", "p=12", "complex_gains=true", "phase=0.4")
    with h5py.File(inp) as f:
        assert np.iscomplexobj(f["sensing"][()]) and np.iscomplexobj(f["gains_ref"][()])
    out = tmp_path / "o.h5"
    r = _run(inp, out, "--method", method, "--plot", str(tmp_path / "c.png"))
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        d = f["gains"][()]
        assert np.iscomplexobj(d) and abs(d.mean() - 1) < 1e-12
        assert f["metrics"].attrs["rel_err_gains"] < 1e-6 and f["metrics"].attrs["rel_err_signal"] < 1e-6
    g = _read(inp, "gains_ref").copy()
    g[0] = 0
    bad = _edit(inp, tmp_path / "zero_c.h5", gains_ref=g)
    r = _run(bad, tmp_path / "o2.h5")
    assert r.exit_code == 3 and "gains_ref" in r.output and "zero" in r.output


def _edit(src, dst, **arrays):
    with h5py.File(src) as f, h5py.File(dst, "w") as g:
        for k in f:
            if isinstance(f[k], h5py.Dataset) and k not in arrays:
                f.copy(k, g)
        for k, v in arrays.items():
            g[k] = v
    return dst


def _read(src, name):
    with h5py.File(src) as f:
        return f[name][()]


def _bad_cases(src, tmp):
    A, y, d = _read(src, "sensing"), _read(src, "measurements"), _read(src, "gains_ref")
    p, m, n = A.shape
    few = _edit(src, tmp / "few.h5", sensing=A[:3], measurements=y[:3])        # 3·12 = 36 < 48 + 12
    y0 = y.copy()
    y0[:, 4] = 0
    zero = _edit(src, tmp / "zero.h5", measurements=y0)
    dneg = d.copy()
    dneg[1] = -0.2
    neg = _edit(src, tmp / "neg.h5", gains_ref=dneg)
    Ar = A.copy()
    Ar[..., -1] = Ar[..., 0]                                                   # two signal entries sensed alike
    rank = _edit(src, tmp / "rank.h5", sensing=Ar)
    Az = A.copy()
    Az[..., 7] = 0
    col = _edit(src, tmp / "col.h5", sensing=Az)
    shape = _edit(src, tmp / "shape.h5", measurements=y[:, :-1])
    return {"few": (few, "fewer than"), "zero": (zero, "sensor 4"), "neg": (neg, "gains_ref"),
            "rank": (rank, "rank deficient"), "col": (col, "never sensed"), "shape": (shape, "measurements")}


@pytest.mark.parametrize("case", ["few", "zero", "neg", "rank", "col", "shape"])
def test_bad_inputs_exit_3(small, tmp_path, case):
    path, needle = _bad_cases(small, tmp_path)[case]
    out = tmp_path / "out.h5"
    r = _run(path, out)
    assert r.exit_code == 3, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and str(path.name) in lines[0], r.output
    assert not out.exists()


def test_plot(small, tmp_path):
    fig = tmp_path / "f.png"
    r = _run(small, tmp_path / "o.h5", "--plot", str(fig))
    assert r.exit_code == 0, r.output
    assert fig.stat().st_size > 5000
