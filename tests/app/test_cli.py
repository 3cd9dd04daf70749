"""The command line: every command, and every bad-input path gives exit 3 with one line and no output."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from sensekit.cli import main

from helpers import outside_mri_file, sha256


@pytest.fixture(scope="module")
def small_input(tmp_path_factory):
    p = tmp_path_factory.mktemp("in") / "small.h5"
    outside_mri_file(p)
    return p


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_only_working_commands():
    r = invoke("--help")
    assert r.exit_code == 0
    listed = {ln.split()[0] for ln in r.output.split("Commands:")[1].splitlines() if ln.strip()}
    assert listed == {"apps", "info", "run", "batch", "simulate", "convert", "gallery", "train", "export"}
    for cmd in listed:   # every listed command answers --help
        assert invoke(cmd, "--help").exit_code == 0


def test_apps_and_info():
    r = invoke("apps")
    assert r.exit_code == 0 and r.output.startswith("mri-recon")
    r = invoke("info", "mri-recon")
    assert r.exit_code == 0
    for word in ("methods", "ls", "cg-sense", "zero-filled", "lam_l", "kspace", "recon", "simulation options"):
        assert word in r.output


def test_run_writes_contract_output(small_input, tmp_path):
    out = tmp_path / "out.h5"
    before = sha256(small_input)
    r = invoke("run", "mri-recon", "--input", small_input, "-o", out, "--set", "max_iter=30", "--seed", 1)
    assert r.exit_code == 0, r.output
    assert "psnr=" in r.output and "wrote" in r.output
    assert sha256(small_input) == before
    with h5py.File(out) as f:
        assert f["recon"].dtype == np.complex64 and f["recon"].shape == (6, 48, 40)
        assert f["recon"].attrs["axes"] == "T,Y,X"
        prov = dict(f["provenance"].attrs)
        for key in ("app", "method", "options", "sensekit_version", "torch_version", "device", "wall_time_s",
                    "iterations", "input"):
            assert key in prov
        assert prov["method"] == "llr-tv" and json.loads(prov["options"])["max_iter"] == 30   # auto, dynamic
        assert set(f["metrics"].attrs) == {"psnr", "ssim", "nrmse"}


def test_config_file_json_and_toml(small_input, tmp_path):
    cj = tmp_path / "c.json"
    cj.write_text(json.dumps({"method": "cg-sense", "max_iter": 5}))
    ct = tmp_path / "c.toml"
    ct.write_text('method = "zero-filled"\n')
    out = tmp_path / "o.h5"
    r = invoke("run", "mri-recon", "--input", small_input, "--config", cj, "-o", out, "--quiet")
    assert r.exit_code == 0 and r.output == ""
    with h5py.File(out) as f:
        assert f["provenance"].attrs["method"] == "cg-sense"
    r = invoke("run", "mri-recon", "--input", small_input, "--config", ct, "--method", "cg-sense",
               "--set", "max_iter=3")
    assert r.exit_code == 0 and "method=cg-sense" in r.output  # --method wins over the file


def test_simulate_then_run(tmp_path):
    sim = tmp_path / "sim.h5"
    r = invoke("simulate", "mri-recon", "-o", sim, "--set", "size=32", "--set", "frames=4", "--set", "coils=2",
               "--seed", 3)
    assert r.exit_code == 0, r.output
    with h5py.File(sim) as f:
        assert f["kspace"].shape == (4, 2, 32, 32) and f["kspace"].attrs["axes"] == "T,C,Y,X"
        assert "image_ref" in f and "mask" in f
    # 32 lines at acceleration 6 leave no autocalibration block for ESPIRiT (the default coil_method): exit 3
    r = invoke("run", "mri-recon", "--input", sim, "--method", "zero-filled")
    assert r.exit_code == 3 and "coil_method=lowres" in r.output
    r = invoke("run", "mri-recon", "--input", sim, "--method", "zero-filled", "--set", "coil_method=lowres")
    assert r.exit_code == 0 and "psnr=" in r.output


def test_plot(small_input, tmp_path):
    fig = tmp_path / "fig.png"
    r = invoke("run", "mri-recon", "--input", small_input, "--set", "max_iter=5", "--plot", fig)
    assert r.exit_code == 0, r.output
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _bad_files(tmp_path, good):
    files = {}
    files["missing"] = tmp_path / "does_not_exist.h5"
    p = tmp_path / "empty.h5"
    p.write_bytes(b"")
    files["empty"] = p
    p = tmp_path / "text.h5"
    p.write_text("not hdf5")
    files["not_hdf5"] = p
    p = tmp_path / "trunc.h5"
    data = good.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    files["truncated"] = p

    def variant(name, fn):
        q = tmp_path / f"{name}.h5"
        with h5py.File(good) as src, h5py.File(q, "w") as dst:
            for k in src:
                src.copy(k, dst)
            fn(dst)
        files[name] = q

    variant("no_kspace", lambda f: f.__delitem__("kspace"))

    def wrong_shape(f):
        k = f["kspace"][()]
        del f["kspace"]
        f.create_dataset("kspace", data=k[0, 0])
    variant("wrong_shape", wrong_shape)

    def wrong_dtype(f):
        k = f["kspace"][()]
        del f["kspace"]
        f.create_dataset("kspace", data=np.abs(k).astype(np.float32))
    variant("wrong_dtype", wrong_dtype)

    def nan(f):
        k = f["kspace"][()]
        k[0, 0, 0, 0] = np.nan
        del f["kspace"]
        f.create_dataset("kspace", data=k)
    variant("nan", nan)

    def mask_values(f):
        m = f["mask"][()].astype(np.float32) * 2
        del f["mask"]
        f.create_dataset("mask", data=m)
    variant("mask_values", mask_values)

    def mask_mismatch(f):
        del f["mask"]
        f.create_dataset("mask", data=np.ones((6, 47, 40), np.uint8))
    variant("mask_mismatch", mask_mismatch)

    def zero_mask(f):
        m = f["mask"][()] * 0
        del f["mask"]
        f.create_dataset("mask", data=m)
    variant("zero_mask", zero_mask)

    def maps_wrong(f):
        f.create_dataset("sens_maps", data=np.ones((3, 48, 40), np.complex64))
    variant("maps_wrong_coils", maps_wrong)

    def ref_wrong(f):
        del f["image_ref"]
        f.create_dataset("image_ref", data=np.ones((5, 48, 40), np.float32))
    variant("ref_wrong_shape", ref_wrong)
    return files


BAD_INPUTS = ["missing", "empty", "not_hdf5", "truncated", "no_kspace", "wrong_shape", "wrong_dtype", "nan",
              "mask_values", "mask_mismatch", "zero_mask", "maps_wrong_coils", "ref_wrong_shape"]


@pytest.fixture(scope="module")
def bad_files(small_input, tmp_path_factory):
    return _bad_files(tmp_path_factory.mktemp("bad"), small_input)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exit_3(case, bad_files, tmp_path):
    src = bad_files[case]
    before = sha256(src) if src.exists() else None
    out = tmp_path / "out.h5"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(out)])
    assert r.exit_code == 3, (case, r.output)
    lines = [ln for ln in r.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output
    assert str(src) in lines[0]   # the runner names the file for every error, the app's own included
    assert not out.exists() and os.listdir(tmp_path) == []
    if before:
        assert sha256(src) == before


@pytest.mark.parametrize("args,needle", [
    (["--set", "nosuch=1"], "unknown option 'nosuch'"),
    (["--set", "max_iter=abc"], "cannot read 'abc' as int"),
    (["--set", "max_iter=0"], "below the minimum"),
    (["--set", "lam_l"], "expected KEY=VALUE"),
    (["--method", "magic"], "'magic' is not one of"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--config", "/no/such/cfg.json"], "file not found"),
    (["-o", "/no/such/folder/out.h5"], "does not exist"),
    (["--plot", "fig.xyz"], "unsupported figure format"),
])
def test_bad_options_exit_3(args, needle, small_input, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(small_input), *args])
    assert r.exit_code == 3, r.output
    assert needle in r.output and len(r.output.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_cuda_request_without_cuda_is_exit_3(small_input):
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(small_input), "--device", "cuda"])
    assert r.exit_code == 3 and "CUDA is not available" in r.output


def test_bad_config_file_and_unknown_app(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    r = CliRunner().invoke(main, ["run", "mri-recon", "--config", str(bad)])
    assert r.exit_code == 3 and "cannot parse" in r.output
    r = CliRunner().invoke(main, ["run", "no-such-app"])
    assert r.exit_code == 3 and "unknown app 'no-such-app'" in r.output
    r = CliRunner().invoke(main, ["info", "no-such-app"])
    assert r.exit_code == 3
    r = CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(tmp_path / "s.h5"), "--set", "size=3"])
    assert r.exit_code == 3 and "below the minimum" in r.output and not (tmp_path / "s.h5").exists()


def test_refuses_to_overwrite_input(small_input, tmp_path):
    copy = tmp_path / "in.h5"
    copy.write_bytes(small_input.read_bytes())
    before = sha256(copy)
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(copy), "-o", str(copy)])
    assert r.exit_code == 3 and "refusing to overwrite the input" in r.output
    assert sha256(copy) == before


def test_usage_error_is_exit_2():
    r = CliRunner().invoke(main, ["run", "mri-recon", "--no-such-flag"])
    assert r.exit_code == 2


def test_console_script_subprocess(small_input, tmp_path):
    # the real entry point: exit code 3, one line on stderr, nothing on stdout
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "sensekit.cli", "run", "mri-recon", "--input",
                        str(tmp_path / "nope.h5")], capture_output=True, text=True, env=env)
    assert p.returncode == 3 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "file not found" in p.stderr


def test_light_imports():
    # `sensekit --help` and `sensekit apps` must not import torch, h5py or matplotlib
    code = ("import sys; from sensekit.cli import main\n"
            "try:\n    main(['apps'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('torch', 'h5py', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
