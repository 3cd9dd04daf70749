"""Inputs and comparisons shared by the batch tests."""
from __future__ import annotations

import json
import os
import pathlib

import h5py
import numpy as np

from helpers import outside_mri_file

#: options that keep an mri-recon run short but iterative (so that samples take measurable work)
FAST = ["--set", "max_iter=8", "--set", "check_every=4"]


def multi_sample_file(path, n, *, seed=0, T=3, C=2, Y=24, X=20):
    """An mri-recon input with a leading sample axis N (n samples), written with h5py only."""
    parts = []
    for i in range(n):
        tmp = pathlib.Path(str(path) + f".part{i}")
        outside_mri_file(tmp, T=T, C=C, Y=Y, X=X, accel=2, seed=seed + i)
        with h5py.File(tmp) as f:
            parts.append({k: f[k][()] for k in ("kspace", "mask", "image_ref")})
        tmp.unlink()
    with h5py.File(path, "w") as f:
        for k in ("kspace", "mask", "image_ref"):
            f.create_dataset(k, data=np.stack([p[k] for p in parts]))
        f["kspace"].attrs["axes"] = "N,T,C,Y,X"
    return path


def contents(path) -> dict:
    """Everything in an output file that must not depend on when or how often it was computed.

    Datasets: name, dtype, shape, attributes and raw bytes; ``metrics`` attributes; ``provenance``
    attributes except ``wall_time_s`` (measured seconds).
    """
    out = {}
    with h5py.File(path, "r") as f:
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset):
                arr = obj[()]
                out[f"/{name}"] = (str(arr.dtype), arr.shape, dict(obj.attrs), arr.tobytes())
        for group in ("metrics", "provenance"):
            if group in f:
                attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f[group].attrs.items()}
                attrs.pop("wall_time_s", None)
                attrs.pop("torch_threads", None)   # differs between `run` and --workers N (see test_batch_hardening)
                out[group] = attrs
    return out


SUMMARY_FILES = ("summary.json", "summary.csv")


def tree(folder) -> list[str]:
    """Every file below ``folder`` (relative paths, sorted), hidden ones included, except the batch's
    ``summary.json`` / ``summary.csv`` (tested in tests/app/test_batch_summary.py)."""
    folder = str(folder)
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs
                  if f not in SUMMARY_FILES)


def same_results(a, b, *, exact=True, rtol=1e-5):
    ca, cb = contents(a), contents(b)
    assert ca.keys() == cb.keys()
    for k in ca:
        if k.startswith("/") and not exact:
            da, db = ca[k], cb[k]
            assert da[:3] == db[:3], k
            x = np.frombuffer(da[3], dtype=np.dtype(da[0]))
            y = np.frombuffer(db[3], dtype=np.dtype(db[0]))
            assert np.allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max()), k
        elif k == "metrics" and not exact:
            assert ca[k].keys() == cb[k].keys()
            assert all(abs(ca[k][m] - cb[k][m]) <= 1e-4 * max(1.0, abs(cb[k][m])) for m in ca[k]), k
        else:
            assert ca[k] == cb[k], k


def options_of(path) -> dict:
    with h5py.File(path) as f:
        return json.loads(f["provenance"].attrs["options"])
