"""mri-recon's preparation and calibration failures name the file and the dataset (issue 17)."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.app.registry import get_app
from sensekit.cli import main


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    p = tmp_path_factory.mktemp("mri") / "good.h5"
    sets = sum((["--set", f"{k}={v}"] for k, v in get_app("mri-recon").quick_sim.items()), [])
    assert CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(p), *sets]).exit_code == 0
    return p


@pytest.mark.parametrize("case,dataset", [("mask_zero", "mask"), ("mask_two", "mask"), ("maps_zero", "sens_maps"),
                                          ("kspace_zero", "kspace")])
def test_mri_recon_failures_name_file_and_dataset(case, dataset, good, tmp_path):
    p = tmp_path / f"{case}.h5"
    with h5py.File(good) as src, h5py.File(p, "w") as f:
        for k in src:
            if not isinstance(src[k], h5py.Dataset):
                continue
            arr = src[k][()]
            if case == "mask_zero" and k == "mask":
                arr = np.zeros_like(arr)
            elif case == "mask_two" and k == "mask":
                arr = arr * 2
            elif case == "kspace_zero" and k == "kspace":
                arr = np.zeros_like(arr)
            f.create_dataset(k, data=arr)
        if case == "maps_zero":
            f.create_dataset("sens_maps", data=np.zeros(src["kspace"].shape[1:], np.complex64))
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(p), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 3, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and str(p) in lines[0] and f"'{dataset}'" in lines[0], lines


@pytest.mark.parametrize("method,option", [("cg-sense", "lam"), ("wavelet", "lam_w"), ("kt-slr", "lam_nuc")])
def test_mri_recon_weights_near_the_float_range_are_exit_3(method, option, good, tmp_path):
    """Measured before the fix: cg-sense/wavelet wrote NaN images with exit 0, kt-slr exit 1 (LinAlgError)."""
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(good), "--method", method,
                                  "--set", f"{option}=1e308", "--set", "max_iter=3", "--set", "spin=1",
                                  "-o", str(out), "--quiet"])
    assert r.exit_code == 3, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and f"{option}=" in lines[0] and method in lines[0], lines
    assert not out.exists()
