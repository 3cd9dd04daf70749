"""The house rules CI enforces: ruff clean, the LICENSE the package declares, the contributor docs present."""
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_ruff_check_is_clean():
    exe = shutil.which("ruff") or (pathlib.Path(sys.executable).parent / "ruff")
    if not pathlib.Path(exe).exists():
        pytest.skip("ruff is not installed (it comes with the test extra)")
    p = subprocess.run([str(exe), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]


def test_license_matches_the_declared_one():
    text = (ROOT / "LICENSE").read_text()
    assert "Redistribution and use in source and binary forms" in text
    assert 'license = "BSD-3-Clause"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("doc", ["CONTRIBUTING.md", "docs/ARCHITECTURE.md", "docs/CONTRACTS.md"])
def test_contributor_docs_exist_and_are_linked_from_the_readme(doc):
    assert (ROOT / doc).is_file()
    assert doc in (ROOT / "README.md").read_text()


def test_the_package_ships_its_type_hints():
    assert (ROOT / "sensekit" / "py.typed").is_file()
    assert '"sensekit" = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()
