"""The docs build in CI (API pages, gallery pages without executing the scripts).

Fails on a docutils error, on a public function or class of the core without an API page, and on an API
page without a signature.  (Docutils *warnings* — mostly ``*`` in plain-text formulas — are counted and
printed, not yet fatal.)
"""
import importlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE = ["sensekit.linop", "sensekit.prox", "sensekit.solvers", "sensekit.sim", "sensekit.metrics"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    src = tmp_path_factory.mktemp("docs_src")
    # build from a copy so that generated pages never land in the checkout
    shutil.copytree(ROOT / "docs", src / "docs", ignore=shutil.ignore_patterns("_build", "generated", "auto_gallery"))
    shutil.copytree(ROOT / "gallery", src / "gallery")
    out = src / "html"
    env = dict(os.environ, SENSEKIT_DOCS_PLOT="False", MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src / "docs"), str(out)],
                       capture_output=True, text=True, env=env, timeout=1200)
    return p, src / "docs" / "generated", out


def test_docs_build_without_errors(built):
    p, _, out = built
    assert p.returncode == 0, p.stderr[-3000:]
    errors = [ln for ln in p.stderr.splitlines() if "ERROR" in ln or "CRITICAL" in ln]
    assert not errors, "\n".join(errors[:20])
    print(f"{sum('WARNING' in ln for ln in p.stderr.splitlines())} docutils warnings")
    assert (out / "index.html").is_file()


@pytest.mark.parametrize("modname", CORE)
def test_every_public_callable_has_an_api_page_with_a_signature(built, modname):
    _, gen, out = built
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    missing, unsigned = [], []
    for n in names:
        obj = getattr(mod, n)
        if not callable(obj) or not getattr(obj, "__module__", "").startswith("sensekit"):
            continue
        page = out / "generated" / f"{obj.__module__}.{obj.__qualname__}.html"
        if not page.is_file():
            missing.append(f"{obj.__module__}.{obj.__qualname__}")
            continue
        if not re.search(r'class="sig-paren"', page.read_text()):
            unsigned.append(page.name)
    assert not missing, f"no API page for {missing[:10]}"
    assert not unsigned, f"no signature on {unsigned[:10]}"
