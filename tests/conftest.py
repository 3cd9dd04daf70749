"""Shared fixtures: real-data location, devices, small deterministic inputs."""
from __future__ import annotations

import os
import pathlib

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def data_dir() -> pathlib.Path:
    """$SENSEKIT_DATA, defaulting to ../shared/data beside the repository."""
    return pathlib.Path(os.environ.get("SENSEKIT_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def sensekit_data():
    return data_dir()


def require_data(*relpaths) -> pathlib.Path:
    """Path of a real data file; skip the test (with a message) when it is absent."""
    base = data_dir()
    for rel in relpaths:
        if not (base / rel).exists():
            pytest.skip(f"real data {rel} not found under {base} (set SENSEKIT_DATA)")
    return base / relpaths[0]


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="CUDA is not available")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    return torch.device(request.param)
