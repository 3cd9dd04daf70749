"""The docs build in CI (API pages, gallery pages without executing the scripts).

Fails on any Sphinx or docutils warning (``-W --keep-going``: every warning is listed, the build goes on),
on a docstring section numpydoc does not know, on a public function or class of the core that its
package's API page does not document, and on one documented without its parameters.  The gallery pages
are built without executing the scripts (``SENSEKIT_DOCS_PLOT=False``).
"""
import importlib
import inspect
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE = ["sensekit.linop", "sensekit.prox", "sensekit.solvers", "sensekit.sim", "sensekit.metrics", "sensekit.io",
        "sensekit.app", "sensekit.learned"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    src = tmp_path_factory.mktemp("docs_src")
    # build from a copy so that generated pages never land in the checkout
    shutil.copytree(ROOT / "docs", src / "docs",
                    ignore=shutil.ignore_patterns("_build", "generated", "auto_gallery", "sg_execution_times.rst"))
    shutil.copytree(ROOT / "gallery", src / "gallery")
    out = src / "html"
    env = dict(os.environ, SENSEKIT_DOCS_PLOT="False", MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-b", "html", str(src / "docs"),
                        str(out)],
                       capture_output=True, text=True, env=env, timeout=1200)
    return p, src / "docs" / "generated", out


def test_docs_build_without_warnings(built):
    p, _, out = built
    problems = [ln for ln in p.stderr.splitlines()
                if any(k in ln for k in ("WARNING", "ERROR", "CRITICAL", "UserWarning"))]
    assert not problems, f"{len(problems)} docs warnings:\n" + "\n".join(problems[:30])
    assert p.returncode == 0, p.stderr[-3000:]   # -W: a warning also fails the build itself
    assert (out / "index.html").is_file()


def _public(mod):
    names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    for n in names:
        obj = getattr(mod, n)
        if callable(obj) and getattr(obj, "__module__", "").startswith("sensekit") and \
                getattr(obj, "__name__", n) == n:  # aliases (Multiply = Diag) are documented under their name
            yield n, obj


def _takes_arguments(obj):
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return False  # exceptions take a message; autodoc shows no parameters for them
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return True
    return bool(sig.parameters)


@pytest.mark.parametrize("modname", CORE)
def test_every_public_callable_is_documented_with_its_signature(built, modname):
    _, _, out = built
    html = (out / "api" / f"{modname}.html").read_text()
    mod = importlib.import_module(modname)
    missing, unsigned = [], []
    for n, obj in _public(mod):
        m = re.search(r'<dt class="sig sig-object py" id="' + re.escape(f"{modname}.{n}") + r'">(.*?)</dt>', html, re.S)
        if m is None:
            missing.append(n)
        elif _takes_arguments(obj) and "sig-param" not in m.group(1):
            unsigned.append(n)
    assert not missing, f"{modname}: not documented: {missing[:15]}"
    undocumented = [n for n, obj in _public(mod) if not (obj.__doc__ or "").strip()]
    assert not undocumented, f"{modname}: public callables without a docstring: {undocumented[:15]}"
    assert not unsigned, f"{modname}: documented without its parameters: {unsigned[:15]}"
