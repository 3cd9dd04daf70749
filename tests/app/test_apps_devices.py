"""Every app end to end through the CLI on every device (CUDA skipped without a GPU).

Apps join by declaring ``quick_sim`` / ``quick_options``: the test simulates the small input, runs it on the
device, checks the declared outputs and the provenance, and on CUDA compares with the CPU result.
"""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.registry import app_names, get_app
from sensekit.cli import main

from toyapp import TEST_APPS, register_toys

register_toys()   # the test-only apps join every per-app test (never `sensekit apps`)


def _sets(d):
    return sum((["--set", f"{k}={v}"] for k, v in d.items()), [])


@pytest.fixture(scope="module")
def quick_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quick")
    out = {}
    for name in app_names() + TEST_APPS:
        p = folder / f"{name}.h5"
        r = CliRunner().invoke(main, ["simulate", name, "-o", str(p), "--seed", "5", *_sets(get_app(name).quick_sim)])
        assert r.exit_code == 0, r.output
        out[name] = p
    return out


def _run(name, src, out, device):
    app = get_app(name)
    return CliRunner().invoke(main, ["run", name, "--input", str(src), "-o", str(out), "--device", device,
                                     "--seed", "1", *_sets(app.quick_options)])


def _read(path):
    with h5py.File(path) as f:
        data = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
        prov = dict(f["provenance"].attrs)
        metrics = dict(f["metrics"].attrs) if "metrics" in f else {}
    return data, prov, metrics


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("name", app_names() + TEST_APPS)
def test_app_end_to_end_on_device(name, device, quick_inputs, tmp_path):
    app = get_app(name)
    out = tmp_path / f"{device}.h5"
    r = _run(name, quick_inputs[name], out, device)
    assert r.exit_code == 0, r.output
    data, prov, metrics = _read(out)
    for spec in app.outputs:
        if spec.required:
            assert spec.name in data, spec.name
    assert str(prov["device"]).startswith(device)
    assert metrics and all(np.isfinite(v) for v in metrics.values())   # the simulation carries references
    if device == "cuda":   # the same arithmetic on the GPU: equal to the CPU result up to float32 rounding
        ref = tmp_path / "cpu.h5"
        assert _run(name, quick_inputs[name], ref, "cpu").exit_code == 0
        cdata, _, cmetrics = _read(ref)
        for k, v in cdata.items():
            if v.dtype.kind in "fc":
                assert np.linalg.norm(data[k] - v) <= 1e-3 * max(np.linalg.norm(v), 1e-30), k
            else:
                assert np.mean(data[k] != v) <= 1e-3, k
        for k, v in cmetrics.items():
            assert abs(metrics[k] - v) <= 1e-3 * max(1.0, abs(v)), k
