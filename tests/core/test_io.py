"""HDF5 contract: layouts, validation errors, atomic writes, lazy samples."""
import os

import h5py
import numpy as np
import pytest

from sensekit.io import DatasetSpec, H5Input, InputError, write_h5, read_group_attrs, atomic_path

SPECS = [
    DatasetSpec("kspace", ("T,C,Y,X",), ("complex",)),
    DatasetSpec("mask", ("T,Y,X", "T,Y,1", "Y,X"), ("bool", "int", "float"), required=False),
    DatasetSpec("image_ref", ("T,Y,X",), ("complex", "float"), required=False),
]


def _write(path, **arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            if isinstance(v, tuple):
                d = f.create_dataset(k, data=v[0])
                d.attrs["axes"] = v[1]
            else:
                f.create_dataset(k, data=v)


def _k(*shape):
    return (np.ones(shape) + 1j).astype(np.complex64)


def test_reads_layouts_and_samples(tmp_path):
    p = tmp_path / "a.h5"
    _write(p, kspace=_k(2, 3, 4, 5), mask=(np.ones((2, 4, 1), np.uint8), "T,Y,1"))
    with H5Input(p, SPECS) as f:
        assert f.n_samples == 1 and not f.has_n
        assert f.layout("mask") == ["T", "Y", "1"]
        s = f.sample(0)
        assert s["kspace"].shape == (2, 3, 4, 5)


def test_sample_axis(tmp_path):
    p = tmp_path / "n.h5"
    _write(p, kspace=(_k(3, 2, 3, 4, 5), "N,T,C,Y,X"), image_ref=np.ones((3, 2, 4, 5), np.float32))
    with H5Input(p, SPECS) as f:
        assert f.has_n and f.n_samples == 3
        assert f.sample(2)["image_ref"].shape == (2, 4, 5)


def test_matlab_compound_complex(tmp_path):
    p = tmp_path / "m.h5"
    dt = np.dtype([("real", "<f8"), ("imag", "<f8")])
    arr = np.zeros((1, 2, 4, 4), dt)
    arr["real"] = 1.0
    arr["imag"] = 2.0
    _write(p, kspace=arr)
    with H5Input(p, SPECS) as f:
        k = f.sample(0)["kspace"]
    assert k.dtype.kind == "c" and k.flat[0] == 1 + 2j


@pytest.mark.parametrize("setup,msg", [
    ("missing", "file not found"),
    ("empty", "file is empty"),
    ("text", "not an HDF5 file"),
    ("truncated", "truncated"),
    ("no_kspace", "missing dataset 'kspace'"),
    ("wrong_dtype", "has dtype float32, expected complex"),
    ("wrong_ndim", "has shape (4, 5), expected (T,C,Y,X)"),
    ("bad_axes_attr", "axes attribute 'X,Y,C,T'"),
    ("mismatch", "has Y=7, but another dataset has Y=4"),
    ("nan", "contains NaN or Inf"),
    ("empty_dataset", "is empty"),
    ("group", "is a group"),
])
def test_validation_errors(tmp_path, setup, msg):
    p = tmp_path / "bad.h5"
    if setup == "empty":
        p.write_bytes(b"")
    elif setup == "text":
        p.write_text("hello, not hdf5\n")
    elif setup == "truncated":
        _write(p, kspace=_k(4, 4, 64, 64))
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif setup == "no_kspace":
        _write(p, mask=np.ones((2, 4, 5), bool))
    elif setup == "wrong_dtype":
        _write(p, kspace=np.ones((2, 3, 4, 5), np.float32))
    elif setup == "wrong_ndim":
        _write(p, kspace=_k(4, 5))
    elif setup == "bad_axes_attr":
        _write(p, kspace=(_k(2, 3, 4, 5), "X,Y,C,T"))
    elif setup == "mismatch":
        _write(p, kspace=_k(2, 3, 4, 5), mask=np.ones((2, 7, 5), bool))
    elif setup == "nan":
        k = _k(2, 3, 4, 5)
        k[0, 0, 0, 0] = np.nan
        _write(p, kspace=k)
    elif setup == "empty_dataset":
        _write(p, kspace=np.zeros((0, 3, 4, 5), np.complex64))
    elif setup == "group":
        with h5py.File(p, "w") as f:
            f.create_group("kspace")
    with pytest.raises(InputError) as ei:
        with H5Input(p, SPECS) as f:
            f.sample(0)
    text = str(ei.value)
    assert msg in text and str(p) in text and "\n" not in text


def test_write_is_atomic_and_has_groups(tmp_path):
    out = tmp_path / "out.h5"
    write_h5(out, {"recon": (np.ones((2, 3), np.complex64), "Y,X")},
             groups={"provenance": {"app": "x", "n": 3}, "metrics": {"psnr": 30.5}})
    assert read_group_attrs(out, "metrics") == {"psnr": 30.5}
    with h5py.File(out) as f:
        assert f["recon"].attrs["axes"] == "Y,X" and f["recon"].dtype == np.complex64
    # a failure inside the write leaves neither the target nor a temporary file
    target = tmp_path / "fail.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("partial")
            raise RuntimeError("boom")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]


def test_input_is_opened_read_only(tmp_path):
    p = tmp_path / "a.h5"
    _write(p, kspace=_k(2, 3, 4, 5))
    before = os.stat(p).st_mtime_ns, p.read_bytes()
    with H5Input(p, SPECS) as f:
        f.sample(0)
    assert (os.stat(p).st_mtime_ns, p.read_bytes()) == before
