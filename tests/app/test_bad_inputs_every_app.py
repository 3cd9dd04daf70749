"""Bad input for every registered app (and the test-only toy apps): exit 3, one line naming the file, no output.

The cases are made from each app's declared input specs and its quick simulation, so an app is covered the
day it is registered: the file-level cases (missing, empty, not HDF5, truncated) and, for every required
dataset, its absence, a dtype of a kind it does not accept, a rank no layout has, and a NaN.
"""
import os
import typing

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.registry import app_names, get_app
from sensekit.cli import main

from helpers import sha256
from toyapp import TEST_APPS, register_toys

register_toys()
APPS = app_names() + TEST_APPS


def _cases(app):
    cases = ["missing", "empty", "not_hdf5", "truncated"]
    for spec in app.inputs:
        if spec.required:
            cases += [f"{spec.name}:absent", f"{spec.name}:dtype", f"{spec.name}:rank"]
            if {"float", "complex"} & set(spec.kinds):
                cases.append(f"{spec.name}:nan")
            # datasets must live in the file: nothing is read from another file (issue 17)
            cases += [f"{spec.name}:{w}" for w in LINK_CASES]
    return cases


#: an external link, a virtual dataset mapping another file, a soft link to an external link (leaving the
#: file), a dangling soft link, raw data stored in an external file
LINK_CASES = ("extlink", "virtual", "softext", "dangling", "rawext")


PARAMS = [(name, case) for name in APPS for case in _cases(get_app(name))]


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    out = {}
    for name in APPS:
        p = folder / f"{name}.h5"
        sets = sum((["--set", f"{k}={v}"] for k, v in get_app(name).quick_sim.items()), [])
        r = CliRunner().invoke(main, ["simulate", name, "-o", str(p), "--seed", "3", *sets])
        assert r.exit_code == 0, r.output
        out[name] = p
    return out


def _wrong_dtype(kinds):
    for dt, kind in ((np.complex64, "complex"), (np.float32, "float"), (np.bool_, "bool")):
        if kind not in kinds:
            return dt
    raise AssertionError(kinds)


def _make(case, good, dst):
    if case == "missing":
        return dst / "does_not_exist.h5"
    p = dst / f"{case.replace(':', '_')}.h5"
    if case == "empty":
        p.write_bytes(b"")
    elif case == "not_hdf5":
        p.write_text("not hdf5")
    elif case == "truncated":
        data = good.read_bytes()
        p.write_bytes(data[: len(data) // 3])
    else:
        name, what = case.split(":")
        with h5py.File(good) as src, h5py.File(p, "w") as f:
            for k in src:
                if isinstance(src[k], h5py.Dataset) and k != name:
                    src.copy(k, f)
            arr = src[name][()]
            if what == "absent":
                return p
            if what in LINK_CASES:
                _link(what, name, arr, f, dst)
                return p
            spec_kinds = case_kinds[case]
            if what == "dtype":
                arr = arr.real.astype(_wrong_dtype(spec_kinds)) if np.iscomplexobj(arr) else \
                    arr.astype(_wrong_dtype(spec_kinds))
            elif what == "rank":
                arr = arr.reshape(arr.shape + (1,) * 3)
            elif what == "nan":
                arr = arr.astype(np.complex64 if np.iscomplexobj(arr) or "float" not in spec_kinds else np.float32)
                arr.flat[arr.size // 2] = np.nan
            f.create_dataset(name, data=arr)
    return p


def _link(what, name, arr, f, dst):
    """``name`` in ``f`` as data living in a valid file elsewhere (or nowhere: the dangling case)."""
    other_dir = dst.parent / "elsewhere"
    other_dir.mkdir(exist_ok=True)
    other = other_dir / "other.h5"
    with h5py.File(other, "w") as o:
        o.create_dataset(name, data=arr)
    if what == "extlink":
        f[name] = h5py.ExternalLink(str(other), "/" + name)
    elif what == "virtual":
        layout = h5py.VirtualLayout(shape=arr.shape, dtype=arr.dtype)
        layout[...] = h5py.VirtualSource(str(other), name, shape=arr.shape)
        f.create_virtual_dataset(name, layout)
    elif what == "softext":
        f["hidden"] = h5py.ExternalLink(str(other), "/")
        f[name] = h5py.SoftLink(f"/hidden/{name}")
    elif what == "dangling":
        f[name] = h5py.SoftLink("/nowhere/" + name)
    elif what == "rawext":
        raw = other_dir / "raw.bin"
        a = np.ascontiguousarray(arr)
        raw.write_bytes(a.tobytes())
        f.create_dataset(name, shape=a.shape, dtype=a.dtype, external=[(str(raw), 0, a.nbytes)])


case_kinds = {f"{s.name}:{w}": s.kinds for n in APPS for s in get_app(n).inputs for w in ("dtype", "rank", "nan")}


@pytest.mark.parametrize("name,case", PARAMS, ids=[f"{n}-{c}" for n, c in PARAMS])
def test_bad_input_is_exit_3_naming_the_file(name, case, good_files, tmp_path):
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = _make(case, good_files[name], src_dir)
    before = sha256(src) if src.exists() else None
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.h5"
    r = CliRunner().invoke(main, ["run", name, "--input", str(src), "-o", str(out)])
    assert r.exit_code == 3, (case, r.output)
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output, lines
    assert str(src) in lines[0], lines[0]            # every app, every case: the runner names the file
    if ":" in case:
        assert f"'{case.split(':')[0]}'" in lines[0], lines[0]   # ... and the dataset
    assert os.listdir(out_dir) == []                 # no output, no temporary
    if before:
        assert sha256(src) == before


@pytest.mark.parametrize("name", APPS)
def test_declared_size_over_the_limit_is_exit_3_before_reading(name, good_files, tmp_path, monkeypatch):
    """A dataset whose declared size exceeds $SENSEKIT_MAX_INPUT_BYTES is refused naming dataset and size."""
    monkeypatch.setenv("SENSEKIT_MAX_INPUT_BYTES", "64")
    out = tmp_path / "out.h5"
    r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), "-o", str(out)])
    assert r.exit_code == 3, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and str(good_files[name]) in lines[0], lines
    assert "SENSEKIT_MAX_INPUT_BYTES" in lines[0] and "declares" in lines[0], lines[0]
    assert any(f"'{s.name}'" in lines[0] for s in get_app(name).inputs), lines[0]
    assert not out.exists()


@pytest.mark.parametrize("flag", ["-o", "--plot"])
@pytest.mark.parametrize("name", APPS)
def test_output_that_is_a_folder_is_refused_before_work(name, flag, good_files, tmp_path, monkeypatch):
    import sensekit.app.runner as runner

    def no_work(*a, **k):
        raise AssertionError("the computation started")
    monkeypatch.setattr(runner, "run_app", no_work)
    monkeypatch.setattr(runner, "stream_run", no_work)
    folder = tmp_path / "existing"
    folder.mkdir()
    r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), flag, str(folder)])
    assert r.exit_code == 3, r.output
    assert r.output.strip().startswith(f"error: {flag} {folder}") and "folder" in r.output, r.output
    assert os.listdir(folder) == []


def _corrupt_metadata(good, p, *, skip=0):
    """Bit flips in the object header of the first dataset (its dataspace, datatype and attribute messages)."""
    data = bytearray(good.read_bytes())
    with h5py.File(good) as f:
        name = next(k for k in f if isinstance(f[k], h5py.Dataset))
        at = h5py.h5o.get_info(f[name].id).addr
    for j in range(at + 16 + skip, at + 96 + skip, 3):
        data[j] ^= 0xFF
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("name", APPS)
def test_corrupt_metadata_is_exit_3_naming_the_file(name, good_files, tmp_path):
    p = _corrupt_metadata(good_files[name], tmp_path / "flipped.h5")
    r = CliRunner().invoke(main, ["run", name, "--input", str(p), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and str(p) in lines[0] and "Traceback" not in r.output, lines
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("where", ["prepare", "run"])
@pytest.mark.parametrize("name", APPS)
def test_errors_of_the_app_name_file_and_dataset(name, where, good_files, tmp_path, monkeypatch):
    """A ValueError of ``prepare`` or an InputError of the method (a calibration) names file and dataset."""
    from sensekit.io import InputError
    app = get_app(name)
    first = next(s.name for s in app.inputs if s.required)

    def bad(*a, **k):
        raise (ValueError if where == "prepare" else InputError)("the calibration found no signal")
    target = where if where == "prepare" or app.stream_axis is None else "run_block"
    monkeypatch.setattr(type(app), target, bad)
    r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and str(good_files[name]) in lines[0], lines
    assert f"'{first}'" in lines[0] and "no signal" in lines[0], lines[0]


@pytest.mark.parametrize("name", APPS)
def test_integer_options_parse_strictly(name, good_files, tmp_path):
    """``1e400`` (overflow), ``1.5e0`` (not an integer) for an int option: exit 3 naming the option."""
    from sensekit.app.base import config_fields, _field_type
    app = get_app(name)
    ints = [f.name for f in config_fields(app.Config) if _field_type(app.Config, f) in (int, typing.Optional[int])]
    if not ints:
        pytest.skip(f"{name} has no integer option")
    for bad in ("1e400", "1.5e0", "2.5", "99999999999999999999999"):
        r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), "--set", f"{ints[0]}={bad}",
                                      "-o", str(tmp_path / "o.h5")])
        assert r.exit_code == 3, (bad, r.output)
        assert f"'{ints[0]}'" in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("seed", [str(2 ** 64), str(-2 ** 64), str(10 ** 40)])
@pytest.mark.parametrize("name", APPS)
def test_seed_beyond_64_bits_is_exit_3(name, seed, good_files, tmp_path):
    r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), "--seed", seed,
                                  "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3, r.output
    assert "--seed" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("how", ["nan", "linalg"])
@pytest.mark.parametrize("name", APPS)
def test_non_finite_result_is_never_written(name, how, good_files, tmp_path, monkeypatch):
    """A method whose result turns NaN (or whose factorisation fails) stops with exit 3, never NaNs with exit 0."""
    from sensekit.app.base import RunOutput
    app = get_app(name)
    nan_out = {app.outputs[0].name: np.full((4, 4), np.nan, np.float32)}   # the result of a method gone wrong

    def broken(*a, **kw):
        if how == "linalg":
            raise np.linalg.LinAlgError("SVD did not converge")
        return RunOutput(outputs=dict(nan_out), iterations=1) if app.stream_axis is None else (dict(nan_out), None)
    monkeypatch.setattr(type(app), "run" if app.stream_axis is None else "run_block", broken)
    fields = [f for f in __import__("sensekit.app.base", fromlist=["x"]).config_fields(app.Config)
              if f.name not in ("method",) and isinstance(f.default, float) and not isinstance(f.default, bool)]
    for sets in ([], ["--set", f"{fields[0].name}={fields[0].default * 0.5 + 1e-3}"] if fields else None):
        if sets is None:
            continue
        out = tmp_path / "o.h5"
        r = CliRunner().invoke(main, ["run", name, "--input", str(good_files[name]), *sets, "-o", str(out)])
        assert r.exit_code == 3, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and not out.exists(), lines
        if sets:
            assert fields[0].name in lines[0], lines[0]     # the option that was set
        else:
            assert str(good_files[name]) in lines[0], lines[0]
