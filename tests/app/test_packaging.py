"""Packaging: every package folder is listed, and a plain (non-editable) wheel carries and runs the apps."""
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _listed_packages():
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"packages = \[(.*?)\]", text, re.S).group(1)
    return set(re.findall(r'"([\w.]+)"', block))


def test_every_package_is_listed():
    found = set()
    for base, prefix in ((ROOT / "sensekit", "sensekit"), (ROOT / "apps", "sensekit.apps")):
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([prefix, *rel.parts]) if rel.parts else prefix)
    # gallery/ ships as the package sensekit.gallery whose sub-folders are package data (no __init__.py)
    assert (ROOT / "gallery" / "__init__.py").exists()
    assert not list((ROOT / "gallery").glob("*/__init__.py"))
    found.add("sensekit.gallery")
    assert found == _listed_packages()


def test_registry_points_at_real_classes():
    from sensekit.app.registry import APPS, get_app
    for name in APPS:
        app = get_app(name)
        assert app.name == name and app.summary == APPS[name][1]


@pytest.mark.slow
def test_wheel_runs_outside_checkout(tmp_path):
    try:
        import setuptools  # noqa: F401
        iso = ["--no-build-isolation"]
    except ImportError:
        iso = []
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *iso, "-q", "-w", str(tmp_path), str(ROOT)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1:]}")
    wheel = next(tmp_path.glob("sensekit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "sensekit/apps/mri_recon/app.py" in names
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "gallery").glob("*/plot_*.py"))
    assert scripts and all(f"sensekit/{s}" in names for s in scripts)   # every gallery script ships
    assert {"sensekit/learned/weights/mri_rim_indrnn.pt", "sensekit/learned/weights/mri_rim_indrnn.json"} <= set(names)
    assert not any(n.startswith("apps/") for n in names), "a bare top-level 'apps' package must not ship"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-m", "sensekit.cli", "apps"], cwd=work, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "mri-recon" in out.stdout
    probe = subprocess.run([sys.executable, "-c", "import sensekit; print(sensekit.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(site))
    run = subprocess.run([sys.executable, "-m", "sensekit.cli", "run", "mri-recon", "--method", "zero-filled"],
                         cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "psnr=" in run.stdout, run.stderr
    # the gallery runs from the plain install too (its scripts found inside the installed package)
    gal = subprocess.run([sys.executable, "-m", "sensekit.cli", "gallery", "-o", str(work / "g"), "--quick",
                          "--only", "mri_recon/plot_sampling_masks.py"], cwd=work, env=env, capture_output=True,
                         text=True)
    assert gal.returncode == 0 and "1 ok" in gal.stdout, gal.stdout + gal.stderr
    assert (work / "g" / "mri_recon" / "plot_sampling_masks.png").exists() and (work / "g" / "index.html").exists()
