"""Hostile inputs at the io layer (issue 17): declared sizes, links leaving the file, corrupt metadata."""
import pathlib
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.io import DatasetSpec, H5Input, InputError
from sensekit.io.source import max_input_bytes

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "app"))   # the toy apps
from toyapp import register_toys  # noqa: E402

register_toys()
SPEC = [DatasetSpec("x", ("Y,X",), ("complex",))]


def _huge(path, name="x", shape=(2 ** 20, 2 ** 20), dtype=np.complex64):
    """A file of a few KiB declaring an 8 TiB dataset (chunked, nothing written)."""
    with h5py.File(path, "w") as f:
        f.create_dataset(name, shape=shape, dtype=dtype, chunks=(64,) + (64,) * (len(shape) - 1))
    return path


def test_default_limit_is_tied_to_memory(monkeypatch):
    monkeypatch.delenv("SENSEKIT_MAX_INPUT_BYTES", raising=False)
    lim = max_input_bytes()
    assert 256 * 2 ** 20 <= lim < 2 ** 43
    monkeypatch.setenv("SENSEKIT_MAX_INPUT_BYTES", "3G")
    assert max_input_bytes() == 3 * 2 ** 30


def test_bad_limit_is_a_config_error(monkeypatch, tmp_path):
    from sensekit.io import ConfigError
    monkeypatch.setenv("SENSEKIT_MAX_INPUT_BYTES", "lots")
    with pytest.raises(ConfigError, match="SENSEKIT_MAX_INPUT_BYTES"):
        max_input_bytes()


def test_declared_terabytes_refused_before_reading(tmp_path):
    p = _huge(tmp_path / "huge.h5")
    assert p.stat().st_size < 64 * 1024
    with H5Input(str(p), SPEC) as src:
        with pytest.raises(InputError, match=r"dataset 'x' declares 8\.0 TiB"):
            src.sample(0)
        lazy = src.lazy(0)["x"]
        assert lazy[:4, :4].shape == (4, 4)   # a small slice is still fine (streaming reads by slices)


def test_run_on_declared_terabytes_is_exit_3(tmp_path):
    p = _huge(tmp_path / "huge.h5", "signal", shape=(2 ** 40,), dtype=np.float32)
    r = CliRunner().invoke(main, ["run", "toy", "--input", str(p), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3, r.output
    assert str(p) in r.output and "'signal'" in r.output and "4.0 TiB" in r.output
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("case", ["extlink", "huge"])
def test_fastmri_reader_refuses_links_and_declared_sizes(case, tmp_path):
    from sensekit.io.fastmri import read_fastmri
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as o:
        o.create_dataset("kspace", data=np.ones((1, 2, 8, 8), np.complex64))
    p = tmp_path / "fm.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("ismrmrd_header", data=b"<ismrmrdHeader/>")
        if case == "extlink":
            f["kspace"] = h5py.ExternalLink(str(other), "/kspace")
        else:
            f.create_dataset("kspace", shape=(2 ** 10, 16, 2 ** 12, 2 ** 12), dtype=np.complex64, chunks=True)
    with pytest.raises(InputError, match=r"dataset 'kspace' (is an external link|declares)"):
        read_fastmri(p)


# ----------------------------------------------------------------------------- MATLAB v7.3 (HDF5) files
def _mat73(path, **datasets):
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in datasets.items():
            f[k] = v
            f[k].attrs["MATLAB_class"] = np.bytes_("double")
    return path


def test_mat73_external_links_and_sizes_are_refused(tmp_path, monkeypatch):
    from sensekit.io import load_mat
    other = _mat73(tmp_path / "secret.mat", img=np.ones((3, 3)))
    bad = _mat73(tmp_path / "in.mat", ok=np.zeros((2, 2)))
    with h5py.File(bad, "a") as f:
        f["img"] = h5py.ExternalLink(str(other), "/img")
    with pytest.raises(InputError, match="external link"):
        load_mat(bad)
    assert set(load_mat(_mat73(tmp_path / "fine.mat", ok=np.zeros((2, 2))))) == {"ok"}
    big = tmp_path / "big.mat"
    with h5py.File(big, "w", userblock_size=512) as f:
        f.create_dataset("x", shape=(2 ** 20, 2 ** 20), dtype=np.float64, chunks=(64, 64))
        f["x"].attrs["MATLAB_class"] = np.bytes_("double")
    monkeypatch.setenv("SENSEKIT_MAX_INPUT_BYTES", "1G")
    with pytest.raises(InputError, match="'x' declares"):
        load_mat(big)
